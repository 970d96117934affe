//! The dashboard's sessions over HTTP: sign-in, the cookie, CSRF on every change, read-only
//! keys, sign-out, and the headers of its pages. (The pages themselves are tested in Chromium:
//! tests/dashboard.)
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tarea_core::ApiKey;
use tarea_server::{generate_key, hash_key};
use tower::ServiceExt;

use crate::{Api, send};

async fn read_only_key(api: &Api, tenant: &str) -> String {
    let (key, id) = generate_key();
    let record = ApiKey { id, tenant: tenant.into(), admin: false, read_only: true, created_at: 0 };
    api.store.store.api_key_create(record, hash_key(&key)).await.unwrap();
    key
}

/// A signed-in browser: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    view: Value,
}

async fn sign_in(api: &Api, key: &str, headers: &[(&str, &str)]) -> (Session, String) {
    let mut req = Request::post("/ui/session").header("content-type", "application/json");
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let res = api.app.clone().oneshot(req.body(Body::from(json!({"key": key}).to_string())).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let view: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    (Session { cookie, csrf: view["csrf"].as_str().unwrap().to_owned(), view }, set_cookie)
}

async fn call(
    api: &Api,
    s: &Session,
    method: &str,
    path: &str,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path).header("cookie", &s.cookie).header("host", "tarea.test");
    for (n, v) in extra {
        req = req.header(*n, *v);
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    };
    send(&api.app, req.unwrap()).await
}

