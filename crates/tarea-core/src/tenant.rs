//! Tenants and API keys. Keys are random 32-byte secrets; only their SHA-256 is stored, which is
//! enough for secrets of that entropy (a slow hash protects low-entropy passwords, not these).
use std::fmt;

/// The SHA-256 of an API key, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// A stored API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Public id of the key (its first characters), safe to log.
    pub id: String,
    /// The tenant it acts for.
    pub tenant: String,
    /// Admin keys may also manage tenants and keys.
    pub admin: bool,
    /// Created (ms since the epoch).
    pub created_at: i64,
}
