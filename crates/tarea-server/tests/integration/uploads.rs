//! Uploads: raw or as a form, streamed, typed from their bytes, bounded by the tenant's limit,
//! private to the tenant.
use axum::http::Request;
use sha2::Digest;

use super::*;

async fn upload(api: &Api, uri: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri(uri)
        .header("authorization", format!("Bearer {}", api.key))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    send(&api.app, req).await
}

fn form(filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----tareaBoundary7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"nota\"\r\n\r\nlote de noviembre\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_raw_upload_is_stored_measured_and_typed_from_its_bytes() {
    let api = Api::new().await;
    let csv = "Código;Producto;Stock\nA-1;Alimento balanceado 15 kg;12\n".repeat(50).into_bytes();
    let (status, v) =
        upload(&api, "/v1/uploads?filename=inventario.csv", "application/octet-stream", csv.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["filename"], "inventario.csv");
    assert_eq!(v["content_type"], "text/plain");
    assert_eq!(v["size"], csv.len());
    assert_eq!(v["sha256"], hex::encode(sha2::Sha256::digest(&csv)));
    assert_eq!(v["kind"], "upload");
    let id = v["id"].as_str().unwrap();
    let other = api.key_for("other", false).await;
    expect_error(api.call_as(&other, "GET", &format!("/v1/artifacts/{id}"), None).await, 404, "not_found");
}

#[tokio::test]
async fn a_form_upload_of_a_pdf_named_xlsx_is_a_pdf() {
    let api = Api::new().await;
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    let (ct, body) = form("inventario.xlsx", &pdf);
    let (status, v) = upload(&api, "/v1/uploads", &ct, body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["filename"], "inventario.xlsx");
    assert_eq!(v["content_type"], "application/pdf", "typed from the bytes, not the name");
    assert_eq!(v["size"], pdf.len());
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing() {
    let api = Api::new().await;
    let v = expect_error(
        upload(&api, "/v1/uploads", "application/octet-stream", b"x".to_vec()).await,
        400,
        "invalid_request",
    );
    assert_eq!(v["error"]["details"]["field"], "filename");
    let v =
        expect_error(upload(&api, "/v1/uploads?filename=a.csv", "text/csv", Vec::new()).await, 400, "invalid_request");
    assert_eq!(v["error"]["details"]["field"], "file");
    let boundary = "b0undary";
    let no_file =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"nota\"\r\n\r\nhola\r\n--{boundary}--\r\n");
    let v = expect_error(
        upload(&api, "/v1/uploads", &format!("multipart/form-data; boundary={boundary}"), no_file.into_bytes()).await,
        400,
        "invalid_request",
    );
    assert_eq!(v["error"]["details"]["field"], "file");
    // The tenant's limit holds while the file streams.
    api.store.store.setting_set("acme", "uploads", Some(r#"{"max_bytes": 1000}"#.into()), 0).await.unwrap();
    let v = expect_error(
        upload(&api, "/v1/uploads?filename=grande.csv", "text/csv", vec![b'a'; 5000]).await,
        413,
        "payload_too_large",
    );
    assert_eq!(v["error"]["details"]["limit"], 1000);
    let (status, _) = upload(&api, "/v1/uploads?filename=chico.csv", "text/csv", vec![b'a'; 900]).await;
    assert_eq!(status, StatusCode::CREATED);
    let kept = tarea_testkit::files_under(api.artifacts.path());
    assert_eq!(kept.len(), 1, "only the accepted upload's bytes are kept: {kept:?}");
}