#[tokio::test]
async fn a_key_is_exchanged_for_a_strict_http_only_cookie() {
    let api = Api::new().await;
    let req = Request::post("/ui/session").header("content-type", "application/json");
    let (status, v) = send(&api.app, req.body(Body::from(r#"{"key": "tarea_wrong"}"#)).unwrap()).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));

    let (s, set_cookie) = sign_in(&api, &api.key, &[]).await;
    assert!(set_cookie.starts_with("tarea_session="), "{set_cookie}");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(part), "{part} in {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    assert!(!set_cookie.contains(&api.key), "the key never reaches the browser");
    assert_eq!(
        (s.view["tenant"].as_str(), s.view["admin"].as_bool(), s.view["read_only"].as_bool()),
        (Some("acme"), Some(false), Some(false))
    );

    let (tls, behind_tls) = sign_in(&api, &api.key, &[("x-forwarded-proto", "https")]).await;
    assert!(behind_tls.starts_with("__Host-tarea_session=") && behind_tls.contains("; Secure"), "{behind_tls}");
    let (status, _) = call(&api, &tls, "GET", "/ui/session", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "the __Host- cookie is read back");

    // Two session cookies (one planted by another service on this host) are trusted neither.
    let two =
        Session { cookie: format!("{}; tarea_session=planted", s.cookie), csrf: s.csrf.clone(), view: Value::Null };
    let (status, _) = call(&api, &two, "GET", "/v1/jobs", None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Signing in again from the same browser ends the session it had.
    let req = Request::post("/ui/session").header("content-type", "application/json").header("cookie", &tls.cookie);
    let res =
        api.app.clone().oneshot(req.body(Body::from(json!({"key": api.key}).to_string())).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = call(&api, &tls, "GET", "/ui/session", None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old session ended");

    let (status, me) = call(&api, &s, "GET", "/ui/session", None, &[]).await;
    assert_eq!((status, &me["csrf"]), (StatusCode::OK, &s.view["csrf"]));
}

#[tokio::test]
async fn every_change_made_with_a_session_needs_its_csrf_token_and_this_site() {
    let api = Api::new().await;
    let (s, _) = sign_in(&api, &api.key, &[]).await;
    let job = json!({"kind": "tarea.noop"});
    // Reading needs the cookie only.
    let (status, _) = call(&api, &s, "GET", "/v1/jobs", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    // A change without the token, with another session's token, from another origin or site.
    let (other, _) = sign_in(&api, &api.key, &[]).await;
    for (extra, why) in [
        (Vec::<(&str, &str)>::new(), "no token"),
        (vec![("x-csrf-token", other.csrf.as_str())], "another session's token"),
        (vec![("x-csrf-token", "zz")], "not hex"),
        (vec![("x-csrf-token", s.csrf.as_str()), ("origin", "http://evil.test")], "another origin"),
        (vec![("x-csrf-token", s.csrf.as_str()), ("origin", "http://tarea.test:81")], "another port"),
        (vec![("x-csrf-token", s.csrf.as_str()), ("sec-fetch-site", "cross-site")], "another site"),
    ] {
        let (status, v) = call(&api, &s, "POST", "/v1/jobs", Some(job.clone()), &extra).await;
        assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf_failed")), "{why}: {v}");
    }
    assert_eq!(api.stored_jobs().await, 0, "nothing was written");
    let ok = [("x-csrf-token", s.csrf.as_str()), ("origin", "http://tarea.test"), ("sec-fetch-site", "same-origin")];
    let (status, v) = call(&api, &s, "POST", "/v1/jobs", Some(job), &ok).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn a_read_only_key_reads_and_changes_nothing_with_a_bearer_or_a_session() {
    let api = Api::new().await;
    let job = api.enqueue(r#"{"kind": "tarea.noop"}"#).await;
    let id = job["id"].as_str().unwrap();
    let ro = read_only_key(&api, "acme").await;
    let (status, v) = api.call_as(&ro, "GET", &format!("/v1/jobs/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = api.call_as(&ro, "POST", &format!("/v1/jobs/{id}/cancel"), None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));

    let (s, _) = sign_in(&api, &ro, &[]).await;
    assert_eq!(s.view["read_only"], true);
    let (status, list) = call(&api, &s, "GET", "/v1/jobs", None, &[]).await;
    assert_eq!((status, list["jobs"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let csrf = [("x-csrf-token", s.csrf.as_str())];
    let (status, v) = call(&api, &s, "POST", &format!("/v1/jobs/{id}/cancel"), None, &csrf).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{v}");
    let (_, after) = api.call("GET", &format!("/v1/jobs/{id}"), None).await;
    assert_eq!(after["state"], "queued");
}

#[tokio::test]
async fn signing_out_ends_the_session_everywhere() {
    let api = Api::new().await;
    let (s, _) = sign_in(&api, &api.key, &[]).await;
    // Signing out is a change like any other: it needs the token.
    let (status, _) = call(&api, &s, "DELETE", "/ui/session", None, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let req = Request::delete("/ui/session").header("cookie", &s.cookie).header("x-csrf-token", &s.csrf);
    let res = api.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    for path in ["/ui/session", "/v1/jobs"] {
        let (status, v) = call(&api, &s, "GET", path, None, &[]).await;
        assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{path}");
    }
}

#[tokio::test]
async fn pages_carry_a_strict_content_security_policy() {
    let api = Api::new().await;
    for path in ["/ui", "/ui/", "/ui/jobs/0190aaaa-0000-7000-8000-000000000000", "/ui/assets/app.js"] {
        let res = api.app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in ["script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        // A second request with the ETag is answered 304.
        let etag = h["etag"].clone();
        let again = Request::get(path).header("if-none-match", etag).body(Body::empty()).unwrap();
        assert_eq!(api.app.clone().oneshot(again).await.unwrap().status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let (status, v) = send(&api.app, Request::get("/ui/assets/nothing.js").body(Body::empty()).unwrap()).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn an_admin_key_acts_in_any_tenant_and_a_tenant_key_only_in_its_own() {
    let api = Api::new().await;
    let job = api.enqueue(r#"{"kind": "tarea.noop"}"#).await;
    let id = job["id"].as_str().unwrap();
    let admin = api.key_for("default", true).await;
    let (status, v) = api.call_as(&admin, "GET", "/v1/tenants", None).await;
    assert_eq!((status, v["tenants"].clone()), (StatusCode::OK, json!(["acme", "default"])));
    let (status, _) = api.call_as(&api.key, "GET", "/v1/tenants", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // By header (the dashboard's requests) and by query (its live streams).
    let req = |path: &str, key: &str| {
        Request::get(path).header("authorization", format!("Bearer {key}")).header("x-tarea-tenant", "acme")
    };
    let (status, v) = send(&api.app, req(&format!("/v1/jobs/{id}"), &admin).body(Body::empty()).unwrap()).await;
    assert_eq!((status, v["tenant"].as_str()), (StatusCode::OK, Some("acme")));
    let (status, v) = api.call_as(&admin, "GET", "/v1/jobs?tenant=acme", None).await;
    assert_eq!((status, v["jobs"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (status, v) = api.call_as(&admin, "GET", "/v1/jobs", None).await;
    assert_eq!((status, v["jobs"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "its own tenant by default");

    let other = api.key_for("otro", false).await;
    let (status, v) = send(&api.app, req(&format!("/v1/jobs/{id}"), &other).body(Body::empty()).unwrap()).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (status, _) = api.call_as(&other, "GET", "/v1/jobs?tenant=acme", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Naming its own tenant is no change.
    let (status, _) = api.call_as(&api.key, "GET", "/v1/jobs?tenant=acme", None).await;
    assert_eq!(status, StatusCode::OK);
    // A tenant that does not exist is not made by a typo.
    let (status, v) = api.call_as(&admin, "GET", "/v1/jobs?tenant=acmee", None).await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    // An admin downloads another tenant's file; nobody loads a file as a script.
    let upload = Request::post("/v1/uploads?filename=stock.csv")
        .header("authorization", format!("Bearer {}", api.key))
        .header("content-type", "text/csv")
        .body(Body::from("codigo,cantidad\nA1,3\n"))
        .unwrap();
    let (status, file) = send(&api.app, upload).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let content = format!("/v1/artifacts/{}/content?tenant=acme", file["id"].as_str().unwrap());
    let res = api
        .app
        .clone()
        .oneshot(Request::get(&content).header("authorization", format!("Bearer {admin}")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let as_script =
        Request::get(&content).header("authorization", format!("Bearer {admin}")).header("sec-fetch-dest", "script");
    let (status, _) = send(&api.app, as_script.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn what_a_person_does_in_the_dashboard_is_in_the_audit_log_for_admins() {
    let api = Api::new().await;
    let job = api.enqueue(r#"{"kind": "tarea.noop"}"#).await;
    let id = job["id"].as_str().unwrap();
    let (s, _) = sign_in(&api, &api.key, &[]).await;
    let csrf = [("x-csrf-token", s.csrf.as_str())];
    let (status, _) = call(&api, &s, "POST", &format!("/v1/jobs/{id}/cancel"), None, &csrf).await;
    assert_eq!(status, StatusCode::OK);
    // Refused changes and reads are not actions; the app's own bearer calls are the app's.
    call(&api, &s, "POST", &format!("/v1/jobs/{id}/cancel"), None, &csrf).await;
    call(&api, &s, "POST", "/v1/jobs", Some(json!({"kind": "tarea.noop"})), &[]).await;
    call(&api, &s, "GET", "/v1/jobs", None, &[]).await;
    api.enqueue(r#"{"kind": "tarea.noop"}"#).await;

    let admin = api.key_for("default", true).await;
    let (status, log) = api.call_as(&admin, "GET", "/v1/audit", None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let entries = log["entries"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap(), e["tenant"].as_str().unwrap()))
        .collect();
    let cancel = format!("/v1/jobs/{id}/cancel");
    assert_eq!(
        seen,
        [("POST /v1/jobs/{id}/cancel", cancel.as_str(), "acme"), ("sign in", "/ui/session", "acme")],
        "{log}"
    );
    assert_eq!(entries[0]["key_id"], s.view["key_id"]);
    assert_eq!(entries[0]["count"], 1);
    let (status, _) = api.call("GET", "/v1/audit", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");

    // An admin's change in another tenant is logged in that tenant, named by query or header.
    let other = api.enqueue(r#"{"kind": "tarea.noop"}"#).await;
    let (a, _) = sign_in(&api, &admin, &[]).await;
    let csrf = [("x-csrf-token", a.csrf.as_str())];
    let path = format!("/v1/jobs/{}/cancel?tenant=acme", other["id"].as_str().unwrap());
    let (status, v) = call(&api, &a, "POST", &path, None, &csrf).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, log) = api.call_as(&admin, "GET", "/v1/audit?limit=1", None).await;
    assert_eq!(
        (log["entries"][0]["tenant"].as_str(), log["entries"][0]["key_id"].as_str()),
        (Some("acme"), a.view["key_id"].as_str()),
        "{log}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_live_stream_opened_with_a_session_ends_when_the_session_does() {
    let api = Api::new().await;
    let job = api.enqueue(r#"{"kind": "tarea.noop"}"#).await;
    let (s, _) = sign_in(&api, &api.key, &[]).await;
    let req = Request::get(format!("/v1/jobs/{}/events", job["id"].as_str().unwrap())).header("cookie", &s.cookie);
    let res = api.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: state"));
    let out = Request::delete("/ui/session").header("cookie", &s.cookie).header("x-csrf-token", &s.csrf);
    assert_eq!(
        api.app.clone().oneshot(out.body(Body::empty()).unwrap()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    // The queued job never finishes here; the stream ends because the session did (checked
    // every 30 s; the clock is paused, so this takes no real time). Keep-alive comments may
    // come first.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap_or_default();
            assert!(!String::from_utf8_lossy(&data).contains("event:"), "no more events");
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ended after sign-out");
}
