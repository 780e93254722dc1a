//! Failure domains with real processes: labels set with `metactl node-labels` and a hierarchy set
//! with `metactl failure-domains set` make the leader report shards placed before the labels
//! whose owners share a zone; groups created afterwards span both zones, and a dead node's shards
//! are re-replicated within its zone so that every shard keeps a copy in each.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cluster_harness::wait_for;

use crate::support::{
    ae_config_with, cluster_with_config, create_database, entropy, metactl, node_id, owners, write_hour_range,
    write_hours,
};

/// Zone of each data node slot: two nodes in zone a, three in zone b (so zone-b nodes are less
/// loaded and load alone would pick them).
const ZONES: [(&str, &str); 5] = [("a", "r1"), ("a", "r2"), ("b", "r3"), ("b", "r4"), ("b", "r5")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shard_keeps_a_copy_in_both_zones_through_a_repair() {
    let config = ae_config_with(&[("dead-node-timeout", "5s")]);
    let mut cluster = cluster_with_config(&config, ZONES.len(), &[]).await;
    create_database(&cluster, 2).await;
    eprintln!("--- six hours written before any label: placed by load alone");
    write_hours(&cluster, 0, 6, 20).await;

    let mut zone_of: BTreeMap<u64, &str> = BTreeMap::new();
    for (slot, (zone, rack)) in ZONES.iter().enumerate() {
        let id = node_id(&cluster, slot).await;
        let out = metactl(
            &cluster,
            &["node-labels", &id.to_string(), "set", &format!("zone={zone}"), &format!("rack={rack}")],
        )
        .await;
        assert!(out.contains(&format!("zone={zone}")), "{out}");
        zone_of.insert(id, zone);
    }
    let out = metactl(&cluster, &["failure-domains", "set", "zone,rack"]).await;
    assert!(out.starts_with("Failure domains: zone > rack"), "{out}");
    assert!(out.contains("Data Nodes by Failure Domain"), "{out}");
    let zones = |owners: &[u64]| owners.iter().map(|o| zone_of[o]).collect::<BTreeSet<_>>();
    let before = owners(&cluster).await;
    let sharing: BTreeSet<u64> = before.iter().filter(|(_, o)| zones(o).len() < 2).map(|(&s, _)| s).collect();
    eprintln!("--- labelled: shards {sharing:?} have both owners in one zone");
    wait_for(Duration::from_secs(30), "the leader to report exactly those shards mis-replicated", || async {
        let report = entropy(&cluster).await;
        let found: BTreeSet<u64> =
            report.mis_replicated.iter().filter(|m| m.level == "zone").map(|m| m.shard_id).collect();
        (found == sharing && report.failure_domains == ["zone", "rack"]).then_some(())
    })
    .await;
    let show = metactl(&cluster, &["entropy", "show"]).await;
    if !sharing.is_empty() {
        assert!(show.contains("MIS-REPLICATED"), "{show}");
    }

    eprintln!("--- six more hours: new groups span both zones");
    write_hour_range(&cluster, 1, 6..12, 20).await;
    let placed = owners(&cluster).await;
    let new: Vec<u64> = placed.keys().copied().filter(|s| !before.contains_key(s)).collect();
    assert!(!new.is_empty());
    for shard in &new {
        assert_eq!(zones(&placed[shard]).len(), 2, "shard {shard} owners {:?}", placed[shard]);
    }

    let victim = node_id(&cluster, 0).await;
    eprintln!("--- node {victim} (zone a) killed: its shards get their new copy in zone a");
    cluster.kill_data_node(0);
    let healed = wait_for(Duration::from_secs(90), "the dead node's shards re-replicated", || async {
        let now = owners(&cluster).await;
        let done = new.iter().all(|s| now[s].len() == 2 && !now[s].contains(&victim));
        done.then_some(now)
    })
    .await;
    for shard in &new {
        assert_eq!(zones(&healed[shard]).len(), 2, "shard {shard} owners {:?} after the repair", healed[shard]);
    }
}
