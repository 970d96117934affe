//! A workbook's rows through calamine: XLSX streamed cell by cell from its sheet's XML, XLS,
//! XLSB and ODS read as a whole sheet (their formats do not stream), bounded in cells. Formula
//! cells give the value the program saved with the file; nothing is ever evaluated.
use std::io::{Read, Seek};

use calamine::{CellErrorType, Data, DataRef, Reader};

use crate::cell::{CellRef, Row};
use crate::csv_source::too_many_columns;
use crate::{Format, ImportError, Limits, SheetRef};

type Visit<'v> = dyn FnMut(u64, &dyn Row) -> Result<(), ImportError> + 'v;

fn corrupt(format: Format, e: impl std::fmt::Display) -> ImportError {
    ImportError::corrupt(&format.name().to_uppercase(), e)
}

/// Runs one call into calamine; a panic in it (found by fuzzing: arithmetic on lengths read
/// from the file) is the file's fault and becomes `corrupt_file`, not a crash of the import.
fn guarded<T, E: std::fmt::Display>(format: Format, f: impl FnOnce() -> Result<T, E>) -> Result<T, ImportError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(|e| corrupt(format, e)),
        Err(_) => Err(corrupt(format, "its structure is inconsistent")),
    }
}

/// Picks the sheet `wanted` names (default: the first).
fn pick(names: &[String], wanted: Option<&SheetRef>) -> Result<String, ImportError> {
    let found = match wanted {
        None => names.first(),
        Some(SheetRef::Index(i)) => names.get((*i as usize).wrapping_sub(1)),
        Some(SheetRef::Name(n)) => {
            names.iter().find(|s| *s == n).or_else(|| names.iter().find(|s| crate::fold(s) == crate::fold(n)))
        }
    };
    found.cloned().ok_or_else(|| {
        let shown: Vec<String> = names.iter().take(20).map(|n| format!("\"{n}\"")).collect();
        ImportError::new(
            "sheet_not_found",
            match wanted {
                None => "the workbook has no sheets".to_owned(),
                Some(w) => format!(
                    "the workbook has no sheet {}; its sheets are: {}",
                    match w {
                        SheetRef::Index(i) => format!("number {i}"),
                        SheetRef::Name(n) => format!("\"{n}\""),
                    },
                    shown.join(", ")
                ),
            },
        )
    })
}

/// Calls `visit` with each row of the chosen sheet and its number; answers the sheet's name.
pub(crate) fn rows<R: Read + Seek>(
    file: R,
    format: Format,
    sheet: Option<&SheetRef>,
    limits: &Limits,
    visit: &mut Visit<'_>,
) -> Result<String, ImportError> {
    match format {
        Format::Xlsx => {
            let mut book = guarded(format, || calamine::Xlsx::new(file))?;
            let name = pick(&book.sheet_names(), sheet)?;
            xlsx_rows(&mut book, &name, limits, visit)?;
            Ok(name)
        }
        Format::Xls => {
            let mut file = file;
            check_cfb(&mut file)?;
            whole_sheet::<R, calamine::Xls<R>>(file, format, sheet, limits, visit)
        }
        Format::Xlsb => whole_sheet::<R, calamine::Xlsb<R>>(file, format, sheet, limits, visit),
        Format::Ods => whole_sheet::<R, calamine::Ods<R>>(file, format, sheet, limits, visit),
        Format::Csv => unreachable!("CSV is read by csv_source"),
    }
}

/// Checks an XLS file's container (OLE compound file) with the `cfb` crate, which validates
/// its allocation tables, before calamine reads it: calamine follows a sector chain that loops
/// back on itself until memory runs out (found by fuzzing, `tests/fixtures/fuzz/`).
fn check_cfb<R: Read + Seek>(file: &mut R) -> Result<(), ImportError> {
    let start = file.stream_position().map_err(ImportError::io)?;
    let ok = cfb::CompoundFile::open(&mut *file).map_err(|e| ImportError::corrupt("XLS", e)).and_then(|c| {
        let found = c.walk().any(|e| e.is_stream() && matches!(e.name(), "Workbook" | "Book"));
        if found { Ok(()) } else { Err(ImportError::corrupt("XLS", "it holds no workbook")) }
    });
    file.seek(std::io::SeekFrom::Start(start)).map_err(ImportError::io)?;
    ok
}

/// A sheet of a format that is read whole (XLS, XLSB, ODS).
fn whole_sheet<R: Read + Seek, W: Reader<R>>(
    file: R,
    format: Format,
    sheet: Option<&SheetRef>,
    limits: &Limits,
    visit: &mut Visit<'_>,
) -> Result<String, ImportError>
where
    W::Error: std::fmt::Display,
{
    let mut book = guarded(format, || W::new(file))?;
    let name = pick(&book.sheet_names(), sheet)?;
    let range = guarded(format, || book.worksheet_range(&name))?;
    range_rows(&range, limits, visit)?;
    Ok(name)
}

