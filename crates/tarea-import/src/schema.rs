//! An [`ImportSpec`] checked and compiled: patterns built, bounds typed, names folded; then bound
//! to a file's header, and applied to its rows.
use std::collections::HashMap;

use jiff::civil::Date;
use regex::Regex;
use serde::Serialize;

use crate::cell::{CellRef, Row};
use crate::error::{ImportError, RowError};
use crate::fold::fold;
use crate::spec::{ColumnSpec, ColumnType, DuplicatePolicy, ImportSpec};
use crate::value::{self, Typed};

const NOT_TEXT: &str =
    "has bytes that are not text in the file's encoding (save the file as UTF-8, or set \"encoding\")";

/// Columns an import may declare.
pub const COLUMNS_MAX: usize = 500;

/// A checked spec.
#[derive(Debug)]
pub struct Schema {
    pub(crate) columns: Vec<Column>,
    /// Positions (in `columns`) of the natural key.
    pub(crate) key: Vec<usize>,
    pub(crate) duplicates: DuplicatePolicy,
    pub(crate) trim: bool,
    pub(crate) spec: ImportSpec,
}

#[derive(Debug)]
pub(crate) struct Column {
    pub(crate) name: String,
    /// `,"name":`, as each NDJSON row writes it.
    json_key: String,
    /// The folded names it matches: its name, then its aliases.
    matches: Vec<String>,
    kind: ColumnType,
    pub(crate) required: bool,
    pub(crate) unique: bool,
    pattern: Option<Regex>,
    min: Option<Bound>,
    max: Option<Bound>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    /// An enum's values by folded form → as written.
    values: HashMap<String, String>,
    values_list: String,
    format: Option<String>,
    decimal: Option<u8>,
}

#[derive(Clone, Copy, Debug)]
enum Bound {
    Number(f64),
    Date(Date),
}

/// A spec problem: the field (`columns[2].pattern`) and what is wrong with it.
fn bad(field: String, message: impl Into<String>) -> ImportError {
    ImportError::new("invalid_spec", format!("{field}: {}", message.into()))
}

