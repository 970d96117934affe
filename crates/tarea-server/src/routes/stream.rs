//! `GET /v1/jobs/{id}/events`: Server-Sent Events. The stream subscribes before it reads the
//! job, so no change between the read and the subscription can be missed; it starts with the
//! current view and closes after a terminal state.
use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tarea_core::{EventKind, Job, JobId};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::job_id;
use crate::auth::Auth;
use crate::views::JobView;
use crate::{ApiError, AppState};

/// The view of `job`; state events list its artifacts (a finished job's files are what a
/// watching page waits for), progress events skip that read.
async fn view(state: &AppState, job: Job, name: &str) -> JobView {
    if name == "state"
        && let Ok(mut v) = super::job_views(state, vec![job.clone()]).await
        && let Some(v) = v.pop()
    {
        return v;
    }
    JobView::from(job)
}

/// Live state and progress of one job.
#[utoipa::path(get, path = "/v1/jobs/{id}/events", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, content_type = "text/event-stream",
        description = "`event: state` / `event: progress`, `data:` a job view; closes after a terminal state")))]
pub(crate) async fn events(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // A stream opened with a dashboard session ends when the session does (sign-out, expiry).
    let session = match crate::auth::bearer_of(&headers) {
        Some(_) => None,
        None => crate::ui::session::token(&headers).map(str::to_owned),
    };
    stream(state, auth.tenant, job_id(&id)?, None, session).await
}

/// How often a stream opened with a session checks that the session still lasts.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// How a stream shows each view: as the API does, or through a browser link (see
/// `public.rs`), which rewrites it.
pub(crate) type Shape = fn(&AppState, JobView, u64) -> serde_json::Value;

/// The stream of job `id` of `tenant`; with `shape`, each view is passed through it with
/// the link's expiry.
pub(crate) async fn stream(
    state: AppState,
    tenant: String,
    id: JobId,
    shape: Option<(Shape, u64)>,
    session: Option<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut rx = state.hub.subscribe();
    let job = state.store.job_get(Some(&tenant), id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    let (tx, out) = mpsc::channel(32);
    let event = move |state: &AppState, name: &str, view: JobView| -> Result<Event, Infallible> {
        let data = match shape {
            Some((f, expires)) => serde_json::to_string(&f(state, view, expires)),
            None => serde_json::to_string(&view),
        };
        Ok(Event::default().event(name).data(data.unwrap_or_default()))
    };
    tokio::spawn(async move {
        let terminal = job.state.is_terminal();
        let first = view(&state, job, "state").await;
        if tx.send(event(&state, "state", first)).await.is_err() || terminal {
            return;
        }
        let mut check = tokio::time::interval_at(tokio::time::Instant::now() + SESSION_CHECK, SESSION_CHECK);
        loop {
            let name = tokio::select! {
                _ = tx.closed() => return,
                _ = state.shutdown.cancelled() => return,
                _ = check.tick(), if session.is_some() => {
                    // Ended or signed out: the stream ends. (A store hiccup does not end it.)
                    match crate::ui::session::find(&state, session.as_deref().unwrap_or_default()).await {
                        Err(e) if e.code == tarea_core::ErrorCode::Unauthorized => return,
                        _ => continue,
                    }
                }
                e = rx.recv() => match e {
                    Ok(e) if e.id == id => if e.change == EventKind::Progress { "progress" } else { "state" },
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => "state",
                    Err(RecvError::Closed) => return,
                },
            };
            let Ok(Some(job)) = state.store.job_get(Some(&tenant), id).await else { return };
            let terminal = job.state.is_terminal();
            let v = view(&state, job, name).await;
            if tx.send(event(&state, name, v)).await.is_err() || terminal {
                return;
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(out)).keep_alive(KeepAlive::default()))
}
