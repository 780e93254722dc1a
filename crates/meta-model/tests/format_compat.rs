//! Records written by format 2 (before tasks had kinds), format 3 (before clusters had an
//! identity), format 4 (before the placement policy), format 5 (before the balance policy) and
//! format 6 (before restores in parts) read back by this build: a snapshot, the
//! restore and create-task log entries, and the JSON metadata of a backup body. The fixtures under
//! `tests/fixtures/` were written by the format-2 build from exactly the commands [`history`]
//! lists; this build applies the same commands and must read the old bytes as the same state.

use std::collections::BTreeMap;

use meta_model::{
    codec, BalancePolicy, CancelReason, Command, LeaderFacts, MetaState, MetadataRecord, Response, RetentionPolicySpec,
    Task, TaskKind, TaskReason, TaskSpec, TaskState, HOUR,
};

const T0: i64 = 1_704_067_200_000_000_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn apply(state: &mut MetaState, command: Command) -> Response {
    let command = command.stamp(|| LeaderFacts { now: T0, live_data_nodes: None });
    state.apply(&command).expect("the history applies")
}

/// 4 data nodes in two zones, RF 2, three hourly groups.
fn setup() -> Vec<Command> {
    let mut commands: Vec<Command> = (1..=4)
        .map(|i| Command::AddDataNode {
            tcp_addr: format!("data-{i}:8088"),
            http_addr: format!("data-{i}:8086"),
            labels: BTreeMap::from([("zone".to_owned(), format!("z{}", i % 2))]),
        })
        .collect();
    let policy = RetentionPolicySpec {
        name: "rp".to_owned(),
        duration: 0,
        shard_group_duration: Some(HOUR),
        replication_factor: 2,
    };
    commands.push(Command::CreateDatabase { name: "db".to_owned(), default_retention_policy: Some(policy) });
    for hour in 0..3 {
        let timestamp = T0 + hour * HOUR as i64;
        commands.push(Command::CreateShardGroup {
            database: "db".to_owned(),
            retention_policy: "rp".to_owned(),
            timestamp,
        });
    }
    commands
}

/// Copies of the first four shards to a non-owner (every other one replacing an owner).
fn create_tasks(state: &MetaState) -> Command {
    let groups = &state.databases()["db"].retention_policies["rp"].shard_groups;
    let shards = groups.values().flat_map(|g| g.shards.iter());
    let tasks = shards
        .take(4)
        .enumerate()
        .map(|(i, shard)| {
            let target = (1..=4).find(|n| !shard.owners.contains(n)).expect("a node that is no owner");
            TaskSpec {
                shard_id: shard.id,
                source: shard.owners[0],
                target,
                replaces: (i % 2 == 0).then_some(shard.owners[1]),
                priority: i as u32,
                reason: if i % 2 == 0 { TaskReason::DeadOwner } else { TaskReason::UnderReplicated },
            }
        })
        .collect();
    Command::CreateCopyTasks { now: T0 + 10, tasks }
}

/// The state the fixtures hold: tasks done, claimed, pending and cancelled. Format 2 did not
/// know which shards were ever written: read by this build, every one of its shards counts as
/// written (the safe side), so the history marks them all. Nor did it balance: an upgraded
/// cluster balances once enabled, so the history disables it.
fn history() -> (MetaState, Command) {
    let mut state = MetaState::new();
    for command in setup() {
        apply(&mut state, command);
    }
    apply(&mut state, Command::SetBalance { enabled: Some(false), tolerance_percent: None, max_moves: None });
    let all: Vec<_> = state.unwritten_shards().iter().copied().collect();
    assert_eq!(all.len(), 6, "new shards start unwritten");
    apply(&mut state, Command::MarkShardsWritten { shard_ids: all });
    let create = create_tasks(&state);
    let Response::CopyTasksCreated { created, .. } = apply(&mut state, create.clone()) else {
        panic!("tasks not created")
    };
    let target = created[0].spec.target;
    apply(&mut state, Command::ClaimCopyTasks { now: T0 + 20, node_id: target, max: 4, lease: 1_000_000_000 });
    apply(&mut state, Command::CompleteCopyTask { now: T0 + 30, task_id: created[0].id, attempt: 1 });
    let cancel = Command::CancelCopyTask { now: T0 + 40, task_id: created[3].id, reason: CancelReason::Operator };
    apply(&mut state, cancel);
    (state, create)
}

