//! The published OpenAPI document must match the one the handlers generate.
use std::path::PathBuf;

#[test]
fn openapi_document_matches_docs() {
    let generated = tarea_server::openapi_json();
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    for path in [
        "/v1/jobs",
        "/v1/jobs/batch",
        "/v1/jobs/{id}/events",
        "/v1/worker/claim",
        "/v1/queues/{name}/pause",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("TAREA_UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, format!("{generated}\n")).unwrap();
    }
    let published = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        published.trim_end() == generated.trim_end(),
        "docs/openapi.json is out of date; refresh it with TAREA_UPDATE_OPENAPI=1 cargo nextest run -p tarea-server openapi"
    );
}
