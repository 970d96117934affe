//! Reading PDFs back the way a person would: text with pdftotext, pages as images with
//! pdftoppm, QR codes with zbarimg (poppler-utils and zbar-tools; `scripts/test` installs them).
#![allow(dead_code)]
use std::path::Path;
use std::process::Command;

use tarea_render::{LabelCheck, Options, Renderer, Request, builtin};

pub fn request(template: &str) -> Request {
    let label = builtin::builtin(template).and_then(|b| b.label_size_mm);
    Request {
        template: format!("{template}@0"),
        labels: label.map(|s| LabelCheck { size_mm: Some(s) }),
        options: Options::default(),
        ident: "test".into(),
    }
}

pub fn render(renderer: &mut Renderer, template: &str, data: &serde_json::Value) -> Vec<u8> {
    let (out, pdf) = renderer
        .render(&request(template), serde_json::to_vec(data).unwrap())
        .unwrap_or_else(|e| panic!("{template}: {e}"));
    assert!(out.warnings.is_empty(), "{template} warns: {:?}", out.warnings);
    pdf
}

fn write(dir: &Path, pdf: &[u8]) -> std::path::PathBuf {
    let path = dir.join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    path
}

fn run(cmd: &mut Command) -> String {
    let out =
        cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test installs poppler-utils and zbar-tools)"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The PDF's text, laid out as on the page.
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), pdf);
    run(Command::new("pdftotext").arg("-layout").arg(&path).arg("-"))
}

/// pdfinfo's fields.
pub fn pdf_info(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), pdf);
    run(Command::new("pdfinfo").arg(&path))
}

/// The QR codes zbarimg reads on page `page` (1-based) rasterized at `dpi`.
pub fn scan(pdf: &[u8], page: usize, dpi: u32) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), pdf);
    let png = dir.path().join("page");
    let p = page.to_string();
    run(Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-f", &p, "-l", &p, "-png", "-singlefile", "-gray"])
        .arg(&path)
        .arg(&png));
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(png.with_extension("png"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

/// Page `page` rendered to a PNG at `dpi` under `out`.
pub fn page_png(pdf: &[u8], page: usize, dpi: u32, out: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), pdf);
    let p = page.to_string();
    run(Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-f", &p, "-l", &p, "-png", "-singlefile"])
        .arg(&path)
        .arg(out.with_extension("")));
}

pub fn sample(template: &str) -> serde_json::Value {
    serde_json::from_str(builtin::builtin(template).unwrap().sample).unwrap()
}
