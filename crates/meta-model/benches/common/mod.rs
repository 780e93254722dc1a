//! Builders of realistic cluster states and command streams for the benchmarks.

use meta_model::{Command, MetaState, Response, RetentionPolicySpec, Timestamp, DAY, HOUR};

/// The first hour of the benchmark timeline (2023-11-14T22:00:00Z).
pub(crate) const EPOCH: Timestamp = 1_700_000_000_000_000_000 / (HOUR as i64) * (HOUR as i64);
const H: i64 = HOUR as i64;

pub(crate) fn apply(state: &mut MetaState, command: &Command) -> Response {
    match state.apply(command) {
        Ok(response) => response,
        Err(error) => panic!("setup command {command:?} rejected: {error}"),
    }
}

pub(crate) fn add_data_node(i: u64, zones: u64) -> Command {
    Command::AddDataNode {
        tcp_addr: format!("data-{i}:8088"),
        http_addr: format!("data-{i}:8086"),
        labels: [("zone".to_owned(), format!("z{}", i % zones))].into(),
    }
}

/// A cluster of 3 meta nodes, `data_nodes` data nodes in 3 zones and `databases` databases with
/// two policies each (RF 2 for 7 days, RF 3 forever), filled with hourly shard groups until it
/// holds at least `shards` shards.
pub(crate) fn cluster(data_nodes: u64, databases: u64, shards: usize) -> MetaState {
    let mut state = MetaState::new();
    for id in 1..=3 {
        apply(&mut state, &Command::AddMetaNode { node_id: Some(id), addr: format!("meta-{id}:8091") });
    }
    for i in 0..data_nodes {
        apply(&mut state, &add_data_node(i, 3));
    }
    for d in 0..databases {
        let name = format!("db{d:03}");
        let week = RetentionPolicySpec {
            name: "week".into(),
            duration: 7 * DAY,
            shard_group_duration: None,
            replication_factor: 2,
        };
        apply(&mut state, &Command::CreateDatabase { name: name.clone(), default_retention_policy: Some(week) });
        let forever = RetentionPolicySpec {
            name: "forever".into(),
            duration: 0,
            shard_group_duration: Some(HOUR),
            replication_factor: 3,
        };
        apply(&mut state, &Command::CreateRetentionPolicy { database: name, spec: forever, make_default: false });
    }
    let mut hour = 0;
    while state.shard_count() < shards {
        for d in 0..databases {
            for rp in ["week", "forever"] {
                let command = Command::CreateShardGroup {
                    database: format!("db{d:03}"),
                    retention_policy: rp.into(),
                    timestamp: EPOCH + hour * H,
                };
                apply(&mut state, &command);
            }
        }
        hour += 1;
    }
    state
}
