//! One import from start to end: what the file is, its header, every row checked and sent to
//! the valid rows or the error report, duplicates handled as the spec says.
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Serialize;

use crate::cell::Row;
use crate::keys::Seen;
use crate::report::Report;
use crate::schema::{Binding, BoundColumn, RowOut};
use crate::{DuplicatePolicy, ERRORS_PREVIEW, Format, ImportError, Limits, RowError, Schema, csv_source, workbook};

/// Where an import writes.
pub struct Outputs<'o> {
    /// The valid rows, one JSON object a line (`{"_row": 2, "sku": …}`).
    pub valid: &'o mut dyn Write,
    /// The error report as CSV.
    pub report_csv: &'o mut dyn Write,
    /// Where to save the error report as XLSX, if wanted.
    pub report_xlsx: Option<&'o Path>,
    /// Where the XLSX writer keeps its temporary files.
    pub tempdir: Option<&'o Path>,
}

/// Progress and cancellation.
pub struct Control<'c> {
    /// Report every this many rows.
    pub every: u64,
    /// Called with the rows read so far; `false` stops the import (cancelled).
    pub progress: &'c mut dyn FnMut(u64) -> bool,
}

/// What an import found.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Data rows read (empty rows are skipped).
    pub total_processed: u64,
    /// Rows written to the valid rows.
    pub successful: u64,
    /// Rows written to the error report.
    pub failed: u64,
    /// Rows left out because a later row had the same key (`duplicates: last`).
    pub replaced: u64,
    /// The first problems, in file order.
    pub errors_preview: Vec<RowError>,
    /// What the file is (`csv`, `xlsx`, …).
    pub format: &'static str,
    /// A CSV's encoding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    /// A CSV's delimiter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// A workbook's sheet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The header's row number.
    pub header_row: u64,
    /// Where each column was found.
    pub columns: Vec<BoundColumn>,
}

/// Imports `file` with `schema`: the valid rows and the error report go to `outputs`.
pub fn import<R: Read + Seek>(
    mut file: R,
    schema: &Schema,
    limits: &Limits,
    outputs: Outputs<'_>,
    control: Control<'_>,
) -> Result<Summary, ImportError> {
    let format = crate::detect_format(&mut file, limits)?;
    let csv = match format {
        Format::Csv => Some(csv_source::sniff(&mut file, &schema.spec)?),
        _ => None,
    };
    let header_row = schema.spec.header_row.unwrap_or(1);
    let visit_all = |file: &mut R, visit: &mut dyn FnMut(u64, &dyn Row) -> Result<(), ImportError>| {
        file.seek(SeekFrom::Start(0)).map_err(ImportError::io)?;
        match csv {
            Some(info) => csv_source::rows(&mut *file, info, limits, visit).map(|()| None),
            None => workbook::rows(&mut *file, format, schema.spec.sheet.as_ref(), limits, visit).map(Some),
        }
    };

    // `duplicates: last` needs to know, at each row, whether a later row has its key.
    let mut last = Seen::new();
    let dedupe_last = schema.duplicates == DuplicatePolicy::Last && !schema.key.is_empty();
    if dedupe_last {
        let mut binding: Option<Binding> = None;
        visit_all(&mut file, &mut |n, row| {
            if n == header_row {
                binding = Some(schema.bind(&header_of(row))?);
            } else if n > header_row
                && let Some(b) = &binding
                && let Some(key) = schema.key_of(b, row, limits)
            {
                last.last(0, &key, n);
            }
            Ok(())
        })?;
    }

    let mut report = Report::new(outputs.report_csv, outputs.report_xlsx.map(|p| (p, outputs.tempdir)))?;
    let valid = outputs.valid;
    let progress = control.progress;
    let every = control.every.max(1);
    let unique_names = schema.unique_names();
    let mut seen = Seen::new();
    let mut binding: Option<Binding> = None;
    let mut summary = Summary {
        total_processed: 0,
        successful: 0,
        failed: 0,
        replaced: 0,
        errors_preview: Vec::new(),
        format: format.name(),
        encoding: csv.map(|c| c.decoding.name()),
        delimiter: csv.map(|c| (c.dialect.delimiter as char).to_string()),
        sheet: None,
        header_row,
        columns: Vec::new(),
    };
    let mut out = RowOut::default();
    let sheet = visit_all(&mut file, &mut |n, row| {
        if n < header_row {
            return Ok(());
        }
        let Some(b) = &binding else {
            let header = header_of(row);
            let bound = schema.bind(&header)?;
            report.header(&header)?;
            binding = Some(bound);
            return Ok(());
        };
        if (0..row.width()).all(|i| row.cell(i).is_empty()) {
            return Ok(());
        }
        summary.total_processed += 1;
        if summary.total_processed > limits.max_rows {
            return Err(ImportError::new("too_many_rows", format!("the file has more than {} rows", limits.max_rows)));
        }
        if summary.total_processed.is_multiple_of(every) && !progress(summary.total_processed) {
            return Err(ImportError::new("cancelled", "the import was cancelled"));
        }
        let key = schema.apply(b, n, row, limits, &mut out);
        let RowOut { json, errors, uniques } = &mut out;
        if let Some(key) = &key {
            if dedupe_last {
                if last.get(0, key) != Some(n) {
                    summary.replaced += 1;
                    return Ok(());
                }
            } else if let Some(first) = seen.first(0, key, n) {
                errors.push(RowError {
                    row: n,
                    column: None,
                    value: None,
                    message: format!("the same {} as row {first}", schema.spec.key.join(" + ")),
                });
            }
        }
        for (u, text) in uniques.iter().enumerate() {
            if let Some(text) = text
                && let Some(first) = seen.first(u + 1, text, n)
            {
                errors.push(RowError {
                    row: n,
                    column: Some(unique_names[u].clone()),
                    value: Some(crate::schema::cut(text, 100)),
                    message: format!("\"{}\" is already in row {first}", crate::schema::cut(text, 40)),
                });
            }
        }
        if errors.is_empty() {
            json.push('\n');
            valid.write_all(json.as_bytes()).map_err(ImportError::io)?;
            summary.successful += 1;
        } else {
            summary.failed += 1;
            let room = ERRORS_PREVIEW.saturating_sub(summary.errors_preview.len());
            summary.errors_preview.extend(errors.iter().take(room).cloned());
            report.row(n, row, errors)?;
        }
        Ok(())
    })?;
    let Some(binding) = binding else {
        return Err(ImportError::new(
            "header_not_found",
            if header_row == 1 {
                "the file has no rows; its first row must name the columns".to_owned()
            } else {
                format!("the file has fewer than {header_row} rows, so it has no header at row {header_row}")
            },
        ));
    };
    report.finish()?;
    valid.flush().map_err(ImportError::io)?;
    summary.sheet = sheet;
    summary.columns = binding.columns;
    Ok(summary)
}

fn header_of(row: &dyn Row) -> Vec<String> {
    (0..row.width()).map(|i| row.cell(i).text().trim().to_owned()).collect()
}