impl Schema {
    /// Checks `spec`; errors name the field at fault (`columns[1].min`).
    pub fn compile(spec: &ImportSpec) -> Result<Schema, ImportError> {
        if spec.columns.is_empty() {
            return Err(bad("columns".into(), "list at least one column"));
        }
        if spec.columns.len() > COLUMNS_MAX {
            return Err(bad("columns".into(), format!("at most {COLUMNS_MAX} columns")));
        }
        let mut columns = Vec::with_capacity(spec.columns.len());
        let mut seen = HashMap::new();
        for (i, c) in spec.columns.iter().enumerate() {
            let column = compile_column(i, c)?;
            if let Some(j) = seen.insert(column.name.clone(), i) {
                return Err(bad(format!("columns[{i}].name"), format!("\"{}\" is also columns[{j}]", c.name)));
            }
            columns.push(column);
        }
        let key = spec
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| {
                seen.get(k)
                    .copied()
                    .ok_or_else(|| bad(format!("key[{i}]"), format!("\"{k}\" is not one of the columns")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(h) = spec.header_row
            && !(1..=1000).contains(&h)
        {
            return Err(bad("header_row".into(), "must be 1 to 1000"));
        }
        for (field, v) in [("delimiter", &spec.delimiter), ("quote", &spec.quote)] {
            if let Some(v) = v
                && (v.len() != 1 || !v.is_ascii() || v == "\n" || v == "\r")
            {
                return Err(bad(field.into(), "must be one ASCII character, e.g. \";\""));
            }
        }
        if let Some(e) = &spec.encoding
            && encoding_rs::Encoding::for_label(e.as_bytes()).is_none()
        {
            return Err(bad(
                "encoding".into(),
                format!("\"{e}\" is not an encoding (try utf-8, utf-16le, windows-1252)"),
            ));
        }
        Ok(Schema { columns, key, duplicates: spec.duplicates, trim: spec.trim.unwrap_or(true), spec: spec.clone() })
    }

    /// The spec it was compiled from.
    pub fn spec(&self) -> &ImportSpec {
        &self.spec
    }

    /// Finds each column in `header`; a required column that is missing, or a column two
    /// headers match, stops the import with a message that lists what the header has.
    pub fn bind(&self, header: &[String]) -> Result<Binding, ImportError> {
        let folded: Vec<String> = header.iter().map(|h| fold(h)).collect();
        let mut positions = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            let found: Vec<usize> =
                (0..folded.len()).filter(|&i| !folded[i].is_empty() && c.matches.contains(&folded[i])).collect();
            match found.as_slice() {
                [] if c.required => {
                    return Err(ImportError::new(
                        "missing_column",
                        format!(
                            "the required column \"{}\" is not in the header{}; the header has: {}",
                            c.name,
                            if c.matches.len() > 1 {
                                format!(" (looked for {})", self.spec.columns[positions.len()].aliases.join(", "))
                            } else {
                                String::new()
                            },
                            list_headers(header)
                        ),
                    ));
                }
                [] => positions.push(None),
                [one] => positions.push(Some(*one)),
                [a, b, ..] => {
                    return Err(ImportError::new(
                        "ambiguous_column",
                        format!(
                            "two columns of the header match \"{}\": \"{}\" (column {}) and \"{}\" (column {}); rename one",
                            c.name,
                            header[*a],
                            column_letter(*a),
                            header[*b],
                            column_letter(*b)
                        ),
                    ));
                }
            }
        }
        let columns = self
            .columns
            .iter()
            .zip(&positions)
            .map(|(c, p)| BoundColumn {
                name: c.name.clone(),
                header: p.map(|i| header[i].clone()),
                column: p.map(column_letter),
            })
            .collect();
        Ok(Binding { positions, header: header.to_vec(), columns })
    }

    /// Reads row `n` as the columns' types into `out`: its NDJSON object, its problems, and the
    /// texts of its unique columns (in column order); answers its key's text (`None` without a
    /// key or with an empty part).
    pub(crate) fn apply(
        &self,
        binding: &Binding,
        n: u64,
        row: &dyn Row,
        limits: &crate::Limits,
        out: &mut RowOut,
    ) -> Option<String> {
        let RowOut { json, errors, uniques: unique_texts } = out;
        json.clear();
        errors.clear();
        {
            json.push_str("{\"_row\":");
            json.push_str(itoa::Buffer::new().format(n));
        }
        unique_texts.clear();
        let mut key_parts: Vec<Option<String>> = vec![None; self.key.len()];
        for (ci, (c, pos)) in self.columns.iter().zip(&binding.positions).enumerate() {
            let cell = pos.map_or(CellRef::Empty, |p| row.cell(p));
            let typed = match c.read(cell, self.trim, limits) {
                Ok(t) => t,
                Err(message) => {
                    errors.push(RowError {
                        row: n,
                        column: Some(c.name.clone()),
                        value: Some(cut(&cell.text(), 100)),
                        message,
                    });
                    Typed::Null
                }
            };
            json.push_str(&c.json_key);
            typed.write_json(json);
            if c.unique {
                unique_texts.push((typed != Typed::Null).then(|| typed.key_text().into_owned()));
            }
            for (k, &kc) in self.key.iter().enumerate() {
                if kc == ci && typed != Typed::Null {
                    key_parts[k] = Some(typed.key_text().into_owned());
                }
            }
        }
        json.push('}');
        if self.key.is_empty() || key_parts.iter().any(Option::is_none) {
            return None;
        }
        Some(key_parts.into_iter().flatten().collect::<Vec<_>>().join("\u{1f}"))
    }

    /// The key text of row `row`, without checking anything else (the first pass of
    /// `duplicates: last`).
    pub(crate) fn key_of(&self, binding: &Binding, row: &dyn Row, limits: &crate::Limits) -> Option<String> {
        let mut parts = Vec::with_capacity(self.key.len());
        for &kc in &self.key {
            let c = &self.columns[kc];
            let cell = binding.positions[kc].map_or(CellRef::Empty, |p| row.cell(p));
            match c.read(cell, self.trim, limits) {
                Ok(Typed::Null) | Err(_) => return None,
                Ok(t) => parts.push(t.key_text().into_owned()),
            }
        }
        (!parts.is_empty()).then(|| parts.join("\u{1f}"))
    }

    /// The names of the unique columns, in order.
    pub(crate) fn unique_names(&self) -> Vec<String> {
        self.columns.iter().filter(|c| c.unique).map(|c| c.name.clone()).collect()
    }
}

/// What [`Schema::apply`] makes of one row; reused from row to row.
#[derive(Default)]
pub(crate) struct RowOut {
    pub(crate) json: String,
    pub(crate) errors: Vec<RowError>,
    pub(crate) uniques: Vec<Option<String>>,
}

/// Where each column of a schema is in one file.
#[derive(Clone, Debug)]
pub struct Binding {
    pub(crate) positions: Vec<Option<usize>>,
    /// The file's header as written.
    pub header: Vec<String>,
    /// What each column was found as, for the summary.
    pub columns: Vec<BoundColumn>,
}

/// A schema column as found in a file.
#[derive(Clone, Debug, Serialize)]
pub struct BoundColumn {
    /// The schema's name.
    pub name: String,
    /// The header it matched, if any.
    pub header: Option<String>,
    /// Its spreadsheet letter (`A`, `AB`).
    pub column: Option<String>,
}

impl Column {
    fn read<'c>(&self, cell: CellRef<'c>, trim: bool, limits: &crate::Limits) -> Result<Typed<'c>, String> {
        // Trimmed once here; every reader below may trim again at no cost.
        let cell = match cell {
            CellRef::Text(t) if trim || self.kind != ColumnType::String => CellRef::Text(t.trim()),
            other => other,
        };
        if matches!(cell, CellRef::Empty | CellRef::Text("")) || (!trim && cell.is_empty()) {
            return if self.required { Err("is required".into()) } else { Ok(Typed::Null) };
        }
        if let CellRef::Text(t) = cell {
            if t.len() > limits.max_cell_bytes {
                return Err(format!(
                    "the cell holds {} KiB of text; at most {} KiB",
                    t.len() / 1024,
                    limits.max_cell_bytes / 1024
                ));
            }
            if t.as_bytes().contains(&0xEF) && t.contains('\u{fffd}') {
                return Err(NOT_TEXT.into());
            }
        }
        if let CellRef::Invalid(_) = cell {
            return Err(NOT_TEXT.into());
        }
        if let CellRef::Error(e) = cell {
            return Err(format!("the formula in this cell gave the error {e}"));
        }
        let typed = match self.kind {
            ColumnType::String => {
                let text = match cell {
                    CellRef::Text(t) => std::borrow::Cow::Borrowed(t),
                    other => std::borrow::Cow::Owned(other.text().into_owned()),
                };
                Typed::Text(text)
            }
            ColumnType::Integer => Typed::Int(value::integer(&cell)?),
            ColumnType::Decimal => {
                let (s, f) = value::decimal(&cell, self.decimal)?;
                Typed::Decimal(s, f)
            }
            ColumnType::Date => Typed::Date(value::date(&cell, self.format.as_deref())?),
            ColumnType::Boolean => Typed::Bool(value::boolean(&cell)?),
            ColumnType::Enum => {
                let text = cell.text();
                match self.values.get(&fold(&text)) {
                    Some(v) => Typed::Text(std::borrow::Cow::Owned(v.clone())),
                    None => return Err(format!("{} is not one of: {}", value::quoted(&cell), self.values_list)),
                }
            }
        };
        self.check(&typed)?;
        Ok(typed)
    }

