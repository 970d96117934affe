//! Signed links: `HMAC-SHA256(key, "<subject>:<expires>")` in hex, the subject an artifact id
//! (a download link) or `job/<job id>` (a browser's link to follow one job). The key lives in
//! the store (`secrets`), so every node of a cluster signs and verifies alike; changing the
//! subject, the expiry or the signature makes a link invalid.
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tarea_core::{ArtifactId, ErrorCode};

use crate::ApiError;

fn mac(key: &[u8], subject: &str, expires: u64) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(format!("{subject}:{expires}").as_bytes());
    m
}

/// The signature of a link to artifact `id` that works until `expires` (Unix seconds).
pub(crate) fn sign(key: &[u8], id: ArtifactId, expires: u64) -> String {
    sign_subject(key, &id.to_string(), expires)
}

/// The signature of a link to `subject` that works until `expires` (Unix seconds).
pub(crate) fn sign_subject(key: &[u8], subject: &str, expires: u64) -> String {
    hex::encode(mac(key, subject, expires).finalize().into_bytes())
}

/// Checks an artifact link's signature (in constant time) and expiry at `now_ms`.
pub(crate) fn verify(key: &[u8], id: ArtifactId, expires: u64, signature: &str, now_ms: i64) -> Result<(), ApiError> {
    verify_subject(key, &id.to_string(), expires, signature, now_ms)
}

/// Checks a link to `subject`.
pub(crate) fn verify_subject(
    key: &[u8],
    subject: &str,
    expires: u64,
    signature: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let invalid =
        || ApiError::new(ErrorCode::Forbidden, "this link is not valid (it was changed or cut); ask for a new one");
    if key.is_empty() {
        return Err(invalid());
    }
    let given = hex::decode(signature).map_err(|_| invalid())?;
    mac(key, subject, expires).verify_slice(&given).map_err(|_| invalid())?;
    if (expires as i64).saturating_mul(1000) <= now_ms {
        return Err(ApiError::new(ErrorCode::Forbidden, "this link has expired; ask for a new one"));
    }
    Ok(())
}

/// Whether `given` (hex) is the tag of `subject` under `key`, compared in constant time: for
/// tokens that do not expire by themselves (a session's CSRF token ends with its session).
pub(crate) fn tag_matches(key: &[u8], subject: &str, given: &str) -> bool {
    !key.is_empty() && hex::decode(given).is_ok_and(|g| mac(key, subject, 0).verify_slice(&g).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire_and_refuse_any_change() {
        let (key, id) = (b"k".repeat(32), ArtifactId::new());
        let sig = sign(&key, id, 2_000);
        assert!(verify(&key, id, 2_000, &sig, 1_999_999).is_ok());
        assert!(verify(&key, id, 2_000, &sig, 2_000_000).is_err(), "expired");
        assert!(verify(&key, id, 2_001, &sig, 0).is_err(), "expiry changed");
        assert!(verify(&key, ArtifactId::new(), 2_000, &sig, 0).is_err(), "other artifact");
        let mut bad = sig.clone();
        bad.replace_range(0..1, if &sig[0..1] == "0" { "1" } else { "0" });
        assert!(verify(&key, id, 2_000, &bad, 0).is_err(), "signature changed");
        assert!(verify(&key, id, 2_000, "zz", 0).is_err(), "not hex");
        assert!(verify(b"other", id, 2_000, &sig, 0).is_err(), "other key");
        assert!(verify(b"", id, 2_000, &sign(b"", id, 2_000), 0).is_err(), "no key, no links");
    }
}
