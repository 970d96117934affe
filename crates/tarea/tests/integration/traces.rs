//! Job traces over OTLP/HTTP with the real binary, sent to a collector run by this test (an
//! HTTP server on 127.0.0.1 that decodes the protobuf requests as a real collector does).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use prost::Message;
use serde_json::json;
use tarea_testkit::TareaProcess;

use super::*;

/// One received span and the `service.name` of the process that sent it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    span: Span,
}

/// A collector: every span POSTed to /v1/traces, decoded.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    async fn start() -> Collector {
        let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = Arc::clone(&spans);
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    assert_eq!(headers["content-type"], "application/x-protobuf");
                    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf request");
                    let mut sink = sink.lock().unwrap();
                    for rs in request.resource_spans {
                        let attrs = rs.resource.map(|r| r.attributes).unwrap_or_default();
                        let service = string(&attrs, "service.name").unwrap_or_default();
                        for ss in rs.scope_spans {
                            for span in ss.spans {
                                sink.push(Received { service: service.clone(), span });
                            }
                        }
                    }
                    ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Collector { url, spans }
    }

    /// The spans of trace `trace` (hex), once at least `n` arrived.
    async fn trace(&self, trace: &str, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got: Vec<Received> =
                self.spans.lock().unwrap().iter().filter(|r| hex::encode(&r.span.trace_id) == trace).cloned().collect();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "trace {trace}: {} of {n} spans arrived: {got:#?}", got.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn string(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        _ => None,
    })
}

fn named<'a>(spans: &'a [Received], name: &str) -> Vec<&'a Span> {
    spans.iter().map(|r| &r.span).filter(|s| s.name == name).collect()
}

