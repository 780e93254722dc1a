//! What a data node counts, at `GET /metrics` (OpenMetrics text, `prometheus-client`): writes by
//! outcome, internal appends refused as misrouted, shards marked written, partial copies reclaimed,
//! writes queued, delivered and dropped by hinted handoff, and, read at each scrape, what it holds
//! now (shards, copies, reclaimable bytes, its hinted-handoff queues).

use std::sync::atomic::AtomicU64;

use meta_wire::HandoffQueueReport;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

/// `(label, value)` pairs of one series.
type Labels = Vec<(&'static str, String)>;

/// The node's counters; shared by the request handlers and its background tasks.
#[derive(Debug, Default)]
pub(crate) struct DataMetrics {
    writes: Family<Labels, Counter>,
    appends: Family<Labels, Counter>,
    points: Counter,
    marked: Counter,
    reclaimed_bytes: Counter,
    handoff_queued: Counter,
    handoff_delivered: Counter,
    handoff_dropped: Family<Labels, Counter>,
    repairs: Counter,
    repair_leaves: Counter,
    repair_points: Family<Labels, Counter>,
    repair_bytes: Counter,
    copy_bytes: Counter,
}

/// What the node holds at the moment of a scrape.
#[derive(Clone, Debug)]
pub(crate) struct Holdings {
    /// Shard files.
    pub(crate) shards: u64,
    /// Copy tasks running.
    pub(crate) running_copies: u64,
    /// Bytes of partial copies no task works on.
    pub(crate) reclaimable_bytes: u64,
    /// The metadata index the node's cache reflects (0 before the first read).
    pub(crate) metadata_index: u64,
    /// The hinted-handoff queues, by target.
    pub(crate) handoff: Vec<HandoffQueueReport>,
    /// Orphan shard files: how many, and their bytes.
    pub(crate) orphans: (u64, u64),
    /// Shard files waiting for deletion: how many, and their bytes.
    pub(crate) retiring: (u64, u64),
    /// Shard files deleted since start: how many, and their bytes.
    pub(crate) deleted: (u64, u64),
}

impl DataMetrics {
    /// A `POST /write` answered: `outcome` is `acknowledged` or the error code (`no_owner`,
    /// `stale_routing`, `write_failed`, ...); `points` are the points acknowledged.
    pub(crate) fn write(&self, outcome: &str, points: u64) {
        self.writes.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
        self.points.inc_by(points);
    }

    /// An internal append answered: `stored`, or the code it was refused with (`not_owner`,
    /// `owners_changed`, `metadata_behind`, ...).
    pub(crate) fn append(&self, outcome: &str) {
        self.appends.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    /// Shards marked written by this node (each once in its lifetime).
    pub(crate) fn marked(&self, shards: u64) {
        self.marked.inc_by(shards);
    }

    /// Bytes of abandoned partial copies deleted.
    pub(crate) fn reclaimed(&self, bytes: u64) {
        self.reclaimed_bytes.inc_by(bytes);
    }

    /// Writes queued for an owner that could not take them (hinted handoff).
    pub(crate) fn handoff_queued(&self, writes: u64) {
        self.handoff_queued.inc_by(writes);
    }

    /// Queued writes delivered to their owners.
    pub(crate) fn handoff_delivered(&self, writes: u64) {
        self.handoff_delivered.inc_by(writes);
    }

    /// Writes an owner will lack until repair: not queued or dropped from a queue, by `reason`
    /// (`max_size`, `max_age`, `unwritable`, `refused`, `shard_deleted`).
    pub(crate) fn handoff_dropped(&self, reason: &str, writes: u64) {
        self.handoff_dropped.get_or_create(&vec![("reason", reason.to_owned())]).inc_by(writes);
    }

    /// A repair task this node ran to the end: the ranges that differed, the points it received
    /// and sent, the bytes moved.
    pub(crate) fn repaired(&self, repaired: &crate::repair::Repaired) {
        self.repairs.inc();
        self.repair_leaves.inc_by(repaired.leaves);
        self.repair_points.get_or_create(&vec![("direction", "fetched".to_owned())]).inc_by(repaired.fetched);
        self.repair_points.get_or_create(&vec![("direction", "pushed".to_owned())]).inc_by(repaired.pushed);
        self.repair_bytes.inc_by(repaired.bytes);
    }

    /// Bytes of a shard copy received (a copy or move task), as each chunk arrives.
    pub(crate) fn copied(&self, bytes: u64) {
        self.copy_bytes.inc_by(bytes);
    }

    /// The OpenMetrics text of the counters and of `now`.
    pub(crate) fn render(&self, now: Holdings) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::default();
        registry.register(
            "datad_writes",
            "Writes answered, by outcome (acknowledged or the error code)",
            self.writes.clone(),
        );
        registry.register("datad_points_acknowledged", "Points in acknowledged writes", self.points.clone());
        registry.register(
            "datad_internal_appends",
            "Internal appends from other data nodes, by outcome (stored or the refusal code)",
            self.appends.clone(),
        );
        registry.register("datad_shards_marked_written", "Shards this node marked written", self.marked.clone());
        registry.register("datad_repairs", "Repair tasks run to the end by this node", self.repairs.clone());
        registry.register(
            "datad_repair_ranges",
            "Ranges (time slice x series bucket) found differing by repairs",
            self.repair_leaves.clone(),
        );
        registry.register(
            "datad_repair_points",
            "Points moved by repairs: fetched (this node lacked them) or pushed (the other owner did)",
            self.repair_points.clone(),
        );
        registry.register(
            "datad_repair_bytes",
            "Bytes of lines moved by repairs, both ways",
            self.repair_bytes.clone(),
        );
        registry.register(
            "datad_copy_bytes",
            "Bytes of shard copies received by copy and move tasks, counted as each chunk arrives (a copy in \
             progress shows here before it completes)",
            self.copy_bytes.clone(),
        );
        registry.register(
            "datad_partial_reclaimed_bytes",
            "Bytes of abandoned partial copies deleted",
            self.reclaimed_bytes.clone(),
        );
        let gauge = |value: u64| ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
        registry.register("datad_shards", "Shard files held", gauge(now.shards));
        registry.register("datad_copies_running", "Copy tasks running", gauge(now.running_copies));
        registry.register(
            "datad_partial_reclaimable_bytes",
            "Bytes of partial copies no task works on (deleted after --partial-ttl)",
            gauge(now.reclaimable_bytes),
        );
        registry.register("datad_metadata_index", "Metadata index of the node's cache", gauge(now.metadata_index));
        registry.register(
            "datad_orphan_shard_files",
            "Files in the shard directory that are no shard of this cluster (kept, never used or deleted)",
            gauge(now.orphans.0),
        );
        registry.register("datad_orphan_shard_bytes", "Bytes of those orphan shard files", gauge(now.orphans.1));
        registry.register(
            "datad_retiring_shard_files",
            "Shard files the cluster no longer keeps here, waiting for --shard-delete-grace",
            gauge(now.retiring.0),
        );
        registry.register("datad_retiring_shard_bytes", "Bytes of those retiring shard files", gauge(now.retiring.1));
        let counter = |value: u64| ConstCounter::new(value);
        registry.register("datad_shard_files_deleted", "Retired shard files deleted", counter(now.deleted.0));
        registry.register("datad_shard_bytes_deleted", "Bytes of retired shard files deleted", counter(now.deleted.1));
        registry.register(
            "datad_handoff_queued",
            "Writes queued for an owner that could not take them (hinted handoff)",
            self.handoff_queued.clone(),
        );
        registry.register(
            "datad_handoff_delivered",
            "Queued writes delivered to their owners",
            self.handoff_delivered.clone(),
        );
        registry.register(
            "datad_handoff_dropped",
            "Writes an owner lacks until repair: not queued, or dropped from its queue, by reason",
            self.handoff_dropped.clone(),
        );
        let queue_gauges = |value: fn(&HandoffQueueReport) -> u64| {
            let family = Family::<Labels, Gauge>::default();
            for queue in &now.handoff {
                let labels = vec![("target", queue.target.to_string())];
                family.get_or_create(&labels).set(i64::try_from(value(queue)).unwrap_or(i64::MAX));
            }
            family
        };
        registry.register(
            "datad_handoff_queue_writes",
            "Writes in the hinted-handoff queue of each target owner",
            queue_gauges(|q| q.entries),
        );
        registry.register(
            "datad_handoff_queue_bytes",
            "Bytes in the hinted-handoff queue of each target owner",
            queue_gauges(|q| q.bytes),
        );
        let ages = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        for queue in &now.handoff {
            let age = queue.oldest_age_ms.unwrap_or(0) as f64 / 1000.0;
            ages.get_or_create(&vec![("target", queue.target.to_string())]).set(age);
        }
        registry.register(
            "datad_handoff_oldest_age_seconds",
            "Age of the oldest write in the hinted-handoff queue of each target owner",
            ages,
        );
        let mut text = String::new();
        encode(&mut text, &registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_holdings_render_as_openmetrics() {
        let metrics = DataMetrics::default();
        metrics.write("acknowledged", 5);
        metrics.write("no_owner", 0);
        metrics.append("not_owner");
        metrics.marked(2);
        metrics.reclaimed(100);
        metrics.handoff_queued(3);
        metrics.handoff_delivered(2);
        metrics.handoff_dropped("max_size", 1);
        metrics.copied(16384);
        metrics.copied(100);
        let queue =
            HandoffQueueReport { target: 4, entries: 1, bytes: 30, oldest_age_ms: Some(2500), ..Default::default() };
        let now = Holdings {
            shards: 3,
            running_copies: 1,
            reclaimable_bytes: 42,
            metadata_index: 9,
            handoff: vec![queue],
            orphans: (2, 300),
            retiring: (1, 70),
            deleted: (4, 4096),
        };
        let text = metrics.render(now).expect("renders");
        for line in [
            "datad_writes_total{outcome=\"acknowledged\"} 1",
            "datad_writes_total{outcome=\"no_owner\"} 1",
            "datad_points_acknowledged_total 5",
            "datad_internal_appends_total{outcome=\"not_owner\"} 1",
            "datad_shards_marked_written_total 2",
            "datad_partial_reclaimed_bytes_total 100",
            "datad_copy_bytes_total 16484",
            "datad_partial_reclaimable_bytes 42",
            "datad_shards 3",
            "datad_orphan_shard_files 2",
            "datad_orphan_shard_bytes 300",
            "datad_retiring_shard_files 1",
            "datad_retiring_shard_bytes 70",
            "datad_shard_files_deleted_total 4",
            "datad_shard_bytes_deleted_total 4096",
            "datad_handoff_queued_total 3",
            "datad_handoff_delivered_total 2",
            "datad_handoff_dropped_total{reason=\"max_size\"} 1",
            "datad_handoff_queue_writes{target=\"4\"} 1",
            "datad_handoff_queue_bytes{target=\"4\"} 30",
            "datad_handoff_oldest_age_seconds{target=\"4\"} 2.5",
            "# EOF",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
    }
}
