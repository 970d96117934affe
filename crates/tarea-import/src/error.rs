//! What stops an import, and what is wrong with one row.
use serde::Serialize;

/// Why a file could not be imported at all. `code` is stable (it becomes the job's error code);
/// `message` says what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ImportError {
    /// A stable, machine-readable code, e.g. `zip_bomb`, `missing_column`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl ImportError {
    /// An error with `code`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ImportError { code, message: message.into() }
    }

    /// A file that is damaged or not what it claims to be.
    pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> Self {
        ImportError::new(
            "corrupt_file",
            format!(
                "the {what} file is damaged or truncated and cannot be read ({detail}); save it again and re-upload"
            ),
        )
    }

    pub(crate) fn io(e: std::io::Error) -> Self {
        ImportError::new("io", format!("reading the file failed: {e}"))
    }
}

/// One problem with one row, as the error report and `errors_preview` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The row's number as a spreadsheet program shows it (the header is row 1 by default).
    pub row: u64,
    /// The schema column at fault; none for the row as a whole (e.g. a duplicate key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The cell's text, cut to 100 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RowError {
    /// The report's one-line form: `stock: "muchos" is not a whole number`.
    pub fn line(&self) -> String {
        match &self.column {
            Some(c) => format!("{c}: {}", self.message),
            None => self.message.clone(),
        }
    }
}
