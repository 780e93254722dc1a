//! What a repair costs on a large shard: two owners' copies differ by one point, and the owner
//! holding it reads its file for the lines of the points the other lacks (`POST
//! /shards/{id}/points`), the one step of a repair that grows with the shard. Finding the
//! differing leaf is `content_exchange/find_one_differing_leaf_1m_points` in the `content` bench.
//!
//! The shard is 256 MB by default; `REPAIR_BENCH_MB=1024` makes it 1 GB (the figure).
//! Run with `cargo bench -p datad --bench repair`.

use std::collections::BTreeSet;

use criterion::{criterion_group, criterion_main, Criterion};
use datad::content_tree::{ContentTree, DEPTH};
use datad::{ShardHeader, ShardStore, SHARD_FORMAT};

const SHARD: u64 = 1;
const HOUR: i64 = 3_600_000_000_000;
/// Points per stored record (one write).
const PER_RECORD: i64 = 10_000;

fn header() -> ShardHeader {
    ShardHeader {
        format: SHARD_FORMAT,
        cluster_id: "0123456789abcdef0123456789abcdef".to_owned(),
        shard_id: SHARD,
        database: "telegraf".to_owned(),
        retention_policy: "autogen".to_owned(),
        start: 0,
        end: HOUR,
    }
}

/// Record `n`: `PER_RECORD` points of 1,000 series, their times scattered over the whole hour
/// (a multiplicative hash of the point's number), so every leaf of the tree holds points.
fn record(n: i64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..PER_RECORD {
        let point = n * PER_RECORD + i;
        let time = (i128::from(point) * 0x9E37_79B9_7F4A_7C15).rem_euclid(i128::from(HOUR));
        let line = format!(
            "cpu,host=h{},region=eu-west usage_user={}.25,usage_system=3.5,idle=91i {time}\n",
            point % 1000,
            point,
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn repair(c: &mut Criterion) {
    let megabytes: u64 = std::env::var("REPAIR_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ShardStore::open(dir.path()).expect("store");
    let mut tree = ContentTree::new(0, HOUR);
    let mut n = 0;
    while store.summary(SHARD).map_or(0, |s| s.size) < megabytes << 20 {
        let data = record(n);
        tree.insert_record(&data).expect("stored lines");
        store.append(SHARD, &data, &header()).expect("append");
        n += 1;
    }
    // The point the other owner lacks: one from the middle of the file.
    let missing = record(n / 2);
    let line = missing.split(|&b| b == b'\n').nth(1234).expect("a line");
    let (leaf, hash) = tree.locate(line).expect("a stored line");
    let (leaves, hashes) = (BTreeSet::from([leaf]), BTreeSet::from([hash]));
    let lines = store.matching_lines(SHARD, &leaves, &hashes).expect("scan");
    assert_eq!(lines, [line, b"\n"].concat(), "the one missing point's line");
    let size = store.summary(SHARD).map_or(0, |s| s.size);
    let leaf_points = tree.leaf_points(leaf).len() as u64;
    // Exchanged: a digest per tree node asked for (the root, then two children a level, down to
    // the leaf), both leaves' point hashes, and the line.
    let digests = 1 + 2 * u64::from(DEPTH);
    let bytes = digests * 8 + 2 * leaf_points * 8 + lines.len() as u64;
    eprintln!(
        "shard of {} MB, {} points; the differing leaf holds {leaf_points} points; a repair exchanges about \
         {bytes} bytes ({digests} digests, {} point hashes, {} bytes of lines)",
        size >> 20,
        tree.points(),
        2 * leaf_points,
        lines.len()
    );
    let mut group = c.benchmark_group("repair");
    group.sample_size(10);
    group.bench_function(format!("lines_of_one_missing_point_{}mb", size >> 20), |b| {
        b.iter(|| store.matching_lines(SHARD, &leaves, &hashes).expect("scan"))
    });
    group.finish();
}

criterion_group!(benches, repair);
criterion_main!(benches);