fn xlsx_rows<R: Read + Seek>(
    book: &mut calamine::Xlsx<R>,
    name: &str,
    limits: &Limits,
    visit: &mut Visit<'_>,
) -> Result<(), ImportError> {
    let mut cells = guarded(Format::Xlsx, || book.worksheet_cells_reader(name))?;
    let mut row: Vec<DataRef<'_>> = Vec::new();
    let mut current: Option<u32> = None;
    loop {
        let next = guarded(Format::Xlsx, || cells.next_cell())?;
        let Some(cell) = next else { break };
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(done) = current {
                visit(u64::from(done) + 1, &RefRow(&row))?;
            }
            row.clear();
            current = Some(r);
        }
        let c = c as usize;
        if c >= limits.max_columns {
            return Err(too_many_columns(u64::from(r) + 1, c + 1, limits));
        }
        if row.len() <= c {
            row.resize(c + 1, DataRef::Empty);
        }
        row[c] = cell.get_value().clone();
    }
    if let Some(done) = current {
        visit(u64::from(done) + 1, &RefRow(&row))?;
    }
    Ok(())
}

fn range_rows(range: &calamine::Range<Data>, limits: &Limits, visit: &mut Visit<'_>) -> Result<(), ImportError> {
    let Some((top, left)) = range.start() else { return Ok(()) };
    let (height, width) = range.get_size();
    if (height as u64).saturating_mul(width as u64) > limits.max_range_cells {
        return Err(ImportError::new(
            "too_many_cells",
            format!("the sheet has {height} rows × {width} columns; at most {} cells are read", limits.max_range_cells),
        ));
    }
    if left as usize + width > limits.max_columns {
        return Err(too_many_columns(u64::from(top) + 1, left as usize + width, limits));
    }
    for (i, cells) in range.rows().enumerate() {
        visit(u64::from(top) + i as u64 + 1, &DataRow { cells, offset: left as usize })?;
    }
    Ok(())
}

struct RefRow<'r, 'a>(&'r [DataRef<'a>]);

impl Row for RefRow<'_, '_> {
    fn width(&self) -> usize {
        self.0.len()
    }
    fn cell(&self, i: usize) -> CellRef<'_> {
        match self.0.get(i) {
            None | Some(DataRef::Empty) => CellRef::Empty,
            Some(DataRef::Int(v)) => CellRef::Int(*v),
            Some(DataRef::Float(v)) => CellRef::Float(*v),
            Some(DataRef::String(s)) => CellRef::Text(s),
            Some(DataRef::SharedString(s)) => CellRef::Text(s),
            Some(DataRef::Bool(b)) => CellRef::Bool(*b),
            Some(DataRef::DateTime(d)) => excel_date(d),
            Some(DataRef::DateTimeIso(s)) => CellRef::IsoDate(s),
            Some(DataRef::DurationIso(s)) => CellRef::Text(s),
            Some(DataRef::Error(e)) => CellRef::Error(error_text(e)),
        }
    }
}

struct DataRow<'r> {
    cells: &'r [Data],
    offset: usize,
}

impl Row for DataRow<'_> {
    fn width(&self) -> usize {
        self.offset + self.cells.len()
    }
    fn cell(&self, i: usize) -> CellRef<'_> {
        let Some(cell) = i.checked_sub(self.offset).and_then(|i| self.cells.get(i)) else {
            return CellRef::Empty;
        };
        match cell {
            Data::Empty => CellRef::Empty,
            Data::Int(v) => CellRef::Int(*v),
            Data::Float(v) => CellRef::Float(*v),
            Data::String(s) => CellRef::Text(s),
            Data::Bool(b) => CellRef::Bool(*b),
            Data::DateTime(d) => excel_date(d),
            Data::DateTimeIso(s) => CellRef::IsoDate(s),
            Data::DurationIso(s) => CellRef::Text(s),
            Data::Error(e) => CellRef::Error(error_text(e)),
        }
    }
}

fn excel_date(d: &calamine::ExcelDateTime) -> CellRef<'static> {
    if d.is_duration() {
        return CellRef::Float(d.as_f64());
    }
    let (y, m, day, h, min, s, ms) = d.to_ymd_hms_milli();
    match jiff::civil::DateTime::new(
        y as i16,
        m as i8,
        day as i8,
        h as i8,
        min as i8,
        s as i8,
        i32::from(ms) * 1_000_000,
    ) {
        Ok(dt) => CellRef::Date(dt),
        // Excel's 29 February 1900, a day that never was.
        Err(_) => CellRef::Error("#DATE!"),
    }
}

fn error_text(e: &CellErrorType) -> &'static str {
    match e {
        CellErrorType::Div0 => "#DIV/0!",
        CellErrorType::NA => "#N/A",
        CellErrorType::Name => "#NAME?",
        CellErrorType::Null => "#NULL!",
        CellErrorType::Num => "#NUM!",
        CellErrorType::Ref => "#REF!",
        CellErrorType::Value => "#VALUE!",
        CellErrorType::GettingData => "#DATA!",
        #[allow(unreachable_patterns)]
        _ => "#ERROR!",
    }
}
