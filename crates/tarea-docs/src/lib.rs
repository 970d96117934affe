//! The built-in document kinds and e-mail, one module each. The binary registers them with
//! [`register`]; each reads its payload (part of the HTTP contract), reports progress in named
//! steps, honours cancellation, and saves what it makes as artifacts of its job.
#![deny(missing_docs)]

mod csv_export;
mod email_send;
mod email_settings;
mod http_policy;
mod http_request;
mod import_delivery;
mod import_sheet;
mod job_files;
mod ocr_cleanup;
mod ocr_engine;
mod ocr_extract;
mod ocr_fields;
mod pdf_render;
mod render_data;
pub mod render_pool;
mod settings;
mod templates;
mod webhook_deliver;
mod xlsx_build;

use std::sync::Arc;

pub use csv_export::CsvExport;
pub use email_send::EmailSend;
pub use email_settings::{EMAIL_SETTING, EmailSettings, SmtpTls};
pub use http_policy::{HTTP_SETTING, HttpSettings, is_public};
pub use http_request::{HttpRequest, sign};
pub use import_sheet::{IMPORT_KIND, ImportSheet};
#[doc(hidden)]
pub use ocr_cleanup::{clean_scan, rotate as turn_page};
pub use ocr_extract::{OCR_KIND, OcrExtract};
pub use pdf_render::{LabelRender, PdfRender, RENDER_KILLED};
pub use render_pool::{RenderConfig, RenderFailure, RenderPool};
pub use settings::{DocsSettings, UPLOADS_SETTING};
pub use templates::TemplateCheck;
pub use webhook_deliver::WebhookDeliver;
pub use xlsx_build::XlsxBuild;

/// Reports a named step, unless the job was cancelled (then the handler stops).
pub(crate) fn step(
    ctx: &tarea_core::JobContext,
    name: &str,
    current: u64,
    total: Option<u64>,
) -> Result<(), tarea_core::HandlerError> {
    if ctx.cancel.is_cancelled() {
        return Err(tarea_core::HandlerError::Cancelled);
    }
    ctx.report(tarea_core::ProgressUpdate {
        step: Some(name.into()),
        current: Some(current),
        total,
        ..Default::default()
    });
    Ok(())
}

/// Adds the document kinds to a registry; the PDF kinds render in `pool`'s processes, with the
/// tenants' own templates read from `store`.
pub fn register(registry: &mut tarea_runtime::Registry, pool: Arc<RenderPool>, store: Arc<dyn tarea_core::Store>) {
    let http = Arc::new(HttpRequest::new(Arc::clone(&store)));
    registry
        .register("csv.export", CsvExport)
        .register("xlsx.build", XlsxBuild)
        .register("email.send", EmailSend::new(Arc::clone(&store)))
        .register_shared("http.request", Arc::clone(&http) as Arc<dyn tarea_core::Handler>)
        .register(IMPORT_KIND, ImportSheet::new(Arc::clone(&store), Arc::clone(&http)))
        .register(OCR_KIND, OcrExtract::new(Arc::clone(&store)))
        .register(tarea_core::WEBHOOK_KIND, WebhookDeliver::new(http))
        .register("pdf.render", PdfRender::new(Arc::clone(&pool), Arc::clone(&store)))
        .register("label.render", LabelRender::new(pool, store));
}
