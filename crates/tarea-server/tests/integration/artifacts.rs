//! Artifacts over HTTP: uploads by external workers (fenced), views, downloads with ETag,
//! Range and Content-Disposition, signed links, retention, and tenant isolation.
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::{Api, expect_error, send};

const PDF: &[u8] = b"%PDF-1.7 informe histopatologico, protocolo HP-2026-000123";

/// A job of an external kind, claimed: (id, attempt).
async fn running_job(api: &Api) -> (String, u64) {
    api.enqueue(r#"{"kind":"informe.render","payload":{"protocolo":"HP-2026-000123"}}"#).await;
    let (s, v) = api.call("POST", "/v1/worker/claim", Some(r#"{"queues":["default"]}"#)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let job = &v["jobs"][0];
    (job["id"].as_str().unwrap().to_owned(), job["attempt"].as_u64().unwrap())
}

async fn upload(api: &Api, job: &str, query: &str, content_type: &str, body: &[u8]) -> (StatusCode, Value) {
    let req = Request::post(format!("/v1/jobs/{job}/artifacts?{query}"))
        .header("authorization", format!("Bearer {}", api.key))
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .unwrap();
    send(&api.app, req).await
}

async fn uploaded(api: &Api) -> (String, Value) {
    let (job, attempt) = running_job(api).await;
    let (s, v) =
        upload(api, &job, &format!("attempt={attempt}&filename=Informe%20N%C2%BA%2012.pdf"), "application/pdf", PDF)
            .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (job, v)
}

/// A raw GET: status, headers, body bytes.
async fn fetch(api: &Api, path: &str, key: Option<&str>, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let res = api.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_worker_uploads_an_artifact_and_the_job_lists_it() {
    let api = Api::new().await;
    let (job, a) = uploaded(&api).await;
    assert_eq!(a["filename"], "Informe Nº 12.pdf");
    assert_eq!(a["content_type"], "application/pdf");
    assert_eq!(a["size"], PDF.len());
    assert_eq!(a["kind"], "informe.render", "the kind is the job's");
    assert_eq!(a["job_id"], job.as_str());
    assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
    assert!(a["expires_at"].is_string(), "the server's default retention applies: {a}");
    let (s, view) = api.call("GET", &format!("/v1/jobs/{job}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(view["artifacts"][0]["id"], a["id"], "{view}");
    let (_, list) = api.call("GET", "/v1/jobs", None).await;
    assert_eq!(list["jobs"][0]["artifacts"][0]["id"], a["id"]);
    let (s, got) = api.call("GET", &format!("/v1/artifacts/{}", a["id"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["sha256"], a["sha256"]);
}

#[tokio::test]
async fn uploads_are_fenced_by_attempt_and_a_refused_one_keeps_nothing() {
    let api = Api::new().await;
    let (job, attempt) = running_job(&api).await;
    let stale = upload(&api, &job, &format!("attempt={}&filename=a.pdf", attempt + 1), "application/pdf", PDF).await;
    expect_error(stale, 409, "stale_attempt");
    // Nothing is left in the folder either.
    let files = tarea_testkit::files_under(api.artifacts.path());
    assert!(files.is_empty(), "bytes of a refused upload stayed: {files:?}");
    let (s, v) =
        api.call("POST", &format!("/v1/jobs/{job}/complete"), Some(&format!(r#"{{"attempt":{attempt}}}"#))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let after = upload(&api, &job, &format!("attempt={attempt}&filename=a.pdf"), "application/pdf", PDF).await;
    expect_error(after, 409, "stale_attempt");
    let other = api.key_for("otra", false).await;
    let req = Request::post(format!("/v1/jobs/{job}/artifacts?attempt={attempt}&filename=a.pdf"))
        .header("authorization", format!("Bearer {other}"))
        .body(Body::from(PDF.to_vec()))
        .unwrap();
    expect_error(send(&api.app, req).await, 404, "not_found");
    let bad = upload(&api, &job, "attempt=x&filename=a.pdf", "application/pdf", PDF).await;
    expect_error(bad, 400, "invalid_request");
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused() {
    let api = Api::with_artifact_limit(1024).await;
    let (job, attempt) = running_job(&api).await;
    let big = vec![b'x'; 4096];
    let v = expect_error(
        upload(&api, &job, &format!("attempt={attempt}&filename=a.bin"), "application/octet-stream", &big).await,
        413,
        "payload_too_large",
    );
    assert_eq!(v["error"]["details"]["limit"], 1024);
    // Without a Content-Length the stream is cut at the limit.
    let req = Request::post(format!("/v1/jobs/{job}/artifacts?attempt={attempt}&filename=a.bin"))
        .header("authorization", format!("Bearer {}", api.key))
        .body(Body::from_stream(futures_util::stream::iter(
            (0..8).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 512]))),
        )))
        .unwrap();
    expect_error(send(&api.app, req).await, 413, "payload_too_large");
    assert!(tarea_testkit::files_under(api.artifacts.path()).is_empty());
}

#[tokio::test]
async fn downloads_carry_disposition_etag_and_ranges_and_are_counted() {
    let api = Api::new().await;
    let (_, a) = uploaded(&api).await;
    let id = a["id"].as_str().unwrap();
    let path = format!("/v1/artifacts/{id}/content");
    let (s, h, body) = fetch(&api, &path, Some(&api.key), &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, PDF);
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["content-length"], PDF.len().to_string().as_str());
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"Informe N_ 12.pdf\""), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''Informe%20N%C2%BA%2012.pdf"), "{disposition}");
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", a["sha256"].as_str().unwrap()));
    let (s, _, body) = fetch(&api, &path, Some(&api.key), &[("if-none-match", &etag)]).await;
    assert_eq!((s, body.len()), (StatusCode::NOT_MODIFIED, 0));
    let (s, h, body) = fetch(&api, &path, Some(&api.key), &[("range", "bytes=0-7")]).await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, b"%PDF-1.7");
    assert_eq!(h["content-range"], format!("bytes 0-7/{}", PDF.len()).as_str());
    let (s, _, body) = fetch(&api, &path, Some(&api.key), &[("range", "bytes=-6")]).await;
    assert_eq!((s, body.as_slice()), (StatusCode::PARTIAL_CONTENT, &b"000123"[..]));
    let (s, _, body) = fetch(&api, &path, Some(&api.key), &[("range", "bytes=0-7"), ("if-range", "\"other\"")]).await;
    assert_eq!((s, body.len()), (StatusCode::OK, PDF.len()), "a stale If-Range gets the whole content");
    let (s, h, body) = fetch(&api, &path, Some(&api.key), &[("range", "bytes=9999-")]).await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(h["content-range"], format!("bytes */{}", PDF.len()).as_str());
    assert_eq!(json(&body)["error"]["code"], "range_not_satisfiable");
    let (_, h, _) = fetch(&api, &format!("{path}?disposition=inline"), Some(&api.key), &[]).await;
    assert!(h["content-disposition"].to_str().unwrap().starts_with("inline;"));
    let (s, _, body) = fetch(&api, &path, Some(&api.key), &[("range", "bytes=9-3")]).await;
    assert_eq!((s, body.len()), (StatusCode::OK, PDF.len()), "a malformed Range is ignored");
    let req = Request::head(&path).header("authorization", format!("Bearer {}", api.key)).body(Body::empty()).unwrap();
    let res = api.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], PDF.len().to_string().as_str());
    let (_, v) = api.call("GET", &format!("/v1/artifacts/{id}"), None).await;
    // Full download, the 0-7 range, the If-Range full answer, the inline one and the one with
    // a malformed Range; not the 304, the suffix range, the 416 or the HEAD.
    assert_eq!(v["download_count"], 5, "{v}");
}

#[tokio::test]
async fn content_never_runs_in_the_browser() {
    let api = Api::new().await;
    let (job, attempt) = running_job(&api).await;
    let html = b"<script>alert(document.cookie)</script>";
    let (s, a) = upload(&api, &job, &format!("attempt={attempt}&filename=x.html"), "text/html", html).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let path = format!("/v1/artifacts/{}/content?disposition=inline", a["id"].as_str().unwrap());
    let (s, h, _) = fetch(&api, &path, Some(&api.key), &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment;"), "HTML is never shown inline");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().contains("sandbox"));
}

#[tokio::test]
async fn another_tenants_artifact_is_not_found_everywhere() {
    let api = Api::new().await;
    let (_, a) = uploaded(&api).await;
    let id = a["id"].as_str().unwrap();
    let other = api.key_for("otra", false).await;
    expect_error(api.call_as(&other, "GET", &format!("/v1/artifacts/{id}"), None).await, 404, "not_found");
    let (s, _, body) = fetch(&api, &format!("/v1/artifacts/{id}/content"), Some(&other), &[]).await;
    assert_eq!((s, json(&body)["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let link = api.call_as(&other, "POST", &format!("/v1/artifacts/{id}/link"), Some(r#"{"expires_in_s":60}"#)).await;
    expect_error(link, 404, "not_found");
    expect_error(api.call("GET", "/v1/artifacts/not-an-id", None).await, 404, "not_found");
    let (s, _, _) = fetch(&api, &format!("/v1/artifacts/{id}/content"), None, &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signed_links_work_without_a_key_until_they_expire_and_refuse_tampering() {
    let api = Api::new().await;
    let (_, a) = uploaded(&api).await;
    let id = a["id"].as_str().unwrap();
    let (s, link) = api.call("POST", &format!("/v1/artifacts/{id}/link"), Some(r#"{"expires_in_s":120}"#)).await;
    assert_eq!(s, StatusCode::OK, "{link}");
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("http://tarea.test/v1/artifacts/{id}/content?expires=")), "{url}");
    assert!(link["expires_at"].is_string());
    let path = url.trim_start_matches("http://tarea.test");
    let (s, _, body) = fetch(&api, path, None, &[]).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, PDF));
    // Mail tools add their own parameters to the links they carry.
    let (s, _, _) = fetch(&api, &format!("{path}&utm_source=correo"), None, &[]).await;
    assert_eq!(s, StatusCode::OK);

    let (base, query) = path.split_once('?').unwrap();
    let params: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let expires: u64 = params.iter().find(|p| p.0 == "expires").unwrap().1.parse().unwrap();
    let signature = params.iter().find(|p| p.0 == "signature").unwrap().1;
    let mut flipped = signature.to_owned();
    flipped.replace_range(0..1, if signature.starts_with('0') { "1" } else { "0" });
    let other = uploaded(&api).await.1;
    let tampered = [
        format!("{base}?expires={}&signature={signature}", expires + 3600),
        format!("{base}?expires={expires}&signature={flipped}"),
        format!("{base}?expires={expires}&signature="),
        format!("{base}?expires={expires}"),
        format!("/v1/artifacts/{}/content?expires={expires}&signature={signature}", other["id"].as_str().unwrap()),
    ];
    for t in tampered {
        let (s, _, body) = fetch(&api, &t, None, &[]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{t}");
        assert_eq!(json(&body)["error"]["code"], "forbidden", "{t}");
    }
    // A link whose time has passed.
    let past = expires.saturating_sub(10_000);
    let (s, _, body) = fetch(&api, &format!("{base}?expires={past}&signature={signature}"), None, &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(json(&body)["error"]["message"].as_str().unwrap().contains("not valid"), "a changed expiry is tampering");

    for bad in [r#"{"expires_in_s":0}"#, r#"{"expires_in_s":99999999}"#, r#"{}"#, r#"{"expires_in_s":60,"x":1}"#] {
        let (s, v) = api.call("POST", &format!("/v1/artifacts/{id}/link"), Some(bad)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
}

#[tokio::test]
async fn an_expired_artifact_is_gone_and_retention_is_per_tenant_and_kind() {
    let api = Api::new().await;
    let (s, r) = api.call("GET", "/v1/artifacts/retention", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["default_s"], Value::Null);
    assert_eq!(r["server_default_s"], 86_400);
    let (s, r) =
        api.call("PUT", "/v1/artifacts/retention", Some(r#"{"default_s":3600,"kinds":{"informe.render":1}}"#)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["kinds"]["informe.render"], 1);
    // What GET answers may be sent back as it is.
    let (s, again) = api.call("PUT", "/v1/artifacts/retention", Some(&r.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again, r);
    for bad in [r#"{"default_s":0}"#, r#"{"kinds":{"Mal Nombre":5}}"#, r#"{"default_s":"x"}"#, r#"{"ttl":5}"#] {
        let (s, v) = api.call("PUT", "/v1/artifacts/retention", Some(bad)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (_, a) = uploaded(&api).await;
    let created = tarea_core::parse_rfc3339_ms(a["created_at"].as_str().unwrap()).unwrap();
    let expires = tarea_core::parse_rfc3339_ms(a["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, 1000, "the kind's retention wins: {a}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let id = a["id"].as_str().unwrap();
    let (s, _, body) = fetch(&api, &format!("/v1/artifacts/{id}/content"), Some(&api.key), &[]).await;
    assert_eq!(s, StatusCode::GONE);
    assert_eq!(json(&body)["error"]["code"], "gone");
    expect_error(
        api.call("POST", &format!("/v1/artifacts/{id}/link"), Some(r#"{"expires_in_s":60}"#)).await,
        410,
        "gone",
    );
}
