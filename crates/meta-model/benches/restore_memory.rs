//! Heap of a restore in parts, as a meta node applies it: every part prepared under the read
//! lock ([`MetaState::prepare`]) and applied with what was prepared, on a cluster of three meta
//! nodes. Prints the heap the restored state holds afterwards and the peak while the parts
//! applied; the difference is what the restore needs beyond the state it leaves. Measured with
//! dhat's heap profiler (every allocation counted, exactly); its profile of the peak is written to
//! `dhat-restore.json` in cargo's temporary directory of the target dir (`target/tmp`; open it with
//! dhat's viewer, `dh_view.html`).
//!
//! `cargo bench -p meta-model --bench restore_memory` (a million shards: `RESTORE_SHARDS`
//! changes it).

mod common;

use meta_model::{Command, MetaState};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// The part size `metad` splits a backup into (`metactl restore`).
const PART_BYTES: usize = 256 * 1024;

fn main() {
    let shards = std::env::var("RESTORE_SHARDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let (parts, bytes, expected) = {
        let source = common::cluster(1_000, 1, shards);
        let record = source.to_record();
        let parts = Command::restore_in_parts(&record, 1, PART_BYTES).expect("the backup encodes");
        let bytes = meta_model::codec::encode("backup record", &record).expect("the backup encodes").len();
        (parts, bytes, source.shard_count())
    };
    let mut target = MetaState::new();
    for id in 1..=3 {
        common::apply(&mut target, &Command::AddMetaNode { node_id: Some(id), addr: format!("meta-{id}:8091") });
    }

    let profiler =
        dhat::Profiler::builder().file_name(concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-restore.json")).build();
    let before = dhat::HeapStats::get().curr_bytes;
    for part in &parts {
        let prepared = target.prepare(part);
        let (result, _changes) = target.apply_prepared_tracked(part, prepared);
        result.expect("the part applies");
    }
    let stats = dhat::HeapStats::get();
    assert_eq!(target.shard_count(), expected, "every shard restored");
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let state = stats.curr_bytes.saturating_sub(before);
    println!(
        "restore of {} shards ({:.1} MiB encoded, {} parts): state {:.1} MiB, peak {:.1} MiB, transient {:.1} MiB \
         ({} allocations)",
        target.shard_count(),
        mib(bytes),
        parts.len(),
        mib(state),
        mib(stats.max_bytes.saturating_sub(before)),
        mib(stats.max_bytes.saturating_sub(stats.curr_bytes)),
        stats.total_blocks,
    );
    drop(profiler);
}
