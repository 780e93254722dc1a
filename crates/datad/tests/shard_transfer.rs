//! Shard transfer over real HTTP: a source node's peer routes on 127.0.0.1:0 and the copy
//! worker's [`Transfer`] pulling from them into another data dir: chunked, resumable, verified.

use std::sync::Arc;

use datad::{peer_router, DatadError, DigestReply, ShardHeader, ShardStore, Transfer, SHARD_FORMAT};
use meta_model::ShardId;
use meta_wire::ErrorReply;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use xxhash_rust::xxh3::xxh3_64;

const SHARD: ShardId = 17;
const CHUNK: u64 = 16 * 1024;

/// The header of [`SHARD`] on every node of these tests.
fn header() -> ShardHeader {
    ShardHeader {
        format: SHARD_FORMAT,
        cluster_id: "0123456789abcdef0123456789abcdef".to_owned(),
        shard_id: SHARD,
        database: "telegraf".to_owned(),
        retention_policy: "autogen".to_owned(),
        start: 1_699_999_200_000_000_000,
        end: 1_700_002_800_000_000_000,
    }
}

/// A source node holding shard [`SHARD`] (a few hundred KB of line protocol), serving it.
struct Source {
    _dir: tempfile::TempDir,
    store: Arc<ShardStore>,
    /// Its base URL.
    addr: String,
    content: Vec<u8>,
}

async fn source() -> Source {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(ShardStore::open(dir.path()).expect("open source store"));
    let mut lines = Vec::new();
    for i in 0..8_000u64 {
        let line =
            format!("cpu,host=h{} usage={},msg=\"busy {}\" {}\n", i % 7, i * 3, i, 1_700_000_000_000_000_000 + i);
        lines.extend_from_slice(line.as_bytes());
    }
    // Several appends, as writes would arrive.
    for part in lines.chunks(50_000) {
        store.append(SHARD, part, &header()).expect("append");
    }
    let content = std::fs::read(store.shard_path(SHARD)).expect("the shard file");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("addr"));
    // The source's metadata is at index 5 for these tests.
    let app = peer_router(Arc::clone(&store), Arc::new(|| Some(5)));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Source { _dir: dir, store, addr, content }
}

fn target() -> (tempfile::TempDir, Arc<ShardStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(ShardStore::open(dir.path()).expect("open target store"));
    (dir, store)
}

/// Pulls every remaining chunk; returns how many requests it took.
async fn finish(transfer: &mut Transfer) -> Result<usize, DatadError> {
    let mut chunks = 0;
    while !transfer.is_complete() {
        transfer.next_chunk().await?;
        chunks += 1;
    }
    Ok(chunks)
}

#[tokio::test]
async fn copy_in_small_chunks_gives_identical_bytes_and_checksum() {
    let source = source().await;
    assert!(source.content.len() > 300_000, "a shard of a few hundred KB");
    let (_dir, target) = target();
    let http = reqwest::Client::new();
    let mut transfer = Transfer::start(&http, &source.addr, SHARD, &target, CHUNK, None).await.expect("start");
    assert_eq!((transfer.bytes_done(), transfer.bytes_total()), (0, source.content.len() as u64));
    let chunks = finish(&mut transfer).await.expect("download");
    assert_eq!(chunks as u64, (source.content.len() as u64).div_ceil(CHUNK));
    let summary = transfer.install(Arc::clone(&target), header()).await.expect("install");

    assert_eq!(Some(summary), target.summary(SHARD));
    assert_eq!(source.store.summary(SHARD).map(|s| s.checksum), Some(summary.checksum));
    assert_eq!(summary.checksum, xxh3_64(&source.content));
    assert_eq!(std::fs::read(target.shard_path(SHARD)).expect("read copy"), source.content);
    assert!(!target.partial_path(SHARD).exists(), "the partial file became the shard file");
}

