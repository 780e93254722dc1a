//! [`Node`]: a meta node's Raft handle and state, serving the API through [`MetaService`].
//!
//! Writes go to the leader: locally when this node leads, else forwarded over the internal
//! route; a forwarded write is retried only when it certainly was not proposed (the receiver was
//! not the leader, or could not be connected to). Reads are linearizable: the leader confirms its
//! leadership with a quorum (read index, one round shared by all the reads waiting on the leader,
//! a follower's included) and this node waits until it has applied that far; a follower asks the
//! leader for the index only and serves the read from its own state.

use std::sync::Arc;
use std::time::Duration;

use openraft::Raft;
use prometheus_client::registry::Registry;

use crate::lifecycle::Lifecycle;
use crate::network::{Peers, TransportError};
use crate::proposer::Proposer;
use crate::read_index::{ForwardedReadIndex, ReadIndex, ReadIndexError, ReadIndexRounds};
use crate::rpc::{ForwardError, ANTI_ENTROPY_PATH, MEMBERSHIP_PATH, PROPOSE_PATH, STATUS_PATH};
use ae_service::{AntiEntropy, CallError, MetaPort, PortError};
use meta_api::{MemberStatus, MembershipChange, MetaService, NodeStatus, Proposed, ServiceError};
use meta_model::{codec, CodecError, Command, CommandResult, LeaderFacts, MetaState, NodeId, Timestamp};
use meta_store::storage::{LogStore, SharedState, TypeConfig};
use meta_wire::{AeCall, AeRequest, MetaNodeHealth, ReplyEncoder};

/// How many times a request follows a leader change before giving up.
const LEADER_ATTEMPTS: u32 = 6;
/// How long a request waits for a leader to be known.
const LEADER_WAIT: Duration = Duration::from_secs(3);
/// How long a failed attempt waits for a different leader before trying the same one again.
const LEADER_CHANGE_WAIT: Duration = Duration::from_secs(1);
/// Timeout of one forwarded request, of a proposal on the leader, and of waiting to apply what it
/// committed.
pub(crate) const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the console waits for another meta node's status.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);
/// Timeout of a forwarded membership change (the new node must catch up first).
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(120);

/// A running meta node.
pub struct Node {
    id: NodeId,
    raft: Raft<TypeConfig>,
    proposer: Proposer,
    state: SharedState,
    log: LogStore,
    peers: Peers,
    anti_entropy: Arc<AntiEntropy>,
    lifecycle: Arc<Lifecycle>,
    read_index: ReadIndexRounds,
    forwarded_reads: ForwardedReadIndex,
}

/// The services that act while a meta node leads.
pub(crate) struct LeaderServices {
    /// Liveness, planning and copy tasks.
    pub(crate) anti_entropy: Arc<AntiEntropy>,
    /// Retention, precreation and the limits on new shard groups.
    pub(crate) lifecycle: Arc<Lifecycle>,
}

impl Node {
    /// Wraps a started Raft.
    pub(crate) fn new(
        id: NodeId,
        raft: Raft<TypeConfig>,
        state: SharedState,
        log: LogStore,
        peers: Peers,
        services: LeaderServices,
    ) -> Self {
        let proposer = Proposer::start(raft.clone());
        let read_index = ReadIndexRounds::new(raft.clone());
        let forwarded_reads = ForwardedReadIndex::new(id, raft.clone(), peers.clone());
        let LeaderServices { anti_entropy, lifecycle } = services;
        Node { id, raft, proposer, state, log, peers, anti_entropy, lifecycle, read_index, forwarded_reads }
    }

    /// The Raft handle.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// How this node reaches the other meta nodes.
    pub(crate) fn peers(&self) -> &Peers {
        &self.peers
    }

    pub(crate) fn id(&self) -> NodeId {
        self.id
    }

    /// What this node, as leader, stamps into commands that need it: its clock and its view of
    /// data-node liveness.
    fn leader_facts(&self) -> LeaderFacts {
        LeaderFacts { now: self.wall_clock(), live_data_nodes: self.anti_entropy.live_data_nodes(self) }
    }

    /// Commits a command as this node, which should lead (a follower answers `NotLeader`):
    /// stamped with the leader's facts, checked against the limits measured on its clock, and
    /// batched with the other writes; the result once applied here.
    pub(crate) async fn propose_here(&self, command: Command) -> Result<Proposed, ForwardError> {
        let command = command.stamp(|| self.leader_facts());
        if let Some(refused) = self.refused_before_proposal(&command) {
            return Ok(refused);
        }
        self.proposer.propose(command).await
    }

