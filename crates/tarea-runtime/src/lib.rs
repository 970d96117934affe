//! The engine of tarea: it runs built-in handlers (claim loop, leases, heartbeats, timeouts,
//! cancellation, graceful shutdown), keeps the store tidy (promoter, reaper, retention), and
//! fans committed events out to whoever listens (claim loops, live streams, metrics).
//!
//! The decision a reader may question: wake-ups travel as sequence numbers on `watch`
//! channels, not as events a claim loop must receive. A loop that was busy when a job arrived
//! still sees the number moved and claims at once; nothing can be missed by lagging.
#![deny(missing_docs)]

mod artifacts;
mod builtin;
mod cluster;
mod events;
mod follow_ups;
mod maintenance;
mod metrics;
mod registry;
mod runtime;
mod scheduler;
mod worker;

pub use artifacts::{Artifacts, Maker, SaveError};
pub use builtin::register_builtins;
pub use cluster::{NodeConfig, host_name, new_node_id};
pub use events::EventHub;
pub use maintenance::MaintenanceConfig;
pub use metrics::Metrics;
pub use registry::Registry;
pub use runtime::{Runtime, RuntimeConfig};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
