//! `import.sheet`: an uploaded CSV, XLSX, XLS or ODS file → validated rows (an NDJSON
//! artifact, optionally POSTed to the app in chunks), an error report a person can fix (CSV and
//! XLSX artifacts) and a summary. The reading and checking is `tarea-import`'s; this module
//! moves bytes between the artifact store, a temporary folder and the app.
//!
//! Payload: `{"upload": "<upload id>", "columns": [...], "sheet"?, "header_row"?, "encoding"?,
//! "delimiter"?, "quote"?, "key"?, "duplicates"?, "trim"?, "dry_run"? = false,
//! "progress_every"? = 10000, "report_xlsx"? = true, "deliver"?: {"url", "chunk_rows"? = 500,
//! "timeout_ms"? = 30000}}`, or `{"confirm": "<id of a dry run>", "deliver"?}` to deliver the rows
//! a dry run validated without uploading the file again.
//!
//! Result: `{"total_processed", "successful", "failed", "replaced", "errors_preview", "format",
//! "encoding"?, "delimiter"?, "sheet"?, "header_row", "columns", "dry_run", "import", "upload",
//! "artifacts": {"rows"?, "errors_csv"?, "errors_xlsx"?}, "delivery"?: {"url", "chunks", "rows"}}`.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tarea_core::{
    ArtifactId, BytesError, Handler, HandlerError, JobContext, JobId, JobState, PayloadError, ProgressUpdate, Store,
};
use tarea_import::{Control, ImportError, ImportSpec, Limits, Outputs, Schema};

use crate::HttpRequest;
use crate::import_delivery::{Delivery, deliver};
use crate::job_files::{copy_upload, save_file, stem_of, work_dir};

/// The kind's name.
pub const IMPORT_KIND: &str = "import.sheet";
/// Keys of the payload that are this handler's; the rest is the [`ImportSpec`].
const OWN_KEYS: [&str; 6] = ["upload", "confirm", "dry_run", "progress_every", "report_xlsx", "deliver"];

/// The `import.sheet` handler.
pub struct ImportSheet {
    store: Arc<dyn Store>,
    http: Arc<HttpRequest>,
    limits: Limits,
}

impl ImportSheet {
    /// Reads its tenants' uploads; delivers through `http`'s allow-lists and signatures.
    pub fn new(store: Arc<dyn Store>, http: Arc<HttpRequest>) -> Self {
        ImportSheet { store, http, limits: Limits::default() }
    }
}

/// A payload, read.
struct Payload {
    source: Source,
    dry_run: bool,
    progress_every: u64,
    report_xlsx: bool,
    deliver: Option<Delivery>,
}

enum Source {
    Upload(ArtifactId, Box<Schema>),
    Confirm(JobId),
}