    /// A new shard group's time checked on the leader's clock before it is proposed: older than
    /// its policy keeps data, further ahead than `shard-groups.max-future`, or in a window a group
    /// cannot cover. The refusal is answered like an apply error, without a log entry; apply's
    /// rule stays as it was (a point inside an existing group is never refused here).
    fn refused_before_proposal(&self, command: &Command) -> Option<Proposed> {
        let Command::Stamped { facts, command } = command else { return None };
        let Command::CreateShardGroup { database, retention_policy, timestamp } = &**command else { return None };
        MetaService::read(self, |state, applied| {
            let policy = state.retention_policy(database, retention_policy)?;
            if state.live_group_containing(database, retention_policy, *timestamp).is_some() {
                return None;
            }
            let refusal = policy.check_point_time(*timestamp, facts.now, self.lifecycle.max_future()).err()?;
            Some(Proposed { log_index: applied, result: Err(refusal.into_apply_error(*timestamp)) })
        })
    }

    /// The read index for a linearizable read, as this node, which should lead: shared with the
    /// other reads waiting (see [`ReadIndexRounds`]).
    pub(crate) async fn read_index_here(&self) -> ReadIndex {
        self.read_index.read_index().await
    }

    /// Answers an anti-entropy call a follower forwarded, only if this node leads: the encoded
    /// reply its call type names (the follower decodes that type).
    pub(crate) async fn anti_entropy_here(&self, request: AeRequest) -> Result<Vec<u8>, ForwardError> {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.current_leader != Some(self.id) {
            let leader_addr = metrics
                .current_leader
                .and_then(|id| metrics.membership_config.membership().get_node(&id).map(|n| n.addr.clone()));
            return Err(ForwardError::NotLeader { leader_id: metrics.current_leader, leader_addr });
        }
        match request.serve_encoded(&self.anti_entropy.serving(self), &Codec).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(error)) => Err(ForwardError::Raft(error.to_string())),
            Err(CallError::Refused(error)) => Err(ForwardError::AntiEntropy(error)),
            Err(CallError::Cluster(PortError::NotLeader)) => {
                Err(ForwardError::NotLeader { leader_id: None, leader_addr: None })
            }
            Err(CallError::Cluster(error)) => Err(ForwardError::Raft(error.to_string())),
        }
    }

    /// The leader's ID and address, waiting a little for an election to finish.
    async fn leader(&self) -> Result<(NodeId, String), ServiceError> {
        let metrics = self
            .raft
            .wait(Some(LEADER_WAIT))
            .metrics(|m| m.current_leader.is_some(), "a known leader")
            .await
            .map_err(|_| ServiceError::NoLeader)?;
        let leader = metrics.current_leader.ok_or(ServiceError::NoLeader)?;
        let addr = metrics.membership_config.membership().get_node(&leader).map(|n| n.addr.clone());
        Ok((leader, addr.ok_or(ServiceError::NoLeader)?))
    }

    async fn wait_applied(&self, index: u64) -> Result<(), ServiceError> {
        // Usually already so (the leader answers a write once it applied it): checked on the
        // state itself, without waiting for openraft to publish its next metrics.
        if self.state.read().last_applied.is_some_and(|applied| applied.index >= index) {
            return Ok(());
        }
        self.raft
            .wait(Some(FORWARD_TIMEOUT))
            .applied_index_at_least(Some(index), "apply what was committed")
            .await
            .map(drop)
            .map_err(|_| ServiceError::Timeout(FORWARD_TIMEOUT))
    }

    /// Runs `attempt` against the current leader, following leader changes a few times. After a
    /// failed attempt it waits until another leader is known (an election takes well under a
    /// second) rather than sleeping a fixed backoff, so a failover costs one election.
    async fn with_leader<T, F, Fut>(&self, mut attempt: F) -> Result<T, ServiceError>
    where
        F: FnMut(NodeId, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, Retry>>,
    {
        for round in 0..LEADER_ATTEMPTS {
            let (leader, addr) = self.leader().await?;
            match attempt(leader, addr).await {
                Ok(value) => return Ok(value),
                Err(Retry::Yes) => {
                    // A timeout here means the same leader is still the one known: try it again.
                    let _ = self
                        .raft
                        .wait(Some(LEADER_CHANGE_WAIT))
                        .metrics(|m| m.current_leader.is_some_and(|l| l != leader), "another leader")
                        .await;
                    // Deliberate short pause so a leader that refuses at once is not hammered.
                    tokio::time::sleep(Duration::from_millis(5 << round)).await;
                }
                Err(Retry::No(error)) => return Err(error),
            }
        }
        Err(ServiceError::NoLeader)
    }
}

