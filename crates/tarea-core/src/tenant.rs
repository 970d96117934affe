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

/// One change made in the dashboard, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Order of writing (0 when appending).
    pub id: i64,
    /// When (ms since the epoch).
    pub at: i64,
    /// The tenant acted in.
    pub tenant: String,
    /// Who: the id of the key the session was opened with.
    pub key_id: String,
    /// What, as the route: `POST /v1/jobs/{id}/retry`, `sign in`.
    pub action: String,
    /// On what: the request's path (`/v1/jobs/0193…/retry`).
    pub target: String,
    /// How many things it touched (jobs of a bulk action; 1 otherwise).
    pub count: u64,
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
    /// Read-only keys may read everything their tenant (or, admin, every tenant) has, and change
    /// nothing: an operator's view, a support person's, a status screen's.
    pub read_only: bool,
    /// Created (ms since the epoch).
    pub created_at: i64,
}
