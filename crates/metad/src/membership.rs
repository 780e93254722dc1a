//! Adding and removing meta nodes, run on the leader.
//!
//! ```text
//!  add-meta ADDR:  ask ADDR for its ID (GET /v1/status; it must not belong to a cluster)
//!              ─► record it in the catalog (AddMetaNode: checks the ID was never used, the address free)
//!              ─► add as learner, wait until it has caught up
//!              ─► promote to voter (joint consensus)
//!  remove-meta ID: demote and remove (joint consensus) ─► forget it in the catalog (RemoveMetaNode)
//! ```
//! A failure after the catalog step takes the catalog entry back, so `show` never lists a
//! meta node that is not a member.

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers};

use meta_api::{MembershipChange, Proposed};

use crate::rpc::{write_as_leader, ForwardError, PROPOSE_PATH};
use meta_api::{MetaService, NodeStatus};
use meta_model::{Command, NodeId};

use crate::node::Node;

/// How long the new node may take to answer who it is.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of one proposal sent to a remaining member.
const PROPOSE_TIMEOUT: Duration = Duration::from_secs(10);

impl Node {
    /// Applies a membership change; this node must be the leader.
    pub(crate) async fn change_membership_as_leader(&self, change: MembershipChange) -> Result<NodeId, ForwardError> {
        match change {
            MembershipChange::Add { addr } => self.add_member(addr).await,
            MembershipChange::Remove { node_id } => self.remove_member(node_id).await,
        }
    }

    fn voters(&self) -> BTreeSet<NodeId> {
        self.raft().metrics().borrow().membership_config.membership().voter_ids().collect()
    }

    async fn add_member(&self, addr: String) -> Result<NodeId, ForwardError> {
        let status: NodeStatus = self
            .peers()
            .http()
            .get(self.peers().url(&addr, "/v1/status"))
            .timeout(PROBE_TIMEOUT)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| ForwardError::Refused(format!("the new meta node at {addr} does not answer: {e}")))?
            .json()
            .await
            .map_err(|e| ForwardError::Refused(format!("{addr} is not a meta node: {e}")))?;
        let node_id = status.node_id;
        let voters = self.voters();
        if voters.contains(&node_id) {
            return Err(ForwardError::Refused(format!("node {node_id} is already a voting member")));
        }
        if !status.voters.is_empty() {
            return Err(ForwardError::Refused(format!(
                "the node at {addr} already belongs to a cluster (members {:?}); give it an empty data dir",
                status.voters.iter().map(|m| m.id).collect::<Vec<_>>()
            )));
        }
        let record = Command::AddMetaNode { node_id: Some(node_id), addr: addr.clone() };
        let recorded = write_as_leader(self.raft(), record).await?.result;
        recorded.map_err(|e| ForwardError::Refused(format!("cannot add meta node {node_id}: {e}")))?;
        let joined = async {
            self.raft().add_learner(node_id, BasicNode::new(addr.clone()), true).await?;
            self.raft().change_membership(ChangeMembers::AddVoterIds([node_id].into()), false).await
        }
        .await;
        if let Err(error) = joined {
            tracing::warn!(node_id, %error, "adding meta node failed; forgetting it");
            let _ = self.propose(Command::RemoveMetaNode { node_id }).await;
            return Err(ForwardError::Raft(error.to_string()));
        }
        tracing::info!(node_id, %addr, "meta node added");
        Ok(node_id)
    }

    async fn remove_member(&self, node_id: NodeId) -> Result<NodeId, ForwardError> {
        let voters = self.voters();
        if !voters.contains(&node_id) {
            return Err(ForwardError::Refused(format!("meta node {node_id} is not a voting member")));
        }
        if voters.len() == 1 {
            return Err(ForwardError::Refused(format!("meta node {node_id} is the last one and cannot be removed")));
        }
        self.raft()
            .change_membership(ChangeMembers::RemoveVoters([node_id].into()), false)
            .await
            .map_err(|e| ForwardError::Raft(e.to_string()))?;
        tracing::info!(node_id, "meta node removed from the raft membership");
        let forget = Command::RemoveMetaNode { node_id };
        let forgotten = if node_id == self.id() {
            // This node is no longer a member: it hears from no leader, so ask the members.
            let members: Vec<String> = {
                let metrics = self.raft().metrics().borrow().clone();
                let membership = metrics.membership_config.membership();
                voters
                    .iter()
                    .filter(|id| **id != node_id)
                    .filter_map(|id| membership.get_node(id))
                    .map(|n| n.addr.clone())
                    .collect()
            };
            self.propose_through(&members, forget).await
        } else {
            self.propose(forget).await.map(drop).map_err(|e| e.to_string())
        };
        forgotten
            .map(|()| node_id)
            .map_err(|e| ForwardError::Raft(format!("removed from raft, but not from the catalog: {e}")))
    }

    /// Proposes `command` through whichever of `members` leads, following "not the leader" hints.
    async fn propose_through(&self, members: &[String], command: Command) -> Result<(), String> {
        let mut last = String::from("no members to ask");
        for round in 0..10u32 {
            for addr in members {
                let reply: Result<Result<Proposed, ForwardError>, _> =
                    self.peers().post(addr, PROPOSE_PATH, &command, PROPOSE_TIMEOUT).await;
                match reply {
                    Ok(Ok(_)) => return Ok(()),
                    Ok(Err(error)) => last = error.to_string(),
                    Err(error) => last = error.to_string(),
                }
            }
            // Deliberate backoff while the remaining members elect a leader.
            tokio::time::sleep(Duration::from_millis(100 << round.min(4))).await;
        }
        Err(last)
    }
}
