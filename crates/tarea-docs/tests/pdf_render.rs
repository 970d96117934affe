//! `pdf.render` and `label.render` against a real server on 127.0.0.1:0 with real renderer
//! processes: the PDF read back with pdftotext, the labels' QR codes with zbarimg, and bad
//! input that fails the job with a message naming the field and the template line.
mod common;

use std::process::Command;

use common::setup;
use serde_json::{Value, json};

fn sample(name: &str) -> Value {
    serde_json::from_str(tarea_render::builtin::builtin(name).unwrap().sample).unwrap()
}

fn tool(pdf: &[u8], f: impl FnOnce(&std::path::Path) -> Command) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = f(&path).output().expect("poppler-utils and zbar-tools (scripts/test installs them)");
    String::from_utf8(out.stdout).unwrap()
}

fn pdf_text(pdf: &[u8]) -> String {
    tool(pdf, |p| {
        let mut c = Command::new("pdftotext");
        c.arg(p).arg("-");
        c
    })
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
    // An unknown template.
    let job = c.finished(&s, "pdf.render", json!({"template": "no-existe", "data": {}})).await;
    assert_eq!(job["state"], "dead", "{job}");
    assert_eq!(job["error"]["code"], "unknown_template");
    assert!(job["error"]["message"].as_str().unwrap().contains("lab-report"), "names the ones there are: {job}");

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

async fn job_artifacts_none(c: &common::Client, s: &tarea_testkit::TestServer) -> bool {
    let jobs = c.get(s, "/v1/jobs?state=dead&limit=100").await;
    jobs["jobs"].as_array().unwrap().iter().all(|j| j["artifacts"].as_array().is_none_or(|a| a.is_empty()))
}
