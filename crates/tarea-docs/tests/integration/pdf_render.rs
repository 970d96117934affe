//! `pdf.render` and `label.render` against a real server on 127.0.0.1:0 with real renderer
//! processes: the PDF read back with pdftotext, the labels' QR codes with zbarimg, and bad
//! input that fails the job with a message naming the field and the template line.

use std::process::Command;

use crate::common::{pdf_text, setup};
use serde_json::{Value, json};

fn sample(name: &str) -> Value {
    serde_json::from_str(tarea_render::builtin::builtin(name).unwrap().sample).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_report_becomes_a_pdf_artifact_with_its_provenance() {
    let (s, c) = setup().await;
    let data = sample("lab-report");
    let job = c
        .finished(
            &s,
            "pdf.render",
            json!({"template": "lab-report", "data": data, "filename": "informe HP 26/01234.pdf"}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let r = &job["result"];
    assert_eq!(r["template"], "lab-report");
    assert_eq!(r["version"], 0);
    assert!(r["pages"].as_u64().unwrap() >= 3, "{r}");
    let a = &job["artifacts"][0];
    assert_eq!(a["content_type"], "application/pdf");
    assert_eq!(a["filename"], "informe HP 26_01234.pdf", "path separators are not kept");
    assert_eq!(a["id"], r["artifact"]);
    let view = c.get(&s, &format!("/v1/artifacts/{}", a["id"].as_str().unwrap())).await;
    let prov = &view["provenance"];
    assert_eq!(prov["template"], "lab-report", "{view}");
    assert_eq!(prov["version"], 0);
    let sha = prov["data_sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    let pdf = c.content(&s, &job).await;
    let text = pdf_text(&pdf);
    assert!(
        text.contains("HP 26/01234") && text.contains("Dra. María Fernández") && text.contains("DIAGNÓSTICO"),
        "{text}"
    );
    // Progress named its steps.
    assert_eq!(job["progress"]["step"], "saving", "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_come_out_one_page_each_and_scan() {
    let (s, c) = setup().await;
    let labels: Vec<Value> = (0..3)
        .map(|i| {
            json!({
                "protocol_number": format!("HP 26/0123{i}"), "animal_identification": "Luna",
                "species": "Canino", "analysis_type": "HP",
                "url": format!("https://lab.example.org/p/{i}"),
            })
        })
        .collect();
    let job = c.finished(&s, "label.render", json!({"labels": labels})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["pages"], 3);
    let pdf = c.content(&s, &job).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("l.pdf"), &pdf).unwrap();
    let st = Command::new("pdftoppm")
        .args(["-r", "300", "-f", "2", "-l", "2", "-png", "-singlefile", "-gray"])
        .arg(dir.path().join("l.pdf"))
        .arg(dir.path().join("p"))
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new("zbarimg").args(["--quiet", "--raw"]).arg(dir.path().join("p.png")).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "https://lab.example.org/p/1");
    assert!(pdf_text(&pdf).contains("HP 26/01232"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_the_job_with_a_message_that_says_what_to_fix() {
    let (s, c) = setup().await;
    // An unknown template is refused at the door, naming the ones there are.
    let res = c
        .http
        .post(s.url("/v1/jobs"))
        .bearer_auth(&c.key)
        .json(&json!({"kind": "pdf.render", "payload": {"template": "no-existe", "data": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["details"]["field"], "payload.template", "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("lab-report"), "{err}");
    // A version that does not exist fails the job, not retried.
    let job = c.finished(&s, "pdf.render", json!({"template": "lab-report", "version": 3, "data": {}})).await;
    assert_eq!(job["state"], "dead", "{job}");
    assert_eq!(job["error"]["code"], "unknown_template");

    // A missing field: the field and the template line, not retried.
    let mut data = sample("lab-report");
    data["veterinarian"].as_object_mut().unwrap().remove("license");
    let job = c.finished(&s, "pdf.render", json!({"template": "lab-report", "data": data})).await;
    assert_eq!(job["state"], "dead", "{job}");
    assert_eq!(job["error"]["code"], "template_error");
    let m = job["error"]["message"].as_str().unwrap();
    assert!(m.contains("license") && m.contains("line"), "{m}");
    assert_eq!(job["attempt"], 1, "not retried");
    let d = &job["error"]["details"]["diagnostics"][0];
    assert!(d["line"].as_u64().is_some() && d["snippet"].as_str().unwrap().contains("vet.license"), "{d}");

    // A label whose QR text is too long to scan.
    let job = c.finished(&s, "label.render", json!({"labels": [{"protocol_number": "HP 1", "animal_identification": "x", "species": "y", "analysis_type": "HP", "url": "x".repeat(500)}]})).await;
    assert_eq!(job["state"], "dead", "{job}");
    assert!(job["error"]["message"].as_str().unwrap().contains("at most 300"), "{job}");

    // A payload that misses what the kind needs, or carries what it does not know.
    for payload in
        [json!({"data": {}}), json!({"template": "lab-report", "data": {}, "colour": "red"}), json!({"labels": []})]
    {
        let job =
            c.finished(&s, if payload.get("labels").is_some() { "label.render" } else { "pdf.render" }, payload).await;
        assert_eq!(job["state"], "dead", "{job}");
        assert_eq!(job["error"]["code"], "invalid_payload", "{job}");
    }
    assert!(job_artifacts_none(&c, &s).await, "no failed job left a file");
}

async fn job_artifacts_none(c: &crate::common::Client, s: &tarea_testkit::TestServer) -> bool {
    let jobs = c.get(s, "/v1/jobs?state=dead&limit=100").await;
    jobs["jobs"].as_array().unwrap().iter().all(|j| j["artifacts"].as_array().is_none_or(|a| a.is_empty()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_that_kills_its_renderer_twice_is_not_retried_and_harms_nothing_else() {
    // Renderers with a 1 s deadline, and a report of 12,000 cassettes: each attempt overruns,
    // its renderer is killed and replaced.
    let s = tarea_testkit::TestServer::start_custom(tarea_runtime::RuntimeConfig::default(), |registry, store| {
        let mut config = tarea_docs::RenderConfig::new(tarea_testkit::tarea_binary(), vec!["render-worker".into()]);
        config.processes = 1;
        config.timeout = std::time::Duration::from_secs(1);
        let pool = tarea_docs::RenderPool::new(config);
        registry.register("pdf.render", tarea_docs::PdfRender::new(pool, std::sync::Arc::clone(store)));
    })
    .await;
    let c = crate::common::Client { http: reqwest::Client::new(), key: s.key("acme", false).await };
    let mut data = sample("lab-report");
    let cassette = json!({"code": "C1", "tissue": "Mama", "observations": "Sin particularidades."});
    data["cassettes"] = Value::Array(vec![cassette; 12_000]);
    let job = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "pdf.render", "max_attempts": 5, "retry": {"base_ms": 10, "max_ms": 10},
            "payload": {"template": "lab-report", "data": data}}),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let done = c.finished_id(&s, id).await;
    let done = if done["state"] == "failed" {
        // The first kill is retried after 10 ms; wait for the second.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let j = c.get(&s, &format!("/v1/jobs/{id}")).await;
            if j["state"] == "dead" || j["state"] == "succeeded" {
                break j;
            }
            assert!(std::time::Instant::now() < deadline, "{j}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    } else {
        done
    };
    assert_eq!(done["state"], "dead", "{done}");
    assert_eq!(done["attempt"], 2, "killed twice, then given up: {done}");
    assert_eq!(done["error"]["code"], "render_killed");
    let m = done["error"]["message"].as_str().unwrap();
    assert!(m.contains("deadline") && m.contains("not retried"), "{m}");

    // The server and a fresh renderer carry on.
    let ok = c.finished(&s, "pdf.render", json!({"template": "work-order", "data": sample("work-order")})).await;
    assert_eq!(ok["state"], "succeeded", "{ok}");
}
