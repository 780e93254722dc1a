//! Reclaiming the disk of abandoned copies: a `{id}.partial` file that no copy of this node works
//! on (the task was killed, cancelled or moved to another node) is kept `--partial-ttl` after its
//! last write, so a retry resumes from it, and deleted then. Until then its bytes show in
//! `/status` as `reclaimable_bytes`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::node::Node;

/// Shortest and longest pause between two looks at the partial files.
const MIN_PERIOD: Duration = Duration::from_millis(100);
const MAX_PERIOD: Duration = Duration::from_secs(60);

/// Looks for expired partial copies forever (until the task is aborted).
pub(crate) async fn run(node: Arc<Node>) {
    let period = (node.config.partial_ttl / 4).clamp(MIN_PERIOD, MAX_PERIOD);
    loop {
        tokio::time::sleep(period).await;
        let freed = reclaim(&node, SystemTime::now());
        node.metrics.reclaimed(freed);
    }
}

/// Deletes the partial copies that no task works on and that were last written `partial_ttl`
/// or longer before `now`; returns the bytes freed.
pub(crate) fn reclaim(node: &Node, now: SystemTime) -> u64 {
    let ttl = node.config.partial_ttl;
    let mut freed = 0;
    for partial in node.store.partials() {
        let age = now.duration_since(partial.modified).unwrap_or_default();
        if age < ttl {
            continue;
        }
        let mut outcome = Ok(());
        let idle = node.when_not_copying(partial.shard_id, || outcome = node.store.remove_partial(partial.shard_id));
        match outcome {
            Ok(()) if idle => {
                freed += partial.bytes;
                tracing::info!(
                    shard_id = partial.shard_id,
                    bytes = partial.bytes,
                    ?age,
                    "abandoned partial copy deleted"
                );
            }
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(shard_id = partial.shard_id, %error, "cannot delete an abandoned partial copy")
            }
        }
    }
    freed
}

/// Bytes of the partial copies no task works on now: what reclaiming will free.
pub(crate) fn reclaimable_bytes(node: &Node) -> u64 {
    node.store.partials().iter().filter(|p| !node.is_copying(p.shard_id)).map(|p| p.bytes).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Cli;
    use crate::shard_store::ShardStore;
    use clap::Parser;

    fn node(dir: &std::path::Path) -> Node {
        let data_dir = dir.to_str().expect("utf-8");
        let flags = ["datad", "--meta", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--data-dir", data_dir];
        let config = Cli::try_parse_from(flags.iter().chain(&["--partial-ttl", "1h"])).expect("flags");
        let config = config.into_config().expect("config");
        let store = ShardStore::open(dir).expect("store");
        let client = meta_client::Client::new(["127.0.0.1:1"]).expect("client");
        let handoff = crate::handoff::Handoff::open(dir, config.handoff).expect("handoff");
        Node::new(config, "127.0.0.1:1".into(), client, store, handoff).expect("node")
    }

    #[test]
    fn abandoned_partials_go_after_their_ttl_and_running_copies_keep_theirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = node(dir.path());
        std::fs::write(node.store.partial_path(4), b"abandoned").expect("write");
        std::fs::write(node.store.partial_path(5), b"in flight").expect("write");
        assert!(node.try_start_task(70, 5));
        assert_eq!(reclaimable_bytes(&node), 9, "only the abandoned copy counts");

        let now = SystemTime::now();
        assert_eq!(reclaim(&node, now), 0, "kept for its ttl: a retry resumes from it");
        let later = now + Duration::from_secs(2 * 3600);
        assert_eq!(reclaim(&node, later), 9);
        assert!(!node.store.partial_path(4).exists());
        assert!(node.store.partial_path(5).exists(), "a copy at work keeps its file");
        assert_eq!(reclaimable_bytes(&node), 0);

        node.finish_task(70);
        assert_eq!(reclaim(&node, later), 9, "once its task is gone it is abandoned too");
        assert!(node.store.partials().is_empty());
    }
}
