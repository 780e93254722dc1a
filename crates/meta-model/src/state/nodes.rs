//! Handlers for data-node and meta-node commands.

use std::collections::BTreeMap;

use super::{group_mut, MetaState};
use crate::error::ApplyError;
use crate::model::node::{DataNode, MetaNode, NodeId, NodeState};
use crate::response::Response;
use crate::validate::{validate_addr, validate_label_key, validate_labels};

/// Operators may choose meta node IDs up to this value; higher IDs are left to the counter.
const MAX_CHOSEN_NODE_ID: NodeId = u32::MAX as NodeId;

impl MetaState {
    pub(super) fn add_data_node(
        &mut self,
        tcp_addr: &str,
        http_addr: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Response, ApplyError> {
        validate_addr("tcp_addr", tcp_addr)?;
        validate_addr("http_addr", http_addr)?;
        validate_labels(labels)?;
        self.check_addr_free(tcp_addr, None)?;
        self.check_addr_free(http_addr, None)?;
        let id = self.next_node_id;
        self.next_node_id += 1;
        let node = DataNode {
            id,
            tcp_addr: tcp_addr.to_owned(),
            http_addr: http_addr.to_owned(),
            state: NodeState::Active,
            labels: labels.clone(),
        };
        self.data_nodes.insert(id, node.clone());
        self.journal.data_node(id);
        Ok(Response::DataNode(node))
    }

    pub(super) fn update_data_node(
        &mut self,
        node_id: NodeId,
        tcp_addr: &str,
        http_addr: &str,
        labels: Option<&BTreeMap<String, String>>,
    ) -> Result<Response, ApplyError> {
        validate_addr("tcp_addr", tcp_addr)?;
        validate_addr("http_addr", http_addr)?;
        if let Some(labels) = labels {
            validate_labels(labels)?;
        }
        self.member_data_node(node_id)?;
        self.check_addr_free(tcp_addr, Some(node_id))?;
        self.check_addr_free(http_addr, Some(node_id))?;
        let node = self.data_nodes.get_mut(&node_id).ok_or(ApplyError::DataNodeNotFound { node_id })?;
        node.tcp_addr = tcp_addr.to_owned();
        node.http_addr = http_addr.to_owned();
        if let Some(labels) = labels {
            node.labels = labels.clone();
        }
        let node = node.clone();
        self.journal.data_node(node_id);
        Ok(Response::DataNode(node))
    }

    /// `node-labels`: sets and deletes labels of a member data node in one step (deleting a
    /// label it lacks is no error). A label in the failure-domain hierarchy changes how every
    /// shard's spread is judged, so the change asks anti-entropy to look at everything.
    pub(super) fn set_node_labels(
        &mut self,
        node_id: NodeId,
        set: &BTreeMap<String, String>,
        delete: &[String],
    ) -> Result<Response, ApplyError> {
        validate_labels(set)?;
        for key in delete {
            validate_label_key("label key", key)?;
            if set.contains_key(key) {
                return Err(ApplyError::InvalidName {
                    field: "delete".to_owned(),
                    value: key.clone(),
                    reason: "a label cannot be set and deleted at once".to_owned(),
                });
            }
        }
        self.member_data_node(node_id)?;
        let node = self.data_nodes.get_mut(&node_id).ok_or(ApplyError::DataNodeNotFound { node_id })?;
        let before = node.labels.clone();
        node.labels.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
        for key in delete {
            node.labels.remove(key);
        }
        let node = node.clone();
        if node.labels != before {
            self.journal.data_node(node_id);
            let levels = &self.placement.failure_domains;
            if levels.iter().any(|level| before.get(level) != node.labels.get(level)) {
                self.journal.record(|c| c.everything = true);
            }
        }
        Ok(Response::DataNode(node))
    }

    pub(super) fn remove_data_node(&mut self, node_id: NodeId, force: bool) -> Result<Response, ApplyError> {
        self.member_data_node(node_id)?;
        let owned: Vec<_> = self.shards_owned_by(node_id).collect();
        self.journal.data_node(node_id);
        self.journal.shards(owned.iter().copied());
        let mut ownerless_shards = Vec::new();
        let state = if force || owned.is_empty() {
            for shard_id in owned {
                let Some(&group_id) = self.index.shard_group.get(&shard_id) else { continue };
                if let Some(group) = group_mut(&mut self.databases, &self.index, group_id) {
                    if let Some(shard) = group.shards.iter_mut().find(|s| s.id == shard_id) {
                        shard.owners.retain(|&o| o != node_id);
                        if shard.owners.is_empty() {
                            ownerless_shards.push(shard_id);
                        }
                    }
                }
                self.index.remove_owner(node_id, shard_id);
            }
            NodeState::Removed
        } else {
            NodeState::Draining
        };
        let node = self.data_nodes.get_mut(&node_id).ok_or(ApplyError::DataNodeNotFound { node_id })?;
        node.state = state;
        Ok(Response::DataNodeRemoved { node: node.clone(), ownerless_shards })
    }

    pub(super) fn add_meta_node(&mut self, node_id: Option<NodeId>, addr: &str) -> Result<Response, ApplyError> {
        validate_addr("addr", addr)?;
        let id = match node_id {
            Some(id) if id == 0 || id > MAX_CHOSEN_NODE_ID => return Err(ApplyError::InvalidNodeId { node_id: id }),
            // IDs below the counter are in use or were used once: never hand them out again.
            Some(id) if id < self.next_node_id => return Err(ApplyError::NodeIdInUse { node_id: id }),
            Some(id) => id,
            None => self.next_node_id,
        };
        self.check_addr_free(addr, None)?;
        self.next_node_id = self.next_node_id.max(id + 1);
        let node = MetaNode { id, addr: addr.to_owned() };
        self.meta_nodes.insert(id, node.clone());
        Ok(Response::MetaNode(node))
    }

    pub(super) fn remove_meta_node(&mut self, node_id: NodeId) -> Result<Response, ApplyError> {
        if !self.meta_nodes.contains_key(&node_id) {
            return Err(ApplyError::MetaNodeNotFound { node_id });
        }
        if self.meta_nodes.len() == 1 {
            return Err(ApplyError::LastMetaNode { node_id });
        }
        self.meta_nodes.remove(&node_id);
        Ok(Response::Done)
    }

    /// The data node `node_id`, which must not be removed.
    fn member_data_node(&self, node_id: NodeId) -> Result<&DataNode, ApplyError> {
        let node = self.data_nodes.get(&node_id).ok_or(ApplyError::DataNodeNotFound { node_id })?;
        if node.state == NodeState::Removed {
            return Err(ApplyError::DataNodeNotActive { node_id, state: node.state });
        }
        Ok(node)
    }

    /// Fails if a live node other than `except` already listens on `addr`.
    fn check_addr_free(&self, addr: &str, except: Option<NodeId>) -> Result<(), ApplyError> {
        let data = self
            .data_nodes
            .values()
            .filter(|n| n.is_member() && Some(n.id) != except)
            .find(|n| n.tcp_addr == addr || n.http_addr == addr)
            .map(|n| n.id);
        let meta = || self.meta_nodes.values().find(|n| n.addr == addr && Some(n.id) != except).map(|n| n.id);
        match data.or_else(meta) {
            Some(node_id) => Err(ApplyError::AddressInUse { addr: addr.to_owned(), node_id }),
            None => Ok(()),
        }
    }
}
