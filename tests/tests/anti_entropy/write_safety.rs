//! Writes at the edges: a shard without any owner refuses writes instead of acknowledging them; a
//! shard never written that loses an owner gets a live one by a metadata change, is never reported
//! lost and takes every write; an RF 1 shard whose only copy is gone is reported lost loudly, also
//! when an empty machine took its owner's identity; new shard groups are not placed on a down
//! data node; a first write no owner took marks nothing, so nothing is reported lost.

use std::collections::BTreeSet;
use std::time::Duration;

use cluster_harness::{wait_for, Cluster};
use meta_wire::Liveness;

use crate::support::{
    add_data_node, ae_config_with, cluster_with_config, create_database, entropy, liveness, metactl, node_id, owners,
    slot_of, write_hours, AE_CONFIG, FIRST_HOUR,
};

const HOUR: i64 = 3_600_000_000_000;

/// One point per call into hour `hour` through data node `slot`: `(status, body)`.
async fn write_point(cluster: &Cluster, slot: usize, hour: i64, series: i64) -> (u16, String) {
    let line = format!("mem,host=h{series} used={series}i {}", FIRST_HOUR + hour * HOUR + series);
    let url = format!("http://{}/write?db=db", cluster.data_addr(slot));
    let response = cluster.http.post(&url).body(line).send().await.expect("write reaches datad");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_to_a_shard_without_any_owner_is_refused_never_acknowledged() {
    // RF 1, one data node A holds hour 0 (one shard); then B registers.
    let mut cluster = cluster_with_config(AE_CONFIG, 1, &[]).await;
    create_database(&cluster, 1).await;
    write_hours(&cluster, 0, 1, 20).await;
    let before = owners(&cluster).await;
    let (&shard, holders) = before.iter().next().expect("the hour's shard");
    let a = node_id(&cluster, 0).await;
    assert_eq!(holders, &vec![a]);
    let b = add_data_node(&mut cluster, &[]).await;

    eprintln!("--- kill -9 A ({a}) and remove it with --force: shard {shard} has no owner left");
    let addr = cluster.data_addr(0).to_owned();
    cluster.kill_data_node(0);
    metactl(&cluster, &["remove-data", "--force", &addr]).await;
    assert_eq!(owners(&cluster).await.get(&shard), Some(&Vec::new()));

    let (status, body) = wait_for(Duration::from_secs(20), "B to refuse the write", || async {
        let (status, body) = write_point(&cluster, b, 0, 1).await;
        (status != 204 || body.contains("no_owner")).then_some((status, body))
    })
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"no_owner\"") && body.contains(&shard.to_string()), "names the shard: {body}");
    let url = format!("http://{}/metrics", cluster.data_addr(b));
    let metrics = cluster.http.get(&url).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("datad_writes_total{outcome=\"no_owner\"}"), "the refusal is counted:\n{metrics}");

    let report = wait_for(Duration::from_secs(20), "the shard reported unrecoverable", || async {
        let report = entropy(&cluster).await;
        report.unrecoverable.contains(&shard).then_some(report)
    })
    .await;
    assert_eq!(report.unrecoverable, vec![shard], "it held data: lost, loudly");
    let repair = scenarios::metactl(&cluster, &["entropy", "repair", &shard.to_string()]).await;
    let stderr = String::from_utf8_lossy(&repair.stderr);
    assert!(!repair.status.success() && stderr.contains("has no live copy anywhere"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_written_shard_that_loses_an_owner_gets_a_live_one_and_takes_every_write() {
    let config = ae_config_with(&[("dead-node-timeout", "4s"), ("check-interval", "1s")]);
    let mut cluster = cluster_with_config(&config, 4, &[]).await;
    create_database(&cluster, 2).await;
    // The group of an hour two hours after the one written: its 2 shards hold nothing.
    write_hours(&cluster, 0, 1, 10).await;
    let group = cluster.client().create_shard_group("db", None, FIRST_HOUR + 2 * HOUR).await;
    let group = group.expect("group created").shard_group;
    let ahead: BTreeSet<u64> = group.shards.iter().map(|s| s.id).collect();
    assert_eq!(ahead.len(), 2);
    let victim = group.shards[0].owners[0];
    let slot = slot_of(&cluster, victim).await;

    eprintln!("--- kill -9 node {victim}, an owner of never-written shard(s) {ahead:?}");
    cluster.kill_data_node(slot);
    wait_for(Duration::from_secs(30), "the victim's never-written shards on live owners", || async {
        let now = owners(&cluster).await;
        let moved = ahead.iter().all(|s| now.get(s).is_some_and(|o| o.len() == 2 && !o.contains(&victim)));
        moved.then_some(())
    })
    .await;
    assert_eq!(liveness(&cluster, victim).await, Some(Liveness::Dead));
    let report = entropy(&cluster).await;
    assert!(report.unrecoverable.is_empty(), "a shard that never held data is not lost: {report:?}");
    assert!(report.tasks.iter().all(|t| !ahead.contains(&t.task.spec.shard_id)), "nothing to copy: {report:?}");

    let live = (0..4).find(|&s| s != slot).expect("a live data node");
    let mut refused = Vec::new();
    for series in 0..20 {
        let (status, body) = write_point(&cluster, live, 2, series).await;
        if status != 204 {
            refused.push(format!("{status} {body}"));
        }
    }
    assert!(refused.is_empty(), "every write into the hour succeeds: {refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_shard_groups_are_not_placed_on_a_down_data_node() {
    let mut cluster = cluster_with_config(AE_CONFIG, 3, &[]).await;
    create_database(&cluster, 2).await;
    let down = node_id(&cluster, 2).await;
    eprintln!("--- kill -9 node {down} and wait until the leader finds it suspect");
    cluster.kill_data_node(2);
    wait_for(Duration::from_secs(20), "the killed node suspect", || async {
        matches!(liveness(&cluster, down).await, Some(Liveness::Suspect | Liveness::Dead)).then_some(())
    })
    .await;

    let mut refused = Vec::new();
    for hour in 0..6 {
        let (status, body) = write_point(&cluster, 0, hour, 1).await;
        if status != 204 {
            refused.push(format!("hour {hour}: {status} {body}"));
        }
    }
    assert!(refused.is_empty(), "every write into a new hour succeeds: {refused:?}");
    let placed = owners(&cluster).await;
    assert_eq!(placed.len(), 6, "one shard a group (3 nodes, RF 2): {placed:?}");
    for (shard, owners) in &placed {
        assert_eq!(owners.len(), 2, "shard {shard}: {owners:?}");
        assert!(!owners.contains(&down), "shard {shard} placed on the down node: {owners:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rf1_owner_replaced_by_an_empty_machine_loses_its_shards_loudly() {
    let config = ae_config_with(&[("check-interval", "1s")]);
    let mut cluster = cluster_with_config(&config, 2, &[]).await;
    create_database(&cluster, 1).await;
    write_hours(&cluster, 0, 1, 200).await;
    let a = node_id(&cluster, 0).await;
    let sole: BTreeSet<u64> =
        owners(&cluster).await.into_iter().filter(|(_, o)| o == &vec![a]).map(|(shard, _)| shard).collect();
    assert!(!sole.is_empty(), "node {a} holds the only copy of some shards");

    eprintln!("--- node {a} is killed; an empty machine takes its identity with update-data");
    cluster.kill_data_node(0);
    let fresh = cluster.start_data_node(&[]);
    let (old_addr, new_addr) = (cluster.data_addr(0).to_owned(), cluster.data_addr(fresh).to_owned());
    let ids: Vec<String> = sole.iter().map(u64::to_string).collect();
    let out = metactl(&cluster, &["update-data", &old_addr, &new_addr]).await;
    assert!(out.starts_with(&format!("Updated data node {a}")), "{out}");
    let warning = format!("WARNING: the machine at {new_addr} holds none of shard(s) {}", ids.join(", "));
    assert!(out.contains(&warning), "update-data says what it loses ({warning:?}):\n{out}");

    let report = wait_for(Duration::from_secs(30), "the lost shards reported unrecoverable", || async {
        let report = entropy(&cluster).await;
        (report.unrecoverable.iter().copied().collect::<BTreeSet<u64>>() == sole).then_some(report)
    })
    .await;
    assert!(report.tasks.is_empty(), "nothing to copy from: {report:?}");
    let shown = metactl(&cluster, &["entropy", "show"]).await;
    assert!(shown.contains(&format!("UNRECOVERABLE: no live copy of shard(s) {}", ids.join(", "))), "{shown}");
}

/// A first write that no owner of a shard took (that owner down, its hinted-handoff copy
/// dropped by a full queue) is refused and marks nothing: once the owner is back nothing is
/// reported lost, and the retried write marks and is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_write_no_owner_took_marks_nothing_and_nothing_is_reported_lost() {
    let mut cluster = cluster_with_config(AE_CONFIG, 2, &["--handoff-max-size", "1"]).await;
    create_database(&cluster, 1).await;
    let b = node_id(&cluster, 1).await;
    let lines: Vec<String> =
        (0..20).map(|i| format!("mem,host=h{i} used={i}i {}", FIRST_HOUR + 5 * HOUR + i)).collect();
    let url = format!("http://{}/write?db=db", cluster.data_addr(0));

    eprintln!("--- B ({b}) killed; at once (still online to the leader) a write into a new hour through A");
    cluster.kill_data_node(1);
    let answer = cluster.http.post(&url).body(lines.join("\n")).send().await.expect("write reaches datad");
    let status = answer.status().as_u16();
    assert_eq!(status, 503, "B's shard took nothing: {}", answer.text().await.unwrap_or_default());
    let placed = owners(&cluster).await;
    let b_shards: Vec<u64> = placed.iter().filter(|(_, o)| o.contains(&b)).map(|(&s, _)| s).collect();
    assert_eq!(b_shards.len(), 1, "the new group has a shard on B: {placed:?}");
    let written = cluster.client().metadata(None, Duration::ZERO).await.expect("metadata").metadata.into_state();
    assert!(!written.is_written(b_shards[0]), "no copy of B's shard was stored or queued: not marked");

    eprintln!("--- B back: its shard holds nothing, and nothing is reported lost");
    cluster.restart_data_node(1);
    wait_for(Duration::from_secs(30), "B reporting again, nothing lost", || async {
        let report = entropy(&cluster).await;
        let reported = report.nodes.iter().all(|n| n.shards_reported.is_some() && n.liveness == Liveness::Online);
        (reported && report.unrecoverable.is_empty() && report.under_replicated.is_empty()).then_some(())
    })
    .await;
    // The first send to the restarted B may go over A's pooled connection to the old process
    // and fail (then dropped by the one-byte queue): the client retries, as it may.
    wait_for(Duration::from_secs(10), "a retried write acknowledged", || async {
        let answer = cluster.http.post(&url).body(lines.join("\n")).send().await.ok()?;
        (answer.status().as_u16() == 204).then_some(())
    })
    .await;
    let state = cluster.client().metadata(None, Duration::ZERO).await.expect("metadata").metadata.into_state();
    assert!(placed.keys().all(|&s| state.is_written(s)), "both shards marked once stored");
}
