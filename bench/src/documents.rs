//! Documents (issue 5): the built-in `csv.export` of 100,000 rows read from a JSON Lines
//! artifact, timed from the job's own start and finish (the handler) and from the enqueue to
//! the `succeeded` the app sees by polling; the server's peak memory; and the download of the
//! result. `BENCH_ONLY=documents ./target/release/tarea-bench`; knobs BENCH_CSV_ROWS (100000),
//! BENCH_CSV_RUNS (5).
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::server::Server;
use crate::stats::Percentiles;
use crate::{knob, say};

/// Runs `n` jobs of `kind` one after the other; answers the p50 of the handler's time (the
/// job's `finished_at - started_at`, whole ms), of enqueue-to-succeeded, and the last job.
pub(crate) async fn time_jobs(
    conn: &mut crate::Conn,
    kind: &str,
    payload: &Value,
    n: usize,
) -> Result<(f64, f64, Value)> {
    let (mut handler, mut wall) = (Percentiles::default(), Percentiles::default());
    let mut last = Value::Null;
    for _ in 0..n {
        let sent = Instant::now();
        let (status, job) = conn.post("/v1/jobs", &json!({"kind": kind, "payload": payload})).await?;
        anyhow::ensure!(status == 201, "enqueue answered {status}: {job}");
        let id = job["id"].as_str().unwrap_or_default().to_owned();
        let done = loop {
            let (_, j) = conn.get_auth(&format!("/v1/jobs/{id}")).await?;
            match j["state"].as_str() {
                Some("succeeded") => break j,
                Some("dead" | "failed" | "cancelled") => anyhow::bail!("the {kind} job failed: {j}"),
                _ => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        };
        wall.add(sent.elapsed());
        let ms = |f: &str| tarea_core::parse_rfc3339_ms(done[f].as_str().unwrap_or("")).unwrap_or(0);
        handler.add(Duration::from_millis((ms("finished_at") - ms("started_at")).max(0) as u64));
        last = done;
    }
    Ok((handler.ms(50.0), wall.ms(50.0), last))
}

pub async fn run() -> Result<()> {
    let rows = knob("BENCH_CSV_ROWS", 100_000);
    let runs = knob("BENCH_CSV_RUNS", 5);
    let server = Server::start(&["--durability", "full"]).await?;
    let mut conn = server.conn().await?;

    // The rows, as an external worker would leave them: an artifact of JSON Lines.
    let mut lines = String::with_capacity(rows * 120);
    for i in 0..rows {
        let row = json!({"protocolo": format!("HP-2026-{i:06}"), "especie": "Canino", "raza": "Ovejero alemán",
            "veterinario": "Dra. María José Pérez", "importe": 12_345.5 + i as f64, "fecha": "2026-11-27"});
        lines.push_str(&row.to_string());
        lines.push('\n');
    }
    conn.post("/v1/jobs", &json!({"kind": "bench.rows", "queue": "filas"})).await?;
    let (_, claim) = conn.post("/v1/worker/claim", &json!({"queues": ["filas"]})).await?;
    let job = &claim["jobs"][0];
    let path = format!(
        "/v1/jobs/{}/artifacts?attempt={}&filename=filas.jsonl",
        job["id"].as_str().unwrap_or(""),
        job["attempt"]
    );
    let started = Instant::now();
    let (status, artifact) = conn.post_bytes(&path, lines.into(), "application/x-ndjson").await?;
    anyhow::ensure!(status == 201, "upload answered {status}: {artifact}");
    say(
        "artifact_upload_mib_per_s",
        artifact["size"].as_f64().unwrap_or(0.0) / 1048576.0 / started.elapsed().as_secs_f64(),
        "MiB/s",
    );

    let columns = json!([{"header": "Protocolo", "field": "protocolo"}, {"header": "Especie", "field": "especie"},
        {"header": "Raza", "field": "raza"}, {"header": "Veterinario", "field": "veterinario"},
        {"header": "Importe", "field": "importe"}, {"header": "Fecha", "field": "fecha"}]);
    let payload = json!({"columns": columns, "rows_artifact": artifact["id"], "delimiter": ";", "bom": true});
    let (handler, wall, last) = time_jobs(&mut conn, "csv.export", &payload, runs).await?;
    say(&format!("csv_export_{rows}_rows_handler_p50"), handler, "ms");
    say(&format!("csv_export_{rows}_rows_enqueue_to_succeeded_p50"), wall, "ms");
    say("csv_export_size", last["artifacts"][0]["size"].as_f64().unwrap_or(0.0) / 1048576.0, "MiB");
    say("server_peak_rss", server.peak_rss_mib(), "MiB");

    // The same rows as a workbook (constant memory), and a small two-sheet estimate.
    let xlsx = json!({"sheets": [{"name": "Protocolos", "rows_artifact": artifact["id"], "autofilter": true, "freeze": "A2",
        "columns": [{"header": "Protocolo", "field": "protocolo"}, {"header": "Especie", "field": "especie"},
            {"header": "Raza", "field": "raza"}, {"header": "Veterinario", "field": "veterinario"},
            {"header": "Importe", "field": "importe", "format": "money"}, {"header": "Fecha", "field": "fecha"}]}]});
    let big = time_jobs(&mut conn, "xlsx.build", &xlsx, runs.min(3)).await?;
    say(&format!("xlsx_build_{rows}_rows_handler_p50"), big.0, "ms");
    say("server_peak_rss_after_xlsx", server.peak_rss_mib(), "MiB");
    let estimate = json!({"styles": {"group": {"bold": true, "bg_color": "#DDEBF7"}, "total": {"bold": true, "num_format": "#,##0.00"}},
        "sheets": [
            {"name": "Presupuesto", "columns": [{"header": "Ítem"}, {"header": "Descripción", "width": 40}, {"header": "Cantidad", "format": "decimal"},
                {"header": "Precio", "format": "money"}, {"header": "Subtotal", "format": "money"}],
             "rows": (0..40).map(|i| json!([format!("{}.{}", i / 10 + 1, i % 10 + 1), format!("Partida {i}"), 1.5 * i as f64, 4800, {"formula": format!("=C{0}*D{0}", i + 2)}])).collect::<Vec<_>>(),
             "merges": [{"range": "A43:D43", "value": "Total", "style": "group"}],
             "formulas": [{"cell": "E43", "formula": "=SUM(E2:E41)", "style": "total"}], "freeze": "A2", "autofilter": true},
            {"name": "Resumen", "columns": [{"header": "Rubro"}, {"header": "Importe", "format": "money"}, {"header": "Incidencia", "format": "percent"}],
             "rows": [["Obra", {"formula": "=Presupuesto!E43"}, {"formula": "=B2/B2"}]]}]});
    let small = time_jobs(&mut conn, "xlsx.build", &estimate, 20).await?;
    say("xlsx_build_estimate_handler_p50", small.0, "ms");
    say("xlsx_build_estimate_enqueue_to_succeeded_p50", small.1, "ms");

    let content = last["artifacts"][0]["content_url"].as_str().unwrap_or_default().to_owned();
    let started = Instant::now();
    let (status, len) = conn.get_len(&content).await?;
    anyhow::ensure!(status == 200, "download answered {status}");
    say("artifact_download_mib_per_s", len as f64 / 1048576.0 / started.elapsed().as_secs_f64(), "MiB/s");
    Ok(())
}
