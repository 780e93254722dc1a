//! The leader's shard-group lifecycle services, as InfluxDB's meta nodes run them:
//!
//! - **retention**: every `retention.check-interval`, delete the groups whose end is older than
//!   their policy's duration (`DeleteExpiredShardGroups`, stamped with the leader's clock), then
//!   forget the groups deleted more than `retention.prune-after` ago (`PruneDeletedShardGroups`);
//!   data nodes see the deletion meanwhile and remove the shards' files;
//! - **precreation**: every `shard-precreation.check-interval`, create the next group of every
//!   policy whose newest group ends within `shard-precreation.advance-period`
//!   (`PrecreateShardGroups`), so the first write of a new period finds its group and does not
//!   wait for a Raft write.
//!
//! Both run on every meta node and act only while it leads; each round is one or two proposals.
//! The third setting, `shard-groups.max-future`, is checked where the leader stamps a group
//! creation (see [`crate::node`]).

pub(crate) mod settings;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;
use tokio::time::MissedTickBehavior;

use ae_service::MetaPort;
use meta_model::{Command, Response, Timestamp};

use crate::node::Node;
use settings::{LifecycleSettings, PrecreationSettings, RetentionSettings};

/// The lifecycle services of one meta node and what they did.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    settings: LifecycleSettings,
    counts: Counts,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
struct Counts {
    retention_checks: AtomicU64,
    groups_deleted: AtomicU64,
    groups_pruned: AtomicU64,
    retention_failures: AtomicU64,
    precreation_checks: AtomicU64,
    groups_precreated: AtomicU64,
    precreation_failures: AtomicU64,
}

impl Lifecycle {
    /// The services with their checked settings (not running yet: see [`Lifecycle::run`]).
    pub(crate) fn new(settings: LifecycleSettings) -> Self {
        Lifecycle { settings, counts: Counts::default() }
    }

    /// How far ahead of the leader's clock a new shard group may be made (nanoseconds), if
    /// bounded.
    pub(crate) fn max_future(&self) -> Option<u64> {
        self.settings.max_future
    }

    /// Runs the enabled services until the task is aborted.
    pub(crate) async fn run(self: Arc<Self>, node: Arc<Node>) {
        let services =
            [self.settings.retention.map(Service::Retention), self.settings.precreation.map(Service::Precreation)];
        let tasks: Vec<_> = services
            .into_iter()
            .flatten()
            .map(|service| {
                let (me, node) = (Arc::clone(&self), Arc::clone(&node));
                tokio::spawn(async move { me.service_loop(&node, service).await })
            })
            .collect();
        for task in tasks {
            // Ends only when aborted or on a panic (logged by tokio).
            let _ = task.await;
        }
    }

    /// Runs `service`'s rounds every check interval while `node` leads; a round that overran is
    /// not made up for.
    async fn service_loop(&self, node: &Node, service: Service) {
        let (period, checks) = match service {
            Service::Retention(s) => (s.check_interval, &self.counts.retention_checks),
            Service::Precreation(s) => (s.check_interval, &self.counts.precreation_checks),
        };
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if MetaPort::leader_term(node).is_none() {
                continue;
            }
            checks.fetch_add(1, Ordering::Relaxed);
            match service {
                Service::Retention(settings) => self.retention_round(node, settings).await,
                Service::Precreation(settings) => self.precreation_round(node, settings).await,
            }
        }
    }

    /// Deletes the expired groups, then forgets those deleted `prune-after` ago.
    async fn retention_round(&self, node: &Node, settings: RetentionSettings) {
        let c = &self.counts;
        let now = meta_model::wall_clock();
        let delete = Command::DeleteExpiredShardGroups { now };
        if round(node, delete, &c.groups_deleted, &c.retention_failures, "retention: expired groups deleted").await {
            let prune = Command::PruneDeletedShardGroups { before: now.saturating_sub(nanos(settings.prune_after)) };
            round(node, prune, &c.groups_pruned, &c.retention_failures, "retention: deleted groups pruned").await;
        }
    }

    /// Creates the next group of every policy whose newest one ends within the advance period.
    async fn precreation_round(&self, node: &Node, settings: PrecreationSettings) {
        let c = &self.counts;
        let from = meta_model::wall_clock();
        // Never ahead of what writes may reach (`shard-groups.max-future`).
        let window = self
            .settings
            .max_future
            .map_or(settings.advance_period, |max| settings.advance_period.min(Duration::from_nanos(max)));
        let to = from.saturating_add(nanos(window));
        let precreate = Command::PrecreateShardGroups { from, to };
        round(node, precreate, &c.groups_precreated, &c.precreation_failures, "precreation: groups created").await;
    }

    /// Registers the services' counters.
    pub(crate) fn register_metrics(&self, registry: &mut Registry) {
        let c = &self.counts;
        for (name, help, counter) in [
            ("metad_retention_checks", "Retention rounds this node ran as leader", &c.retention_checks),
            ("metad_retention_groups_deleted", "Expired shard groups retention deleted", &c.groups_deleted),
            ("metad_retention_groups_pruned", "Deleted shard groups retention forgot", &c.groups_pruned),
            ("metad_retention_failures", "Retention proposals that failed", &c.retention_failures),
            ("metad_precreation_checks", "Precreation rounds this node ran as leader", &c.precreation_checks),
            ("metad_precreation_groups_created", "Shard groups created ahead of time", &c.groups_precreated),
            ("metad_precreation_failures", "Precreation proposals that failed", &c.precreation_failures),
        ] {
            registry.register(name, help, ConstCounter::new(counter.load(Ordering::Relaxed)));
        }
    }
}

/// One of the lifecycle services, with its settings.
#[derive(Clone, Copy, Debug)]
enum Service {
    Retention(RetentionSettings),
    Precreation(PrecreationSettings),
}

fn nanos(duration: Duration) -> Timestamp {
    Timestamp::try_from(duration.as_nanos()).unwrap_or(Timestamp::MAX)
}

/// Proposes one round's command (answered with the shard groups it touched) as the leader; counts
/// those groups into `done` and logs them as `what`, or counts a failure. Whether it succeeded.
async fn round(node: &Node, command: Command, done: &AtomicU64, failures: &AtomicU64, what: &str) -> bool {
    let name = command.name();
    let failure = match MetaPort::propose(node, command).await {
        Ok(Ok(Response::ShardGroupIds(ids))) => {
            if !ids.is_empty() {
                tracing::info!(shard_groups = ?ids, "{what}");
                done.fetch_add(ids.len() as u64, Ordering::Relaxed);
            }
            return true;
        }
        Ok(Ok(other)) => format!("unexpected answer {other:?}"),
        Ok(Err(error)) => error.to_string(),
        Err(error) => error.to_string(),
    };
    failures.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(command = name, error = failure, "shard-group lifecycle round failed");
    false
}
