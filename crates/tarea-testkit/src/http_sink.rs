//! The app's side of `http.request` and webhooks, on 127.0.0.1:0: it answers by path and keeps
//! every request it gets (method, path, headers, body).
//!
//! `/ok` answers 200 with JSON, `/error500` 500, `/rechazo` 404, `/lento` after 2 s, `/redirige`
//! a 302 to `/ok`, `/inestable` 503 the first time it sees an `Idempotency-Key` and 200 after;
//! anything else 200 with an empty body.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// A request as the app received it.
#[derive(Clone, Debug)]
pub struct AppRequest {
    /// `POST`, …
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names in lowercase.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The app; it stops when dropped.
pub struct HttpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<AppRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    seen: Arc<Mutex<Vec<AppRequest>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let headers: HashMap<String, String> =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
    let first_try = {
        let mut seen = seen.lock().expect("lock");
        let key = headers.get("idempotency-key");
        let first = key.is_none_or(|k| !seen.iter().any(|r| r.headers.get("idempotency-key") == Some(k)));
        seen.push(AppRequest { method: method.to_string(), path: path.clone(), headers, body: body.to_vec() });
        first
    };
    match uri.path() {
        "/ok" => (StatusCode::OK, [("content-type", "application/json")], r#"{"recibido": true}"#).into_response(),
        "/error500" => (StatusCode::INTERNAL_SERVER_ERROR, "falló la base de datos").into_response(),
        "/rechazo" => (StatusCode::NOT_FOUND, "no existe el protocolo").into_response(),
        "/lento" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            StatusCode::OK.into_response()
        }
        "/redirige" => (StatusCode::FOUND, [("location", "/ok")]).into_response(),
        "/inestable" if first_try => (StatusCode::SERVICE_UNAVAILABLE, "en mantenimiento").into_response(),
        _ => StatusCode::OK.into_response(),
    }
}

impl HttpSink {
    /// Starts the app.
    pub async fn start() -> HttpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::clone(&seen);
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            answer(Arc::clone(&state), method, uri, headers, body)
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpSink { addr, seen, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<AppRequest> {
        self.seen.lock().expect("lock").clone()
    }

    /// Waits (up to 20 s) until it has `n` requests.
    pub async fn wait_for(&self, n: usize) -> Vec<AppRequest> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "the app received {} of {n} requests", got.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
