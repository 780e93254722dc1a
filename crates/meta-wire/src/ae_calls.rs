//! The calls of the leader's anti-entropy service, typed: each call is a type of its own that names
//! its reply type ([`AeCall::Reply`]), so a caller gets the reply its call asks for, and the
//! service answers each call through one method of [`AeHandler`]. No reply is ever matched against
//! the request at run time.
//!
//! ```text
//!  meta-api handler ── call (e.g. CompleteTask) ──► the node: leads?
//!      yes: call.serve(&service) ─────────────────────────────► Result<CompleteTask::Reply, _>
//!      no:  AeRequest::from(call) ── POST /internal/anti-entropy ──► leader:
//!           request.serve_encoded(&service, &codec) ── bytes of the typed reply ──► decoded as
//!           CompleteTask::Reply by the follower, which knows the call it forwarded
//! ```

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use meta_model::{ApplyError, NodeId, Task, TaskId};

use crate::anti_entropy::{
    ClaimReply, ClaimRequest, CopyShardRequest, CopyTaskInfo, CopyTaskList, CopyTasksQuery, EntropyReport, FailRequest,
    HeartbeatReply, HeartbeatRequest, ProgressReply, ProgressRequest, RepairReply, RepairRequest,
};

/// Why the anti-entropy service refused a call as such (retrying will not help).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AeError {
    /// The Raft command the call became was rejected.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// A heartbeat from an address that is not the node's registered one (the ID was moved to
    /// another machine with `update-data`).
    #[error("data node {node_id} is registered at {registered}, not {given}")]
    AddressMismatch {
        /// The node ID.
        node_id: NodeId,
        /// Its registered HTTP address.
        registered: String,
        /// The address the heartbeat came from.
        given: String,
    },
    /// The leader took over recently and does not trust liveness and inventories yet.
    #[error("the leader is in its grace period; retry in {retry_ms} ms")]
    NotTrustedYet {
        /// When to retry.
        retry_ms: u64,
    },
    /// The anti-entropy service is switched off in this cluster's configuration.
    #[error("anti-entropy is disabled on this cluster")]
    Disabled,
    /// `copy-shard` from a node that neither owns the shard nor lists it in its latest inventory.
    #[error("data node {node_id} does not hold shard {shard_id} (not an owner, and its latest inventory lacks it)")]
    SourceLacksShard {
        /// The named source.
        node_id: NodeId,
        /// The shard.
        shard_id: meta_model::ShardId,
    },
    /// `copy-shard` to a node declared dead: the task would wait for it.
    #[error("data node {node_id} is dead (silent for the dead-node timeout): copy to a live node")]
    TargetDead {
        /// The named target.
        node_id: NodeId,
    },
}

/// One call of the anti-entropy service and the reply it gets.
pub trait AeCall: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// What the service answers.
    type Reply: Serialize + DeserializeOwned + Send + 'static;

    /// The call as the request a follower forwards to the leader.
    fn into_request(self) -> AeRequest;

    /// Has `handler` answer the call.
    fn serve<H: AeHandler>(self, handler: &H) -> impl Future<Output = Result<Self::Reply, H::Error>> + Send;
}

/// What answers every call: the leader's anti-entropy service, or a test double.
pub trait AeHandler: Sync {
    /// Why a call failed.
    type Error: Send;

    /// A data node's heartbeat (soft state, off the log).
    fn heartbeat(&self, call: Heartbeat) -> impl Future<Output = Result<HeartbeatReply, Self::Error>> + Send;
    /// A data node claims the copy tasks it is the target of (long poll when it has none).
    fn claim(&self, call: ClaimRequest) -> impl Future<Output = Result<ClaimReply, Self::Error>> + Send;
    /// A claimant reports progress; the lease is renewed when half of it is spent.
    fn progress(&self, call: ReportProgress) -> impl Future<Output = Result<ProgressReply, Self::Error>> + Send;
    /// A claimant finished its copy: the target becomes an owner.
    fn complete(&self, call: CompleteTask) -> impl Future<Output = Result<Task, Self::Error>> + Send;
    /// A claimant could not copy: retried with backoff, then failed.
    fn fail(&self, call: FailTask) -> impl Future<Output = Result<Task, Self::Error>> + Send;
    /// An operator's `copy-shard`.
    fn copy_shard(&self, call: CopyShardRequest) -> impl Future<Output = Result<Task, Self::Error>> + Send;
    /// An operator kills a task.
    fn kill(&self, call: KillTask) -> impl Future<Output = Result<Task, Self::Error>> + Send;
    /// An operator asks to repair a shard now.
    fn repair(&self, call: RepairRequest) -> impl Future<Output = Result<RepairReply, Self::Error>> + Send;
    /// Copy tasks with their progress.
    fn tasks(&self, call: CopyTasksQuery) -> impl Future<Output = Result<CopyTaskList, Self::Error>> + Send;
    /// One copy task with its progress.
    fn task(&self, call: GetTask) -> impl Future<Output = Result<CopyTaskInfo, Self::Error>> + Send;
    /// The last plan's findings, tasks and node health.
    fn report(&self, call: GetReport) -> impl Future<Output = Result<EntropyReport, Self::Error>> + Send;
}

