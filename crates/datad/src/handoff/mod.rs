//! Hinted handoff (InfluxDB's model, after Dynamo): when an owner of a shard cannot take a write
//! the coordinating data node keeps that owner's lines in a durable queue on its own disk, one
//! queue per owner, and delivers them in order once the owner takes writes again. The write is
//! answered by the consistency the client asked for (see [`crate::consistency`]), so one owner
//! down no longer blocks its shards' writes for the dead-node timeout.
//!
//! Limits (`--handoff-max-size`, `--handoff-max-age`; InfluxDB: 10 GiB, 168 h) bound what a
//! queue holds: a write that would overflow it, or that waited longer, is dropped and counted
//! loudly (log, `/metrics`, `/status`, heartbeats into `entropy show`): that owner then lacks it
//! until the shard's copies are repaired.
//!
//! ```text
//!  write ─▶ owner fails ─▶ queue[owner].push (fsynced) ─▶ answered by consistency
//!  drain, every --handoff-retry-interval, per queue, in order:
//!    shard gone            ─▶ dropped (counted)
//!    owner still owns it   ─▶ internal append to it; stored ─▶ next, failed ─▶ wait
//!    owner no longer does  ─▶ appended to the shard's current owners (queued for those that fail)
//! ```

pub(crate) mod drain;
pub(crate) mod queue;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meta_model::{NodeId, ShardId};
use meta_wire::HandoffQueueReport;

use crate::error::DatadError;
use crate::shard_store::lock;
use queue::{HandoffQueue, PushError};

/// The limits and pace of hinted handoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoffSettings {
    /// Most bytes one queue holds; a write that would exceed it is dropped (counted).
    pub max_size: u64,
    /// Longest a write waits in a queue before it is dropped (counted).
    pub max_age: Duration,
    /// Pause between two attempts to deliver a queue whose owner did not take writes.
    pub retry_interval: Duration,
}

/// The queues of one data node, by target owner.
#[derive(Debug)]
pub(crate) struct Handoff {
    dir: PathBuf,
    settings: HandoffSettings,
    queues: Mutex<BTreeMap<NodeId, Arc<Mutex<HandoffQueue>>>>,
}

impl Handoff {
    /// Opens `data_dir/handoff` and every queue in it.
    pub(crate) fn open(data_dir: &Path, settings: HandoffSettings) -> Result<Self, DatadError> {
        let dir = data_dir.join("handoff");
        std::fs::create_dir_all(&dir).map_err(DatadError::io("create", &dir))?;
        let mut queues = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(DatadError::io("list", &dir))? {
            let entry = entry.map_err(DatadError::io("list", &dir))?;
            let Some(target) = entry.file_name().to_str().and_then(|n| n.parse::<NodeId>().ok()) else { continue };
            let queue = HandoffQueue::open(&entry.path(), target)?;
            queues.insert(target, Arc::new(Mutex::new(queue)));
        }
        Ok(Handoff { dir, settings, queues: Mutex::new(queues) })
    }

    /// The limits and pace.
    pub(crate) fn settings(&self) -> HandoffSettings {
        self.settings
    }

    /// The queue of `target`, created if there is none.
    fn queue(&self, target: NodeId) -> Result<Arc<Mutex<HandoffQueue>>, DatadError> {
        let mut queues = lock(&self.queues);
        if let Some(queue) = queues.get(&target) {
            return Ok(Arc::clone(queue));
        }
        let queue = Arc::new(Mutex::new(HandoffQueue::open(&self.dir.join(target.to_string()), target)?));
        queues.insert(target, Arc::clone(&queue));
        Ok(queue)
    }

    /// The queue of `target`, if one exists.
    pub(crate) fn queue_of(&self, target: NodeId) -> Option<Arc<Mutex<HandoffQueue>>> {
        lock(&self.queues).get(&target).cloned()
    }

    /// Queues `data` (lines of `shard_id`) for `target`, durably; a write refused for the size
    /// limit is counted as dropped. Blocking I/O.
    pub(crate) fn enqueue(&self, target: NodeId, shard_id: ShardId, data: &[u8]) -> Result<(), PushError> {
        let queue = self.queue(target)?;
        let mut queue = lock(&queue);
        let result = queue.push(shard_id, now_ms(), data, self.settings.max_size);
        if let Err(PushError::Full { .. }) = &result {
            queue.count_refused(shard_id, data.len());
        }
        result
    }

    /// The targets with writes queued.
    pub(crate) fn pending(&self) -> Vec<NodeId> {
        lock(&self.queues).iter().filter(|(_, q)| !lock(q).is_empty()).map(|(&t, _)| t).collect()
    }

    /// What every queue holds, by target.
    pub(crate) fn reports(&self) -> Vec<HandoffQueueReport> {
        let now = now_ms();
        lock(&self.queues).values().map(|q| lock(q).report(now)).collect()
    }
}

/// Milliseconds since the epoch, by the wall clock (the queued writes' ages).
pub(crate) fn now_ms() -> u64 {
    u64::try_from(meta_model::wall_clock() / 1_000_000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_size: u64) -> HandoffSettings {
        HandoffSettings { max_size, max_age: Duration::from_secs(3600), retry_interval: Duration::from_secs(1) }
    }

    #[test]
    fn queues_are_kept_per_target_and_found_again_at_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let handoff = Handoff::open(dir.path(), settings(1 << 20)).expect("open");
        handoff.enqueue(2, 10, b"cpu v=1 1\n").expect("queued");
        handoff.enqueue(5, 10, b"cpu v=1 1\n").expect("queued");
        handoff.enqueue(5, 11, b"mem v=1 1\n").expect("queued");
        assert_eq!(handoff.pending(), vec![2, 5]);
        drop(handoff);
        let handoff = Handoff::open(dir.path(), settings(1 << 20)).expect("reopen");
        let entries: Vec<_> = handoff.reports().iter().map(|r| (r.target, r.entries)).collect();
        assert_eq!(entries, vec![(2, 1), (5, 2)]);
    }

    #[test]
    fn a_write_over_the_size_limit_is_refused_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let handoff = Handoff::open(dir.path(), settings(64)).expect("open");
        handoff.enqueue(2, 10, b"cpu v=1 1\n").expect("fits");
        let refused = handoff.enqueue(2, 10, &[b'x'; 64]);
        assert!(matches!(refused, Err(PushError::Full { target: 2, .. })), "{refused:?}");
        let report = &handoff.reports()[0];
        assert_eq!((report.entries, report.dropped_entries, report.dropped_shards.clone()), (1, 1, vec![10]));
        assert_eq!(report.dropped_bytes, 64 + 24, "counted as it would have been queued: framed");
    }
}
