//! The programs OCR runs: poppler's `pdfinfo`, `pdftotext` (a PDF's own text layer, exact and
//! ~25 ms for four pages), `pdftoppm` (a scanned page to a 300 dpi image), `pdfseparate` and
//! `pdfunite` (a searchable PDF from its pages), and the Tesseract CLI.
//!
//! Tesseract runs as a child process, not through a binding: measured here, a binding saved
//! only 5–14 % per page and would put its C crashes inside tarea; a child is killed at its
//! deadline and capped in memory (`prlimit`). It runs single-threaded (`OMP_THREAD_LIMIT=1`:
//! with OpenMP on 2 cores a page took 5× longer) and pages run side by side instead.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Address space a Tesseract or poppler child may use.
const CHILD_MEMORY: u64 = 2 << 30;

/// Why a program failed.
#[derive(Debug)]
pub(crate) enum EngineError {
    /// The program is not installed.
    Missing(&'static str),
    /// It ran past its deadline and was killed.
    Timeout(&'static str),
    /// It failed; its own words.
    Failed(&'static str, String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Missing(p) => {
                write!(f, "{p} is not installed on this server (Debian: apt-get install {})", package(p))
            }
            EngineError::Timeout(p) => write!(f, "{p} did not finish in time"),
            EngineError::Failed(p, why) => write!(f, "{p} failed: {why}"),
        }
    }
}

fn package(program: &str) -> &'static str {
    if program == "tesseract" { "tesseract-ocr tesseract-ocr-spa" } else { "poppler-utils" }
}

/// Runs `program` with `args`, capped in memory and time; answers its standard output.
async fn run(program: &'static str, args: &[&std::ffi::OsStr], timeout: Duration) -> Result<Vec<u8>, EngineError> {
    let mut cmd = if Path::new("/usr/bin/prlimit").exists() {
        let mut c = Command::new("/usr/bin/prlimit");
        c.arg(format!("--as={CHILD_MEMORY}")).arg("--").arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if !installed(program) {
        return Err(EngineError::Missing(program));
    }
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => EngineError::Missing(program),
        _ => EngineError::Failed(program, e.to_string()),
    })?;
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(out) => out.map_err(|e| EngineError::Failed(program, e.to_string()))?,
        Err(_) => return Err(EngineError::Timeout(program)),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why: String = stderr.lines().filter(|l| !l.trim().is_empty()).take(3).collect::<Vec<_>>().join(" ");
        return Err(EngineError::Failed(program, if why.is_empty() { out.status.to_string() } else { why }));
    }
    Ok(out.stdout)
}

/// Whether `program` is on the PATH.
fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// A PDF's page count.
pub(crate) async fn pdf_pages(pdf: &Path, timeout: Duration) -> Result<u32, EngineError> {
    let out = run("pdfinfo", &[pdf.as_os_str()], timeout).await?;
    String::from_utf8_lossy(&out)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").and_then(|n| n.trim().parse().ok()))
        .ok_or(EngineError::Failed("pdfinfo", "it did not say how many pages the PDF has".into()))
}

/// The text layer of page `page` (from 1), laid out as on the page.
pub(crate) async fn pdf_page_text(pdf: &Path, page: u32, timeout: Duration) -> Result<String, EngineError> {
    let p = page.to_string();
    let out = run(
        "pdftotext",
        &[os("-layout"), os("-enc"), os("UTF-8"), os("-f"), os(&p), os("-l"), os(&p), pdf.as_os_str(), os("-")],
        timeout,
    )
    .await?;
    Ok(String::from_utf8_lossy(&out).trim_end_matches(['\u{c}', '\n']).to_owned())
}

/// The longest side of a rasterized page, in pixels: an A3 page at 300 dpi; a bigger page is
/// rasterized at a lower resolution instead of into hundreds of megapixels.
const RASTER_SIDE_MAX: f64 = 5000.0;

/// Page `page` as a grey PGM at `dpi` (less for a page too big for that), written next to
/// `prefix`; answers the file and the resolution used. PGM, not PNG: the page is read back at
/// once, and compressing then decompressing 9 megapixels cost more than writing them.
pub(crate) async fn rasterize(
    pdf: &Path,
    page: u32,
    dpi: u32,
    prefix: &Path,
    timeout: Duration,
) -> Result<(PathBuf, u32), EngineError> {
    let p = page.to_string();
    let info = run("pdfinfo", &[os("-f"), os(&p), os("-l"), os(&p), pdf.as_os_str()], timeout).await?;
    let longest_pts = String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| {
            let (_, size) = l.split_once(" size:")?;
            let mut dims = size.split_whitespace().filter_map(|t| t.parse::<f64>().ok());
            Some(dims.next()?.max(dims.next()?))
        })
        .unwrap_or(842.0);
    let dpi = (f64::from(dpi)).min(RASTER_SIDE_MAX * 72.0 / longest_pts.max(1.0)).floor().max(36.0) as u32;
    let r = dpi.to_string();
    run(
        "pdftoppm",
        &[
            os("-r"),
            os(&r),
            os("-gray"),
            os("-singlefile"),
            os("-f"),
            os(&p),
            os("-l"),
            os(&p),
            pdf.as_os_str(),
            prefix.as_os_str(),
        ],
        timeout,
    )
    .await?;
    Ok((prefix.with_extension("pgm"), dpi))
}

