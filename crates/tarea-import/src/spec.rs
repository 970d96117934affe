//! What the app asks of an import (the `import.sheet` payload without its upload).
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How to read and check one file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSpec {
    /// The columns the app expects, in the order the NDJSON rows list them.
    pub columns: Vec<ColumnSpec>,
    /// Which sheet of a workbook: its name or its number from 1. Default: the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<SheetRef>,
    /// The row that holds the column names, from 1; rows above it are skipped. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_row: Option<u64>,
    /// A CSV's encoding (`utf-8`, `utf-16le`, `windows-1252`, `latin1`, …). Default: detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// A CSV's field delimiter. Default: detected among `,` `;` tab and `|`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// A CSV's quote character. Default `"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// The natural key: columns whose values together identify a row (e.g. `["sku"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    /// What a second row with the same key does.
    #[serde(default)]
    pub duplicates: DuplicatePolicy,
    /// Whether text cells lose surrounding spaces. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<bool>,
}

/// A sheet by name or by number (from 1).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SheetRef {
    /// Its number, from 1.
    Index(u32),
    /// Its name.
    Name(String),
}

/// What a second row with an already seen key does.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// It is an error of that row, naming the first one.
    #[default]
    Report,
    /// It replaces the earlier row, which is left out (counted in `replaced`).
    Last,
}

/// One expected column.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Its name in the output rows, and the first header it matches.
    pub name: String,
    /// Other headers it may have in a file (matched ignoring case, accents and spacing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// What its values are.
    #[serde(default, rename = "type")]
    pub kind: ColumnType,
    /// An empty cell is an error (and a file without this column is refused).
    #[serde(default)]
    pub required: bool,
    /// Two rows may not have the same value.
    #[serde(default)]
    pub unique: bool,
    /// A regular expression the whole text must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The smallest value allowed: a number, or a date (`"2020-01-01"`) for date columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    /// The largest value allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    /// The shortest text allowed, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    /// The longest text allowed, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// An enum's allowed values (matched ignoring case and accents; the output is the value as
    /// written here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// A date's format when it is not one of the common ones, in strftime notation (`%m/%d/%Y`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// A decimal's separator, `,` or `.`. Default: whichever the value uses last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimal: Option<String>,
}

/// The type of a column's values.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Text.
    #[default]
    String,
    /// A whole number.
    Integer,
    /// A number, with `,` or `.` as its decimal separator; kept exact.
    Decimal,
    /// A date (`2026-11-28`, `28/11/2026`, `28-11-26`, an Excel date).
    Date,
    /// Yes or no (`sí`, `no`, `true`, `1`, `x`, …).
    Boolean,
    /// One of `values`.
    Enum,
}
