//! Kind and queue names: `[a-z0-9._-]{1,64}`, so they are safe in URLs, metrics labels and logs.
use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    /// The name that was refused.
    pub name: String,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a valid name: use 1 to 64 characters from a-z, 0-9, '.', '_' and '-'", self.name)
    }
}

impl std::error::Error for NameError {}

/// Checks a kind or queue name.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err(NameError { name: name.to_owned() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(validate_name("pdf.render").is_ok());
        assert!(validate_name("a-b_c.9").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("PDF").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name(&"a".repeat(65)).is_err());
        assert!(validate_name("ñ").is_err());
    }
}
