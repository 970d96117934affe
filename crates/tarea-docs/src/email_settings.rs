//! A tenant's e-mail setting (`PUT /v1/settings/email`): the SMTP server it sends through and
//! the sender it sends as. Stored as JSON in the job store; checked here, where it is used.
use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tarea_core::PayloadError;

/// The name the setting is stored under.
pub const EMAIL_SETTING: &str = "email";

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine or network.
    None,
}

/// A tenant's SMTP server and sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The server's host name.
    pub host: String,
    /// Its port; default 587 (`starttls`), 465 (`tls`) or 25 (`none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// User for AUTH, if the server asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Its password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The sender: `Laboratorio <informes@lab.example>`.
    pub from: String,
    /// Where replies go, unless a message says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// A certificate authority (PEM) to trust besides the bundled Mozilla roots: for a relay
    /// with a certificate of the organisation's own CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// Seconds an SMTP conversation may take before it counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

fn mailbox(field: &str, value: &str) -> Result<Mailbox, PayloadError> {
    Mailbox::from_str(value.trim()).map_err(|e| {
        PayloadError::new(
            field,
            format!(
                "{value:?} is not an e-mail address ({e}); write it as lab@example.com or Laboratorio <lab@example.com>"
            ),
        )
    })
}

impl EmailSettings {
    /// Reads and checks a setting; errors name the field.
    pub fn parse(value: &Value) -> Result<EmailSettings, PayloadError> {
        let s: EmailSettings =
            serde_json::from_value(value.clone()).map_err(|e| PayloadError::new("", format!("{e}")))?;
        if s.host.trim().is_empty() || s.host.contains(['/', ' ', '@']) {
            return Err(PayloadError::new("host", "host must be the SMTP server's name, e.g. smtp.example.com"));
        }
        if s.username.is_some() != s.password.is_some() {
            return Err(PayloadError::new("password", "give both username and password, or neither"));
        }
        mailbox("from", &s.from)?;
        if let Some(r) = &s.reply_to {
            mailbox("reply_to", r)?;
        }
        if let Some(pem) = &s.ca_pem {
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(PayloadError::new(
                    "ca_pem",
                    "ca_pem must hold a PEM certificate (-----BEGIN CERTIFICATE-----)",
                ));
            }
            Certificate::from_pem(pem.as_bytes())
                .map_err(|e| PayloadError::new("ca_pem", format!("ca_pem is not a PEM certificate: {e}")))?;
            if s.tls == SmtpTls::None {
                return Err(PayloadError::new("ca_pem", "ca_pem needs tls starttls or tls"));
            }
        }
        Ok(s)
    }

    /// The sender.
    pub fn from_mailbox(&self) -> Result<Mailbox, PayloadError> {
        mailbox("from", &self.from)
    }

    /// The default reply-to, if any.
    pub fn reply_to_mailbox(&self) -> Result<Option<Mailbox>, PayloadError> {
        self.reply_to.as_deref().map(|r| mailbox("reply_to", r)).transpose()
    }

    /// The setting as `GET` shows it: the password hidden.
    pub fn redacted(&self) -> Value {
        let mut shown = self.clone();
        shown.password = shown.password.map(|_| "********".into());
        serde_json::to_value(shown).unwrap_or(Value::Null)
    }

    /// A pooled transport to this server.
    pub fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        let host = self.host.trim();
        let mut builder = match self.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(25),
        };
        if let Some(pem) = &self.ca_pem {
            let params = TlsParameters::builder(host.to_owned())
                .add_root_certificate(Certificate::from_pem(pem.as_bytes())?)
                .build_rustls()?;
            builder = builder.tls(match self.tls {
                SmtpTls::Tls => Tls::Wrapper(params),
                _ => Tls::Required(params),
            });
        }
        if let Some(port) = self.port {
            builder = builder.port(port);
        }
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn settings_are_checked_and_shown_without_the_password() {
        let good = json!({"host": "smtp.example.com", "tls": "starttls", "username": "lab", "password": "secreto",
            "from": "Laboratorio <informes@lab.example>"});
        let s = EmailSettings::parse(&good).unwrap();
        assert_eq!(s.redacted()["password"], "********");
        assert!(s.transport().is_ok());
        let bad = [
            (json!({"host": "smtp.example.com", "tls": "starttls", "from": "no es una dirección"}), "from"),
            (json!({"host": "", "tls": "none", "from": "a@b.c"}), "host"),
            (json!({"host": "h", "tls": "none", "from": "a@b.c", "username": "u"}), "password"),
            (json!({"host": "h", "tls": "none", "from": "a@b.c", "reply_to": "x@"}), "reply_to"),
            (json!({"host": "h", "tls": "ssl", "from": "a@b.c"}), ""),
            (json!({"host": "h", "tls": "starttls", "from": "a@b.c", "ca_pem": "no es un certificado"}), "ca_pem"),
        ];
        for (v, field) in bad {
            assert_eq!(EmailSettings::parse(&v).unwrap_err().field, field, "{v}");
        }
    }
}
