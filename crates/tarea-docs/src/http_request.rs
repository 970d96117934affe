//! `http.request`: calls the app's endpoint (how the app runs its own code as a job, e.g. "set
//! protocol 123 to received").
//!
//! Payload: `{"url", "method"? = "POST", "headers"?: {name: value}, "json"? | "body"?,
//! "timeout_ms"? = 30000}`. Result: `{"status", "content_type", "body"}` (the response body as
//! JSON when it is JSON, else text; at most 1 MiB is kept).
//!
//! Outcomes: 2xx succeeds; 408, 425, 429, 5xx, timeouts and lost connections are retried with
//! the job's backoff; any other status fails the job with the status and the start of the
//! body; a redirect fails it too (following it would leave the allow-list).
//!
//! Every request is signed (see [`sign`]) with the tenant's secret, so the app can tell it
//! came from tarea and was not replayed; destinations are checked by [`crate::http_policy`].
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::Sha256;
use tarea_core::{Handler, HandlerError, JobContext, PayloadError, Store};
use url::Url;

use crate::http_policy::{HTTP_SETTING, HttpSettings, Policy, PolicyResolver, check_addr};

/// Longest a request may take, at most.
pub const TIMEOUT_MS_MAX: u64 = 300_000;
/// Response bytes kept in the result.
const BODY_KEPT: usize = 1 << 20;
/// Request body bytes, at most.
const BODY_MAX: usize = 8 << 20;
/// Headers tarea sets itself; a payload may not set them.
const RESERVED: [&str; 7] = [
    "host",
    "content-length",
    "tarea-signature",
    "tarea-timestamp",
    "tarea-job-id",
    "tarea-attempt",
    "idempotency-key",
];

#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpPayload {
    pub(crate) url: String,
    #[serde(default = "post")]
    pub(crate) method: String,
    #[serde(default)]
    pub(crate) headers: HashMap<String, String>,
    pub(crate) json: Option<Value>,
    pub(crate) body: Option<String>,
    pub(crate) timeout_ms: Option<u64>,
    /// Added by a chain: the job before this one; sent as `parent` in a JSON object body (the
    /// app learns, say, the artifact id of the PDF it asked for).
    pub(crate) parent: Option<Value>,
    /// Added to a batch's `on_complete` job: how the batch ended; sent as `batch` in a JSON
    /// object body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch: Option<Value>,
}

fn post() -> String {
    "POST".into()
}

/// The signature headers of a request with `body`, sent at `timestamp` (Unix seconds):
/// `Tarea-Timestamp: <timestamp>` and `Tarea-Signature: v1=<hex HMAC-SHA256 of
/// "<timestamp>.<body>" with the tenant's secret>`. The app recomputes it and refuses a
/// request whose signature differs or whose timestamp is more than a few minutes old.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn payload_of(raw: &RawValue) -> Result<HttpPayload, PayloadError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        PayloadError::new(
            "",
            format!("http.request wants {{\"url\", \"method\"?, \"headers\"?, \"json\"? or \"body\"?}}: {e}"),
        )
    })
}