/// What a forwarded request's reply means for the caller: its value, or whether to try again
/// against the (new) leader.
pub(crate) fn forward_outcome<T>(reply: Result<Result<T, ForwardError>, TransportError>) -> Result<T, Retry> {
    match reply {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(ForwardError::NotLeader { .. })) | Err(TransportError::Unreachable(_)) => Err(Retry::Yes),
        Ok(Err(ForwardError::Refused(message))) => Err(Retry::No(ServiceError::Refused(message))),
        Ok(Err(ForwardError::NoQuorum(_))) => Err(Retry::No(ServiceError::NoLeader)),
        Ok(Err(ForwardError::Raft(message))) => Err(Retry::No(ServiceError::Internal(message))),
        Ok(Err(ForwardError::AntiEntropy(error))) => Err(Retry::No(ServiceError::AntiEntropy(error))),
        // A timeout leaves the outcome unknown: the command may have been committed.
        Err(TransportError::Other(message)) => Err(Retry::No(ServiceError::Internal(message))),
    }
}

/// Whether a failed attempt may be repeated against the (new) leader.
#[derive(Clone, Debug)]
pub(crate) enum Retry {
    /// Yes: the leader moved or could not be reached.
    Yes,
    /// No: the request failed as such.
    No(ServiceError),
}

/// An anti-entropy call that failed on this node, as the API reports it.
fn service_error(error: CallError) -> ServiceError {
    match error {
        CallError::Refused(error) => ServiceError::AntiEntropy(error),
        CallError::Cluster(PortError::NotLeader) => ServiceError::NoLeader,
        CallError::Cluster(PortError::Timeout(after)) => ServiceError::Timeout(after),
        CallError::Cluster(PortError::Failed(message)) => ServiceError::Internal(message),
    }
}

/// Encodes forwarded anti-entropy replies with the internal codec.
struct Codec;

impl ReplyEncoder for Codec {
    type Encoded = Result<Vec<u8>, CodecError>;

    fn encode<T: serde::Serialize>(&self, reply: &T) -> Self::Encoded {
        codec::encode("anti-entropy reply", reply)
    }
}

/// The anti-entropy service's view of this node.
impl MetaPort for Node {
    fn leader_term(&self) -> Option<u64> {
        let metrics = self.raft.metrics().borrow().clone();
        (metrics.current_leader == Some(self.id)).then_some(metrics.current_term)
    }

    fn read<R>(&self, read: impl FnOnce(&MetaState) -> R) -> R {
        read(&self.state.read().state)
    }

    /// Proposes on this node only: a leader that lost office must not have its plans carried out
    /// by the next leader (they were made from its soft state), so it gets `NotLeader` instead.
    async fn propose(&self, command: Command) -> Result<CommandResult, PortError> {
        if MetaPort::leader_term(self).is_none() {
            return Err(PortError::NotLeader);
        }
        let proposed = match tokio::time::timeout(FORWARD_TIMEOUT, self.propose_here(command)).await {
            Err(_) => return Err(PortError::Timeout(FORWARD_TIMEOUT)),
            Ok(Err(ForwardError::NotLeader { .. })) => return Err(PortError::NotLeader),
            Ok(Err(error)) => return Err(PortError::Failed(error.to_string())),
            Ok(Ok(proposed)) => proposed,
        };
        match self.wait_applied(proposed.log_index).await {
            Ok(()) => Ok(proposed.result),
            Err(ServiceError::Timeout(after)) => Err(PortError::Timeout(after)),
            Err(other) => Err(PortError::Failed(other.to_string())),
        }
    }

    fn wall_clock(&self) -> Timestamp {
        meta_model::wall_clock()
    }
}

impl MetaService for Node {
    async fn propose(&self, command: Command) -> Result<Proposed, ServiceError> {
        let proposed = self
            .with_leader(|leader, addr| {
                let command = command.clone();
                async move {
                    if leader == self.id {
                        // A leader cut off from its peers cannot commit; answer `timeout` (outcome
                        // unknown: the entry may still commit once the partition heals) rather
                        // than hold the request until it does.
                        match tokio::time::timeout(FORWARD_TIMEOUT, self.propose_here(command)).await {
                            Ok(written) => forward_outcome(Ok(written)),
                            Err(_) => Err(Retry::No(ServiceError::Timeout(FORWARD_TIMEOUT))),
                        }
                    } else {
                        let reply = self.peers.post(&addr, PROPOSE_PATH, &command, FORWARD_TIMEOUT).await;
                        forward_outcome(reply)
                    }
                }
            })
            .await?;
        // Read-your-writes: answer once this node has applied the entry too.
        self.wait_applied(proposed.log_index).await?;
        Ok(proposed)
    }

    async fn change_membership(&self, change: MembershipChange) -> Result<NodeId, ServiceError> {
        self.with_leader(|leader, addr| {
            let change = change.clone();
            async move {
                if leader == self.id {
                    let local = self.change_membership_as_leader(change).await;
                    forward_outcome(Ok(local))
                } else {
                    let reply = self.peers.post(&addr, MEMBERSHIP_PATH, &change, MEMBERSHIP_TIMEOUT).await;
                    forward_outcome(reply)
                }
            }
        })
        .await
    }

