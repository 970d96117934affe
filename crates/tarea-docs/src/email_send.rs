//! `email.send`: one message through the tenant's SMTP server (`PUT /v1/settings/email`).
//!
//! Payload: `{"to": [addr], "cc"?, "bcc"?, "reply_to"?, "subject", "text"?, "html"?, "data"?,
//! "attachments"?: [{"artifact": id, "filename"?} | {"parent_artifacts": true}]}`. The subject
//! and bodies are minijinja templates rendered with `data` (and `parent`, in a chain): a field
//! they name that is missing fails the job, naming it, instead of sending a blank. The HTML
//! body is escaped; the template's run is bounded (fuel), since it is the tenant's code.
//!
//! Result: `{"message_id", "recipients", "response", "attachments": [{"artifact", "filename",
//! "bytes"}]}`.
//!
//! Failures say what happens next: a 4xx reply, a timeout or a lost connection is retried with
//! backoff; a 5xx reply (a mailbox that does not exist, a message refused) fails the job with
//! the server's reply. Bulk sending is paced by the queue's `rate_limit`.
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::StreamExt;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tarea_core::{ArtifactId, Handler, HandlerError, JobContext, PayloadError, Store};

use crate::email_settings::{EMAIL_SETTING, EmailSettings};

/// Most bytes of attachments in one message (what common SMTP servers accept).
pub const ATTACHMENTS_MAX_BYTES: u64 = 20 << 20;
/// Most recipients (to, cc and bcc together) of one message.
pub const RECIPIENTS_MAX: usize = 100;
/// Template instructions one message may spend rendering its subject and bodies.
const TEMPLATE_FUEL: u64 = 200_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailPayload {
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    bcc: Vec<String>,
    reply_to: Option<String>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    attachments: Vec<AttachmentSpec>,
    /// Added by a chain: the job before this one.
    parent: Option<Parent>,
    /// Added to a batch's `on_complete` job: how the batch ended (templates read `batch`).
    batch: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum AttachmentSpec {
    Artifact { artifact: ArtifactId, filename: Option<String> },
    Parent { parent_artifacts: bool },
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct Parent {
    id: Value,
    #[serde(default)]
    kind: Value,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    artifacts: Vec<ArtifactId>,
}

fn payload_of(raw: &RawValue) -> Result<EmailPayload, PayloadError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        PayloadError::new(
            "",
            format!("email.send wants {{\"to\": [...], \"subject\", \"text\" or \"html\", ...}}: {e}"),
        )
    })
}

fn mailbox(field: &str, value: &str) -> Result<Mailbox, PayloadError> {
    Mailbox::from_str(value.trim())
        .map_err(|e| PayloadError::new(field, format!("{value:?} is not an e-mail address ({e})")))
}

/// Checks what can be checked without the server: addresses, a body, attachment counts.
fn check_payload(p: &EmailPayload) -> Result<(), PayloadError> {
    if p.to.is_empty() {
        return Err(PayloadError::new("to", "to needs at least one address"));
    }
    if p.to.len() + p.cc.len() + p.bcc.len() > RECIPIENTS_MAX {
        return Err(PayloadError::new("to", format!("at most {RECIPIENTS_MAX} recipients per message; send a batch")));
    }
    for (field, list) in [("to", &p.to), ("cc", &p.cc), ("bcc", &p.bcc)] {
        for (i, a) in list.iter().enumerate() {
            mailbox(&format!("{field}[{i}]"), a)?;
        }
    }
    if let Some(r) = &p.reply_to {
        mailbox("reply_to", r)?;
    }
    if p.subject.trim().is_empty() {
        return Err(PayloadError::new("subject", "subject is empty"));
    }
    if p.text.is_none() && p.html.is_none() {
        return Err(PayloadError::new("text", "give text, html or both"));
    }
    if p.attachments.len() > 100 {
        return Err(PayloadError::new("attachments", "at most 100 attachments"));
    }
    Ok(())
}

/// Renders one template of the message with the job's data; a missing field is named.
fn render(env: &minijinja::Environment<'_>, name: &str, source: &str, ctx: &Value) -> Result<String, HandlerError> {
    env.render_named_str(name, source, minijinja::Value::from(minijinja::value::Serde(ctx))).map_err(|e| {
        let line = e.line().map(|l| format!(" (line {l})")).unwrap_or_default();
        let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
        HandlerError::fatal(
            "template_error",
            format!("the {name} of the e-mail cannot be rendered{line}: {}{detail}", e.kind()),
        )
    })
}

/// The e-mail kind.
pub struct EmailSend {
    store: Arc<dyn Store>,
    /// Pooled transports by setting (a tenant's server changes when its setting does).
    transports: Mutex<HashMap<String, AsyncSmtpTransport<Tokio1Executor>>>,
}

