//! Operator calls of anti-entropy: entropy reports, copy tasks, repairs.

use reqwest::Method;

use meta_model::{NodeId, ShardId, Task, TaskId, TaskState};
use meta_wire::{CopyShardRequest, CopyTaskList, EntropyReport, RepairReply, RepairRequest};

use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/entropy`: the leader's last findings, open and failed tasks, node health.
    pub async fn entropy(&self) -> Result<EntropyReport, ClientError> {
        self.get("/v1/entropy").await
    }

    /// `GET /v1/copy-tasks`: tasks kept in the metadata, optionally only those in `state`.
    pub async fn copy_tasks(&self, state: Option<TaskState>) -> Result<CopyTaskList, ClientError> {
        let path = match state {
            Some(state) => format!("/v1/copy-tasks?state={}", format!("{state:?}").to_lowercase()),
            None => "/v1/copy-tasks".to_owned(),
        };
        self.get(&path).await
    }

    /// `POST /v1/copy-tasks` (`copy-shard`): copies `shard_id` from `source` to `target`, which
    /// becomes an extra owner when the copy is done.
    pub async fn copy_shard(&self, shard_id: ShardId, source: NodeId, target: NodeId) -> Result<Task, ClientError> {
        let body = CopyShardRequest { shard_id, source, target };
        self.write(Method::POST, "/v1/copy-tasks", Some(&body)).await
    }

    /// `DELETE /v1/copy-tasks/{id}` (`kill-copy-shard`, `entropy kill-repair`): withdraws an open
    /// task; the planner does not plan the same copy again until `entropy repair`.
    pub async fn kill_copy_task(&self, task_id: TaskId) -> Result<Task, ClientError> {
        self.write::<(), _>(Method::DELETE, &format!("/v1/copy-tasks/{task_id}"), None).await
    }

    /// `POST /v1/entropy/repair` (`entropy repair`): clears the shard's failed or killed tasks and
    /// plans it at once; returns the tasks created.
    pub async fn repair_shard(&self, shard_id: ShardId) -> Result<RepairReply, ClientError> {
        self.write(Method::POST, "/v1/entropy/repair", Some(&RepairRequest { shard_id })).await
    }
}
