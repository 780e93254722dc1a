//! Throughput of `MetaState::apply` on a realistic command mix against a populated cluster.
//!
//! `cargo bench -p meta-model --bench apply`

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use meta_model::{Command, MetaState, HOUR};

const COMMANDS: usize = 10_000;

fn apply_mix(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply_mix");
    group.sample_size(20);
    for shards in [10_000usize, 100_000] {
        let base = common::cluster(30, 50, shards);
        let commands = command_mix(&base, COMMANDS, 42);
        group.throughput(Throughput::Elements(commands.len() as u64));
        group.bench_with_input(BenchmarkId::new("shards", shards), &commands, |b, commands| {
            b.iter_batched(
                || base.clone(),
                |mut state: MetaState| {
                    for command in commands {
                        std::hint::black_box(state.apply(command)).ok();
                    }
                    state
                },
                BatchSize::LargeInput,
            );
        });
        // The same mix as the state machine applies it: recording what each command touched.
        group.bench_with_input(BenchmarkId::new("tracked_shards", shards), &commands, |b, commands| {
            b.iter_batched(
                || base.clone(),
                |mut state: MetaState| {
                    for command in commands {
                        let (result, changes) = state.apply_tracked(command);
                        std::hint::black_box((result.ok(), changes));
                    }
                    state
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn create_shard_group(c: &mut Criterion) {
    let base = common::cluster(30, 50, 100_000);
    let newest = newest_end(&base);
    let mut group = c.benchmark_group("create_shard_group");
    group.bench_function("new_group_100k_shards", |b| {
        let command = Command::CreateShardGroup {
            database: "db000".into(),
            retention_policy: "forever".into(),
            timestamp: newest,
        };
        b.iter_batched(|| base.clone(), |mut state| state.apply(&command).map(|_| state), BatchSize::LargeInput);
    });
    group.bench_function("existing_group_100k_shards", |b| {
        let command = Command::CreateShardGroup {
            database: "db000".into(),
            retention_policy: "forever".into(),
            timestamp: common::EPOCH,
        };
        let mut state = base.clone();
        b.iter(|| std::hint::black_box(state.apply(&command)).ok());
    });
    // One policy with 20,000 hourly groups (two years and more): what a lookup by time and the
    // sizing of a new group cost when a policy has many groups.
    let (deep, hours) = (common::cluster(30, 1, 0), 20_000_i64);
    let mut deep = deep;
    for h in 0..hours {
        let timestamp = common::EPOCH + h * HOUR as i64;
        let create =
            Command::CreateShardGroup { database: "db000".into(), retention_policy: "forever".into(), timestamp };
        common::apply(&mut deep, &create);
    }
    group.bench_function("existing_group_20k_groups_one_policy", |b| {
        let timestamp = common::EPOCH + hours / 2 * HOUR as i64;
        let command =
            Command::CreateShardGroup { database: "db000".into(), retention_policy: "forever".into(), timestamp };
        let mut state = deep.clone();
        b.iter(|| std::hint::black_box(state.apply(&command)).ok());
    });
    group.bench_function("new_group_20k_groups_one_policy", |b| {
        let timestamp = common::EPOCH + hours * HOUR as i64;
        let command =
            Command::CreateShardGroup { database: "db000".into(), retention_policy: "forever".into(), timestamp };
        b.iter_batched(|| deep.clone(), |mut state| state.apply(&command).map(|_| state), BatchSize::LargeInput);
    });
    // A group of 333 shards (RF 3) on 1,000 nodes in 3 zones: spread by zone (the default
    // hierarchy), then by zone and rack (30 racks).
    let mut wide = common::cluster(1_000, 1, 0);
    let new_group = Command::CreateShardGroup {
        database: "db000".into(),
        retention_policy: "forever".into(),
        timestamp: common::EPOCH,
    };
    group.bench_function("new_group_1000_nodes_by_zone", |b| {
        b.iter_batched(|| wide.clone(), |mut state| state.apply(&new_group).map(|_| state), BatchSize::LargeInput);
    });
    let ids: Vec<u64> = wide.data_nodes().keys().copied().collect();
    for (i, &node_id) in ids.iter().enumerate() {
        let set = [("rack".to_owned(), format!("r{}", i % 30))].into();
        common::apply(&mut wide, &Command::SetNodeLabels { node_id, set, delete: Vec::new() });
    }
    common::apply(&mut wide, &Command::SetFailureDomains { levels: vec!["zone".into(), "rack".into()] });
    group.bench_function("new_group_1000_nodes_by_zone_and_rack", |b| {
        b.iter_batched(|| wide.clone(), |mut state| state.apply(&new_group).map(|_| state), BatchSize::LargeInput);
    });
    group.finish();
}

/// Creating the groups of successive hours in one policy as it grows to 100,000 groups (30 data
/// nodes, RF 3: 10 shards a group, a million shards at the end): the cost of the next 1,000 new
/// groups, and of finding an existing group (the lookup a data node makes for every point, on its
/// cached copy of the state), at each size. Both should stay flat: the policy's time index makes
/// them O(log groups).
fn create_shard_group_as_policy_grows(c: &mut Criterion) {
    const BATCH: i64 = 1_000;
    let hour = HOUR as i64;
    let create = |h: i64| Command::CreateShardGroup {
        database: "db000".into(),
        retention_policy: "forever".into(),
        timestamp: common::EPOCH + h * hour,
    };
    let mut group = c.benchmark_group("policy_grows");
    group.sample_size(10);
    let mut state = common::cluster(30, 1, 0);
    let mut hours = 0_i64;
    for size in [0_i64, 10_000, 25_000, 50_000, 100_000] {
        while hours < size {
            common::apply(&mut state, &create(hours));
            hours += 1;
        }
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_with_input(BenchmarkId::new("next_1000_new_groups", size), &state, |b, state| {
            b.iter_batched(
                || state.clone(),
                |mut state| {
                    for h in size..size + BATCH {
                        let _ = std::hint::black_box(state.apply(&create(h)));
                    }
                    state
                },
                BatchSize::LargeInput,
            );
        });
        if size > 0 {
            group.throughput(Throughput::Elements(1));
            group.bench_with_input(BenchmarkId::new("existing_group_lookup", size), &state, |b, state| {
                let mut h = 0;
                b.iter(|| {
                    h = (h + 7919) % size;
                    std::hint::black_box(state.live_group_containing("db000", "forever", common::EPOCH + h * hour))
                        .is_some()
                });
            });
        }
    }
    group.finish();
}

/// A deterministic xorshift generator: the benchmarks need variety, not quality.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A stream of `n` commands with the mix a busy cluster sees, valid against `base` (each is
/// generated against the state the previous ones produced, so most are accepted):
/// 50% shard-group lookups/creations for advancing time (most hit an existing group),
/// 35% ownership changes as anti-entropy moves copies (add then remove), 10% data-node updates
/// and additions, 4% schema changes, 1% precreation and retention sweeps (each touches every
/// policy, so they are rare in a real cluster: every few minutes).
fn command_mix(base: &MetaState, n: usize, seed: u64) -> Vec<Command> {
    let mut state = base.clone();
    let mut rng = Rng::new(seed);
    let mut commands = Vec::with_capacity(n);
    let databases: Vec<String> = state.databases().keys().cloned().collect();
    let mut now = newest_end(&state);
    let max_shard = state.next_shard_id();
    let mut extra_nodes = 0;
    while commands.len() < n {
        let roll = rng.below(100);
        let command = if roll < 50 {
            now += rng.below(60) as i64 * 60_000_000_000;
            let db = &databases[rng.below(databases.len() as u64) as usize];
            let rp = if rng.below(2) == 0 { "week" } else { "forever" };
            Command::CreateShardGroup { database: db.clone(), retention_policy: rp.into(), timestamp: now }
        } else if roll < 85 {
            let shard_id = 1 + rng.below(max_shard - 1);
            let Some(view) = state.shard(shard_id) else { continue };
            if view.group.is_deleted() {
                continue;
            }
            let owners = view.shard.owners.clone();
            let candidates: Vec<u64> = state
                .data_nodes()
                .values()
                .filter(|d| d.is_active() && !owners.contains(&d.id))
                .map(|d| d.id)
                .collect();
            if candidates.is_empty() || owners.is_empty() {
                continue;
            }
            let target = candidates[rng.below(candidates.len() as u64) as usize];
            let add = Command::AddShardOwner { shard_id, node_id: target };
            common::apply(&mut state, &add);
            commands.push(add);
            Command::RemoveShardOwner { shard_id, node_id: owners[rng.below(owners.len() as u64) as usize] }
        } else if roll < 95 {
            let active: Vec<u64> = state.data_nodes().values().filter(|d| d.is_active()).map(|d| d.id).collect();
            if rng.below(4) == 0 {
                extra_nodes += 1;
                common::add_data_node(10_000 + extra_nodes, 3)
            } else {
                let id = active[rng.below(active.len() as u64) as usize];
                let rename = rng.below(1_000_000);
                Command::UpdateDataNode {
                    node_id: id,
                    tcp_addr: format!("moved-{id}-{rename}:8088"),
                    http_addr: format!("moved-{id}-{rename}:8086"),
                    labels: None,
                }
            }
        } else if roll < 99 {
            let name = format!("tmp{}", rng.below(1_000_000));
            if state.database(&name).is_some() {
                Command::DropDatabase { name }
            } else {
                Command::CreateDatabase { name, default_retention_policy: None }
            }
        } else if rng.below(2) == 0 {
            Command::PrecreateShardGroups { from: now, to: now + 2 * HOUR as i64 }
        } else {
            Command::DeleteExpiredShardGroups { now }
        };
        common::apply(&mut state, &command);
        commands.push(command);
    }
    commands.truncate(n);
    commands
}

/// Precreation and the retention sweep visit every policy: 100 policies here.
fn sweeps(c: &mut Criterion) {
    let base = common::cluster(30, 50, 100_000);
    let newest = newest_end(&base);
    let mut group = c.benchmark_group("sweep_100_policies_100k_shards");
    group.sample_size(20);
    group.bench_function("precreate", |b| {
        let command = Command::PrecreateShardGroups { from: newest - HOUR as i64, to: newest + HOUR as i64 };
        b.iter_batched(|| base.clone(), |mut state| state.apply(&command).map(|_| state), BatchSize::LargeInput);
    });
    group.bench_function("delete_expired", |b| {
        let command = Command::DeleteExpiredShardGroups { now: newest + 30 * 24 * HOUR as i64 };
        b.iter_batched(|| base.clone(), |mut state| state.apply(&command).map(|_| state), BatchSize::LargeInput);
    });
    group.finish();
}

/// The end of the newest shard group.
fn newest_end(state: &MetaState) -> i64 {
    state
        .databases()
        .values()
        .flat_map(|d| d.retention_policies.values())
        .flat_map(|rp| rp.shard_groups.values())
        .map(|g| g.end)
        .max()
        .unwrap_or(common::EPOCH)
}

criterion_group!(benches, apply_mix, create_shard_group, create_shard_group_as_policy_grows, sweeps);
criterion_main!(benches);
