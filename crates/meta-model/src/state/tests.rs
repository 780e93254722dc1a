//! Table tests of `apply`: every command's happy path and every way it is rejected.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::model::duration::{DAY, HOUR, WEEK};
use crate::model::leader_facts::LeaderFacts;
use crate::model::retention_policy::{RetentionPolicySpec, RetentionPolicyUpdate};
use crate::model::shard_group::{Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};

const H: i64 = HOUR as i64;

fn add_node(i: u64) -> Command {
    Command::AddDataNode {
        tcp_addr: format!("data-{i}:8088"),
        http_addr: format!("data-{i}:8086"),
        labels: BTreeMap::new(),
    }
}

fn spec(name: &str, replication_factor: u32) -> RetentionPolicySpec {
    RetentionPolicySpec { name: name.to_owned(), duration: 0, shard_group_duration: Some(HOUR), replication_factor }
}

/// Applies a command that must succeed and checks the invariants afterwards.
fn ok(state: &mut MetaState, command: Command) -> Response {
    let response = state.apply(&command).unwrap_or_else(|e| panic!("{command:?} was rejected: {e}"));
    if let Err(broken) = state.check_invariants() {
        panic!("after {command:?}: {broken}");
    }
    response
}

/// Applies a command that must be rejected with `want` and must leave the state as it was.
fn rejected(state: &mut MetaState, command: Command, want: ApplyError) {
    let before = state.clone();
    assert_eq!(state.apply(&command), Err(want), "{command:?}");
    assert_eq!(*state, before, "a rejected {command:?} changed the state");
}

/// A cluster of `nodes` data nodes (IDs 1..=nodes) and database `db` with policy `rp` of `rf`.
fn cluster(nodes: u64, rf: u32) -> MetaState {
    let mut state = MetaState::new();
    for i in 1..=nodes {
        ok(&mut state, add_node(i));
    }
    ok(&mut state, Command::CreateDatabase { name: "db".to_owned(), default_retention_policy: Some(spec("rp", rf)) });
    state
}

fn create_group(state: &mut MetaState, timestamp: Timestamp) -> (ShardGroup, bool) {
    let command = Command::CreateShardGroup { database: "db".to_owned(), retention_policy: "rp".to_owned(), timestamp };
    match ok(state, command) {
        Response::ShardGroup { group, created, .. } => (group, created),
        other => panic!("unexpected response {other:?}"),
    }
}

fn invalid_addr(field: &str, value: &str, reason: &str) -> ApplyError {
    ApplyError::InvalidAddress { field: field.to_owned(), value: value.to_owned(), reason: reason.to_owned() }
}

// --- data nodes -------------------------------------------------------------------------------

