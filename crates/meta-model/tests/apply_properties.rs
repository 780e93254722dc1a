//! Property tests of `MetaState::apply` over random command sequences drawn from a small world
//! (few names, addresses and IDs) so that collisions and rejections are common.

use std::collections::{BTreeMap, BTreeSet};

use meta_model::codec;
use meta_model::{
    CancelReason, Command, CommandResult, LeaderFacts, MetaState, RetentionPolicySpec, RetentionPolicyUpdate,
    RetryPolicy, TaskKind, TaskReason, TaskSpec, TaskState, Timestamp, DAY, HOUR, MINUTE, SECOND,
};
use proptest::prelude::*;

const H: i64 = HOUR as i64;
/// Copy-task leases in generated histories: a few steps long, so some expire.
const LEASE: i64 = 2 * SECOND as i64;
const RETRY: RetryPolicy = RetryPolicy { max_failures: 2, base_backoff: SECOND as i64, max_backoff: 4 * SECOND as i64 };

fn name() -> impl Strategy<Value = String> {
    prop_oneof![5 => Just("a".to_owned()), 5 => Just("b".to_owned()), 1 => Just("".to_owned())]
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
        (prop_oneof![Just("z1"), Just("z2")], prop_oneof![Just("r1"), Just("r2")]).prop_map(|(z, r)| [
            ("zone".to_owned(), z.to_owned()),
            ("rack".to_owned(), r.to_owned())
        ]
        .into()),
    ]
}

fn duration() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => Just(0),
        1 => Just(30 * MINUTE),
        1 => Just(HOUR),
        2 => Just(2 * HOUR),
        2 => Just(DAY),
        1 => Just(7 * DAY),
    ]
}

fn group_duration() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![4 => Just(None), 1 => Just(Some(30 * MINUTE)), 3 => Just(Some(HOUR)), 1 => Just(Some(2 * HOUR))]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        10 => (-20i64..80).prop_map(|half_hours| half_hours * H / 2),
        2 => (-20i64..80).prop_map(|half_hours| half_hours * H / 2 + 1),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN + 2),
    ]
}

fn replication_factor() -> impl Strategy<Value = u32> {
    prop_oneof![1 => Just(0), 6 => Just(1), 4 => Just(2), 2 => Just(3), 1 => Just(5)]
}

fn spec() -> impl Strategy<Value = RetentionPolicySpec> {
    (rp_name(), duration(), group_duration(), replication_factor()).prop_map(
        |(name, duration, shard_group_duration, rf)| RetentionPolicySpec {
            name,
            duration,
            shard_group_duration,
            replication_factor: rf,
        },
    )
}

fn command() -> impl Strategy<Value = Command> {
    let node = 0u64..9;
    let shard = 0u64..40;
    prop_oneof![
        6 => (addr(), labels()).prop_map(|(a, labels)| Command::AddDataNode {
            tcp_addr: a.clone(),
            http_addr: a,
            labels,
        }),
        2 => (node.clone(), addr(), proptest::option::of(labels())).prop_map(|(node_id, a, labels)| {
            Command::UpdateDataNode { node_id, tcp_addr: a.clone(), http_addr: a, labels }
        }),
        2 => (proptest::option::weighted(0.3, 0u64..60), addr())
            .prop_map(|(node_id, addr)| Command::AddMetaNode { node_id, addr }),
        1 => node.clone().prop_map(|node_id| Command::RemoveMetaNode { node_id }),
        3 => (name(), proptest::option::weighted(0.8, spec())).prop_map(|(name, default_retention_policy)| {
            Command::CreateDatabase { name, default_retention_policy }
        }),
        1 => name().prop_map(|name| Command::DropDatabase { name }),
        2 => (name(), spec(), any::<bool>()).prop_map(|(database, spec, make_default)| {
            Command::CreateRetentionPolicy { database, spec, make_default }
        }),
        1 => (name(), rp_name(), proptest::option::of(duration()), group_duration(), proptest::option::of(replication_factor()))
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
        1 => (timestamp(), 0..2 * HOUR, any::<bool>()).prop_map(|(now, delay, stamped)| {
            let truncate = Command::TruncateShardGroupsAfter { delay };
            // Unstamped, it is refused: only the leader's proposer makes it applicable.
            if stamped { truncate.stamp(|| LeaderFacts { now, live_data_nodes: None }) } else { truncate }
        }),
        1 => (timestamp(), 0..2 * HOUR).prop_map(|(now, delay)| {
            Command::TruncateHotShardGroups { delay }.stamp(|| LeaderFacts { now, live_data_nodes: None })
        }),
        1 => prop_oneof![Just("0123456789abcdef0123456789abcdef"), Just("fedcba9876543210fedcba9876543210"), Just("x")]
            .prop_map(|id| Command::InitCluster { id: id.to_owned() }),
        1 => timestamp().prop_map(|now| Command::DeleteExpiredShardGroups { now }),
        1 => timestamp().prop_map(|before| Command::PruneDeletedShardGroups { before }),
        6 => (shard.clone(), node.clone()).prop_map(|(shard_id, node_id)| Command::AddShardOwner { shard_id, node_id }),
        3 => (shard.clone(), node.clone()).prop_map(|(shard_id, node_id)| Command::RemoveShardOwner { shard_id, node_id }),
        1 => shard.prop_map(|shard_id| Command::DropShard { shard_id }),
        2 => (node, labels(), proptest::collection::vec(prop_oneof![Just("zone"), Just("rack"), Just("Bad")], 0..2))
            .prop_map(|(node_id, set, delete)| Command::SetNodeLabels {
                node_id,
                set,
                delete: delete.into_iter().map(str::to_owned).collect(),
            }),
        1 => proptest::collection::vec(prop_oneof![Just("zone"), Just("rack"), Just("host"), Just("Bad")], 0..4)
            .prop_map(|levels| Command::SetFailureDomains { levels: levels.into_iter().map(str::to_owned).collect() }),
        1 => (proptest::option::of(any::<bool>()), proptest::option::of(0u32..120), proptest::option::of(0u32..6))
            .prop_map(|(enabled, tolerance_percent, max_moves)| Command::SetBalance {
                enabled,
                tolerance_percent,
                max_moves,
            }),
    ]
}

