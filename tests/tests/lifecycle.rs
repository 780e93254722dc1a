//! Shard-group lifecycle as operators drive it, with real processes: `truncate-shards` with data
//! written ahead of time cuts only the groups that hold its time, so a point written again lands
//! in the group that already holds it, never in a second group over the same range; one write
//! creates a bounded number of groups; retention refuses old points, deletes expired groups (and
//! the data node their files), then forgets them; the leader precreates the next group; points
//! too far ahead or at the edges of time are refused, naming the line.

use std::time::Duration;

use cluster_harness::{try_wait_for, wait_for, Cluster};
use meta_wire::{GroupStatus, ShardInfo};
use scenarios::{cluster_with_one_data_node, configured_cluster_with_one_data_node, metactl};

const DAY: i64 = 86_400_000_000_000;
const HOUR: i64 = 3_600_000_000_000;

fn ok(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}{stdout}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_shards_leaves_future_groups_alone_and_a_point_keeps_its_one_group() {
    let (cluster, slot) = cluster_with_one_data_node(&[]).await;
    let addr = cluster.data_addr(slot).to_owned();
    ok(&metactl(&cluster, &["create-database", "db", "--replication", "1", "--shard-duration", "72h"]).await);
    let ahead = meta_model::wall_clock() + 10 * DAY;
    let point = format!("cpu,host=a v=1 {ahead}");
    let write = || cluster.http.post(format!("http://{addr}/write?db=db")).body(point.clone()).send();
    assert_eq!(write().await.expect("write").status().as_u16(), 204);
    let truncated = ok(&metactl(&cluster, &["truncate-shards", "--delay", "1s"]).await);
    eprintln!("{truncated}");
    assert_eq!(write().await.expect("write again").status().as_u16(), 204);
    let groups = cluster.client().shard_groups("db", None, ahead - 1, ahead + 1).await.expect("groups").shard_groups;
    assert_eq!(groups.len(), 1, "one group holds the point: {groups:?}");
    assert_eq!(groups[0].truncated_at, None, "the future group was not cut: {groups:?}");
    let shards = cluster.client().shards().await.expect("shards");
    assert_eq!(shards.len(), 1, "{shards:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_write_creates_a_bounded_number_of_shard_groups() {
    let (cluster, slot) = cluster_with_one_data_node(&["--max-new-shard-groups", "8"]).await;
    let addr = cluster.data_addr(slot).to_owned();
    ok(&metactl(&cluster, &["create-database", "db", "--replication", "1", "--shard-duration", "1h"]).await);
    let start = 1_704_067_200_000_000_000;
    let body =
        |hours: i64| (0..hours).map(|h| format!("cpu v={h} {}", start + h * HOUR)).collect::<Vec<_>>().join("\n");
    let write = |body: String| cluster.http.post(format!("http://{addr}/write?db=db")).body(body).send();

    let refused = write(body(500)).await.expect("answer");
    assert_eq!(refused.status().as_u16(), 400);
    let message = refused.text().await.expect("body");
    assert!(message.contains("too_many_shard_groups") && message.contains("line 9:"), "{message}");
    let groups = cluster.client().shard_groups("db", None, start, start + 500 * HOUR).await.expect("groups");
    assert!(groups.shard_groups.is_empty(), "nothing was created: {groups:?}");

    assert_eq!(write(body(8)).await.expect("answer").status().as_u16(), 204, "eight new groups are within the bound");
    assert_eq!(write(body(16)).await.expect("answer").status().as_u16(), 204, "eight existing and eight new");
}

/// `POST /write?db=DB[&rp=RP]` to the data node in `slot`; the status and the body.
async fn write(cluster: &Cluster, slot: usize, query: &str, body: String) -> (u16, String) {
    let url = format!("http://{}/write?{query}", cluster.data_addr(slot));
    let answer = cluster.http.post(url).body(body).send().await.expect("write answered");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

async fn shards(cluster: &Cluster) -> Vec<ShardInfo> {
    let listed = ok(&metactl(cluster, &["show-shards", "--json"]).await);
    let value: serde_json::Value = serde_json::from_str(&listed).expect("show-shards --json is JSON");
    serde_json::from_value(value["shards"].clone()).expect("shards")
}

/// The leader's `/metrics` value of `name` (0 when absent).
async fn leader_metric(cluster: &Cluster, name: &str) -> u64 {
    let leader = cluster.leader(Duration::from_secs(10)).await;
    let text = cluster.http.get(cluster.url(leader, "/metrics")).send().await.expect("metrics");
    let text = text.text().await.expect("metrics text");
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_refuses_old_points_deletes_expired_groups_and_their_files_then_forgets_them() {
    let toml = "[retention]\ncheck-interval = \"1s\"\nprune-after = \"3s\"\n";
    let (cluster, slot) = configured_cluster_with_one_data_node(toml, &["--shard-delete-grace", "1s"]).await;
    ok(&metactl(
        &cluster,
        &["create-database", "x", "--duration", "1h", "--shard-duration", "1h", "--replication", "1"],
    )
    .await);
    let now = meta_model::wall_clock();

    // Points 3 h and 5 h old are dropped one by one (InfluxDB's partial write); the current one
    // is stored; no group is made for the old ones.
    let body = format!("cpu v=1 {now}\ncpu v=2 {}\ncpu v=3 {}", now - 3 * HOUR, now - 5 * HOUR);
    let (status, text) = write(&cluster, slot, "db=x", body).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("partial_write") && text.contains("dropped=2"), "{text}");
    assert!(text.contains("line 2:") && text.contains("line 3:") && !text.contains("line 1:"), "{text}");
    let groups = cluster.client().shard_groups("x", None, now - 6 * HOUR, now + HOUR).await.expect("groups");
    assert_eq!(groups.shard_groups.len(), 1, "only the current point made a group: {groups:?}");
    let (status, text) = write(&cluster, slot, "db=x", format!("cpu v=4 {}", now - 3 * HOUR)).await;
    assert!(status == 400 && text.contains("dropped=1"), "{status} {text}");

    // A policy kept forever shows no expiry; shortening it expires its old group at once.
    ok(&metactl(
        &cluster,
        &["create-retention-policy", "x", "forever", "--duration", "0", "--shard-duration", "1h", "--replication", "1"],
    )
    .await);
    let (status, text) = write(&cluster, slot, "db=x&rp=forever", format!("mem v=1 {}", now - 5 * HOUR)).await;
    assert_eq!(status, 204, "{text}");
    let old = shards(&cluster).await.into_iter().find(|s| s.retention_policy == "forever").expect("the old shard");
    assert_eq!((old.expires, old.status), (None, GroupStatus::Live), "{old:?}");
    let table = ok(&metactl(&cluster, &["show-shards"]).await);
    assert!(table.contains("Status"), "{table}");
    wait_for(Duration::from_secs(10), "the data node holds the old shard", || async {
        cluster.data_status(slot).await.filter(|s| s.holds(old.id)).map(drop)
    })
    .await;
    ok(&metactl(&cluster, &["alter-retention-policy", "x", "forever", "--duration", "1h"]).await);

    // Retention deletes the group (shown as deleted, its expiry the end plus one hour), the data
    // node deletes its file after the grace, and the group is forgotten after prune-after.
    let deleted = wait_for(Duration::from_secs(15), "retention deleting the expired group", || async {
        shards(&cluster).await.into_iter().find(|s| s.id == old.id && s.status == GroupStatus::Deleted)
    })
    .await;
    assert_eq!(deleted.expires, Some(deleted.end + HOUR), "{deleted:?}");
    assert!(deleted.deleted_at.is_some(), "{deleted:?}");
    let table = ok(&metactl(&cluster, &["show-shards"]).await);
    assert!(table.contains("deleted 20"), "the table says when: {table}");
    let file = cluster.data_dir(slot).join("shards").join(format!("{}.shard", old.id));
    wait_for(Duration::from_secs(15), "the data node deleting the file", || async {
        let status = cluster.data_status(slot).await?;
        (!status.holds(old.id) && status.deleted_shards >= 1 && !file.exists()).then_some(())
    })
    .await;
    wait_for(Duration::from_secs(15), "the deleted group forgotten", || async {
        shards(&cluster).await.iter().all(|s| s.id != old.id).then_some(())
    })
    .await;
    assert!(leader_metric(&cluster, "metad_retention_groups_deleted_total").await >= 1);
    // The current group of the one-hour policy is untouched, and so is its data.
    let current = shards(&cluster).await;
    assert!(current.iter().any(|s| s.retention_policy != "forever" && s.status == GroupStatus::Live), "{current:?}");
    let status = cluster.data_status(slot).await.expect("status");
    assert_eq!(status.shards.len(), 1, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_precreates_groups_and_refuses_points_too_far_ahead_or_at_the_edges_of_time() {
    let toml = "[retention]\nenabled = false\n[shard-precreation]\ncheck-interval = \"1s\"\nadvance-period = \"2h\"\n\
                [shard-groups]\nmax-future = \"7d\"\n";
    let (cluster, slot) = configured_cluster_with_one_data_node(toml, &[]).await;
    ok(&metactl(
        &cluster,
        &["create-database", "db", "--duration", "1h", "--shard-duration", "1h", "--replication", "1"],
    )
    .await);
    let now = meta_model::wall_clock();
    let (status, text) = write(&cluster, slot, "db=db", format!("cpu v=1 {now}")).await;
    assert_eq!(status, 204, "{text}");

    // Precreation: the next hour's group appears without a write.
    let next = now.div_euclid(HOUR) * HOUR + HOUR;
    wait_for(Duration::from_secs(15), "the next group precreated", || async {
        let groups = cluster.client().shard_groups("db", None, next, next + 1).await.ok()?;
        groups.shard_groups.iter().any(|g| g.start == next).then_some(())
    })
    .await;
    assert!(leader_metric(&cluster, "metad_precreation_groups_created_total").await >= 1);

    // Ten days ahead is past the seven-day window: refused through the data node, naming the
    // line, and through the API; nothing is created.
    let ahead = now + 10 * DAY;
    let (status, text) = write(&cluster, slot, "db=db", format!("cpu v=1 {now}\ncpu v=2 {ahead}")).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("partial_write") && text.contains("line 2:") && text.contains("dropped=1"), "{text}");
    let refused = cluster.client().create_shard_group("db", None, ahead).await.expect_err("refused");
    assert!(refused.to_string().contains("timestamp_too_far_ahead"), "{refused}");
    let groups = cluster.client().shard_groups("db", None, ahead - DAY, ahead + DAY).await.expect("groups");
    assert!(groups.shard_groups.is_empty(), "{groups:?}");
    // Six days ahead is within it.
    let (status, text) = write(&cluster, slot, "db=db", format!("cpu v=3 {}", now + 6 * DAY)).await;
    assert_eq!(status, 204, "{text}");

    // The edges of time: refused, never clamped into a group.
    ok(&metactl(&cluster, &["create-retention-policy", "db", "forever", "--duration", "0", "--replication", "1"])
        .await);
    for extreme in ["9223372036854775806", "-9223372036854775806"] {
        let body = format!("cpu v=1 {now}\ncpu v=2 {extreme}");
        let (status, text) = write(&cluster, slot, "db=db&rp=forever", body).await;
        assert_eq!(status, 400, "{extreme}: {text}");
        assert!(text.contains("line 2:") && text.contains("dropped=1"), "{extreme}: {text}");
    }
    let extremes = cluster.client().shard_groups("db", Some("forever"), i64::MIN, i64::MAX).await.expect("groups");
    assert_eq!(extremes.shard_groups.len(), 1, "only the current point's group: {extremes:?}");
    let refused = cluster.client().create_shard_group("db", Some("forever"), -9_223_372_036_854_775_806).await;
    assert!(refused.expect_err("refused").to_string().contains("invalid_timestamp"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_nodes_delete_the_files_of_dropped_and_moved_shards_after_the_grace() {
    let grace = ["--shard-delete-grace", "2s"];
    let (mut cluster, a) = cluster_with_one_data_node(&grace).await;
    let b = cluster.start_data_node(&grace);
    ok(&metactl(&cluster, &["add-data", cluster.data_addr(b)]).await);
    wait_for(Duration::from_secs(20), "the second data node registered", || async {
        cluster.data_status(b).await.filter(|s| s.registered).map(drop)
    })
    .await;
    for db in ["keep", "gone"] {
        ok(&metactl(&cluster, &["create-database", db, "--replication", "1"]).await);
        let (status, text) =
            write(&cluster, a, &format!("db={db}"), format!("cpu v=1 {}", meta_model::wall_clock())).await;
        assert_eq!(status, 204, "{text}");
    }
    // Each database's point went to one shard on one node: find who holds which.
    let written = |db: &'static str| {
        let cluster = &cluster;
        async move {
            wait_for(Duration::from_secs(10), "the written shard held", || async {
                for shard in shards(cluster).await.into_iter().filter(|s| s.database == db) {
                    for slot in [a, b] {
                        if cluster.data_status(slot).await.is_some_and(|s| s.holds(shard.id)) {
                            return Some((shard.clone(), slot));
                        }
                    }
                }
                None
            })
            .await
        }
    };
    let (gone, gone_slot) = written("gone").await;
    let (kept, source) = written("keep").await;

    // A dropped database's shard files go once the grace has passed.
    ok(&metactl(&cluster, &["drop-database", "gone"]).await);
    wait_for(Duration::from_secs(15), "the dropped shard's file deleted", || async {
        let status = cluster.data_status(gone_slot).await?;
        (!status.holds(gone.id) && status.deleted_shards >= 1).then_some(())
    })
    .await;
    assert!(!cluster.data_dir(gone_slot).join("shards").join(format!("{}.shard", gone.id)).exists());

    // A shard copied elsewhere and taken off its first owner: that owner lists it as retiring,
    // then deletes its file; the new owner keeps its copy.
    let target = if source == a { b } else { a };
    let (from, to) = (cluster.data_addr(source).to_owned(), cluster.data_addr(target).to_owned());
    ok(&metactl(&cluster, &["copy-shard", &from, &to, &kept.id.to_string(), "--wait"]).await);
    ok(&metactl(&cluster, &["remove-shard", &from, &kept.id.to_string()]).await);
    let retiring = wait_for(Duration::from_secs(10), "the moved shard listed as retiring", || async {
        let status = cluster.data_status(source).await?;
        status.retiring.into_iter().find(|r| r.shard_id == kept.id)
    })
    .await;
    assert_eq!(retiring.reason, meta_wire::RetireReason::NotOwner, "{retiring:?}");
    wait_for(Duration::from_secs(15), "the moved shard's old file deleted", || async {
        let status = cluster.data_status(source).await?;
        (!status.holds(kept.id)).then_some(())
    })
    .await;
    let status = cluster.data_status(target).await.expect("status");
    assert!(status.holds(kept.id) && status.retiring.is_empty() && status.deleted_shards == 0, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_copy_of_written_data_is_never_deleted() {
    let grace = ["--shard-delete-grace", "1s"];
    let (mut cluster, a) = cluster_with_one_data_node(&grace).await;
    ok(&metactl(&cluster, &["create-database", "db", "--replication", "1"]).await);
    let (status, text) = write(&cluster, a, "db=db", format!("cpu v=1 {}", meta_model::wall_clock())).await;
    assert_eq!(status, 204, "{text}");
    let shard = shards(&cluster).await.into_iter().find(|s| s.written).expect("the written shard");
    let addr = cluster.data_addr(a).to_owned();
    let file = cluster.data_dir(a).join("shards").join(format!("{}.shard", shard.id));

    // remove-shard of the only owner of a shard with data is refused unless forced.
    let refused = metactl(&cluster, &["remove-shard", &addr, &shard.id.to_string()]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("last_owner"), "{stderr}");
    ok(&metactl(&cluster, &["remove-shard", &addr, &shard.id.to_string(), "--force"]).await);
    // Forced, the shard has no owner: its file is the only copy, and stays while the one-second
    // grace passes four times over.
    let retired = try_wait_for(Duration::from_secs(4), || async {
        let status = cluster.data_status(a).await?;
        (!status.retiring.is_empty() || !file.exists()).then_some(status)
    })
    .await;
    assert!(retired.is_none(), "the only copy was judged retiring or deleted: {retired:?}");

    // A second node gets a copy of another shard; the copy there is then cut short, and the
    // first owner is removed: the first node keeps its file, saying why, since the new owner
    // lacks points of it.
    let b = cluster.start_data_node(&grace);
    ok(&metactl(&cluster, &["add-data", cluster.data_addr(b)]).await);
    wait_for(Duration::from_secs(20), "the second data node registered", || async {
        cluster.data_status(b).await.filter(|s| s.registered).map(drop)
    })
    .await;
    ok(&metactl(&cluster, &["create-database", "two", "--replication", "1"]).await);
    let now = meta_model::wall_clock();
    let (status, text) = write(&cluster, a, "db=two", format!("cpu,host=a v=1 {now}")).await;
    assert_eq!(status, 204, "{text}");
    let (moved, holder) = wait_for(Duration::from_secs(10), "the written shard of db two held", || async {
        for shard in shards(&cluster).await.into_iter().filter(|s| s.database == "two") {
            for slot in [a, b] {
                if cluster.data_status(slot).await.is_some_and(|s| s.holds(shard.id)) {
                    return Some((shard, slot));
                }
            }
        }
        None
    })
    .await;
    let other = if holder == a { b } else { a };
    let (from, to) = (cluster.data_addr(holder).to_owned(), cluster.data_addr(other).to_owned());
    ok(&metactl(&cluster, &["copy-shard", &from, &to, &moved.id.to_string(), "--wait"]).await);
    let size =
        cluster.data_status(other).await.and_then(|s| s.shards.iter().find(|s| s.shard_id == moved.id).map(|s| s.size));
    let (status, text) = write(&cluster, holder, "db=two", format!("cpu,host=a v=2 {}", now + 1)).await;
    assert_eq!(status, 204, "{text}");
    wait_for(Duration::from_secs(10), "both copies hold the second point", || async {
        let content = cluster.data_status(other).await?.content.into_iter().find(|c| c.shard_id == moved.id)?;
        (content.points == 2).then_some(())
    })
    .await;
    cluster.kill_data_node(other);
    let cut = cluster.data_dir(other).join("shards").join(format!("{}.shard", moved.id));
    let handle = std::fs::OpenOptions::new().write(true).open(&cut).expect("open the copy");
    handle.set_len(size.expect("the copy's size")).expect("cut the second point off the copy");
    drop(handle);
    cluster.restart_data_node(other);
    wait_for(Duration::from_secs(20), "the second node back with one point", || async {
        let content = cluster.data_status(other).await?.content.into_iter().find(|c| c.shard_id == moved.id)?;
        (content.points == 1).then_some(())
    })
    .await;
    ok(&metactl(&cluster, &["remove-shard", &from, &moved.id.to_string()]).await);
    let kept = wait_for(Duration::from_secs(15), "the first node keeping its file, saying why", || async {
        let status = cluster.data_status(holder).await?;
        status.retiring.into_iter().find(|r| r.shard_id == moved.id && r.kept_because.is_some())
    })
    .await;
    assert!(kept.kept_because.as_deref().is_some_and(|why| why.contains("lacks points")), "{kept:?}");
    assert!(cluster.data_status(holder).await.expect("status").holds(moved.id));
}