#[test]
fn add_data_node_assigns_sequential_ids() {
    let mut state = MetaState::new();
    for i in 1..=3 {
        match ok(&mut state, add_node(i)) {
            Response::DataNode(node) => {
                assert_eq!(node.id, i);
                assert_eq!(node.state, NodeState::Active);
                assert_eq!(node.tcp_addr, format!("data-{i}:8088"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(state.next_node_id(), 4);
}

#[test]
fn add_data_node_rejects_bad_input() {
    let mut state = MetaState::new();
    let cases = [
        ("", "h:1", invalid_addr("tcp_addr", "", "expected host:port")),
        ("h:0", "h:1", invalid_addr("tcp_addr", "h:0", "port 0 cannot be dialled")),
        ("h:1", "h", invalid_addr("http_addr", "h", "expected host:port")),
    ];
    for (tcp, http, want) in cases {
        let command =
            Command::AddDataNode { tcp_addr: tcp.to_owned(), http_addr: http.to_owned(), labels: BTreeMap::new() };
        rejected(&mut state, command, want);
    }
    let bad_label = Command::AddDataNode {
        tcp_addr: "h:1".to_owned(),
        http_addr: "h:2".to_owned(),
        labels: [("Zone".to_owned(), "a".to_owned())].into(),
    };
    assert!(matches!(state.apply(&bad_label), Err(ApplyError::InvalidName { .. })));
}

#[test]
fn add_data_node_rejects_an_address_in_use() {
    let mut state = MetaState::new();
    ok(&mut state, add_node(1));
    ok(&mut state, Command::AddMetaNode { node_id: None, addr: "meta-1:8091".to_owned() });
    for (tcp, http, used, by) in [
        ("data-1:8088", "x:1", "data-1:8088", 1),
        ("x:1", "data-1:8088", "data-1:8088", 1),
        ("meta-1:8091", "x:1", "meta-1:8091", 2),
    ] {
        let command =
            Command::AddDataNode { tcp_addr: tcp.to_owned(), http_addr: http.to_owned(), labels: BTreeMap::new() };
        let want = ApplyError::AddressInUse { addr: used.to_owned(), node_id: by };
        rejected(&mut state, command, want);
    }
}

#[test]
fn a_removed_nodes_address_can_be_reused_but_not_its_id() {
    let mut state = MetaState::new();
    ok(&mut state, add_node(1));
    ok(&mut state, Command::RemoveDataNode { node_id: 1, force: true });
    match ok(&mut state, add_node(1)) {
        Response::DataNode(node) => assert_eq!(node.id, 2),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(state.data_node(1).map(|n| n.state), Some(NodeState::Removed));
}

#[test]
fn update_data_node_keeps_id_and_ownership() {
    let mut state = cluster(2, 2);
    let (group, _) = create_group(&mut state, 0);
    let update = Command::UpdateDataNode {
        node_id: 2,
        tcp_addr: "new-2:8088".to_owned(),
        http_addr: "new-2:8086".to_owned(),
        labels: Some([("zone".to_owned(), "b".to_owned())].into()),
    };
    match ok(&mut state, update) {
        Response::DataNode(node) => {
            assert_eq!((node.id, node.tcp_addr.as_str()), (2, "new-2:8088"));
            assert_eq!(node.zone(), Some("b"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let shard = group.shards[0].id;
    assert_eq!(state.shard(shard).map(|v| v.shard.owners.clone()), Some(vec![1, 2]));
    // Keeping its own address is fine; taking another node's is not.
    let same = Command::UpdateDataNode {
        node_id: 2,
        tcp_addr: "new-2:8088".to_owned(),
        http_addr: "new-2:8086".to_owned(),
        labels: None,
    };
    ok(&mut state, same);
    let clash = Command::UpdateDataNode {
        node_id: 2,
        tcp_addr: "data-1:8088".to_owned(),
        http_addr: "new-2:8086".to_owned(),
        labels: None,
    };
    let want = ApplyError::AddressInUse { addr: "data-1:8088".to_owned(), node_id: 1 };
    rejected(&mut state, clash, want);
}

#[test]
fn update_data_node_rejects_unknown_and_removed_nodes() {
    let mut state = cluster(2, 1);
    ok(&mut state, Command::RemoveDataNode { node_id: 2, force: true });
    let update = |node_id| Command::UpdateDataNode {
        node_id,
        tcp_addr: "n:1".to_owned(),
        http_addr: "n:2".to_owned(),
        labels: None,
    };
    rejected(&mut state, update(9), ApplyError::DataNodeNotFound { node_id: 9 });
    let want = ApplyError::DataNodeNotActive { node_id: 2, state: NodeState::Removed };
    rejected(&mut state, update(2), want);
}

#[test]
fn remove_data_node_force_drops_ownership_at_once() {
    let mut state = cluster(3, 3);
    let (group, _) = create_group(&mut state, 0);
    match ok(&mut state, Command::RemoveDataNode { node_id: 2, force: true }) {
        Response::DataNodeRemoved { node, ownerless_shards } => {
            assert_eq!(node.state, NodeState::Removed);
            assert!(ownerless_shards.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
    let owners = state.shard(group.shards[0].id).map(|v| v.shard.owners.clone());
    assert_eq!(owners, Some(vec![1, 3]));
    assert_eq!(state.shards_owned_by(2).count(), 0);
}

#[test]
fn a_forced_removal_names_the_shards_it_leaves_without_owners() {
    let mut state = cluster(2, 1);
    let (group, _) = create_group(&mut state, 0);
    let sole: Vec<ShardId> = group.shards.iter().filter(|s| s.owners == [1]).map(|s| s.id).collect();
    assert!(!sole.is_empty());
    match ok(&mut state, Command::RemoveDataNode { node_id: 1, force: true }) {
        Response::DataNodeRemoved { ownerless_shards, .. } => assert_eq!(ownerless_shards, sole),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn remove_data_node_gracefully_drains_until_its_last_shard_moves() {
    let mut state = cluster(3, 2);
    let (group, _) = create_group(&mut state, 0);
    let shard = group.shards[0].id;
    let owner = group.shards[0].owners[0];
    match ok(&mut state, Command::RemoveDataNode { node_id: owner, force: false }) {
        Response::DataNodeRemoved { node, .. } => assert_eq!(node.state, NodeState::Draining),
        other => panic!("unexpected {other:?}"),
    }
    // A draining node keeps its shards and gets no new ones.
    let (next, _) = create_group(&mut state, H);
    assert!(next.shards.iter().all(|s| !s.owners.contains(&owner)));
    let spare = (1..=3).find(|n| !group.shards[0].owners.contains(n)).expect("a spare node");
    ok(&mut state, Command::AddShardOwner { shard_id: shard, node_id: spare });
    ok(&mut state, Command::RemoveShardOwner { shard_id: shard, node_id: owner });
    assert_eq!(state.data_node(owner).map(|n| n.state), Some(NodeState::Removed));
}

#[test]
fn remove_data_node_without_shards_is_removed_at_once() {
    let mut state = cluster(1, 1);
    match ok(&mut state, Command::RemoveDataNode { node_id: 1, force: false }) {
        Response::DataNodeRemoved { node, ownerless_shards } => {
            assert_eq!(node.state, NodeState::Removed);
            assert!(ownerless_shards.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
    let want = ApplyError::DataNodeNotActive { node_id: 1, state: NodeState::Removed };
    rejected(&mut state, Command::RemoveDataNode { node_id: 1, force: true }, want);
    rejected(
        &mut state,
        Command::RemoveDataNode { node_id: 5, force: true },
        ApplyError::DataNodeNotFound { node_id: 5 },
    );
}

// --- meta nodes -------------------------------------------------------------------------------

#[test]
fn meta_and_data_nodes_share_one_id_counter() {
    let mut state = MetaState::new();
    for id in 1..=3 {
        let command = Command::AddMetaNode { node_id: Some(id), addr: format!("meta-{id}:8091") };
        ok(&mut state, command);
    }
    match ok(&mut state, add_node(1)) {
        Response::DataNode(node) => assert_eq!(node.id, 4),
        other => panic!("unexpected {other:?}"),
    }
    match ok(&mut state, Command::AddMetaNode { node_id: None, addr: "meta-5:8091".to_owned() }) {
        Response::MetaNode(node) => assert_eq!(node.id, 5),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn add_meta_node_rejections() {
    let mut state = MetaState::new();
    ok(&mut state, add_node(1));
    ok(&mut state, Command::AddMetaNode { node_id: Some(7), addr: "meta-7:8091".to_owned() });
    let add = |node_id: Option<NodeId>, addr: &str| Command::AddMetaNode { node_id, addr: addr.to_owned() };
    rejected(&mut state, add(Some(1), "m:1"), ApplyError::NodeIdInUse { node_id: 1 });
    rejected(&mut state, add(Some(7), "m:1"), ApplyError::NodeIdInUse { node_id: 7 });
    rejected(&mut state, add(Some(0), "m:1"), ApplyError::InvalidNodeId { node_id: 0 });
    rejected(&mut state, add(Some(u64::MAX), "m:1"), ApplyError::InvalidNodeId { node_id: u64::MAX });
    let want = ApplyError::AddressInUse { addr: "meta-7:8091".to_owned(), node_id: 7 };
    rejected(&mut state, add(None, "meta-7:8091"), want);
    rejected(&mut state, add(None, "nope"), invalid_addr("addr", "nope", "expected host:port"));
    // A removed meta node's ID is never handed out again, nor may it be chosen again.
    ok(&mut state, add(None, "meta-8:8091"));
    ok(&mut state, Command::RemoveMetaNode { node_id: 7 });
    rejected(&mut state, add(Some(7), "m:1"), ApplyError::NodeIdInUse { node_id: 7 });
}

#[test]
fn remove_meta_node_keeps_at_least_one() {
    let mut state = MetaState::new();
    for id in [1, 2] {
        let command = Command::AddMetaNode { node_id: Some(id), addr: format!("meta-{id}:8091") };
        ok(&mut state, command);
    }
    rejected(&mut state, Command::RemoveMetaNode { node_id: 3 }, ApplyError::MetaNodeNotFound { node_id: 3 });
    ok(&mut state, Command::RemoveMetaNode { node_id: 1 });
    rejected(&mut state, Command::RemoveMetaNode { node_id: 2 }, ApplyError::LastMetaNode { node_id: 2 });
}

// --- databases and retention policies ---------------------------------------------------------

#[test]
fn create_database_defaults_shard_group_duration_like_influxdb() {
    let mut state = cluster(1, 1);
    let cases = [(0, WEEK), (DAY, HOUR), (7 * DAY, DAY), (365 * DAY, WEEK)];
    for (i, (duration, want)) in cases.into_iter().enumerate() {
        let name = format!("db{i}");
        let policy = RetentionPolicySpec {
            name: "autogen".to_owned(),
            duration,
            shard_group_duration: None,
            replication_factor: 1,
        };
        ok(&mut state, Command::CreateDatabase { name: name.clone(), default_retention_policy: Some(policy) });
        let rp = state.retention_policy(&name, "autogen").expect("policy");
        assert_eq!(rp.shard_group_duration, want, "duration {duration}");
        assert_eq!(state.database(&name).and_then(|d| d.default_retention_policy.as_deref()), Some("autogen"));
    }
}

#[test]
fn create_database_rejections() {
    let mut state = cluster(1, 1);
    let create = |name: &str, rp: Option<RetentionPolicySpec>| Command::CreateDatabase {
        name: name.to_owned(),
        default_retention_policy: rp,
    };
    rejected(&mut state, create("db", None), ApplyError::DatabaseExists { database: "db".to_owned() });
    assert!(matches!(
        state.apply(&create("", None)),
        Err(ApplyError::InvalidName { ref field, .. }) if field == "database"
    ));
    assert!(matches!(
        state.apply(&create("new", Some(spec("", 1)))),
        Err(ApplyError::InvalidName { ref field, .. }) if field == "retention policy"
    ));
    rejected(
        &mut state,
        create("new", Some(spec("rp", 2))),
        ApplyError::ReplicationFactorExceedsNodes { replication_factor: 2, active_nodes: 1 },
    );
    ok(&mut state, create("bare", None));
    assert_eq!(state.database("bare").map(|d| d.retention_policies.len()), Some(0));
}

#[test]
fn create_retention_policy_rejections() {
    let mut state = cluster(2, 1);
    let create = |db: &str, spec: RetentionPolicySpec| Command::CreateRetentionPolicy {
        database: db.to_owned(),
        spec,
        make_default: false,
    };
    rejected(&mut state, create("nope", spec("x", 1)), ApplyError::DatabaseNotFound { database: "nope".to_owned() });
    rejected(
        &mut state,
        create("db", spec("rp", 1)),
        ApplyError::RetentionPolicyExists { database: "db".to_owned(), retention_policy: "rp".to_owned() },
    );
    rejected(&mut state, create("db", spec("x", 0)), ApplyError::InvalidReplicationFactor { replication_factor: 0 });
    rejected(
        &mut state,
        create("db", spec("x", 3)),
        ApplyError::ReplicationFactorExceedsNodes { replication_factor: 3, active_nodes: 2 },
    );
    let short = RetentionPolicySpec { duration: HOUR / 2, shard_group_duration: None, ..spec("x", 1) };
    assert!(matches!(
        state.apply(&create("db", short)),
        Err(ApplyError::InvalidDuration { ref field, .. }) if field == "duration"
    ));
    let wide_groups = RetentionPolicySpec { duration: DAY, shard_group_duration: Some(2 * DAY), ..spec("x", 1) };
    assert!(matches!(
        state.apply(&create("db", wide_groups)),
        Err(ApplyError::InvalidDuration { ref field, .. }) if field == "shard-duration"
    ));
    assert!(state.retention_policy("db", "x").is_none());
}

#[test]
fn first_policy_becomes_default_and_make_default_moves_it() {
    let mut state = cluster(1, 1);
    ok(&mut state, Command::CreateDatabase { name: "d".to_owned(), default_retention_policy: None });
    let create = |name: &str, make_default| Command::CreateRetentionPolicy {
        database: "d".to_owned(),
        spec: spec(name, 1),
        make_default,
    };
    ok(&mut state, create("first", false));
    ok(&mut state, create("second", false));
    let default = |s: &MetaState| s.database("d").and_then(|d| d.default_retention_policy.clone());
    assert_eq!(default(&state).as_deref(), Some("first"));
    ok(&mut state, create("third", true));
    assert_eq!(default(&state).as_deref(), Some("third"));
}

#[test]
fn alter_retention_policy_changes_only_what_is_asked() {
    let mut state = cluster(3, 1);
    let alter =
        |name: &str, update| Command::AlterRetentionPolicy { database: "db".to_owned(), name: name.to_owned(), update };
    ok(
        &mut state,
        alter(
            "rp",
            RetentionPolicyUpdate { duration: Some(7 * DAY), replication_factor: Some(3), ..Default::default() },
        ),
    );
    let rp = state.retention_policy("db", "rp").expect("policy");
    assert_eq!((rp.duration, rp.shard_group_duration, rp.replication_factor), (7 * DAY, HOUR, 3));
    rejected(
        &mut state,
        alter("nope", RetentionPolicyUpdate::default()),
        ApplyError::RetentionPolicyNotFound { database: "db".to_owned(), retention_policy: "nope".to_owned() },
    );
    rejected(
        &mut state,
        alter("rp", RetentionPolicyUpdate { replication_factor: Some(4), ..Default::default() }),
        ApplyError::ReplicationFactorExceedsNodes { replication_factor: 4, active_nodes: 3 },
    );
    // A retention shorter than the groups is refused as a whole: nothing changes.
    let before = state.clone();
    let shrink = alter(
        "rp",
        RetentionPolicyUpdate {
            duration: Some(HOUR),
            shard_group_duration: Some(DAY),
            replication_factor: Some(1),
            make_default: true,
        },
    );
    assert!(matches!(state.apply(&shrink), Err(ApplyError::InvalidDuration { .. })));
    assert_eq!(state, before);
}

#[test]
fn dropping_a_policy_or_database_forgets_its_shards() {
    let mut state = cluster(2, 1);
    let (group, _) = create_group(&mut state, 0);
    let shard = group.shards[0].id;
    ok(&mut state, Command::DropRetentionPolicy { database: "db".to_owned(), name: "rp".to_owned() });
    assert!(state.shard(shard).is_none());
    assert_eq!(state.shard_count(), 0);
    assert_eq!(state.database("db").and_then(|d| d.default_retention_policy.clone()), None);
    rejected(
        &mut state,
        Command::DropRetentionPolicy { database: "db".to_owned(), name: "rp".to_owned() },
        ApplyError::RetentionPolicyNotFound { database: "db".to_owned(), retention_policy: "rp".to_owned() },
    );
    ok(&mut state, Command::DropDatabase { name: "db".to_owned() });
    rejected(
        &mut state,
        Command::DropDatabase { name: "db".to_owned() },
        ApplyError::DatabaseNotFound { database: "db".to_owned() },
    );
}

#[test]
fn dropping_a_database_finishes_draining_nodes_that_only_owned_its_shards() {
    let mut state = cluster(2, 2);
    create_group(&mut state, 0);
    ok(&mut state, Command::RemoveDataNode { node_id: 1, force: false });
    ok(&mut state, Command::DropDatabase { name: "db".to_owned() });
    assert_eq!(state.data_node(1).map(|n| n.state), Some(NodeState::Removed));
}

// --- shard groups -----------------------------------------------------------------------------

#[test]
fn create_shard_group_is_idempotent_within_its_range() {
    let mut state = cluster(2, 1);
    let (group, created) = create_group(&mut state, H + 5);
    assert!(created);
    assert_eq!((group.start, group.end), (H, 2 * H));
    for t in [H, H + 5, 2 * H - 1] {
        let (again, created) = create_group(&mut state, t);
        assert!(!created);
        assert_eq!(again, group);
    }
    let (next, created) = create_group(&mut state, 2 * H);
    assert!(created);
    assert_eq!(next.start, 2 * H);
}

#[test]
fn shard_count_and_owners_follow_nodes_and_replication_factor() {
    // (active nodes, RF) -> (shards per group, owners per shard)
    let cases = [(1, 1, 1, 1), (3, 1, 3, 1), (3, 2, 1, 2), (4, 2, 2, 2), (5, 2, 2, 2), (6, 3, 2, 3), (3, 3, 1, 3)];
    for (nodes, rf, shards, owners) in cases {
        let mut state = cluster(nodes, rf);
        let (group, _) = create_group(&mut state, 0);
        assert_eq!(group.shards.len(), shards, "{nodes} nodes, RF {rf}");
        assert!(group.shards.iter().all(|s| s.owners.len() == owners), "{nodes} nodes, RF {rf}");
        assert_eq!(state.next_shard_id(), 1 + shards as u64, "shard IDs are consumed one per shard");
    }
}

#[test]
fn owners_stay_balanced_over_many_groups() {
    let mut state = cluster(5, 2);
    for i in 0..100 {
        create_group(&mut state, i * H);
    }
    let loads: Vec<usize> = (1..=5).map(|n| state.shards_owned_by(n).count()).collect();
    let (min, max) = (loads.iter().min(), loads.iter().max());
    assert!(matches!((min, max), (Some(a), Some(b)) if b - a <= 1), "loads {loads:?}");
}

#[test]
fn owners_are_capped_at_active_nodes_when_rf_outgrows_them() {
    let mut state = cluster(3, 3);
    ok(&mut state, Command::RemoveDataNode { node_id: 3, force: true });
    let (group, _) = create_group(&mut state, 0);
    assert_eq!(group.shards.len(), 1);
    assert_eq!(group.shards[0].owners, vec![1, 2]);
}

#[test]
fn owners_spread_across_zones() {
    let mut state = MetaState::new();
    for (i, zone) in [(1, "a"), (2, "a"), (3, "b"), (4, "b")] {
        let command = Command::AddDataNode {
            tcp_addr: format!("data-{i}:8088"),
            http_addr: format!("data-{i}:8086"),
            labels: [("zone".to_owned(), zone.to_owned())].into(),
        };
        ok(&mut state, command);
    }
    ok(&mut state, Command::CreateDatabase { name: "db".to_owned(), default_retention_policy: Some(spec("rp", 2)) });
    for i in 0..20 {
        let (group, _) = create_group(&mut state, i * H);
        for shard in &group.shards {
            let zones: Vec<_> =
                shard.owners.iter().filter_map(|o| state.data_node(*o).and_then(|n| n.zone())).collect();
            assert_ne!(zones[0], zones[1], "shard {} owners {:?} share a zone", shard.id, shard.owners);
        }
    }
}

/// Nodes `(id, [(key, value)])` in order, then a database with RF `rf`.
fn labelled_cluster(nodes: &[&[(&str, &str)]], rf: u32) -> MetaState {
    let mut state = MetaState::new();
    for (i, labels) in nodes.iter().enumerate() {
        let command = Command::AddDataNode {
            tcp_addr: format!("data-{i}:8088"),
            http_addr: format!("data-{i}:8086"),
            labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        };
        ok(&mut state, command);
    }
    ok(&mut state, Command::CreateDatabase { name: "db".to_owned(), default_retention_policy: Some(spec("rp", rf)) });
    state
}

#[test]
fn owners_spread_over_every_level_of_the_declared_hierarchy() {
    // Two zones, zone a with two racks; RF 3. By zone alone, the third owner may share a rack.
    let nodes: [&[(&str, &str)]; 6] = [
        &[("zone", "a"), ("rack", "r1")],
        &[("zone", "a"), ("rack", "r1")],
        &[("zone", "a"), ("rack", "r2")],
        &[("zone", "b"), ("rack", "r3")],
        &[("zone", "b"), ("rack", "r3")],
        &[("zone", "a"), ("rack", "r1")],
    ];
    let mut state = labelled_cluster(&nodes, 3);
    let levels = vec!["zone".to_owned(), "rack".to_owned()];
    let policy = ok(&mut state, Command::SetFailureDomains { levels: levels.clone() });
    assert_eq!(policy, Response::Placement(PlacementPolicy { failure_domains: levels, ..PlacementPolicy::default() }));
    let label = |state: &MetaState, node: NodeId, key: &str| state.data_node(node).map(|n| n.labels[key].clone());
    for i in 0..10 {
        let (group, _) = create_group(&mut state, i * H);
        for shard in &group.shards {
            let zones: BTreeSet<_> = shard.owners.iter().map(|&o| label(&state, o, "zone")).collect();
            let racks: BTreeSet<_> = shard.owners.iter().map(|&o| label(&state, o, "rack")).collect();
            assert_eq!((zones.len(), racks.len()), (2, 3), "shard {} owners {:?}", shard.id, shard.owners);
        }
    }
}

#[test]
fn node_labels_are_set_and_deleted_in_one_step_keeping_the_others() {
    let mut state = labelled_cluster(&[&[("zone", "a"), ("rack", "r1")]], 1);
    let set = [("rack".to_owned(), "r9".to_owned()), ("host".to_owned(), "h1".to_owned())].into();
    let command = Command::SetNodeLabels { node_id: 1, set, delete: vec!["zone".to_owned(), "absent".to_owned()] };
    let (response, changes) = state.apply_tracked(&command);
    let Ok(Response::DataNode(node)) = response else { panic!("{response:?}") };
    let want: BTreeMap<String, String> =
        [("host", "h1"), ("rack", "r9")].iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    assert_eq!(node.labels, want);
    assert!(changes.everything, "the zone, a level of the hierarchy, changed: every shard's spread is judged anew");
    let (_, changes) = state.apply_tracked(&Command::SetNodeLabels {
        node_id: 1,
        set: BTreeMap::new(),
        delete: vec!["host".to_owned()],
    });
    assert!(!changes.everything && changes.data_nodes.contains(&1), "host is not in the hierarchy: {changes:?}");

    let bad_key =
        Command::SetNodeLabels { node_id: 1, set: [("Zone".to_owned(), "a".to_owned())].into(), delete: vec![] };
    assert!(matches!(state.apply(&bad_key), Err(ApplyError::InvalidName { field, .. }) if field == "label key"));
    let both = Command::SetNodeLabels {
        node_id: 1,
        set: [("zone".to_owned(), "a".to_owned())].into(),
        delete: vec!["zone".to_owned()],
    };
    assert!(matches!(state.apply(&both), Err(ApplyError::InvalidName { field, .. }) if field == "delete"));
    let missing = Command::SetNodeLabels { node_id: 7, set: BTreeMap::new(), delete: vec![] };
    assert_eq!(state.apply(&missing), Err(ApplyError::DataNodeNotFound { node_id: 7 }));
}

#[test]
fn a_new_hierarchy_asks_for_a_look_at_everything_and_a_bad_one_changes_nothing() {
    let mut state = labelled_cluster(&[&[("zone", "a")]], 1);
    let (_, changes) = state.apply_tracked(&Command::SetFailureDomains { levels: vec!["rack".to_owned()] });
    assert!(changes.everything);
    let (_, changes) = state.apply_tracked(&Command::SetFailureDomains { levels: vec!["rack".to_owned()] });
    assert!(!changes.everything, "the same hierarchy again changes nothing");
    let before = state.clone();
    let bad = Command::SetFailureDomains { levels: vec!["rack".to_owned(), "rack".to_owned()] };
    assert!(matches!(state.apply(&bad), Err(ApplyError::InvalidName { field, .. }) if field == "failure_domains"));
    assert_eq!(state, before);
}

#[test]
fn create_shard_group_rejections() {
    let mut state = cluster(1, 1);
    let create = |db: &str, rp: &str, timestamp| Command::CreateShardGroup {
        database: db.to_owned(),
        retention_policy: rp.to_owned(),
        timestamp,
    };
    rejected(&mut state, create("nope", "rp", 0), ApplyError::DatabaseNotFound { database: "nope".to_owned() });
    rejected(
        &mut state,
        create("db", "nope", 0),
        ApplyError::RetentionPolicyNotFound { database: "db".to_owned(), retention_policy: "nope".to_owned() },
    );
    for timestamp in [i64::MAX, i64::MIN, MIN_TIMESTAMP - 1] {
        rejected(&mut state, create("db", "rp", timestamp), ApplyError::InvalidTimestamp { timestamp });
    }
    ok(&mut state, create("db", "rp", MAX_TIMESTAMP));
    ok(&mut state, create("db", "rp", MIN_TIMESTAMP));
    ok(&mut state, Command::RemoveDataNode { node_id: 1, force: true });
    rejected(&mut state, create("db", "rp", 0), ApplyError::NoActiveDataNodes);
}

#[test]
fn truncation_sends_later_points_to_a_new_group() {
    let mut state = cluster(1, 1);
    let (group, _) = create_group(&mut state, 0);
    let at = H / 2;
    match ok(&mut state, Command::TruncateShardGroups { at }) {
        Response::ShardGroupIds(ids) => assert_eq!(ids, vec![group.id]),
        other => panic!("unexpected {other:?}"),
    }
    let (same, created) = create_group(&mut state, at - 1);
    assert!(!created);
    assert_eq!(same.id, group.id);
    let (next, created) = create_group(&mut state, at);
    assert!(created);
    assert_eq!((next.start, next.end), (at, H));
    // The rule of this older command, kept for its log entries: truncating again at the same
    // time cuts the new group too, at its start.
    match ok(&mut state, Command::TruncateShardGroups { at }) {
        Response::ShardGroupIds(ids) => assert_eq!(ids, vec![next.id]),
        other => panic!("unexpected {other:?}"),
    }
    rejected(
        &mut state,
        Command::TruncateShardGroups { at: i64::MAX },
        ApplyError::InvalidTimestamp { timestamp: i64::MAX },
    );
}

#[test]
fn truncation_leaves_groups_that_start_later_alone_so_no_range_gets_two_groups() {
    // RF 1, 72h groups, a point ten days ahead; truncate-shards now; the same point again.
    let mut state = MetaState::new();
    ok(&mut state, add_node(1));
    let policy = RetentionPolicySpec {
        name: "rp".to_owned(),
        duration: 0,
        shard_group_duration: Some(72 * HOUR),
        replication_factor: 1,
    };
    ok(&mut state, Command::CreateDatabase { name: "db".to_owned(), default_retention_policy: Some(policy) });
    let ahead = 10 * 24 * H;
    let (future, _) = create_group(&mut state, ahead);
    let (current, _) = create_group(&mut state, H);
    let facts = || LeaderFacts { now: H, live_data_nodes: None };
    let truncate = Command::TruncateHotShardGroups { delay: H as u64 }.stamp(facts);
    match ok(&mut state, truncate.clone()) {
        Response::Truncated { at, shard_groups } => {
            assert_eq!((at, shard_groups), (2 * H, vec![current.id]), "only the group holding the time")
        }
        other => panic!("unexpected {other:?}"),
    }
    let (again, created) = create_group(&mut state, ahead);
    assert_eq!((again.id, created), (future.id, false), "the same point goes to the same group");
    let (after, created) = create_group(&mut state, 3 * H);
    assert!(created && after.start == 2 * H, "later points of the cut range get a group of their own: {after:?}");
    match ok(&mut state, truncate) {
        Response::Truncated { shard_groups, .. } => {
            assert_eq!(shard_groups, Vec::<ShardGroupId>::new(), "a group starting there is left")
        }
        other => panic!("unexpected {other:?}"),
    }
    let groups = &state.retention_policy("db", "rp").expect("policy").shard_groups;
    assert_eq!(groups.len(), 3, "{groups:?}");
}

#[test]
fn precreate_makes_the_next_group_once() {
    let mut state = cluster(1, 1);
    let (group, _) = create_group(&mut state, 0);
    let window = Command::PrecreateShardGroups { from: H / 2, to: 2 * H };
    let created = match ok(&mut state, window.clone()) {
        Response::ShardGroupIds(ids) => ids,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(created.len(), 1);
    let rp = state.retention_policy("db", "rp").expect("policy");
    let next = rp.shard_groups.get(&created[0]).expect("new group");
    assert_eq!((next.start, next.end), (group.end, group.end + H));
    assert!(matches!(ok(&mut state, window), Response::ShardGroupIds(ids) if ids.is_empty()));
    rejected(
        &mut state,
        Command::PrecreateShardGroups { from: H, to: H },
        ApplyError::InvalidTimeRange { from: H, to: H },
    );
}

#[test]
fn retention_deletes_then_prune_forgets_expired_groups() {
    let mut state = cluster(1, 1);
    let policy = RetentionPolicySpec {
        name: "short".to_owned(),
        duration: 2 * HOUR,
        shard_group_duration: Some(HOUR),
        replication_factor: 1,
    };
    ok(&mut state, Command::CreateRetentionPolicy { database: "db".to_owned(), spec: policy, make_default: false });
    let short = match ok(
        &mut state,
        Command::CreateShardGroup { database: "db".to_owned(), retention_policy: "short".to_owned(), timestamp: 0 },
    ) {
        Response::ShardGroup { group, .. } => group,
        other => panic!("unexpected {other:?}"),
    };
    let (forever, _) = create_group(&mut state, 0);
    // Not yet: the group ends at 1h and is kept 2h past that.
    let early = ok(&mut state, Command::DeleteExpiredShardGroups { now: 3 * H - 1 });
    assert_eq!(early, Response::ShardGroupIds(vec![]));
    let due = ok(&mut state, Command::DeleteExpiredShardGroups { now: 3 * H });
    assert_eq!(due, Response::ShardGroupIds(vec![short.id]));
    let shard = short.shards[0].id;
    assert!(state.shard(shard).is_some_and(|v| v.group.deleted_at == Some(3 * H)));
    assert!(state.shard(forever.shards[0].id).is_some_and(|v| !v.group.is_deleted()));
    // A deleted group no longer covers its range: a point there gets a new group.
    let prune = ok(&mut state, Command::PruneDeletedShardGroups { before: 3 * H });
    assert_eq!(prune, Response::ShardGroupIds(vec![short.id]));
    assert!(state.shard(shard).is_none());
}

// --- shard ownership --------------------------------------------------------------------------

#[test]
fn add_and_remove_shard_owner() {
    let mut state = cluster(3, 1);
    let (group, _) = create_group(&mut state, 0);
    let shard = group.shards[0].id;
    let owner = group.shards[0].owners[0];
    let other = if owner == 1 { 2 } else { 1 };
    ok(&mut state, Command::AddShardOwner { shard_id: shard, node_id: other });
    let mut want = vec![owner, other];
    want.sort_unstable();
    assert_eq!(state.shard(shard).map(|v| v.shard.owners.clone()), Some(want));
    ok(&mut state, Command::RemoveShardOwner { shard_id: shard, node_id: owner });
    assert_eq!(state.shard(shard).map(|v| v.shard.owners.clone()), Some(vec![other]));
}

#[test]
fn add_shard_owner_rejections() {
    let mut state = cluster(3, 1);
    let (group, _) = create_group(&mut state, 0);
    let shard = group.shards[0].id;
    let owner = group.shards[0].owners[0];
    let add = |shard_id, node_id| Command::AddShardOwner { shard_id, node_id };
    rejected(&mut state, add(999, 1), ApplyError::ShardNotFound { shard_id: 999 });
    rejected(&mut state, add(shard, 42), ApplyError::DataNodeNotFound { node_id: 42 });
    rejected(&mut state, add(shard, owner), ApplyError::ShardOwnerExists { shard_id: shard, node_id: owner });
    let idle = (1..=3).find(|n| state.shards_owned_by(*n).count() == 1 && *n != owner).expect("another owner");
    ok(&mut state, Command::RemoveDataNode { node_id: idle, force: false });
    rejected(&mut state, add(shard, idle), ApplyError::DataNodeNotActive { node_id: idle, state: NodeState::Draining });
    let policy = RetentionPolicyUpdate { duration: Some(HOUR), ..Default::default() };
    ok(&mut state, Command::AlterRetentionPolicy { database: "db".to_owned(), name: "rp".to_owned(), update: policy });
    ok(&mut state, Command::DeleteExpiredShardGroups { now: 10 * H });
    let fresh = (1..=3).find(|n| *n != owner && *n != idle).expect("a third node");
    rejected(&mut state, add(shard, fresh), ApplyError::ShardGroupDeleted { shard_group_id: group.id });
}

#[test]
fn remove_shard_owner_rejections() {
    let mut state = cluster(2, 1);
    let (group, _) = create_group(&mut state, 0);
    let shard = group.shards[0].id;
    let not_owner = if group.shards[0].owners[0] == 1 { 2 } else { 1 };
    rejected(
        &mut state,
        Command::RemoveShardOwner { shard_id: shard, node_id: not_owner },
        ApplyError::NotShardOwner { shard_id: shard, node_id: not_owner },
    );
    rejected(
        &mut state,
        Command::RemoveShardOwner { shard_id: 77, node_id: 1 },
        ApplyError::ShardNotFound { shard_id: 77 },
    );
}

#[test]
fn drop_shard_removes_it_and_an_emptied_group() {
    let mut state = cluster(2, 1);
    let (group, _) = create_group(&mut state, 0);
    assert_eq!(group.shards.len(), 2);
    ok(&mut state, Command::DropShard { shard_id: group.shards[0].id });
    assert!(state.shard(group.shards[0].id).is_none());
    assert!(state.shard(group.shards[1].id).is_some());
    ok(&mut state, Command::DropShard { shard_id: group.shards[1].id });
    let rp = state.retention_policy("db", "rp").expect("policy");
    assert!(rp.shard_groups.is_empty());
    rejected(
        &mut state,
        Command::DropShard { shard_id: group.shards[1].id },
        ApplyError::ShardNotFound { shard_id: group.shards[1].id },
    );
    // The range is free again; the next point there gets a new group with new IDs.
    let (again, created) = create_group(&mut state, 0);
    assert!(created && again.id > group.id);
}

// --- backup and restore -----------------------------------------------------------------------

#[test]
fn restore_loads_a_backup_into_an_empty_cluster_only() {
    let mut old = cluster(3, 2);
    for i in 0..5 {
        create_group(&mut old, i * H);
    }
    let mut fresh = MetaState::new();
    for id in 1..=2 {
        ok(&mut fresh, Command::AddMetaNode { node_id: Some(100 + id), addr: format!("meta-{id}:8091") });
    }
    let restore = Command::restore(&old.to_record()).expect("encodes");
    ok(&mut fresh, restore.clone());
    assert_eq!(fresh.databases(), old.databases());
    assert_eq!(fresh.data_nodes(), old.data_nodes());
    assert_eq!(fresh.meta_nodes().len(), 2, "the cluster keeps its own meta nodes");
    assert_eq!(fresh.next_node_id(), 103, "IDs move past both the backup's and the cluster's");
    assert_eq!(fresh.shard_count(), old.shard_count());
    rejected(&mut fresh, restore, ApplyError::NotEmpty { what: "data nodes".to_owned() });
}

#[test]
fn a_state_encodes_exactly_as_its_record() {
    let mut state = cluster(3, 2);
    create_group(&mut state, 0);
    let bytes = crate::codec::encode("state", &state).expect("encodes");
    assert_eq!(
        bytes,
        crate::codec::encode("record", &state.to_record()).expect("encodes"),
        "snapshots and restore entries agree"
    );
    let back = MetaState::decode("state", &bytes).expect("decodes");
    assert_eq!(back, state);
    assert_eq!(MetaState::from(state.to_record()), state, "indexes rebuilt from the record");
}

#[test]
fn restore_refuses_inconsistent_backups_and_id_clashes() {
    let mut backup = cluster(2, 1);
    create_group(&mut backup, 0);
    let mut clash = MetaState::new();
    ok(&mut clash, Command::AddMetaNode { node_id: Some(1), addr: "meta-1:8091".to_owned() });
    let restore = Command::restore(&backup.to_record()).expect("encodes");
    assert!(matches!(clash.apply(&restore), Err(ApplyError::InvalidBackup { .. })));

    // A backup whose shard names an owner it does not know is not a consistent state.
    let mut broken = backup;
    broken.data_nodes.clear();
    let mut fresh = MetaState::new();
    let restore = Command::restore(&broken.to_record()).expect("encodes");
    assert!(
        matches!(fresh.apply(&restore), Err(ApplyError::InvalidBackup { ref reason }) if reason.contains("unknown"))
    );
    assert_eq!(fresh, MetaState::new());
    // The check a meta node runs before proposing any of a backup refuses it the same way.
    let refused = MetaState::check_backup(broken.to_record());
    assert!(
        matches!(refused, Err(ApplyError::InvalidBackup { ref reason }) if reason.contains("unknown")),
        "{refused:?}"
    );
    assert_eq!(MetaState::check_backup(cluster(2, 1).to_record()), Ok(()));
}

#[test]
fn a_batch_answers_each_command_and_keeps_going_after_a_rejection() {
    let mut state = MetaState::new();
    let create = |name: &str| Command::CreateDatabase { name: name.to_owned(), default_retention_policy: None };
    let batch = Command::Batch(vec![create("a"), create("a"), create("b")]);
    let Response::Batch(results) = ok(&mut state, batch) else { panic!("a batch answers Response::Batch") };
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    assert_eq!(results[1], Err(ApplyError::DatabaseExists { database: "a".to_owned() }));
    assert_eq!(state.databases().keys().collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn a_command_needing_the_leaders_facts_applies_only_stamped() {
    let mut state = cluster(2, 1);
    let (group, _) = create_group(&mut state, 0);
    let truncate = Command::TruncateShardGroupsAfter { delay: 60 * 1_000_000_000 };
    let want = ApplyError::NotStamped { command: "truncate_shard_groups_after".to_owned() };
    rejected(&mut state, truncate.clone(), want);

    let facts = || LeaderFacts { now: 1_000, live_data_nodes: Some([1].into()) };
    let stamped = truncate.clone().stamp(facts);
    assert!(matches!(&stamped, Command::Stamped { facts: f, .. } if f.now == 1_000), "{stamped:?}");
    let at = 1_000 + 60 * 1_000_000_000;
    assert_eq!(ok(&mut state, stamped), Response::Truncated { at, shard_groups: vec![group.id] });
    assert_eq!(state.retention_policy("db", "rp").and_then(|p| p.shard_groups[&group.id].truncated_at), Some(at));

    // Facts stamped by anyone else are replaced by the leader's; commands that need none stay bare.
    let foreign = Command::Stamped { facts: facts(), command: Box::new(truncate) };
    let restamped = foreign.stamp(|| LeaderFacts { now: 7, live_data_nodes: None });
    assert!(matches!(&restamped, Command::Stamped { facts: f, .. } if f.now == 7), "{restamped:?}");
    let plain = Command::DropShard { shard_id: 1 };
    assert_eq!(plain.clone().stamp(facts), plain);
}

#[test]
fn a_stamped_command_holds_one_plain_command() {
    let mut state = cluster(1, 1);
    let facts = LeaderFacts { now: 5, live_data_nodes: None };
    let batch = Command::Batch(vec![Command::DropDatabase { name: "db".to_owned() }]);
    let stamped_batch = Command::Stamped { facts: facts.clone(), command: Box::new(batch) };
    rejected(&mut state, stamped_batch, ApplyError::NestedStamp);
    let inner = Command::Stamped { facts: facts.clone(), command: Box::new(Command::DropShard { shard_id: 1 }) };
    let twice = Command::Stamped { facts: facts.clone(), command: Box::new(inner) };
    rejected(&mut state, twice, ApplyError::NestedStamp);
    // A plain command applies stamped exactly as it does bare.
    let drop = Command::DropDatabase { name: "db".to_owned() };
    let mut bare = state.clone();
    assert_eq!(bare.apply(&drop), Ok(Response::Done));
    assert_eq!(ok(&mut state, Command::Stamped { facts, command: Box::new(drop) }), Response::Done);
    assert_eq!(state, bare);
}

#[test]
fn a_batch_inside_a_batch_is_refused_before_anything_changes() {
    let mut state = MetaState::new();
    let create = Command::CreateDatabase { name: "a".to_owned(), default_retention_policy: None };
    let nested = Command::Batch(vec![create.clone(), Command::Batch(vec![create])]);
    rejected(&mut state, nested, ApplyError::NestedBatch);
}

mod copy_tasks;
mod restore_parts;

// --- placement and liveness -------------------------------------------------------------------

fn create_group_seen_by(state: &mut MetaState, timestamp: Timestamp, live: &[NodeId]) -> ShardGroup {
    let command = Command::CreateShardGroup { database: "db".to_owned(), retention_policy: "rp".to_owned(), timestamp };
    let facts = LeaderFacts { now: 0, live_data_nodes: Some(live.iter().copied().collect()) };
    match ok(state, command.stamp(|| facts)) {
        Response::ShardGroup { group, .. } => group,
        other => panic!("unexpected response {other:?}"),
    }
}

#[test]
fn new_groups_are_placed_on_live_nodes_while_enough_are_live() {
    // 3 nodes, RF 2, node 3 down: six new hours, none of their shards on node 3.
    let mut state = cluster(3, 2);
    for hour in 0..6 {
        let group = create_group_seen_by(&mut state, hour * H, &[1, 2]);
        assert_eq!(group.shards.len(), 1, "the group's shape follows the active nodes");
        for shard in &group.shards {
            assert_eq!(shard.owners, vec![1, 2], "hour {hour}");
        }
    }
    // Unstamped (an entry of an earlier format): every active node, as before.
    let (group, _) = create_group(&mut state, 10 * H);
    assert!(group.shards.iter().any(|s| s.owners.contains(&3)), "{group:?}");
}

#[test]
fn too_few_live_nodes_still_get_every_copy_live_ones_first() {
    // 4 nodes, RF 3, only node 2 live: each shard is owned by node 2 and two nodes that are down.
    let mut state = cluster(4, 3);
    let group = create_group_seen_by(&mut state, 0, &[2]);
    for shard in &group.shards {
        assert_eq!(shard.owners.len(), 3, "{shard:?}");
        assert!(shard.owners.contains(&2), "{shard:?}");
    }
    // Nobody live (a leader that hears no data node): placed on the active nodes all the same.
    let group = create_group_seen_by(&mut state, H, &[]);
    assert!(group.shards.iter().all(|s| s.owners.len() == 3), "{group:?}");
}

#[test]
fn placement_commands_are_stamped_by_the_leader() {
    let create = Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp: 0 };
    assert!(create.needs_leader_facts());
    assert!(Command::PrecreateShardGroups { from: 0, to: 1 }.needs_leader_facts());
    assert!(!Command::DropShard { shard_id: 1 }.needs_leader_facts());
}

// --- written marks -----------------------------------------------------------------------------

#[test]
fn new_shards_are_unwritten_until_marked_and_marks_are_idempotent() {
    let mut state = cluster(4, 2);
    let (group, _) = create_group(&mut state, 0);
    let ids: Vec<ShardId> = group.shards.iter().map(|s| s.id).collect();
    assert!(ids.iter().all(|&id| !state.is_written(id)));
    ok(&mut state, Command::MarkShardsWritten { shard_ids: vec![ids[0]] });
    assert!(state.is_written(ids[0]) && !state.is_written(ids[1]));
    ok(&mut state, Command::MarkShardsWritten { shard_ids: vec![ids[0], ids[0]] });
    // Unknown shards refuse the whole command: nothing is marked.
    rejected(
        &mut state,
        Command::MarkShardsWritten { shard_ids: vec![ids[1], 999] },
        ApplyError::ShardNotFound { shard_id: 999 },
    );
    assert!(!state.is_written(ids[1]));
}

#[test]
fn tracked_marks_name_only_newly_written_shards() {
    let mut state = cluster(2, 1);
    let (group, _) = create_group(&mut state, 0);
    let id = group.shards[0].id;
    let (_, changes) = state.apply_tracked(&Command::MarkShardsWritten { shard_ids: vec![id] });
    assert_eq!(changes.shards_written, vec![id]);
    let (_, again) = state.apply_tracked(&Command::MarkShardsWritten { shard_ids: vec![id] });
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn an_unwritten_shard_is_reassigned_by_metadata_alone_until_it_is_written() {
    let mut state = cluster(4, 2);
    let (group, _) = create_group(&mut state, 0);
    let shard = &group.shards[0];
    let (gone, stays) = (shard.owners[0], shard.owners[1]);
    let newcomer = (1..=4).find(|n| !shard.owners.contains(n)).expect("a non-owner");
    let reassign =
        |drop: Vec<NodeId>, add: Vec<NodeId>| Command::ReassignUnwrittenShard { shard_id: shard.id, drop, add };

    rejected(
        &mut state,
        reassign(vec![newcomer], vec![]),
        ApplyError::NotShardOwner { shard_id: shard.id, node_id: newcomer },
    );
    rejected(
        &mut state,
        reassign(vec![gone], vec![stays]),
        ApplyError::ShardOwnerExists { shard_id: shard.id, node_id: stays },
    );
    ok(&mut state, reassign(vec![gone], vec![newcomer]));
    let mut expected = vec![stays, newcomer];
    expected.sort_unstable();
    assert_eq!(state.shard(shard.id).expect("shard").shard.owners, expected);

    ok(&mut state, Command::MarkShardsWritten { shard_ids: vec![shard.id] });
    rejected(&mut state, reassign(vec![stays], vec![gone]), ApplyError::ShardWritten { shard_id: shard.id });
}

#[test]
fn forgotten_shards_leave_the_unwritten_set() {
    let mut state = cluster(2, 1);
    let (group, _) = create_group(&mut state, 0);
    let (other, _) = create_group(&mut state, H);
    ok(&mut state, Command::DropShard { shard_id: group.shards[0].id });
    ok(&mut state, Command::DropRetentionPolicy { database: "db".into(), name: "rp".into() });
    assert!(state.unwritten_shards().is_empty(), "{:?} of group {}", state.unwritten_shards(), other.id);
    state.check_invariants().expect("invariants");
}

// --- cluster identity -------------------------------------------------------------------------

const ID_A: &str = "0123456789abcdef0123456789abcdef";
const ID_B: &str = "fedcba9876543210fedcba9876543210";

#[test]
fn the_cluster_gets_its_identity_once_and_older_groups_keep_their_routing() {
    let mut state = cluster(2, 1);
    let (before, _) = create_group(&mut state, 0);
    assert_eq!(state.cluster(), None);
    assert!(!state.routes_canonically(before.id), "without an identity every group routes as written");
    let bad = |value: &str, reason: &str| ApplyError::InvalidName {
        field: "cluster_id".to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    rejected(&mut state, Command::InitCluster { id: "abc".to_owned() }, bad("abc", "must be 32 hex digits"));
    let upper = ID_A.to_uppercase();
    rejected(&mut state, Command::InitCluster { id: upper.clone() }, bad(&upper, "must be lowercase hex digits"));

    ok(&mut state, Command::InitCluster { id: ID_A.to_owned() });
    let identity = state.cluster().cloned().expect("an identity");
    assert_eq!(identity, ClusterIdentity { id: ID_A.to_owned(), canonical_routing_from: before.id + 1 });
    ok(&mut state, Command::InitCluster { id: ID_B.to_owned() });
    assert_eq!(state.cluster(), Some(&identity), "a later proposal changes nothing");
    let (after, _) = create_group(&mut state, H);
    assert!(!state.routes_canonically(before.id) && state.routes_canonically(after.id));
    let back = MetaState::decode("state", &crate::codec::encode("state", &state).expect("encodes")).expect("decodes");
    assert_eq!(back.cluster(), Some(&identity), "the identity is part of the snapshot");
}

#[test]
fn a_restore_adopts_the_backups_identity_or_keeps_older_groups_routing() {
    let mut old = cluster(2, 1);
    ok(&mut old, Command::InitCluster { id: ID_A.to_owned() });
    create_group(&mut old, 0);
    let mut fresh = MetaState::new();
    ok(&mut fresh, Command::InitCluster { id: ID_B.to_owned() });
    ok(&mut fresh, Command::restore(&old.to_record()).expect("encodes"));
    assert_eq!(fresh.cluster(), old.cluster(), "the restored data nodes' files name the backed-up cluster");

    // A backup from before identities: its groups keep routing by the key as written.
    let mut legacy = cluster(2, 1);
    let (group, _) = create_group(&mut legacy, 0);
    let mut fresh = MetaState::new();
    ok(&mut fresh, Command::InitCluster { id: ID_B.to_owned() });
    ok(&mut fresh, Command::restore(&legacy.to_record()).expect("encodes"));
    assert_eq!(fresh.cluster().map(|c| c.id.as_str()), Some(ID_B));
    assert!(!fresh.routes_canonically(group.id));
    assert!(fresh.routes_canonically(fresh.next_shard_group_id()));
}

#[test]
fn a_restore_brings_the_backups_failure_domains() {
    let mut old = labelled_cluster(&[&[("zone", "a"), ("rack", "r1")]], 1);
    ok(&mut old, Command::SetFailureDomains { levels: vec!["zone".to_owned(), "rack".to_owned()] });
    let mut restored = MetaState::new();
    ok(&mut restored, Command::restore(&old.to_record()).expect("encodes"));
    assert_eq!(restored.placement().failure_domains, ["zone", "rack"]);
}

#[test]
fn balance_settings_change_what_is_given_and_a_bad_one_changes_nothing() {
    let mut state = labelled_cluster(&[&[("zone", "a")]], 1);
    assert_eq!(state.placement().balance, BalancePolicy::default());
    let command = Command::SetBalance { enabled: Some(false), tolerance_percent: None, max_moves: Some(8) };
    let (response, changes) = state.apply_tracked(&command);
    let Ok(Response::Placement(policy)) = response else { panic!("{response:?}") };
    assert_eq!(policy.balance, BalancePolicy { enabled: false, tolerance_percent: 10, max_moves: 8 });
    assert_eq!(state.placement().balance, policy.balance);
    assert!(changes.everything, "loads are judged anew");
    let (_, changes) = state.apply_tracked(&command);
    assert!(!changes.everything, "the same settings again change nothing");
    let before = state.clone();
    for (bad, field) in [
        (
            Command::SetBalance { enabled: Some(true), tolerance_percent: Some(101), max_moves: None },
            "tolerance_percent",
        ),
        (Command::SetBalance { enabled: Some(true), tolerance_percent: None, max_moves: Some(0) }, "max_moves"),
    ] {
        assert!(matches!(state.apply(&bad), Err(ApplyError::InvalidName { field: f, .. }) if f == field));
        assert_eq!(state, before, "a refused setting changed nothing, not even the valid fields");
    }
}
