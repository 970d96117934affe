//! A render's data from more than its payload: the rows of an import (an NDJSON artifact, e.g.
//! `import.sheet`'s valid rows) placed at one field, the result of the job before it in a
//! chain placed at another, or an object of that result (an OCR's `fields`) merged into the
//! data by dotted paths — so `import.sheet` → `pdf.render inventory-report` and `ocr.extract` →
//! `pdf.render medical-report` need no code in the app between them.
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tarea_core::{ArtifactId, HandlerError, JobContext};

/// Rows read into a render's data.
pub const ROWS_MAX: usize = 100_000;
/// Bytes of rows read into a render's data.
const ROWS_BYTES_MAX: usize = 64 << 20;

/// `rows`: which NDJSON artifact, and where its rows go in the data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RowsFrom {
    /// The artifact; none: the chain parent's `artifacts.rows` (an import's valid rows).
    #[serde(default)]
    artifact: Option<String>,
    /// The data's field that gets the rows (default `items`).
    #[serde(default = "items")]
    into: String,
}

fn items() -> String {
    "items".into()
}

fn invalid(message: impl Into<String>) -> HandlerError {
    HandlerError::fatal("invalid_payload", message)
}

/// The data to render: `data`, with the rows and the parent's result added where asked.
/// Where a render's data comes from besides its payload.
#[derive(Debug, Default)]
pub(crate) struct DataFrom<'a> {
    pub(crate) rows: Option<&'a RowsFrom>,
    pub(crate) parent: Option<&'a Value>,
    pub(crate) parent_into: Option<&'a str>,
    /// The path (`fields`) of an object in the parent's result whose values, keyed by dotted
    /// paths (`patient.name`), are set into the data; null values are skipped.
    pub(crate) merge_parent: Option<&'a str>,
}

pub(crate) async fn assemble(ctx: &JobContext, data: &RawValue, from: DataFrom<'_>) -> Result<Vec<u8>, HandlerError> {
    let DataFrom { rows, parent, parent_into, merge_parent } = from;
    if rows.is_none() && parent_into.is_none() && merge_parent.is_none() {
        return Ok(data.get().as_bytes().to_vec());
    }
    let mut map: Map<String, Value> = serde_json::from_str(data.get())
        .map_err(|_| invalid("data must be an object to take rows or a parent's result"))?;
    let result = parent.and_then(|p| p.get("result"));
    if let Some(field) = parent_into {
        let result =
            result.ok_or_else(|| invalid("parent_into: this job has no parent (make it the `then` of a job)"))?;
        map.insert(field.to_owned(), result.clone());
    }
    if let Some(path) = merge_parent {
        let result =
            result.ok_or_else(|| invalid("merge_parent: this job has no parent (make it the `then` of a job)"))?;
        let pointer = format!("/{}", path.replace('.', "/"));
        let Some(Value::Object(values)) = result.pointer(&pointer) else {
            return Err(invalid(format!("merge_parent: the parent's result has no object at {path:?}")));
        };
        for (key, value) in values {
            if !value.is_null() {
                set_path(&mut map, key, value.clone());
            }
        }
    }
    if let Some(rows) = rows {
        let id = match &rows.artifact {
            Some(id) => id.clone(),
            None => result
                .and_then(|r| r.pointer("/artifacts/rows"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| invalid("rows: give an artifact, or chain this job after an import with valid rows"))?,
        };
        let id: ArtifactId = id.parse().map_err(|_| invalid(format!("rows.artifact: {id:?} is not an artifact id")))?;
        map.insert(rows.into.clone(), Value::Array(read_rows(ctx, id).await?));
    }
    Ok(serde_json::to_vec(&Value::Object(map)).expect("JSON serializes"))
}

/// Sets `value` at the dotted `path` of `map`, making the objects on the way.
fn set_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = map.entry(head.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}

async fn read_rows(ctx: &JobContext, id: ArtifactId) -> Result<Vec<Value>, HandlerError> {
    let (_, mut bytes) = ctx.artifacts.open(id).await?;
    let mut all = Vec::new();
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.map_err(|e| HandlerError::retryable("artifact_store_unavailable", e.to_string()))?;
        all.extend_from_slice(&chunk);
        if all.len() > ROWS_BYTES_MAX {
            return Err(invalid(format!("rows: the artifact is over {} MiB", ROWS_BYTES_MAX >> 20)));
        }
    }
    let mut rows = Vec::new();
    for (n, line) in all.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if rows.len() == ROWS_MAX {
            return Err(invalid(format!("rows: more than {ROWS_MAX} rows in one document")));
        }
        rows.push(
            serde_json::from_slice(line)
                .map_err(|e| invalid(format!("rows: line {} of artifact {id} is not JSON ({e})", n + 1)))?,
        );
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_set_nested_values_and_keep_the_rest() {
        let mut m: Map<String, Value> = serde_json::from_value(
            serde_json::json!({"patient": {"name": "x", "document": "DNI 1"}, "date": "2026-01-01"}),
        )
        .unwrap();
        set_path(&mut m, "patient.name", "Luna".into());
        set_path(&mut m, "date", "2026-11-20".into());
        set_path(&mut m, "a.b.c", 1.into());
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"patient": {"name": "Luna", "document": "DNI 1"}, "date": "2026-11-20", "a": {"b": {"c": 1}}})
        );
    }
}
