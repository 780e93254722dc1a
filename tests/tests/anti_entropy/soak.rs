//! Writers through data-node and meta-leader `kill -9`s at consistency `one`: every acknowledged
//! point ends on every final owner of its shard once the hinted-handoff queues drained, and once
//! the shards are cold their owners hold the same points (repaired where a kill mid-write left
//! one owner with a point the other lacks). CI runs a short schedule;
//! `SOAK_SECS=600` (the long mode) runs ten minutes, `SOAK_SEED` picks another schedule.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_harness::wait_for;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use meta_model::TaskKind;

use crate::support::{all_tasks, cluster_with_data_nodes, create_database, entropy, owners, slot_of, FIRST_HOUR};

const HOUR: i64 = 3_600_000_000_000;
const DATA_NODES: usize = 4;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_point_reaches_every_owner_through_kills() {
    let (secs, seed) = (env_u64("SOAK_SECS", 20), env_u64("SOAK_SEED", 7));
    eprintln!("--- soak: {secs}s, seed {seed}");
    let datad_args = ["--handoff-retry-interval", "200ms", "--cold-after", "2s"];
    let mut cluster = cluster_with_data_nodes(DATA_NODES, "", &datad_args).await;
    create_database(&cluster, 2).await;
    let addrs: Vec<String> = (0..DATA_NODES).map(|slot| cluster.data_addr(slot).to_owned()).collect();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(secs);

    // Two writers, each point unique (its own series and time, over six hourly groups; tags in
    // the order stored), each through a data node chosen at random; only 204 answers count.
    let mut writers = Vec::new();
    for writer in 0..2u64 {
        let (addrs, acked, http) = (addrs.clone(), Arc::clone(&acked), cluster.http.clone());
        writers.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(seed * 100 + writer);
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let hour = (i % 6) as i64;
                let line = format!("soak,n=p{i},writer=w{writer} v={i}i {}", FIRST_HOUR + hour * HOUR + i as i64);
                let url = format!("http://{}/write?db=db&consistency=one", addrs[rng.random_range(0..addrs.len())]);
                let sent = http.post(&url).body(line.clone()).timeout(Duration::from_secs(10)).send().await;
                if sent.is_ok_and(|r| r.status().as_u16() == 204) {
                    acked.lock().expect("acked").push(line);
                }
                // The writers' pace (about 50 writes a second each), not a wait for a condition.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    // Faults: one data node down at a time, killed and restarted; now and then the meta leader.
    // The pauses are the schedule itself (how long a node stays down, how long between faults).
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut faults = Vec::new();
    while Instant::now() < deadline {
        if rng.random_bool(0.25) {
            let leader = cluster.leader(Duration::from_secs(20)).await;
            cluster.kill(leader);
            faults.push(format!("meta leader {leader}"));
            tokio::time::sleep(Duration::from_millis(rng.random_range(500..2_000))).await;
            cluster.spawn(leader);
        } else {
            let slot = rng.random_range(0..DATA_NODES);
            cluster.kill_data_node(slot);
            faults.push(format!("data slot {slot}"));
            tokio::time::sleep(Duration::from_millis(rng.random_range(1_000..4_000))).await;
            cluster.restart_data_node(slot);
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..2_000))).await;
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let acked = acked.lock().expect("acked").clone();
    eprintln!("--- {} points acknowledged through {} faults: {faults:?}", acked.len(), faults.len());
    assert!(acked.len() > 50, "the writers got through: {}", acked.len());

    wait_for(Duration::from_secs(120), "every hinted-handoff queue drained", || async {
        for slot in 0..DATA_NODES {
            let status = cluster.data_status(slot).await?;
            if status.handoff.iter().any(|q| q.entries > 0) {
                return None;
            }
            if let Some(dropped) = status.handoff.iter().find(|q| q.dropped_entries > 0) {
                panic!("slot {slot} dropped queued writes: {dropped:?}");
            }
        }
        Some(())
    })
    .await;

    let placed = owners(&cluster).await;
    let mut lines_of: BTreeMap<(usize, u64), String> = BTreeMap::new();
    for (&shard, shard_owners) in &placed {
        for &owner in shard_owners {
            let slot = slot_of(&cluster, owner).await;
            let url = format!("http://{}/shards/{shard}", cluster.data_addr(slot));
            let bytes = match cluster.http.get(&url).send().await {
                Ok(response) if response.status().is_success() => response.bytes().await.unwrap_or_default(),
                _ => Default::default(),
            };
            let lines = datad::shard_file_lines(&bytes).unwrap_or_default();
            lines_of.insert((slot, shard), String::from_utf8_lossy(&lines).into_owned());
        }
    }
    let mut lost = Vec::new();
    for point in &acked {
        let holders: Vec<&(usize, u64)> =
            lines_of.iter().filter(|(_, l)| l.contains(point.as_str())).map(|(k, _)| k).collect();
        let Some(&&(_, shard)) = holders.first() else {
            lost.push(format!("{point}: on no owner"));
            continue;
        };
        let held_by = holders.iter().filter(|(_, s)| *s == shard).count();
        if held_by < placed[&shard].len() {
            lost.push(format!("{point}: shard {shard} held by {held_by} of its owners {:?}", placed[&shard]));
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged points not on every owner: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );

    // A writer's coordinator killed between storing a point and sending it on leaves the owners'
    // copies different (a write never acknowledged, held by one owner): once cold, the leader
    // finds such shards inconsistent and repairs them to the union, so every shard ends with
    // owners holding the same points.
    let report = wait_for(Duration::from_secs(120), "every shard's owners holding the same points", || async {
        let report = entropy(&cluster).await;
        (report.content.consistent == placed.len() as u64).then_some(report)
    })
    .await;
    for (&shard, shard_owners) in &placed {
        let mut roots = BTreeSet::new();
        for &owner in shard_owners {
            let status = cluster.data_status(slot_of(&cluster, owner).await).await.expect("owner's status");
            roots.extend(status.content.iter().filter(|c| c.shard_id == shard).map(|c| (c.points, c.root)));
        }
        assert_eq!(roots.len(), 1, "shard {shard}: its owners {shard_owners:?} report one content digest: {roots:?}");
    }
    let repairs = all_tasks(&cluster).await.into_iter().filter(|t| t.task.kind == TaskKind::Repair).count();
    eprintln!("--- {} shards consistent; {repairs} repair task(s) made them so", report.content.consistent);
}
