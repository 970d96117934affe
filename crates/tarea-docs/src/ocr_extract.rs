//! `ocr.extract`: an uploaded PDF or image (PNG, JPEG, TIFF of one or more pages) → its text,
//! page by page, with Tesseract's confidence, the fields asked for, a text artifact and
//! optionally a searchable PDF. A PDF page that has a text layer is read from it, exactly and
//! without OCR; only scanned pages are rasterized and recognized.
//!
//! Payload: `{"upload", "languages"? = "spa+eng", "max_pages"? = 50, "dpi"? = 300,
//! "fields"?: [...], "searchable_pdf"? = false, "force_ocr"? = false, "clean"? = true,
//! "adaptive_threshold"? = false, "page_timeout_s"? = 120}`. Result: `{"pages": [{"page",
//! "source", "confidence", "words", "chars", "deskewed_deg", "ms"}], "page_count", "ocr_pages",
//! "mean_confidence", "text",
//! "text_truncated", "fields", "artifacts": {"text", "pdf"?}}`.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tarea_core::{ArtifactId, Handler, HandlerError, JobContext, PayloadError, Store};

use crate::job_files::{copy_upload, save_file, stem_of, work_dir};
use crate::ocr_engine::{self, EngineError, OcrSettings, Recognized};
use crate::ocr_fields::{self, FieldSpec};

/// The kind's name.
pub const OCR_KIND: &str = "ocr.extract";
/// Text kept in the result (the whole text is the text artifact).
const TEXT_IN_RESULT: usize = 100 * 1024;
/// Characters of a PDF page's own text that make it a page with a text layer.
const TEXT_LAYER_MIN: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    upload: String,
    #[serde(default = "languages")]
    languages: String,
    #[serde(default = "max_pages")]
    max_pages: u32,
    #[serde(default = "dpi")]
    dpi: u32,
    #[serde(default)]
    fields: Vec<FieldSpec>,
    #[serde(default)]
    searchable_pdf: bool,
    #[serde(default)]
    force_ocr: bool,
    #[serde(default = "yes")]
    clean: bool,
    #[serde(default)]
    adaptive_threshold: bool,
    #[serde(default = "page_timeout_s")]
    page_timeout_s: u64,
}

fn languages() -> String {
    "spa+eng".into()
}
fn max_pages() -> u32 {
    50
}
fn dpi() -> u32 {
    300
}
fn page_timeout_s() -> u64 {
    120
}
fn yes() -> bool {
    true
}

/// A payload, checked.
struct Checked {
    p: Payload,
    upload: ArtifactId,
    fields: Vec<ocr_fields::Field>,
}

fn check(raw: &RawValue) -> Result<Checked, PayloadError> {
    let p: Payload = serde_json::from_str(raw.get())
        .map_err(|e| PayloadError::new("", format!("ocr.extract wants {{\"upload\", \"fields\"?, …}}: {e}")))?;
    let upload = p.upload.parse().map_err(|_| {
        PayloadError::new("upload", format!("{:?} is not an upload id (POST /v1/uploads gives one)", p.upload))
    })?;
    let langs_ok = !p.languages.is_empty()
        && p.languages.len() <= 40
        && p.languages
            .split('+')
            .all(|l| (3..=8).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    if !langs_ok {
        return Err(PayloadError::new("languages", "Tesseract language codes joined by +, e.g. \"spa+eng\""));
    }
    if !(1..=500).contains(&p.max_pages) {
        return Err(PayloadError::new("max_pages", "must be 1 to 500"));
    }
    if !(72..=600).contains(&p.dpi) {
        return Err(PayloadError::new("dpi", "must be 72 to 600"));
    }
    if !(1..=600).contains(&p.page_timeout_s) {
        return Err(PayloadError::new("page_timeout_s", "must be 1 to 600"));
    }
    let fields = ocr_fields::compile(&p.fields)?;
    Ok(Checked { p, upload, fields })
}

/// The `ocr.extract` handler.
pub struct OcrExtract {
    store: Arc<dyn Store>,
}

impl OcrExtract {
    /// Reads its tenants' uploads from `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        OcrExtract { store }
    }
}

