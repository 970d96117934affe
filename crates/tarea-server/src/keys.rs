//! API key material: 32 random bytes shown once as `tarea_<64 hex>`; only the SHA-256 is kept.
use sha2::{Digest, Sha256};
use tarea_core::KeyHash;

/// A new random key and its public id.
pub fn generate_key() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let key = format!("tarea_{}", hex::encode(bytes));
    let id = key_id(&key);
    (key, id)
}

/// 32 random bytes for a server secret (the key that signs artifact links).
pub fn generate_secret() -> Vec<u8> {
    rand::random::<[u8; 32]>().to_vec()
}

/// The stored hash of a key.
pub fn hash_key(key: &str) -> KeyHash {
    KeyHash(Sha256::digest(key.as_bytes()).into())
}

/// A key's public id: a prefix of its hash, safe to log and show.
pub fn key_id(key: &str) -> String {
    format!("key_{}", &hex::encode(hash_key(key).0)[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hash_stably() {
        let (a, ia) = generate_key();
        let (b, _) = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with("tarea_") && a.len() == 70);
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_eq!(ia, key_id(&a));
        assert!(!a.contains(&ia[4..]));
    }
}
