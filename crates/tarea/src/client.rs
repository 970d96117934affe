//! `tarea jobs …`: a thin client of a running server. Prints the server's JSON; an API error
//! is printed as the server worded it and exits with code 1.
use anyhow::{Context, bail};
use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Map, Value, json};

use crate::cli::{JobsCommand, RemoteArgs};

fn request(remote: &RemoteArgs, method: Method, path: &str) -> RequestBuilder {
    let url = format!("{}{}", remote.url.trim_end_matches('/'), path);
    Client::new().request(method, url).bearer_auth(&remote.key)
}

async fn send(req: RequestBuilder) -> anyhow::Result<()> {
    let res = req.send().await.context("could not reach the tarea server (is it running? check --url)")?;
    let status = res.status();
    let body: Value = res.json().await.context("the server answered something that is not JSON")?;
    if !status.is_success() {
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or("");
        bail!("{status}: {code}: {message}");
    }
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(())
}

pub async fn run(cmd: JobsCommand) -> anyhow::Result<()> {
    match cmd {
        JobsCommand::Enqueue {
            kind,
            queue,
            payload,
            priority,
            delay_ms,
            max_attempts,
            idempotency_key,
            tags,
            remote,
        } => {
            let mut body = Map::new();
            body.insert("kind".into(), json!(kind));
            if let Some(p) = payload {
                let v: Value = serde_json::from_str(&p).context("--payload is not valid JSON")?;
                body.insert("payload".into(), v);
            }
            let optional = [
                ("queue", queue.map(Value::from)),
                ("priority", priority.map(Value::from)),
                ("delay_ms", delay_ms.map(Value::from)),
                ("max_attempts", max_attempts.map(Value::from)),
                ("idempotency_key", idempotency_key.map(Value::from)),
            ];
            for (k, v) in optional {
                if let Some(v) = v {
                    body.insert(k.into(), v);
                }
            }
            if !tags.is_empty() {
                body.insert("tags".into(), json!(tags));
            }
            send(request(&remote, Method::POST, "/v1/jobs").json(&body)).await
        }
        JobsCommand::Get { id, remote } => send(request(&remote, Method::GET, &format!("/v1/jobs/{id}"))).await,
        JobsCommand::List { state, queue, kind, tag, limit, cursor, remote } => {
            let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string())];
            for (k, v) in [("state", state), ("queue", queue), ("kind", kind), ("tag", tag), ("cursor", cursor)] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            send(request(&remote, Method::GET, "/v1/jobs").query(&q)).await
        }
        JobsCommand::Cancel { id, remote } => {
            send(request(&remote, Method::POST, &format!("/v1/jobs/{id}/cancel"))).await
        }
        JobsCommand::Retry { id, remote } => {
            send(request(&remote, Method::POST, &format!("/v1/jobs/{id}/retry"))).await
        }
    }
}
