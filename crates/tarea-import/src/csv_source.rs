//! A CSV file's rows, decoded to UTF-8 as they stream, in the dialect it was sniffed to have.
//! A row may not grow past `max_row_bytes`: an unclosed quote would otherwise pull the rest of
//! the file into one field.
use std::io::{Read, Seek, SeekFrom};

use crate::cell::{CellRef, Row};
use crate::decode::{Decoding, detect_encoding};
use crate::dialect::{Dialect, sniff_dialect};
use crate::{ImportError, ImportSpec, Limits};

/// What was found out about a CSV file before reading it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CsvInfo {
    pub(crate) decoding: Decoding,
    pub(crate) dialect: Dialect,
}

const SAMPLE: usize = 64 * 1024;

/// Sniffs the encoding and dialect from the first 64 KiB, and rewinds.
pub(crate) fn sniff<R: Read + Seek>(file: &mut R, spec: &ImportSpec) -> Result<CsvInfo, ImportError> {
    let mut sample = vec![0u8; SAMPLE];
    let n = crate::format::read_up_to(file, &mut sample)?;
    sample.truncate(n);
    file.seek(SeekFrom::Start(0)).map_err(ImportError::io)?;
    let decoding = detect_encoding(&sample, spec.encoding.as_deref());
    let mut text = String::new();
    // A sample cut inside a character decodes to U+FFFD at its end, which is harmless here.
    let _ = decoding.reader(&sample[..]).read_to_string(&mut text);
    let one = |s: &Option<String>| s.as_deref().and_then(|s| s.bytes().next());
    Ok(CsvInfo { decoding, dialect: sniff_dialect(&text, one(&spec.delimiter), one(&spec.quote)) })
}

/// Counts the bytes read since the last row ended, and refuses to read on past the limit.
struct Guard<R> {
    inner: R,
    since: usize,
    limit: usize,
    tripped: bool,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since > self.limit {
            self.tripped = true;
            return Err(std::io::Error::other("row too long"));
        }
        let n = self.inner.read(buf)?;
        self.since += n;
        Ok(n)
    }
}

/// A record whose bytes are all UTF-8 (checked once for the whole record).
struct Text<'r>(&'r csv::StringRecord);

impl Row for Text<'_> {
    fn width(&self) -> usize {
        self.0.len()
    }
    fn cell(&self, i: usize) -> CellRef<'_> {
        match self.0.get(i) {
            None | Some("") => CellRef::Empty,
            Some(t) => CellRef::Text(t),
        }
    }
}

/// A record with bytes that are not UTF-8: UTF-8 files are read as they are (no decoding
/// pass), so a stray byte shows up as an invalid cell of its row.
struct Record<'r>(&'r csv::ByteRecord);

impl Row for Record<'_> {
    fn width(&self) -> usize {
        self.0.len()
    }
    fn cell(&self, i: usize) -> CellRef<'_> {
        match self.0.get(i) {
            None | Some(b"") => CellRef::Empty,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(t) => CellRef::Text(t),
                Err(_) => CellRef::Invalid(bytes),
            },
        }
    }
}

/// Reads CSV buffers of this size; the guard allows a row this much slack.
const BUFFER: usize = 64 * 1024;

/// Calls `visit` with each record and its number from 1.
pub(crate) fn rows<R: Read>(
    file: R,
    info: CsvInfo,
    limits: &Limits,
    visit: &mut dyn FnMut(u64, &dyn Row) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let guard =
        Guard { inner: info.decoding.reader(file), since: 0, limit: limits.max_row_bytes + BUFFER, tripped: false };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(info.dialect.delimiter)
        .quote(info.dialect.quote)
        .buffer_capacity(BUFFER)
        .from_reader(guard);
    let mut record = csv::ByteRecord::new();
    let mut last_line = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                if reader.get_ref().tripped {
                    return Err(ImportError::new(
                        "row_too_long",
                        format!(
                            "the row after row {last_line} is longer than {} KiB; is a quote (\") left open?",
                            limits.max_row_bytes / 1024
                        ),
                    ));
                }
                return Err(ImportError::corrupt("CSV", e));
            }
        }
        reader.get_mut().since = 0;
        // Records, counted from 1 as a spreadsheet numbers rows (the csv crate's line numbers lag
        // behind on CRLF files); blank lines are not records.
        let line = last_line + 1;
        last_line = line;
        if record.len() > limits.max_columns {
            return Err(too_many_columns(line, record.len(), limits));
        }
        // Checked as UTF-8 in one pass over the record and moved, not copied, both ways.
        record = match csv::StringRecord::from_byte_record(record) {
            Ok(text) => {
                visit(line, &Text(&text))?;
                text.into_byte_record()
            }
            Err(e) => {
                let bytes = e.into_byte_record();
                visit(line, &Record(&bytes))?;
                bytes
            }
        };
    }
}

pub(crate) fn too_many_columns(row: u64, n: usize, limits: &Limits) -> ImportError {
    ImportError::new("too_many_columns", format!("row {row} has {n} columns; at most {} are read", limits.max_columns))
}
