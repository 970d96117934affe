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
    /// Its assets, as [`encode_assets`] wrote them (opaque to the store).
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateAsset {
    /// Its path beside the template (`logo.png`, `fuentes/Marca.otf`).
    pub path: String,
    /// Its bytes (hex when stored).
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
}

/// A template's assets as the store keeps them: a JSON list of `{"path", "bytes"}`, the bytes
/// in hex; nothing for none.
pub fn encode_assets(assets: &[TemplateAsset]) -> Vec<u8> {
    if assets.is_empty() { Vec::new() } else { serde_json::to_vec(assets).expect("assets serialize") }
}

/// The assets [`encode_assets`] wrote.
pub fn decode_assets(stored: &[u8]) -> Result<Vec<TemplateAsset>, String> {
    if stored.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(stored).map_err(|e| format!("stored template assets are unreadable: {e}"))
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_read_back_as_they_were_stored() {
        let assets = vec![
            TemplateAsset { path: "logo.png".into(), bytes: vec![0x89, b'P', b'N', b'G', 0] },
            TemplateAsset { path: "partes/pie.typ".into(), bytes: b"= Fin".to_vec() },
        ];
        assert_eq!(decode_assets(&encode_assets(&assets)).unwrap(), assets);
        assert!(encode_assets(&[]).is_empty());
        assert_eq!(decode_assets(b"").unwrap(), vec![]);
        assert!(decode_assets(b"[{\"path\": 1}]").is_err());
    }
}
