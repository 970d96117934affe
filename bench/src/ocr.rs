//! OCR (issue 7): a page of known Spanish text rendered by Typst, read back by `ocr.extract`
//! through the server — as a digital PDF (its text layer: exact, no OCR), as a 300 dpi scan,
//! and as scans turned 1–3°, blurred and speckled (tarea_testkit::scan) — with the clean-up
//! (despeckle, deskew) and without it. Per page: time (rasterize, clean-up and Tesseract, on
//! one core: Tesseract runs with OMP_THREAD_LIMIT=1) and characters right.
//! `BENCH_ONLY=ocr ./target/release/tarea-bench`; knob BENCH_OCR_RUNS (3).
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use serde_json::{Value, json};
use tarea_testkit::scan::{Damage, char_accuracy, degrade, rasterize};

use crate::server::Server;
use crate::{knob, say};

use tarea_testkit::scan::{SAMPLE_PARAGRAPHS as PARRAFOS, SAMPLE_TEMPLATE as PLANTILLA};

async fn finished(conn: &mut crate::Conn, kind: &str, payload: &Value) -> Result<Value> {
    let (status, job) = conn.post("/v1/jobs", &json!({"kind": kind, "payload": payload})).await?;
    anyhow::ensure!(status == 201, "enqueue answered {status}: {job}");
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    loop {
        let (_, j) = conn.get_auth(&format!("/v1/jobs/{id}")).await?;
        match j["state"].as_str() {
            Some("succeeded") => return Ok(j),
            Some("dead" | "failed" | "cancelled") => anyhow::bail!("the {kind} job failed: {j}"),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

async fn upload(conn: &mut crate::Conn, name: &str, bytes: Vec<u8>) -> Result<String> {
    let (status, v) = conn
        .post_bytes(&format!("/v1/uploads?filename={name}"), Bytes::from(bytes), "application/octet-stream")
        .await?;
    anyhow::ensure!(status == 201, "upload answered {status}: {v}");
    Ok(v["id"].as_str().unwrap_or_default().to_owned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// OCR of one upload: (page ms, characters right).
async fn read(conn: &mut crate::Conn, upload: &str, clean: bool, expected: &str) -> Result<(f64, f64)> {
    let job = finished(conn, "ocr.extract", &json!({"upload": upload, "clean": clean})).await?;
    let ms = job["result"]["pages"][0]["ms"].as_f64().unwrap_or(f64::NAN);
    Ok((ms, char_accuracy(expected, job["result"]["text"].as_str().unwrap_or(""))))
}

pub async fn run() -> Result<()> {
    let runs = knob("BENCH_OCR_RUNS", 3);
    let server = Server::start(&["--durability", "full"]).await?;
    let mut conn = server.conn().await?;
    let (status, v) = conn
        .put("/v1/templates/historia-clinica", &json!({"source": PLANTILLA, "sample": {"parrafos": PARRAFOS}}))
        .await?;
    anyhow::ensure!(status == 201, "the template answered {status}: {v}");
    let job =
        finished(&mut conn, "pdf.render", &json!({"template": "historia-clinica", "data": {"parrafos": PARRAFOS}}))
            .await?;
    let artifact = job["artifacts"][0]["id"].as_str().context("the PDF")?.to_owned();
    let (_, pdf) = conn.get_bytes(&format!("/v1/artifacts/{artifact}/content")).await?;
    let expected = PARRAFOS.join(" ");

    // The digital PDF: its own text, exactly, without OCR.
    let digital = upload(&mut conn, "historia.pdf", pdf.to_vec()).await?;
    let job = finished(&mut conn, "ocr.extract", &json!({"upload": digital})).await?;
    let exact = job["result"]["ocr_pages"] == 0
        && char_accuracy(&expected, job["result"]["text"].as_str().unwrap_or("")) == 1.0;
    say("ocr_digital_pdf_exact_without_ocr", if exact { 1.0 } else { 0.0 }, "(1 = yes)");
    say("ocr_digital_pdf_page_ms", job["result"]["pages"][0]["ms"].as_f64().unwrap_or(f64::NAN), "ms");

    let clean = rasterize(&pdf, 1, 300);
    let scans = [
        ("clean", Damage::default()),
        ("turned_1deg_speckled_1pct", Damage { angle_deg: 1.0, blur: false, noise: 0.01, seed: 1 }),
        ("turned_2deg_blurred", Damage { angle_deg: -2.0, blur: true, noise: 0.0, seed: 2 }),
        ("turned_3deg_blurred_speckled_2pct", Damage { angle_deg: 3.0, blur: true, noise: 0.02, seed: 3 }),
    ];
    for (name, damage) in scans {
        let png = if name == "clean" { clean.clone() } else { degrade(&clean, &damage) };
        let id = upload(&mut conn, &format!("{name}.png"), png).await?;
        for cleanup in [true, false] {
            let mut times = Vec::new();
            let mut acc = 0.0;
            for _ in 0..runs {
                let (ms, a) = read(&mut conn, &id, cleanup, &expected).await?;
                times.push(ms);
                acc = a;
            }
            let tag = if cleanup { "cleaned" } else { "as_is" };
            say(&format!("ocr_{name}_{tag}_page_ms_p50"), median(times), "ms");
            say(&format!("ocr_{name}_{tag}_characters_right"), acc * 100.0, "%");
        }
    }
    Ok(())
}