/// Checks the payload and the URL against the tenant's allow-list; answers the URL and the
/// method.
fn check_payload(p: &HttpPayload, policy: &Policy) -> Result<(Url, reqwest::Method), PayloadError> {
    let url = Url::parse(&p.url).map_err(|e| PayloadError::new("url", format!("{:?} is not a URL ({e})", p.url)))?;
    let named = policy.check_url(&url).map_err(|r| PayloadError::new("url", r.0))?;
    if let Some(host) = url.host() {
        let ip = match host {
            url::Host::Ipv4(v4) => Some(std::net::IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(std::net::IpAddr::V6(v6)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = ip {
            check_addr(&ip.to_string(), ip, named).map_err(|r| PayloadError::new("url", r.0))?;
        }
    }
    let method = p.method.to_ascii_uppercase();
    let method = match method.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => reqwest::Method::from_bytes(method.as_bytes()).expect("valid"),
        _ => return Err(PayloadError::new("method", "method must be GET, POST, PUT, PATCH or DELETE")),
    };
    for name in p.headers.keys() {
        let lower = name.to_ascii_lowercase();
        if RESERVED.contains(&lower.as_str()) {
            return Err(PayloadError::new(format!("headers.{name}"), format!("{name} is set by tarea")));
        }
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(PayloadError::new(format!("headers.{name}"), "not a valid header name"));
        }
    }
    if p.json.is_some() && p.body.is_some() {
        return Err(PayloadError::new("body", "give json or body, not both"));
    }
    if p.body.as_ref().is_some_and(|b| b.len() > BODY_MAX) {
        return Err(PayloadError::new("body", format!("body is over {} MiB", BODY_MAX >> 20)));
    }
    if let Some(t) = p.timeout_ms
        && !(1..=TIMEOUT_MS_MAX).contains(&t)
    {
        return Err(PayloadError::new("timeout_ms", format!("timeout_ms must be 1 to {TIMEOUT_MS_MAX}")));
    }
    Ok((url, method))
}

/// The HTTP kind.
pub struct HttpRequest {
    store: Arc<dyn Store>,
    /// A client per tenant setting: its resolver enforces that setting's policy.
    clients: Mutex<HashMap<String, reqwest::Client>>,
}

impl HttpRequest {
    /// Calls what each tenant's `http` setting in `store` allows.
    pub fn new(store: Arc<dyn Store>) -> Self {
        HttpRequest { store, clients: Mutex::new(HashMap::new()) }
    }

    async fn settings(&self, tenant: &str) -> Result<Option<HttpSettings>, String> {
        let Some(stored) = self.store.setting_get(tenant, HTTP_SETTING).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let value: Value = serde_json::from_str(&stored).map_err(|e| e.to_string())?;
        HttpSettings::parse(&value, Some(&value)).map(Some).map_err(|e| e.message)
    }

    fn client(&self, settings: &HttpSettings, policy: &Policy) -> Result<reqwest::Client, HandlerError> {
        let key = settings.allow.join("\n");
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PolicyResolver::new(policy)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("tarea/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HandlerError::retryable("http_client", e.to_string()))?;
        map.insert(key, client.clone());
        Ok(client)
    }
}

fn not_configured() -> PayloadError {
    PayloadError::new(
        "url",
        "this tenant allows no destinations yet: PUT /v1/settings/http {\"allow\": [\"https://app.example.com/\"]}",
    )
}

#[async_trait]
impl Handler for HttpRequest {
    async fn check(&self, tenant: &str, payload: &RawValue) -> Result<(), PayloadError> {
        let p = payload_of(payload)?;
        let settings =
            self.settings(tenant).await.map_err(|e| PayloadError::new("url", e))?.ok_or_else(not_configured)?;
        let policy = settings.policy()?;
        check_payload(&p, &policy).map(|_| ())
    }

    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let p = payload_of(&ctx.payload)
            .map_err(|e| HandlerError::fatal("invalid_payload", format!("{}: {}", e.field, e.message)))?;
        self.perform(&ctx, p, false).await
    }
}

impl HttpRequest {
    /// Makes the call `p` for job `ctx`; with `retry_client_errors`, any answer but 2xx is
    /// retried (a webhook's receiver may be down or misconfigured for a while).
    pub(crate) async fn perform(
        &self,
        ctx: &JobContext,
        p: HttpPayload,
        retry_client_errors: bool,
    ) -> Result<Box<RawValue>, HandlerError> {
        let fatal = |e: PayloadError| HandlerError::fatal("invalid_payload", format!("{}: {}", e.field, e.message));
        let settings = self
            .settings(&ctx.tenant)
            .await
            .map_err(|e| HandlerError::retryable("store_unavailable", e))?
            .ok_or_else(|| HandlerError::fatal("destination_refused", not_configured().message))?;
        let policy = settings.policy().map_err(fatal)?;
        let (url, method) =
            check_payload(&p, &policy).map_err(|e| HandlerError::fatal("destination_refused", e.message))?;
        let json = match p.json.clone() {
            Some(Value::Object(mut m)) => {
                for (key, value) in [("parent", &p.parent), ("batch", &p.batch)] {
                    if let Some(v) = value
                        && !m.contains_key(key)
                    {
                        m.insert(key.into(), v.clone());
                    }
                }
                Some(Value::Object(m))
            }
            json => json,
        };
        let body: Vec<u8> = match (&json, &p.body) {
            (Some(j), _) => serde_json::to_vec(j).unwrap_or_default(),
            (None, Some(b)) => b.clone().into_bytes(),
            (None, None) => Vec::new(),
        };
        let timestamp = tarea_runtime::now_ms() / 1000;
        let mut req = self
            .client(&settings, &policy)?
            .request(method, url.clone())
            .timeout(Duration::from_millis(p.timeout_ms.unwrap_or(30_000)))
            .header("Tarea-Timestamp", timestamp.to_string())
            .header("Tarea-Signature", sign(&settings.signing_secret, timestamp, &body))
            .header("Tarea-Job-Id", ctx.id.to_string())
            .header("Tarea-Attempt", ctx.attempt.to_string())
            .header("Idempotency-Key", ctx.id.to_string());
        if p.json.is_some() {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in &p.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if !body.is_empty() {
            req = req.body(body);
        }
        crate::step(ctx, "Llamando", 1, Some(2))?;
        let res = tokio::select! {
            r = req.send() => r.map_err(|e| request_error(&url, e))?,
            _ = ctx.cancel.cancelled() => return Err(HandlerError::Cancelled),
        };
        let status = res.status();
        let content_type =
            res.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let mut kept = Vec::new();
        let mut truncated = false;
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                HandlerError::retryable("http_unavailable", format!("{url}: the response broke off: {e}"))
            })?;
            let room = BODY_KEPT.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                truncated = true;
                break;
            }
        }
        crate::step(ctx, "Respuesta recibida", 2, Some(2))?;
        let text = String::from_utf8_lossy(&kept).into_owned();
        let code = status.as_u16();
        if status.is_success() {
            let body = serde_json::from_slice::<Value>(&kept).unwrap_or(Value::String(text));
            let result =
                serde_json::json!({"status": code, "content_type": content_type, "body": body, "truncated": truncated});
            return Ok(serde_json::value::to_raw_value(&result).expect("JSON serializes"));
        }
        let excerpt: String = text.chars().take(500).collect();
        let message = format!("{url} answered {status}: {excerpt}");
        if matches!(code, 408 | 425 | 429) || status.is_server_error() || retry_client_errors {
            Err(HandlerError::retryable(&format!("http_{code}"), message))
        } else if status.is_redirection() {
            Err(HandlerError::fatal(
                "http_redirect",
                format!("{message} (redirects are not followed; call the final URL)"),
            ))
        } else {
            Err(HandlerError::fatal(&format!("http_{code}"), message))
        }
    }
}

