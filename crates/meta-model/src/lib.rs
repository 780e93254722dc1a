//! The cluster metadata model: its types, the [`Command`]s that change it (the Raft log's
//! entries), the deterministic [`MetaState::apply`], validation, owner placement, what applied
//! commands touched ([`Changes`]) and the versioned [`codec`].
//!
//! Pure: no clock, no randomness, no I/O, no hash-map order, and no dependency on RocksDB, tokio,
//! openraft or HTTP, not even transitively (`meta-store` holds the storage). Clients (`meta-wire`,
//! `meta-client`, `metactl`, `datad`) depend on this crate only.
//!
//! ```
//! use meta_model::{Command, MetaState, Response, RetentionPolicySpec};
//!
//! let mut state = MetaState::new();
//! let added = state.apply(&Command::AddDataNode {
//!     tcp_addr: "data-1:8088".into(),
//!     http_addr: "data-1:8086".into(),
//!     labels: Default::default(),
//! });
//! assert!(matches!(added, Ok(Response::DataNode(ref n)) if n.id == 1));
//!
//! state
//!     .apply(&Command::CreateDatabase {
//!         name: "telegraf".into(),
//!         default_retention_policy: Some(RetentionPolicySpec {
//!             name: "autogen".into(),
//!             duration: 0,
//!             shard_group_duration: None,
//!             replication_factor: 1,
//!         }),
//!     })
//!     .expect("database created");
//! let group = state.apply(&Command::CreateShardGroup {
//!     database: "telegraf".into(),
//!     retention_policy: "autogen".into(),
//!     timestamp: 1_700_000_000_000_000_000,
//! });
//! assert!(matches!(group, Ok(Response::ShardGroup { created: true, .. })));
//! ```

mod changes;
pub mod codec;
mod command;
mod error;
mod index;
mod model;
mod placement;
mod record;
mod response;
mod state;
mod transient;
mod validate;

pub use changes::Changes;
pub use command::Command;
pub use error::{ApplyError, CodecError};
pub use model::cluster::ClusterIdentity;
pub use model::database::Database;
pub use model::duration::{
    format_duration, parse_duration, DurationParseError, DAY, HOUR, MICROSECOND, MILLISECOND, MINUTE, NANOSECOND,
    SECOND, WEEK,
};
pub use model::leader_facts::LeaderFacts;
pub use model::node::{DataNode, MetaNode, NodeId, NodeState, ZONE_LABEL};
pub use model::placement_policy::{
    validate_failure_domains, BalancePolicy, PlacementPolicy, MAX_FAILURE_DOMAIN_LEVELS, MAX_MOVES_LIMIT,
};
pub use model::point_time::{group_window_fits, TimestampRefusal};
pub use model::retention_policy::{RetentionPolicy, RetentionPolicySpec, RetentionPolicyUpdate, MIN_DURATION};
pub use model::shard_group::{
    wall_clock, Shard, ShardGroup, ShardGroupId, ShardId, Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP,
};
pub use model::staged_restore::StagedRestore;
pub use model::task::{CancelReason, RetryPolicy, Task, TaskId, TaskKind, TaskReason, TaskSpec, TaskState};
pub use record::v2::{CopyTask as CopyTaskV2, MetadataRecord as MetadataRecordV2};
pub use record::v3::MetadataRecord as MetadataRecordV3;
pub use record::MetadataRecord;
pub use response::{
    CreatedCopyTasks, DataNodeRemoval, FromResponse, RejectedCopyTask, Response, ShardGroupCreated, Truncation,
};
pub use state::{MetaState, Prepared, ShardView, WrittenMarks, FINISHED_TASKS_KEPT};
pub use validate::{
    validate_addr, validate_durations, validate_label_key, validate_labels, validate_name, validate_replication_factor,
    MAX_LABEL_KEY_LEN, MAX_NAME_LEN,
};

/// The outcome of applying one command: what every replica returns for it.
pub type CommandResult = Result<Response, ApplyError>;
