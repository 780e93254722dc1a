//! The meta node: configuration, wiring of storage, Raft, the HTTP API and the Raft network,
//! bootstrap and graceful shutdown. `main.rs` only parses flags, sets up logging and calls
//! [`run`].
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use clap::Parser;
//! let config = metad::Cli::parse_from(["metad", "--dev"]).into_config()?;
//! metad::run(config, daemon::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

mod config;
mod internal;
mod lifecycle;
mod membership;
mod network;
mod node;
mod proposer;
mod read_index;
mod rpc;
mod server;

pub use config::{parse_peers, Cli, Config, ConfigError, FileConfig, RaftTuning, DEV_DATA_DIR, DEV_LISTEN};
pub use lifecycle::settings::{
    LifecycleSettings, PrecreationSection, PrecreationSettings, RetentionSection, RetentionSettings, ShardGroupSection,
};
pub use node::Node;
pub use server::{run, MetadError};
