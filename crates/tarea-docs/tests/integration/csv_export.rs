//! `csv.export` against a real server on 127.0.0.1:0: inline rows and rows from an artifact,
//! delimiters, BOM, formula escaping, and bad payloads that fail the job without leaving a file.

use crate::common::setup;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_rows_become_a_csv_artifact() {
    let (s, c) = setup().await;
    let job = c
        .finished(
            &s,
            "csv.export",
            json!({
                "columns": ["Protocolo", {"header": "Especie", "field": "especie"}, "Importe"],
                "rows": [
                    ["HP-2026-000123", "Canino", 1250.5],
                    {"Protocolo": "HP-2026-000124", "especie": "Felino; común", "Importe": null},
                    ["=HYPERLINK(\"http://x\")", "-3", -3],
                ],
                "delimiter": ";",
                "bom": true,
                "filename": "protocolos-noviembre.csv",
            }),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["rows"], 3);
    let a = &job["artifacts"][0];
    assert_eq!(a["filename"], "protocolos-noviembre.csv");
    assert_eq!(a["content_type"], "text/csv; charset=utf-8");
    assert_eq!(job["result"]["artifact"], a["id"]);
    let body = c.content(&s, &job).await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text,
        "\u{feff}Protocolo;Especie;Importe\n\
         HP-2026-000123;Canino;1250.5\n\
         HP-2026-000124;\"Felino; común\";\n\
         \"'=HYPERLINK(\"\"http://x\"\")\";-3;-3\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_can_come_from_an_artifact_of_json_lines() {
    let (s, c) = setup().await;
    // An external worker leaves the rows as an artifact (JSON Lines).
    let mut lines = String::new();
    for i in 0..20_000 {
        lines.push_str(&json!({"protocolo": format!("HP-{i:06}"), "estado": "listo"}).to_string());
        lines.push('\n');
    }
    let rows = c.rows_artifact(&s, lines).await;
    let done = c
        .finished(
            &s,
            "csv.export",
            json!({"columns": [{"header": "Protocolo", "field": "protocolo"}, {"header": "Estado", "field": "estado"}], "rows_artifact": rows}),
        )
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"]["rows"], 20_000);
    let text = String::from_utf8(c.content(&s, &done).await).unwrap();
    assert_eq!(text.lines().count(), 20_001);
    assert_eq!(text.lines().nth(20_000), Some("HP-019999,listo"));
    assert_eq!(done["progress"]["step"], "saving the file", "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_fail_the_job_for_good_and_leave_no_file() {
    let (s, c) = setup().await;
    let cases = [
        (json!({"columns": ["A"], "rows": [["1"], ["1", "2"]]}), "rows[1] has 2 cells"),
        (json!({"columns": ["A"], "rows": [7]}), "rows[0] must be an array"),
        (json!({"columns": [], "rows": []}), "columns holds 1 to"),
        (json!({"columns": ["A"]}), "either rows or rows_artifact"),
        (json!({"columns": ["A"], "rows": [], "delimiter": "ab"}), "delimiter"),
        (json!({"columns": ["A"], "rows": [], "colums": 1}), "unknown field"),
        (json!({"columns": ["A"], "rows_artifact": "nope"}), "not an artifact id"),
        (json!({"columns": ["A"], "rows_artifact": "01a2203c-5f0e-7c61-9d1b-8a4f0e9d2c11"}), "no live artifact"),
    ];
    for (payload, says) in cases {
        let job = c.finished(&s, "csv.export", payload.clone()).await;
        assert_eq!(job["state"], "dead", "{payload}: {job}");
        assert_eq!(job["attempt"], 1, "not retried: {job}");
        let message = job["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{payload}: {message}");
    }
    assert!(tarea_testkit::files_under(s.artifacts.path()).is_empty(), "a failed export leaves no bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_stopped_half_way_leaves_no_file() {
    let (s, c) = setup().await;
    let mut lines = String::new();
    for i in 0..200_000 {
        lines.push_str(
            &json!({"protocolo": format!("HP-{i:06}"), "estado": "listo", "nota": "x".repeat(40)}).to_string(),
        );
        lines.push('\n');
    }
    let rows = c.rows_artifact(&s, lines).await;
    // A timeout far shorter than the export: the runtime stops the handler mid-write. Two
    // things keep a truncated file out: the chunk stream's end marker (pinned by the unit test
    // in csv_export.rs) and the fenced insert, which refuses the timed-out attempt's file.
    // This test fails only if both break.
    let job = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "csv.export", "timeout_ms": 20, "max_attempts": 1,
                   "payload": {"columns": ["protocolo", "estado", "nota"], "rows_artifact": rows}}),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let done = loop {
        let j = c.get(&s, &format!("/v1/jobs/{id}")).await;
        if j["state"] == "dead" {
            break j;
        }
        assert!(std::time::Instant::now() < deadline, "{j}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(done["error"]["code"], "timeout", "{done}");
    assert_eq!(done["artifacts"], json!([]));
    // Give the abandoned upload a moment to notice; only the input may remain.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(tarea_testkit::files_under(s.artifacts.path()).len(), 1, "only the rows artifact");
}