#[tokio::test]
async fn interrupted_copy_resumes_from_the_partial_length_even_after_a_restart() {
    let source = source().await;
    let (dir, target) = target();
    let http = reqwest::Client::new();
    let mut first = Transfer::start(&http, &source.addr, SHARD, &target, CHUNK, None).await.expect("start");
    for _ in 0..5 {
        first.next_chunk().await.expect("chunk");
    }
    drop(first); // interrupted: the worker stopped or the node went down
    assert_eq!(std::fs::metadata(target.partial_path(SHARD)).expect("partial kept").len(), 5 * CHUNK);

    // The node restarts: a fresh store on the same directory, a fresh transfer.
    drop(target);
    let target = Arc::new(ShardStore::open(dir.path()).expect("reopen"));
    assert_eq!(target.summary(SHARD), None, "a partial copy is not a shard");
    let mut resumed = Transfer::start(&http, &source.addr, SHARD, &target, CHUNK, None).await.expect("restart");
    assert_eq!(resumed.bytes_done(), 5 * CHUNK, "resumes after the bytes it has");
    let chunks = finish(&mut resumed).await.expect("download the rest");
    assert_eq!(chunks as u64, (source.content.len() as u64 - 5 * CHUNK).div_ceil(CHUNK));
    let summary = resumed.install(Arc::clone(&target), header()).await.expect("install");
    assert_eq!(summary.checksum, xxh3_64(&source.content));
    assert_eq!(std::fs::read(target.shard_path(SHARD)).expect("read copy"), source.content);
}

