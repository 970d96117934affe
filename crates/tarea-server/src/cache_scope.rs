//! Cache keys of template kinds are bound to the template version they render.
//!
//! A `pdf.render` or `label.render` job with a `cache_key` gets the template's version
//! appended (`orden-871|work-order@0.1a2b3c4d`), and its payload pins that version, so a
//! cached PDF is reused only while the template is unchanged and the job renders exactly the
//! version its key names. Built-in templates are version 0 with a hash of their source; a
//! payload that names another version keeps it.
use serde_json::Value;
use serde_json::value::RawValue;
use tarea_core::JobSpec;

use crate::state::AppState;

/// The kinds whose payload names a template, and the template they use when it names none.
const TEMPLATE_KINDS: &[(&str, Option<&str>)] = &[("pdf.render", None), ("label.render", Some("reception-label"))];

/// Appends the template version to the spec's cache key and pins it in the payload.
pub(crate) fn bind(state: &AppState, spec: &mut JobSpec) {
    let Some((_, default)) = TEMPLATE_KINDS.iter().find(|(k, _)| *k == spec.kind) else { return };
    let Ok(Value::Object(mut payload)) = serde_json::from_str::<Value>(spec.payload.get()) else { return };
    let Some(name) = payload.get("template").and_then(Value::as_str).or(*default).map(str::to_owned) else { return };
    let label = match payload.get("version").and_then(Value::as_u64) {
        Some(v) if v != 0 => v.to_string(),
        _ => state.template_versions.get(&name).cloned().unwrap_or_else(|| "0".into()),
    };
    if payload.get("version").is_none() {
        let version = label.split('.').next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        payload.insert("version".into(), version.into());
        if let Ok(raw) = RawValue::from_string(Value::Object(payload).to_string()) {
            spec.payload = raw;
        }
    }
    if let Some(key) = spec.cache_key.take() {
        spec.cache_key = Some(format!("{key}|{name}@{label}"));
    }
}
