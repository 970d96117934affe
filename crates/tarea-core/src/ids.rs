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