fn states(state: &MetaState) -> Vec<(TaskKind, TaskState)> {
    state.tasks().values().map(|t: &Task| (t.kind, t.state)).collect()
}

#[test]
fn a_format_2_snapshot_reads_as_the_same_state_its_tasks_copies() {
    let (expected, _) = history();
    let old = fixture("state-v2.bin");
    assert_eq!(old[..2], 2u16.to_le_bytes(), "the fixture is of format 2");
    let read = MetaState::decode("snapshot", &old).expect("a format-2 snapshot reads");
    assert_eq!(read, expected);
    assert!(read.unwritten_shards().is_empty() && read.is_written(1));
    assert_eq!(
        states(&read),
        [
            (TaskKind::Copy, TaskState::Done),
            (TaskKind::Copy, TaskState::Pending),
            (TaskKind::Copy, TaskState::Claimed),
            (TaskKind::Copy, TaskState::Cancelled)
        ]
    );
    // Written again, it is of the current format and reads back the same.
    let new = codec::encode("snapshot", &read).expect("encodes");
    assert_eq!(new[..2], codec::FORMAT_VERSION.to_le_bytes());
    assert_eq!(MetaState::decode("snapshot", &new).expect("reads"), expected);
}

#[test]
fn format_2_log_entries_read_and_apply_as_they_did() {
    let (expected, create) = history();
    let old_create: Command = codec::decode("log entry", &fixture("create-copy-tasks-v2.bin")).expect("reads");
    assert_eq!(old_create, create, "the command set kept its shape");

    let old_restore: Command = codec::decode("log entry", &fixture("restore-v2.bin")).expect("reads");
    assert!(matches!(old_restore, Command::RestoreMetadataV2 { .. }), "{old_restore:?}");
    let mut fresh = MetaState::new();
    apply(&mut fresh, Command::AddMetaNode { node_id: Some(100), addr: "meta-1:8091".to_owned() });
    assert_eq!(apply(&mut fresh, old_restore), Response::Done);
    assert_eq!(fresh.databases(), expected.databases());
    assert_eq!(fresh.data_nodes(), expected.data_nodes());
    assert!(fresh.tasks().is_empty(), "tasks are never restored");
}

#[test]
fn the_restore_command_carries_a_record_of_any_readable_format() {
    let (expected, _) = history();
    let mut current = MetaState::new();
    apply(&mut current, Command::restore(&expected.to_record()).expect("encodes"));
    assert_eq!(current.databases(), expected.databases());

    // A restore entry whose record is of format 2 (a backup encoded by an older client).
    let mut older = MetaState::new();
    apply(&mut older, Command::RestoreMetadata { record: fixture("state-v2.bin") });
    assert_eq!(older.data_nodes(), expected.data_nodes());

    let mut refused = MetaState::new();
    let garbage = Command::RestoreMetadata { record: vec![3, 0, 1, 2] };
    assert!(refused.apply(&garbage).is_err(), "a record that does not decode is refused");
    assert_eq!(refused, MetaState::new());
}

#[test]
fn a_backup_body_written_before_kinds_reads_with_copy_tasks() {
    let (expected, _) = history();
    let json = fixture("state-v2.json");
    let text = std::str::from_utf8(&json).expect("JSON is UTF-8");
    assert!(!text.contains("\"kind\""), "the fixture predates task kinds");
    let record: MetadataRecord = serde_json::from_slice(&json).expect("the old JSON reads");
    let read = MetaState::from(record);
    assert_eq!(read, expected);
    let again = serde_json::to_value(&read).expect("serializes");
    assert_eq!(again["copy_tasks"]["1"]["kind"], "copy", "{again}");
}