/// A step of a generated history: a literal command, or one aimed at something that exists in
/// the state at that point (resolved while the history is built, see [`concretize`]).
#[derive(Clone, Debug)]
enum Action {
    Literal(Command),
    CreateGroupIn(prop::sample::Index, Timestamp),
    AddOwner(prop::sample::Index, prop::sample::Index),
    RemoveOwner(prop::sample::Index, prop::sample::Index),
    DropShard(prop::sample::Index),
    RemoveDataNode(prop::sample::Index, bool),
    RemoveMetaNode(prop::sample::Index),
    DropPolicy(prop::sample::Index),
    AlterPolicy(prop::sample::Index, RetentionPolicyUpdate),
    CreateTask { shard: prop::sample::Index, target: prop::sample::Index, replace: bool, reason: TaskReason },
    ClaimTasks(prop::sample::Index, u32),
    RenewLease(prop::sample::Index),
    CompleteTask(prop::sample::Index, bool),
    FailTask(prop::sample::Index),
    CancelTask(prop::sample::Index, CancelReason),
    ExpireLeases,
    RetryRepair(prop::sample::Index),
    MarkWritten(prop::sample::Index),
    Reassign { shard: prop::sample::Index, owner: prop::sample::Index, target: prop::sample::Index },
}

fn task_reason() -> impl Strategy<Value = TaskReason> {
    prop_oneof![
        3 => Just(TaskReason::UnderReplicated),
        1 => Just(TaskReason::MissingOnOwner),
        1 => Just(TaskReason::DeadOwner),
        1 => Just(TaskReason::DrainingOwner),
        1 => Just(TaskReason::Operator),
        2 => Just(TaskReason::Inconsistent),
        2 => Just(TaskReason::Rebalance),
    ]
}

fn cancel_reason() -> impl Strategy<Value = CancelReason> {
    prop_oneof![Just(CancelReason::Operator), Just(CancelReason::NotNeeded), Just(CancelReason::TargetGone)]
}

fn policy_update() -> impl Strategy<Value = RetentionPolicyUpdate> {
    (proptest::option::of(duration()), group_duration(), proptest::option::of(replication_factor()), any::<bool>())
        .prop_map(|(duration, shard_group_duration, replication_factor, make_default)| RetentionPolicyUpdate {
            duration,
            shard_group_duration,
            replication_factor,
            make_default,
        })
}

