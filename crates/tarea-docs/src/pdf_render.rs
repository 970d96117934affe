//! `pdf.render` and `label.render`: a Typst template and JSON data → one PDF artifact, rendered
//! in a renderer process of the [`RenderPool`].
//!
//! `pdf.render` payload: `{"template", "version"?, "data", "filename"?, "pdf_a"?, "rows"?:
//! {"artifact"?, "into"? = "items"}, "parent_into"?, "merge_parent"?}` (see [`crate::render_data`]).
//! `label.render` payload: `{"template"? = "reception-label", "labels": [{…}, …], "filename"?}`;
//! every label's QR code (its `qr`, or else its `url`) is decoded back from the finished page
//! and every page's size checked before the job succeeds.
//! Result: `{"artifact", "filename", "bytes", "pages", "template", "version"}`; the artifact's
//! provenance records the template name and version and the SHA-256 of the data.
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tarea_core::{Handler, HandlerError, JobContext, JobError, NewArtifact, Store};
use tarea_render::{LabelCheck, Options, RenderError, Request, Template};

use crate::render_pool::{RenderFailure, RenderPool};
use crate::step;
use crate::templates::{Resolved, resolve};

/// The error code of a render whose renderer was killed or crashed; a second one in a row for
/// the same job is not retried.
pub const RENDER_KILLED: &str = "render_killed";

/// Most labels in one job.
pub const MAX_LABELS: usize = 10_000;

/// The `pdf.render` handler.
pub struct PdfRender {
    pool: Arc<RenderPool>,
    store: Arc<dyn Store>,
}

/// The `label.render` handler.
pub struct LabelRender {
    pool: Arc<RenderPool>,
    store: Arc<dyn Store>,
}

impl PdfRender {
    /// Renders through `pool` the built-in templates and the tenants' own from `store`.
    pub fn new(pool: Arc<RenderPool>, store: Arc<dyn Store>) -> PdfRender {
        PdfRender { pool, store }
    }
}

impl LabelRender {
    /// Renders through `pool` the built-in templates and the tenants' own from `store`.
    pub fn new(pool: Arc<RenderPool>, store: Arc<dyn Store>) -> LabelRender {
        LabelRender { pool, store }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PdfPayload {
    template: String,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default = "empty_object")]
    data: Box<RawValue>,
    /// NDJSON rows to put in the data.
    #[serde(default)]
    rows: Option<crate::render_data::RowsFrom>,
    /// The data field that gets the chain parent's result.
    #[serde(default)]
    parent_into: Option<String>,
    /// An object of the chain parent's result (an OCR's `fields`) merged into the data.
    #[serde(default)]
    merge_parent: Option<String>,
    /// Added by a chain: the job before this one.
    #[serde(default)]
    parent: Option<serde_json::Value>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    pdf_a: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelPayload {
    #[serde(default = "reception_label")]
    template: String,
    #[serde(default)]
    version: Option<u32>,
    labels: Vec<Box<RawValue>>,
    #[serde(default)]
    filename: Option<String>,
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".into()).expect("valid JSON")
}

fn reception_label() -> String {
    "reception-label".into()
}

fn invalid(message: impl Into<String>) -> HandlerError {
    HandlerError::fatal("invalid_payload", message)
}

#[async_trait]
impl Handler for PdfRender {
    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let p: PdfPayload =
            serde_json::from_str(ctx.payload.get()).map_err(|e| invalid(format!("pdf.render payload: {e}")))?;
        let template = resolve(self.store.as_ref(), &ctx.tenant, &p.template, p.version).await?.template;
        let request = Request {
            template: template.key(),
            labels: None,
            options: Options { pdf_a: p.pdf_a },
            ident: ctx.id.to_string(),
        };
        let filename = p.filename.unwrap_or_else(|| format!("{}.pdf", template.name));
        let from = crate::render_data::DataFrom {
            rows: p.rows.as_ref(),
            parent: p.parent.as_ref(),
            parent_into: p.parent_into.as_deref(),
            merge_parent: p.merge_parent.as_deref(),
        };
        let data = crate::render_data::assemble(&ctx, &p.data, from).await?;
        render(&self.pool, &ctx, &template, request, data, filename).await
    }
}

