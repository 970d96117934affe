//! `email.send` against a real SMTP conversation (the testkit's server on 127.0.0.1): the
//! users' "finalize report" flow (render, then e-mail the PDF), refusals retried or not by the
//! server's reply, and bad input refused at enqueue.
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tarea_testkit::{SmtpSink, TestServer};

use crate::common::{Client, setup};

async fn configure(s: &TestServer, c: &Client, smtp: &SmtpSink) {
    let body = json!({"host": "127.0.0.1", "port": smtp.addr.port(), "tls": "none", "username": "lab",
        "password": "secreto", "from": "Laboratorio de Patología <informes@lab.example>"});
    let res = c.http.put(s.url("/v1/settings/email")).bearer_auth(&c.key).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let shown: Value = res.json().await.unwrap();
    assert_eq!(shown["password"], "********", "{shown}");
}

async fn wait_state(s: &TestServer, c: &Client, id: &str, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = c.get(s, &format!("/v1/jobs/{id}")).await;
        if states.contains(&j["state"].as_str().unwrap_or("")) {
            return j;
        }
        assert!(Instant::now() < deadline, "job never reached {states:?}: {j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn lab_report() -> Value {
    serde_json::from_str(tarea_render::builtin::builtin("lab-report").unwrap().sample).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_rendered_then_mailed_with_the_pdf_attached() {
    let (s, c) = setup().await;
    let smtp = SmtpSink::start(Some(("lab", "secreto"))).await;
    configure(&s, &c, &smtp).await;
    let report = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "pdf.render", "payload": {"template": "lab-report", "data": lab_report(), "filename": "informe.pdf"},
                "then": {"kind": "email.send", "queue": "correo", "payload": {
                    "to": ["Dra. Pérez <perez@clinica.example>"], "cc": ["archivo@lab.example"],
                    "subject": "Informe {{ protocolo }} listo",
                    "text": "Estimada {{ veterinaria }}:\nAdjuntamos el informe ({{ parent.result.pages }} páginas).",
                    "html": "<p>Estimada {{ veterinaria }}: adjuntamos el informe.</p>",
                    "data": {"protocolo": "HP 26/01234", "veterinaria": "Dra. Pérez <&>"},
                    "attachments": [{"parent_artifacts": true}]}}}),
        )
        .await;
    let report = wait_state(&s, &c, report["id"].as_str().unwrap(), &["succeeded", "dead"]).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    let pdf = c.content(&s, &report).await;
    let report = wait_state(&s, &c, report["id"].as_str().unwrap(), &["succeeded"]).await;
    let mail_id = loop {
        let r = c.get(&s, &format!("/v1/jobs/{}", report["id"].as_str().unwrap())).await;
        if let Some(id) = r["next_id"].as_str() {
            break id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mail = wait_state(&s, &c, &mail_id, &["succeeded", "dead"]).await;
    assert_eq!(mail["state"], "succeeded", "{mail}");
    assert_eq!(mail["result"]["attachments"][0]["filename"], "informe.pdf");
    assert!(mail["result"]["response"].as_str().unwrap().starts_with("250"), "{mail}");

    let got = smtp.wait_for(1).await;
    let m = &got[0];
    assert!(m.authenticated);
    assert_eq!(m.from, "informes@lab.example");
    assert_eq!(m.to, ["perez@clinica.example", "archivo@lab.example"]);
    let parsed = mailparse::parse_mail(&m.data).unwrap();
    let header =
        |name: &str| parsed.headers.iter().find(|h| h.get_key().eq_ignore_ascii_case(name)).map(|h| h.get_value());
    assert_eq!(header("Subject").as_deref(), Some("Informe HP 26/01234 listo"));
    let parts: Vec<_> = parsed.parts().collect();
    let text = parts.iter().find(|p| p.ctype.mimetype == "text/plain").unwrap().get_body().unwrap();
    assert!(text.contains("Estimada Dra. Pérez <&>:"), "{text}");
    assert!(text.contains("páginas"), "{text}");
    let html = parts.iter().find(|p| p.ctype.mimetype == "text/html").unwrap().get_body().unwrap();
    assert!(html.contains("Dra. Pérez &lt;&amp;&gt;"), "the HTML body escapes data: {html}");
    let attachment = parts.iter().find(|p| p.ctype.mimetype == "application/pdf").expect("a PDF part");
    assert_eq!(attachment.get_body_raw().unwrap(), pdf, "the attachment is the rendered PDF, byte for byte");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_refusals_fail_with_the_servers_reply_or_are_retried() {
    let (s, c) = setup().await;
    let smtp = SmtpSink::start(None).await;
    let body = json!({"host": "127.0.0.1", "port": smtp.addr.port(), "tls": "none", "from": "informes@lab.example"});
    c.http.put(s.url("/v1/settings/email")).bearer_auth(&c.key).json(&body).send().await.unwrap();

    let refused = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "email.send", "payload": {"to": ["rechazado@clinica.example"],
            "subject": "Informe", "text": "Hola"}}),
        )
        .await;
    let refused = wait_state(&s, &c, refused["id"].as_str().unwrap(), &["dead"]).await;
    assert_eq!(refused["error"]["code"], "smtp_refused");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("550") && message.contains("User unknown"), "{message}");
    assert_eq!(refused["attempt"], 1, "a permanent refusal is not retried");

    let busy = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "email.send", "max_attempts": 2, "retry": {"base_ms": 10, "max_ms": 20},
            "payload": {"to": ["ocupado@clinica.example"], "subject": "Informe", "text": "Hola"}}),
        )
        .await;
    let busy = wait_state(&s, &c, busy["id"].as_str().unwrap(), &["dead"]).await;
    assert_eq!(busy["error"]["code"], "smtp_unavailable");
    assert_eq!(busy["attempt"], 2, "a transient refusal is retried");

    // Data the template names but the job lacks: the job fails naming it, nothing is sent.
    let missing = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "email.send", "payload": {"to": ["vet@clinica.example"],
            "subject": "Informe {{ protocolo }}", "text": "Hola", "data": {}}}),
        )
        .await;
    let missing = wait_state(&s, &c, missing["id"].as_str().unwrap(), &["dead"]).await;
    assert_eq!(missing["error"]["code"], "template_error", "{missing}");
    assert!(smtp.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_emails_are_refused_at_enqueue_and_write_nothing() {
    let (s, c) = setup().await;
    let other = s.key("other", false).await;
    let theirs = c.rows_artifact(&s, "x".into()).await;
    let cases = [
        (json!({"to": ["vet@clinica.example", "no es una dirección"], "subject": "s", "text": "t"}), "payload.to[1]"),
        (json!({"to": ["vet@clinica.example"], "subject": "s"}), "payload.text"),
        (
            json!({"to": ["vet@clinica.example"], "subject": "s", "text": "t", "attachments": [{"artifact": theirs}]}),
            "payload.attachments[0].artifact",
        ),
        (json!({"to": ["vet@clinica.example"], "subject": "s", "text": "t", "adjuntos": []}), "payload"),
    ];
    for (payload, field) in cases {
        let res = c
            .http
            .post(s.url("/v1/jobs"))
            .bearer_auth(&other)
            .json(&json!({"kind": "email.send", "payload": payload}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["details"]["field"], field, "{v}");
    }
    // The same check guards a chain's next job.
    let res = c
        .http
        .post(s.url("/v1/jobs"))
        .bearer_auth(&c.key)
        .json(&json!({"kind": "tarea.noop", "then": {"kind": "email.send", "payload": {"to": ["x"], "subject": "s", "text": "t"}}}))
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["details"]["field"], "then.payload.to[0]", "{v}");
    let listed = c.http.get(s.url("/v1/jobs")).bearer_auth(&other).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(listed["jobs"], json!([]), "nothing was written");

    // Settings are checked too, and a tenant without them is told how to fix it.
    let res = c
        .http
        .put(s.url("/v1/settings/email"))
        .bearer_auth(&other)
        .json(&json!({"host": "127.0.0.1", "tls": "none", "from": "no es una dirección"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["details"]["field"], "from");
    let res = c.http.get(s.url("/v1/settings/email")).bearer_auth(&other).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = c.http.get(s.url("/v1/settings/sms")).bearer_auth(&other).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let job = c
        .http
        .post(s.url("/v1/jobs"))
        .bearer_auth(&other)
        .json(&json!({"kind": "email.send", "payload": {"to": ["vet@clinica.example"], "subject": "s", "text": "t"}}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let other_client = Client { http: c.http.clone(), key: other };
    let job = wait_state(&s, &other_client, job["id"].as_str().unwrap(), &["dead"]).await;
    assert_eq!(job["error"]["code"], "email_not_configured");
    assert!(job["error"]["message"].as_str().unwrap().contains("PUT /v1/settings/email"), "{job}");
}
