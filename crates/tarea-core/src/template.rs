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