fn parse(raw: &RawValue) -> Result<Payload, PayloadError> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(raw.get()) else {
        return Err(PayloadError::new("", "import.sheet wants an object: {\"upload\", \"columns\": [...]}"));
    };
    let mut own = Map::new();
    for key in OWN_KEYS {
        if let Some(v) = map.remove(key) {
            own.insert(key.into(), v);
        }
    }
    let id = |field: &str| -> Result<Option<String>, PayloadError> {
        match own.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(PayloadError::new(field, "must be an id (a string)")),
        }
    };
    let source = match (id("upload")?, id("confirm")?) {
        (Some(u), None) => {
            let upload = u.parse::<ArtifactId>().map_err(|_| {
                PayloadError::new("upload", format!("{u:?} is not an upload id (POST /v1/uploads gives one)"))
            })?;
            let spec: ImportSpec = serde_json::from_value(Value::Object(map))
                .map_err(|e| PayloadError::new("", format!("the import's columns and options: {e}")))?;
            let schema = Schema::compile(&spec).map_err(|e| {
                let (field, message) = e.message.split_once(": ").unwrap_or(("", &e.message));
                PayloadError::new(field, message)
            })?;
            Source::Upload(upload, Box::new(schema))
        }
        (None, Some(c)) => {
            if let Some(key) = map.keys().next() {
                return Err(PayloadError::new(
                    key.as_str(),
                    "a confirmation imports what its dry run validated; give only confirm and deliver",
                ));
            }
            Source::Confirm(c.parse().map_err(|_| PayloadError::new("confirm", format!("{c:?} is not a job id")))?)
        }
        (Some(_), Some(_)) => return Err(PayloadError::new("confirm", "give upload or confirm, not both")),
        (None, None) => {
            return Err(PayloadError::new("upload", "give the upload to import (POST /v1/uploads gives its id)"));
        }
    };
    let flag = |field: &str, default: bool| match own.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(PayloadError::new(field, "must be true or false")),
    };
    let progress_every = match own.get("progress_every") {
        None | Some(Value::Null) => 10_000,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| PayloadError::new("progress_every", "must be 1 to 1000000 rows"))?,
    };
    let deliver = match own.get("deliver") {
        None | Some(Value::Null) => None,
        Some(v) => Some(Delivery::deserialize(v).map_err(|e| PayloadError::new("deliver", e.to_string()))?.checked()?),
    };
    let dry_run = flag("dry_run", false)?;
    if matches!(source, Source::Confirm(_)) && own.contains_key("dry_run") {
        return Err(PayloadError::new("dry_run", "a confirmation is not a dry run"));
    }
    Ok(Payload { source, dry_run, progress_every, report_xlsx: flag("report_xlsx", true)?, deliver })
}

/// The dry run a confirmation delivers: its result and where its deliveries go.
struct DryRun {
    result: Map<String, Value>,
    rows: Option<ArtifactId>,
    deliver: Option<Delivery>,
}

impl ImportSheet {
    async fn dry_run(&self, tenant: &str, id: JobId) -> Result<DryRun, PayloadError> {
        let refuse = |m: String| PayloadError::new("confirm", m);
        let job = self
            .store
            .job_get(Some(tenant), id)
            .await
            .map_err(|e| refuse(format!("the store could not be read: {e}")))?
            .ok_or_else(|| refuse(format!("there is no job {id}")))?;
        if job.kind != IMPORT_KIND {
            return Err(refuse(format!("job {id} is a {} job, not an import", job.kind)));
        }
        let payload = parse(&job.payload).map_err(|e| refuse(format!("job {id}'s payload: {}", e.message)))?;
        if !payload.dry_run {
            return Err(refuse(format!("job {id} was not a dry run (its rows were delivered when it ran)")));
        }
        if job.state != JobState::Succeeded {
            return Err(refuse(format!("job {id} is {}; only a dry run that succeeded can be confirmed", job.state)));
        }
        let result: Map<String, Value> =
            job.result.as_ref().and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or_default();
        let rows =
            result.get("artifacts").and_then(|a| a.get("rows")).and_then(Value::as_str).and_then(|s| s.parse().ok());
        Ok(DryRun { result, rows, deliver: payload.deliver })
    }
}

#[async_trait]
impl Handler for ImportSheet {
    async fn check(&self, tenant: &str, payload: &RawValue) -> Result<(), PayloadError> {
        let p = parse(payload)?;
        let deliver = match &p.source {
            Source::Upload(id, _) => {
                let found = self
                    .store
                    .artifact_get(Some(tenant), *id)
                    .await
                    .map_err(|e| PayloadError::new("upload", format!("the store could not be read: {e}")))?;
                if found.is_none() {
                    return Err(PayloadError::new("upload", format!("there is no upload {id} (or it expired)")));
                }
                p.deliver
            }
            Source::Confirm(id) => {
                let dry = self.dry_run(tenant, *id).await?;
                let deliver = p.deliver.or(dry.deliver);
                if deliver.is_none() {
                    return Err(PayloadError::new(
                        "deliver",
                        "a confirmation delivers the rows: give deliver {\"url\"} here or in the dry run",
                    ));
                }
                deliver
            }
        };
        if let Some(d) = deliver {
            self.http
                .check_destination(tenant, &d.url)
                .await
                .map_err(|e| PayloadError::new("deliver.url", e.message))?;
        }
        Ok(())
    }

    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let p = parse(&ctx.payload)
            .map_err(|e| HandlerError::fatal("invalid_payload", format!("{}: {}", e.field, e.message)))?;
        let result = match p.source {
            Source::Upload(upload, schema) => {
                self.import(&ctx, upload, *schema, p.dry_run, p.progress_every, p.report_xlsx, p.deliver).await?
            }
            Source::Confirm(id) => self.confirm(&ctx, id, p.deliver).await?,
        };
        Ok(serde_json::value::to_raw_value(&result).expect("JSON serializes"))
    }
}

