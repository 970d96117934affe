//! Request bodies of the jobs API and their validation into store specs. Every refusal names
//! the field at fault; nothing is written unless every job of a request is valid.
use serde::Deserialize;
use serde_json::value::RawValue;
use tarea_core::{JobSpec, RetryPolicy, limits, parse_rfc3339_ms, validate_name};
use utoipa::ToSchema;

use crate::{ApiError, AppState};

/// A job to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// What handler runs it: `[a-z0-9._-]{1,64}`.
    #[schema(example = "pdf.render")]
    pub kind: String,
    /// Queue name (created on first use). Default `default`.
    pub queue: Option<String>,
    /// Input for the handler, any JSON. Default `{}`.
    #[schema(value_type = Object)]
    pub payload: Option<Box<RawValue>>,
    /// -100..100, higher first. Default 0.
    pub priority: Option<i32>,
    /// Earliest start, RFC 3339. Not with `delay_ms`.
    pub run_at: Option<String>,
    /// Earliest start, in milliseconds from now. Not with `run_at`.
    pub delay_ms: Option<u64>,
    /// Runs allowed before the job is dead (1..1000). Default: the queue's, else 5.
    pub max_attempts: Option<u32>,
    /// Time limit of each attempt of a built-in handler (ms).
    pub timeout_ms: Option<u64>,
    /// Backoff between attempts. Default: the queue's, else 1 s doubling up to 10 min.
    #[schema(value_type = Option<Object>)]
    pub retry: Option<RetryPolicy>,
    /// The same key again (same tenant) returns the existing job.
    pub idempotency_key: Option<String>,
    /// Reuse key for finished results (documents).
    pub cache_key: Option<String>,
    /// Labels for filtering.
    pub tags: Option<Vec<String>>,
    /// A job to make when this one succeeds (a chain): the same fields, without `run_at`,
    /// `delay_ms`, `idempotency_key` and `cache_key`. Its payload (an object) gets `parent`:
    /// `{"id", "kind", "result", "artifacts": [ids]}`.
    #[schema(no_recursion, value_type = Option<Object>)]
    pub then: Option<Box<EnqueueRequest>>,
}

/// Many jobs, created all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The jobs.
    pub jobs: Vec<EnqueueRequest>,
}

fn at(prefix: &str, field: &str) -> String {
    if prefix.is_empty() { field.to_owned() } else { format!("{prefix}.{field}") }
}

fn check_key(prefix: &str, field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > limits::KEY_LEN_MAX || value.chars().any(char::is_control) {
        return Err(ApiError::field(
            &at(prefix, field),
            format!("{field} must be 1 to {} characters without control characters", limits::KEY_LEN_MAX),
        ));
    }
    Ok(())
}