/// Page `page` of a PDF as a PDF of its own.
pub(crate) async fn pdf_page(pdf: &Path, page: u32, out: &Path, timeout: Duration) -> Result<(), EngineError> {
    let p = page.to_string();
    run("pdfseparate", &[os("-f"), os(&p), os("-l"), os(&p), pdf.as_os_str(), out.as_os_str()], timeout).await?;
    Ok(())
}

/// PDFs joined into one.
pub(crate) async fn pdf_unite(parts: &[PathBuf], out: &Path, timeout: Duration) -> Result<(), EngineError> {
    let mut args: Vec<&std::ffi::OsStr> = parts.iter().map(|p| p.as_os_str()).collect();
    args.push(out.as_os_str());
    run("pdfunite", &args, timeout).await?;
    Ok(())
}

/// What Tesseract read on one page.
#[derive(Debug, Clone)]
pub(crate) struct Recognized {
    /// The text, as Tesseract lays it out.
    pub(crate) text: String,
    /// The mean confidence of its words, 0–100.
    pub(crate) confidence: f64,
    /// Words read.
    pub(crate) words: u32,
}

/// Tesseract settings for one run.
#[derive(Debug, Clone)]
pub(crate) struct OcrSettings {
    /// `spa`, `spa+eng`, …
    pub(crate) languages: String,
    /// The image's resolution.
    pub(crate) dpi: u32,
    /// Sauvola's adaptive thresholding instead of Otsu's global one (uneven light, stains).
    pub(crate) adaptive: bool,
    /// Also write a searchable PDF (`<base>.pdf`).
    pub(crate) pdf: bool,
}

impl OcrSettings {
    /// These settings for an image of `dpi` (Tesseract assumes 70 without one, which sizes the
    /// searchable PDF's page wrongly and skews its guesses of letter size).
    pub(crate) fn at(&self, dpi: u32) -> OcrSettings {
        OcrSettings { dpi, ..self.clone() }
    }
}

/// Reads `image` (PNG, JPEG, a TIFF of one or more pages); answers one [`Recognized`] a page,
/// and writes `<base>.pdf` when asked.
pub(crate) async fn tesseract(
    image: &Path,
    base: &Path,
    settings: &OcrSettings,
    timeout: Duration,
) -> Result<Vec<Recognized>, EngineError> {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        image.as_os_str(),
        base.as_os_str(),
        os("-l"),
        os(&settings.languages),
        // Automatic page segmentation, as the CLI defaults to (the C API's default, one block,
        // lost 12 % of a form's text in a measurement here).
        os("--psm"),
        os("3"),
    ];
    let dpi = settings.dpi.to_string();
    args.extend([os("--dpi"), os(&dpi)]);
    if settings.adaptive {
        args.extend([os("-c"), os("thresholding_method=2")]);
    }
    args.extend([os("txt"), os("tsv")]);
    if settings.pdf {
        args.push(os("pdf"));
    }
    run("tesseract", &args, timeout).await?;
    let read = |ext: &str| std::fs::read_to_string(base.with_extension(ext)).unwrap_or_default();
    let (txt, tsv) = (read("txt"), read("tsv"));
    // Pages are separated by form feeds in the text, numbered in the TSV.
    let texts: Vec<&str> = txt.split('\u{c}').collect();
    let mut conf: Vec<(f64, u32)> = Vec::new();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let (Ok(page), Ok(c)) = (cols[1].parse::<usize>(), cols[10].parse::<f64>()) else { continue };
        if c < 0.0 || cols[11].trim().is_empty() {
            continue;
        }
        if conf.len() < page {
            conf.resize(page, (0.0, 0));
        }
        conf[page - 1].0 += c;
        conf[page - 1].1 += 1;
    }
    let pages = conf.len().max(texts.iter().filter(|t| !t.trim().is_empty()).count()).max(1);
    Ok((0..pages)
        .map(|i| {
            let (sum, words) = conf.get(i).copied().unwrap_or((0.0, 0));
            Recognized {
                text: texts.get(i).map(|t| t.trim_end().to_owned()).unwrap_or_default(),
                confidence: if words == 0 { 0.0 } else { (sum / f64::from(words) * 10.0).round() / 10.0 },
                words,
            }
        })
        .collect())
}
