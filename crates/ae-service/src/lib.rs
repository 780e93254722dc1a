//! The leader's anti-entropy service: it keeps the soft state of data nodes (heartbeats,
//! liveness, inventories, copy progress), plans the shards that applied commands and liveness
//! changes touched with the pure planner (`ae-planner`), turns plans into copy-task commands, and
//! answers the calls of data nodes and operators ([`meta_wire::AeHandler`]).
//!
//! It reaches its meta node only through a small port ([`MetaPort`]: leading term, read the
//! applied state, propose a command, the wall clock) and hears what every applied command touched
//! through [`AntiEntropy::applied`], so it runs over Raft in `metad` and in memory in tests.
//!
//! ```text
//!  task lifecycle (every transition a Raft command stamped by the leader):
//!
//!   planner ─create─► pending ─claim (attempt+1, lease)─► claimed ─complete(attempt)─► done
//!                        ▲  ▲                               │  │
//!                        │  └──── lease expired ────────────┘  └─fail(attempt)─► pending (backoff)
//!                        │                                                      └► failed (max)
//!                        └── entropy repair (supersedes failed/killed)    kill ─► cancelled
//! ```
//!
//! ```
//! use ae_service::{AntiEntropy, AntiEntropySection};
//!
//! let settings = AntiEntropySection::default().validate().expect("the defaults are valid");
//! let service = AntiEntropy::new(1, settings);
//! service.applied(meta_model::Changes::everything()); // what the state machine reports
//! ```

mod calls;
mod findings;
mod input;
mod memory;
mod port;
mod report;
mod service;
mod settings;
mod tracker;

#[cfg(test)]
mod tests;

pub use calls::Serving;
pub use memory::MemoryPort;
pub use port::{CallError, MetaPort, PortError};
pub use service::AntiEntropy;
pub use settings::{AntiEntropySection, AntiEntropySettings, SettingsError};
