//! Fields found in a document's text: the ones a veterinary lab's papers carry (date, protocol
//! number, species, weight) by name, and any other by a regular expression.
//!
//! `"fields": ["fecha", "protocolo", "especie", "peso", {"name": "paciente", "pattern":
//! "(?i)paciente:\\s*(\\S+)", "type"?: "string" | "date" | "decimal", "all"?: false}]`. A
//! pattern's first group is the value (the whole match without one). Not found: `null`.
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tarea_core::PayloadError;

/// Fields one job may ask for.
pub const FIELDS_MAX: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum FieldSpec {
    Preset(String),
    Pattern {
        name: String,
        pattern: String,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        all: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Date,
    Decimal,
    Species,
    Weight,
    Protocol,
}

/// A field, compiled.
#[derive(Debug)]
pub(crate) struct Field {
    name: String,
    re: Regex,
    kind: Kind,
    all: bool,
}

const SPECIES: [(&str, &str); 20] = [
    ("canino", "Canino"),
    ("perro", "Canino"),
    ("perra", "Canino"),
    ("felino", "Felino"),
    ("gato", "Felino"),
    ("gata", "Felino"),
    ("equino", "Equino"),
    ("caballo", "Equino"),
    ("yegua", "Equino"),
    ("bovino", "Bovino"),
    ("vaca", "Bovino"),
    ("ovino", "Ovino"),
    ("oveja", "Ovino"),
    ("porcino", "Porcino"),
    ("cerdo", "Porcino"),
    ("caprino", "Caprino"),
    ("cabra", "Caprino"),
    ("conejo", "Lagomorfo"),
    ("huron", "Hurón"),
    ("ave", "Ave"),
];

fn build(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).size_limit(1 << 20).dfa_size_limit(1 << 20).build()
}

/// Checks and compiles `specs`; errors name the field (`fields[2].pattern`).
pub(crate) fn compile(specs: &[FieldSpec]) -> Result<Vec<Field>, PayloadError> {
    if specs.len() > FIELDS_MAX {
        return Err(PayloadError::new("fields", format!("at most {FIELDS_MAX} fields")));
    }
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let at = |f: &str| format!("fields[{i}]{f}");
            Ok(match spec {
                FieldSpec::Preset(name) => {
                    let (pattern, kind) = match name.as_str() {
                        "fecha" => (r"\b(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2})\b", Kind::Date),
                        "protocolo" => (r"(?i)\b((?:HP|CT|CITO|NC|PR|IHQ)\s*\d{2}\s*/\s*\d{3,6})\b", Kind::Protocol),
                        "especie" => (
                            r"(?i)\b(canin[oa]|perr[oa]|felin[oa]|gat[oa]|equin[oa]|caballo|yegua|bovin[oa]|vaca|ovin[oa]|oveja|porcin[oa]|cerdo|caprin[oa]|cabra|conejo|hur[oó]n|ave)\b",
                            Kind::Species,
                        ),
                        "peso" => (r"(?i)\b(\d+(?:[.,]\d+)?)\s*(kg|kilos?|g|gr|gramos)\b", Kind::Weight),
                        other => {
                            return Err(PayloadError::new(
                                at(""),
                                format!("{other:?} is not a built-in field (fecha, protocolo, especie, peso); give {{\"name\", \"pattern\"}}"),
                            ));
                        }
                    };
                    Field { name: name.clone(), re: build(pattern).expect("built-in patterns compile"), kind, all: false }
                }
                FieldSpec::Pattern { name, pattern, kind, all } => {
                    if name.trim().is_empty() || name.len() > 100 {
                        return Err(PayloadError::new(at(".name"), "must be 1 to 100 characters"));
                    }
                    let re = build(pattern)
                        .map_err(|e| PayloadError::new(at(".pattern"), format!("is not a valid regular expression: {e}")))?;
                    let kind = match kind.as_deref() {
                        None | Some("string") => Kind::Text,
                        Some("date") => Kind::Date,
                        Some("decimal") => Kind::Decimal,
                        Some(_) => return Err(PayloadError::new(at(".type"), "must be string, date or decimal")),
                    };
                    Field { name: name.clone(), re, kind, all: *all }
                }
            })
        })
        .collect()
}

/// The value of one match, or None when it does not read as the field's type.
fn value(kind: Kind, caps: &regex::Captures<'_>) -> Option<Value> {
    let text = caps.get(1).or_else(|| caps.get(0))?.as_str().trim();
    match kind {
        Kind::Text => Some(json!(text)),
        Kind::Date => tarea_import::read_date(text).ok().map(|d| json!(d.to_string())),
        Kind::Decimal => tarea_import::read_decimal(text).ok().and_then(|(s, _)| serde_json::from_str(&s).ok()),
        Kind::Protocol => {
            let (prefix, rest) = text.split_at(text.find(|c: char| c.is_ascii_digit())?);
            let rest: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
            Some(json!(format!("{} {rest}", prefix.trim().to_uppercase())))
        }
        Kind::Species => {
            let word = tarea_import::fold(text);
            let stem = word.trim_end_matches(['a', 'o']);
            SPECIES.iter().find(|(w, _)| *w == word || w.trim_end_matches(['a', 'o']) == stem).map(|(_, s)| json!(s))
        }
        Kind::Weight => {
            let (n, _) = tarea_import::read_decimal(caps.get(1)?.as_str()).ok()?;
            let unit = caps.get(2)?.as_str().to_lowercase();
            let unit = if unit.starts_with('k') { "kg" } else { "g" };
            Some(json!({"value": serde_json::from_str::<Value>(&n).ok()?, "unit": unit}))
        }
    }
}

/// The fields found in `text`.
pub(crate) fn extract(fields: &[Field], text: &str) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| {
            let mut found = f.re.captures_iter(text).filter_map(|c| value(f.kind, &c));
            let v = if f.all { Value::Array(found.collect()) } else { found.next().unwrap_or(Value::Null) };
            (f.name.clone(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_fields_are_found_and_normalised() {
        let specs: Vec<FieldSpec> = serde_json::from_value(json!([
            "fecha", "protocolo", "especie", "peso",
            {"name": "paciente", "pattern": "(?i)paciente:\\s*(\\S+)"},
            {"name": "importes", "pattern": "\\$\\s*([0-9.,]+)", "type": "decimal", "all": true}
        ]))
        .unwrap();
        let fields = compile(&specs).unwrap();
        let text = "Protocolo: hp 26 / 01234   Fecha de recepción: 20/11/2026\n\
                    Paciente: Luna   Especie: PERRA   Raza: Labrador   Peso: 32,5 kg\n\
                    Honorarios $ 12.500,00 y $ 3.000,50";
        let got = extract(&fields, text);
        assert_eq!(
            Value::Object(got),
            json!({"fecha": "2026-11-20", "protocolo": "HP 26/01234", "especie": "Canino",
                   "peso": {"value": 32.5, "unit": "kg"}, "paciente": "Luna", "importes": [12500.00, 3000.50]})
        );
        let none = extract(&fields, "nada que ver");
        assert_eq!(none["fecha"], Value::Null);
        assert_eq!(none["importes"], json!([]));
        let bad: Vec<FieldSpec> = serde_json::from_value(json!(["color", {"name": "x", "pattern": "("}])).unwrap();
        assert_eq!(compile(&bad[..1]).unwrap_err().field, "fields[0]");
        assert_eq!(compile(&bad[1..]).unwrap_err().field, "fields[0].pattern");
    }
}