/// One page's outcome.
struct PageText {
    text: String,
    source: &'static str,
    confidence: Option<f64>,
    words: u32,
    /// The skew the clean-up corrected, in degrees.
    deskewed: Option<f64>,
    ms: u64,
    /// The page as a PDF, for the searchable PDF.
    pdf: Option<PathBuf>,
}

fn engine_error(e: EngineError) -> HandlerError {
    match e {
        EngineError::Missing(_) => HandlerError::fatal("ocr_unavailable", e.to_string()),
        EngineError::Timeout(_) => HandlerError::retryable("ocr_timeout", e.to_string()),
        EngineError::Failed(_, _) => HandlerError::fatal("ocr_failed", e.to_string()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Input {
    Pdf,
    /// PNG or JPEG: cleaned before Tesseract reads it.
    Image,
    /// One or more pages, read by Tesseract as they are (no TIFF decoder for the clean-up).
    Tiff,
}

fn input_of(head: &[u8]) -> Option<Input> {
    if head.starts_with(b"%PDF") {
        Some(Input::Pdf)
    } else if head.starts_with(b"\x89PNG") || head.starts_with(b"\xFF\xD8\xFF") {
        Some(Input::Image)
    } else if head.starts_with(b"II*\x00") || head.starts_with(b"MM\x00*") {
        Some(Input::Tiff)
    } else {
        None
    }
}

#[async_trait]
impl Handler for OcrExtract {
    async fn check(&self, tenant: &str, payload: &RawValue) -> Result<(), PayloadError> {
        let c = check(payload)?;
        let found = self
            .store
            .artifact_get(Some(tenant), c.upload)
            .await
            .map_err(|e| PayloadError::new("upload", format!("the store could not be read: {e}")))?;
        if found.is_none() {
            return Err(PayloadError::new("upload", format!("there is no upload {} (or it expired)", c.upload)));
        }
        Ok(())
    }

    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let c = check(&ctx.payload)
            .map_err(|e| HandlerError::fatal("invalid_payload", format!("{}: {}", e.field, e.message)))?;
        let p = &c.p;
        crate::step(&ctx, "Leyendo archivo", 0, None)?;
        let dir = work_dir()?;
        let input = dir.path().join("input");
        let (artifact, head) = copy_upload(&ctx, c.upload, &input).await?;
        let kind = input_of(&head).ok_or_else(|| {
            HandlerError::fatal(
                "unsupported_file",
                format!("{} is not a PDF or an image (PNG, JPEG, TIFF)", artifact.filename),
            )
        })?;
        let timeout = page_timeout(&ctx, p.page_timeout_s);
        let settings = OcrSettings {
            languages: p.languages.clone(),
            dpi: p.dpi,
            adaptive: p.adaptive_threshold,
            pdf: p.searchable_pdf,
        };
        let pages = match kind {
            Input::Pdf => self.pdf(&ctx, &input, dir.path(), p, &settings, timeout).await?,
            Input::Image | Input::Tiff => {
                let clean = p.clean && kind == Input::Image;
                image(&ctx, &input, dir.path(), clean, p.max_pages, &settings, timeout).await?
            }
        };

        // Saving is quick: the last progress stays "pages read, N of N".
        let text = pages.iter().map(|pg| pg.text.as_str()).collect::<Vec<_>>().join("\n\u{c}\n");
        let stem = stem_of(&artifact.filename, "documento");
        let mut artifacts = serde_json::Map::new();
        let text_file = dir.path().join("texto.txt");
        tokio::fs::write(&text_file, &text).await.map_err(|e| HandlerError::retryable("tempdir", e.to_string()))?;
        let saved = save_file(&ctx, &text_file, format!("{stem}.txt"), "text/plain; charset=utf-8").await?;
        artifacts.insert("text".into(), json!(saved));
        if p.searchable_pdf {
            let parts: Vec<PathBuf> = pages.iter().filter_map(|pg| pg.pdf.clone()).collect();
            let whole = match kind {
                Input::Pdf => parts.len() == pages.len(),
                Input::Image | Input::Tiff => parts.len() == 1,
            };
            if whole && !parts.is_empty() {
                let out = dir.path().join("buscable.pdf");
                if parts.len() == 1 {
                    tokio::fs::copy(&parts[0], &out)
                        .await
                        .map_err(|e| HandlerError::retryable("tempdir", e.to_string()))?;
                } else {
                    ocr_engine::pdf_unite(&parts, &out, timeout).await.map_err(engine_error)?;
                }
                let saved = save_file(&ctx, &out, format!("{stem}-buscable.pdf"), "application/pdf").await?;
                artifacts.insert("pdf".into(), json!(saved));
            }
        }
        let ocr: Vec<&PageText> = pages.iter().filter(|pg| pg.source == "ocr").collect();
        let words: u32 = ocr.iter().map(|pg| pg.words).sum();
        let mean = if words == 0 {
            Value::Null
        } else {
            let sum: f64 = ocr.iter().map(|pg| pg.confidence.unwrap_or(0.0) * f64::from(pg.words)).sum();
            json!((sum / f64::from(words) * 10.0).round() / 10.0)
        };
        let truncated = text.len() > TEXT_IN_RESULT;
        let mut shown = text.clone();
        if truncated {
            let mut end = TEXT_IN_RESULT;
            while !shown.is_char_boundary(end) {
                end -= 1;
            }
            shown.truncate(end);
        }
        let result = json!({
            "pages": pages.iter().enumerate().map(|(i, pg)| json!({
                "page": i + 1, "source": pg.source, "confidence": pg.confidence, "words": pg.words,
                "chars": pg.text.chars().count(),
                "deskewed_deg": pg.deskewed.map(|d| (d * 100.0).round() / 100.0), "ms": pg.ms,
            })).collect::<Vec<_>>(),
            "page_count": pages.len(),
            "ocr_pages": ocr.len(),
            "mean_confidence": mean,
            "text": shown,
            "text_truncated": truncated,
            "fields": ocr_fields::extract(&c.fields, &text),
            "artifacts": artifacts,
        });
        Ok(serde_json::value::to_raw_value(&result).expect("JSON serializes"))
    }
}

/// How long one program may run: the page limit, or less if the job's deadline is nearer.
fn page_timeout(ctx: &JobContext, seconds: u64) -> Duration {
    let limit = Duration::from_secs(seconds);
    match ctx.deadline {
        Some(d) => limit.min(d.saturating_duration_since(Instant::now()).max(Duration::from_secs(1))),
        None => limit,
    }
}

impl OcrExtract {
    async fn pdf(
        &self,
        ctx: &JobContext,
        pdf: &Path,
        dir: &Path,
        p: &Payload,
        settings: &OcrSettings,
        timeout: Duration,
    ) -> Result<Vec<PageText>, HandlerError> {
        let count = ocr_engine::pdf_pages(pdf, timeout).await.map_err(|e| match e {
            EngineError::Failed(..) => HandlerError::fatal("corrupt_file", format!("the PDF cannot be read: {e}")),
            other => engine_error(other),
        })?;
        if count > p.max_pages {
            return Err(HandlerError::fatal(
                "too_many_pages",
                format!("the PDF has {count} pages; this job reads at most {} (max_pages)", p.max_pages),
            ));
        }
        let done = std::sync::atomic::AtomicU64::new(0);
        crate::step(ctx, "Leyendo páginas", 0, Some(u64::from(count)))?;
        // Two pages at a time on two cores: Tesseract itself runs single-threaded.
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
        let pages: Vec<Result<PageText, HandlerError>> = stream::iter(1..=count)
            .map(|page| {
                let done = &done;
                async move {
                    let started = Instant::now();
                    let own = if p.force_ocr {
                        String::new()
                    } else {
                        ocr_engine::pdf_page_text(pdf, page, timeout).await.map_err(engine_error)?
                    };
                    let result = if own.chars().filter(|c| !c.is_whitespace()).count() >= TEXT_LAYER_MIN {
                        let part = dir.join(format!("p{page}.pdf"));
                        if p.searchable_pdf {
                            ocr_engine::pdf_page(pdf, page, &part, timeout).await.map_err(engine_error)?;
                        }
                        PageText {
                            text: own,
                            source: "text_layer",
                            confidence: None,
                            words: 0,
                            deskewed: None,
                            ms: started.elapsed().as_millis() as u64,
                            pdf: p.searchable_pdf.then_some(part),
                        }
                    } else {
                        let (image, dpi) =
                            ocr_engine::rasterize(pdf, page, p.dpi, &dir.join(format!("p{page}")), timeout)
                                .await
                                .map_err(engine_error)?;
                        let (image, deskewed) = cleaned(&image, p.clean).await?;
                        let base = dir.join(format!("p{page}-ocr"));
                        let r = ocr_engine::tesseract(&image, &base, &settings.at(dpi), timeout)
                            .await
                            .map_err(engine_error)?;
                        let _ = tokio::fs::remove_file(&image).await;
                        let Recognized { text, confidence, words } = r.into_iter().next().unwrap_or(Recognized {
                            text: String::new(),
                            confidence: 0.0,
                            words: 0,
                        });
                        PageText {
                            text,
                            source: "ocr",
                            confidence: Some(confidence),
                            words,
                            deskewed,
                            ms: started.elapsed().as_millis() as u64,
                            pdf: p.searchable_pdf.then(|| base.with_extension("pdf")),
                        }
                    };
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    crate::step(ctx, "Leyendo páginas", n, Some(u64::from(count)))?;
                    Ok(result)
                }
            })
            .buffered(parallel)
            .collect()
            .await;
        pages.into_iter().collect()
    }
}

/// The page image cleaned (despeckled, deskewed) when asked, on a blocking thread: the image
/// to read and the skew corrected.
async fn cleaned(image: &Path, clean: bool) -> Result<(PathBuf, Option<f64>), HandlerError> {
    if !clean {
        return Ok((image.to_owned(), None));
    }
    let (from, to) = (image.to_owned(), image.with_extension("clean.pgm"));
    let out = to.clone();
    let angle = tokio::task::spawn_blocking(move || crate::ocr_cleanup::clean_scan(&from, &to))
        .await
        .map_err(|e| HandlerError::fatal("ocr_failed", format!("the clean-up stopped: {e}")))?
        .map_err(|e| HandlerError::fatal("corrupt_file", e))?;
    Ok((out, Some(angle)))
}

async fn image(
    ctx: &JobContext,
    input: &Path,
    dir: &Path,
    clean: bool,
    max_pages: u32,
    settings: &OcrSettings,
    timeout: Duration,
) -> Result<Vec<PageText>, HandlerError> {
    crate::step(ctx, "Leyendo páginas", 0, None)?;
    let started = Instant::now();
    let base = dir.join("ocr");
    let (image, deskewed) = cleaned(input, clean).await?;
    let read = ocr_engine::tesseract(&image, &base, settings, timeout).await.map_err(|e| match e {
        EngineError::Failed(..) => HandlerError::fatal("corrupt_file", format!("the image cannot be read: {e}")),
        other => engine_error(other),
    })?;
    if read.len() > max_pages as usize {
        return Err(HandlerError::fatal(
            "too_many_pages",
            format!("the image has {} pages; this job reads at most {max_pages} (max_pages)", read.len()),
        ));
    }
    let n = read.len() as u64;
    crate::step(ctx, "Leyendo páginas", n, Some(n))?;
    let ms = started.elapsed().as_millis() as u64 / n.max(1);
    // One searchable PDF for all the pages: it is the first page's part, the others have none.
    let pdf = settings.pdf.then(|| base.with_extension("pdf"));
    let mut pages: Vec<PageText> = read
        .into_iter()
        .map(|r| PageText {
            text: r.text,
            source: "ocr",
            confidence: Some(r.confidence),
            words: r.words,
            deskewed,
            ms,
            pdf: None,
        })
        .collect();
    // Tesseract wrote one PDF for all the pages: it goes with the first.
    if let Some(first) = pages.first_mut() {
        first.pdf = pdf;
    }
    Ok(pages)
}