    fn check(&self, typed: &Typed<'_>) -> Result<(), String> {
        if let Typed::Text(t) = typed {
            if self.min_length.is_some() || self.max_length.is_some() {
                let chars = t.chars().count();
                if let Some(min) = self.min_length
                    && chars < min
                {
                    return Err(format!("must be at least {min} characters long"));
                }
                if let Some(max) = self.max_length
                    && chars > max
                {
                    return Err(format!("must be at most {max} characters long"));
                }
            }
            if let Some(re) = &self.pattern
                && !re.is_match(t)
            {
                return Err(format!("\"{}\" does not have the expected form ({})", cut(t, 40), re.as_str()));
            }
        }
        let number = match typed {
            Typed::Int(i) => Some(*i as f64),
            Typed::Decimal(_, f) => Some(*f),
            _ => None,
        };
        for (bound, is_min) in [(self.min, true), (self.max, false)] {
            let ok = match (bound, number, typed) {
                (Some(Bound::Number(b)), Some(v), _) => {
                    if is_min {
                        v >= b
                    } else {
                        v <= b
                    }
                }
                (Some(Bound::Date(b)), _, Typed::Date(d)) => {
                    if is_min {
                        *d >= b
                    } else {
                        *d <= b
                    }
                }
                _ => continue,
            };
            if !ok {
                let shown = match bound {
                    Some(Bound::Number(b)) => fmt_num(b),
                    Some(Bound::Date(d)) => d.to_string(),
                    None => String::new(),
                };
                return Err(format!("must be {} {shown}", if is_min { "at least" } else { "at most" }));
            }
        }
        Ok(())
    }
}

