//! Routes, one module per area of the API.
pub(crate) mod artifacts;
pub(crate) mod batches;
pub(crate) mod job_actions;
mod job_filter;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod live;
pub(crate) mod ops;
pub(crate) mod public;
pub(crate) mod queues;
pub(crate) mod schedules;
pub(crate) mod settings;
pub(crate) mod stats;
pub(crate) mod stream;
pub(crate) mod templates;
pub(crate) mod tenants;
pub(crate) mod uploads;
pub(crate) mod webhooks;
pub(crate) mod worker;
pub(crate) mod workers;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use tarea_core::{Job, JobId};

use crate::views::{ArtifactView, JobView};
use crate::{ApiError, AppState};

/// Views of `jobs` with the artifacts each made (one store read for all of them).
pub(crate) async fn job_views(state: &AppState, jobs: Vec<Job>) -> Result<Vec<JobView>, ApiError> {
    // Each job's own tenant: an admin's page may hold many tenants' jobs.
    let mut by_tenant: std::collections::BTreeMap<&str, Vec<JobId>> = Default::default();
    for j in &jobs {
        by_tenant.entry(j.tenant.as_str()).or_default().push(j.id);
    }
    let mut artifacts: std::collections::HashMap<JobId, Vec<ArtifactView>> = Default::default();
    for (tenant, ids) in by_tenant {
        for a in state.store.artifact_list_for_jobs(tenant, &ids).await? {
            if let Some(job) = a.job_id {
                artifacts.entry(job).or_default().push(ArtifactView::from(a));
            }
        }
    }
    Ok(jobs
        .into_iter()
        .map(|j| {
            let id = j.id;
            let mut view = JobView::from(j);
            view.artifacts = artifacts.remove(&id).unwrap_or_default();
            view
        })
        .collect())
}

/// Only what an operator needs of a worker node (`--role worker`).
pub(crate) fn ops_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/workers", get(workers::list))
        .route("/v1/stats", get(stats::get))
        .route("/v1/jobs", post(jobs::enqueue).get(jobs::list))
        .route("/v1/jobs/batch", post(jobs::enqueue_batch))
        .route("/v1/jobs/actions", post(job_actions::act))
        .route("/v1/jobs/{id}", get(jobs::get))
        .route("/v1/jobs/{id}/attempts", get(jobs::attempts))
        .route("/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/v1/jobs/{id}/retry", post(jobs::retry))
        .route("/v1/jobs/{id}/events", get(stream::events))
        .route("/v1/jobs/{id}/link", post(public::link))
        .route("/v1/public/jobs/{id}", get(public::job))
        .route("/v1/public/jobs/{id}/events", get(public::events))
        .route("/v1/jobs/{id}/heartbeat", post(worker::heartbeat))
        .route("/v1/jobs/{id}/progress", post(worker::progress))
        .route("/v1/jobs/{id}/complete", post(worker::complete))
        .route("/v1/jobs/{id}/fail", post(worker::fail))
        .route("/v1/jobs/{id}/artifacts", post(artifacts::upload))
        // Uploads keep their own limit (the tenant's, counted while streaming), not the JSON one.
        .route("/v1/uploads", post(uploads::create).layer(DefaultBodyLimit::disable()))
        .route("/v1/artifacts", get(artifacts::list))
        .route("/v1/artifacts/retention", get(artifacts::retention_get).put(artifacts::retention_put))
        .route("/v1/artifacts/{id}", get(artifacts::get))
        .route("/v1/artifacts/{id}/content", get(artifacts::content))
        .route("/v1/artifacts/{id}/link", post(artifacts::link))
        .route("/v1/worker/claim", post(worker::claim))
        .route("/v1/worker/complete", post(worker::complete_many))
        .route("/v1/templates", get(templates::list))
        .route(
            "/v1/templates/{name}",
            put(templates::put)
                .layer(DefaultBodyLimit::max(templates::MAX_UPLOAD_BYTES))
                .get(templates::get)
                .delete(templates::delete),
        )
        .route("/v1/templates/{name}/rerender", post(templates::rerender))
        .route(
            "/v1/batches",
            post(batches::create).layer(DefaultBodyLimit::max(batches::MAX_BODY_BYTES)).get(batches::list),
        )
        .route("/v1/batches/{id}", get(batches::get))
        .route("/v1/batches/{id}/cancel", post(batches::cancel))
        .route("/v1/batches/{id}/retry", post(batches::retry))
        .route("/v1/schedules", get(schedules::list))
        .route("/v1/schedules/{name}", put(schedules::put).get(schedules::get).delete(schedules::delete))
        .route("/v1/schedules/{name}/pause", post(schedules::pause))
        .route("/v1/schedules/{name}/resume", post(schedules::resume))
        .route("/v1/schedules/{name}/run", post(schedules::run))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/webhooks/{id}", get(webhooks::get).delete(webhooks::delete))
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/v1/settings/{name}", put(settings::put).get(settings::get).delete(settings::delete))
        .route("/v1/queues", get(queues::list))
        .route("/v1/queues/{name}", put(queues::update))
        .route("/v1/queues/{name}/pause", post(queues::pause))
        .route("/v1/queues/{name}/resume", post(queues::resume))
        .route("/v1/keys", post(keys::create).get(keys::list))
        .route("/v1/keys/{id}", delete(keys::delete))
        .route("/v1/events", get(live::events))
        .route("/v1/tenants", get(tenants::list))
        .route("/v1/audit", get(crate::ui::audit::list))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
}

/// A name from the path (a template's, a schedule's): `400` naming `name` if it is not one.
pub(crate) fn path_name(name: &str) -> Result<(), ApiError> {
    tarea_core::validate_name(name).map_err(|e| ApiError::field("name", e.to_string()))
}

/// The page size and cursor of a listing: `limit` 1..1000 (default 50), `cursor` a
/// `next_cursor` of an earlier page.
pub(crate) fn page_of<C: std::str::FromStr>(
    limit: Option<u32>,
    cursor: Option<String>,
) -> Result<(u32, Option<C>), ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "limit must be between 1 and 1000"));
    }
    let cursor = cursor
        .map(|c| {
            c.parse().map_err(|_| ApiError::field("cursor", "cursor must be a next_cursor value from an earlier page"))
        })
        .transpose()?;
    Ok((limit, cursor))
}

/// One page of a tenant's jobs, as the listings answer it.
pub(crate) async fn job_page(
    state: &AppState,
    tenant: &str,
    filter: tarea_core::JobFilter,
) -> Result<crate::views::JobList, ApiError> {
    let page = state.store.job_list(tenant, filter).await?;
    Ok(crate::views::JobList {
        jobs: job_views(state, page.jobs).await?,
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    })
}

/// A job id from the path; a malformed id is answered like an unknown one.
pub(crate) fn job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("job"))
}
