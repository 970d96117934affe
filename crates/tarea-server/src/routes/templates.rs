//! A tenant's own Typst templates: upload (every upload a new version, checked by compiling it
//! first), read, list, delete, and re-render what older versions made.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use tarea_core::{ErrorCode, JobId, JobSpec, TemplateAsset, TemplateCheckError, TemplateUpload, TemplateVersion};
use tarea_runtime::now_ms;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::{Json, Query};
use crate::{ApiError, AppState, cache_scope};

/// Largest template upload (source, assets in base64 and sample): 16 MiB.
pub(crate) const MAX_UPLOAD_BYTES: usize = 16 << 20;

/// Most jobs one re-render enqueues; call it again for the rest (it never enqueues a
/// document twice).
const MAX_RERENDER: usize = 10_000;

/// Body of `PUT /v1/templates/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplatePut {
    /// The Typst source. It reads its data with `#let data = json("/data.json")`.
    source: String,
    /// Files the source reads by path (`image("logo.png")`, fonts, included `.typ` files).
    #[serde(default)]
    assets: Vec<AssetUpload>,
    /// Data to render the template with before it is stored; without it only the syntax is
    /// checked. A sample holding a `labels` list is rendered as labels (QR codes decoded).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    sample: Option<Box<RawValue>>,
}

/// One asset of an upload.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssetUpload {
    /// Relative path (`logo.png`, `fuentes/Marca-Bold.otf`).
    path: String,
    /// The file, base64.
    content_base64: String,
}

/// A stored template version.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TemplateView {
    name: String,
    /// 1, 2, … in upload order; jobs name it in `payload.version`.
    version: u32,
    /// RFC 3339.
    created_at: String,
    /// The Typst source (only when one version is asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    /// Its assets (with their content only when one version is asked for).
    assets: Vec<AssetView>,
}

/// An asset of a stored version.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssetView {
    path: String,
    bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_base64: Option<String>,
}

/// The answer to an upload.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TemplateStored {
    #[serde(flatten)]
    template: TemplateView,
    /// `sample` (the sample rendered) or `syntax` (no sample: only the syntax was checked).
    checked: &'static str,
    /// Pages of the sample's render.
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<u32>,
    /// What the compiler warned about.
    #[schema(value_type = Vec<Object>)]
    warnings: Value,
}

/// A tenant's template as listed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TemplateSummaryView {
    name: String,
    /// Its newest version (what jobs without a `version` render).
    latest: u32,
    /// Versions kept.
    versions: u32,
    /// RFC 3339.
    updated_at: String,
}

/// The tenant's templates and the built-in ones.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TemplateList {
    templates: Vec<TemplateSummaryView>,
    /// Built-in templates every tenant has (version 0); an upload of the same name takes its place.
    builtin: Vec<String>,
}

fn stored_assets(t: &TemplateVersion, with_content: bool) -> Result<Vec<AssetView>, ApiError> {
    let assets = tarea_core::decode_assets(&t.assets).map_err(ApiError::internal)?;
    Ok(assets
        .into_iter()
        .map(|a| AssetView {
            bytes: a.bytes.len(),
            content_base64: with_content.then(|| BASE64.encode(&a.bytes)),
            path: a.path,
        })
        .collect())
}

fn view(t: TemplateVersion, full: bool) -> Result<TemplateView, ApiError> {
    let assets = stored_assets(&t, full)?;
    Ok(TemplateView {
        name: t.name,
        version: t.version,
        created_at: tarea_core::format_ms(t.created_at),
        source: full.then_some(t.source),
        assets,
    })
}

/// Uploads a new version of a template. It is compiled first, in a renderer process: with
/// `sample` the sample is rendered, without it the syntax is checked. A template that does not
/// compile is refused with `template_error` and each problem's file, line and column in
/// `details.diagnostics`; nothing is stored.
#[utoipa::path(put, path = "/v1/templates/{name}", request_body = TemplatePut, tag = "templates",
    params(("name" = String, Path, description = "Template name (lowercase letters, digits, '.', '_', '-')")),
    responses((status = 201, body = TemplateStored),
              (status = 422, description = "template_error: it does not compile; details.diagnostics places each problem"),
              (status = 413, description = "payload_too_large (16 MiB)")))]
