//! `tarea jobs …` and `tarea schedules …`: a thin client of a running server. Prints the server's JSON; an API error
//! is printed as the server worded it and exits with code 1.
use anyhow::{Context, bail};
use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Map, Value, json};

use crate::cli::{JobsCommand, RemoteArgs, SchedulesCommand};

fn request(remote: &RemoteArgs, method: Method, path: &str) -> RequestBuilder {
    let url = format!("{}{}", remote.url.trim_end_matches('/'), path);
    Client::new().request(method, url).bearer_auth(&remote.key)
}

async fn send(req: RequestBuilder) -> anyhow::Result<()> {
    let res = req.send().await.context("could not reach the tarea server (is it running? check --url)")?;
    let status = res.status();
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(());
    }
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

/// The body of `PUT /v1/schedules/{name}` from the command line.
fn schedule_body(cmd: &SchedulesCommand) -> anyhow::Result<Value> {
    let SchedulesCommand::Put { cron, timezone, kind, queue, payload, priority, tags, missed, paused, .. } = cmd else {
        bail!("not a put");
    };
    let mut job = Map::new();
    job.insert("kind".into(), json!(kind));
    if let Some(p) = payload {
        job.insert("payload".into(), serde_json::from_str(p).context("--payload is not valid JSON")?);
    }
    if let Some(q) = queue {
        job.insert("queue".into(), json!(q));
    }
    if let Some(p) = priority {
        job.insert("priority".into(), json!(p));
    }
    if !tags.is_empty() {
        job.insert("tags".into(), json!(tags));
    }
    let mut body = Map::new();
    body.insert("cron".into(), json!(cron));
    body.insert("job".into(), Value::Object(job));
    if let Some(t) = timezone {
        body.insert("timezone".into(), json!(t));
    }
    if let Some(m) = missed {
        body.insert("missed".into(), json!(m));
    }
    if *paused {
        body.insert("paused".into(), json!(true));
    }
    Ok(Value::Object(body))
}

pub async fn run_schedules(cmd: SchedulesCommand) -> anyhow::Result<()> {
    let path = |name: &str, action: &str| format!("/v1/schedules/{name}{action}");
    match &cmd {
        SchedulesCommand::Put { name, remote, .. } => {
            let body = schedule_body(&cmd)?;
            send(request(remote, Method::PUT, &path(name, "")).json(&body)).await
        }
        SchedulesCommand::List { remote } => send(request(remote, Method::GET, "/v1/schedules")).await,
        SchedulesCommand::Get { name, remote } => send(request(remote, Method::GET, &path(name, ""))).await,
        SchedulesCommand::Pause { name, remote } => send(request(remote, Method::POST, &path(name, "/pause"))).await,
        SchedulesCommand::Resume { name, remote } => send(request(remote, Method::POST, &path(name, "/resume"))).await,
        SchedulesCommand::Run { name, remote } => send(request(remote, Method::POST, &path(name, "/run"))).await,
        SchedulesCommand::Delete { name, remote } => send(request(remote, Method::DELETE, &path(name, ""))).await,
    }
}
