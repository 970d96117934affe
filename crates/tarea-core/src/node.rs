//! The node registry: every tarea process heartbeats a row describing itself, and external
//! workers are remembered by the name they claim under. Both disappear once their lease ends.
use serde::{Deserialize, Serialize};

/// What a node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Serves the HTTP API only; runs no built-in jobs.
    Api,
    /// Runs built-in jobs; serves only the operations endpoints.
    Worker,
    /// Both (the default).
    All,
}

impl NodeRole {
    /// The role's name, as in `--role`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Api => "api",
            NodeRole::Worker => "worker",
            NodeRole::All => "all",
        }
    }

    /// Parses `api`, `worker` or `all`.
    pub fn parse(s: &str) -> Option<NodeRole> {
        match s {
            "api" => Some(NodeRole::Api),
            "worker" => Some(NodeRole::Worker),
            "all" => Some(NodeRole::All),
            _ => None,
        }
    }

    /// Whether this role serves the job API.
    pub fn serves_api(self) -> bool {
        self != NodeRole::Worker
    }

    /// Whether this role runs built-in jobs.
    pub fn runs_jobs(self) -> bool {
        self != NodeRole::Api
    }
}

/// One tarea process, as it last described itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// A unique id, new at every start.
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// tarea's version.
    pub version: String,
    /// What it does.
    pub role: NodeRole,
    /// Queues it runs built-in jobs from; empty means all.
    pub queues: Vec<String>,
    /// Jobs it runs now.
    pub running: u32,
    /// When it started (ms since the epoch).
    pub started_at: i64,
    /// Its last heartbeat (ms since the epoch).
    pub seen_at: i64,
    /// Whether it holds the cluster duties (reaper, cleaner, promoter) now.
    pub leader: bool,
}

/// An external worker, known by the name it claims under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalWorker {
    /// Its tenant.
    pub tenant: String,
    /// The `worker` name of its claims.
    pub name: String,
    /// The queues of its last claim.
    pub queues: Vec<String>,
    /// Its first claim since it was last forgotten (ms since the epoch).
    pub first_seen_at: i64,
    /// Its last claim (ms since the epoch).
    pub seen_at: i64,
}
