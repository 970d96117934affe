//! The filters of a job listing, shared by `GET /v1/jobs` and the bulk actions' `filter`.
use serde::Deserialize;
use tarea_core::{JobFilter, JobState, parse_rfc3339_ms, validate_name};
use utoipa::ToSchema;

use crate::ApiError;

/// Longest search text.
const SEARCH_MAX: usize = 200;

/// Which jobs.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterFields {
    /// Only this state.
    pub state: Option<String>,
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only jobs with this tag.
    pub tag: Option<String>,
    /// Only the items of this batch.
    pub batch: Option<String>,
    /// Only jobs created at or after this time (RFC 3339).
    pub created_after: Option<String>,
    /// Only jobs created before this time (RFC 3339).
    pub created_before: Option<String>,
    /// Only jobs whose payload, result or error holds these words, in this order (letter case
    /// and accents aside; the last word may be the start of a longer one).
    pub search: Option<String>,
}

impl FilterFields {
    /// The store's filter; `prefix` names the fields in errors (`filter.` in a bulk action).
    pub(crate) fn parse(self, prefix: &str, limit: u32) -> Result<JobFilter, ApiError> {
        let field = |name: &str| format!("{prefix}{name}");
        let state = self
            .state
            .map(|s| s.parse::<JobState>().map_err(|e| ApiError::field(&field("state"), e.to_string())))
            .transpose()?;
        for (name, v) in [("queue", &self.queue), ("kind", &self.kind)] {
            if let Some(v) = v {
                validate_name(v).map_err(|e| ApiError::field(&field(name), e.to_string()))?;
            }
        }
        let batch = self
            .batch
            .map(|b| {
                b.parse().map_err(|_| {
                    ApiError::field(&field("batch"), "batch must be a batch id, as POST /v1/batches answers it")
                })
            })
            .transpose()?;
        let time = |name: &str, v: Option<String>| {
            v.map(|v| {
                parse_rfc3339_ms(&v).ok_or_else(|| {
                    ApiError::field(&field(name), format!("{v:?} is not an RFC 3339 time like 2026-11-28T09:30:00Z"))
                })
            })
            .transpose()
        };
        let created_after = time("created_after", self.created_after)?;
        let created_before = time("created_before", self.created_before)?;
        if let Some(text) = &self.search {
            if text.chars().count() > SEARCH_MAX {
                return Err(ApiError::field(&field("search"), format!("search for at most {SEARCH_MAX} characters")));
            }
            if !text.chars().any(char::is_alphanumeric) {
                return Err(ApiError::field(&field("search"), "search for at least one letter or digit"));
            }
        }
        Ok(JobFilter {
            state,
            queue: self.queue,
            kind: self.kind,
            tag: self.tag,
            batch,
            created_after,
            created_before,
            search: self.search,
            all_tenants: false,
            limit,
            cursor: None,
        })
    }
}