fn fmt_num(f: f64) -> String {
    crate::cell::format_float(f)
}

fn compile_column(i: usize, c: &ColumnSpec) -> Result<Column, ImportError> {
    let field = |name: &str| format!("columns[{i}].{name}");
    if fold(&c.name).is_empty() || c.name.len() > 200 {
        return Err(bad(field("name"), "must be 1 to 200 characters, not only spaces"));
    }
    if c.name.starts_with('_') {
        return Err(bad(field("name"), "may not start with _ (the rows carry _row)"));
    }
    let mut matches = vec![fold(&c.name)];
    for (j, a) in c.aliases.iter().enumerate() {
        let f = fold(a);
        if f.is_empty() {
            return Err(bad(format!("columns[{i}].aliases[{j}]"), "is empty"));
        }
        matches.push(f);
    }
    if c.aliases.len() > 50 {
        return Err(bad(field("aliases"), "at most 50"));
    }
    let pattern = match &c.pattern {
        None => None,
        Some(p) => Some(
            regex::RegexBuilder::new(&format!("^(?:{p})$"))
                .size_limit(1 << 20)
                .dfa_size_limit(1 << 20)
                .build()
                .map_err(|e| bad(field("pattern"), format!("is not a valid regular expression: {e}")))?,
        ),
    };
    let bound = |name: &str, v: &Option<serde_json::Value>| -> Result<Option<Bound>, ImportError> {
        let Some(v) = v else { return Ok(None) };
        match (c.kind, v) {
            (ColumnType::Integer | ColumnType::Decimal, serde_json::Value::Number(n)) => {
                Ok(Some(Bound::Number(n.as_f64().unwrap_or(0.0))))
            }
            (ColumnType::Date, serde_json::Value::String(s)) => s
                .parse::<Date>()
                .map(|d| Some(Bound::Date(d)))
                .map_err(|_| bad(field(name), "must be a date as 2026-01-31")),
            (ColumnType::Integer | ColumnType::Decimal, _) => Err(bad(field(name), "must be a number")),
            (ColumnType::Date, _) => Err(bad(field(name), "must be a date as \"2026-01-31\"")),
            _ => Err(bad(field(name), "applies to integer, decimal and date columns (use min_length for text)")),
        }
    };
    let (min, max) = (bound("min", &c.min)?, bound("max", &c.max)?);
    let mut values = HashMap::new();
    if c.kind == ColumnType::Enum {
        if c.values.is_empty() {
            return Err(bad(field("values"), "an enum lists its values"));
        }
        for v in &c.values {
            values.insert(fold(v), v.clone());
        }
    } else if !c.values.is_empty() {
        return Err(bad(field("values"), "applies to enum columns"));
    }
    let mut listed: Vec<&str> = c.values.iter().take(10).map(String::as_str).collect();
    if c.values.len() > 10 {
        listed.push("…");
    }
    if c.format.is_some() && c.kind != ColumnType::Date {
        return Err(bad(field("format"), "applies to date columns"));
    }
    if let Some(f) = &c.format
        && (f.len() > 100 || !f.contains('%'))
    {
        return Err(bad(field("format"), "must be a strftime format such as %m/%d/%Y"));
    }
    let decimal = match c.decimal.as_deref() {
        None => None,
        Some(",") if c.kind == ColumnType::Decimal => Some(b','),
        Some(".") if c.kind == ColumnType::Decimal => Some(b'.'),
        Some(_) => return Err(bad(field("decimal"), "must be \",\" or \".\", on a decimal column")),
    };
    let mut json_key = String::from(",");
    value::write_json_str(&c.name, &mut json_key);
    json_key.push(':');
    Ok(Column {
        name: c.name.clone(),
        json_key,
        matches,
        kind: c.kind,
        required: c.required,
        unique: c.unique,
        pattern,
        min,
        max,
        min_length: c.min_length,
        max_length: c.max_length,
        values,
        values_list: listed.join(", "),
        format: c.format.clone(),
        decimal,
    })
}

