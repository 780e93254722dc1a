//! Snapshot size and the cost of building and restoring one for a cluster of 100k shards:
//! the in-memory copy, encoding, decoding (with the index rebuild), persisting through the
//! RocksDB state machine (encode + fsynced write) and reopening the store from it.
//!
//! `cargo bench -p meta-store --bench snapshot`

// The cluster builders the model's benchmarks use (one copy, in `meta-model`).
#[path = "../../meta-model/benches/common/mod.rs"]
mod common;

use std::io::Cursor;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use meta_model::codec;
use meta_model::MetaState;
use meta_store::storage::{open, SnapshotMetadata};
use openraft::storage::RaftStateMachine;
use openraft::{RaftSnapshotBuilder, StoredMembership};

const SHARDS: usize = 100_000;

fn snapshot(c: &mut Criterion) {
    let state = common::cluster(30, 50, SHARDS);
    let bytes = codec::encode("snapshot", &state).expect("encode");
    eprintln!(
        "snapshot of {} shards in {} shard groups: {} bytes ({:.1} bytes/shard)",
        state.shard_count(),
        state.next_shard_group_id() - 1,
        bytes.len(),
        bytes.len() as f64 / state.shard_count() as f64
    );

    let mut group = c.benchmark_group("snapshot_100k_shards");
    group.sample_size(10);
    group.bench_function("encode", |b| b.iter(|| codec::encode("snapshot", &state).expect("encode")));
    group.bench_function("decode_and_index", |b| b.iter(|| MetaState::decode("snapshot", &bytes).expect("decode")));

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = SnapshotMetadata {
        last_log_id: None,
        last_membership: StoredMembership::default(),
        snapshot_id: "bench".into(),
    };
    runtime.block_on(async {
        let (_log, mut sm) = open(dir.path()).expect("open");
        sm.install_snapshot(&meta, Box::new(Cursor::new(bytes.clone()))).await.expect("install");
    });
    group.bench_function("build_persisted", |b| {
        b.iter_batched(
            || open(dir.path()).expect("open"),
            |(_log, mut sm)| {
                runtime.block_on(async {
                    let mut builder = sm.get_snapshot_builder().await;
                    builder.build_snapshot().await.expect("build")
                })
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("reopen_and_restore", |b| {
        b.iter(|| {
            let (_log, sm) = open(dir.path()).expect("open");
            assert_eq!(sm.read().state.shard_count(), state.shard_count());
        })
    });
    group.finish();
}

criterion_group!(benches, snapshot);
criterion_main!(benches);