    async fn read_barrier(&self) -> Result<(), ServiceError> {
        let read_index = self
            .with_leader(|leader, _addr| async move {
                if leader == self.id {
                    match self.read_index_here().await {
                        Ok(index) => Ok(index),
                        Err(ReadIndexError::NotLeader { .. }) => Err(Retry::Yes),
                        Err(ReadIndexError::QuorumNotEnough(_)) => Err(Retry::No(ServiceError::NoLeader)),
                        Err(ReadIndexError::Failed(message)) => Err(Retry::No(ServiceError::Internal(message))),
                    }
                } else {
                    // Shared with the reads queued here meanwhile, sent to whichever node leads.
                    self.forwarded_reads.read_index().await
                }
            })
            .await?;
        match read_index {
            Some(index) => self.wait_applied(index).await,
            None => Ok(()),
        }
    }

    async fn wait_applied_beyond(&self, index: u64, wait: Duration) {
        // A timeout is the normal end of a long poll that saw no change.
        let _ = self
            .raft
            .wait(Some(wait))
            .metrics(|m| m.last_applied.is_some_and(|applied| applied.index > index), "state moved past index")
            .await;
    }

    fn read<R>(&self, read: impl FnOnce(&MetaState, u64) -> R) -> R {
        let applied = self.state.read();
        read(&applied.state, applied.last_applied.map_or(0, |id| id.index))
    }

    fn apply_counters(&self) -> (u64, f64) {
        let stats = self.state.stats();
        (stats.commands(), stats.seconds())
    }

    async fn anti_entropy<C: AeCall>(&self, call: C) -> Result<C::Reply, ServiceError> {
        self.with_leader(|leader, addr| {
            let call = call.clone();
            async move {
                if leader == self.id {
                    match call.serve(&self.anti_entropy.serving(self)).await {
                        Err(CallError::Cluster(PortError::NotLeader)) => Err(Retry::Yes),
                        Err(error) => Err(Retry::No(service_error(error))),
                        Ok(reply) => Ok(reply),
                    }
                } else {
                    let request = call.into_request();
                    let reply: Result<Result<Vec<u8>, ForwardError>, TransportError> =
                        self.peers.post(&addr, ANTI_ENTROPY_PATH, &request, FORWARD_TIMEOUT).await;
                    let bytes = forward_outcome(reply)?;
                    codec::decode::<C::Reply>("anti-entropy reply", &bytes)
                        .map_err(|error| Retry::No(ServiceError::Internal(error.to_string())))
                }
            }
        })
        .await
    }

    fn node_metrics(&self, registry: &mut Registry) {
        self.proposer.register_metrics(registry);
        self.read_index.register_metrics(registry);
        self.forwarded_reads.register_metrics(registry);
        self.anti_entropy.register_metrics(self, registry);
        self.lifecycle.register_metrics(registry);
    }

    async fn meta_node_health(&self) -> Vec<MetaNodeHealth> {
        let own = self.status();
        let members = own.voters.iter().map(|m| (m, true)).chain(own.learners.iter().map(|m| (m, false)));
        let mut asks = tokio::task::JoinSet::new();
        for (member, voter) in members {
            let (id, addr) = (member.id, member.addr.clone());
            if id == self.id {
                let status = Some(own.clone());
                asks.spawn(async move { MetaNodeHealth { id, addr, voter, status, error: None } });
                continue;
            }
            let peers = self.peers.clone();
            asks.spawn(async move {
                let answer = peers.post(&addr, STATUS_PATH, &(), STATUS_TIMEOUT).await;
                let (status, error) = match answer {
                    Ok(status) => (Some(status), None),
                    Err(error) => (None, Some(error.to_string())),
                };
                MetaNodeHealth { id, addr, voter, status, error }
            });
        }
        let mut health = asks.join_all().await;
        health.sort_by_key(|member| (!member.voter, member.id));
        health
    }

    fn status(&self) -> NodeStatus {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let member = |id: NodeId| MemberStatus {
            id,
            addr: membership.get_node(&id).map(|n| n.addr.clone()).unwrap_or_default(),
        };
        NodeStatus {
            node_id: self.id,
            raft_state: format!("{:?}", metrics.state).to_lowercase(),
            leader_id: metrics.current_leader,
            term: metrics.current_term,
            last_log_index: metrics.last_log_index,
            committed_index: self.log.committed_index(),
            applied_index: metrics.last_applied.map(|id| id.index),
            snapshot_index: metrics.snapshot.map(|id| id.index),
            voters: membership.voter_ids().map(member).collect(),
            learners: membership.learner_ids().map(member).collect(),
            cluster_id: MetaService::read(self, |state, _| state.cluster().map(|c| c.id.clone())),
        }
    }
}