fn action() -> impl Strategy<Value = Action> {
    let pick = any::<prop::sample::Index>;
    prop_oneof![
        10 => command().prop_map(Action::Literal),
        6 => (pick(), timestamp()).prop_map(|(p, t)| Action::CreateGroupIn(p, t)),
        2 => (pick(), pick()).prop_map(|(s, n)| Action::AddOwner(s, n)),
        2 => (pick(), pick()).prop_map(|(s, n)| Action::RemoveOwner(s, n)),
        1 => pick().prop_map(Action::DropShard),
        1 => (pick(), any::<bool>()).prop_map(|(n, force)| Action::RemoveDataNode(n, force)),
        3 => pick().prop_map(Action::RemoveMetaNode),
        1 => pick().prop_map(Action::DropPolicy),
        1 => (pick(), policy_update()).prop_map(|(p, update)| Action::AlterPolicy(p, update)),
        4 => (pick(), pick(), any::<bool>(), task_reason())
            .prop_map(|(shard, target, replace, reason)| Action::CreateTask { shard, target, replace, reason }),
        5 => (pick(), 0u32..4).prop_map(|(node, max)| Action::ClaimTasks(node, max)),
        4 => pick().prop_map(Action::RenewLease),
        4 => (pick(), prop::bool::weighted(0.85)).prop_map(|(task, current)| Action::CompleteTask(task, current)),
        3 => pick().prop_map(Action::FailTask),
        2 => (pick(), cancel_reason()).prop_map(|(task, reason)| Action::CancelTask(task, reason)),
        5 => Just(Action::ExpireLeases),
        5 => pick().prop_map(Action::RetryRepair),
        3 => pick().prop_map(Action::MarkWritten),
        3 => (pick(), pick(), pick()).prop_map(|(shard, owner, target)| Action::Reassign { shard, owner, target }),
    ]
}

fn chosen<T: Clone>(items: &[T], index: &prop::sample::Index) -> Option<T> {
    (!items.is_empty()).then(|| items[index.index(items.len())].clone())
}

/// Every history starts from a small working cluster (three data nodes, a meta node, database `a` with policy
/// `x` at RF 2) so that most generated steps have something to act on; the empty-cluster paths
/// are covered by the table tests.
fn prelude() -> Vec<Command> {
    let mut commands: Vec<Command> = (1..=3)
        .map(|i| Command::AddDataNode {
            tcp_addr: format!("host-{i}:8088"),
            http_addr: format!("host-{i}:8088"),
            labels: BTreeMap::new(),
        })
        .collect();
    commands.push(Command::AddMetaNode { node_id: None, addr: "meta-1:8091".to_owned() });
    commands.push(Command::CreateDatabase {
        name: "a".to_owned(),
        default_retention_policy: Some(RetentionPolicySpec {
            name: "x".to_owned(),
            duration: 0,
            shard_group_duration: Some(HOUR),
            replication_factor: 2,
        }),
    });
    commands
}

