//! `import.sheet` through the API: an upload imported into rows and an error report, delivered
//! to an app on 127.0.0.1 in signed chunks (retried, idempotent), dry runs confirmed later, and
//! refusals at enqueue.
use serde_json::{Value, json};
use tarea_testkit::{HttpSink, TestServer};

use crate::common::{Client, download, setup, upload};

async fn enqueue(s: &TestServer, c: &Client, payload: Value) -> (u16, Value) {
    let res = c
        .http
        .post(s.url("/v1/jobs"))
        .bearer_auth(&c.key)
        .json(&json!({"kind": "import.sheet", "payload": payload}))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn allow(s: &TestServer, c: &Client, url: &str) -> String {
    let res =
        c.http.put(s.url("/v1/settings/http")).bearer_auth(&c.key).json(&json!({"allow": [url]})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["signing_secret"].as_str().unwrap().to_owned()
}

fn columns() -> Value {
    json!([
        {"name": "sku", "aliases": ["código"], "required": true, "unique": true},
        {"name": "producto"},
        {"name": "stock", "type": "integer", "min": 0},
        {"name": "precio", "type": "decimal", "min": 0}
    ])
}

/// A Spanish Excel's CSV export: Windows-1252, `;`, decimal commas. Rows 4 and 6 are wrong.
fn inventario() -> Vec<u8> {
    let text = "Código;Producto;Stock;Precio\r\n\
                PET001;Alimento balanceado 15 kg;12;1.500,50\r\n\
                PET002;Collar antipulgas;3;820\r\n\
                PET003;Piedras sanitarias;muchos;99\r\n\
                PET004;Shampoo neutro;7;450,75\r\n\
                PET002;Rascador;1;-3\r\n\
                PET005;Correa extensible;4;1200\r\n\
                PET006;Comedero doble;9;310,00\r\n";
    encoding_rs::WINDOWS_1252.encode(text).0.into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_becomes_valid_rows_and_an_error_report() {
    let (s, c) = setup().await;
    let id = upload(&s, &c, "inventario.csv", inventario()).await;
    let job = c.finished(&s, "import.sheet", json!({"upload": id, "columns": columns()})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let r = &job["result"];
    assert_eq!((&r["total_processed"], &r["successful"], &r["failed"]), (&json!(7), &json!(5), &json!(2)));
    assert_eq!((&r["format"], &r["encoding"], &r["delimiter"]), (&json!("csv"), &json!("windows-1252"), &json!(";")));
    assert_eq!(
        r["errors_preview"],
        json!([
            {"row": 4, "column": "stock", "value": "muchos", "message": "\"muchos\" is not a whole number"},
            {"row": 6, "column": "precio", "value": "-3", "message": "must be at least 0"},
            {"row": 6, "column": "sku", "value": "PET002", "message": "\"PET002\" is already in row 3"}
        ])
    );
    let rows = String::from_utf8(download(&s, &c, &r["artifacts"]["rows"]).await).unwrap();
    let rows: Vec<Value> = rows.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows[0],
        json!({"_row": 2, "sku": "PET001", "producto": "Alimento balanceado 15 kg", "stock": 12, "precio": 1500.50})
    );
    let report = String::from_utf8(download(&s, &c, &r["artifacts"]["errors_csv"]).await).unwrap();
    assert_eq!(
        report,
        "row,Código,Producto,Stock,Precio,errors\n\
         4,PET003,Piedras sanitarias,muchos,99,\"stock: \"\"muchos\"\" is not a whole number\"\n\
         6,PET002,Rascador,1,-3,\"precio: must be at least 0; sku: \"\"PET002\"\" is already in row 3\"\n"
    );
    let xlsx = download(&s, &c, &r["artifacts"]["errors_xlsx"]).await;
    assert!(xlsx.starts_with(b"PK"));
    // The artifacts are the job's, named after the upload.
    let names: Vec<&str> =
        job["artifacts"].as_array().unwrap().iter().map(|a| a["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["inventario-validas.ndjson", "inventario-errores.csv", "inventario-errores.xlsx"]);
    // The error report, fixed by a person, imports: its extra columns are ignored.
    let fixed = report.replace("muchos", "40").replace("PET002,Rascador,1,-3", "PET007,Rascador,1,3");
    let again = upload(&s, &c, "corregido.csv", fixed.into_bytes()).await;
    let job = c.finished(&s, "import.sheet", json!({"upload": again, "columns": columns()})).await;
    assert_eq!((&job["result"]["successful"], &job["result"]["failed"]), (&json!(2), &json!(0)), "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_rows_reach_the_app_in_signed_chunks_retried_until_taken() {
    let (s, c) = setup().await;
    let app = HttpSink::start().await;
    let secret = allow(&s, &c, &app.url("/")).await;
    let id = upload(&s, &c, "inventario.csv", inventario()).await;
    let job = c
        .finished(
            &s,
            "import.sheet",
            json!({"upload": id, "columns": columns(), "deliver": {"url": app.url("/inestable"), "chunk_rows": 2}}),
        )
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let import = job["id"].as_str().unwrap();
    assert_eq!(job["result"]["delivery"], json!({"url": app.url("/inestable"), "chunks": 3, "rows": 5}));
    // Each chunk was refused once (503) and taken on its second try, with the same id.
    let got = app.requests();
    assert_eq!(got.len(), 6);
    let mut delivered = Vec::new();
    for (i, pair) in got.chunks(2).enumerate() {
        let key = format!("{import}:{i}");
        for r in pair {
            assert_eq!(r.headers["idempotency-key"], key);
            let ts: i64 = r.headers["tarea-timestamp"].parse().unwrap();
            assert_eq!(r.headers["tarea-signature"], tarea_docs::sign(&secret, ts, &r.body));
        }
        assert_eq!(pair[0].body, pair[1].body, "a retry sends the same chunk");
        let body: Value = serde_json::from_slice(&pair[1].body).unwrap();
        assert_eq!(body["chunk"], json!({"id": key, "index": i, "rows": if i < 2 { 2 } else { 1 }, "last": i == 2}));
        assert_eq!(
            (&body["total_rows"], &body["total_chunks"], &body["import"]),
            (&json!(5), &json!(3), &json!(import))
        );
        delivered.extend(body["rows"].as_array().unwrap().iter().map(|r| r["sku"].as_str().unwrap().to_owned()));
    }
    assert_eq!(delivered, ["PET001", "PET002", "PET004", "PET005", "PET006"]);

    // An app that refuses a chunk outright (404) fails the job, naming the chunk.
    let job = c
        .finished(
            &s,
            "import.sheet",
            json!({"upload": id, "columns": columns(), "deliver": {"url": app.url("/rechazo")}}),
        )
        .await;
    assert_eq!(job["state"], "dead", "{job}");
    assert_eq!(job["error"]["code"], "http_404");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("chunk {}:0 was refused", job["id"].as_str().unwrap())), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_delivers_nothing_until_it_is_confirmed() {
    let (s, c) = setup().await;
    let app = HttpSink::start().await;
    allow(&s, &c, &app.url("/")).await;
    let id = upload(&s, &c, "inventario.csv", inventario()).await;
    let dry = c
        .finished(
            &s,
            "import.sheet",
            json!({"upload": id, "columns": columns(), "dry_run": true, "deliver": {"url": app.url("/filas"), "chunk_rows": 10}}),
        )
        .await;
    assert_eq!(dry["state"], "succeeded", "{dry}");
    assert_eq!((&dry["result"]["dry_run"], &dry["result"]["failed"]), (&json!(true), &json!(2)));
    assert!(dry["result"].get("delivery").is_none());
    assert!(app.requests().is_empty(), "a dry run delivers nothing");

    let dry_id = dry["id"].as_str().unwrap();
    for _ in 0..2 {
        let job = c.finished(&s, "import.sheet", json!({"confirm": dry_id})).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["result"]["confirmed"], dry_id);
        assert_eq!(job["result"]["delivery"]["rows"], 5);
        assert_eq!(job["result"]["successful"], 5);
    }
    // Confirmed twice: the same chunk twice, recognisable by its id.
    let got = app.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].headers["idempotency-key"], format!("{dry_id}:0"));
    assert_eq!(got[1].headers["idempotency-key"], format!("{dry_id}:0"));
    assert_eq!(got[0].body, got[1].body);

    // Only a dry run that succeeded can be confirmed.
    let real = c.finished(&s, "import.sheet", json!({"upload": id, "columns": columns()})).await;
    let (status, e) = enqueue(&s, &c, json!({"confirm": real["id"]})).await;
    assert_eq!(status, 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("was not a dry run"), "{e}");
    assert_eq!(e["error"]["details"]["field"], "payload.confirm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_imports_are_refused_at_enqueue_or_fail_with_what_is_wrong() {
    let (s, c) = setup().await;
    let id = upload(&s, &c, "inventario.csv", inventario()).await;
    // Another tenant cannot use this upload.
    let other = Client { http: reqwest::Client::new(), key: s.key("otro", false).await };
    let (status, e) = enqueue(&s, &other, json!({"upload": id, "columns": columns()})).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["code"], "invalid_request");
    assert_eq!(e["error"]["details"]["field"], "payload.upload", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().starts_with("there is no upload"), "{e}");
    // A schema mistake names its field.
    let (status, e) =
        enqueue(&s, &c, json!({"upload": id, "columns": [{"name": "stock", "type": "integer", "min": "x"}]})).await;
    assert_eq!(status, 400);
    assert_eq!(e["error"]["details"]["field"], "payload.columns[0].min", "{e}");
    // Delivery to a destination the tenant does not allow.
    let (status, e) =
        enqueue(&s, &c, json!({"upload": id, "columns": columns(), "deliver": {"url": "http://127.0.0.1:9/x"}})).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["details"]["field"], "payload.deliver.url", "{e}");
    // A PDF renamed .xlsx, and a file without the required column, fail with the reason.
    let pdf = upload(&s, &c, "inventario.xlsx", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec()).await;
    let job = c.finished(&s, "import.sheet", json!({"upload": pdf, "columns": columns()})).await;
    assert_eq!(job["state"], "dead");
    assert_eq!(job["error"]["code"], "unsupported_file");
    assert_eq!(job["attempt"], 1, "a file that cannot be read is not retried");
    let other_file = upload(&s, &c, "clientes.csv", b"nombre,telefono\nAna,123\n".to_vec()).await;
    let job = c.finished(&s, "import.sheet", json!({"upload": other_file, "columns": columns()})).await;
    assert_eq!(job["error"]["code"], "missing_column");
    assert!(job["error"]["message"].as_str().unwrap().contains("\"nombre\", \"telefono\""), "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_chains_into_the_inventory_report() {
    let (s, c) = setup().await;
    let csv = "SKU;Producto;Categoría;Stock;Mínimo;Proveedor\n\
               ALI-00112;Alimento balanceado perro adulto 15 kg;Alimentos;2;10;Distribuidora Norte\n\
               HIG-00031;Piedras sanitarias aglomerantes 4 kg;Higiene;0;12;Higiene Animal S.A.\n\
               FAR-00077;Pipeta antipulgas 10–20 kg;Farmacia;muchas;15;VetFarma\n";
    let id = upload(&s, &c, "stock.csv", csv.as_bytes().to_vec()).await;
    let columns = json!([
        {"name": "sku", "required": true}, {"name": "name", "aliases": ["producto"]},
        {"name": "category", "aliases": ["categoría"]}, {"name": "stock", "type": "integer"},
        {"name": "minimum", "aliases": ["mínimo"], "type": "integer"}, {"name": "supplier", "aliases": ["proveedor"]}
    ]);
    let job = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "import.sheet", "payload": {"upload": id, "columns": columns},
                   "then": {"kind": "pdf.render", "payload": {"template": "inventory-report",
                            "data": {"store": "Pet Shop Patitas · Sucursal Centro", "date": "2026-11-28"},
                            "rows": {"into": "items"}, "parent_into": "importacion"}}}),
        )
        .await;
    let import = c.finished_id(&s, job["id"].as_str().unwrap()).await;
    assert_eq!(import["state"], "succeeded", "{import}");
    let report = c.finished_next(&s, import["id"].as_str().unwrap()).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    let text = crate::common::pdf_text(&c.content(&s, &report).await);
    assert!(text.contains("Piedras sanitarias aglomerantes 4 kg"), "{text}");
    assert!(text.contains("Alimento balanceado perro adulto 15 kg"), "{text}");
    assert!(!text.contains("Pipeta"), "the rejected row is not in the report: {text}");

    // Rows from an artifact named outright, without a chain.
    let rows = import["result"]["artifacts"]["rows"].clone();
    let direct = c
        .finished(
            &s,
            "pdf.render",
            json!({"template": "inventory-report",
            "data": {"store": "Sucursal Norte", "date": "2026-11-28"}, "rows": {"artifact": rows}}),
        )
        .await;
    assert_eq!(direct["state"], "succeeded", "{direct}");
    // Without a chain, parent_into has nothing to give.
    let orphan =
        c.finished(&s, "pdf.render", json!({"template": "inventory-report", "data": {}, "parent_into": "x"})).await;
    assert_eq!((&orphan["state"], &orphan["error"]["code"]), (&json!("dead"), &json!("invalid_payload")));
}
