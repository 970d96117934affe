//! `GET /v1/events`: the tenant's job changes as one live stream, for pages that show many jobs
//! at once (lists, queues, batches, the overview). A page reads what it shows again when told
//! something changed, so the stream carries what changed, not the jobs: changes are gathered
//! and sent at most once per [`GATHER`], however busy the tenant is.
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tarea_core::{ErrorCode, EventKind, JobEvent};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::Query;
use crate::{ApiError, AppState};

/// The shortest time between two messages of one stream.
const GATHER: Duration = Duration::from_secs(1);
/// Ids named in one message; past this only the count grows.
const IDS_MAX: usize = 100;
/// How often a stream checks that the session or key that opened it still lasts.
const SESSION_CHECK: Duration = Duration::from_secs(10);

/// Filters of `GET /v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct LiveQuery {
    /// Admin keys only: every tenant's changes.
    all_tenants: Option<bool>,
    /// Admin keys only: another tenant's changes (like the header `X-Tarea-Tenant`).
    #[allow(dead_code)]
    tenant: Option<String>,
}

/// What changed since the last message (`event: jobs`).
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct Changes {
    /// Changes to jobs (a state reached, progress), counted.
    changed: u64,
    /// The jobs changed, up to 100.
    ids: Vec<String>,
    /// The queues of the changed jobs.
    queues: Vec<String>,
    /// The states the jobs reached (progress alone adds none).
    states: Vec<String>,
}

impl Changes {
    fn add(&mut self, e: &JobEvent) {
        self.changed += 1;
        let id = e.id.to_string();
        if self.ids.len() < IDS_MAX && !self.ids.contains(&id) {
            self.ids.push(id);
        }
        if self.queues.len() < IDS_MAX && !self.queues.contains(&e.queue) {
            self.queues.push(e.queue.clone());
        }
        if let EventKind::State(s) = e.change
            && !self.states.iter().any(|x| x == s.as_str())
        {
            self.states.push(s.as_str().to_owned());
        }
    }
}

/// Every change to the tenant's jobs, gathered: `event: jobs` with a [`Changes`] at most once a
/// second while jobs change; `event: lagged` (data `{}`) when the server dropped changes to keep
/// up, so the page must read everything again. A keep-alive comment every 15 s.
#[utoipa::path(get, path = "/v1/events", tag = "jobs", params(LiveQuery),
    responses((status = 200, content_type = "text/event-stream", body = Changes,
        description = "`event: jobs` with what changed, at most once a second; `event: lagged`"),
        (status = 403, description = "all_tenants with a tenant key")))]
pub(crate) async fn events(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<LiveQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let all_tenants = q.all_tenants.unwrap_or(false);
    if all_tenants && !auth.admin {
        return Err(ApiError::new(ErrorCode::Forbidden, "only an admin key may follow every tenant's jobs"));
    }
    // A stream ends when what opened it does: a dashboard session (sign-out, expiry) or an API
    // key (deleted).
    let credential = match crate::auth::bearer_of(&headers) {
        Some(key) => Some(Credential::Key(crate::hash_key(key))),
        None => crate::ui::session::token(&headers).map(|t| Credential::Session(t.to_owned())),
    };
    let tenant = (!all_tenants).then_some(auth.tenant);
    let mut rx = state.hub.subscribe();
    let (tx, out) = mpsc::channel::<Result<Event, Infallible>>(8);
    tokio::spawn(async move {
        let mut pending = Changes::default();
        let mut lagged = false;
        // When the next message may go; a change before then waits for it.
        let mut next = tokio::time::Instant::now();
        let mut check = tokio::time::interval_at(tokio::time::Instant::now() + SESSION_CHECK, SESSION_CHECK);
        loop {
            let due = lagged || pending.changed > 0;
            tokio::select! {
                _ = tx.closed() => return,
                _ = state.shutdown.cancelled() => return,
                _ = check.tick(), if credential.is_some() => {
                    if let Some(c) = &credential && c.revoked(&state).await {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(next), if due => {
                    let event = if lagged {
                        pending = Changes::default();
                        Event::default().event("lagged").data("{}")
                    } else {
                        let data = serde_json::to_string(&std::mem::take(&mut pending)).unwrap_or_default();
                        Event::default().event("jobs").data(data)
                    };
                    lagged = false;
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                    next = tokio::time::Instant::now() + GATHER;
                }
                e = rx.recv() => match e {
                    Ok(e) if tenant.as_deref().is_none_or(|t| t == e.tenant) => pending.add(&e),
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => lagged = true,
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(out)).keep_alive(KeepAlive::default()))
}

/// What opened a stream.
enum Credential {
    Session(String),
    Key(tarea_core::KeyHash),
}

impl Credential {
    /// Whether it is gone for sure (a store that does not answer ends nothing).
    async fn revoked(&self, state: &AppState) -> bool {
        match self {
            Credential::Session(token) => {
                matches!(crate::ui::session::find(state, token).await, Err(e) if e.code == ErrorCode::Unauthorized)
            }
            Credential::Key(hash) => matches!(state.store.api_key_find(*hash).await, Ok(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use tarea_core::{JobId, JobState};

    use super::*;

    fn event(queue: &str, change: EventKind) -> JobEvent {
        JobEvent {
            id: JobId::new(),
            tenant: "acme".into(),
            queue: queue.into(),
            kind: "k".into(),
            builtin: false,
            attempt: 1,
            change,
        }
    }

    #[test]
    fn changes_count_every_event_but_name_at_most_a_hundred_jobs() {
        let mut c = Changes::default();
        for i in 0..150 {
            let change = if i % 2 == 0 { EventKind::State(JobState::Queued) } else { EventKind::Progress };
            c.add(&event(if i < 10 { "mail" } else { "pdf" }, change));
        }
        assert_eq!(c.changed, 150);
        assert_eq!(c.ids.len(), IDS_MAX);
        assert_eq!(c.queues, ["mail", "pdf"]);
        assert_eq!(c.states, ["queued"]);
    }
}
