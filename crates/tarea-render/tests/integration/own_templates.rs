//! Templates a tenant uploads: checked before they are stored (syntax, or a render of the
//! sample), and the fonts they bring used like the bundled ones.
use serde_json::json;
use tarea_render::{Asset, RenderError, Renderer, Request, Template};

fn own(source: &str, assets: Vec<Asset>) -> Template {
    Template { tenant: Some("acme".into()), name: "propia".into(), version: 1, source: source.into(), assets }
}

fn request(t: &Template) -> Request {
    Request { template: t.key(), labels: None, options: Default::default(), ident: "t".into() }
}

/// Liberation Sans under another family name (same length, so the font's tables keep their
/// sizes): a font no bundled family can stand in for.
fn renamed_font() -> Vec<u8> {
    let mut bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fonts/LiberationSans-Regular.ttf")).unwrap();
    let replace = |bytes: &mut Vec<u8>, from: &[u8], to: &[u8]| {
        let mut n = 0;
        let mut i = 0;
        while i + from.len() <= bytes.len() {
            if &bytes[i..i + from.len()] == from {
                bytes[i..i + from.len()].copy_from_slice(to);
                n += 1;
            }
            i += 1;
        }
        n
    };
    let utf16 = |s: &str| s.encode_utf16().flat_map(u16::to_be_bytes).collect::<Vec<u8>>();
    let n = replace(&mut bytes, b"Liberation Sans", b"Laboratorio Uno")
        + replace(&mut bytes, &utf16("Liberation Sans"), &utf16("Laboratorio Uno"));
    assert!(n > 0, "the family name was not found in the font");
    bytes
}

#[test]
fn a_font_uploaded_with_the_template_is_used() {
    let mut r = Renderer::new();
    let source = "#set text(font: \"Laboratorio Uno\", fallback: false)\nInforme de biopsia: ñandú";
    let with_font = own(source, vec![Asset { path: "fuentes/uno.ttf".into(), bytes: renamed_font() }]);
    r.load(&with_font).unwrap();
    let (out, pdf) = r.render(&request(&with_font), b"{}".to_vec()).unwrap();
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(!pdf.is_empty());

    // The same source without the font: Typst does not know the family.
    let mut without = own(source, vec![]);
    without.version = 2;
    r.load(&without).unwrap();
    let (out, _) = r.render(&request(&without), b"{}".to_vec()).unwrap();
    assert!(out.warnings.iter().any(|w| w.message.contains("unknown font family")), "{:?}", out.warnings);

    // A font file that is not a font.
    let junk = own(source, vec![Asset { path: "fuentes/rota.otf".into(), bytes: b"no soy una fuente".to_vec() }]);
    let err = r.load(&junk).unwrap_err();
    assert!(err.to_string().contains("not a font"), "{err}");
}

#[test]
fn a_check_without_sample_finds_syntax_errors_with_their_place() {
    let mut r = Renderer::new();
    let report = r.check(&own("= Informe\n#let x = (1, 2\n", vec![]), None).unwrap_err();
    let RenderError::Compile(diags) = &report else { panic!("{report:?}") };
    assert_eq!(diags[0].file.as_deref(), Some("main.typ"), "{diags:?}");
    assert!(diags[0].line.is_some() && diags[0].column.is_some(), "{diags:?}");
    // In an included file too.
    let part = Asset { path: "partes/pie.typ".into(), bytes: b"#let pie = [Fin\n".to_vec() };
    let err = r.check(&own("#import \"partes/pie.typ\": pie\n#pie", vec![part]), None).unwrap_err();
    let RenderError::Compile(diags) = &err else { panic!("{err:?}") };
    assert_eq!(diags[0].file.as_deref(), Some("partes/pie.typ"), "{diags:?}");

    // Valid syntax passes without a sample, even if it reads fields no data has yet.
    let ok = r.check(&own("#let data = json(\"/data.json\")\n= #data.protocolo", vec![]), None).unwrap();
    assert_eq!(ok.pages, None);
}

#[test]
fn a_check_with_a_sample_renders_it_and_labels_are_decoded() {
    let mut r = Renderer::new();
    let t = own("#let data = json(\"/data.json\")\n= Informe #data.protocolo\nPaciente: #data.paciente", vec![]);
    let done = r.check(&t, Some(br#"{"protocolo": "HP 1", "paciente": "Luna"}"#.to_vec())).unwrap();
    assert_eq!(done.pages, Some(1));
    let err = r.check(&t, Some(br#"{"protocolo": "HP 1"}"#.to_vec())).unwrap_err();
    assert!(err.to_string().contains("paciente") && err.to_string().contains("line 3"), "{err}");

    // A label template: the sample's labels get their QR codes, which must read back.
    let label = own(
        "#let data = json(\"/data.json\")\n#set page(width: 50mm, height: 25mm, margin: 1mm)\n\
         #for l in data.labels [#grid(columns: 2, gutter: 2mm, image(bytes(l.qr_svg), format: \"svg\", height: 20mm), l.numero) #pagebreak(weak: true)]",
        vec![],
    );
    let sample = json!({"labels": [{"numero": "HP 1", "url": "https://lab.example.org/p/1"}]});
    let done = r.check(&label, Some(serde_json::to_vec(&sample).unwrap())).unwrap();
    assert_eq!(done.pages, Some(1));
    // Nothing stays loaded: the key renders nothing afterwards.
    let err = r.render(&request(&t), b"{}".to_vec()).unwrap_err();
    assert!(err.to_string().contains("not loaded"), "{err}");
}
