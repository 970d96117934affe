//! One cell as a source hands it over: text from a CSV, typed values from a workbook.
use std::borrow::Cow;

/// A cell's value, borrowed from the source's row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CellRef<'a> {
    /// Nothing (also a CSV field of only spaces).
    Empty,
    /// Text.
    Text(&'a str),
    /// A whole number stored as such.
    Int(i64),
    /// A number.
    Float(f64),
    /// A true/false cell.
    Bool(bool),
    /// A date or date-time cell of a workbook.
    Date(jiff::civil::DateTime),
    /// An ISO 8601 date or date-time written as text by the file (ODS).
    IsoDate(&'a str),
    /// A formula's error (`#DIV/0!`) as Excel saved it.
    Error(&'a str),
    /// Bytes that are not valid in the file's encoding (a Latin-1 byte in a UTF-8 file).
    Invalid(&'a [u8]),
}

impl CellRef<'_> {
    /// Whether the cell holds nothing (blank text counts as nothing).
    pub fn is_empty(&self) -> bool {
        match self {
            CellRef::Empty => true,
            CellRef::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as text, as the error report writes it.
    pub fn text(&self) -> Cow<'_, str> {
        match *self {
            CellRef::Invalid(bytes) => String::from_utf8_lossy(bytes),
            CellRef::Empty => Cow::Borrowed(""),
            CellRef::Text(t) | CellRef::IsoDate(t) | CellRef::Error(t) => Cow::Borrowed(t),
            CellRef::Int(i) => Cow::Owned(i.to_string()),
            CellRef::Float(f) => Cow::Owned(format_float(f)),
            CellRef::Bool(b) => Cow::Borrowed(if b { "TRUE" } else { "FALSE" }),
            CellRef::Date(dt) if dt.time() == jiff::civil::Time::midnight() => Cow::Owned(dt.date().to_string()),
            CellRef::Date(dt) => Cow::Owned(dt.to_string()),
        }
    }
}

/// A float as a person would type it: no exponent for ordinary magnitudes, no trailing `.0`.
pub(crate) fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { format!("{f}") }
}

/// A row of cells, from whichever source.
pub(crate) trait Row {
    /// Cells in the row (trailing empty ones may be missing).
    fn width(&self) -> usize;
    /// Cell `i`; `Empty` past the end.
    fn cell(&self, i: usize) -> CellRef<'_>;
}
