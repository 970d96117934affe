//! Every built-in template renders its sample data into a document a person can read: checked
//! with pdftotext, pdfinfo and zbarimg, not by looking at bytes.

use crate::common::*;
use tarea_render::{Renderer, builtin};

#[test]
fn every_builtin_renders_its_sample_without_a_warning() {
    let mut r = Renderer::new();
    for b in builtin::BUILTINS {
        let pdf = render(&mut r, b.name, &sample(b.name));
        assert!(pdf.starts_with(b"%PDF-"), "{}", b.name);
        let text = pdf_text(&pdf);
        assert!(!text.trim().is_empty(), "{} has no text", b.name);
    }
}

#[test]
fn the_lab_report_has_every_part_on_the_right_pages() {
    let mut r = Renderer::new();
    let pdf = render(&mut r, "lab-report", &sample("lab-report"));
    let info = pdf_info(&pdf);
    let pages: usize = info.lines().find_map(|l| l.strip_prefix("Pages:")).unwrap().trim().parse().unwrap();
    assert!((3..=5).contains(&pages), "{pages} pages\n{info}");
    assert!(info.contains("Informe HP 26/01234"), "title: {info}");
    let text = pdf_text(&pdf);
    for part in [
        "INFORME HISTOPATOLÓGICO",
        "Dra. María Fernández",
        "Clínica Veterinaria del Sur",
        "Histopatología",
        "Propietario/a",
        "Ana Gómez",
        "20/11/2026",
        "Historia clínica",
        "Descripción macroscópica",
        "Casete C1 — Mama",
        "Casete C12",
        "DIAGNÓSTICO",
        "Carcinoma tubulopapilar mamario grado II",
        "Dr. Jorge Álvarez",
        "Matrícula MP 1187",
    ] {
        assert!(text.contains(part), "{part:?} missing from\n{text}");
    }
    // Header and footer on every page, with the page count.
    for n in 1..=pages {
        assert!(text.contains(&format!("Página {n} de {pages}")), "footer of page {n}");
    }
    assert_eq!(text.matches("Protocolo HP 26/01234").count(), pages, "header on every page");
}

#[test]
fn the_work_order_totals_its_services() {
    let mut r = Renderer::new();
    let data = sample("work-order");
    let total: f64 = data["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["quantity"].as_f64().unwrap() * s["unit_price"].as_f64().unwrap())
        .sum();
    let pdf = render(&mut r, "work-order", &data);
    let text = pdf_text(&pdf);
    assert!(text.contains("ORDEN DE TRABAJO") && text.contains("OT-2026-00871"), "{text}");
    let grouped = {
        let whole = format!("{}", total.round() as i64);
        let mut out = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push('.');
            }
            out.push(c);
        }
        format!("$ {out},00")
    };
    assert!(text.contains(&grouped), "total {grouped} missing from\n{text}");
    assert!(text.contains("Inmunohistoquímica"));
}

#[test]
fn a_reception_label_is_39_by_20_mm_with_the_whole_protocol_number_and_a_qr_that_scans() {
    let mut r = Renderer::new();
    let data = sample("reception-label");
    let url = data["labels"][0]["url"].as_str().unwrap().to_string();
    let pdf = render(&mut r, "reception-label", &data);
    let info = pdf_info(&pdf);
    // 39 × 20 mm = 110.55 × 56.69 pt.
    let size = info.lines().find_map(|l| l.strip_prefix("Page size:")).unwrap().trim().to_string();
    let pts: Vec<f64> = size.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let mm: Vec<f64> = pts.iter().map(|p| p * 25.4 / 72.0).collect();
    assert!((mm[0] - 39.0).abs() < 0.01 && (mm[1] - 20.0).abs() < 0.01, "{size} = {mm:?} mm");
    let text = pdf_text(&pdf);
    assert!(text.contains("HP 26/01234"), "the protocol number printed whole: {text}");
    assert!(text.contains("Luna") && text.contains("Canino"), "{text}");
    for dpi in [300, 600] {
        assert_eq!(scan(&pdf, 1, dpi), vec![url.clone()], "zbarimg at {dpi} dpi");
    }
}

#[test]
fn long_protocol_numbers_shrink_instead_of_being_cut() {
    let mut r = Renderer::new();
    let mut data = sample("reception-label");
    data["labels"][0]["protocol_number"] = "HP 2026/0001234-B".into();
    data["labels"][0]["animal_identification"] = "Pelusa de la Montaña Grande".into();
    let pdf = render(&mut r, "reception-label", &data);
    let text: String = pdf_text(&pdf).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("HP 2026/0001234-B"), "{text}");
    assert!(text.contains("Pelusa de la Montaña Grande"), "{text}");
}

#[test]
fn a_thousand_labels_make_a_thousand_pages_each_with_its_own_code() {
    let mut r = Renderer::new();
    let one = sample("reception-label")["labels"][0].clone();
    let labels: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            let mut l = one.clone();
            l["protocol_number"] = format!("HP 26/{i:05}").into();
            l["url"] = format!("https://lab.example.org/p/{i:05}").into();
            l
        })
        .collect();
    let pdf = render(&mut r, "reception-label", &serde_json::json!({ "labels": labels }));
    let info = pdf_info(&pdf);
    assert!(info.contains("Pages:           1000"), "{info}");
    assert_eq!(scan(&pdf, 1000, 300), vec!["https://lab.example.org/p/00999".to_string()]);
    assert!(pdf_text(&pdf).contains("HP 26/00500"));
}

/// Page 1 of every built-in template as a PNG: into docs/templates/ with
/// `TAREA_UPDATE_DOCS=1`, else into a temporary folder (the pages still have to rasterize).
#[test]
fn page_one_of_each_template_as_png() {
    let update = std::env::var_os("TAREA_UPDATE_DOCS").is_some();
    let tmp = tempfile::tempdir().unwrap();
    let dir = if update {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/templates")
    } else {
        tmp.path().to_path_buf()
    };
    std::fs::create_dir_all(&dir).unwrap();
    let mut r = Renderer::new();
    for b in builtin::BUILTINS {
        let pdf = render(&mut r, b.name, &sample(b.name));
        let dpi = if b.label_size_mm.is_some() { 600 } else { 110 };
        let png = dir.join(format!("{}.png", b.name));
        page_png(&pdf, 1, dpi, &png);
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 2000, "{}", b.name);
    }
}