impl ImportSheet {
    #[allow(clippy::too_many_arguments)]
    async fn import(
        &self,
        ctx: &JobContext,
        upload: ArtifactId,
        schema: Schema,
        dry_run: bool,
        progress_every: u64,
        report_xlsx: bool,
        delivery: Option<Delivery>,
    ) -> Result<Value, HandlerError> {
        crate::step(ctx, "Leyendo archivo", 0, None)?;
        let dir = work_dir()?;
        let (artifact, _) = copy_upload(ctx, upload, &dir.path().join("upload")).await?;

        let (progress, cancel, limits, work) =
            (Arc::clone(&ctx.progress), ctx.cancel.clone(), self.limits.clone(), dir.path().to_owned());
        let summary = tokio::task::spawn_blocking(move || {
            run_blocking(&work, &schema, &limits, report_xlsx, progress_every, &|n| {
                progress.report(ProgressUpdate {
                    step: Some("Validando filas".into()),
                    current: Some(n),
                    ..Default::default()
                });
                !cancel.is_cancelled()
            })
        })
        .await
        .map_err(|e| HandlerError::fatal("import_crashed", format!("the import stopped unexpectedly: {e}")))?
        .map_err(import_error)?;

        crate::step(ctx, "Guardando resultados", 0, None)?;
        let stem = stem_of(&artifact.filename, "importacion");
        let mut artifacts = Map::new();
        if summary.successful > 0 {
            let a = save_file(
                ctx,
                &dir.path().join("rows.ndjson"),
                format!("{stem}-validas.ndjson"),
                "application/x-ndjson",
            )
            .await?;
            artifacts.insert("rows".into(), json!(a));
        }
        if summary.failed > 0 {
            let a = save_file(
                ctx,
                &dir.path().join("errors.csv"),
                format!("{stem}-errores.csv"),
                "text/csv; charset=utf-8",
            )
            .await?;
            artifacts.insert("errors_csv".into(), json!(a));
            if report_xlsx {
                let a = save_file(
                    ctx,
                    &dir.path().join("errors.xlsx"),
                    format!("{stem}-errores.xlsx"),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
                .await?;
                artifacts.insert("errors_xlsx".into(), json!(a));
            }
        }
        let mut result = match serde_json::to_value(&summary).expect("JSON serializes") {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        result.insert("dry_run".into(), json!(dry_run));
        result.insert("import".into(), json!(ctx.id.to_string()));
        result.insert("upload".into(), json!(upload.to_string()));
        result.insert("artifacts".into(), Value::Object(artifacts));
        if let Some(d) = delivery.filter(|_| !dry_run) {
            let file = tokio::fs::File::open(dir.path().join("rows.ndjson"))
                .await
                .map_err(|e| HandlerError::retryable("tempdir", e.to_string()))?;
            let report =
                deliver(&self.http, ctx, &ctx.id.to_string(), &d, tokio::io::BufReader::new(file), summary.successful)
                    .await?;
            result.insert("delivery".into(), report);
        }
        Ok(Value::Object(result))
    }

    async fn confirm(&self, ctx: &JobContext, id: JobId, delivery: Option<Delivery>) -> Result<Value, HandlerError> {
        let dry = self.dry_run(&ctx.tenant, id).await.map_err(|e| HandlerError::fatal("invalid_payload", e.message))?;
        let delivery = delivery
            .or(dry.deliver)
            .ok_or_else(|| HandlerError::fatal("invalid_payload", "deliver: a confirmation delivers the rows"))?;
        let successful = dry.result.get("successful").and_then(Value::as_u64).unwrap_or(0);
        let mut result = dry.result;
        result.insert("dry_run".into(), json!(false));
        result.insert("confirmed".into(), json!(id.to_string()));
        let report = match dry.rows {
            Some(rows) => {
                let (_, bytes) = ctx.artifacts.open(rows).await.map_err(|e| match e {
                    HandlerError::Fatal(err) => HandlerError::fatal(
                        "rows_expired",
                        format!(
                            "the dry run's valid rows are no longer stored ({}); import the file again",
                            err.message
                        ),
                    ),
                    other => other,
                })?;
                let reader = tokio_util::io::StreamReader::new(
                    bytes.map(|c| c.map_err(|e: BytesError| std::io::Error::other(e.to_string()))),
                );
                deliver(&self.http, ctx, &id.to_string(), &delivery, tokio::io::BufReader::new(reader), successful)
                    .await?
            }
            None => json!({"url": delivery.url, "chunks": 0, "rows": 0}),
        };
        result.insert("delivery".into(), report);
        Ok(Value::Object(result))
    }
}

/// Runs the import on this (blocking) thread, writing into `dir`.
fn run_blocking(
    dir: &Path,
    schema: &Schema,
    limits: &Limits,
    report_xlsx: bool,
    every: u64,
    progress: &dyn Fn(u64) -> bool,
) -> Result<tarea_import::Summary, ImportError> {
    let io = |e: std::io::Error| ImportError::new("io", format!("the work folder failed: {e}"));
    let file = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(dir.join("upload")).map_err(io)?);
    let mut rows =
        std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(dir.join("rows.ndjson")).map_err(io)?);
    let mut report = std::io::BufWriter::new(std::fs::File::create(dir.join("errors.csv")).map_err(io)?);
    let xlsx = dir.join("errors.xlsx");
    tarea_import::import(
        file,
        schema,
        limits,
        Outputs {
            valid: &mut rows,
            report_csv: &mut report,
            report_xlsx: report_xlsx.then_some(xlsx.as_path()),
            tempdir: Some(dir),
        },
        Control { every, progress: &mut |n| progress(n) },
    )
}