#[tokio::test]
async fn corrupted_partial_is_caught_by_the_checksum_and_deleted() {
    let source = source().await;
    let (_dir, target) = target();
    let http = reqwest::Client::new();
    let mut first = Transfer::start(&http, &source.addr, SHARD, &target, CHUNK, None).await.expect("start");
    for _ in 0..3 {
        first.next_chunk().await.expect("chunk");
    }
    drop(first);
    let partial = target.partial_path(SHARD);
    let mut bytes = std::fs::read(&partial).expect("read partial");
    bytes[100] ^= 0x20;
    std::fs::write(&partial, &bytes).expect("corrupt partial");

    let mut resumed = Transfer::start(&http, &source.addr, SHARD, &target, CHUNK, None).await.expect("restart");
    finish(&mut resumed).await.expect("download the rest");
    match resumed.install(Arc::clone(&target), header()).await {
        Err(DatadError::ChecksumMismatch { shard_id, expected, actual }) => {
            assert_eq!(shard_id, SHARD);
            assert_eq!(expected, xxh3_64(&source.content));
            assert_ne!(actual, expected);
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert!(!partial.exists(), "the corrupt partial is deleted so the retry starts over");
    assert_eq!(target.summary(SHARD), None, "no shard file was installed");
}

#[tokio::test]
async fn partial_longer_than_the_shard_starts_over() {
    let source = source().await;
    let (_dir, target) = target();
    let too_long = vec![b'x'; source.content.len() + 10];
    std::fs::write(target.partial_path(SHARD), too_long).expect("write partial");
    let http = reqwest::Client::new();
    let mut transfer = Transfer::start(&http, &source.addr, SHARD, &target, CHUNK, None).await.expect("start");
    assert_eq!(transfer.bytes_done(), 0);
    finish(&mut transfer).await.expect("download");
    transfer.install(Arc::clone(&target), header()).await.expect("install");
    assert_eq!(std::fs::read(target.shard_path(SHARD)).expect("read copy"), source.content);
}

#[tokio::test]
async fn hot_shard_copy_takes_the_bytes_present_when_it_started() {
    let source = source().await;
    let (_dir, target) = target();
    let http = reqwest::Client::new();
    let mut transfer = Transfer::start(&http, &source.addr, SHARD, &target, CHUNK, None).await.expect("start");
    transfer.next_chunk().await.expect("chunk");
    source.store.append(SHARD, b"cpu,host=late usage=1 1\n", &header()).expect("a write during the copy");
    finish(&mut transfer).await.expect("download");
    let summary = transfer.install(Arc::clone(&target), header()).await.expect("install");
    assert_eq!(summary.size, source.content.len() as u64);
    assert_eq!(summary.checksum, xxh3_64(&source.content));
}

#[tokio::test]
async fn unreachable_or_missing_sources_are_errors() {
    let source = source().await;
    let (_dir, target) = target();
    let http = reqwest::Client::new();
    let missing = Transfer::start(&http, &source.addr, 999, &target, CHUNK, None).await.expect_err("no such shard");
    assert!(matches!(&missing, DatadError::Peer { message, .. } if message.contains("shard_not_found")), "{missing}");

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let dead = Transfer::start(&http, &dead_addr, SHARD, &target, CHUNK, None).await.expect_err("nobody listens");
    assert!(matches!(dead, DatadError::Peer { .. }), "{dead}");
}

async fn error_code(response: reqwest::Response) -> String {
    response.json::<ErrorReply>().await.expect("JSON error body").error.code
}

#[tokio::test]
async fn range_and_digest_edge_cases() {
    let source = source().await;
    let size = source.content.len() as u64;
    let http = reqwest::Client::new();
    let url = format!("{}/shards/{SHARD}", source.addr);

    let whole = http.get(&url).send().await.expect("GET");
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.bytes().await.expect("body"), source.content);

    let first = http.get(&url).header(RANGE, "bytes=0-0").send().await.expect("GET");
    assert_eq!(first.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(first.headers()[CONTENT_RANGE], format!("bytes 0-0/{size}").as_str());
    assert_eq!(first.bytes().await.expect("body"), &source.content[..1]);

    let tail = http.get(&url).header(RANGE, "bytes=-10").send().await.expect("GET");
    assert_eq!(tail.headers()[CONTENT_RANGE], format!("bytes {}-{}/{size}", size - 10, size - 1).as_str());
    assert_eq!(tail.bytes().await.expect("body"), &source.content[source.content.len() - 10..]);

    let past_end = http.get(&url).header(RANGE, format!("bytes={size}-")).send().await.expect("GET");
    assert_eq!(past_end.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past_end.headers()[CONTENT_RANGE], format!("bytes */{size}").as_str());
    assert_eq!(error_code(past_end).await, "range_not_satisfiable");

    let backwards = http.get(&url).header(RANGE, "bytes=9-3").send().await.expect("GET");
    assert_eq!(backwards.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let missing = http.get(format!("{}/shards/999", source.addr)).send().await.expect("GET");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(missing).await, "shard_not_found");

    let bad_id = http.get(format!("{}/shards/abc", source.addr)).send().await.expect("GET");
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(bad_id).await, "invalid_path");

    let digest: DigestReply = http.get(format!("{url}/digest")).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(digest, DigestReply { size, len: size, checksum: xxh3_64(&source.content) });
    let prefix: DigestReply =
        http.get(format!("{url}/digest?len=100")).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(prefix, DigestReply { size, len: 100, checksum: xxh3_64(&source.content[..100]) });
    // A copy starts only from a source whose metadata is as new as the target's task.
    let caught_up: DigestReply =
        http.get(format!("{url}/digest?min_index=5")).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(caught_up, digest);
    let behind = http.get(format!("{url}/digest?min_index=6")).send().await.expect("GET");
    assert_eq!(behind.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(behind).await, "metadata_behind");
    let too_long = http.get(format!("{url}/digest?len={}", size + 1)).send().await.expect("GET");
    assert_eq!(too_long.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(error_code(too_long).await, "range_not_satisfiable");
    let missing_digest = http.get(format!("{}/shards/999/digest", source.addr)).send().await.expect("GET");
    assert_eq!(missing_digest.status(), StatusCode::NOT_FOUND);
}
