//! Artifacts with the real binary: the default folder under the data dir, and an S3-compatible
//! bucket shared by two cluster nodes (an upload through one node is downloaded through the
//! other, and a link signed by one works on the other).
use serde_json::{Value, json};
use tarea_testkit::{PgSchema, S3Server, TareaProcess, free_port, pg_url};

use super::*;

/// Enqueues an external job on `node`, claims it, uploads `body` as its artifact.
async fn upload_through(http: &reqwest::Client, node: &TareaProcess, key: &str, body: Vec<u8>) -> Value {
    let (s, _) = post_json(http, &node.url("/v1/jobs"), key, json!({"kind": "informe.render"})).await;
    assert_eq!(s, 201);
    let (s, claim) = post_json(http, &node.url("/v1/worker/claim"), key, json!({"queues": ["default"]})).await;
    assert_eq!(s, 200, "{claim}");
    let job = &claim["jobs"][0];
    let url = node.url(&format!(
        "/v1/jobs/{}/artifacts?attempt={}&filename=informe.pdf",
        job["id"].as_str().unwrap(),
        job["attempt"]
    ));
    let res =
        http.post(url).bearer_auth(key).header("content-type", "application/pdf").body(body).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 201);
    res.json().await.unwrap()
}

fn long_http() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_go_to_the_data_dir_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let node = TareaProcess::start(dir.path(), &[]);
    let key = node.first_key.clone();
    let http = long_http();
    let a = upload_through(&http, &node, &key, b"%PDF-1.7 recepcion".to_vec()).await;
    let got = http.get(node.url(a["content_url"].as_str().unwrap())).bearer_auth(&key).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"%PDF-1.7 recepcion");
    let stored = tarea_testkit::files_under(&dir.path().join("artifacts"));
    assert_eq!(stored.len(), 1, "{stored:?}");
    node.signal_and_wait("TERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_nodes_share_artifacts_in_an_s3_bucket() {
    let s3 = S3Server::start();
    s3.create_bucket("tarea-pruebas").await;
    let schema = PgSchema::new();
    let env: Vec<(&str, String)> = s3.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = pg_url();
    let args = [
        "--database",
        url.as_str(),
        "--schema",
        schema.name.as_str(),
        "--pool-size",
        "4",
        "--artifacts",
        "s3://tarea-pruebas/laboratorio",
    ];
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TareaProcess::start_with_env(d1.path(), free_port(), &args, &env);
    let b = TareaProcess::start_with_env(d2.path(), free_port(), &args, &env);
    let key = a.first_key.clone();
    let http = long_http();

    // 9 MiB: over the single-request size, so it goes up in parts.
    let big: Vec<u8> = (0..9 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let artifact = upload_through(&http, &a, &key, big.clone()).await;
    assert_eq!(artifact["size"], big.len());
    let id = artifact["id"].as_str().unwrap();
    let keys = s3.keys("tarea-pruebas").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("laboratorio/artifacts/"), "{keys:?}");
    assert!(
        tarea_testkit::files_under(d1.path()).iter().all(|p| !p.starts_with(d1.path().join("artifacts"))),
        "nothing on local disk"
    );

    // Downloaded through the other node, whole and in part.
    let got = http.get(b.url(&format!("/v1/artifacts/{id}/content"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert!(got.bytes().await.unwrap().as_ref() == big.as_slice(), "the bytes differ");
    let part = http
        .get(b.url(&format!("/v1/artifacts/{id}/content")))
        .bearer_auth(&key)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert!(part.bytes().await.unwrap().as_ref() == &big[1000..2000]);

    // A link signed by one node works on the other, without a key.
    let (s, link) =
        post_json(&http, &a.url(&format!("/v1/artifacts/{id}/link")), &key, json!({"expires_in_s": 300})).await;
    assert_eq!(s, 200, "{link}");
    let path = link["url"].as_str().unwrap().split_once("/v1/").map(|(_, p)| format!("/v1/{p}")).unwrap();
    let via_b = http.get(b.url(&path)).send().await.unwrap();
    assert_eq!(via_b.status().as_u16(), 200);
    assert_eq!(via_b.bytes().await.unwrap().len(), big.len());
    let view = get_json(&http, &b.url(&format!("/v1/artifacts/{id}")), &key).await;
    assert_eq!(view["download_count"], 2, "the full download and the link; not the range from byte 1000: {view}");
    a.signal_and_wait("TERM");
    b.signal_and_wait("TERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_streams_through_the_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let node = TareaProcess::start(dir.path(), &[]);
    let key = node.first_key.clone();
    let http = long_http();
    // 30 MiB of CSV-like text, far over the 1 MiB limit of JSON bodies.
    let line = b"A-0001;Alimento balanceado adulto 15 kg;12;4500,00\n";
    let body: Vec<u8> = line.iter().copied().cycle().take(30 << 20).collect();
    let res = http
        .post(node.url("/v1/uploads?filename=inventario.csv"))
        .bearer_auth(&key)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["size"], body.len());
    assert_eq!(a["content_type"], "text/plain");
    let got = http.get(node.url(a["content_url"].as_str().unwrap())).bearer_auth(&key).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().len(), body.len());
    node.signal_and_wait("TERM");
}
