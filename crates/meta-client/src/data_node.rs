//! Calls a data node makes: heartbeats, written marks and its side of copy tasks.
//!
//! Retry rules: heartbeats, written marks, claims and progress reports are safe to repeat (soft
//! state, an idempotent mark, or a reply that lists every task the node holds), so an unknown
//! outcome is retried. Completion and
//! failure are not: a repeated completion is refused with `409 task_not_claimed` or
//! `stale_attempt`, after which the caller re-reads the task with [`Client::copy_task`].

use reqwest::Method;

use meta_model::{NodeId, ShardId, Task, TaskId};
use meta_wire::{
    ClaimReply, ClaimRequest, CompleteRequest, CopyTaskInfo, FailRequest, HeartbeatReply, HeartbeatRequest,
    MarkWrittenRequest, ProgressReply, ProgressRequest,
};

use crate::{Client, ClientError, Idempotent, REQUEST_TIMEOUT};

impl Client {
    /// `POST /v1/data-nodes/{id}/heartbeat`: reports liveness, version and (when it changed) the
    /// node's shard inventory. Retried when the outcome is unknown: a heartbeat is soft state.
    ///
    /// Refusals the caller must act on: `409 address_mismatch` (the ID now belongs to another
    /// address, see `update-data`) and `404` (the node is unknown).
    pub async fn heartbeat(&self, node_id: NodeId, request: &HeartbeatRequest) -> Result<HeartbeatReply, ClientError> {
        self.locate_leader().await;
        let path = format!("/v1/data-nodes/{node_id}/heartbeat");
        self.request(Method::POST, &path, Some(request), Idempotent::Yes, REQUEST_TIMEOUT).await
    }

    /// `POST /v1/shards/written`: marks shards as holding data, committed when this returns `Ok`;
    /// a data node calls it before it acknowledges the first write to a shard. Marking is
    /// idempotent, so an unknown outcome is retried.
    pub async fn mark_written(&self, shard_ids: &[ShardId]) -> Result<(), ClientError> {
        self.locate_leader().await;
        let request = MarkWrittenRequest { shard_ids: shard_ids.to_vec() };
        self.request(Method::POST, "/v1/shards/written", Some(&request), Idempotent::Yes, REQUEST_TIMEOUT).await
    }

    /// `POST /v1/copy-tasks/claim`: claims up to `max` tasks the node is the target of. The reply
    /// lists every task the node holds claimed (new and earlier claims), so a repeated claim only
    /// returns the same tasks: retried when the outcome is unknown.
    pub async fn claim_tasks(&self, request: &ClaimRequest) -> Result<ClaimReply, ClientError> {
        self.locate_leader().await;
        self.request(Method::POST, "/v1/copy-tasks/claim", Some(request), Idempotent::Yes, REQUEST_TIMEOUT).await
    }

    /// `POST /v1/copy-tasks/{id}/progress`: reports bytes copied and renews the claim's lease.
    /// Retried when the outcome is unknown (the latest report wins). A `409` or `404` means the
    /// task was cancelled or claimed again by a newer attempt: stop working on it.
    pub async fn report_progress(
        &self,
        task_id: TaskId,
        request: &ProgressRequest,
    ) -> Result<ProgressReply, ClientError> {
        self.locate_leader().await;
        let path = format!("/v1/copy-tasks/{task_id}/progress");
        self.request(Method::POST, &path, Some(request), Idempotent::Yes, REQUEST_TIMEOUT).await
    }

    /// `POST /v1/copy-tasks/{id}/complete`: the copy is in place; the target becomes an owner.
    /// Not retried when the outcome is unknown. A repeat after a success is refused with `409
    /// task_not_claimed` or `stale_attempt`; read the task with [`Client::copy_task`] to find out.
    pub async fn complete_task(&self, task_id: TaskId, attempt: u32) -> Result<Task, ClientError> {
        let path = format!("/v1/copy-tasks/{task_id}/complete");
        self.write(Method::POST, &path, Some(&CompleteRequest { attempt })).await
    }

    /// `POST /v1/copy-tasks/{id}/fail`: the attempt failed with `error`; the meta service retries
    /// the task with backoff (or marks it failed). Not retried when the outcome is unknown.
    pub async fn fail_task(&self, task_id: TaskId, attempt: u32, error: &str) -> Result<Task, ClientError> {
        let path = format!("/v1/copy-tasks/{task_id}/fail");
        self.write(Method::POST, &path, Some(&FailRequest { attempt, error: error.to_owned() })).await
    }

    /// `GET /v1/copy-tasks/{id}`: one task with its last reported progress.
    pub async fn copy_task(&self, task_id: TaskId) -> Result<CopyTaskInfo, ClientError> {
        self.get(&format!("/v1/copy-tasks/{task_id}")).await
    }
}
