//! Templates a tenant uploads: every upload is a new version, numbered from 1 and never reused
//! (cache keys name versions, so a number must always mean the same source).
use serde::{Deserialize, Serialize};

/// One stored version of a tenant's template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    /// Whose it is.
    pub tenant: String,
    /// Its name (`informe-biopsia`).
    pub name: String,
    /// 1, 2, … in upload order.
    pub version: u32,
    /// The Typst source of the main file.
    pub source: String,
    /// Its assets, as the renderer's JSON list (`[{"path", "bytes"}]`), opaque to the store.
    pub assets: Vec<u8>,
    /// Unix ms.
    pub created_at: i64,
}

/// A template as listed: its newest version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateSummary {
    /// Its name.
    pub name: String,
    /// Its newest version.
    pub latest: u32,
    /// How many versions are kept.
    pub versions: u32,
    /// When the newest version was stored (Unix ms).
    pub updated_at: i64,
}

/// A file uploaded with a template (an image, a font, an included `.typ` file).
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateAsset {
    /// Its path beside the template (`logo.png`, `fuentes/Marca.otf`).
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A template upload, before it is stored.
#[derive(Clone, Debug)]
pub struct TemplateUpload {
    /// Whose it is.
    pub tenant: String,
    /// Its name.
    pub name: String,
    /// The Typst source of the main file.
    pub source: String,
    /// Its assets.
    pub assets: Vec<TemplateAsset>,
    /// Data to render it with as a check; without it, only its syntax is checked.
    pub sample: Option<Box<serde_json::value::RawValue>>,
}

/// An upload that passed its check.
#[derive(Clone, Debug)]
pub struct TemplateChecked {
    /// The assets in the form the renderer reads back (what the store keeps).
    pub assets: Vec<u8>,
    /// Pages of the sample's render; `None`: there was no sample, only the syntax was checked.
    pub pages: Option<u32>,
    /// What the compiler warned about, as JSON diagnostics.
    pub warnings: serde_json::Value,
}

/// Why an upload was not stored.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TemplateCheckError {
    /// The template is wrong: it does not parse or does not render its sample, or an asset is
    /// unusable. `diagnostics` places each problem (file, line, column).
    #[error("{message}")]
    Refused {
        /// What is wrong, with its place.
        message: String,
        /// Every problem, as JSON.
        diagnostics: serde_json::Value,
    },
    /// A part of the upload is unusable before any compiling (an asset path, too many assets);
    /// `field` names it (`assets[2].path`).
    #[error("{message}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No renderer could check it now.
    #[error("{0}")]
    Unavailable(String),
}

/// Checks an uploaded template before it is stored, in the renderer's isolation (a template is
/// untrusted code). The server holds one; the document crate implements it.
#[async_trait::async_trait]
pub trait TemplateChecker: Send + Sync {
    /// Checks `upload`; answers what to store.
    async fn check(&self, upload: TemplateUpload) -> Result<TemplateChecked, TemplateCheckError>;
}
