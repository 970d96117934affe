//! `ocr.extract` with the real Tesseract and poppler (installed by scripts/test): a digital PDF
//! is read from its text layer, exactly and without OCR; the same text printed and scanned at
//! 300 dpi is recognized with its characters right; fields are found; a searchable PDF is made.
use serde_json::{Value, json};
use tarea_testkit::TestServer;

use crate::common::{Client, download, pdf_text, setup, upload};

use tarea_testkit::scan::{SAMPLE_PARAGRAPHS as PARRAFOS, SAMPLE_TEMPLATE as PLANTILLA};

/// The text document as a digital PDF.
async fn digital_pdf(s: &TestServer, c: &Client) -> Vec<u8> {
    let res = c
        .http
        .put(s.url("/v1/templates/historia-clinica"))
        .bearer_auth(&c.key)
        .json(&json!({"source": PLANTILLA, "sample": {"parrafos": PARRAFOS}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let job =
        c.finished(s, "pdf.render", json!({"template": "historia-clinica", "data": {"parrafos": PARRAFOS}})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    c.content(s, &job).await
}

/// A page of `pdf` as a 300 dpi grey scan.
fn scan(pdf: &[u8]) -> Vec<u8> {
    tarea_testkit::scan::rasterize(pdf, 1, 300)
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn accuracy(expected: &str, got: &str) -> f64 {
    tarea_testkit::scan::char_accuracy(expected, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digital_pdf_is_read_from_its_text_layer_exactly() {
    let (s, c) = setup().await;
    let pdf = digital_pdf(&s, &c).await;
    let id = upload(&s, &c, "historia.pdf", pdf.clone()).await;
    let job =
        c.finished(&s, "ocr.extract", json!({"upload": id, "fields": ["protocolo", "fecha", "especie", "peso"]})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let r = &job["result"];
    assert_eq!((&r["page_count"], &r["ocr_pages"]), (&json!(1), &json!(0)), "no OCR on a digital PDF");
    assert_eq!(r["pages"][0]["source"], "text_layer");
    assert_eq!(r["text"].as_str().unwrap(), pdf_text_layout(&pdf).trim_end(), "exactly the PDF's own text");
    assert_eq!(
        r["fields"],
        json!({"protocolo": "HP 26/01234", "fecha": "2026-11-20", "especie": "Canino", "peso": {"value": 32.5, "unit": "kg"}})
    );
    let text = String::from_utf8(download(&s, &c, &r["artifacts"]["text"]).await).unwrap();
    assert!(text.contains("carcinoma tubulopapilar"), "{text}");
}

fn pdf_text_layout(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.pdf"), pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(dir.path().join("d.pdf"))
        .arg("-")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim_end_matches(['\u{c}', '\n']).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_is_recognized_with_its_characters_right_and_made_searchable() {
    let (s, c) = setup().await;
    let pdf = digital_pdf(&s, &c).await;
    let png = scan(&pdf);
    let expected = PARRAFOS.join(" ");

    // The scan as an image, and wrapped in a PDF without a text layer (as scanners save them).
    let id = upload(&s, &c, "escaneo.png", png).await;
    let job = c
        .finished(&s, "ocr.extract", json!({"upload": id, "fields": ["protocolo", "especie"], "searchable_pdf": true}))
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let r = &job["result"];
    assert_eq!((&r["page_count"], &r["ocr_pages"], &r["pages"][0]["source"]), (&json!(1), &json!(1), &json!("ocr")));
    let got = r["text"].as_str().unwrap();
    let acc = accuracy(&expected, got);
    assert!(acc >= 0.99, "character accuracy {acc:.4}: {got}");
    assert!(r["mean_confidence"].as_f64().unwrap() > 80.0, "{r}");
    assert_eq!(r["fields"], json!({"protocolo": "HP 26/01234", "especie": "Canino"}));
    // The searchable PDF's text layer has the recognized words.
    let searchable = download(&s, &c, &r["artifacts"]["pdf"]).await;
    assert!(words(&pdf_text(&searchable)).contains("carcinoma tubulopapilar mamario"), "searchable");

    // A two-page scanned PDF: the OCR pages, in order, with progress per page.
    let page_pdf = download(&s, &c, &r["artifacts"]["pdf"]).await;
    let dir = tempfile::tempdir().unwrap();
    for n in ["a", "b"] {
        std::fs::write(dir.path().join(format!("{n}.pdf")), &page_pdf).unwrap();
    }
    let joined = dir.path().join("ab.pdf");
    let st = std::process::Command::new("pdfunite")
        .arg(dir.path().join("a.pdf"))
        .arg(dir.path().join("b.pdf"))
        .arg(&joined)
        .status()
        .unwrap();
    assert!(st.success());
    let id = upload(&s, &c, "dos.pdf", std::fs::read(&joined).unwrap()).await;
    // force_ocr: the searchable PDF has a text layer now; read its images anyway.
    let job = c.finished(&s, "ocr.extract", json!({"upload": id, "force_ocr": true})).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!((&job["result"]["page_count"], &job["result"]["ocr_pages"]), (&json!(2), &json!(2)));
    assert_eq!((&job["progress"]["current"], &job["progress"]["total"]), (&json!(2), &json!(2)), "{}", job["progress"]);
    for p in job["result"]["pages"].as_array().unwrap() {
        assert_eq!(p["source"], "ocr");
        assert!(p["confidence"].as_f64().unwrap() > 80.0, "{p}");
    }
    let text = job["result"]["text"].as_str().unwrap();
    let halves: Vec<&str> = text.split('\u{c}').collect();
    assert_eq!(halves.len(), 2);
    for half in halves {
        assert!(accuracy(&expected, half) >= 0.99, "{half}");
    }

    // Not a PDF or an image; too many pages.
    let id = upload(&s, &c, "notas.txt", b"hola".to_vec()).await;
    let job = c.finished(&s, "ocr.extract", json!({"upload": id})).await;
    assert_eq!(job["error"]["code"], "unsupported_file");
    let id = upload(&s, &c, "dos.pdf", std::fs::read(&joined).unwrap()).await;
    let job = c.finished(&s, "ocr.extract", json!({"upload": id, "max_pages": 1})).await;
    assert_eq!(job["error"]["code"], "too_many_pages", "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ocr_chains_into_the_medical_report() {
    let (s, c) = setup().await;
    let pdf = digital_pdf(&s, &c).await;
    let id = upload(&s, &c, "historia.pdf", pdf).await;
    // The template's own sample is the base; what the document says replaces it.
    let base: Value =
        serde_json::from_str(include_str!("../../../tarea-render/templates/medical-report.json")).unwrap();
    let job = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "ocr.extract", "payload": {"upload": id, "fields": [
                    {"name": "patient.name", "pattern": "Paciente:\\s*([^,]+)"},
                    {"name": "date", "pattern": "recepción:\\s*(\\S+)\\.", "type": "date"},
                    {"name": "conclusion", "pattern": "Diagnóstico:\\s*([^.]+\\.)"},
                    {"name": "recommendations", "pattern": "(Se sugiere[^.]+\\.)"}]},
                   "then": {"kind": "pdf.render", "payload": {"template": "medical-report", "data": base,
                            "merge_parent": "fields"}}}),
        )
        .await;
    let ocr = c.finished_id(&s, job["id"].as_str().unwrap()).await;
    assert_eq!(ocr["state"], "succeeded", "{ocr}");
    assert_eq!(ocr["result"]["fields"]["patient.name"], "Luna");
    let report = c.finished_next(&s, ocr["id"].as_str().unwrap()).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    let text = words(&pdf_text(&c.content(&s, &report).await));
    assert!(text.contains("Luna"), "{text}");
    assert!(text.contains("carcinoma tubulopapilar mamario de grado II"), "{text}");
    assert!(text.contains("20/11/2026"), "{text}");
    assert!(!text.contains("Laura Beatriz"), "the sample's patient was replaced: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crooked_blurred_speckled_scans_keep_98_percent_of_their_characters() {
    use tarea_testkit::scan::{Damage, degrade};
    let (s, c) = setup().await;
    let clean = scan(&digital_pdf(&s, &c).await);
    let expected = PARRAFOS.join(" ");
    for (i, damage) in [
        Damage { angle_deg: 1.0, blur: false, noise: 0.01, seed: 1 },
        Damage { angle_deg: -2.0, blur: true, noise: 0.0, seed: 2 },
        Damage { angle_deg: 3.0, blur: true, noise: 0.02, seed: 3 },
    ]
    .iter()
    .enumerate()
    {
        let id = upload(&s, &c, &format!("escaneo-{i}.png"), degrade(&clean, damage)).await;
        let job = c.finished(&s, "ocr.extract", json!({"upload": id, "fields": ["protocolo"]})).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        let got = job["result"]["text"].as_str().unwrap();
        let acc = accuracy(&expected, got);
        assert!(acc >= 0.98, "{damage:?}: character accuracy {acc:.4}: {got}");
        assert_eq!(job["result"]["fields"]["protocolo"], "HP 26/01234", "{damage:?}");
    }
}