/// Turns actions into concrete commands after the [`prelude`], resolving each aimed action
/// against the state the commands before it produce (falling back to a literal that will be
/// rejected when nothing fits).
fn concretize(actions: Vec<Action>) -> Vec<Command> {
    let mut state = MetaState::new();
    let mut commands = prelude();
    for command in &commands {
        let _ = state.apply(command);
    }
    for (step, action) in actions.into_iter().enumerate() {
        // The proposer's clock: one second a step.
        let now = step as Timestamp * SECOND as Timestamp;
        let open: Vec<(u64, u32)> = state.open_tasks().map(|t| (t.id, t.attempt)).collect();
        let claimed: Vec<(u64, u32)> =
            state.open_tasks().filter(|t| t.state == TaskState::Claimed).map(|t| (t.id, t.attempt)).collect();
        let shards: Vec<u64> = ids(&state)[2].iter().copied().collect();
        let data_nodes: Vec<u64> = state.data_nodes().keys().copied().collect();
        let policies: Vec<(String, String)> = state
            .databases()
            .values()
            .flat_map(|d| d.retention_policies.keys().map(|rp| (d.name.clone(), rp.clone())))
            .collect();
        let command = match action {
            Action::Literal(command) => command,
            Action::CreateGroupIn(pick, timestamp) => {
                let (database, retention_policy) = chosen(&policies, &pick).unwrap_or_default();
                Command::CreateShardGroup { database, retention_policy, timestamp }
            }
            Action::AlterPolicy(pick, update) => {
                let (database, name) = chosen(&policies, &pick).unwrap_or_default();
                Command::AlterRetentionPolicy { database, name, update }
            }
            Action::DropPolicy(pick) => {
                let (database, name) = chosen(&policies, &pick).unwrap_or_default();
                Command::DropRetentionPolicy { database, name }
            }
            Action::AddOwner(shard, node) => Command::AddShardOwner {
                shard_id: chosen(&shards, &shard).unwrap_or(0),
                node_id: chosen(&data_nodes, &node).unwrap_or(0),
            },
            Action::RemoveOwner(shard, owner) => {
                let shard_id = chosen(&shards, &shard).unwrap_or(0);
                let owners = state.shard(shard_id).map(|v| v.shard.owners.clone()).unwrap_or_default();
                Command::RemoveShardOwner { shard_id, node_id: chosen(&owners, &owner).unwrap_or(0) }
            }
            Action::DropShard(shard) => Command::DropShard { shard_id: chosen(&shards, &shard).unwrap_or(0) },
            Action::RemoveDataNode(node, force) => {
                Command::RemoveDataNode { node_id: chosen(&data_nodes, &node).unwrap_or(0), force }
            }
            Action::RemoveMetaNode(node) => {
                let meta: Vec<u64> = state.meta_nodes().keys().copied().collect();
                Command::RemoveMetaNode { node_id: chosen(&meta, &node).unwrap_or(0) }
            }
            Action::CreateTask { shard, target, replace, reason } => {
                let shard_id = chosen(&shards, &shard).unwrap_or(0);
                let owners = state.shard(shard_id).map(|v| v.shard.owners.clone()).unwrap_or_default();
                // A repair is between owners; the target of a copy is any node; a move replaces
                // its source (when asked to replace, else it is refused).
                let repair = reason == TaskReason::Inconsistent;
                let moving = reason == TaskReason::Rebalance;
                let target = if repair { chosen(&owners, &target) } else { chosen(&data_nodes, &target) }.unwrap_or(0);
                let source = owners.iter().copied().find(|&o| o != target).unwrap_or(0);
                let replaces = match moving {
                    true => replace.then_some(source),
                    false => replace.then(|| owners.iter().copied().find(|&o| o != target && o != source)).flatten(),
                };
                let spec = TaskSpec { shard_id, source, target, replaces, priority: owners.len() as u32, reason };
                if repair {
                    Command::CreateRepairTasks { now, tasks: vec![spec] }
                } else if moving {
                    Command::CreateMoveTasks { now, tasks: vec![spec] }
                } else {
                    Command::CreateCopyTasks { now, tasks: vec![spec] }
                }
            }
            Action::ClaimTasks(node, max) => {
                let targets: Vec<u64> = state.open_tasks().map(|t| t.spec.target).collect();
                let node_id = chosen(&targets, &node).or_else(|| chosen(&data_nodes, &node)).unwrap_or(0);
                // Half the claims come from nodes that run repairs too.
                if max % 2 == 0 {
                    Command::ClaimCopyTasks { now, node_id, max, lease: LEASE }
                } else {
                    let kinds = vec![TaskKind::Copy, TaskKind::Repair, TaskKind::Move];
                    Command::ClaimTasks { now, node_id, kinds, max, lease: LEASE }
                }
            }
            Action::RenewLease(task) => {
                let (task_id, attempt) = chosen(&claimed, &task).unwrap_or((0, 0));
                Command::RenewCopyTaskLease { now, task_id, attempt, lease: LEASE }
            }
            Action::CompleteTask(task, current) => {
                let (task_id, attempt) = chosen(&claimed, &task).or_else(|| chosen(&open, &task)).unwrap_or((0, 0));
                let attempt = if current { attempt } else { attempt.saturating_sub(1) };
                Command::CompleteCopyTask { now, task_id, attempt }
            }
            Action::FailTask(task) => {
                let (task_id, attempt) = chosen(&claimed, &task).unwrap_or((0, 0));
                Command::FailCopyTask { now, task_id, attempt, error: "copy failed".to_owned(), retry: RETRY }
            }
            Action::CancelTask(task, reason) => {
                let (task_id, _) = chosen(&open, &task).unwrap_or((0, 0));
                Command::CancelCopyTask { now, task_id, reason }
            }
            Action::ExpireLeases => Command::ExpireCopyTaskLeases { now },
            Action::RetryRepair(shard) => {
                let blocked: Vec<u64> =
                    state.tasks().values().filter(|t| t.blocks_replanning()).map(|t| t.spec.shard_id).collect();
                let shard_id = chosen(&blocked, &shard).or_else(|| chosen(&shards, &shard)).unwrap_or(0);
                Command::RetryShardRepair { now, shard_id }
            }
            Action::MarkWritten(shard) => {
                // Mostly shards still unwritten, so marks do something; sometimes any shard.
                let unwritten: Vec<u64> = state.unwritten_shards().iter().copied().collect();
                let shard_id = chosen(&unwritten, &shard).or_else(|| chosen(&shards, &shard)).unwrap_or(0);
                Command::MarkShardsWritten { shard_ids: vec![shard_id] }
            }
            Action::Reassign { shard, owner, target } => {
                let unwritten: Vec<u64> = state.unwritten_shards().iter().copied().collect();
                let shard_id = chosen(&unwritten, &shard).or_else(|| chosen(&shards, &shard)).unwrap_or(0);
                let owners = state.shard(shard_id).map(|v| v.shard.owners.clone()).unwrap_or_default();
                let others: Vec<u64> = data_nodes.iter().copied().filter(|n| !owners.contains(n)).collect();
                Command::ReassignUnwrittenShard {
                    shard_id,
                    drop: chosen(&owners, &owner).into_iter().collect(),
                    add: chosen(&others, &target).into_iter().collect(),
                }
            }
        };
        let _ = state.apply(&command);
        commands.push(command);
    }
    commands
}

