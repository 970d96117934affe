//! tarea's Typst renderer.
//!
//! Templates are Typst sources that read their data with `json("/data.json")`: data is passed
//! as data and never spliced into markup, so a value such as `#panic("x")` prints literally.
//! Fonts are bundled ([`fonts`]), the built-in Spanish templates ship in the binary
//! ([`builtin`]), and a [`Renderer`] keeps parsed templates and Typst's memo cache warm.
//!
//! A Typst compile cannot be interrupted and a pathological input can take seconds and
//! gigabytes, so the server never compiles in its own process: it runs renders in long-lived
//! child processes ([`child::serve`]), each with a memory cap, and kills one that overruns its
//! deadline. [`wire`] is what they say to each other.
pub mod builtin;
pub mod child;
pub mod engine;
pub mod fonts;
pub mod label;
mod qr;
pub mod template;
pub mod wire;
mod world;

use std::time::Instant;

use serde::{Deserialize, Serialize};
use typst::foundations::Datetime;

pub use engine::{Diagnostic, Options, RenderError};
pub use template::{Asset, Template};

/// What to render.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// The template's key (`name@version`); the renderer must have it loaded.
    pub template: String,
    /// Label mode: add each label's QR code, then check page count, size and QR codes.
    #[serde(default)]
    pub labels: Option<LabelCheck>,
    #[serde(default)]
    pub options: Options,
    /// A stable identifier of the document (the job id) for the PDF's id.
    pub ident: String,
}

/// How label pages are checked.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct LabelCheck {
    /// Every page must be this size (mm); None: the size of the first page.
    pub size_mm: Option<(f64, f64)>,
}

/// A finished PDF and what it took.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Output {
    pub pages: usize,
    pub warnings: Vec<Diagnostic>,
    /// Milliseconds spent laying out, writing the PDF and checking labels.
    pub compile_ms: f64,
    pub pdf_ms: f64,
    pub check_ms: f64,
}

/// What checking a template found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckReport {
    /// Pages of the sample's render; `None`: no sample, only the syntax was checked.
    pub pages: Option<usize>,
    pub warnings: Vec<Diagnostic>,
}

/// Parsed templates and a warm Typst; renders one request at a time.
///
/// Call [`Renderer::tidy`] after each render's answer is on its way: it bounds Typst's memo
/// cache, which takes a few per cent of a render, so it is kept off the time a caller waits.
/// A caller that never tidies still has its memory bounded: a render tidies first when
/// four renders have gone untidied.
pub struct Renderer {
    engine: engine::Engine,
    /// Renders since the last [`Renderer::tidy`].
    untidy: usize,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    /// A renderer with every built-in template loaded.
    pub fn new() -> Renderer {
        let mut engine = engine::Engine::new();
        for b in builtin::BUILTINS {
            engine.load(&b.template()).expect("built-in templates have valid assets");
        }
        Renderer { engine, untidy: 0 }
    }

    /// Evicts what Typst memoized for renders more than a few renders ago. Cheap to call
    /// after every render; the child process calls it after writing each answer.
    pub fn tidy(&mut self) {
        self.engine.evict();
        self.untidy = 0;
    }

    /// Loads (or replaces) a template version.
    pub fn load(&mut self, template: &Template) -> Result<(), RenderError> {
        self.engine.load(template)
    }

    /// Checks a template before it is stored. With `sample` (JSON) it renders it, as labels
    /// (QR codes added, then decoded and checked) when the sample holds a `labels` list;
    /// without, it checks the syntax. Nothing stays loaded.
    pub fn check(&mut self, template: &Template, sample: Option<Vec<u8>>) -> Result<CheckReport, RenderError> {
        let key = template.key();
        self.engine.load(template)?;
        let result = match sample {
            None => self.engine.syntax(&key).map(|()| CheckReport { pages: None, warnings: Vec::new() }),
            Some(data) => {
                let labels = serde_json::from_slice::<serde_json::Value>(&data)
                    .map_err(|e| RenderError::Check(format!("the sample is not valid JSON: {e}")))?
                    .get("labels")
                    .is_some_and(serde_json::Value::is_array);
                let request = Request {
                    template: key.clone(),
                    labels: labels.then_some(LabelCheck { size_mm: None }),
                    options: Options::default(),
                    ident: "check".into(),
                };
                self.render(&request, data)
                    .map(|(out, _)| CheckReport { pages: Some(out.pages), warnings: out.warnings })
            }
        };
        self.engine.unload(&key);
        result
    }

    /// Renders `data` (JSON bytes) with a loaded template; returns the PDF.
    pub fn render(&mut self, request: &Request, data: Vec<u8>) -> Result<(Output, Vec<u8>), RenderError> {
        if self.untidy >= engine::MEMO_MAX_AGE {
            self.tidy();
        }
        self.untidy += 1;
        let started = Instant::now();
        let (data, expected) = match request.labels {
            Some(_) => {
                let mut value: serde_json::Value = serde_json::from_slice(&data)
                    .map_err(|e| RenderError::Check(format!("data is not valid JSON: {e}")))?;
                let expected = label::prepare(&mut value)?;
                (serde_json::to_vec(&value).expect("a JSON value serializes"), Some(expected))
            }
            None => (data, None),
        };
        let now = now();
        let rendered = self.engine.compile(&request.template, data, now)?;
        let compile_ms = ms(started);
        // Labels are checked on another thread while this one writes the PDF: the two only
        // read the laid-out document. (On rayon's pool instead, beside the PDF writer's own
        // compression tasks, a label took longer.)
        let engine = &self.engine;
        let document = &rendered;
        let (checked, written) = std::thread::scope(|scope| {
            let check = match (request.labels, expected.as_ref()) {
                (Some(check), Some(expected)) => Some(scope.spawn(move || {
                    let t = Instant::now();
                    label::check(&document.document, expected, check.size_mm).map(|()| ms(t))
                })),
                _ => None,
            };
            let t = Instant::now();
            let pdf = engine.pdf(document, request.options, &request.ident, now).map(|pdf| (pdf, ms(t)));
            let checked = match check {
                Some(h) => h.join().unwrap_or_else(|_| Err(RenderError::Check("the label check crashed".into()))),
                None => Ok(0.0),
            };
            (checked, pdf)
        });
        // A label that would not scan is the answer even when the PDF also failed.
        let check_ms = checked?;
        let (pdf, pdf_ms) = written?;
        let output = Output {
            pages: rendered.document.pages().len(),
            warnings: rendered.warnings,
            compile_ms,
            pdf_ms,
            check_ms,
        };
        Ok((output, pdf))
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Now, in UTC, as Typst's date type.
fn now() -> Datetime {
    let t = time::OffsetDateTime::now_utc();
    Datetime::from_ymd_hms(t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second())
        .expect("the current time is a valid date")
}