async fn wait_state(http: &reqwest::Client, url: &str, key: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let j = get_json(http, url, key).await;
        if j["state"] == state {
            return;
        }
        assert!(Instant::now() < deadline, "never {state}: {j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_job_is_one_trace_from_enqueue_through_every_attempt_to_its_end() {
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let endpoint = collector.url.clone();
    let node =
        tokio::task::spawn_blocking(move || TareaProcess::start(&d, &["--otlp-endpoint", &endpoint])).await.unwrap();
    let key = node.first_key.clone();
    let http = http();

    // An external job that fails once, then succeeds on its retry; the app's request that
    // enqueued it carried its own trace context.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = http
        .post(node.url("/v1/jobs"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{caller_trace}-00f067aa0ba902b7-01"))
        .json(&json!({"kind": "informe.ocr", "retry": {"base_ms": 50, "max_ms": 50}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let job: serde_json::Value = res.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let claim = json!({"queues": ["default"], "worker": "escaner-1", "wait_ms": 5000});
    let (_, c) = post_json(&http, &node.url("/v1/worker/claim"), &key, claim.clone()).await;
    assert_eq!(c["jobs"][0]["id"], id.as_str(), "{c}");
    let fail = json!({"attempt": 1, "error": {"code": "scan_blurry", "message": "la imagen está borrosa"}});
    let (s, _) = post_json(&http, &node.url(&format!("/v1/jobs/{id}/fail")), &key, fail).await;
    assert_eq!(s, 200);
    let (_, c) = post_json(&http, &node.url("/v1/worker/claim"), &key, claim).await;
    assert_eq!((c["jobs"][0]["id"].as_str(), c["jobs"][0]["attempt"].as_u64()), (Some(id.as_str()), Some(2)), "{c}");
    let done = json!({"attempt": 2, "result": {"paginas": 3}});
    let (s, _) = post_json(&http, &node.url(&format!("/v1/jobs/{id}/complete")), &key, done).await;
    assert_eq!(s, 200);

    // The job's trace: its id is the job's id.
    let trace = id.replace('-', "");
    let spans = collector.trace(&trace, 4).await;
    assert!(spans.iter().all(|r| r.service == "tarea"), "{spans:#?}");
    let root = named(&spans, "informe.ocr");
    assert_eq!(root.len(), 1, "one root: {spans:#?}");
    let root = root[0];
    assert!(root.parent_span_id.is_empty(), "the job is the trace's root");
    assert_eq!(root.status.as_ref().map(|s| s.code), Some(StatusCode::Ok as i32));
    assert_eq!(string(&root.attributes, "tarea.state").as_deref(), Some("succeeded"));
    let enqueue = named(&spans, "enqueue");
    assert_eq!(enqueue.len(), 1);
    assert_eq!(enqueue[0].parent_span_id, root.span_id);
    assert_eq!(enqueue[0].start_time_unix_nano, root.start_time_unix_nano, "both start at created_at");
    let mut attempts = named(&spans, "attempt");
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(a.parent_span_id, root.span_id);
        assert_eq!(string(&a.attributes, "tarea.attempt"), Some((n + 1).to_string()));
        assert_eq!(string(&a.attributes, "tarea.worker").as_deref(), Some("escaner-1"));
        assert_eq!(string(&a.attributes, "tarea.job.id").as_deref(), Some(id.as_str()));
    }
    let failed = attempts[0].status.clone().unwrap();
    assert_eq!(failed.code, StatusCode::Error as i32);
    assert_eq!(failed.message, "scan_blurry: la imagen está borrosa");
    assert_eq!(string(&attempts[0].attributes, "tarea.outcome").as_deref(), Some("failed"));
    assert_eq!(attempts[1].status.as_ref().map(|s| s.code), Some(StatusCode::Ok as i32));
    assert!(root.start_time_unix_nano <= attempts[0].start_time_unix_nano);
    assert!(attempts[0].end_time_unix_nano <= attempts[1].start_time_unix_nano, "the retry waited");
    assert_eq!(root.end_time_unix_nano, attempts[1].end_time_unix_nano, "the job ended with its last attempt");
    let span_ids: std::collections::HashSet<_> = spans.iter().map(|r| r.span.span_id.clone()).collect();
    assert_eq!(span_ids.len(), spans.len(), "no span is sent twice");

    // The app's trace got the enqueue too, as a child of its request's span, linked to the job.
    let theirs = collector.trace(caller_trace, 1).await;
    let span = &theirs[0].span;
    assert_eq!(span.name, "enqueue informe.ocr");
    assert_eq!(hex::encode(&span.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(hex::encode(&span.links[0].trace_id), trace);
    assert_eq!(span.links[0].span_id, root.span_id);

    // A schedule run by hand from the app's request: the app's trace gets that enqueue too.
    let schedule =
        json!({"cron": "0 2 * * *", "timezone": "America/Argentina/Buenos_Aires", "job": {"kind": "tarea.noop"}});
    let res = http.put(node.url("/v1/schedules/estadisticas")).bearer_auth(&key).json(&schedule).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let nightly_trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    let res = http
        .post(node.url("/v1/schedules/estadisticas/run"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{nightly_trace}-00f067aa0ba902b8-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let theirs = collector.trace(nightly_trace, 1).await;
    assert_eq!(theirs[0].span.name, "enqueue tarea.noop");

    // A built-in job runs on this node; a job cancelled while it waits ends with a cancel.
    let (_, noop) = post_json(&http, &node.url("/v1/jobs"), &key, json!({"kind": "tarea.noop"})).await;
    let noop_trace = noop["id"].as_str().unwrap().replace('-', "");
    let spans = collector.trace(&noop_trace, 3).await;
    let names: HashMap<&str, usize> = spans.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.span.name.as_str()).or_default() += 1;
        m
    });
    assert_eq!(names, HashMap::from([("tarea.noop", 1), ("enqueue", 1), ("attempt", 1)]), "{spans:#?}");

    let later = json!({"kind": "informe.ocr", "queue": "nocturna", "run_at": "2099-01-01T00:00:00Z"});
    let (_, waiting) = post_json(&http, &node.url("/v1/jobs"), &key, later).await;
    let waiting_id = waiting["id"].as_str().unwrap().to_owned();
    let (s, _) = post_json(&http, &node.url(&format!("/v1/jobs/{waiting_id}/cancel")), &key, json!({})).await;
    assert_eq!(s, 200);
    wait_state(&http, &node.url(&format!("/v1/jobs/{waiting_id}")), &key, "cancelled").await;
    let spans = collector.trace(&waiting_id.replace('-', ""), 3).await;
    let root = named(&spans, "informe.ocr");
    assert_eq!(string(&root[0].attributes, "tarea.state").as_deref(), Some("cancelled"));
    assert!(string(&named(&spans, "enqueue")[0].attributes, "tarea.run_at").is_some(), "made for later");
    assert_eq!(named(&spans, "cancel").len(), 1, "{spans:#?}");
    assert!(named(&spans, "attempt").is_empty(), "it never ran");
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_jobs_nothing() {
    // A port nobody listens on: exports fail, jobs go on, and tarea says so in its log.
    let port = tarea_testkit::free_port();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let endpoint = format!("http://127.0.0.1:{port}");
    let node =
        tokio::task::spawn_blocking(move || TareaProcess::start(&d, &["--otlp-endpoint", &endpoint])).await.unwrap();
    let key = node.first_key.clone();
    let http = http();
    let (s, job) = post_json(&http, &node.url("/v1/jobs"), &key, json!({"kind": "tarea.noop"})).await;
    assert_eq!(s, 201);
    wait_state(&http, &node.url(&format!("/v1/jobs/{}", job["id"].as_str().unwrap())), &key, "succeeded").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut log = Vec::new();
    while !log.iter().any(|l: &String| l.contains("job trace spans were dropped")) {
        assert!(Instant::now() < deadline, "no warning about the lost spans: {log:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        log.extend(node.log());
    }
}

#[test]
fn a_bad_endpoint_or_sample_is_refused_at_start() {
    for args in [
        ["--otlp-endpoint", "127.0.0.1:4318"].as_slice(),
        &["--otlp-endpoint", "http://127.0.0.1:1", "--otlp-sample", "2"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(tarea_testkit::tarea_binary())
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("TAREA_CONFIG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("otlp"), "{args:?}: {stderr}");
    }
}
