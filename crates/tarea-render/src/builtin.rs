//! The built-in Spanish templates, compiled into the binary with sample data for each.
use crate::template::Template;

/// A built-in template.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    pub description: &'static str,
    pub source: &'static str,
    /// Sample data that shows every field (also what the tests and benchmarks render).
    pub sample: &'static str,
    /// For label templates: every page must be exactly this size (mm).
    pub label_size_mm: Option<(f64, f64)>,
}

/// Built-in templates are version 0; a tenant's own uploads are numbered from 1.
pub const BUILTIN_VERSION: u32 = 0;

macro_rules! builtin {
    ($name:literal, $description:literal, $label:expr) => {
        Builtin {
            name: $name,
            description: $description,
            source: include_str!(concat!("../templates/", $name, ".typ")),
            sample: include_str!(concat!("../templates/", $name, ".json")),
            label_size_mm: $label,
        }
    };
}

/// Every built-in template.
pub const BUILTINS: &[Builtin] = &[
    builtin!(
        "lab-report",
        "Histopathology report: protocol, veterinarian and animal tables, one section per cassette, boxed diagnosis, signature",
        None
    ),
    builtin!("work-order", "Work order: services table with quantities, prices and totals", None),
    builtin!("medical-report", "Medical imaging report: patient, findings by organ, conclusion, signature", None),
    builtin!(
        "inventory-report",
        "Low-stock report: products at or below their reorder minimum, with what to order",
        None
    ),
    builtin!("statistics-report", "Monthly statistics: a grouped bar chart, the table behind it, key indicators", None),
    builtin!(
        "reception-label",
        "Reception label, 39 × 20 mm: QR code of the protocol's public URL, protocol number, animal, species, analysis",
        Some((39.0, 20.0))
    ),
];

/// A built-in template by name.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Each built-in template's version label for cache keys: `0.` and the first 8 hex digits of
/// the SHA-256 of its source, so a template changed by a new release never reuses old renders.
pub fn version_labels() -> std::collections::HashMap<String, String> {
    use sha2::{Digest, Sha256};
    BUILTINS
        .iter()
        .map(|b| (b.name.to_string(), format!("{BUILTIN_VERSION}.{}", &hex::encode(Sha256::digest(b.source))[..8])))
        .collect()
}

impl Builtin {
    /// As a template to load.
    pub fn template(&self) -> Template {
        Template {
            tenant: None,
            name: self.name.to_string(),
            version: BUILTIN_VERSION,
            source: self.source.to_string(),
            assets: Vec::new(),
        }
    }
}
