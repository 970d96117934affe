//! Template kinds are bound to the template version current at enqueue.
//!
//! A `pdf.render` or `label.render` job that names no `version` gets the one current now
//! pinned in its payload: the tenant's newest upload of that name, or else the built-in
//! template (version 0). Its `cache_key` gets that version appended
//! (`orden-871|work-order@0.1a2b3c4d`, `orden-871|informe@3`), so a cached PDF is reused only
//! while the template is unchanged, and the job renders exactly the version its key names.
//! Built-in templates carry a hash of their source in the label, so a key never outlives a
//! template change that comes with a new release either.
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tarea_core::JobSpec;

use crate::ApiError;
use crate::state::AppState;

/// The kinds whose payload names a template, and the template they use when it names none.
const TEMPLATE_KINDS: &[(&str, Option<&str>)] = &[("pdf.render", None), ("label.render", Some("reception-label"))];

/// What this module reads of a payload (the rest is skipped, not parsed).
#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    template: Option<Value>,
    /// `None`: absent; `Some(Value::Null)`: present as `null`.
    #[serde(default, deserialize_with = "present")]
    version: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The suffix [`bind`] appends to a cache key, so a re-render can bind the original key anew.
pub(crate) fn unbound_key(key: &str) -> &str {
    key.rsplit_once('|').map_or(key, |(k, _)| k)
}

/// Pins the template version in a template kind's payload and appends it to the cache key.
/// A payload this cannot read is left for the handler to refuse with its own message.
pub(crate) async fn bind(state: &AppState, tenant: &str, spec: &mut JobSpec, prefix: &str) -> Result<(), ApiError> {
    let Some((_, default)) = TEMPLATE_KINDS.iter().find(|(k, _)| *k == spec.kind) else { return Ok(()) };
    // Only an object can be bound (serde would read a struct from an array too).
    if !spec.payload.get().trim_start().starts_with('{') {
        return Ok(());
    }
    let Ok(named) = serde_json::from_str::<Named>(spec.payload.get()) else { return Ok(()) };
    let name = match (&named.template, default) {
        (Some(Value::String(n)), _) => n.clone(),
        (None, Some(d)) => (*d).to_owned(),
        _ => return Ok(()),
    };
    let version = match &named.version {
        None | Some(Value::Null) => match state.store.template_latest(tenant, &name).await? {
            Some(v) => v,
            None if state.template_versions.contains_key(&name) => 0,
            None => {
                let mut builtin: Vec<&str> = state.template_versions.keys().map(String::as_str).collect();
                builtin.sort_unstable();
                let field =
                    if prefix.is_empty() { "payload.template".into() } else { format!("{prefix}.payload.template") };
                return Err(ApiError::field(
                    &field,
                    format!(
                        "there is no template {name:?}: upload it with PUT /v1/templates/{name}, or use a built-in one ({})",
                        builtin.join(", ")
                    ),
                ));
            }
        },
        Some(v) => match v.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(v) => v,
            None => return Ok(()),
        },
    };
    let label = match version {
        0 => state.template_versions.get(&name).cloned().unwrap_or_else(|| "0".into()),
        v => v.to_string(),
    };
    if named.version.is_none() {
        // Spliced in after the opening brace: the payload is not parsed and written again.
        let raw = spec.payload.get();
        let rest = &raw[raw.find('{').map_or(0, |open| open + 1)..];
        let sep = if rest.trim_start().starts_with('}') { "" } else { "," };
        let pinned = format!("{{\"version\":{version}{sep}{rest}");
        spec.payload = RawValue::from_string(pinned).map_err(|e| ApiError::internal(e.to_string()))?;
    } else if named.version == Some(Value::Null) {
        let mut payload: Value =
            serde_json::from_str(spec.payload.get()).map_err(|e| ApiError::internal(e.to_string()))?;
        payload["version"] = version.into();
        spec.payload = serde_json::value::to_raw_value(&payload).map_err(|e| ApiError::internal(e.to_string()))?;
    }
    if let Some(key) = spec.cache_key.take() {
        spec.cache_key = Some(format!("{key}|{name}@{label}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_given_as_null_is_present_and_an_absent_one_is_not() {
        let null: Named = serde_json::from_str(r#"{"template": "x", "version": null}"#).unwrap();
        assert_eq!(null.version, Some(Value::Null));
        let absent: Named = serde_json::from_str(r#"{"template": "x"}"#).unwrap();
        assert_eq!(absent.version, None);
    }

    #[test]
    fn a_bound_key_unbinds_to_the_callers_key() {
        assert_eq!(unbound_key("orden-871|work-order@0.1a2b3c4d"), "orden-871");
        assert_eq!(unbound_key("a|b|informe@3"), "a|b");
        assert_eq!(unbound_key("plain"), "plain");
    }
}
