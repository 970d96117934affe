//! Tests of the real `tarea` binary: crash safety under SIGKILL, graceful SIGTERM, the CLI.
mod artifacts;
mod cli;
mod cluster;
mod crash;
mod sigterm;
mod traces;

use std::time::Duration;

use serde_json::Value;

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

pub async fn get_json(http: &reqwest::Client, url: &str, key: &str) -> Value {
    http.get(url).bearer_auth(key).send().await.unwrap().json().await.unwrap()
}

pub async fn post_json(http: &reqwest::Client, url: &str, key: &str, body: Value) -> (u16, Value) {
    let res = http.post(url).bearer_auth(key).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}