/// Signed JSON POSTs for kinds that hand their output to the app (an import's chunks), with the
/// same allow-list, signature and error classes as `http.request`.
impl HttpRequest {
    /// Checks that `tenant` may send to `url`.
    pub(crate) async fn check_destination(&self, tenant: &str, url: &str) -> Result<Url, PayloadError> {
        let settings =
            self.settings(tenant).await.map_err(|e| PayloadError::new("url", e))?.ok_or_else(not_configured)?;
        let policy = settings.policy()?;
        check_payload(&post_to(url), &policy).map(|(url, _)| url)
    }

    /// POSTs `body` (JSON) to `url` for job `ctx`, signed, with `key` as its Idempotency-Key.
    /// 2xx is success; 408, 425, 429, 5xx and network failures are retryable; others are not.
    pub(crate) async fn post_signed(
        &self,
        ctx: &JobContext,
        url: &str,
        body: Vec<u8>,
        key: &str,
        timeout: Duration,
    ) -> Result<(), HandlerError> {
        let settings = self
            .settings(&ctx.tenant)
            .await
            .map_err(|e| HandlerError::retryable("store_unavailable", e))?
            .ok_or_else(|| HandlerError::fatal("destination_refused", not_configured().message))?;
        let policy = settings
            .policy()
            .map_err(|e| HandlerError::fatal("invalid_payload", format!("{}: {}", e.field, e.message)))?;
        let (url, _) =
            check_payload(&post_to(url), &policy).map_err(|e| HandlerError::fatal("destination_refused", e.message))?;
        let timestamp = tarea_runtime::now_ms() / 1000;
        let req = self
            .client(&settings, &policy)?
            .post(url.clone())
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Tarea-Timestamp", timestamp.to_string())
            .header("Tarea-Signature", sign(&settings.signing_secret, timestamp, &body))
            .header("Tarea-Job-Id", ctx.id.to_string())
            .header("Tarea-Attempt", ctx.attempt.to_string())
            .header("Idempotency-Key", key)
            .body(body);
        let res = tokio::select! {
            r = req.send() => r.map_err(|e| request_error(&url, e))?,
            _ = ctx.cancel.cancelled() => return Err(HandlerError::Cancelled),
        };
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let text = res.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(300).collect();
        let message = format!("{url} answered {status}: {excerpt}");
        let code = status.as_u16();
        if matches!(code, 408 | 425 | 429) || status.is_server_error() {
            Err(HandlerError::retryable(&format!("http_{code}"), message))
        } else {
            Err(HandlerError::fatal(&format!("http_{code}"), message))
        }
    }
}

fn post_to(url: &str) -> HttpPayload {
    HttpPayload {
        url: url.to_owned(),
        method: post(),
        headers: HashMap::new(),
        json: None,
        body: None,
        timeout_ms: None,
        parent: None,
        batch: None,
    }
}

fn request_error(url: &Url, e: reqwest::Error) -> HandlerError {
    let refused = std::error::Error::source(&e)
        .into_iter()
        .flat_map(|s| std::iter::successors(Some(s), |s| s.source()))
        .find_map(|s| s.downcast_ref::<std::io::Error>().filter(|io| io.kind() == std::io::ErrorKind::PermissionDenied))
        .map(|io| io.to_string());
    if let Some(why) = refused {
        return HandlerError::fatal("destination_refused", why);
    }
    if e.is_timeout() {
        HandlerError::retryable("http_timeout", format!("{url} did not answer in time"))
    } else {
        HandlerError::retryable("http_unavailable", format!("{url} could not be reached: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1800000000.{"a":1}' | openssl dgst -sha256 -hmac secreto
        let sig = sign("secreto", 1_800_000_000, br#"{"a":1}"#);
        assert_eq!(sig, "v1=f377ea37f92f471a09544abb926395905dfe280f78fb436f7854ce57724360ef");
        assert_ne!(sig, sign("secreto", 1_800_000_001, br#"{"a":1}"#));
        assert_ne!(sig, sign("otro", 1_800_000_000, br#"{"a":1}"#));
    }
}
