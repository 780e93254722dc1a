//! Property tests of `MetaState::apply` over random command sequences drawn from a small world
//! (few names, addresses and IDs) so that collisions and rejections are common.

use std::collections::{BTreeMap, BTreeSet};

use meta_store::codec;
use meta_store::{
    Command, CommandResult, MetaState, RetentionPolicySpec, RetentionPolicyUpdate, Timestamp, DAY, HOUR, MINUTE,
};
use proptest::prelude::*;

const H: i64 = HOUR as i64;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just("a".to_owned()), Just("b".to_owned()), Just("".to_owned())]
}

fn rp_name() -> impl Strategy<Value = String> {
    prop_oneof![Just("x".to_owned()), Just("y".to_owned())]
}

fn addr() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (1u8..7).prop_map(|i| format!("host-{i}:8088")),
        1 => Just("no-port".to_owned()),
    ]
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop_oneof![
        Just(BTreeMap::new()),
        prop_oneof![Just("z1"), Just("z2")].prop_map(|z| [("zone".to_owned(), z.to_owned())].into()),
    ]
}

fn duration() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(30 * MINUTE), Just(HOUR), Just(2 * HOUR), Just(DAY), Just(7 * DAY)]
}

fn group_duration() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), Just(Some(30 * MINUTE)), Just(Some(HOUR)), Just(Some(2 * HOUR))]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        10 => (-20i64..80).prop_map(|half_hours| half_hours * H / 2),
        2 => (-20i64..80).prop_map(|half_hours| half_hours * H / 2 + 1),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN + 2),
    ]
}

fn spec() -> impl Strategy<Value = RetentionPolicySpec> {
    (rp_name(), duration(), group_duration(), 0u32..4).prop_map(|(name, duration, shard_group_duration, rf)| {
        RetentionPolicySpec { name, duration, shard_group_duration, replication_factor: rf }
    })
}

fn command() -> impl Strategy<Value = Command> {
    let node = 0u64..9;
    let shard = 0u64..30;
    prop_oneof![
        6 => (addr(), labels()).prop_map(|(a, labels)| Command::AddDataNode {
            tcp_addr: a.clone(),
            http_addr: a,
            labels,
        }),
        2 => (node.clone(), addr(), proptest::option::of(labels())).prop_map(|(node_id, a, labels)| {
            Command::UpdateDataNode { node_id, tcp_addr: a.clone(), http_addr: a, labels }
        }),
        2 => (node.clone(), any::<bool>()).prop_map(|(node_id, force)| Command::RemoveDataNode { node_id, force }),
        1 => (proptest::option::of(0u64..12), addr()).prop_map(|(node_id, addr)| Command::AddMetaNode { node_id, addr }),
        1 => node.clone().prop_map(|node_id| Command::RemoveMetaNode { node_id }),
        3 => (name(), proptest::option::of(spec())).prop_map(|(name, default_retention_policy)| {
            Command::CreateDatabase { name, default_retention_policy }
        }),
        1 => name().prop_map(|name| Command::DropDatabase { name }),
        2 => (name(), spec(), any::<bool>()).prop_map(|(database, spec, make_default)| {
            Command::CreateRetentionPolicy { database, spec, make_default }
        }),
        1 => (name(), rp_name(), proptest::option::of(duration()), group_duration(), proptest::option::of(0u32..4))
            .prop_map(|(database, name, duration, shard_group_duration, replication_factor)| {
                Command::AlterRetentionPolicy {
                    database,
                    name,
                    update: RetentionPolicyUpdate {
                        duration,
                        shard_group_duration,
                        replication_factor,
                        make_default: false,
                    },
                }
            }),
        1 => (name(), rp_name()).prop_map(|(database, name)| Command::DropRetentionPolicy { database, name }),
        12 => (name(), rp_name(), timestamp()).prop_map(|(database, retention_policy, timestamp)| {
            Command::CreateShardGroup { database, retention_policy, timestamp }
        }),
        1 => (timestamp(), 1i64..6).prop_map(|(from, hours)| Command::PrecreateShardGroups {
            from,
            to: from.saturating_add(hours * H),
        }),
        1 => timestamp().prop_map(|at| Command::TruncateShardGroups { at }),
        1 => timestamp().prop_map(|now| Command::DeleteExpiredShardGroups { now }),
        1 => timestamp().prop_map(|before| Command::PruneDeletedShardGroups { before }),
        3 => (shard.clone(), node.clone()).prop_map(|(shard_id, node_id)| Command::AddShardOwner { shard_id, node_id }),
        3 => (shard.clone(), node).prop_map(|(shard_id, node_id)| Command::RemoveShardOwner { shard_id, node_id }),
        1 => shard.prop_map(|shard_id| Command::DropShard { shard_id }),
    ]
}

