//! Reading untrusted spreadsheets into validated rows.
//!
//! An import is a file (CSV in any common dialect and encoding, XLSX, XLS or ODS), a
//! [`ImportSpec`] (the columns the app expects and how to read them) and three outputs: the valid
//! rows as NDJSON, the rejected rows as an error report a person can fix and upload again (CSV
//! and XLSX), and a [`Summary`]. Rows stream from the file to the outputs, so memory stays flat
//! however long the file is; only the keys of `unique` columns are remembered.
//!
//! Everything here is synchronous and touches only the paths it is given: the job handler
//! (`tarea-docs`) runs it on a blocking thread, and the fuzz targets (`fuzz/`) call the same
//! entry points.
#![deny(missing_docs)]

mod cell;
mod csv_source;
mod decode;
mod dialect;
mod error;
mod fold;
mod format;
mod keys;
mod report;
mod run;
mod schema;
mod spec;
mod value;
mod workbook;
mod zipcheck;

pub use cell::CellRef;
pub use decode::{Decoding, detect_encoding};
pub use dialect::{Dialect, sniff_dialect};
pub use error::{ImportError, RowError};
pub use fold::fold;
pub use format::{Format, detect_format};
pub use report::escape_formula;
pub use run::{Control, Outputs, Summary, import};
pub use schema::{Binding, Schema};
pub use spec::{ColumnSpec, ColumnType, DuplicatePolicy, ImportSpec, SheetRef};
pub use zipcheck::check_zip;

/// Bounds on what one file may make the importer do. The defaults suit a 100 MiB upload.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Columns in a row; a file with more is refused.
    pub max_columns: usize,
    /// Bytes in one cell; a longer cell is an error of its row.
    pub max_cell_bytes: usize,
    /// Bytes in one CSV row; a longer one (an unclosed quote, a binary file) stops the import.
    pub max_row_bytes: usize,
    /// Rows in a file.
    pub max_rows: u64,
    /// Bytes a ZIP-based file (XLSX, ODS) may inflate to, all entries together.
    pub max_unzipped_bytes: u64,
    /// How much larger than its compressed size one entry may inflate to.
    pub max_zip_ratio: u64,
    /// Entries in a ZIP-based file.
    pub max_zip_entries: usize,
    /// Cells of an XLS or ODS sheet (these are read whole, not streamed).
    pub max_range_cells: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_columns: 1_000,
            max_cell_bytes: 64 * 1024,
            max_row_bytes: 1024 * 1024,
            max_rows: 10_000_000,
            max_unzipped_bytes: 4 * 1024 * 1024 * 1024,
            max_zip_ratio: 250,
            max_zip_entries: 10_000,
            max_range_cells: 20_000_000,
        }
    }
}

/// Reads a date as a `date` column does (`28/11/2026`, `2026-11-28`, `28.11.26`, …): for
/// callers that find dates in other text (OCR's fields).
pub fn read_date(text: &str) -> Result<jiff::civil::Date, String> {
    value::date(&CellRef::Text(text), None)
}

/// Reads a number as a `decimal` column does (`1.500,50`, `12.5`): its exact JSON form and value.
pub fn read_decimal(text: &str) -> Result<(String, f64), String> {
    value::decimal(&CellRef::Text(text), None).map(|(s, f)| (s.into_owned(), f))
}

/// How many row errors the summary shows.
pub const ERRORS_PREVIEW: usize = 100;
