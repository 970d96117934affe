//! `POST /v1/jobs/actions`: retry, cancel or delete many jobs at once, named by id or by a
//! filter, with a dry run that says how many the action would touch (the dashboard shows it and
//! asks before acting). Each job goes through the same store call as its one-job route, so
//! counts, events, webhooks and the cancellation of running jobs behave alike.
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tarea_core::{Job, JobId, JobState, StoreError};
use tarea_runtime::now_ms;
use utoipa::ToSchema;

use super::job_filter::FilterFields;
use crate::auth::Auth;
use crate::extract::Json;
use crate::ui::audit::{AFFECTED_HEADER, DRY_RUN_HEADER, WHAT_HEADER};
use crate::{ApiError, AppState};

/// Most jobs one request acts on; `more` says when a filter matched more.
const MAX_MATCHED: usize = 100_000;
/// Most ids one request names.
const MAX_IDS: usize = 1_000;
/// Store calls in flight at once (the SQLite writer commits them in groups).
const IN_FLIGHT: usize = 32;

/// What to do.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    /// Scheduled, queued, running and failed jobs end `cancelled`.
    Cancel,
    /// Dead, cancelled and failed jobs go back to their queue with attempts reset.
    Retry,
    /// Succeeded, dead and cancelled jobs are deleted (their files stay until they expire).
    Delete,
}

impl Action {
    fn applies_to(self, state: JobState) -> bool {
        use JobState::*;
        match self {
            Action::Cancel => matches!(state, Scheduled | Queued | Running | Failed),
            Action::Retry => matches!(state, Dead | Cancelled | Failed),
            Action::Delete => matches!(state, Succeeded | Dead | Cancelled),
        }
    }
}

/// A bulk action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionRequest {
    /// `cancel`, `retry` or `delete`.
    action: Action,
    /// These jobs (at most 1,000)…
    ids: Option<Vec<String>>,
    /// …or every job that matches (at most 100,000 a request; `more` says when there are more).
    filter: Option<FilterFields>,
    /// Only count: what would be matched and touched.
    #[serde(default)]
    dry_run: bool,
}

/// What a bulk action did (or, in a dry run, would do).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActionResult {
    action: Action,
    dry_run: bool,
    /// Jobs named or matched.
    matched: u64,
    /// Of those, the ones in a state the action applies to.
    applicable: u64,
    /// Jobs changed (0 in a dry run).
    changed: u64,
    /// Applicable jobs that moved on before the action reached them (a job that finished
    /// meanwhile cannot be cancelled).
    skipped: u64,
    /// The filter matched more than one request acts on: send it again for the rest.
    more: bool,
}

/// The jobs a request names, and whether a filter matched more than it may act on.
async fn matched(state: &AppState, tenant: &str, req: &mut ActionRequest) -> Result<(Vec<Job>, bool), ApiError> {
    match (req.ids.take(), req.filter.take()) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(ApiError::field("ids", format!("name 1 to {MAX_IDS} jobs; got {}", ids.len())));
            }
            let ids: Vec<JobId> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| id.parse().map_err(|_| ApiError::field(&format!("ids[{i}]"), "not a job id")))
                .collect::<Result<_, _>>()?;
            let mut jobs = Vec::with_capacity(ids.len());
            for id in ids {
                // Another tenant's ids, like unknown ones, match nothing.
                if let Some(job) = state.store.job_get(Some(tenant), id).await? {
                    jobs.push(job);
                }
            }
            Ok((jobs, false))
        }
        (None, Some(filter)) => {
            let mut filter = filter.parse("filter.", 1000)?;
            let mut jobs = Vec::new();
            loop {
                let page = state.store.job_list(tenant, filter.clone()).await?;
                jobs.extend(page.jobs);
                match page.next_cursor {
                    Some(c) if jobs.len() < MAX_MATCHED => filter.cursor = Some(c),
                    Some(_) => return Ok((jobs, true)),
                    None => return Ok((jobs, false)),
                }
            }
        }
        _ => Err(ApiError::field("ids", "send either `ids` or `filter`")),
    }
}

/// Retries, cancels or deletes many jobs.
#[utoipa::path(post, path = "/v1/jobs/actions", request_body = ActionRequest, tag = "jobs",
    responses((status = 200, body = ActionResult)))]
pub(crate) async fn act(
    State(state): State<AppState>,
    auth: Auth,
    Json(mut req): Json<ActionRequest>,
) -> Result<Response, ApiError> {
    let (jobs, more) = matched(&state, &auth.tenant, &mut req).await?;
    let action = req.action;
    let todo: Vec<JobId> = jobs.iter().filter(|j| action.applies_to(j.state)).map(|j| j.id).collect();
    let mut result = ActionResult {
        action,
        dry_run: req.dry_run,
        matched: jobs.len() as u64,
        applicable: todo.len() as u64,
        changed: 0,
        skipped: 0,
        more,
    };
    if !req.dry_run {
        result.changed = match action {
            Action::Delete => {
                let mut n = 0;
                for chunk in todo.chunks(500) {
                    n += state.store.job_delete_finished(&auth.tenant, chunk).await?;
                }
                n
            }
            Action::Cancel | Action::Retry => {
                let (tenant, now) = (auth.tenant.as_str(), now_ms());
                let outcomes: Vec<Result<(), StoreError>> = futures_util::stream::iter(todo.iter().copied())
                    .map(|id| {
                        let store = &state.store;
                        async move {
                            match action {
                                Action::Cancel => store.job_cancel(tenant, id, now).await.map(drop),
                                _ => store.job_retry(tenant, id, now).await.map(drop),
                            }
                        }
                    })
                    .buffer_unordered(IN_FLIGHT)
                    .collect()
                    .await;
                let mut changed = 0;
                for outcome in outcomes {
                    match outcome {
                        Ok(()) => changed += 1,
                        // Moved on meanwhile (finished, or retried by someone else): skipped.
                        Err(StoreError::Illegal(_) | StoreError::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                changed
            }
        };
        result.skipped = result.applicable - result.changed;
        tracing::info!(tenant = %auth.tenant, ?action, matched = result.matched, changed = result.changed, "bulk action");
    }
    let (changed, dry_run) = (result.changed, result.dry_run);
    let mut res = axum::Json(result).into_response();
    let header = if dry_run { DRY_RUN_HEADER } else { AFFECTED_HEADER };
    res.headers_mut().insert(header, HeaderValue::from(changed));
    let what = match action {
        Action::Cancel => "cancel",
        Action::Retry => "retry",
        Action::Delete => "delete",
    };
    res.headers_mut().insert(WHAT_HEADER, HeaderValue::from_static(what));
    Ok(res)
}