/// A spreadsheet's letter for column `i` (0 → A, 26 → AA).
pub(crate) fn column_letter(i: usize) -> String {
    let mut n = i + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn list_headers(header: &[String]) -> String {
    let mut shown: Vec<String> =
        header.iter().filter(|h| !h.trim().is_empty()).take(20).map(|h| format!("\"{}\"", cut(h, 40))).collect();
    if shown.is_empty() {
        return "nothing (is header_row right?)".into();
    }
    if header.len() > 20 {
        shown.push("…".into());
    }
    shown.join(", ")
}

pub(crate) fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n).chain(['…']).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Result<Schema, ImportError> {
        Schema::compile(&serde_json::from_value(json).unwrap())
    }

    #[test]
    fn spec_errors_name_the_field() {
        let e = spec(serde_json::json!({"columns": [{"name": "a", "type": "integer", "min": "x"}]})).unwrap_err();
        assert_eq!(e.message, "columns[0].min: must be a number");
        let e = spec(serde_json::json!({"columns": [{"name": "a", "pattern": "("}]})).unwrap_err();
        assert!(e.message.starts_with("columns[0].pattern: is not a valid regular expression"), "{}", e.message);
        let e = spec(serde_json::json!({"columns": [{"name": "a"}], "key": ["b"]})).unwrap_err();
        assert_eq!(e.message, "key[0]: \"b\" is not one of the columns");
        let e = spec(serde_json::json!({"columns": [{"name": "a", "type": "enum"}]})).unwrap_err();
        assert_eq!(e.message, "columns[0].values: an enum lists its values");
        let e = spec(serde_json::json!({"columns": [{"name": "a"}], "encoding": "klingon"})).unwrap_err();
        assert!(e.message.starts_with("encoding:"));
    }

    #[test]
    fn headers_match_names_and_aliases_ignoring_case_and_accents() {
        let s = spec(serde_json::json!({"columns": [
            {"name": "sku", "aliases": ["código"], "required": true},
            {"name": "precio", "type": "decimal"},
            {"name": "notas"}
        ]}))
        .unwrap();
        let b = s.bind(&["Precio ".into(), "CODIGO".into()]).unwrap();
        assert_eq!(b.positions, vec![Some(1), Some(0), None]);
        let e = s.bind(&["precio".into()]).unwrap_err();
        assert_eq!(e.code, "missing_column");
        assert!(e.message.contains("\"precio\""), "{}", e.message);
        let e = s.bind(&["sku".into(), "Código".into()]).unwrap_err();
        assert_eq!(e.code, "ambiguous_column");
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(16_383), "XFD");
    }
}