/// A data node's heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The data node.
    pub node_id: NodeId,
    /// What it reports.
    pub request: HeartbeatRequest,
}

/// A claimant's progress report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportProgress {
    /// The task.
    pub task_id: TaskId,
    /// The progress.
    pub request: ProgressRequest,
}

/// A claimant finished its copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteTask {
    /// The task.
    pub task_id: TaskId,
    /// The claim's attempt (the fencing token).
    pub attempt: u32,
}

/// A claimant could not copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailTask {
    /// The task.
    pub task_id: TaskId,
    /// The attempt and error.
    pub request: FailRequest,
}

/// An operator kills a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillTask {
    /// The task.
    pub task_id: TaskId,
}

/// One copy task with its progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetTask {
    /// The task.
    pub task_id: TaskId,
}

/// The entropy report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetReport;

/// Turns a reply into the bytes a forwarded call is answered with (the internal codec).
pub trait ReplyEncoder {
    /// The encoded reply.
    type Encoded;

    /// Encodes one reply.
    fn encode<T: Serialize>(&self, reply: &T) -> Self::Encoded;
}

macro_rules! ae_calls {
    ($($call:ident => $reply:ty, $method:ident;)*) => {
        /// A call as a follower forwards it to the leader: one variant per call type.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum AeRequest {
            $(
                #[doc = concat!("A [`", stringify!($call), "`].")]
                $call($call),
            )*
        }

        $(
            impl AeCall for $call {
                type Reply = $reply;

                fn into_request(self) -> AeRequest {
                    AeRequest::$call(self)
                }

                fn serve<H: AeHandler>(self, handler: &H) -> impl Future<Output = Result<$reply, H::Error>> + Send {
                    handler.$method(self)
                }
            }
        )*

        impl AeRequest {
            /// Has `handler` answer the forwarded call, and encodes the reply its call type
            /// names: the follower that forwarded it decodes that type.
            pub async fn serve_encoded<H: AeHandler, E: ReplyEncoder + Sync>(
                self,
                handler: &H,
                encoder: &E,
            ) -> Result<E::Encoded, H::Error> {
                match self {
                    $(AeRequest::$call(call) => call.serve(handler).await.map(|reply| encoder.encode(&reply)),)*
                }
            }
        }
    };
}

ae_calls! {
    Heartbeat => HeartbeatReply, heartbeat;
    ClaimRequest => ClaimReply, claim;
    ReportProgress => ProgressReply, progress;
    CompleteTask => Task, complete;
    FailTask => Task, fail;
    CopyShardRequest => Task, copy_shard;
    KillTask => Task, kill;
    RepairRequest => RepairReply, repair;
    CopyTasksQuery => CopyTaskList, tasks;
    GetTask => CopyTaskInfo, task;
    GetReport => EntropyReport, report;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeartbeatRequest, ShardReport};

    /// Followers forward calls to the leader in the model's binary codec, which has no field
    /// names: a field left out when serialized would shift every later one.
    #[test]
    fn a_forwarded_heartbeat_decodes_with_hot_and_cold_copies() {
        let hot = ShardReport { shard_id: 1, size: 10, checksum: 2, hot: true, content: None, points: None };
        let cold = ShardReport { shard_id: 2, size: 20, checksum: 3, hot: false, content: Some(7), points: Some(5) };
        let request = AeRequest::Heartbeat(Heartbeat {
            node_id: 4,
            request: HeartbeatRequest {
                addr: "d:1".into(),
                version: "1".into(),
                inventory_version: 9,
                inventory: Some(vec![hot, cold]),
                handoff: Vec::new(),
                orphans: Vec::new(),
            },
        });
        let bytes = meta_model::codec::encode("anti-entropy request", &request).expect("encodes");
        let decoded: AeRequest = meta_model::codec::decode("anti-entropy request", &bytes).expect("decodes");
        assert_eq!(decoded, request);
    }
}
