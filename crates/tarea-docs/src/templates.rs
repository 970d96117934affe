//! Which template a job renders, and the check an upload passes before it is stored.
//!
//! A tenant's templates shadow the built-in ones of the same name: `lab-report` version 0 is
//! the built-in report, and a tenant that uploads its own `lab-report` gets versions 1, 2, …,
//! the newest of which is what jobs without a `version` render.
use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use tarea_core::{
    HandlerError, Store, TemplateCheckError, TemplateChecked, TemplateChecker, TemplateUpload, TemplateVersion,
};
use tarea_render::builtin::{self, BUILTIN_VERSION};
use tarea_render::template::{MAX_ASSETS, check_asset_path};
use tarea_render::{Asset, RenderError, Template};
use tokio_util::sync::CancellationToken;

use crate::render_pool::{RenderFailure, RenderPool};

/// The version a template is checked under before the store numbers it (never stored).
const CHECK_VERSION: u32 = u32::MAX;

/// A template ready to render, and the page size its labels must have (built-in label
/// templates; a tenant's label template is held to the size of its first page).
pub(crate) struct Resolved {
    pub template: Template,
    pub label_size_mm: Option<(f64, f64)>,
}

/// The template `name` at `version` for `tenant`: version 0 is the built-in one; no version is
/// the tenant's newest, or else the built-in one.
pub(crate) async fn resolve(
    store: &dyn Store,
    tenant: &str,
    name: &str,
    version: Option<u32>,
) -> Result<Resolved, HandlerError> {
    let unavailable = |e: tarea_core::StoreError| HandlerError::retryable("store_unavailable", e.to_string());
    if version != Some(BUILTIN_VERSION)
        && let Some(stored) = store.template_get(tenant, name, version).await.map_err(unavailable)?
    {
        return Ok(Resolved { template: from_stored(stored)?, label_size_mm: None });
    }
    let b = builtin::builtin(name);
    match (b, version) {
        (Some(b), None | Some(BUILTIN_VERSION)) => {
            Ok(Resolved { template: b.template(), label_size_mm: b.label_size_mm })
        }
        (_, Some(v)) if v != BUILTIN_VERSION => Err(HandlerError::fatal(
            "unknown_template",
            format!(
                "template {name:?} has no version {v} (deleted, or never uploaded); GET /v1/templates/{name} lists it"
            ),
        )),
        _ => {
            let names: Vec<&str> = builtin::BUILTINS.iter().map(|b| b.name).collect();
            Err(HandlerError::fatal(
                "unknown_template",
                format!(
                    "there is no template {name:?}: upload it with PUT /v1/templates/{name}, or use a built-in one ({})",
                    names.join(", ")
                ),
            ))
        }
    }
}

fn from_stored(t: TemplateVersion) -> Result<Template, HandlerError> {
    let assets = tarea_core::decode_assets(&t.assets)
        .map_err(|e| HandlerError::fatal("template_error", format!("template {}: {e}", t.name)))?
        .into_iter()
        .map(|a| Asset { path: a.path, bytes: a.bytes })
        .collect();
    Ok(Template { tenant: Some(t.tenant), name: t.name, version: t.version, source: t.source, assets })
}

/// Checks uploads in the renderer pool: the sample renders (labels are decoded and checked
/// too), or without a sample the syntax parses.
pub struct TemplateCheck {
    pool: Arc<RenderPool>,
}

impl TemplateCheck {
    /// Checks in `pool`'s renderers.
    pub fn new(pool: Arc<RenderPool>) -> TemplateCheck {
        TemplateCheck { pool }
    }
}

fn refused(message: impl Into<String>) -> TemplateCheckError {
    TemplateCheckError::Refused { message: message.into(), diagnostics: serde_json::json!([]) }
}

#[async_trait]
impl TemplateChecker for TemplateCheck {
    async fn check(&self, upload: TemplateUpload) -> Result<TemplateChecked, TemplateCheckError> {
        let invalid = |field: String, message: String| TemplateCheckError::Invalid { field, message };
        if upload.assets.len() > MAX_ASSETS {
            let message = format!("{} assets; a template may carry at most {MAX_ASSETS}", upload.assets.len());
            return Err(invalid("assets".into(), message));
        }
        let mut seen = HashSet::new();
        for (i, a) in upload.assets.iter().enumerate() {
            check_asset_path(&a.path).map_err(|m| invalid(format!("assets[{i}].path"), m))?;
            if !seen.insert(a.path.as_str()) {
                return Err(invalid(format!("assets[{i}].path"), format!("asset {:?} is given twice", a.path)));
            }
        }
        let template = Template {
            tenant: Some(upload.tenant),
            name: upload.name,
            version: CHECK_VERSION,
            source: upload.source,
            assets: upload.assets.into_iter().map(|a| Asset { path: a.path, bytes: a.bytes }).collect(),
        };
        let sample = upload.sample.map(|s| s.get().as_bytes().to_vec());
        let report = self.pool.check(&template, sample, &CancellationToken::new()).await.map_err(|e| match e {
            RenderFailure::Render(RenderError::Compile(diagnostics)) => TemplateCheckError::Refused {
                message: format!(
                    "the template does not compile: {}",
                    diagnostics.first().map_or_else(String::new, ToString::to_string)
                ),
                diagnostics: serde_json::to_value(&diagnostics).unwrap_or_default(),
            },
            RenderFailure::Render(e) => refused(e.to_string()),
            RenderFailure::Killed(m) => refused(format!("checking the template stopped its renderer: {m}")),
            RenderFailure::Unavailable(m) => TemplateCheckError::Unavailable(m),
            RenderFailure::Cancelled => TemplateCheckError::Unavailable("the check was cancelled".into()),
        })?;
        Ok(TemplateChecked {
            pages: report.pages.map(|p| p as u32),
            warnings: serde_json::to_value(&report.warnings).unwrap_or_default(),
        })
    }
}
