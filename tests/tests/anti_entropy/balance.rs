//! Rebalancing with real processes: a data node that joins a cluster with data receives shards
//! (move tasks: a copy, then the old owner dropped in the same step) until every node's load is
//! within the tolerance, while no shard ever has fewer owners than its replication factor; with
//! two zones, every shard keeps an owner in each through a rebalance and a repair.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cluster_harness::{wait_for, Cluster};
use meta_model::TaskKind;
use meta_wire::BalanceState;

use crate::support::{
    add_data_node, ae_config_with, all_tasks, cluster_with_config, create_database, entropy, held, metactl, node_id,
    owners, slot_of, write_hours, AE_CONFIG,
};

/// How long balancing a few dozen small shards may take.
const BALANCE_TIMEOUT: Duration = Duration::from_secs(120);

/// Samples the shards' owners until stopped, keeping every sample that breaks a rule.
struct Sampler {
    shared: Arc<Sampled>,
    task: tokio::task::JoinHandle<()>,
}

/// What the sampling task and the test share.
#[derive(Default)]
struct Sampled {
    stop: AtomicBool,
    samples: AtomicU64,
    broken: Mutex<Vec<String>>,
}

impl Sampler {
    /// Reads every shard's owners every 100 ms; `rule(shard, owners)` says what is wrong, if anything.
    fn start(cluster: &Cluster, rule: impl Fn(u64, &[u64]) -> Option<String> + Send + 'static) -> Sampler {
        let client = cluster.client();
        let shared = Arc::new(Sampled::default());
        let task = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                let mut every = tokio::time::interval(Duration::from_millis(100));
                while !shared.stop.load(Ordering::Relaxed) {
                    every.tick().await;
                    if let Ok(shards) = client.shards().await {
                        for shard in &shards {
                            let ids: Vec<u64> = shard.owners.iter().map(|o| o.id).collect();
                            if let Some(why) = rule(shard.id, &ids) {
                                shared.broken.lock().expect("lock").push(why);
                            }
                        }
                        shared.samples.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Sampler { shared, task }
    }

    /// Stops sampling; returns the samples taken and what broke the rule.
    async fn finish(self) -> (u64, Vec<String>) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the sampler ends");
        let broken = self.shared.broken.lock().expect("lock").clone();
        (self.shared.samples.load(Ordering::Relaxed), broken)
    }
}

/// Waits until the leader's last full plan finds the `nodes` active data nodes balanced, with no
/// move in flight; returns each node's shard count then.
async fn wait_balanced(cluster: &Cluster, nodes: usize) -> BTreeMap<u64, u64> {
    wait_for(BALANCE_TIMEOUT, "balancing to end within the tolerance", || async {
        let balance = entropy(cluster).await.balance.filter(|b| b.nodes.len() == nodes)?;
        let moving = all_tasks(cluster).await.iter().any(|t| t.task.kind == TaskKind::Move && t.task.state.is_open());
        (balance.state == BalanceState::Balanced && !moving)
            .then(|| balance.nodes.iter().map(|n| (n.node_id, n.shards)).collect())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_receives_shards_until_loads_are_within_tolerance_never_below_rf() {
    let mut cluster = cluster_with_config(AE_CONFIG, 3, &[]).await;
    create_database(&cluster, 2).await;
    // 12 hourly groups of one shard, RF 2: 24 owners over 3 nodes, 8 each.
    write_hours(&cluster, 0, 12, 30).await;
    let before = owners(&cluster).await;
    assert_eq!(before.len(), 12);
    let mut checksums: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for slot in 0..3 {
        checksums.extend(held(&cluster, slot).await);
    }
    let out = metactl(&cluster, &["balance", "enable", "--tolerance", "10", "--max-moves", "2"]).await;
    assert_eq!(out, "Balancing enabled: tolerance 10% of the mean, at most 2 moves at once\n");

    let sampler = Sampler::start(&cluster, |shard, owners| {
        let distinct: BTreeSet<&u64> = owners.iter().collect();
        (distinct.len() < 2).then(|| format!("shard {shard} had owners {owners:?}"))
    });
    eprintln!("--- a fourth data node joins");
    let slot = add_data_node(&mut cluster, &[]).await;
    let newcomer = node_id(&cluster, slot).await;
    let loads = wait_balanced(&cluster, 4).await;
    let (samples, broken) = sampler.finish().await;
    assert!(samples >= 10, "only {samples} samples");
    assert!(broken.is_empty(), "a shard fell below its replication factor: {broken:?}");
    // The mean is 6 (24 owners over 4 nodes); 10% of it allows 5 to 7.
    assert_eq!(loads.len(), 4, "{loads:?}");
    assert!(loads.values().all(|&n| (5..=7).contains(&n)), "loads {loads:?}");
    assert!(loads[&newcomer] >= 5, "the new node got {} shards", loads[&newcomer]);

    let moves: Vec<_> = all_tasks(&cluster).await.into_iter().filter(|t| t.task.kind == TaskKind::Move).collect();
    assert!(moves.len() >= 5, "{} moves", moves.len());
    for info in &moves {
        let spec = &info.task.spec;
        assert_eq!((spec.target, spec.replaces), (newcomer, Some(spec.source)), "{:?}", info.task);
    }
    // Every owner now holds every moved shard exactly as its first owners did.
    let after = owners(&cluster).await;
    for (shard, owners) in &after {
        assert_eq!(owners.len(), 2, "shard {shard}: {owners:?}");
        for owner in owners {
            let slot = slot_of(&cluster, *owner).await;
            let copy = held(&cluster, slot).await.get(shard).copied();
            assert_eq!(copy.map(|c| c.1), checksums.get(shard).map(|c| c.1), "shard {shard} on node {owner}");
        }
    }
    let show = metactl(&cluster, &["balance", "show"]).await;
    assert!(show.starts_with("Balance: BALANCED"), "{show}");
    assert!(show.contains("Load by Data Node"), "{show}");
}

/// Starts a data node and registers it with `zone=ZONE`; returns its slot.
async fn join(cluster: &mut Cluster, zone: &str) -> usize {
    let slot = cluster.start_data_node(&[]);
    let addr = cluster.data_addr(slot).to_owned();
    let out = metactl(cluster, &["add-data", &addr, "--label", &format!("zone={zone}")]).await;
    assert!(out.starts_with("Added data node"), "{out}");
    wait_for(Duration::from_secs(20), "the data node registered", || async {
        cluster.data_status(slot).await.filter(|s| s.registered).map(drop)
    })
    .await;
    slot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shard_keeps_an_owner_in_both_zones_through_a_rebalance_and_a_repair() {
    let config = ae_config_with(&[("dead-node-timeout", "5s")]);
    let mut cluster = cluster_with_config(&config, 0, &[]).await;
    let mut zone_of: BTreeMap<u64, &str> = BTreeMap::new();
    for zone in ["a", "a", "b", "b"] {
        let slot = join(&mut cluster, zone).await;
        zone_of.insert(node_id(&cluster, slot).await, zone);
    }
    create_database(&cluster, 2).await;
    write_hours(&cluster, 0, 8, 20).await;
    let zones = move |owners: &[u64], zone_of: &BTreeMap<u64, &str>| {
        owners.iter().filter_map(|o| zone_of.get(o).copied()).collect::<BTreeSet<&str>>().len()
    };
    assert!(owners(&cluster).await.values().all(|o| zones(o, &zone_of) == 2), "placed in both zones");

    eprintln!("--- a third node joins zone b: zone b's shards even out within it");
    let slot = join(&mut cluster, "b").await;
    let newcomer = node_id(&cluster, slot).await;
    zone_of.insert(newcomer, "b");
    let known = zone_of.clone();
    let sampler = Sampler::start(&cluster, move |shard, owners| {
        (zones(owners, &known) < 2).then(|| format!("shard {shard} had owners {owners:?} in one zone"))
    });
    let loads = wait_balanced(&cluster, 5).await;
    assert!(loads[&newcomer] >= 2, "the new zone-b node got {} shards: {loads:?}", loads[&newcomer]);

    let victim = node_id(&cluster, 0).await;
    eprintln!("--- node {victim} (zone a) killed: its shards get their new copy in zone a");
    cluster.kill_data_node(0);
    let healed = wait_for(BALANCE_TIMEOUT, "the dead node's shards re-replicated", || async {
        let now = owners(&cluster).await;
        now.values().all(|o| o.len() == 2 && !o.contains(&victim)).then_some(now)
    })
    .await;
    let (samples, broken) = sampler.finish().await;
    assert!(samples >= 10, "only {samples} samples");
    assert!(broken.is_empty(), "{broken:?}");
    for (shard, owners) in &healed {
        assert_eq!(zones(owners, &zone_of), 2, "shard {shard} owners {owners:?} after the repair");
    }
    let moves = all_tasks(&cluster).await.into_iter().filter(|t| t.task.kind == TaskKind::Move).count();
    assert!(moves >= 2, "{moves} moves");
}
