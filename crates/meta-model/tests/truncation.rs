//! `truncate-shards` never leaves a range to two groups: whatever the order of points (past,
//! current, far future) and truncations, the live groups of a policy cover disjoint time ranges,
//! and no group that may hold data is cut at or before its start (its points would then share
//! their range with a new group's). Property-tested over the command `metactl truncate-shards`
//! proposes (`TruncateHotShardGroups`).

use std::collections::BTreeMap;

use meta_model::{Command, LeaderFacts, MetaState, Response, RetentionPolicySpec, HOUR};
use proptest::prelude::*;

const H: i64 = HOUR as i64;

#[derive(Clone, Debug)]
enum Step {
    /// A point at this many hours from 0 (negative: the past).
    Write(i64),
    /// `truncate-shards --delay D` with the leader's clock at this many hours.
    Truncate { now: i64, delay_hours: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (-100i64..400).prop_map(Step::Write),
        1 => (0i64..200, 0u64..3).prop_map(|(now, delay_hours)| Step::Truncate { now, delay_hours }),
    ]
}

fn cluster(group_hours: u64) -> MetaState {
    let mut state = MetaState::new();
    for i in 1..=2 {
        let add =
            Command::AddDataNode { tcp_addr: format!("d{i}:1"), http_addr: format!("d{i}:2"), labels: BTreeMap::new() };
        state.apply(&add).expect("node");
    }
    let spec = RetentionPolicySpec {
        name: "rp".to_owned(),
        duration: 0,
        shard_group_duration: Some(group_hours * HOUR),
        replication_factor: 1,
    };
    state.apply(&Command::CreateDatabase { name: "db".to_owned(), default_retention_policy: Some(spec) }).expect("db");
    state
}

proptest! {
    #[test]
    fn no_range_is_ever_covered_twice(group_hours in prop_oneof![Just(1u64), Just(24), Just(72)], steps in prop::collection::vec(step(), 1..60)) {
        let mut state = cluster(group_hours);
        for step in &steps {
            match *step {
                Step::Write(hours) => {
                    let timestamp = hours * H + 1;
                    let create = Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp };
                    let stamped = create.stamp(|| LeaderFacts { now: 0, live_data_nodes: None });
                    let Ok(Response::ShardGroup { group, .. }) = state.apply(&stamped) else {
                        panic!("a group for {timestamp}")
                    };
                    prop_assert!(group.start <= timestamp && timestamp < group.effective_end(), "{group:?} holds {timestamp}");
                    // The point is stored: its shards hold data.
                    let shard_ids = group.shards.iter().map(|s| s.id).collect();
                    state.apply(&Command::MarkShardsWritten { shard_ids }).expect("marked");
                }
                Step::Truncate { now, delay_hours } => {
                    let truncate = Command::TruncateHotShardGroups { delay: delay_hours * HOUR };
                    state.apply(&truncate.stamp(|| LeaderFacts { now: now * H, live_data_nodes: None })).expect("truncated");
                }
            }
            let policy = state.retention_policy("db", "rp").expect("policy");
            let live: Vec<_> = policy.shard_groups.values().filter(|g| !g.is_deleted()).collect();
            for group in &live {
                let written = group.shards.iter().any(|s| state.is_written(s.id));
                prop_assert!(!(written && group.effective_end() <= group.start), "a group with data cut at its start: {group:?}");
            }
            for (i, a) in live.iter().enumerate() {
                for b in &live[i + 1..] {
                    let overlap = a.start < b.effective_end() && b.start < a.effective_end();
                    prop_assert!(!overlap, "two groups cover one range: {a:?} and {b:?}");
                }
            }
        }
    }
}