pub(crate) async fn put(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    Json(req): Json<TemplatePut>,
) -> Result<(StatusCode, axum::Json<TemplateStored>), ApiError> {
    super::path_name(&name)?;
    if req.source.trim().is_empty() {
        return Err(ApiError::field("source", "source is empty; send the template's Typst source"));
    }
    let checker = state.template_checker.clone().ok_or_else(|| {
        ApiError::new(ErrorCode::Unavailable, "this server cannot check templates (it starts no renderer processes)")
    })?;
    let mut assets = Vec::with_capacity(req.assets.len());
    for (i, a) in req.assets.into_iter().enumerate() {
        let bytes = BASE64.decode(a.content_base64.trim()).map_err(|e| {
            ApiError::field(
                &format!("assets[{i}].content_base64"),
                format!("asset {:?} is not valid base64: {e}", a.path),
            )
        })?;
        assets.push(TemplateAsset { path: a.path, bytes });
    }
    let upload = TemplateUpload {
        tenant: auth.tenant.clone(),
        name: name.clone(),
        source: req.source,
        assets,
        sample: req.sample,
    };
    let (source, stored_assets) = (upload.source.clone(), tarea_core::encode_assets(&upload.assets));
    let checked = checker.check(upload).await.map_err(|e| match e {
        TemplateCheckError::Refused { message, diagnostics } => ApiError::new(ErrorCode::TemplateError, message)
            .with_details(serde_json::json!({ "diagnostics": diagnostics })),
        TemplateCheckError::Invalid { field, message } => ApiError::field(&field, message),
        TemplateCheckError::Unavailable(m) => {
            ApiError::new(ErrorCode::Unavailable, format!("the template could not be checked now: {m}"))
        }
    })?;
    let stored = state.store.template_put(&auth.tenant, &name, &source, &stored_assets, now_ms()).await?;
    let template = view(stored, false)?;
    tracing::info!(tenant = %auth.tenant, template = %name, version = template.version, "template stored");
    Ok((
        StatusCode::CREATED,
        axum::Json(TemplateStored {
            template,
            checked: if checked.pages.is_some() { "sample" } else { "syntax" },
            pages: checked.pages,
            warnings: checked.warnings,
        }),
    ))
}

/// Which version to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionQuery {
    /// A version; the newest when absent.
    version: Option<u32>,
}

/// One version of a template (the newest by default), with its source and assets.
#[utoipa::path(get, path = "/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "Template name"), VersionQuery),
    responses((status = 200, body = TemplateView), (status = 404, description = "not_found")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<axum::Json<TemplateView>, ApiError> {
    let t = state.store.template_get(&auth.tenant, &name, q.version).await?.ok_or_else(|| not_found(&state, &name))?;
    Ok(axum::Json(view(t, true)?))
}

fn not_found(state: &AppState, name: &str) -> ApiError {
    let message = if state.template_versions.contains_key(name) {
        format!("this tenant has not uploaded a template {name:?}; jobs naming it render the built-in one")
    } else {
        format!("no template {name:?} in this tenant")
    };
    ApiError::new(ErrorCode::NotFound, message)
}

/// The tenant's templates, and the built-in ones.
#[utoipa::path(get, path = "/v1/templates", tag = "templates", responses((status = 200, body = TemplateList)))]
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<TemplateList>, ApiError> {
    let templates = state
        .store
        .template_list(&auth.tenant)
        .await?
        .into_iter()
        .map(|t| TemplateSummaryView {
            name: t.name,
            latest: t.latest,
            versions: t.versions,
            updated_at: tarea_core::format_ms(t.updated_at),
        })
        .collect();
    let mut builtin: Vec<String> = state.template_versions.keys().cloned().collect();
    builtin.sort_unstable();
    Ok(axum::Json(TemplateList { templates, builtin }))
}

/// Deletes every version of a template. Jobs that name it afterwards fail with
/// `unknown_template` (or render the built-in template of the same name); its version numbers
/// are never reused.
#[utoipa::path(delete, path = "/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "Template name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "not_found")))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state.store.template_delete(&auth.tenant, &name, now_ms()).await? {
        0 => Err(not_found(&state, &name)),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// What a re-render enqueued.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Rerendered {
    template: String,
    /// The version the new jobs render.
    version: u32,
    /// The jobs, one per document (an equal one already waiting or done is returned instead
    /// of a second).
    #[schema(value_type = Vec<String>)]
    jobs: Vec<JobId>,
    /// True when there were more than 10,000: call again with `?after=` this `after`.
    more: bool,
    /// With `more`: the last job looked at, where the next call goes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    after: Option<JobId>,
}

