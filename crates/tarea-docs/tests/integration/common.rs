//! What the document kinds' tests share: a server on 127.0.0.1:0 and a client that runs a job
//! to its end and downloads what it made.
#![allow(dead_code)]
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tarea_testkit::TestServer;

pub struct Client {
    pub http: reqwest::Client,
    pub key: String,
}

pub async fn setup() -> (TestServer, Client) {
    let s = TestServer::start().await;
    let key = s.key("acme", false).await;
    (s, Client { http: reqwest::Client::new(), key })
}

impl Client {
    pub async fn post(&self, s: &TestServer, path: &str, body: Value) -> Value {
        let res = self.http.post(s.url(path)).bearer_auth(&self.key).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    pub async fn get(&self, s: &TestServer, path: &str) -> Value {
        self.http.get(s.url(path)).bearer_auth(&self.key).send().await.unwrap().json().await.unwrap()
    }

    /// Runs a job of `kind` and waits (up to 30 s) until it succeeds, fails or dies.
    pub async fn finished(&self, s: &TestServer, kind: &str, payload: Value) -> Value {
        let job = self.post(s, "/v1/jobs", json!({"kind": kind, "payload": payload})).await;
        self.finished_id(s, job["id"].as_str().unwrap()).await
    }

    /// Waits (up to 30 s) until job `id` succeeds, fails or dies.
    pub async fn finished_id(&self, s: &TestServer, id: &str) -> Value {
        let kind = "job";
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let j = self.get(s, &format!("/v1/jobs/{id}")).await;
            if ["succeeded", "dead", "failed"].contains(&j["state"].as_str().unwrap()) {
                return j;
            }
            assert!(Instant::now() < deadline, "the {kind} job did not finish: {j}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The content of a job's first artifact.
    pub async fn content(&self, s: &TestServer, job: &Value) -> Vec<u8> {
        let url = s.url(job["artifacts"][0]["content_url"].as_str().unwrap());
        self.http.get(url).bearer_auth(&self.key).send().await.unwrap().bytes().await.unwrap().to_vec()
    }

    /// Leaves `body` as an artifact of the tenant, the way an external worker does: the id.
    pub async fn rows_artifact(&self, s: &TestServer, body: String) -> Value {
        self.post(s, "/v1/jobs", json!({"kind": "app.rows", "queue": "filas"})).await;
        let claimed = self.post(s, "/v1/worker/claim", json!({"queues": ["filas"]})).await;
        let job = &claimed["jobs"][0];
        let url = s.url(&format!(
            "/v1/jobs/{}/artifacts?attempt={}&filename=filas.jsonl",
            job["id"].as_str().unwrap(),
            job["attempt"]
        ));
        let a: Value =
            self.http.post(url).bearer_auth(&self.key).body(body).send().await.unwrap().json().await.unwrap();
        a["id"].clone()
    }
}

/// The text of a PDF, read back with pdftotext (poppler-utils; `scripts/test` installs it).
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("poppler-utils (scripts/test installs it)");
    String::from_utf8(out.stdout).unwrap()
}
