//! Planner cost on a large cluster: 1,000,000 shards (RF 2 or 3) on 1,000 nodes, every node
//! reporting its inventory. Full plans of a healthy cluster and of one with a dead node, and the
//! incremental plan over the dead node's shards only; then with content digests: every cold copy
//! carrying its content root, all equal; with balancing on, loads judged, and with ten empty
//! nodes joined, moves planned; and with 1,000 shards whose copies differ (repairs).
//!
//! Run with `cargo bench -p ae-planner --bench plan`.

use std::collections::BTreeMap;
use std::hint::black_box;

use ae_planner::{
    plan, Balance, BalanceStatus, Inventory, Limits, Liveness, Membership, NodeId, NodeView, PlanInput, Scope,
    ShardCopy, ShardId, ShardView,
};
use criterion::{criterion_group, criterion_main, Criterion};

const SHARDS: u64 = 1_000_000;
const NODES: u64 = 1_000;
const DEAD: NodeId = 7;

/// A deterministic, well-spread pseudo-random number for `x` (splitmix64).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A healthy cluster: owners drawn pseudo-randomly from distinct zones (node ID modulo 3), every
/// owner holding its shards; with
/// `digests`, every cold copy reports its content root (the same on every owner).
fn cluster(digests: bool) -> PlanInput {
    let mut inventories: BTreeMap<NodeId, Inventory> = (1..=NODES).map(|id| (id, Inventory::default())).collect();
    let shards: Vec<ShardView> = (1..=SHARDS)
        .map(|id| {
            let replication = 2 + (mix(id) % 2) as u32;
            let mut owners: Vec<NodeId> = Vec::with_capacity(replication as usize);
            let mut salt = 0;
            while owners.len() < replication as usize {
                let owner = 1 + mix(id * 8 + salt) % NODES;
                salt += 1;
                // Spread over the three zones, as placement does (RF ≤ 3).
                if !owners.iter().any(|o| o % 3 == owner % 3) {
                    owners.push(owner);
                }
            }
            for &owner in &owners {
                let hot = id > SHARDS - 1000;
                let content = (digests && !hot).then(|| mix(id));
                let copy = ShardCopy { size: 1 << 20, checksum: mix(id), hot, content, points: 1000 };
                inventories.get_mut(&owner).map(|inv| inv.shards.insert(id, copy));
            }
            ShardView { id, replication, owners: owners.into(), written: true }
        })
        .collect();
    let nodes = (1..=NODES)
        .map(|id| NodeView {
            id,
            membership: Membership::Active,
            liveness: Liveness::Online,
            domain: vec![format!("zone-{}", id % 3)],
            owned: 0,
        })
        .collect();
    let mut input = PlanInput {
        shards,
        nodes,
        inventories,
        tasks: Vec::new(),
        unreported: Default::default(),
        owned_bytes: Default::default(),
    };
    input.count_owned();
    input
}