fn commands() -> impl Strategy<Value = Vec<Command>> {
    proptest::collection::vec(command(), 1..120)
}

fn encode(state: &MetaState) -> Vec<u8> {
    codec::encode("state", state).expect("a state always encodes")
}

fn run(state: &mut MetaState, commands: &[Command]) -> Vec<CommandResult> {
    commands.iter().map(|c| state.apply(c)).collect()
}

/// Every ID the state holds, by kind.
fn ids(state: &MetaState) -> [BTreeSet<u64>; 3] {
    let nodes = state.data_nodes().keys().chain(state.meta_nodes().keys()).copied().collect();
    let groups =
        state.databases().values().flat_map(|d| d.retention_policies.values()).flat_map(|rp| rp.shard_groups.values());
    let group_ids = groups.clone().map(|g| g.id).collect();
    let shard_ids = groups.flat_map(|g| g.shards.iter().map(|s| s.id)).collect();
    [nodes, group_ids, shard_ids]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Two replicas applying the same log return the same results and end byte-identical.
    #[test]
    fn replicas_applying_the_same_log_agree(commands in commands()) {
        let (mut a, mut b) = (MetaState::new(), MetaState::new());
        let results_a = run(&mut a, &commands);
        let results_b = run(&mut b, &commands);
        prop_assert_eq!(results_a, results_b);
        prop_assert_eq!(encode(&a), encode(&b));
    }

    /// A replica restored from a snapshot taken anywhere in the log behaves exactly like one that
    /// applied the whole log.
    #[test]
    fn snapshot_restore_preserves_state_and_future_responses(commands in commands(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(commands.len() + 1);
        let mut full = MetaState::new();
        let full_results = run(&mut full, &commands);

        let mut before = MetaState::new();
        run(&mut before, &commands[..cut]);
        let snapshot = encode(&before);
        let mut restored: MetaState = codec::decode("state", &snapshot).expect("snapshot decodes");
        prop_assert_eq!(&restored, &before);
        prop_assert_eq!(encode(&restored), snapshot);
        let rest = run(&mut restored, &commands[cut..]);
        prop_assert_eq!(&rest[..], &full_results[cut..]);
        prop_assert_eq!(&restored, &full);
    }

    /// After every command the invariants hold, a rejection changes nothing, counters never go
    /// back, and no ID that has disappeared ever comes back.
    #[test]
    fn invariants_hold_after_every_command(commands in commands()) {
        let mut state = MetaState::new();
        let mut seen: [BTreeSet<u64>; 3] = Default::default();
        let mut retired: [BTreeSet<u64>; 3] = Default::default();
        for command in &commands {
            let before = state.clone();
            let result = state.apply(command);
            if result.is_err() {
                prop_assert_eq!(&state, &before, "rejected {:?} changed the state", command);
            }
            if let Err(broken) = state.check_invariants() {
                prop_assert!(false, "after {:?}: {}", command, broken);
            }
            prop_assert!(state.next_node_id() >= before.next_node_id());
            prop_assert!(state.next_shard_group_id() >= before.next_shard_group_id());
            prop_assert!(state.next_shard_id() >= before.next_shard_id());
            let now = ids(&state);
            for kind in 0..3 {
                for id in &now[kind] {
                    prop_assert!(!retired[kind].contains(id), "id {} of kind {} reused by {:?}", id, kind, command);
                }
                retired[kind].extend(seen[kind].difference(&now[kind]).copied());
                seen[kind].clone_from(&now[kind]);
            }
        }
    }
}