fn check_range<T: PartialOrd + std::fmt::Display>(
    prefix: &str,
    field: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, ApiError> {
    if v < lo || v > hi {
        return Err(ApiError::field(&at(prefix, field), format!("{field} must be between {lo} and {hi}; got {v}")));
    }
    Ok(v)
}

impl EnqueueRequest {
    /// Validates the request into a spec; `prefix` locates it in a batch (`jobs[3]`).
    pub fn into_spec(self, state: &AppState, prefix: &str, now: i64) -> Result<JobSpec, ApiError> {
        validate_name(&self.kind).map_err(|e| ApiError::field(&at(prefix, "kind"), format!("kind: {e}")))?;
        let queue = self.queue.unwrap_or_else(|| "default".into());
        validate_name(&queue).map_err(|e| ApiError::field(&at(prefix, "queue"), format!("queue: {e}")))?;
        let payload = self.payload.unwrap_or_else(|| RawValue::from_string("{}".into()).expect("valid JSON"));
        let mut spec = JobSpec::new(&self.kind, &queue, payload);
        spec.builtin = state.builtin_kinds.contains(&self.kind);
        if let Some(p) = self.priority {
            spec.priority = check_range(prefix, "priority", p, limits::PRIORITY_MIN, limits::PRIORITY_MAX)?;
        }
        spec.run_at = match (self.run_at, self.delay_ms) {
            (Some(_), Some(_)) => {
                return Err(ApiError::field(&at(prefix, "run_at"), "give either run_at or delay_ms, not both"));
            }
            (Some(t), None) => Some(parse_rfc3339_ms(&t).ok_or_else(|| {
                ApiError::field(
                    &at(prefix, "run_at"),
                    format!("run_at must be an RFC 3339 timestamp such as 2026-12-01T02:00:00-03:00; got {t:?}"),
                )
            })?),
            (None, Some(d)) => Some(now + check_range(prefix, "delay_ms", d, 0, limits::DELAY_MS_MAX)? as i64),
            (None, None) => None,
        };
        if let Some(a) = self.max_attempts {
            spec.max_attempts = Some(check_range(prefix, "max_attempts", a, 1, limits::MAX_ATTEMPTS_MAX)?);
        }
        if let Some(t) = self.timeout_ms {
            spec.timeout_ms = Some(check_range(prefix, "timeout_ms", t, 1, limits::TIMEOUT_MS_MAX)?);
        }
        if let Some(r) = self.retry {
            check_range(prefix, "retry.base_ms", r.base_ms, 1, limits::TIMEOUT_MS_MAX)?;
            check_range(prefix, "retry.max_ms", r.max_ms, r.base_ms, limits::DELAY_MS_MAX)?;
            spec.retry = Some(r);
        }
        if let Some(k) = &self.idempotency_key {
            check_key(prefix, "idempotency_key", k)?;
        }
        if let Some(k) = &self.cache_key {
            check_key(prefix, "cache_key", k)?;
        }
        spec.idempotency_key = self.idempotency_key;
        spec.cache_key = self.cache_key;
        let tags = self.tags.unwrap_or_default();
        if tags.len() > limits::TAGS_MAX {
            return Err(ApiError::field(&at(prefix, "tags"), format!("at most {} tags", limits::TAGS_MAX)));
        }
        for t in &tags {
            check_key(prefix, "tags", t)?;
        }
        spec.tags = tags;
        if let Some(then) = self.then {
            spec.then = Some(Box::new(then.into_follow_up(state, &at(prefix, "then"), now, 1)?));
        }
        Ok(spec)
    }

    /// Refuses `run_at`, `delay_ms`, `idempotency_key` and `cache_key` in a job that tarea
    /// makes later (a chain's next job, a batch's callback, a schedule's ticks): its start is
    /// not a time, and a key would answer it with another job. `why` ends the message.
    pub fn refuse_start_and_keys(&self, prefix: &str, why: &str) -> Result<(), ApiError> {
        let refused = [
            (self.run_at.is_some(), "run_at"),
            (self.delay_ms.is_some(), "delay_ms"),
            (self.idempotency_key.is_some(), "idempotency_key"),
            (self.cache_key.is_some(), "cache_key"),
        ];
        match refused.into_iter().find(|(given, _)| *given) {
            Some((_, field)) => {
                Err(ApiError::field(&at(prefix, field), format!("{field} cannot be given here: {why}")))
            }
            None => Ok(()),
        }
    }

    /// Validates a job made later by another (a chain's `then`, a batch's `on_complete`): its
    /// start is not a time, and keys would answer it with another job.
    pub fn into_follow_up(self, state: &AppState, prefix: &str, now: i64, depth: usize) -> Result<JobSpec, ApiError> {
        if depth > limits::CHAIN_DEPTH_MAX {
            return Err(ApiError::field(prefix, format!("a chain holds at most {} jobs", limits::CHAIN_DEPTH_MAX)));
        }
        self.refuse_start_and_keys(prefix, "this job is made when the one before it ends")?;
        if let Some(p) = &self.payload
            && !p.get().trim_start().starts_with('{')
        {
            return Err(ApiError::field(
                &at(prefix, "payload"),
                "this payload must be a JSON object: the job that makes it adds a key to it",
            ));
        }
        let mut me = self;
        let then = me.then.take();
        let mut spec = me.into_spec(state, prefix, now)?;
        if let Some(then) = then {
            spec.then = Some(Box::new(then.into_follow_up(state, &at(prefix, "then"), now, depth + 1)?));
        }
        Ok(spec)
    }
}