fn bench(c: &mut Criterion) {
    let mut input = cluster(false);
    let limits = Limits::default();
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.bench_function("full_1m_shards_healthy", |b| b.iter(|| plan(black_box(&input), &limits, Scope::All)));

    // As the metadata lists them: by database, retention policy and group, so shard IDs ascend
    // within each of ten runs, not overall.
    let mut by_database = input.clone();
    by_database.shards.sort_by_key(|s| (mix(s.id / 100) % 10, s.id));
    assert_eq!(plan(&by_database, &limits, Scope::All), plan(&input, &limits, Scope::All));
    group.bench_function("full_1m_shards_healthy_database_order", |b| {
        b.iter(|| plan(black_box(&by_database), &limits, Scope::All))
    });
    drop(by_database);

    for node in input.nodes.iter_mut().filter(|n| n.id == DEAD) {
        node.liveness = Liveness::Dead;
    }
    let dead_shards: Vec<ShardId> = input.shards.iter().filter(|s| s.owners.contains(&DEAD)).map(|s| s.id).collect();
    let full = plan(&input, &limits, Scope::All);
    let incremental = plan(&input, &limits, Scope::Shards(&dead_shards));
    assert_eq!(full, incremental, "the dead node's shards are all that changed");
    assert_eq!(full.report.under_replicated.len(), dead_shards.len());
    eprintln!(
        "dead node {DEAD}: {} shards, {} tasks planned (limits {limits:?})",
        dead_shards.len(),
        full.create.len()
    );
    group.bench_function("full_1m_shards_one_dead", |b| b.iter(|| plan(black_box(&input), &limits, Scope::All)));
    group.bench_function("incremental_dead_node_shards", |b| {
        b.iter(|| plan(black_box(&input), &limits, Scope::Shards(black_box(&dead_shards))))
    });
    // What the leader's service hands a scoped round: the shards in scope (and of tasks) only.
    let scoped_input = PlanInput {
        shards: input.shards.iter().filter(|s| s.owners.contains(&DEAD)).cloned().collect(),
        ..input.clone()
    };
    assert_eq!(plan(&scoped_input, &limits, Scope::Shards(&dead_shards)), full);
    group.bench_function("incremental_dead_node_shards_scoped_input", |b| {
        b.iter(|| plan(black_box(&scoped_input), &limits, Scope::Shards(black_box(&dead_shards))))
    });
    drop((input, scoped_input));

    let mut cold = cluster(true);
    let quiet = plan(&cold, &limits, Scope::All);
    assert!(quiet.create.is_empty() && quiet.report.inconsistent.is_empty());
    group.bench_function("full_1m_shards_cold_digests", |b| b.iter(|| plan(black_box(&cold), &limits, Scope::All)));

    // Balancing on: a cluster within the tolerance (loads judged, nothing moves), then the same
    // with ten empty nodes joined (moves planned, up to max-moves).
    let balancing = Limits { balance: Some(Balance { tolerance_percent: 10, max_moves: 16 }), ..limits };
    let still = plan(&cold, &balancing, Scope::All);
    assert_eq!(still.balance.as_ref().map(|b| b.status), Some(BalanceStatus::Balanced), "{:?}", still.balance);
    group.bench_function("full_1m_shards_balance_checked", |b| {
        b.iter(|| plan(black_box(&cold), &balancing, Scope::All))
    });
    let mut grown = cold.clone();
    for id in NODES + 1..=NODES + 10 {
        let domain = vec![format!("zone-{}", id % 3)];
        grown.nodes.push(NodeView { id, membership: Membership::Active, liveness: Liveness::Online, domain, owned: 0 });
        grown.inventories.insert(id, Inventory::default());
    }
    let moves = plan(&grown, &balancing, Scope::All);
    assert_eq!(moves.create.len(), 16, "max-moves moves planned");
    eprintln!("10 empty nodes joined: {} moves planned", moves.create.len());
    group.bench_function("full_1m_shards_10_new_nodes_balancing", |b| {
        b.iter(|| plan(black_box(&grown), &balancing, Scope::All))
    });
    drop(grown);
    // 1,000 shards whose first owner's copy differs from the others'.
    for shard in cold.shards.iter().filter(|s| s.id % 997 == 0).take(1000) {
        let inventory = cold.inventories.get_mut(&shard.owners[0]).expect("an owner's inventory");
        let copy = *inventory.shards.get(&shard.id).expect("held");
        inventory.shards.insert(shard.id, ShardCopy { content: copy.content.map(|r| r ^ 1), points: 999, ..copy });
    }
    let repairs = plan(&cold, &limits, Scope::All);
    assert_eq!(repairs.report.inconsistent.len(), 1000);
    eprintln!("1000 inconsistent shards: {} repairs planned (limits {limits:?})", repairs.create.len());
    group
        .bench_function("full_1m_shards_1000_inconsistent", |b| b.iter(|| plan(black_box(&cold), &limits, Scope::All)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
