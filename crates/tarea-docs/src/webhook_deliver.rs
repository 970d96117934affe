//! `webhook.deliver`: the delivery of one event to one subscription, made by the follow-up
//! service from the outbox (see `tarea_core::webhook`). It is a signed `POST` of the event
//! through the same client, allow-list and signature as `http.request`, with the headers
//! `Tarea-Event` and `Tarea-Webhook`. Any answer but 2xx is retried with backoff (a receiver
//! that is down or misconfigured for an hour still gets the event); the delivery jobs tagged
//! `webhook:{id}` are the subscription's delivery log.
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tarea_core::{Handler, HandlerError, JobContext, PayloadError};

use crate::http_request::{HttpPayload, HttpRequest};

/// Longest a receiver may take to answer.
const DELIVERY_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, Deserialize)]
struct Delivery {
    webhook: String,
    url: String,
    event: String,
    body: Value,
}

/// The delivery kind.
pub struct WebhookDeliver {
    http: Arc<HttpRequest>,
}

impl WebhookDeliver {
    /// Delivers through `http`'s clients and policies.
    pub fn new(http: Arc<HttpRequest>) -> Self {
        WebhookDeliver { http }
    }

    fn call(d: Delivery) -> HttpPayload {
        HttpPayload {
            url: d.url,
            method: "POST".into(),
            headers: HashMap::from([("Tarea-Event".to_owned(), d.event), ("Tarea-Webhook".to_owned(), d.webhook)]),
            json: Some(d.body),
            body: None,
            timeout_ms: Some(DELIVERY_TIMEOUT_MS),
            parent: None,
            batch: None,
        }
    }
}

#[async_trait]
impl Handler for WebhookDeliver {
    /// Checks a subscription's URL (the server calls this before storing one).
    async fn check(&self, tenant: &str, payload: &RawValue) -> Result<(), PayloadError> {
        let d: Delivery = serde_json::from_str(payload.get()).map_err(|e| PayloadError::new("", e.to_string()))?;
        let call = serde_json::value::to_raw_value(&Self::call(d)).map_err(|e| PayloadError::new("", e.to_string()))?;
        self.http.check(tenant, &call).await
    }

    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let d: Delivery = serde_json::from_str(ctx.payload.get())
            .map_err(|e| HandlerError::fatal("invalid_payload", format!("a webhook delivery: {e}")))?;
        self.http.perform(&ctx, Self::call(d), true).await
    }
}