fn commands() -> impl Strategy<Value = Vec<Command>> {
    proptest::collection::vec(action(), 1..150).prop_map(concretize)
}

fn encode(state: &MetaState) -> Vec<u8> {
    codec::encode("state", state).expect("a state always encodes")
}

fn run(state: &mut MetaState, commands: &[Command]) -> Vec<CommandResult> {
    commands.iter().map(|c| state.apply(c)).collect()
}

/// What the planner looks at per shard: owners, replication factor, whether its group is deleted.
fn shard_facts(state: &MetaState) -> BTreeMap<u64, (Vec<u64>, u32, bool)> {
    let mut facts = BTreeMap::new();
    for policy in state.databases().values().flat_map(|d| d.retention_policies.values()) {
        for group in policy.shard_groups.values() {
            for shard in &group.shards {
                facts.insert(shard.id, (shard.owners.clone(), policy.replication_factor, group.is_deleted()));
            }
        }
    }
    facts
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
        let mut restored = MetaState::decode("state", &snapshot).expect("snapshot decodes");
        prop_assert_eq!(&restored, &before);
        prop_assert_eq!(encode(&restored), snapshot);
        let rest = run(&mut restored, &commands[cut..]);
        prop_assert_eq!(&rest[..], &full_results[cut..]);
        prop_assert_eq!(&restored, &full);
    }

    /// A `Command::Batch` of consecutive commands answers and changes the state exactly as its
    /// commands applied one at a time do (the leader batches concurrent writes into one entry).
    #[test]
    fn a_batch_applies_like_its_commands_one_at_a_time(
        commands in commands(),
        sizes in proptest::collection::vec(1usize..8, 1..20),
    ) {
        let mut single = MetaState::new();
        let expected = run(&mut single, &commands);
        let mut batched = MetaState::new();
        let mut answers = Vec::new();
        let mut rest = &commands[..];
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (batch, tail) = rest.split_at((*size).min(rest.len()));
            match batched.apply(&Command::Batch(batch.to_vec())) {
                Ok(meta_model::Response::Batch(results)) => answers.extend(results),
                other => prop_assert!(false, "a batch answered {:?}", other),
            }
            rest = tail;
        }
        prop_assert_eq!(answers, expected);
        prop_assert_eq!(encode(&batched), encode(&single));
        prop_assert!(batched.check_invariants().is_ok());
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
            // The time index finds what a walk over every group finds.
            for (db, database) in state.databases() {
                for (rp, policy) in &database.retention_policies {
                    for group in policy.shard_groups.values() {
                        let end = group.effective_end();
                        for t in [group.start.saturating_sub(1), group.start, end.saturating_sub(1), end, group.end] {
                            let walked = policy.live_groups().find(|g| g.contains(t)).map(|g| g.id);
                            let indexed = state.live_group_containing(db, rp, t).map(|g| g.id);
                            prop_assert_eq!(indexed, walked, "group at {} of {}/{} after {:?}", t, db, rp, command);
                        }
                    }
                }
            }
            prop_assert!(state.next_node_id() >= before.next_node_id());
            prop_assert!(state.next_shard_group_id() >= before.next_shard_group_id());
            prop_assert!(state.next_shard_id() >= before.next_shard_id());
            prop_assert!(state.next_task_id() >= before.next_task_id());
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `apply_tracked` names everything a command changed that services act on: every shard whose
    /// owners, replication factor or existence changed, every data node whose record changed,
    /// every task that became claimable or finished; and it changes the state exactly as `apply`.
    #[test]
    fn tracked_changes_cover_everything_that_changed(commands in commands()) {
        let mut state = MetaState::new();
        let mut untracked = MetaState::new();
        for command in &commands {
            let before = state.clone();
            let (result, changes) = state.apply_tracked(command);
            prop_assert_eq!(&result, &untracked.apply(command));
            prop_assert_eq!(encode(&state), encode(&untracked));
            if result.is_err() {
                prop_assert!(changes.is_empty(), "rejected {:?} touched {:?}", command, changes);
                continue;
            }
            if changes.everything {
                continue;
            }
            let (old, new) = (shard_facts(&before), shard_facts(&state));
            for id in old.keys().chain(new.keys()) {
                if old.get(id) != new.get(id) {
                    prop_assert!(changes.shards.contains(id), "{:?} changed shard {} untracked", command, id);
                }
            }
            for id in before.data_nodes().keys().chain(state.data_nodes().keys()) {
                if before.data_node(*id) != state.data_node(*id) {
                    prop_assert!(changes.data_nodes.contains(id), "{:?} changed node {} untracked", command, id);
                }
            }
            for task in state.tasks().values() {
                let was = before.copy_task(task.id);
                let offered = task.state == TaskState::Pending && was.is_none_or(|t| t.state != TaskState::Pending);
                prop_assert!(!offered || changes.tasks_offered, "{:?} offered task {} untracked", command, task.id);
                let finished = !task.state.is_open() && was.is_some_and(|t| t.state.is_open());
                prop_assert!(!finished || changes.tasks_finished, "{:?} finished task {} untracked", command, task.id);
                // A completed copy is a new copy on its target; a completed repair adds none.
                let copied = task.kind == TaskKind::Copy && task.state == TaskState::Done;
                if copied && was.is_some_and(|t| t.state != TaskState::Done) {
                    prop_assert!(changes.copies_completed.contains(&(task.spec.shard_id, task.spec.target)));
                }
            }
        }
    }
}

