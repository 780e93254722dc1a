//! Metadata for the unit tests of this crate.

use meta_model::{Command, MetaState, RetentionPolicySpec};

/// `nodes` active data nodes (`d1`, `d2`, ...) and database `db` whose default policy `rp` keeps
/// data forever with one copy of every shard.
pub(crate) fn nodes_and_database(nodes: u64) -> MetaState {
    let mut state = MetaState::new();
    for i in 1..=nodes {
        let add = Command::AddDataNode {
            tcp_addr: format!("d{i}:1"),
            http_addr: format!("d{i}:2"),
            labels: Default::default(),
        };
        state.apply(&add).expect("node");
    }
    let spec =
        RetentionPolicySpec { name: "rp".into(), duration: 0, shard_group_duration: None, replication_factor: 1 };
    state.apply(&Command::CreateDatabase { name: "db".into(), default_retention_policy: Some(spec) }).expect("db");
    state
}