impl EmailSend {
    /// Sends through the SMTP server each tenant sets in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        EmailSend { store, transports: Mutex::new(HashMap::new()) }
    }

    async fn settings(&self, tenant: &str) -> Result<EmailSettings, HandlerError> {
        let stored = self
            .store
            .setting_get(tenant, EMAIL_SETTING)
            .await
            .map_err(|e| HandlerError::retryable("store_unavailable", e.to_string()))?
            .ok_or_else(|| {
                HandlerError::fatal(
                    "email_not_configured",
                    "this tenant has no SMTP server: set one with PUT /v1/settings/email",
                )
            })?;
        let value: Value =
            serde_json::from_str(&stored).map_err(|e| HandlerError::fatal("email_not_configured", e.to_string()))?;
        EmailSettings::parse(&value).map_err(|e| HandlerError::fatal("email_not_configured", e.message))
    }

    fn transport(&self, settings: &EmailSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, HandlerError> {
        let key = serde_json::to_string(settings).unwrap_or_default();
        let mut map = self.transports.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = map.get(&key) {
            return Ok(t.clone());
        }
        let t = settings.transport().map_err(|e| {
            HandlerError::fatal("email_not_configured", format!("the SMTP setting cannot be used: {e}"))
        })?;
        map.insert(key, t.clone());
        Ok(t)
    }

    /// The attachments' bytes, opened in the job's tenant.
    async fn attachments(
        &self,
        ctx: &JobContext,
        p: &EmailPayload,
    ) -> Result<Vec<(ArtifactId, String, String, Vec<u8>)>, HandlerError> {
        let mut ids: Vec<(ArtifactId, Option<String>)> = Vec::new();
        for a in &p.attachments {
            match a {
                AttachmentSpec::Artifact { artifact, filename } => ids.push((*artifact, filename.clone())),
                AttachmentSpec::Parent { parent_artifacts: true } => {
                    let parent = p.parent.as_ref().ok_or_else(|| {
                        HandlerError::fatal("no_parent", "parent_artifacts needs a job made by a chain's then")
                    })?;
                    ids.extend(parent.artifacts.iter().map(|id| (*id, None)));
                }
                AttachmentSpec::Parent { parent_artifacts: false } => {}
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        let mut total = 0u64;
        for (id, filename) in ids {
            let (meta, mut stream) = ctx.artifacts.open(id).await?;
            total += meta.size;
            if total > ATTACHMENTS_MAX_BYTES {
                return Err(HandlerError::fatal(
                    "attachments_too_large",
                    format!(
                        "the attachments add up to more than {} MiB; send a signed link instead",
                        ATTACHMENTS_MAX_BYTES >> 20
                    ),
                ));
            }
            let mut bytes = Vec::with_capacity(meta.size as usize);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| HandlerError::retryable("artifact_unavailable", e.to_string()))?;
                bytes.extend_from_slice(&chunk);
            }
            let name = tarea_core::sanitize_filename(filename.as_deref().unwrap_or(&meta.filename), "adjunto");
            out.push((id, name, meta.content_type, bytes));
        }
        Ok(out)
    }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> HandlerError {
    if e.is_permanent() {
        HandlerError::fatal("smtp_refused", format!("the SMTP server refused the message: {e}"))
    } else {
        HandlerError::retryable("smtp_unavailable", format!("the SMTP server could not take the message now: {e}"))
    }
}

#[async_trait]
impl Handler for EmailSend {
    async fn check(&self, tenant: &str, payload: &RawValue) -> Result<(), PayloadError> {
        let p = payload_of(payload)?;
        check_payload(&p)?;
        for (i, a) in p.attachments.iter().enumerate() {
            if let AttachmentSpec::Artifact { artifact, .. } = a {
                let found = self.store.artifact_get(Some(tenant), *artifact).await.ok().flatten();
                if found.is_none() {
                    return Err(PayloadError::new(
                        format!("attachments[{i}].artifact"),
                        format!("no artifact {artifact} in this tenant"),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let p = payload_of(&ctx.payload).map_err(|e| HandlerError::fatal("invalid_payload", e.message))?;
        check_payload(&p).map_err(|e| HandlerError::fatal("invalid_payload", format!("{}: {}", e.field, e.message)))?;
        crate::step(&ctx, "Preparando el mensaje", 1, Some(3))?;
        let settings = self.settings(&ctx.tenant).await?;
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_fuel(Some(TEMPLATE_FUEL));
        let mut data = match &p.data {
            Value::Object(m) => m.clone(),
            Value::Null => serde_json::Map::new(),
            other => serde_json::Map::from_iter([("data".to_owned(), other.clone())]),
        };
        if let Some(parent) = &p.parent {
            data.insert("parent".into(), serde_json::to_value(parent).unwrap_or(Value::Null));
        }
        if let Some(batch) = &p.batch {
            data.insert("batch".into(), batch.clone());
        }
        let data = Value::Object(data);
        let subject = render(&env, "subject", &p.subject, &data)?;
        let text = p.text.as_deref().map(|t| render(&env, "text", t, &data)).transpose()?;
        let html = p.html.as_deref().map(|h| render(&env, "body.html", h, &data)).transpose()?;
        let files = self.attachments(&ctx, &p).await?;

        let invalid = |e: PayloadError| HandlerError::fatal("invalid_payload", format!("{}: {}", e.field, e.message));
        let mut builder = Message::builder().from(settings.from_mailbox().map_err(invalid)?).subject(subject);
        for (i, a) in p.to.iter().enumerate() {
            builder = builder.to(mailbox(&format!("to[{i}]"), a).map_err(invalid)?);
        }
        for (i, a) in p.cc.iter().enumerate() {
            builder = builder.cc(mailbox(&format!("cc[{i}]"), a).map_err(invalid)?);
        }
        for (i, a) in p.bcc.iter().enumerate() {
            builder = builder.bcc(mailbox(&format!("bcc[{i}]"), a).map_err(invalid)?);
        }
        let reply_to = match &p.reply_to {
            Some(r) => Some(mailbox("reply_to", r).map_err(invalid)?),
            None => settings.reply_to_mailbox().map_err(invalid)?,
        };
        if let Some(r) = reply_to {
            builder = builder.reply_to(r);
        }
        let body = match (text, html) {
            (Some(t), Some(h)) => MultiPart::alternative_plain_html(t, h),
            (Some(t), None) => MultiPart::mixed().singlepart(SinglePart::plain(t)),
            (None, Some(h)) => MultiPart::mixed().singlepart(SinglePart::html(h)),
            (None, None) => unreachable!("checked above"),
        };
        let mut attached = Vec::with_capacity(files.len());
        let mut message = MultiPart::mixed().multipart(body);
        for (id, name, content_type, bytes) in files {
            let ct = ContentType::parse(&content_type)
                .unwrap_or(ContentType::parse("application/octet-stream").expect("valid"));
            attached.push(serde_json::json!({"artifact": id, "filename": name, "bytes": bytes.len()}));
            message = message.singlepart(Attachment::new(name).body(bytes, ct));
        }
        let email = builder
            .multipart(message)
            .map_err(|e| HandlerError::fatal("invalid_payload", format!("the message cannot be built: {e}")))?;
        let message_id = email.headers().get_raw("Message-ID").map(str::to_owned);
        let recipients: Vec<String> = email.envelope().to().iter().map(ToString::to_string).collect();

        crate::step(&ctx, "Enviando", 2, Some(3))?;
        let transport = self.transport(&settings)?;
        let response = tokio::select! {
            r = transport.send(email) => r.map_err(smtp_error)?,
            _ = ctx.cancel.cancelled() => return Err(HandlerError::Cancelled),
        };
        crate::step(&ctx, "Enviado", 3, Some(3))?;
        let reply = format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "));
        let result = serde_json::json!({
            "message_id": message_id,
            "recipients": recipients,
            "response": reply,
            "attachments": attached,
        });
        Ok(serde_json::value::to_raw_value(&result).expect("JSON serializes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&v).unwrap()
    }

    #[test]
    fn payloads_are_checked_naming_the_field() {
        let ok = serde_json::json!({"to": ["vet@example.com", "Dra. Pérez <perez@example.com>"], "subject": "Informe",
            "text": "Hola {{ nombre }}", "attachments": [{"parent_artifacts": true}]});
        check_payload(&payload_of(&raw(ok)).unwrap()).unwrap();
        let cases = [
            (serde_json::json!({"to": [], "subject": "s", "text": "t"}), "to"),
            (serde_json::json!({"to": ["a@b.c", "no-es-direccion"], "subject": "s", "text": "t"}), "to[1]"),
            (serde_json::json!({"to": ["a@b.c"], "bcc": ["@x"], "subject": "s", "text": "t"}), "bcc[0]"),
            (serde_json::json!({"to": ["a@b.c"], "subject": " ", "text": "t"}), "subject"),
            (serde_json::json!({"to": ["a@b.c"], "subject": "s"}), "text"),
        ];
        for (v, field) in cases {
            assert_eq!(check_payload(&payload_of(&raw(v.clone())).unwrap()).unwrap_err().field, field, "{v}");
        }
        let e = payload_of(&raw(serde_json::json!({"to": ["a@b.c"], "subject": "s", "text": "t", "bogus": 1})))
            .unwrap_err();
        assert!(e.message.contains("bogus"), "{}", e.message);
    }

    #[test]
    fn templates_render_data_and_escape_html_and_name_what_is_missing() {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_fuel(Some(TEMPLATE_FUEL));
        let data = serde_json::json!({"protocolo": "HP 26/01234", "nombre": "<b>Firulais</b>"});
        assert_eq!(render(&env, "subject", "Informe {{ protocolo }}", &data).unwrap(), "Informe HP 26/01234");
        assert_eq!(
            render(&env, "body.html", "<p>{{ nombre }}</p>", &data).unwrap(),
            "<p>&lt;b&gt;Firulais&lt;&#x2f;b&gt;</p>"
        );
        let e = render(&env, "text", "Hola\n{{ veterinario.nombre }}", &data).unwrap_err();
        assert!(matches!(&e, HandlerError::Fatal(j) if j.message.contains("line 2")), "{e:?}");
        let e = render(
            &env,
            "text",
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            &data,
        );
        assert!(e.is_err(), "a runaway template is stopped");
    }
}
