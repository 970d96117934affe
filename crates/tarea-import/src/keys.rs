//! The values already seen of unique columns and keys, kept as 128-bit hashes (two SipHashes
//! with random keys): 24 bytes a row however long the values are, and a collision between two
//! different values is vanishingly unlikely (under 10⁻²⁶ for a million rows).
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Hashes of values, each with the row it was first (or last) seen in.
pub(crate) struct Seen {
    rows: HashMap<u128, u64>,
    a: std::collections::hash_map::RandomState,
    b: std::collections::hash_map::RandomState,
}

impl Seen {
    pub(crate) fn new() -> Self {
        Seen { rows: HashMap::new(), a: Default::default(), b: Default::default() }
    }

    fn hash(&self, scope: usize, text: &str) -> u128 {
        let half = |s: &std::collections::hash_map::RandomState| {
            let mut h = s.build_hasher();
            h.write_usize(scope);
            h.write(text.as_bytes());
            h.finish()
        };
        (u128::from(half(&self.a)) << 64) | u128::from(half(&self.b))
    }

    /// Records `text` (of column or key `scope`) at `row`; answers the earlier row if it was
    /// seen before (which keeps its row).
    pub(crate) fn first(&mut self, scope: usize, text: &str, row: u64) -> Option<u64> {
        let h = self.hash(scope, text);
        match self.rows.entry(h) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(row);
                None
            }
        }
    }

    /// Records `text` at `row`, replacing an earlier row.
    pub(crate) fn last(&mut self, scope: usize, text: &str, row: u64) {
        let h = self.hash(scope, text);
        self.rows.insert(h, row);
    }

    /// The row `text` was recorded at.
    pub(crate) fn get(&self, scope: usize, text: &str) -> Option<u64> {
        self.rows.get(&self.hash(scope, text)).copied()
    }
}
