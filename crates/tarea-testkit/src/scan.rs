//! Scans for OCR tests and benchmarks: a page rendered from known text is rasterized (as a
//! scanner would, `pdftoppm -gray` at 300 dpi) and then damaged the way real scans are — turned
//! a little, blurred, speckled — so recognition can be checked against the text it came from.
//!
//! Blur and speckle are a pixel loop each, written here rather than taking an image processing
//! library (and its dependencies) for test code; turning is tarea's own deskew run backwards;
//! PNG itself is the `png` crate's.
use std::io::Cursor;

/// The known text of the OCR test set: four paragraphs of a clinical history as a vet lab
/// writes them (with the fields `ocr.extract` finds: protocol, date, species, weight).
pub const SAMPLE_PARAGRAPHS: [&str; 4] = [
    "Protocolo HP 26/01234. Fecha de recepción: 20/11/2026. Paciente: Luna, especie canino, raza Labrador, hembra de 9 años, peso 32,5 kg.",
    "Historia clínica: la paciente presenta un nódulo en la glándula mamaria inguinal derecha, de crecimiento lento, detectado por la propietaria hace tres meses.",
    "Macroscopía: se recibe una pieza de tejido de 4 x 3 x 2 cm, de superficie irregular y consistencia firme, con áreas de aspecto quístico al corte.",
    "Diagnóstico: carcinoma tubulopapilar mamario de grado II. Márgenes quirúrgicos libres de neoplasia. Se sugiere control clínico cada seis meses.",
];

/// A Typst template that prints `data.parrafos` as plain paragraphs (A4, Liberation Sans 12 pt).
pub const SAMPLE_TEMPLATE: &str = r#"#let data = json("/data.json")
#set page(paper: "a4", margin: 2.5cm)
#set text(font: "Liberation Sans", size: 12pt, lang: "es", hyphenate: false)
#set par(justify: false, leading: 0.8em, spacing: 1.4em)
#for p in data.parrafos [ #p #parbreak() ]
"#;

/// How to damage a scan.
#[derive(Clone, Copy, Debug, Default)]
pub struct Damage {
    /// Rotation in degrees (a page put crooked on the glass).
    pub angle_deg: f64,
    /// A 3×3 Gaussian blur (a soft focus).
    pub blur: bool,
    /// Fraction of pixels turned black or white (dust, toner specks), plus ±`noise`×200 of
    /// grey noise on every pixel.
    pub noise: f64,
    /// The noise's seed, so a damaged scan is the same on every run.
    pub seed: u64,
}

/// `page` at `dpi` of `pdf` as a grey PNG (poppler's pdftoppm).
pub fn rasterize(pdf: &[u8], page: u32, dpi: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("doc.pdf"), pdf).expect("write");
    let (p, r) = (page.to_string(), dpi.to_string());
    let out = std::process::Command::new("pdftoppm")
        .args(["-r", &r, "-gray", "-png", "-singlefile", "-f", &p, "-l", &p])
        .arg(dir.path().join("doc.pdf"))
        .arg(dir.path().join("scan"))
        .output()
        .expect("pdftoppm runs (poppler-utils)");
    assert!(out.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(dir.path().join("scan.png")).expect("the scan")
}

/// `png` (8 bits a sample) as a grey PNG with `damage` done to it.
pub fn degrade(png_bytes: &[u8], damage: &Damage) -> Vec<u8> {
    let decoder = png::Decoder::new(Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "8 bits a sample");
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    // Grey as it is; colour as the mean of its channels (alpha ignored).
    let mut img: Vec<u8> = buf[..w * h * channels]
        .chunks(channels)
        .map(|px| {
            let colour = if channels >= 3 { &px[..3] } else { &px[..1] };
            (colour.iter().map(|v| u32::from(*v)).sum::<u32>() / colour.len() as u32) as u8
        })
        .collect();
    if damage.angle_deg != 0.0 {
        // tarea's own deskew turns pages; turning the other way makes a crooked one.
        img = tarea_docs::turn_page(&img, w, h, -damage.angle_deg);
    }
    if damage.blur {
        img = blur(&img, w, h);
    }
    if damage.noise > 0.0 {
        speckle(&mut img, damage.noise, damage.seed);
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(&img).expect("data");
    }
    out
}

/// A 3×3 Gaussian (1 2 1 / 2 4 2 / 1 2 1) / 16.
fn blur(img: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = img.to_vec();
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let p = |dx: isize, dy: isize| u32::from(img[(y as isize + dy) as usize * w + (x as isize + dx) as usize]);
            let sum = p(-1, -1)
                + 2 * p(0, -1)
                + p(1, -1)
                + 2 * p(-1, 0)
                + 4 * p(0, 0)
                + 2 * p(1, 0)
                + p(-1, 1)
                + 2 * p(0, 1)
                + p(1, 1);
            out[y * w + x] = (sum / 16) as u8;
        }
    }
    out
}

fn speckle(img: &mut [u8], amount: f64, seed: u64) {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for px in img.iter_mut() {
        if next() < amount {
            *px = if next() < 0.5 { 0 } else { 255 };
        } else {
            let n = (next() - 0.5) * 2.0 * amount * 200.0;
            *px = (f64::from(*px) + n).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// The share of characters right: 1 − edit distance / length, with spacing normalised (OCR
/// lays lines out its own way).
pub fn char_accuracy(expected: &str, got: &str) -> f64 {
    let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let (e, g) = (norm(expected), norm(got));
    1.0 - strsim::levenshtein(&e, &g) as f64 / e.chars().count().max(1) as f64
}
