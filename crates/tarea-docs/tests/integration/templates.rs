//! A tenant's own templates over HTTP, against a real server and real renderer processes:
//! every upload a new version, refused with line and column when it does not compile, jobs
//! bound to the version current at enqueue, another tenant sees nothing, and a re-render after
//! a change makes each document again exactly once.
use reqwest::Method;
use serde_json::{Value, json};
use tarea_testkit::TestServer;

use crate::common::{Client, pdf_text, setup};

const INFORME: &str = r#"#let data = json("/data.json")
#set page(paper: "a5")
= Informe #data.protocolo
Paciente: #data.paciente
"#;

async fn call(c: &Client, s: &TestServer, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = c.http.request(method, s.url(path)).bearer_auth(&c.key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

async fn upload(c: &Client, s: &TestServer, name: &str, body: Value) -> (u16, Value) {
    call(c, s, Method::PUT, &format!("/v1/templates/{name}"), Some(body)).await
}

async fn render(c: &Client, s: &TestServer, payload: Value) -> (Value, String) {
    let job = c.finished(s, "pdf.render", payload).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let text = pdf_text(&c.content(s, &job).await);
    (job, text)
}

fn sample() -> Value {
    json!({"protocolo": "HP 26/01234", "paciente": "Luna (canino)"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upload_is_a_new_version_and_jobs_render_the_version_of_their_enqueue() {
    let (s, c) = setup().await;
    let (status, v1) = upload(&c, &s, "informe-biopsia", json!({"source": INFORME, "sample": sample()})).await;
    assert_eq!(status, 201, "{v1}");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["checked"], "sample");
    assert_eq!(v1["pages"], 1);

    let (job, text) = render(&c, &s, json!({"template": "informe-biopsia", "data": sample()})).await;
    assert_eq!(job["result"]["version"], 1, "{job}");
    assert!(text.contains("Informe HP 26/01234") && text.contains("Luna (canino)"), "{text}");

    // A job enqueued now is pinned to version 1 even if version 2 arrives before it runs.
    let pinned = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "pdf.render", "payload": {"template": "informe-biopsia", "data": sample()}}),
        )
        .await;
    assert_eq!(pinned["payload"]["version"], 1, "{pinned}");

    let v2_source = INFORME.replace("= Informe", "= Informe histopatológico");
    let (status, v2) = upload(&c, &s, "informe-biopsia", json!({"source": v2_source})).await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["checked"], "syntax", "no sample: only the syntax is checked");

    let (job, text) = render(&c, &s, json!({"template": "informe-biopsia", "data": sample()})).await;
    assert_eq!(job["result"]["version"], 2);
    assert!(text.contains("Informe histopatológico HP 26/01234"), "{text}");
    let old = c.finished_id(&s, pinned["id"].as_str().unwrap()).await;
    assert_eq!(old["result"]["version"], 1, "{old}");
    let (_, text) = render(&c, &s, json!({"template": "informe-biopsia", "version": 1, "data": sample()})).await;
    assert!(!text.contains("histopatológico"), "version 1 is still version 1: {text}");
    let a = c.get(&s, &format!("/v1/artifacts/{}", job["artifacts"][0]["id"].as_str().unwrap())).await;
    assert_eq!(a["provenance"]["template"], "informe-biopsia");
    assert_eq!(a["provenance"]["version"], 2);

    // Read back, listed, deleted; version numbers are never reused.
    let (status, got) = call(&c, &s, Method::GET, "/v1/templates/informe-biopsia?version=1", None).await;
    assert_eq!(status, 200);
    assert_eq!(got["source"], INFORME);
    let (_, list) = call(&c, &s, Method::GET, "/v1/templates", None).await;
    assert_eq!(list["templates"][0]["name"], "informe-biopsia", "{list}");
    assert_eq!(list["templates"][0]["latest"], 2);
    assert_eq!(list["templates"][0]["versions"], 2);
    assert!(list["builtin"].as_array().unwrap().contains(&json!("lab-report")), "{list}");
    let (status, _) = call(&c, &s, Method::DELETE, "/v1/templates/informe-biopsia", None).await;
    assert_eq!(status, 204);
    let (status, err) = call(&c, &s, Method::GET, "/v1/templates/informe-biopsia", None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, err) = call(
        &c,
        &s,
        Method::POST,
        "/v1/jobs",
        Some(json!({"kind": "pdf.render", "payload": {"template": "informe-biopsia", "data": sample()}})),
    )
    .await;
    assert_eq!(status, 400, "a deleted template is refused at enqueue: {err}");
    let (_, v3) = upload(&c, &s, "informe-biopsia", json!({"source": INFORME})).await;
    assert_eq!(v3["version"], 3, "{v3}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_that_does_not_compile_is_refused_with_line_and_column_and_nothing_is_stored() {
    let (s, c) = setup().await;
    // A syntax error on line 3.
    let broken = "#let data = json(\"/data.json\")\n= Informe\n#let x = (1, 2\nTexto";
    let (status, err) = upload(&c, &s, "roto", json!({"source": broken})).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "template_error");
    let d = &err["error"]["details"]["diagnostics"][0];
    assert_eq!(d["file"], "main.typ", "{err}");
    assert!(d["line"].as_u64().unwrap() >= 3, "{err}");
    assert!(d["column"].as_u64().is_some(), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("line"), "{err}");

    // It parses, but the sample lacks a field the template reads: the field and the line.
    let (status, err) = upload(&c, &s, "roto", json!({"source": INFORME, "sample": {"protocolo": "HP 1"}})).await;
    assert_eq!(status, 422, "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("paciente") && message.contains("line 4"), "{message}");

    // An image that is not an image, an asset path that leaves the template, bad base64.
    let logo = r#"#image("logo.png", width: 2cm)"#;
    let not_png = json!({"path": "logo.png", "content_base64": "bm8gc295IHVuYSBpbWFnZW4="});
    let (status, err) =
        upload(&c, &s, "roto", json!({"source": logo, "assets": [not_png.clone()], "sample": {}})).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("image"), "{err}");
    let escape = json!({"path": "../../etc/passwd", "content_base64": "eA=="});
    let (status, err) = upload(&c, &s, "roto", json!({"source": INFORME, "assets": [not_png.clone(), escape]})).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["details"]["field"], "assets[1].path", "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("relative"), "{err}");
    let garbled = json!({"path": "logo.png", "content_base64": "%%%"});
    let (status, err) = upload(&c, &s, "roto", json!({"source": INFORME, "assets": [garbled]})).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["details"]["field"], "assets[0].content_base64");
    // A payload that names its version as null gets the current one; one that is not an
    // object is the handler's to refuse, not a server error.
    upload(&c, &s, "informe", json!({"source": INFORME})).await;
    let (status, job) = call(
        &c,
        &s,
        Method::POST,
        "/v1/jobs",
        Some(json!({"kind": "pdf.render", "payload": {"template": "informe", "version": null, "data": sample()}})),
    )
    .await;
    assert_eq!((status, &job["payload"]["version"]), (201, &json!(1)), "{job}");
    let (status, job) =
        call(&c, &s, Method::POST, "/v1/jobs", Some(json!({"kind": "label.render", "payload": []}))).await;
    assert_eq!(status, 201, "{job}");
    let job = c.finished_id(&s, job["id"].as_str().unwrap()).await;
    assert_eq!(job["error"]["code"], "invalid_payload", "{job}");

    // A name that is not a name, an empty source.
    let (status, err) = upload(&c, &s, "Mal%20Nombre", json!({"source": INFORME})).await;
    assert_eq!((status, err["error"]["details"]["field"].as_str()), (400, Some("name")), "{err}");
    let (status, _) = upload(&c, &s, "vacio", json!({"source": "  "})).await;
    assert_eq!(status, 400);

    let (status, _) = call(&c, &s, Method::GET, "/v1/templates/roto", None).await;
    assert_eq!(status, 404, "nothing refused was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_render_and_another_tenant_sees_nothing() {
    let (s, c) = setup().await;
    // A real PNG beside the template.
    let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/templates/reception-label.png")).unwrap();
    use base64::Engine as _;
    let logo = base64::engine::general_purpose::STANDARD.encode(&png);
    let source = format!("{INFORME}#image(\"img/logo.png\", width: 3cm)\n");
    let body =
        json!({"source": source, "assets": [{"path": "img/logo.png", "content_base64": logo}], "sample": sample()});
    let (status, v1) = upload(&c, &s, "con-logo", body).await;
    assert_eq!(status, 201, "{v1}");
    assert_eq!(v1["assets"][0]["path"], "img/logo.png");
    assert_eq!(v1["assets"][0]["bytes"], png.len());
    let (job, _) = render(&c, &s, json!({"template": "con-logo", "data": sample()})).await;
    assert_eq!(job["result"]["version"], 1);
    let (_, got) = call(&c, &s, Method::GET, "/v1/templates/con-logo", None).await;
    assert_eq!(got["assets"][0]["content_base64"], logo, "a GET gives back what a PUT took");

    let other = Client { http: reqwest::Client::new(), key: s.key("otra", false).await };
    let (status, _) = call(&other, &s, Method::GET, "/v1/templates/con-logo", None).await;
    assert_eq!(status, 404);
    let (_, list) = call(&other, &s, Method::GET, "/v1/templates", None).await;
    assert_eq!(list["templates"], json!([]));
    let (status, err) = call(
        &other,
        &s,
        Method::POST,
        "/v1/jobs",
        Some(json!({"kind": "pdf.render", "payload": {"template": "con-logo", "data": sample()}})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = call(&other, &s, Method::DELETE, "/v1/templates/con-logo", None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&other, &s, Method::POST, "/v1/templates/con-logo/rerender", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_template_takes_the_place_of_the_built_in_one_of_its_name() {
    let (s, c) = setup().await;
    let data: Value = serde_json::from_str(tarea_render::builtin::builtin("work-order").unwrap().sample).unwrap();
    let own = "#let data = json(\"/data.json\")\n= Orden propia #data.number\n";
    let (status, v) = upload(&c, &s, "work-order", json!({"source": own, "sample": data})).await;
    assert_eq!((status, v["version"].as_u64()), (201, Some(1)), "{v}");
    let (job, text) = render(&c, &s, json!({"template": "work-order", "data": data})).await;
    assert_eq!(job["result"]["version"], 1);
    assert!(text.contains("Orden propia"), "{text}");
    let (job, text) = render(&c, &s, json!({"template": "work-order", "version": 0, "data": data})).await;
    assert_eq!(job["result"]["version"], 0, "version 0 is the built-in one");
    assert!(!text.contains("Orden propia"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_makes_a_new_cache_key_and_a_rerender_makes_each_document_once() {
    let (s, c) = setup().await;
    upload(&c, &s, "informe", json!({"source": INFORME})).await;
    let doc = |n: u32, key: Option<&str>| {
        let mut j = json!({"kind": "pdf.render", "payload": {"template": "informe", "data":
            {"protocolo": format!("HP 26/{n:05}"), "paciente": "Luna"}}});
        if let Some(k) = key {
            j["cache_key"] = k.into();
        }
        j
    };
    // Three documents at version 1, one with a cache key.
    let mut made = Vec::new();
    for (n, key) in [(1, Some("protocolo-1")), (2, None), (3, None)] {
        let job = c.post(&s, "/v1/jobs", doc(n, key)).await;
        made.push(c.finished_id(&s, job["id"].as_str().unwrap()).await);
    }
    assert!(made.iter().all(|j| j["state"] == "succeeded"), "{made:?}");
    assert!(made[0]["cache_key"].as_str().unwrap().ends_with("|informe@1"), "{}", made[0]);
    let (status, hit) = call(&c, &s, Method::POST, "/v1/jobs", Some(doc(1, Some("protocolo-1")))).await;
    assert_eq!((status, &hit["id"]), (200, &made[0]["id"]), "a cache hit while the template is unchanged");

    // Version 2: the same key is a new job.
    upload(&c, &s, "informe", json!({"source": INFORME.replace("Paciente", "Animal")})).await;
    let (status, fresh) = call(&c, &s, Method::POST, "/v1/jobs", Some(doc(1, Some("protocolo-1")))).await;
    assert_eq!(status, 201, "{fresh}");
    assert!(fresh["cache_key"].as_str().unwrap().ends_with("|informe@2"), "{fresh}");
    let fresh = c.finished_id(&s, fresh["id"].as_str().unwrap()).await;

    // The re-render makes the two documents still at version 1 (the keyed one is already
    // made at version 2: that job is the answer), and a second call makes nothing new.
    let (status, rr) = call(&c, &s, Method::POST, "/v1/templates/informe/rerender", None).await;
    assert_eq!(status, 202, "{rr}");
    assert_eq!(rr["version"], 2);
    assert_eq!(rr["more"], false);
    let ids: Vec<String> = rr["jobs"].as_array().unwrap().iter().map(|j| j.as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 3, "{rr}");
    assert!(ids.contains(&fresh["id"].as_str().unwrap().to_owned()), "{rr}");
    for id in &ids {
        let j = c.finished_id(&s, id).await;
        assert_eq!(j["state"], "succeeded", "{j}");
        assert_eq!(j["result"]["version"], 2, "{j}");
        assert!(pdf_text(&c.content(&s, &j).await).contains("Animal: Luna"));
    }
    let (_, again) = call(&c, &s, Method::POST, "/v1/templates/informe/rerender", None).await;
    let mut again: Vec<String> =
        again["jobs"].as_array().unwrap().iter().map(|j| j.as_str().unwrap().to_owned()).collect();
    let mut ids = ids;
    again.sort();
    ids.sort();
    assert_eq!(again, ids, "no document is rendered twice");
    let all = c.get(&s, "/v1/jobs?kind=pdf.render&limit=100").await;
    assert_eq!(all["jobs"].as_array().unwrap().len(), 6, "3 at version 1, 1 new key, 2 re-rendered: {all}");
}