fn import_error(e: ImportError) -> HandlerError {
    match e.code {
        "cancelled" => HandlerError::Cancelled,
        "io" => HandlerError::retryable("io", e.message),
        code => HandlerError::fatal(code, e.message),
    }
}

/// How long one chunk's POST may take by default.
pub(crate) const CHUNK_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Value) -> Result<Payload, PayloadError> {
        parse(&serde_json::value::to_raw_value(&v).unwrap())
    }

    #[test]
    fn payload_errors_name_the_field() {
        let upload = ArtifactId::new().to_string();
        let e = p(json!({"columns": [{"name": "a"}]})).err().unwrap();
        assert_eq!(e.field, "upload");
        let e = p(json!({"upload": upload, "columns": [{"name": "a", "min": 1}]})).err().unwrap();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("columns[0].min", "applies to integer, decimal and date columns (use min_length for text)")
        );
        let e = p(json!({"upload": upload, "columns": [{"name": "a"}], "colums": 1})).err().unwrap();
        assert!(e.message.contains("unknown field `colums`"), "{}", e.message);
        let e = p(json!({"confirm": JobId::new().to_string(), "columns": []})).err().unwrap();
        assert_eq!(e.field, "columns");
        let e = p(json!({"upload": upload, "columns": [{"name": "a"}], "deliver": {"url": "https://x.example/", "chunk_rows": 0}})).err().unwrap();
        assert_eq!(e.field, "deliver.chunk_rows");
        assert!(p(json!({"upload": upload, "columns": [{"name": "a"}], "dry_run": true})).unwrap().dry_run);
    }
}
