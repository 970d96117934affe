//! `xlsx.build`: a workbook from a sheet spec, with `rust_xlsxwriter`.
//!
//! Payload: `{"sheets": [{"name", "columns": [{"header", "field"?, "width"?, "format"?}],
//! "rows" | "rows_artifact", "merges"?, "formulas"?, "freeze"?, "autofilter"?}],
//! "styles"?: {name: style}, "filename"?}`. A sheet read from `rows_artifact` (JSON Lines) is
//! written in constant memory, so a 100k-row export stays small; its merges and formulas must
//! then sit below its rows. Result: `{"artifact", "sheets", "rows", "bytes", "filename"}`.
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Formula, Workbook, Worksheet, XlsxError};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tarea_core::{ArtifactId, ByteStream, Handler, HandlerError, JobContext, NewArtifact, ProgressUpdate};

/// Most sheets in a workbook.
const SHEETS_MAX: usize = 64;
/// Most columns in a sheet (Excel's limit).
const COLUMNS_MAX: usize = 16_384;
/// Most rows in a sheet, header included (Excel's limit).
const ROWS_MAX: u64 = 1_048_576;

/// The `xlsx.build` handler.
pub struct XlsxBuild;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    sheets: Vec<Sheet>,
    #[serde(default)]
    styles: BTreeMap<String, Style>,
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sheet {
    name: String,
    columns: Vec<Column>,
    #[serde(default)]
    rows: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    rows_artifact: Option<String>,
    #[serde(default)]
    merges: Vec<Merge>,
    #[serde(default)]
    formulas: Vec<FormulaCell>,
    #[serde(default)]
    freeze: Option<String>,
    #[serde(default)]
    autofilter: Option<AutoFilter>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Column {
    header: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    width: Option<f64>,
    /// A named style of `styles`, or one of `text`, `integer`, `decimal`, `money`, `percent`,
    /// `date`, or an Excel number format such as `#,##0.00 "€"`.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Merge {
    range: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    style: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormulaCell {
    cell: String,
    formula: String,
    #[serde(default)]
    style: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AutoFilter {
    Header(bool),
    Range(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Style {
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    font_size: Option<f64>,
    #[serde(default)]
    font_color: Option<String>,
    #[serde(default)]
    bg_color: Option<String>,
    #[serde(default)]
    border: bool,
    #[serde(default)]
    align: Option<String>,
    #[serde(default)]
    num_format: Option<String>,
    #[serde(default)]
    wrap: bool,
}

fn invalid(message: impl Into<String>) -> HandlerError {
    HandlerError::fatal("invalid_payload", message)
}

fn xlsx_err(at: &str) -> impl Fn(XlsxError) -> HandlerError + '_ {
    move |e| invalid(format!("{at}: {e}"))
}

fn color(s: &str, at: &str) -> Result<Color, HandlerError> {
    let hex = s.strip_prefix('#').filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
    hex.and_then(|h| u32::from_str_radix(h, 16).ok())
        .map(Color::RGB)
        .ok_or_else(|| invalid(format!("{at}: colors are written #RRGGBB; got {s:?}")))
}

impl Style {
    fn format(&self, at: &str) -> Result<Format, HandlerError> {
        let mut f = Format::new();
        if self.bold {
            f = f.set_bold();
        }
        if self.italic {
            f = f.set_italic();
        }
        if let Some(size) = self.font_size {
            if !(1.0..=409.0).contains(&size) {
                return Err(invalid(format!("{at}.font_size is 1 to 409")));
            }
            f = f.set_font_size(size);
        }
        if let Some(c) = &self.font_color {
            f = f.set_font_color(color(c, &format!("{at}.font_color"))?);
        }
        if let Some(c) = &self.bg_color {
            f = f.set_background_color(color(c, &format!("{at}.bg_color"))?);
        }
        if self.border {
            f = f.set_border(FormatBorder::Thin);
        }
        if let Some(a) = &self.align {
            f = f.set_align(match a.as_str() {
                "left" => FormatAlign::Left,
                "center" => FormatAlign::Center,
                "right" => FormatAlign::Right,
                other => return Err(invalid(format!("{at}.align is left, center or right; got {other:?}"))),
            });
        }
        if let Some(n) = &self.num_format {
            f = f.set_num_format(n);
        }
        if self.wrap {
            f = f.set_text_wrap();
        }
        Ok(f)
    }
}

/// A column's format: a named style, a built-in number format, or an Excel number format;
/// None for plain text and numbers. Cells without a format are written without one:
/// `rust_xlsxwriter` hashes a cell's format to find its style, a third of the time of a large
/// sheet whose every cell had one.
fn column_format(name: Option<&str>, styles: &HashMap<String, Format>) -> Option<Format> {
    Some(match name {
        None | Some("text") => return None,
        Some(n) if styles.contains_key(n) => styles[n].clone(),
        Some("integer") => Format::new().set_num_format("#,##0"),
        Some("decimal") => Format::new().set_num_format("#,##0.00"),
        Some("money") => Format::new().set_num_format("#,##0.00 \"$\""),
        Some("percent") => Format::new().set_num_format("0.00%"),
        Some("date") => Format::new().set_num_format("dd/mm/yyyy"),
        Some(custom) => Format::new().set_num_format(custom),
    })
}

/// `B12` → (row 11, col 1).
fn cell_ref(s: &str) -> Option<(u32, u16)> {
    let s = s.trim().replace('$', "");
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let col = letters.to_ascii_uppercase().bytes().try_fold(0u32, |acc, b| Some(acc * 26 + u32::from(b - b'A' + 1)))?;
    let row: u32 = digits.parse().ok()?;
    (row >= 1 && u64::from(row) <= ROWS_MAX && (1..=COLUMNS_MAX as u32).contains(&col))
        .then(|| (row - 1, (col - 1) as u16))
}

/// `A1:F5` → ((0, 0), (4, 5)).
fn range_ref(s: &str) -> Option<((u32, u16), (u32, u16))> {
    let (a, b) = s.split_once(':')?;
    let (a, b) = (cell_ref(a)?, cell_ref(b)?);
    (a.0 <= b.0 && a.1 <= b.1).then_some((a, b))
}

/// Writes one JSON cell. Objects are `{"value"?, "formula"?, "style"?}`.
fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    raw: &RawValue,
    fmt: Option<&Format>,
    styles: &HashMap<String, Format>,
    at: &dyn Fn() -> String,
) -> Result<(), HandlerError> {
    let text = raw.get();
    let err = |e: XlsxError| invalid(format!("{}: {e}", at()));
    match text.as_bytes().first() {
        Some(b'"') => {
            let s: String = serde_json::from_str(text).map_err(|e| invalid(format!("{}: {e}", at())))?;
            match fmt {
                Some(f) => ws.write_string_with_format(row, col, s, f),
                None => ws.write_string(row, col, s),
            }
            .map_err(err)?;
        }
        Some(b'n') => {}
        Some(b't' | b'f') => {
            let b = text.starts_with('t');
            match fmt {
                Some(f) => ws.write_boolean_with_format(row, col, b, f),
                None => ws.write_boolean(row, col, b),
            }
            .map_err(err)?;
        }
        Some(b'{') => {
            let v: Value = serde_json::from_str(text).map_err(|e| invalid(format!("{}: {e}", at())))?;
            let style = match v.get("style").and_then(Value::as_str) {
                Some(name) => {
                    Some(styles.get(name).ok_or_else(|| invalid(format!("{}: no style named {name:?}", at())))?)
                }
                None => fmt,
            };
            if let Some(f) = v.get("formula").and_then(Value::as_str) {
                match style {
                    Some(s) => ws.write_formula_with_format(row, col, Formula::new(f), s),
                    None => ws.write_formula(row, col, Formula::new(f)),
                }
                .map_err(err)?;
            } else if let Some(value) = v.get("value") {
                let raw = serde_json::value::to_raw_value(value).map_err(|e| invalid(e.to_string()))?;
                if raw.get().starts_with('{') {
                    return Err(invalid(format!("{}: a cell's value is text, a number, true/false or null", at())));
                }
                write_cell(ws, row, col, &raw, style, styles, at)?;
            } else if let Some(s) = style
                && Some(s) != fmt
            {
                ws.write_blank(row, col, s).map_err(err)?;
            }
        }
        Some(b'[') => return Err(invalid(format!("{}: a cell cannot be an array", at()))),
        _ => {
            let n: f64 = text.parse().map_err(|_| invalid(format!("{}: not a cell: {text}", at())))?;
            match fmt {
                Some(f) => ws.write_number_with_format(row, col, n, f),
                None => ws.write_number(row, col, n),
            }
            .map_err(err)?;
        }
    }
    Ok(())
}

/// Builds the workbook; runs on the blocking pool (rust_xlsxwriter is synchronous).
struct Build<'a> {
    payload: &'a Payload,
    styles: HashMap<String, Format>,
    /// JSON Lines readers of the sheets that read from an artifact, by sheet index.
    sources: HashMap<usize, Box<dyn BufRead + Send>>,
    ctx: Progress,
}

/// What the blocking build needs of the job context.
struct Progress {
    cancel: tokio_util::sync::CancellationToken,
    sink: std::sync::Arc<dyn tarea_core::ProgressSink>,
}

impl Progress {
    fn step(&self, step: String, current: u64, total: Option<u64>) -> Result<(), HandlerError> {
        if self.cancel.is_cancelled() {
            return Err(HandlerError::Cancelled);
        }
        self.sink.report(ProgressUpdate { step: Some(step), current: Some(current), total, ..Default::default() });
        Ok(())
    }
}

impl Build<'_> {
    fn run(mut self) -> Result<(Vec<u8>, u64), HandlerError> {
        let mut wb = Workbook::new();
        let header = self.styles.get("header").cloned().unwrap_or_else(|| Format::new().set_bold());
        let mut total_rows = 0u64;
        let sheets = self.payload.sheets.len();
        for (si, sheet) in self.payload.sheets.iter().enumerate() {
            let at = format!("sheets[{si}]");
            let source = self.sources.remove(&si);
            let mut ws = if source.is_some() {
                wb.new_worksheet_with_constant_memory().map_err(xlsx_err(&at))?
            } else {
                Worksheet::new()
            };
            ws.set_name(&sheet.name).map_err(xlsx_err(&format!("{at}.name")))?;
            let formats: Vec<Option<Format>> =
                sheet.columns.iter().map(|c| column_format(c.format.as_deref(), &self.styles)).collect();
            for (ci, c) in sheet.columns.iter().enumerate() {
                if let Some(w) = c.width {
                    if !(0.0..=255.0).contains(&w) {
                        return Err(invalid(format!("{at}.columns[{ci}].width is 0 to 255")));
                    }
                    ws.set_column_width(ci as u16, w).map_err(xlsx_err(&at))?;
                }
                ws.write_string_with_format(0, ci as u16, &c.header, &header).map_err(xlsx_err(&at))?;
            }
            let fields: Vec<&str> = sheet.columns.iter().map(|c| c.field.as_deref().unwrap_or(&c.header)).collect();
            let mut row = 1u32;
            let mut write_row =
                |ws: &mut Worksheet, raw: &str, label: &dyn Fn() -> String| -> Result<(), HandlerError> {
                    if u64::from(row) >= ROWS_MAX {
                        return Err(invalid(format!("{at} has more rows than Excel's {ROWS_MAX}")));
                    }
                    match raw.trim_start().as_bytes().first() {
                        Some(b'[') => {
                            let cells: Vec<&RawValue> =
                                serde_json::from_str(raw).map_err(|e| invalid(format!("{}: {e}", label())))?;
                            if cells.len() > fields.len() {
                                return Err(invalid(format!(
                                    "{} has {} cells but there are {} columns",
                                    label(),
                                    cells.len(),
                                    fields.len()
                                )));
                            }
                            for (ci, c) in cells.iter().enumerate() {
                                let cell_at = || format!("{}[{ci}]", label());
                                write_cell(ws, row, ci as u16, c, formats[ci].as_ref(), &self.styles, &cell_at)?;
                            }
                        }
                        Some(b'{') => {
                            let cells: HashMap<String, &RawValue> =
                                serde_json::from_str(raw).map_err(|e| invalid(format!("{}: {e}", label())))?;
                            for (ci, f) in fields.iter().enumerate() {
                                if let Some(c) = cells.get(*f) {
                                    let cell_at = || format!("{}.{f}", label());
                                    write_cell(ws, row, ci as u16, c, formats[ci].as_ref(), &self.styles, &cell_at)?;
                                }
                            }
                        }
                        _ => return Err(invalid(format!("{} must be an array of cells or an object", label()))),
                    }
                    row += 1;
                    Ok(())
                };
            match (source, &sheet.rows) {
                (Some(mut reader), _) => {
                    let mut line = String::new();
                    let mut n = 0u64;
                    loop {
                        line.clear();
                        let read = reader
                            .read_line(&mut line)
                            .map_err(|e| HandlerError::retryable("artifact_store_unavailable", e.to_string()))?;
                        if read == 0 {
                            break;
                        }
                        n += 1;
                        if line.trim().is_empty() {
                            continue;
                        }
                        write_row(&mut ws, &line, &|| format!("line {n} of {at}.rows_artifact"))?;
                        if n.is_multiple_of(5000) {
                            self.ctx.step(format!("sheet {} of {sheets}: writing rows", si + 1), n, None)?;
                        }
                    }
                }
                (None, Some(rows)) => {
                    for (ri, r) in rows.iter().enumerate() {
                        write_row(&mut ws, r.get(), &|| format!("{at}.rows[{ri}]"))?;
                        if ri % 5000 == 4999 {
                            self.ctx.step(
                                format!("sheet {} of {sheets}: writing rows", si + 1),
                                ri as u64 + 1,
                                Some(rows.len() as u64),
                            )?;
                        }
                    }
                }
                (None, None) => {}
            }
            let last_row = row - 1;
            total_rows += u64::from(last_row);
            let last_col = (sheet.columns.len() - 1) as u16;
            for (i, m) in sheet.merges.iter().enumerate() {
                let ma = format!("{at}.merges[{i}]");
                let ((r1, c1), (r2, c2)) = range_ref(&m.range)
                    .ok_or_else(|| invalid(format!("{ma}.range is not a range like A5:F5: {:?}", m.range)))?;
                let style = self.named(m.style.as_deref(), &ma)?;
                ws.merge_range(r1, c1, r2, c2, &m.value, &style).map_err(xlsx_err(&ma))?;
            }
            for (i, f) in sheet.formulas.iter().enumerate() {
                let fa = format!("{at}.formulas[{i}]");
                let (r, c) = cell_ref(&f.cell)
                    .ok_or_else(|| invalid(format!("{fa}.cell is not a cell like F12: {:?}", f.cell)))?;
                let style = self.named(f.style.as_deref(), &fa)?;
                ws.write_formula_with_format(r, c, Formula::new(&f.formula), &style).map_err(xlsx_err(&fa))?;
            }
            if let Some(fr) = &sheet.freeze {
                let (r, c) = cell_ref(fr).ok_or_else(|| invalid(format!("{at}.freeze is a cell like A2: {fr:?}")))?;
                ws.set_freeze_panes(r, c).map_err(xlsx_err(&at))?;
            }
            match &sheet.autofilter {
                Some(AutoFilter::Header(true)) => {
                    ws.autofilter(0, 0, last_row, last_col).map_err(xlsx_err(&at))?;
                }
                Some(AutoFilter::Range(r)) => {
                    let ((r1, c1), (r2, c2)) =
                        range_ref(r).ok_or_else(|| invalid(format!("{at}.autofilter: {r:?}")))?;
                    ws.autofilter(r1, c1, r2, c2).map_err(xlsx_err(&at))?;
                }
                _ => {}
            }
            wb.push_worksheet(ws);
        }
        self.ctx.step("saving the workbook".into(), total_rows, Some(total_rows))?;
        let bytes = wb.save_to_buffer().map_err(|e| invalid(format!("the workbook could not be written: {e}")))?;
        Ok((bytes, total_rows))
    }

    fn named(&self, name: Option<&str>, at: &str) -> Result<Format, HandlerError> {
        match name {
            None => Ok(Format::new()),
            Some(n) => self.styles.get(n).cloned().ok_or_else(|| invalid(format!("{at}: no style named {n:?}"))),
        }
    }
}

/// Reads an artifact's stream as lines on a blocking thread.
fn blocking_lines(stream: ByteStream) -> Box<dyn BufRead + Send> {
    let reader = tokio_util::io::StreamReader::new(stream.map(|c| c.map_err(|e| std::io::Error::other(e.to_string()))));
    Box::new(std::io::BufReader::with_capacity(256 * 1024, tokio_util::io::SyncIoBridge::new(reader)))
}

#[async_trait]
impl Handler for XlsxBuild {
    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let p: Payload = serde_json::from_str(ctx.payload.get()).map_err(|e| invalid(format!("xlsx.build: {e}")))?;
        if p.sheets.is_empty() || p.sheets.len() > SHEETS_MAX {
            return Err(invalid(format!("sheets holds 1 to {SHEETS_MAX} sheets; got {}", p.sheets.len())));
        }
        let mut styles = HashMap::new();
        for (name, s) in &p.styles {
            styles.insert(name.clone(), s.format(&format!("styles.{name}"))?);
        }
        let mut sources = HashMap::new();
        for (i, s) in p.sheets.iter().enumerate() {
            if s.columns.is_empty() || s.columns.len() > COLUMNS_MAX {
                return Err(invalid(format!("sheets[{i}].columns holds 1 to {COLUMNS_MAX} columns")));
            }
            match (&s.rows, &s.rows_artifact) {
                (Some(_), Some(_)) => {
                    return Err(invalid(format!("sheets[{i}]: give rows or rows_artifact, not both")));
                }
                (None, Some(id)) => {
                    let id: ArtifactId = id
                        .parse()
                        .map_err(|_| invalid(format!("sheets[{i}].rows_artifact is not an artifact id: {id:?}")))?;
                    let (_, stream) = ctx.artifacts.open(id).await?;
                    sources.insert(i, blocking_lines(stream));
                }
                _ => {}
            }
        }
        let progress = Progress { cancel: ctx.cancel.clone(), sink: std::sync::Arc::clone(&ctx.progress) };
        let (bytes, rows, sheets, filename) = tokio::task::spawn_blocking(move || {
            let build = Build { payload: &p, styles, sources, ctx: progress };
            let (bytes, rows) = build.run()?;
            Ok::<_, HandlerError>((bytes, rows, p.sheets.len(), p.filename.clone()))
        })
        .await
        .map_err(|e| HandlerError::fatal("internal", format!("the workbook build stopped: {e}")))??;
        let meta = NewArtifact {
            filename: filename.unwrap_or_else(|| "libro.xlsx".into()),
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
            ..Default::default()
        };
        let data = Bytes::from(bytes);
        let artifact = ctx.artifacts.save(meta, Box::pin(futures_util::stream::once(async move { Ok(data) }))).await?;
        let out = serde_json::json!({
            "artifact": artifact.id, "sheets": sheets, "rows": rows, "bytes": artifact.size, "filename": artifact.filename,
        });
        serde_json::value::to_raw_value(&out).map_err(|e| HandlerError::fatal("internal", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        assert_eq!(cell_ref("A1"), Some((0, 0)));
        assert_eq!(cell_ref("$F$12"), Some((11, 5)));
        assert_eq!(cell_ref("aa3"), Some((2, 26)));
        assert_eq!(cell_ref("XFD1048576"), Some((1_048_575, 16_383)));
        for bad in ["", "A", "1", "A0", "XFE1", "A1048577", "A-1", "ÑA1"] {
            assert_eq!(cell_ref(bad), None, "{bad}");
        }
        assert_eq!(range_ref("A5:F5"), Some(((4, 0), (4, 5))));
        assert_eq!(range_ref("F5:A5"), None);
        assert_eq!(range_ref("A5"), None);
    }
}