#[async_trait]
impl Handler for LabelRender {
    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let p: LabelPayload =
            serde_json::from_str(ctx.payload.get()).map_err(|e| invalid(format!("label.render payload: {e}")))?;
        if p.labels.is_empty() {
            return Err(invalid("\"labels\" is empty: there is nothing to print"));
        }
        if p.labels.len() > MAX_LABELS {
            return Err(invalid(format!(
                "{} labels in one job; at most {MAX_LABELS} (split the batch)",
                p.labels.len()
            )));
        }
        let Resolved { template, label_size_mm: size } =
            resolve(self.store.as_ref(), &ctx.tenant, &p.template, p.version).await?;
        let request = Request {
            template: template.key(),
            labels: Some(LabelCheck { size_mm: size }),
            options: Options::default(),
            ident: ctx.id.to_string(),
        };
        let mut data = Vec::with_capacity(p.labels.iter().map(|l| l.get().len() + 1).sum::<usize>() + 16);
        data.extend_from_slice(b"{\"labels\":[");
        for (i, l) in p.labels.iter().enumerate() {
            if i > 0 {
                data.push(b',');
            }
            data.extend_from_slice(l.get().as_bytes());
        }
        data.extend_from_slice(b"]}");
        let filename = p.filename.unwrap_or_else(|| "etiquetas.pdf".into());
        render(&self.pool, &ctx, &template, request, data, filename).await
    }
}

async fn render(
    pool: &RenderPool,
    ctx: &JobContext,
    template: &Template,
    request: Request,
    data: Vec<u8>,
    filename: String,
) -> Result<Box<RawValue>, HandlerError> {
    step(ctx, "rendering", 0, Some(2))?;
    let data_sha256 = hex::encode(Sha256::digest(&data));
    let (output, pdf) = match pool.render(template, request, data, ctx.deadline, &ctx.cancel).await {
        Ok(done) => done,
        Err(RenderFailure::Cancelled) => return Err(HandlerError::Cancelled),
        Err(RenderFailure::Render(e)) => return Err(HandlerError::Fatal(render_error(e, template))),
        Err(RenderFailure::Unavailable(m)) => return Err(HandlerError::retryable("renderer_unavailable", m)),
        Err(RenderFailure::Killed(m)) => {
            let again = ctx.last_error.as_ref().is_some_and(|e| e.code == RENDER_KILLED);
            return Err(if again {
                HandlerError::fatal(
                    RENDER_KILLED,
                    format!("{m}; this input stopped its renderer twice, so it is not retried"),
                )
            } else {
                HandlerError::retryable(RENDER_KILLED, m)
            });
        }
    };
    step(ctx, "saving", 1, Some(2))?;
    let size = pdf.len();
    let meta = NewArtifact {
        filename,
        content_type: "application/pdf".into(),
        provenance: Some(serde_json::json!({
            "template": template.name, "version": template.version, "data_sha256": data_sha256,
        })),
        expires_at: None,
    };
    let stream = Box::pin(futures_util::stream::once(async move { Ok(Bytes::from(pdf)) }));
    let artifact = ctx.artifacts.save(meta, stream).await?;
    let out = serde_json::json!({
        "artifact": artifact.id, "filename": artifact.filename, "bytes": size, "pages": output.pages,
        "template": template.name, "version": template.version,
    });
    serde_json::value::to_raw_value(&out).map_err(|e| HandlerError::fatal("internal", e.to_string()))
}

/// A render error as the job's error: what went wrong, and where in the template.
fn render_error(e: RenderError, template: &Template) -> JobError {
    let message = e.to_string();
    match e {
        RenderError::Compile(diags) => {
            let mut err = JobError::new("template_error", format!("template {}: {message}", template.key()));
            err.details = serde_json::json!({ "diagnostics": diags });
            err
        }
        RenderError::Template(m) => JobError::new("template_error", format!("template {}: {m}", template.key())),
        RenderError::Check(m) => JobError::new("check_failed", m),
    }
}
