//! The error report: the rejected rows as the file had them, each with its row number and what
//! is wrong, as CSV and XLSX, so a person can fix them and upload the file again. Cells that a
//! spreadsheet program would run as a formula are escaped (CSV injection).
use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use crate::cell::Row;
use crate::{ImportError, RowError};

/// The report's first column.
pub const ROW_HEADER: &str = "row";
/// The report's last column.
pub const ERRORS_HEADER: &str = "errors";
/// XLSX holds at most this many rows; later rejected rows are in the CSV only.
const XLSX_ROWS: u32 = 1_048_576;
/// Characters an XLSX cell holds.
const XLSX_CELL_CHARS: usize = 32_767;

/// `text`, prefixed with `'` when a spreadsheet would read it as a formula (it starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return) and it is not simply a number.
pub fn escape_formula(text: &str) -> Cow<'_, str> {
    let Some(first) = text.chars().next() else { return Cow::Borrowed(text) };
    if !matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r') {
        return Cow::Borrowed(text);
    }
    let number = text.len() > 1
        && matches!(first, '+' | '-')
        && text[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        && text[1..].bytes().any(|b| b.is_ascii_digit());
    if number { Cow::Borrowed(text) } else { Cow::Owned(format!("'{text}")) }
}

pub(crate) struct Report<'o> {
    csv: csv::Writer<&'o mut dyn Write>,
    xlsx: Option<(rust_xlsxwriter::Workbook, &'o Path)>,
    xlsx_row: u32,
    width: usize,
    line: Vec<String>,
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ImportError {
    ImportError::new("report_failed", format!("writing the XLSX error report failed: {e}"))
}

fn csv_error(e: csv::Error) -> ImportError {
    ImportError::new("report_failed", format!("writing the CSV error report failed: {e}"))
}

impl<'o> Report<'o> {
    pub(crate) fn new(
        csv_out: &'o mut dyn Write,
        xlsx: Option<(&'o Path, Option<&'o Path>)>,
    ) -> Result<Self, ImportError> {
        let xlsx = match xlsx {
            None => None,
            Some((path, tempdir)) => {
                let mut book = rust_xlsxwriter::Workbook::new();
                if let Some(dir) = tempdir {
                    book.set_tempdir(dir).map_err(xlsx_error)?;
                }
                book.add_worksheet_with_constant_memory()
                    .map_err(xlsx_error)?
                    .set_name("Errores")
                    .map_err(xlsx_error)?;
                Some((book, path))
            }
        };
        Ok(Report { csv: csv::Writer::from_writer(csv_out), xlsx, xlsx_row: 0, width: 0, line: Vec::new() })
    }

    /// The header: `row`, the file's own header, `errors`.
    pub(crate) fn header(&mut self, header: &[String]) -> Result<(), ImportError> {
        self.width = header.len();
        let mut line = Vec::with_capacity(header.len() + 2);
        line.push(ROW_HEADER.to_owned());
        line.extend(header.iter().map(|h| escape_formula(h).into_owned()));
        line.push(ERRORS_HEADER.to_owned());
        self.write(&line)
    }

    /// A rejected row.
    pub(crate) fn row(&mut self, n: u64, row: &dyn Row, errors: &[RowError]) -> Result<(), ImportError> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        line.push(n.to_string());
        for i in 0..self.width.max(row.width()) {
            line.push(escape_formula(&row.cell(i).text()).into_owned());
        }
        let mut messages = String::new();
        for e in errors {
            if !messages.is_empty() {
                messages.push_str("; ");
            }
            messages.push_str(&e.line());
        }
        line.push(messages);
        let r = self.write(&line);
        self.line = line;
        r
    }

    fn write(&mut self, line: &[String]) -> Result<(), ImportError> {
        self.csv.write_record(line).map_err(csv_error)?;
        if let Some((book, _)) = &mut self.xlsx
            && self.xlsx_row < XLSX_ROWS
        {
            let sheet = book.worksheet_from_index(0).map_err(xlsx_error)?;
            for (col, text) in line.iter().enumerate() {
                let text = if text.chars().count() > XLSX_CELL_CHARS {
                    Cow::Owned(text.chars().take(XLSX_CELL_CHARS).collect::<String>())
                } else {
                    Cow::Borrowed(text.as_str())
                };
                if !text.is_empty() {
                    sheet.write_string(self.xlsx_row, col as u16, text.as_ref()).map_err(xlsx_error)?;
                }
            }
            self.xlsx_row += 1;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<(), ImportError> {
        self.csv.flush().map_err(|e| ImportError::new("report_failed", e.to_string()))?;
        if let Some((mut book, path)) = self.xlsx.take() {
            book.save(path).map_err(xlsx_error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::escape_formula;

    #[test]
    fn formulas_are_escaped_and_numbers_are_not() {
        assert_eq!(escape_formula("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(escape_formula("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(escape_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(escape_formula("-2+3"), "'-2+3");
        assert_eq!(escape_formula("\t=1"), "'\t=1");
        assert_eq!(escape_formula("-3.00"), "-3.00");
        assert_eq!(escape_formula("+12,5"), "+12,5");
        assert_eq!(escape_formula("-"), "'-");
        assert_eq!(escape_formula("Perro"), "Perro");
        assert_eq!(escape_formula(""), "");
    }
}
