//! The upkeep of a shard's content digest: what a data node pays per written point, and what an
//! exchange between two owners costs to find one differing leaf.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use datad::content_tree::{children_of, still_differing, ContentTree, NodeId, DEPTH};

const HOUR: i64 = 3_600_000_000_000;
const POINTS: u64 = 10_000;

/// One write's record of `POINTS` points of 100 series across an hour, as the write path stores
/// them.
fn record(offset: i64) -> Vec<u8> {
    let mut record = Vec::new();
    for i in 0..POINTS as i64 {
        let line = format!("cpu,host=h{},region=eu usage={}.5,idle=3i {}\n", i % 100, i, offset + i * 360_000_000);
        record.extend_from_slice(line.as_bytes());
    }
    record
}

fn upkeep(c: &mut Criterion) {
    let mut group = c.benchmark_group("content_digest");
    group.throughput(Throughput::Elements(POINTS));
    let fresh = record(0);
    group.bench_function("new_points", |b| {
        b.iter_batched(
            || ContentTree::new(0, HOUR),
            |mut tree| tree.insert_record(&fresh).map(|_| tree),
            BatchSize::LargeInput,
        );
    });
    let mut full = ContentTree::new(0, HOUR);
    full.insert_record(&fresh).expect("stored lines");
    group.bench_function("duplicate_points", |b| {
        b.iter_batched(|| full.clone(), |mut tree| tree.insert_record(&fresh).map(|_| tree), BatchSize::LargeInput);
    });
    group.finish();

    // Two copies of 1,000,000 points that differ by one: the digests compared to find it.
    let mut ours = ContentTree::new(0, HOUR);
    for hour_part in 0..100 {
        ours.insert_record(&record(hour_part)).expect("stored lines");
    }
    let mut theirs = ours.clone();
    theirs.insert_line(b"cpu,host=extra usage=1 42").expect("a stored line");
    c.bench_function("content_exchange/find_one_differing_leaf_1m_points", |b| {
        b.iter(|| {
            let mut differing = vec![NodeId::ROOT];
            let mut asked = 1u64;
            while differing.first().is_some_and(|n| n.level < DEPTH) {
                let nodes = children_of(&differing);
                asked += nodes.len() as u64;
                let digests: Vec<u64> = nodes.iter().map(|&n| theirs.digest(n)).collect();
                differing = still_differing(&ours, &nodes, &digests);
            }
            std::hint::black_box((differing, asked))
        });
    });
}

criterion_group!(benches, upkeep);
criterion_main!(benches);
