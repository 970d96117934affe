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

    /// Waits (up to 30 s) for job `id` to end, then for the job its chain made next, and
    /// answers that one ended.
    pub async fn finished_next(&self, s: &TestServer, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        let next = loop {
            let j = self.get(s, &format!("/v1/jobs/{id}")).await;
            if let Some(n) = j["next_id"].as_str() {
                break n.to_owned();
            }
            assert!(Instant::now() < deadline, "job {id} made no next job: {j}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.finished_id(s, &next).await
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

/// Uploads `bytes` as `filename` (`POST /v1/uploads`); answers the upload's id.
pub async fn upload(s: &TestServer, c: &Client, filename: &str, bytes: Vec<u8>) -> String {
    let res = c
        .http
        .post(s.url(&format!("/v1/uploads?filename={filename}")))
        .bearer_auth(&c.key)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// The content of the artifact whose id is `artifact` (a JSON string).
pub async fn download(s: &TestServer, c: &Client, artifact: &Value) -> Vec<u8> {
    let url = s.url(&format!("/v1/artifacts/{}/content", artifact.as_str().unwrap()));
    let res = c.http.get(url).bearer_auth(&c.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
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
