//! Data is data: whatever a field holds prints as text, and data that does not fit the
//! template fails with a message naming the field and the template line.

use crate::common::*;
use tarea_render::{RenderError, Renderer, Template};

#[test]
fn markup_in_data_prints_literally() {
    let mut r = Renderer::new();
    let mut data = sample("lab-report");
    let nasty = r##"#panic("x") ] *negrita* $x^2$ <etiqueta> @ref // no es comentario #set page(width: 1cm)"##;
    data["diagnosis"] = nasty.into();
    data["animal"]["identification"] = "Luna ] [ #\"".into();
    let pdf = render(&mut r, "lab-report", &data);
    let text: String = pdf_text(&pdf).split_whitespace().collect::<Vec<_>>().join(" ");
    for piece in [
        r#"#panic("x")"#,
        "*negrita*",
        "$x^2$",
        "<etiqueta>",
        "@ref",
        "// no es comentario",
        "#set page(width: 1cm)",
        "Luna ] [ #\"",
    ] {
        assert!(text.contains(piece), "{piece:?} did not print literally in\n{text}");
    }
}

#[test]
fn a_missing_field_names_the_field_and_the_template_line() {
    let mut r = Renderer::new();
    let mut data = sample("lab-report");
    data["animal"].as_object_mut().unwrap().remove("species");
    let err = r.render(&request("lab-report"), serde_json::to_vec(&data).unwrap()).unwrap_err();
    let RenderError::Compile(diags) = &err else { panic!("{err:?}") };
    let d = &diags[0];
    assert!(d.message.contains("species"), "{d:?}");
    assert_eq!(d.file.as_deref(), Some("main.typ"));
    let line = d.line.expect("a line");
    let source = tarea_render::builtin::builtin("lab-report").unwrap().source;
    assert!(source.lines().nth(line - 1).unwrap().contains("animal.species"), "line {line}: {d:?}");
    assert!(err.to_string().contains(&format!("line {line}")), "{err}");
}

#[test]
fn a_mistyped_field_is_explained() {
    let mut r = Renderer::new();
    let mut data = sample("lab-report");
    data["cassettes"] = "ninguno".into();
    let err = r.render(&request("lab-report"), serde_json::to_vec(&data).unwrap()).unwrap_err();
    assert!(matches!(err, RenderError::Compile(_)), "{err:?}");
    assert!(err.to_string().contains("line"), "{err}");
}

#[test]
fn data_that_is_not_json_is_refused() {
    let mut r = Renderer::new();
    let err = r.render(&request("lab-report"), b"{not json".to_vec()).unwrap_err();
    assert!(err.to_string().to_lowercase().contains("json"), "{err}");
    let err = r.render(&request("reception-label"), b"[1,".to_vec()).unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

#[test]
fn a_qr_text_too_long_fails_before_printing() {
    let mut r = Renderer::new();
    let mut data = sample("reception-label");
    data["labels"][0]["url"] = format!("https://lab.example.org/{}", "x".repeat(400)).into();
    let err = r.render(&request("reception-label"), serde_json::to_vec(&data).unwrap()).unwrap_err();
    assert!(err.to_string().contains("at most 300"), "{err}");
}

#[test]
fn a_label_template_that_misses_its_size_or_its_qr_fails_the_check() {
    let mut r = Renderer::new();
    let wrong_size = Template {
        tenant: None,
        name: "chica".into(),
        version: 1,
        source: "#let data = json(\"/data.json\")\n#set page(width: 30mm, height: 20mm, margin: 1mm)\n#for l in data.labels [#image(bytes(l.qr_svg), format: \"svg\", height: 100%)]".into(),
        assets: vec![],
    };
    r.load(&wrong_size).unwrap();
    let mut req = request("reception-label");
    req.template = "chica@1".into();
    let data = serde_json::to_vec(&sample("reception-label")).unwrap();
    let err = r.render(&req, data.clone()).unwrap_err();
    assert!(err.to_string().contains("30.00 × 20.00 mm; the labels are 39.00 × 20.00 mm"), "{err}");

    // The QR code drawn too small to read at 300 dpi: the label is refused, not printed.
    let unreadable = Template {
        tenant: None,
        name: "ilegible".into(),
        version: 1,
        source: "#let data = json(\"/data.json\")\n#set page(width: 39mm, height: 20mm, margin: 1mm)\n#for l in data.labels [#image(bytes(l.qr_svg), format: \"svg\", width: 3mm) #l.protocol_number]".into(),
        assets: vec![],
    };
    r.load(&unreadable).unwrap();
    req.template = "ilegible@1".into();
    let err = r.render(&req, data.clone()).unwrap_err();
    assert!(err.to_string().contains("would not scan"), "{err}");

    // A box drawn over half the code: it is read from the page as printed, not from the SVG
    // the template was given.
    let covered = Template {
        tenant: None,
        name: "tapada".into(),
        version: 1,
        source: "#let data = json(\"/data.json\")\n#set page(width: 39mm, height: 20mm, margin: 1mm)\n#for l in data.labels [#place(image(bytes(l.qr_svg), format: \"svg\", width: 18mm)) #place(dx: 2mm, dy: 1mm, rect(width: 8mm, height: 16mm, fill: black))]".into(),
        assets: vec![],
    };
    r.load(&covered).unwrap();
    req.template = "tapada@1".into();
    let err = r.render(&req, data).unwrap_err();
    assert!(err.to_string().contains("would not scan"), "{err}");
}

#[test]
fn a_template_bug_reports_line_and_column() {
    let mut r = Renderer::new();
    let t = Template {
        tenant: None,
        name: "roto".into(),
        version: 1,
        source: "= Hola\n\n#let x = (1, 2\n".into(),
        assets: vec![],
    };
    r.load(&t).unwrap();
    let mut req = request("lab-report");
    req.template = "roto@1".into();
    let err = r.render(&req, b"{}".to_vec()).unwrap_err();
    let RenderError::Compile(d) = &err else { panic!("{err:?}") };
    assert_eq!(d[0].line, Some(3), "{d:?}");
    assert!(d[0].column.is_some());
}

#[test]
fn pdf_a_output_declares_itself() {
    let mut r = Renderer::new();
    let mut req = request("work-order");
    req.options.pdf_a = true;
    let (_, pdf) = r.render(&req, serde_json::to_vec(&sample("work-order")).unwrap()).unwrap();
    let s = String::from_utf8_lossy(&pdf);
    assert!(s.contains("pdfaid:part") || s.contains("pdfaid"), "no PDF/A identification in the XMP metadata");
}
