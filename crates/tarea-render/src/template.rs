//! Templates: a Typst main file and its assets, named and versioned.
use serde::{Deserialize, Serialize};

/// The most assets one template may carry, and the longest asset path.
pub const MAX_ASSETS: usize = 64;
pub const MAX_ASSET_PATH: usize = 128;

/// A template as stored: its source and its assets (images, fonts, included .typ files).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Template {
    /// Whose it is; `None` for the built-in templates every tenant shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub name: String,
    pub version: u32,
    pub source: String,
    #[serde(default)]
    pub assets: Vec<Asset>,
}

/// A file beside the template, read from it by path (`image("logo.png")`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Asset {
    pub path: String,
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
}

impl Template {
    /// The key renderers cache a parsed template under.
    pub fn key(&self) -> String {
        match &self.tenant {
            Some(tenant) => format!("{tenant}/{}@{}", self.name, self.version),
            None => format!("{}@{}", self.name, self.version),
        }
    }
}

/// Checks an asset path: relative, plain segments of letters, digits, `-`, `_` and `.`, at
/// most [`MAX_ASSET_PATH`] bytes, not `main.typ` or `data.json`.
pub fn check_asset_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.len() > MAX_ASSET_PATH {
        return Err(format!("asset path {path:?} must be 1 to {MAX_ASSET_PATH} bytes"));
    }
    if matches!(path, "main.typ" | "data.json") {
        return Err(format!("asset path {path:?} is reserved (the template and its data live there)"));
    }
    for segment in path.split('/') {
        let plain = segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if segment.is_empty() || segment == "." || segment == ".." || !plain {
            return Err(format!(
                "asset path {path:?} must be relative, with segments of letters, digits, '-', '_' and '.'"
            ));
        }
    }
    Ok(())
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_paths_stay_inside_the_template() {
        for ok in ["logo.png", "img/firma.png", "fonts/Marca-Bold.otf", "parts/encabezado.typ"] {
            assert_eq!(check_asset_path(ok), Ok(()), "{ok}");
        }
        for bad in
            ["", "/etc/passwd", "../x.png", "a/../../b", "a//b", "a\\b.png", "main.typ", "data.json", "ñ.png", "a b"]
        {
            assert!(check_asset_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_asset_path(&"a".repeat(MAX_ASSET_PATH + 1)).is_err());
    }
}