/// The generator must reach every command's success path, or the properties above would hold
/// vacuously: tally the accepted commands of 300 generated sequences by kind.
#[test]
fn generated_sequences_exercise_every_command() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut accepted: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut created_groups = 0;
    for _ in 0..300 {
        let commands = commands().new_tree(&mut runner).expect("generate").current();
        let mut state = MetaState::new();
        for command in &commands {
            if let Ok(response) = state.apply(command) {
                // Task commands that touched nothing (no task created, claimed, expired or
                // superseded) do not count as reaching their success path.
                let touched_nothing = matches!(
                    &response,
                    meta_model::Response::Tasks(tasks) if tasks.is_empty()
                ) || matches!(
                    &response,
                    meta_model::Response::CopyTasksCreated { created, .. } if created.is_empty()
                );
                if !touched_nothing {
                    *accepted.entry(command.name()).or_default() += 1;
                }
                if matches!(response, meta_model::Response::ShardGroup { created: true, .. }) {
                    created_groups += 1;
                }
            }
        }
    }
    let all = [
        "add_data_node",
        "update_data_node",
        "remove_data_node",
        "add_meta_node",
        "remove_meta_node",
        "create_database",
        "drop_database",
        "create_retention_policy",
        "alter_retention_policy",
        "drop_retention_policy",
        "create_shard_group",
        "precreate_shard_groups",
        "truncate_shard_groups",
        "stamped",
        "delete_expired_shard_groups",
        "prune_deleted_shard_groups",
        "add_shard_owner",
        "remove_shard_owner",
        "drop_shard",
        "create_copy_tasks",
        "claim_copy_tasks",
        "renew_copy_task_lease",
        "complete_copy_task",
        "fail_copy_task",
        "expire_copy_task_leases",
        "cancel_copy_task",
        "retry_shard_repair",
        "mark_shards_written",
        "reassign_unwritten_shard",
        "init_cluster",
        "create_repair_tasks",
        "claim_tasks",
        "set_balance",
        "create_move_tasks",
    ];
    let rare: Vec<_> = all.iter().filter(|name| accepted.get(*name).copied().unwrap_or(0) < 10).collect();
    assert!(rare.is_empty(), "accepted fewer than 10 times: {rare:?}; accepted: {accepted:?}");
    assert!(created_groups >= 500, "only {created_groups} shard groups created: {accepted:?}");
}