/// The snapshot fixture `name`, of format `version`: read, then written in the current format
/// and read back the same; and a state restored from it by the restore command.
fn read_old_snapshot(name: &str, version: u16) -> (MetaState, MetaState) {
    let old = fixture(name);
    assert_eq!(old[..2], version.to_le_bytes(), "the fixture is of format {version}");
    let read = MetaState::decode("snapshot", &old).expect("an older snapshot reads");
    let new = codec::encode("snapshot", &read).expect("encodes");
    assert_eq!(new[..2], codec::FORMAT_VERSION.to_le_bytes());
    assert_eq!(MetaState::decode("snapshot", &new).expect("reads"), read);
    let mut restored = MetaState::new();
    apply(&mut restored, Command::RestoreMetadata { record: old });
    (read, restored)
}

/// Written by the format-3 build: 3 data nodes, RF 1, two hourly groups (6 shards), shards 1
/// and 2 marked written.
#[test]
fn a_format_3_snapshot_reads_with_its_marks_and_no_identity() {
    let (read, restored) = read_old_snapshot("state-v3.bin", 3);
    assert_eq!(read.data_nodes().len(), 3);
    assert_eq!(read.shard_count(), 6);
    assert_eq!(read.unwritten_shards().iter().copied().collect::<Vec<_>>(), [3, 4, 5, 6]);
    assert_eq!(read.cluster(), None, "format 3 knew no identity");
    assert!(!read.routes_canonically(1) && !read.routes_canonically(2));
    assert_eq!(restored.unwritten_shards(), read.unwritten_shards());
}

/// Written by the format-4 build: 4 data nodes labelled `zone` (z1, z0, z1, z0) and `rack`
/// (r1..r4), the cluster's identity, RF 2, one hourly group (shards 1 and 2).
#[test]
fn a_format_4_snapshot_reads_with_the_default_placement_spreading_by_zone() {
    let (read, restored) = read_old_snapshot("state-v4.bin", 4);
    assert_eq!((read.data_nodes().len(), read.shard_count()), (4, 2));
    assert_eq!(read.cluster().map(|c| c.id.as_str()), Some("0123456789abcdef0123456789abcdef"));
    assert_eq!(read.placement().failure_domains, ["zone"], "format 4 spread owners by zone");
    assert_eq!(read.placement().balance, BalancePolicy::upgraded());
    assert_eq!(restored.placement(), read.placement());
}

/// Written by the format-5 build: 4 data nodes labelled `zone` (z1, z0, z1, z0) and `rack`
/// (r1..r4), the hierarchy `zone > rack`, RF 2, one hourly group (shards 1 and 2).
#[test]
fn a_format_5_snapshot_reads_with_its_hierarchy_and_balancing_off() {
    let (read, restored) = read_old_snapshot("state-v5.bin", 5);
    assert_eq!((read.data_nodes().len(), read.shard_count()), (4, 2));
    assert_eq!(read.placement().failure_domains, ["zone", "rack"]);
    assert_eq!(read.placement().balance, BalancePolicy::upgraded(), "off until enabled");
    assert!(!read.placement().balance.enabled);
    assert_eq!(restored.placement(), read.placement());
}

/// Written by the format-6 build: 4 data nodes labelled `zone` (z1, z0, z1, z0) and `rack`
/// (r1..r4), the hierarchy `zone > rack`, balancing on with tolerance 15% and 3 moves, RF 2, one
/// hourly group (shards 1 and 2).
#[test]
fn a_format_6_snapshot_reads_with_its_balance_policy_and_nothing_staged() {
    let (read, restored) = read_old_snapshot("state-v6.bin", 6);
    assert_eq!((read.data_nodes().len(), read.shard_count()), (4, 2));
    assert_eq!(read.placement().failure_domains, ["zone", "rack"]);
    assert_eq!(read.placement().balance, BalancePolicy { enabled: true, tolerance_percent: 15, max_moves: 3 });
    assert_eq!(read.staged_restore(), None, "format 6 knew no restore in parts");
    assert_eq!(restored.placement(), read.placement());
}
