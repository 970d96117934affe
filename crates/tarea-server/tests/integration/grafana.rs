//! The Grafana dashboard in docs/grafana must lay its panels out on the 24-column grid without
//! overlaps and query only metrics that tarea exports.
use std::collections::HashSet;
use std::path::PathBuf;

use super::*;

#[tokio::test]
async fn grafana_dashboard_uses_exported_metrics() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let file = root.join("docs/grafana/tarea.json");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let dashboard: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("docs/grafana/tarea.json: {e}"));
    let top = dashboard["panels"].as_array().expect("the dashboard has no panels array");
    assert!(!top.is_empty(), "the dashboard has no panels");

    // Every panel (also those inside collapsed rows): a unique id, a title, a place on the grid.
    let mut ids = HashSet::new();
    let mut exprs = Vec::new();
    for p in all_panels(top) {
        let title = p["title"].as_str().unwrap_or_default();
        assert!(!title.trim().is_empty(), "a panel has no title: {p}");
        let id = p["id"].as_u64().unwrap_or_else(|| panic!("panel {title:?} has no numeric id"));
        assert!(ids.insert(id), "panel {title:?} reuses id {id}");
        let (x, _, w, h) = grid(p);
        assert!(w > 0 && h > 0 && x + w <= 24, "panel {title:?} does not fit the 24-column grid: {}", p["gridPos"]);
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {title:?} has another datasource");
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = t["expr"].as_str() {
                exprs.push((title.to_owned(), expr.to_owned()));
            }
        }
    }
    assert!(!exprs.is_empty(), "no panel queries anything");
    for (i, a) in top.iter().enumerate() {
        for b in &top[i + 1..] {
            let ((ax, ay, aw, ah), (bx, by, bw, bh)) = (grid(a), grid(b));
            let overlap = ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah;
            let (at, bt) = (&a["title"], &b["title"]);
            assert!(!overlap, "panels {at} and {bt} overlap: {} and {}", a["gridPos"], b["gridPos"]);
        }
    }

    // A server that has enqueued, run, retried, buried and cancelled jobs exports every family
    // but the node and worker gauges (the test app has no nodes).
    let api = Api::new().await;
    api.enqueue(r#"{"kind":"x","queue":"q"}"#).await;
    let (s, v) = api.call("PUT", "/v1/queues/q", Some(r#"{"concurrency":2,"rate_limit":5,"max_depth":1000}"#)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let schedule = r#"{"cron":"0 3 * * *","timezone":"America/Argentina/Buenos_Aires","job":{"kind":"stats.nightly"}}"#;
    let (s, v) = api.call("PUT", "/v1/schedules/estadisticas", Some(schedule)).await;
    assert!(s.is_success(), "{v}");
    // The leader's scheduler fires it (this app runs no runtime): a last run to show.
    let two_days = tarea_runtime::now_ms() + 2 * 86_400_000;
    assert_eq!(api.store.store.schedule_fire_due(two_days, 10).await.unwrap().jobs, 1);
    api.enqueue(r#"{"kind":"ext.ok","queue":"q"}"#).await;
    let id = claim_one(&api, "ext.ok").await;
    post(&api, &format!("/v1/jobs/{id}/complete"), r#"{"attempt":1}"#, "succeeded").await;
    api.enqueue(r#"{"kind":"ext.retry","queue":"q","max_attempts":2}"#).await;
    let id = claim_one(&api, "ext.retry").await;
    post(&api, &format!("/v1/jobs/{id}/fail"), r#"{"attempt":1,"error":{"code":"x","message":"y"}}"#, "failed").await;
    api.enqueue(r#"{"kind":"ext.dead","queue":"q"}"#).await;
    let id = claim_one(&api, "ext.dead").await;
    let body = r#"{"attempt":1,"error":{"code":"x","message":"y"},"retryable":false}"#;
    post(&api, &format!("/v1/jobs/{id}/fail"), body, "dead").await;
    let v = api.enqueue(r#"{"kind":"ext.cancel","queue":"q"}"#).await;
    let (s, c) = api.call("POST", &format!("/v1/jobs/{}/cancel", v["id"].as_str().unwrap()), None).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("cancelled")), "{c}");

    let (s, v) = api.call_as("", "GET", "/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    let metrics = v.as_str().expect("/metrics is not text");
    let families: HashSet<&str> =
        metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("cannot read README.md");

    for (title, expr) in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "panel {title:?} queries no tarea metric: {expr}");
        for name in names {
            let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(*s)).unwrap_or(name);
            let live = families.contains(base) || base.strip_suffix("_total").is_some_and(|f| families.contains(f));
            if live {
                continue;
            }
            let node_only = name.starts_with("tarea_node_") || name == "tarea_external_workers";
            let documented = readme.lines().any(|l| l.starts_with(&format!("| `{name}` |")));
            assert!(
                node_only && documented,
                "panel {title:?} queries {name}, which /metrics does not export{}:\n{expr}\n\n{metrics}",
                if node_only { " and README.md's metrics table does not list" } else { "" }
            );
        }
    }
}

/// The panels, and the panels inside rows.
fn all_panels(panels: &[Value]) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in panels {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// A panel's `gridPos` as (x, y, w, h).
fn grid(p: &Value) -> (u64, u64, u64, u64) {
    let g = &p["gridPos"];
    let n = |k: &str| g[k].as_u64().unwrap_or_else(|| panic!("panel {} lacks gridPos.{k}: {g}", p["title"]));
    (n("x"), n("y"), n("w"), n("h"))
}

/// The tokens of `expr` that match `tarea_[a-z_]+` and start a word.
fn metric_names(expr: &str) -> Vec<&str> {
    let bytes = expr.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut names = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"tarea_") && (i == 0 || !word(bytes[i - 1])) {
            let len = bytes[i + 6..].iter().take_while(|b| b.is_ascii_lowercase() || **b == b'_').count();
            if len > 0 {
                names.push(&expr[i..i + 6 + len]);
            }
            i += 6 + len;
        } else {
            i += 1;
        }
    }
    names
}

/// Claims the one job of `kind` in queue `q` and answers its id.
async fn claim_one(api: &Api, kind: &str) -> String {
    let body = format!(r#"{{"queues":["q"],"kinds":["{kind}"],"worker":"grafana-test"}}"#);
    let (s, v) = api.call("POST", "/v1/worker/claim", Some(&body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let jobs = v["jobs"].as_array().expect("claim answered no jobs array");
    assert_eq!(jobs.len(), 1, "claiming {kind}: {v}");
    jobs[0]["id"].as_str().unwrap().to_owned()
}

/// Posts `body` to `path` and expects the job to end in `state`.
async fn post(api: &Api, path: &str, body: &str, state: &str) {
    let (s, v) = api.call("POST", path, Some(body)).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some(state)), "{path}: {v}");
}
