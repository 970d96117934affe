//! The command line: keys, jobs commands against a running server, configuration errors.
use std::process::Command;

use tarea_testkit::{TareaProcess, tarea_binary};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(tarea_binary()).args(args).env_remove("TAREA_CONFIG").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("tarea "), "{out}");
    let (code, out, _) = run(&["serve", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("TAREA_DATA_DIR") && out.contains("default: 16"), "{out}");
}

#[test]
fn bad_configuration_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, _, err) = run(&["serve", "--data-dir", d, "--durability", "fast"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("durability must be"), "{err}");
    let toml = dir.path().join("tarea.toml");
    std::fs::write(&toml, "listen = 5\n").unwrap();
    let (code, _, err) = run(&["serve", "--config", toml.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tarea.toml"), "{err}");
    let (code, _, err) = run(&["keys", "create", "--tenant", "Bad Name", "--data-dir", d]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn keys_and_jobs_commands_work_against_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let p = TareaProcess::start(dir.path(), &["--concurrency", "0"]);
    let (code, key, err) = run(&["keys", "create", "--tenant", "veterinaria", "--data-dir", &d]);
    assert_eq!(code, 0, "{err}");
    let key = key.trim().to_owned();
    assert!(key.starts_with("tarea_") && !key.contains('\n'), "the key alone on stdout: {key:?}");
    let url = p.url("");
    let remote = ["--url", &url, "--key", &key];
    let (code, out, err) = run(&[
        &[
            "jobs",
            "enqueue",
            "informes.finalizar",
            "--payload",
            r#"{"informe": 77}"#,
            "--tag",
            "urgente",
            "--priority",
            "-5",
        ],
        &remote[..],
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    let job: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((job["tenant"].as_str(), job["priority"].as_i64()), (Some("veterinaria"), Some(-5)));
    let id = job["id"].as_str().unwrap();
    let (code, out, _) = run(&[&["jobs", "get", id], &remote[..]].concat());
    assert_eq!(code, 0);
    assert!(out.contains("\"informe\": 77"));
    let (code, out, _) = run(&[&["jobs", "list", "--tag", "urgente"], &remote[..]].concat());
    assert_eq!(code, 0);
    assert!(out.contains(id));
    let (code, out, _) = run(&[&["jobs", "cancel", id], &remote[..]].concat());
    assert_eq!(code, 0);
    assert!(out.contains("\"cancelled\""));
    let (code, out, _) = run(&[&["jobs", "retry", id], &remote[..]].concat());
    assert_eq!(code, 0);
    assert!(out.contains("\"queued\""));
    let (code, _, err) = run(&[&["jobs", "cancel", "nope"], &remote[..]].concat());
    assert_eq!(code, 1);
    assert!(err.contains("not_found"), "{err}");
    let (code, _, err) = run(&["jobs", "get", id, "--url", &url, "--key", "tarea_wrong"]);
    assert_eq!(code, 1);
    assert!(err.contains("unauthorized"), "{err}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = TareaProcess::start(dir.path(), &["--log-format", "json"]);
    let (status, lines) = p.signal_and_wait_with_log("TERM");
    assert!(status.success());
    assert!(!lines.is_empty());
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}
