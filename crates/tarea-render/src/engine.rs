//! Compiling a template with data into a PDF, and turning Typst's diagnostics into messages a
//! person can act on (the file, line and column, and Typst's hints).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use typst::diag::{Severity, SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::syntax::Source;
use typst::text::Font;
use typst::{World, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use crate::template::{Template, check_asset_path};
use crate::world::{Loaded, MAIN, RenderWorld, file_id};

/// How old (in renders) a memoized result may get before it is evicted. Typst's memo cache
/// grows without bound otherwise (~2.5 MiB per report); a short window keeps the standard
/// library, fonts and the template's unchanged parts warm.
pub(crate) const MEMO_MAX_AGE: usize = 4;

/// What a render is asked to produce.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Options {
    /// PDF/A-2b (archival) instead of a plain PDF.
    #[serde(default)]
    pub pdf_a: bool,
}

/// One problem Typst reported, placed in the template.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Diagnostic {
    pub message: String,
    /// The template file (`main.typ` or an asset's path); None when not in a file.
    pub file: Option<String>,
    /// 1-based line and column.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The source line, for the message.
    pub snippet: Option<String>,
    pub hints: Vec<String>,
}

impl Diagnostic {
    /// A problem with no place in a file.
    fn unplaced(message: String, hints: Vec<String>) -> Diagnostic {
        Diagnostic { message, file: None, line: None, column: None, snippet: None, hints }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let (Some(file), Some(line), Some(column)) = (&self.file, self.line, self.column) {
            write!(f, " (template {file}, line {line}, column {column})")?;
        }
        for hint in &self.hints {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

/// Why a render failed.
#[derive(Clone, Debug, thiserror::Error, Serialize, Deserialize, PartialEq)]
pub enum RenderError {
    /// The template (with this data) does not compile: a missing field, a wrong type, a
    /// template bug. Not worth retrying.
    #[error("{}", first(.0))]
    Compile(Vec<Diagnostic>),
    /// The template itself is unusable (a bad asset path, an asset that is not UTF-8 Typst).
    #[error("{0}")]
    Template(String),
    /// The output failed a check (a label's QR code does not decode, a page has the wrong size).
    #[error("{0}")]
    Check(String),
}

fn first(d: &[Diagnostic]) -> String {
    d.first().map_or_else(|| "the template failed to compile".into(), ToString::to_string)
}

/// A finished render.
pub struct Rendered {
    pub document: PagedDocument,
    pub warnings: Vec<Diagnostic>,
}

/// Parses templates once and compiles them with data; keeps what Typst memoizes warm within a
/// bounded window.
#[derive(Default)]
pub struct Engine {
    loaded: HashMap<String, Loaded>,
}

impl Engine {
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Parses a template and its assets; replaces an earlier load under the same key.
    pub fn load(&mut self, template: &Template) -> Result<(), RenderError> {
        let mut sources = HashMap::new();
        let mut files = HashMap::new();
        let mut fonts = Vec::new();
        for asset in &template.assets {
            check_asset_path(&asset.path).map_err(RenderError::Template)?;
            let id = file_id(&format!("/{}", asset.path))
                .ok_or_else(|| RenderError::Template(format!("asset path {:?} is not valid", asset.path)))?;
            if asset.path.ends_with(".typ") {
                let text = String::from_utf8(asset.bytes.clone())
                    .map_err(|_| RenderError::Template(format!("asset {:?} is not UTF-8 text", asset.path)))?;
                sources.insert(id, Source::new(id, text));
            } else if is_font(&asset.path) {
                let before = fonts.len();
                fonts.extend(Font::iter(Bytes::new(asset.bytes.clone())));
                if fonts.len() == before {
                    return Err(RenderError::Template(format!("asset {:?} is not a font Typst can read", asset.path)));
                }
                files.insert(id, Bytes::new(asset.bytes.clone()));
            } else {
                files.insert(id, Bytes::new(asset.bytes.clone()));
            }
        }
        let main = Source::new(*MAIN, template.source.clone());
        self.loaded.insert(template.key(), Loaded { main, sources, files, fonts: None }.with_fonts(fonts));
        Ok(())
    }

    /// Forgets a loaded template.
    pub fn unload(&mut self, key: &str) {
        self.loaded.remove(key);
    }

    /// The syntax errors of a loaded template: its main file and its `.typ` assets.
    pub fn syntax(&self, key: &str) -> Result<(), RenderError> {
        let template =
            self.loaded.get(key).ok_or_else(|| RenderError::Template(format!("template {key} is not loaded")))?;
        let errors: Vec<SourceDiagnostic> = std::iter::once(&template.main)
            .chain(template.sources.values())
            .flat_map(|source| source.root().errors_and_warnings().0)
            .map(SourceDiagnostic::from)
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        let today = Datetime::from_ymd(2000, 1, 1).expect("a valid date");
        let world = RenderWorld { template, data: Bytes::new(b"{}".to_vec()), today };
        Err(RenderError::Compile(diagnostics(&world, &errors)))
    }

    /// Lays out a loaded template with `data` (JSON bytes the template reads as
    /// `json("/data.json")`; never spliced into markup).
    pub fn compile(&self, key: &str, data: Vec<u8>, today: Datetime) -> Result<Rendered, RenderError> {
        let template =
            self.loaded.get(key).ok_or_else(|| RenderError::Template(format!("template {key} is not loaded")))?;
        let world = RenderWorld { template, data: Bytes::new(data), today };
        let Warned { output, warnings } = typst::compile::<PagedDocument>(&world);
        match output {
            Ok(document) => Ok(Rendered { document, warnings: diagnostics(&world, &warnings) }),
            Err(errors) => Err(RenderError::Compile(diagnostics(&world, &errors))),
        }
    }

    /// Evicts what Typst memoized more than [`MEMO_MAX_AGE`] calls ago (a call per render).
    pub fn evict(&self) {
        typst::comemo::evict(MEMO_MAX_AGE);
    }

    /// Writes a laid-out document as PDF.
    pub fn pdf(
        &self,
        rendered: &Rendered,
        options: Options,
        ident: &str,
        now: Datetime,
    ) -> Result<Vec<u8>, RenderError> {
        let standards = if options.pdf_a {
            PdfStandards::new(&[PdfStandard::A_2b]).map_err(|e| RenderError::Template(e.message().to_string()))?
        } else {
            PdfStandards::default()
        };
        let pdf_options = PdfOptions {
            ident: Smart::Custom(ident.to_string()),
            creator: Smart::Custom(Some("tarea".into())),
            timestamp: Some(Timestamp::new_utc(now)),
            standards,
            ..PdfOptions::default()
        };
        // PDF export reports problems against the template's spans; they only resolve inside a
        // world, and by then the layout is done, so they are given without a place.
        typst_pdf::pdf(&rendered.document, &pdf_options).map_err(|errors| {
            RenderError::Compile(errors.iter().map(|e| Diagnostic::unplaced(e.message.to_string(), hints(e))).collect())
        })
    }
}

/// Font files, by extension (TrueType, OpenType and their collections).
fn is_font(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".ttf", ".otf", ".ttc", ".otc"].iter().any(|ext| lower.ends_with(ext))
}

fn hints(d: &SourceDiagnostic) -> Vec<String> {
    d.hints.iter().map(|h| h.v.to_string()).collect()
}

/// Places each diagnostic in its file.
fn diagnostics(world: &RenderWorld<'_>, list: &[SourceDiagnostic]) -> Vec<Diagnostic> {
    list.iter()
        .map(|d| {
            let mut out = Diagnostic::unplaced(d.message.to_string(), hints(d));
            if d.severity == Severity::Warning {
                out.message = format!("warning: {}", out.message);
            }
            if let Some(id) = d.span.id()
                && let Ok(source) = world.source(id)
                && let Some(range) = world.range(d.span)
                && let Some((line, column)) = source.lines().byte_to_line_column(range.start)
            {
                out.file = Some(id.get().vpath().get_without_slash().to_string());
                out.line = Some(line + 1);
                out.column = Some(column + 1);
                out.snippet =
                    source.lines().line_to_range(line).map(|r| source.text()[r].trim_end().chars().take(160).collect());
            }
            out
        })
        .collect()
}
