//! `csv.export`: rows → one CSV artifact, streamed to the artifact store as it is written, so
//! a 100k-row export never sits whole in memory.
//!
//! Payload: `{"columns": ["Protocolo", {"header": "Especie", "field": "especie"}, …],
//! "rows": [[…], {…}, …] | "rows_artifact": "<artifact id of JSON Lines>", "delimiter"?: ",",
//! "bom"?: false, "escape_formulas"?: true, "filename"?: "export.csv"}`.
//! A row is an array (cells in column order) or an object (cells by each column's `field`,
//! which defaults to its header). Result: `{"artifact", "rows", "bytes", "filename"}`.
use std::borrow::Cow;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use tarea_core::{ArtifactId, BytesError, Handler, HandlerError, JobContext, NewArtifact};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::step;

/// Flushed to the artifact store in pieces of this size.
const CHUNK: usize = 64 * 1024;
/// Most columns.
const COLUMNS_MAX: usize = 1000;
/// The writer's error when the upload it feeds has stopped: the upload's own error says why.
const UPLOAD_STOPPED: &str = "upload_stopped";

/// The `csv.export` handler.
pub struct CsvExport;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    columns: Vec<Column>,
    #[serde(default)]
    rows: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    rows_artifact: Option<String>,
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    bom: bool,
    #[serde(default = "yes")]
    escape_formulas: bool,
    #[serde(default)]
    filename: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Column {
    Header(String),
    Spec {
        header: String,
        #[serde(default)]
        field: Option<String>,
    },
}

impl Column {
    fn header(&self) -> &str {
        match self {
            Column::Header(h) | Column::Spec { header: h, .. } => h,
        }
    }
    fn field(&self) -> &str {
        match self {
            Column::Header(h) => h,
            Column::Spec { header, field } => field.as_deref().unwrap_or(header),
        }
    }
}

fn invalid(message: impl Into<String>) -> HandlerError {
    HandlerError::fatal("invalid_payload", message)
}

fn delimiter(d: Option<&str>) -> Result<u8, HandlerError> {
    match d {
        None => Ok(b','),
        Some("\\t" | "\t") => Ok(b'\t'),
        Some(s) if s.len() == 1 && s.as_bytes()[0].is_ascii_punctuation() && !matches!(s, "\"") => Ok(s.as_bytes()[0]),
        Some(s) => Err(invalid(format!(
            "delimiter must be one punctuation character such as \",\" or \";\", or \"\\t\"; got {s:?}"
        ))),
    }
}

/// The text of one cell, borrowed when it can be. With `escape`, text that a spreadsheet
/// would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return, and
/// is not a number) gets a leading `'`, as OWASP advises against CSV injection. Cells are
/// read as raw JSON: numbers keep the text they were sent with, and no row is ever built into
/// a `serde_json::Value` (that cost ~2 µs a row).
fn cell(v: &RawValue, escape: bool) -> Cow<'_, str> {
    let raw = v.get();
    match raw.as_bytes().first() {
        Some(b'"') => {
            let text: Cow<'_, str> = match serde_json::from_str::<&str>(raw) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => Cow::Owned(serde_json::from_str::<String>(raw).unwrap_or_default()),
            };
            let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']) && text.trim().parse::<f64>().is_err();
            if escape && risky { Cow::Owned(format!("'{text}")) } else { text }
        }
        Some(b'n') => Cow::Borrowed(""),
        _ => Cow::Borrowed(raw),
    }
}

/// Where a row came from, for error messages (built only when one is needed).
#[derive(Clone, Copy)]
enum At {
    Inline(usize),
    Line(u64),
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Inline(i) => write!(f, "rows[{i}]"),
            At::Line(n) => write!(f, "line {n} of rows_artifact"),
        }
    }
}

/// What the CSV writer writes into; the handler takes its bytes out in `CHUNK`s.
#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn take_if(&self, at_least: usize) -> Option<Bytes> {
        let mut buf = self.0.lock().ok()?;
        (buf.len() >= at_least.max(1)).then(|| Bytes::from(std::mem::take(&mut *buf)))
    }
}

/// Writes rows as CSV into a buffer that is handed on in `CHUNK`s.
struct Writer<'a> {
    csv: csv::Writer<Sink>,
    sink: Sink,
    columns: &'a [Column],
    escape: bool,
    tx: mpsc::Sender<Result<Bytes, BytesError>>,
    rows: u64,
    bytes: u64,
}