/// Where a re-render goes on.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct RerenderQuery {
    /// `after` of the previous answer (when it said `more`).
    after: Option<String>,
}

/// Re-renders, as one batch, every live artifact made from an older version of the template:
/// each job that made one is enqueued again with the same payload at the newest version. A
/// job with a `cache_key` keeps it (bound to the new version); one without gets
/// `rerender-<job id>`, so calling this twice never renders a document twice. At most 10,000
/// jobs per call: `more` and `after` say where the next call goes on (`?after=`).
#[utoipa::path(post, path = "/v1/templates/{name}/rerender", tag = "templates",
    params(("name" = String, Path, description = "Template name"), RerenderQuery, ("traceparent" = Option<String>, Header, description = "W3C trace context of the calling request: with job traces on, its trace gets a span for each job created")),
    responses((status = 202, body = Rerendered), (status = 404, description = "not_found")))]
pub(crate) async fn rerender(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    Query(q): Query<RerenderQuery>,
) -> Result<(StatusCode, axum::Json<Rerendered>), ApiError> {
    let version = state.store.template_latest(&auth.tenant, &name).await?.ok_or_else(|| not_found(&state, &name))?;
    let now = now_ms();
    let page = state.limits.max_batch.clamp(1, 1000) as u32;
    let mut after = match q.after {
        Some(a) => Some(a.parse::<JobId>().map_err(|_| ApiError::field("after", "after must be a job id"))?),
        None => None,
    };
    let (mut jobs, mut more, mut last) = (Vec::new(), false, None);
    loop {
        let stale = state.store.template_stale_jobs(&auth.tenant, &name, version, now, after, page).await?;
        let Some(end) = stale.last() else { break };
        after = Some(end.id);
        let full = stale.len() as u32 == page;
        let mut specs = Vec::with_capacity(stale.len());
        for job in stale {
            if jobs.len() + specs.len() == MAX_RERENDER {
                more = true;
                break;
            }
            last = Some(job.id);
            let mut spec = again(job, version)?;
            cache_scope::bind(&state, &auth.tenant, &mut spec, "").await?;
            specs.push(spec);
        }
        if !specs.is_empty() {
            let done = state.store.job_enqueue(&auth.tenant, specs, now).await?;
            super::jobs::trace_enqueue(&state, &headers, &done, now);
            jobs.extend(done.into_iter().map(|e| e.job.id));
        }
        if more || !full {
            break;
        }
    }
    tracing::info!(tenant = %auth.tenant, template = %name, version, jobs = jobs.len(), "template re-render enqueued");
    let after = if more { last } else { None };
    Ok((StatusCode::ACCEPTED, axum::Json(Rerendered { template: name, version, jobs, more, after })))
}

/// The job that made a document, as a new job at `version`.
fn again(job: tarea_core::Job, version: u32) -> Result<JobSpec, ApiError> {
    let mut payload: Value = serde_json::from_str(job.payload.get()).map_err(|e| ApiError::internal(e.to_string()))?;
    payload["version"] = version.into();
    let payload = serde_json::value::to_raw_value(&payload).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut spec = JobSpec::new(&job.kind, &job.queue, payload);
    spec.priority = job.priority;
    spec.max_attempts = Some(job.max_attempts);
    spec.timeout_ms = job.timeout_ms;
    spec.retry = Some(job.retry);
    spec.tags = job.tags;
    spec.builtin = job.builtin;
    spec.cache_key = Some(match &job.cache_key {
        Some(k) => cache_scope::unbound_key(k).to_owned(),
        None => format!("rerender-{}", job.id),
    });
    Ok(spec)
}
