//! Job and artifact ids: UUIDv7, so ids sort by creation time and index appends stay cheap.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
$(#[$doc])*
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct $name(pub Uuid);

impl $name {
    /// A new id, made now.
    pub fn new() -> Self {
        $name(Uuid::now_v7())
    }

    /// The 16 bytes of the id, as stored.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// The id from its 16 stored bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        $name(Uuid::from_bytes(bytes))
    }

    /// The lowest id that can be made at `ms` (since the epoch): every id made at or after
    /// `ms` sorts at or above it, every id made before sorts below. Time filters on listings
    /// become id ranges this way, with no index of their own.
    pub fn lowest_at(ms: i64) -> Self {
        let ms = ms.clamp(0, (1 << 48) - 1) as u64;
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        $name(Uuid::from_bytes(bytes))
    }
}

impl Default for $name {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for $name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for $name {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map($name)
    }
}

    };
}

uuid_id!(
    /// The id of a job: a time-ordered UUIDv7.
    JobId
);
uuid_id!(
    /// The id of an artifact (a file a job made, or an upload): a time-ordered UUIDv7.
    ArtifactId
);
uuid_id!(
    /// The id of a batch of jobs: a time-ordered UUIDv7.
    BatchId
);
uuid_id!(
    /// The id of a webhook subscription: a time-ordered UUIDv7.
    WebhookId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_around_the_lowest_id_of_their_millisecond() {
        let id = JobId::new();
        let ms =
            id.0.get_timestamp().map(|t| t.to_unix()).map(|(s, n)| s as i64 * 1000 + i64::from(n) / 1_000_000).unwrap();
        assert!(JobId::lowest_at(ms) <= id);
        assert!(JobId::lowest_at(ms + 1) > id);
        assert!(JobId::lowest_at(ms - 1) < id);
        assert_eq!(JobId::lowest_at(-5), JobId::lowest_at(0));
    }
}