impl Writer<'_> {
    async fn row(&mut self, row: &str, at: At) -> Result<(), HandlerError> {
        let bad = |e: serde_json::Error| invalid(format!("{at} is not a JSON array or object: {e}"));
        let csv_err = |e: csv::Error| HandlerError::fatal("csv_error", e.to_string());
        match row.trim_start().as_bytes().first() {
            Some(b'[') => {
                let cells: Vec<&RawValue> = serde_json::from_str(row).map_err(bad)?;
                if cells.len() > self.columns.len() {
                    return Err(invalid(format!(
                        "{at} has {} cells but there are {} columns",
                        cells.len(),
                        self.columns.len()
                    )));
                }
                for c in &cells {
                    self.csv.write_field(cell(c, self.escape).as_bytes()).map_err(csv_err)?;
                }
                for _ in cells.len()..self.columns.len() {
                    self.csv.write_field("").map_err(csv_err)?;
                }
            }
            Some(b'{') => {
                let cells: Fields<'_> = serde_json::from_str(row).map_err(bad)?;
                for c in self.columns {
                    let text = cells.get(c.field()).map(|v| cell(v, self.escape)).unwrap_or_default();
                    self.csv.write_field(text.as_bytes()).map_err(csv_err)?;
                }
            }
            _ => {
                let shown: String = row.chars().take(40).collect();
                return Err(invalid(format!("{at} must be an array of cells or an object; got {shown}")));
            }
        }
        self.csv.write_record(None::<&[u8]>).map_err(csv_err)?;
        self.rows += 1;
        self.flush(false).await
    }

    async fn flush(&mut self, all: bool) -> Result<(), HandlerError> {
        if all {
            self.csv.flush().map_err(|e| HandlerError::fatal("csv_error", e.to_string()))?;
        }
        if let Some(chunk) = self.sink.take_if(if all { 1 } else { CHUNK }) {
            self.bytes += chunk.len() as u64;
            self.tx.send(Ok(chunk)).await.map_err(|_| HandlerError::retryable(UPLOAD_STOPPED, "the upload stopped"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Handler for CsvExport {
    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let p: Payload = serde_json::from_str(ctx.payload.get()).map_err(|e| invalid(format!("csv.export: {e}")))?;
        if p.columns.is_empty() || p.columns.len() > COLUMNS_MAX {
            return Err(invalid(format!("columns holds 1 to {COLUMNS_MAX} columns; got {}", p.columns.len())));
        }
        let source = match (&p.rows, &p.rows_artifact) {
            (Some(_), None) => None,
            (None, Some(id)) => Some(
                id.parse::<ArtifactId>()
                    .map_err(|_| invalid(format!("rows_artifact is not an artifact id: {id:?}")))?,
            ),
            _ => return Err(invalid("give either rows or rows_artifact")),
        };
        let delim = delimiter(p.delimiter.as_deref())?;
        let filename = p.filename.clone().unwrap_or_else(|| "export.csv".into());
        let (tx, rx) = mpsc::channel::<Result<Bytes, BytesError>>(4);
        let meta = NewArtifact { filename, content_type: "text/csv; charset=utf-8".into(), ..Default::default() };
        // The upload (hashing, storing) runs as its own task, beside the writer on the other core.
        let sink = std::sync::Arc::clone(&ctx.artifacts);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let finished = std::sync::Arc::clone(&done);
        let upload = tokio::spawn(async move { sink.save(meta, Box::pin(tokio_stream_of(rx, finished))).await });
        let upload = async move {
            upload
                .await
                .unwrap_or_else(|e| Err(HandlerError::retryable("internal", format!("the upload task failed: {e}"))))
        };
        let rows_tx = tx.clone();
        let write = async {
            let sink = Sink::default();
            if p.bom {
                std::io::Write::write_all(&mut sink.clone(), b"\xEF\xBB\xBF")
                    .map_err(|e| HandlerError::fatal("csv_error", e.to_string()))?;
            }
            let mut csv = csv::WriterBuilder::new().delimiter(delim).from_writer(sink.clone());
            csv.write_record(p.columns.iter().map(Column::header))
                .map_err(|e| HandlerError::fatal("csv_error", e.to_string()))?;
            let mut w =
                Writer { csv, sink, columns: &p.columns, escape: p.escape_formulas, tx: rows_tx, rows: 0, bytes: 0 };
            match source {
                None => {
                    let rows = p.rows.as_deref().unwrap_or_default();
                    let total = rows.len() as u64;
                    for (i, row) in rows.iter().enumerate() {
                        w.row(row.get(), At::Inline(i)).await?;
                        if i % 5000 == 4999 {
                            step(&ctx, "writing rows", w.rows, Some(total))?;
                        }
                    }
                }
                Some(id) => {
                    let (_, bytes) = ctx.artifacts.open(id).await?;
                    let reader = tokio_util::io::StreamReader::new(
                        bytes.map(|c| c.map_err(|e| std::io::Error::other(e.to_string()))),
                    );
                    let mut reader = tokio::io::BufReader::with_capacity(256 * 1024, reader);
                    let mut line = String::new();
                    let mut n = 0u64;
                    loop {
                        line.clear();
                        let read = reader
                            .read_line(&mut line)
                            .await
                            .map_err(|e| HandlerError::retryable("artifact_store_unavailable", e.to_string()))?;
                        if read == 0 {
                            break;
                        }
                        n += 1;
                        if line.trim().is_empty() {
                            continue;
                        }
                        w.row(&line, At::Line(n)).await?;
                        if n.is_multiple_of(5000) {
                            step(&ctx, "writing rows", w.rows, None)?;
                        }
                    }
                }
            }
            w.flush(true).await?;
            step(&ctx, "saving the file", w.rows, Some(w.rows))?;
            Ok::<_, HandlerError>((w.rows, w.bytes))
        };
        let written = async {
            let r = write.await;
            match &r {
                // An error item aborts the upload: a half-written export is never saved.
                Err(e) => {
                    let _ = tx.send(Err(BytesError::Unavailable(format!("the export failed: {e:?}")))).await;
                }
                Ok(_) => done.store(true, std::sync::atomic::Ordering::Release),
            }
            drop(tx);
            r
        };
        let (written, saved) = tokio::join!(written, upload);
        // When the upload stopped first (e.g. over the size limit, not worth a retry), its error
        // says why; when the writer failed (a wrong row), the writer's does.
        let upload_stopped = |e: &HandlerError| matches!(e, HandlerError::Retryable(j) if j.code == UPLOAD_STOPPED);
        let (rows, _) = match (written, &saved) {
            (Err(e), Err(_)) if upload_stopped(&e) => return Err(saved.err().unwrap_or(e)),
            (written, _) => written?,
        };
        let artifact = saved?;
        let out = serde_json::json!({
            "artifact": artifact.id, "rows": rows, "bytes": artifact.size, "filename": artifact.filename,
        });
        Ok(serde_json::value::to_raw_value(&out).map_err(|e| HandlerError::fatal("internal", e.to_string()))?)
    }
}

/// An object row's cells in the order sent; keys are borrowed unless they hold escapes. A
/// list, not a map: rows have a handful of fields, and a hash map per row cost more than
/// scanning it.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// The cell of `field` (the last one, if a row repeats a key, as JSON parsers do).
    fn get(&self, field: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == field).map(|(_, v)| *v)
    }
}

#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Cells;
        impl<'de> serde::de::Visitor<'de> for Cells {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of cells")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut cells = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    cells.push((k.0, v));
                }
                Ok(Fields(cells))
            }
        }
        d.deserialize_map(Cells)
    }
}

