//! The tenant settings the built-in kinds use, checked for `PUT /v1/settings/{name}` by the
//! code that reads them: `email` (`email.send`), `http` (`http.request` and webhooks) and
//! `uploads` (the upload limit `POST /v1/uploads` reads).
use serde_json::Value;
use tarea_core::{PayloadError, SettingCheck};

use crate::email_settings::{EMAIL_SETTING, EmailSettings};
use crate::http_policy::{HTTP_SETTING, HttpSettings};

/// The tenant's upload limit (`{"max_bytes"}`), read by `POST /v1/uploads`.
pub const UPLOADS_SETTING: &str = "uploads";

/// Checks the settings of the built-in kinds.
#[derive(Debug, Default)]
pub struct DocsSettings;

impl SettingCheck for DocsSettings {
    fn names(&self) -> &'static [&'static str] {
        &[EMAIL_SETTING, HTTP_SETTING, UPLOADS_SETTING]
    }

    fn check(&self, name: &str, value: &Value, previous: Option<&Value>) -> Result<Value, PayloadError> {
        match name {
            EMAIL_SETTING => Ok(serde_json::to_value(EmailSettings::parse(value)?).unwrap_or(Value::Null)),
            HTTP_SETTING => Ok(serde_json::to_value(HttpSettings::parse(value, previous)?).unwrap_or(Value::Null)),
            UPLOADS_SETTING => {
                let max = value.get("max_bytes").and_then(Value::as_u64).filter(|n| *n > 0);
                match (max, value.as_object().map(|o| o.len())) {
                    (Some(max), Some(1)) => Ok(serde_json::json!({ "max_bytes": max })),
                    _ => Err(PayloadError::new("max_bytes", "uploads takes {\"max_bytes\": N}, N above 0")),
                }
            }
            _ => Err(PayloadError::new("", format!("no setting {name:?}; the settings are: email, http, uploads"))),
        }
    }

    /// E-mail's password is hidden; the `http` signing secret is shown: the tenant's app
    /// needs it to check signatures.
    fn redact(&self, name: &str, stored: &Value) -> Value {
        match name {
            EMAIL_SETTING => EmailSettings::parse(stored).map(|s| s.redacted()).unwrap_or(Value::Null),
            HTTP_SETTING | UPLOADS_SETTING => stored.clone(),
            _ => Value::Null,
        }
    }
}