/// The chunks the writer sends, as a stream that ends cleanly only if the writer said it
/// finished (`done`). A writer that is dropped half-way (the job timed out or was stopped)
/// ends the stream with an error instead, so the upload is abandoned, never saved truncated.
fn tokio_stream_of(
    mut rx: mpsc::Receiver<Result<Bytes, BytesError>>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> impl futures_util::Stream<Item = Result<Bytes, BytesError>> + Send {
    let mut ended = false;
    futures_util::stream::poll_fn(move |cx| {
        if ended {
            return std::task::Poll::Ready(None);
        }
        match rx.poll_recv(cx) {
            std::task::Poll::Ready(None) if !done.load(std::sync::atomic::Ordering::Acquire) => {
                ended = true;
                std::task::Poll::Ready(Some(Err(BytesError::Unavailable("the export stopped before its end".into()))))
            }
            other => other,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_formulas_but_not_numbers() {
        let c = |json: &str, escape: bool| cell(&RawValue::from_string(json.to_owned()).unwrap(), escape).into_owned();
        assert_eq!(c(r#""=HYPERLINK(\"x\")""#, true), "'=HYPERLINK(\"x\")");
        assert_eq!(c(r#""@SUM(A1)""#, true), "'@SUM(A1)");
        assert_eq!(c(r#""-12.5""#, true), "-12.5");
        assert_eq!(c(r#""=1+1""#, false), "=1+1");
        assert_eq!(c("3.25", true), "3.25");
        assert_eq!(c("null", true), "");
        assert_eq!(c("true", true), "true");
        assert_eq!(c(r#""a\nb \u00f1""#, true), "a\nb ñ");
        assert_eq!(c(r#"{"a":1}"#, true), r#"{"a":1}"#);
    }

    #[tokio::test]
    async fn the_chunk_stream_ends_cleanly_only_when_the_writer_finished() {
        use futures_util::StreamExt;
        for finished in [false, true] {
            let (tx, rx) = mpsc::channel(4);
            let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut stream = Box::pin(tokio_stream_of(rx, std::sync::Arc::clone(&done)));
            tx.send(Ok(Bytes::from_static(b"a;b\n"))).await.unwrap();
            if finished {
                done.store(true, std::sync::atomic::Ordering::Release);
            }
            drop(tx);
            assert!(stream.next().await.unwrap().is_ok());
            let end = stream.next().await;
            if finished {
                assert!(end.is_none(), "a finished writer ends the stream");
            } else {
                assert!(matches!(end, Some(Err(_))), "a dropped writer must not look finished");
                assert!(stream.next().await.is_none());
            }
        }
    }

    #[test]
    fn delimiters() {
        assert_eq!(delimiter(None).unwrap(), b',');
        assert_eq!(delimiter(Some(";")).unwrap(), b';');
        assert_eq!(delimiter(Some("\t")).unwrap(), b'\t');
        assert!(delimiter(Some("ab")).is_err());
        assert!(delimiter(Some("\"")).is_err());
        assert!(delimiter(Some("x")).is_err());
    }
}
