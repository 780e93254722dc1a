//! Handlers for database and retention-policy commands.

use std::collections::BTreeMap;

use super::MetaState;
use crate::error::ApplyError;
use crate::model::database::Database;
use crate::model::node::NodeId;
use crate::model::retention_policy::{RetentionPolicy, RetentionPolicySpec, RetentionPolicyUpdate};
use crate::response::Response;
use crate::validate::{validate_durations, validate_name, validate_replication_factor};

impl MetaState {
    pub(super) fn create_database(
        &mut self,
        name: &str,
        default_policy: Option<&RetentionPolicySpec>,
    ) -> Result<Response, ApplyError> {
        validate_name("database", name)?;
        if self.databases.contains_key(name) {
            return Err(ApplyError::DatabaseExists { database: name.to_owned() });
        }
        let policy = default_policy.map(|spec| self.new_retention_policy(spec)).transpose()?;
        let database = Database {
            name: name.to_owned(),
            default_retention_policy: policy.as_ref().map(|p| p.name.clone()),
            retention_policies: policy.into_iter().map(|p| (p.name.clone(), p)).collect(),
        };
        self.databases.insert(name.to_owned(), database);
        Ok(Response::Done)
    }

    pub(super) fn drop_database(&mut self, name: &str) -> Result<Response, ApplyError> {
        let database =
            self.databases.remove(name).ok_or_else(|| ApplyError::DatabaseNotFound { database: name.to_owned() })?;
        let affected = self.forget_groups(database.retention_policies.values());
        self.settle_draining(affected);
        Ok(Response::Done)
    }

    pub(super) fn create_retention_policy(
        &mut self,
        database: &str,
        spec: &RetentionPolicySpec,
        make_default: bool,
    ) -> Result<Response, ApplyError> {
        let db = self.database_ref(database)?;
        if db.retention_policies.contains_key(&spec.name) {
            return Err(ApplyError::RetentionPolicyExists {
                database: database.to_owned(),
                retention_policy: spec.name.clone(),
            });
        }
        let policy = self.new_retention_policy(spec)?;
        let db = self.database_mut(database)?;
        if make_default || db.default_retention_policy.is_none() {
            db.default_retention_policy = Some(policy.name.clone());
        }
        db.retention_policies.insert(policy.name.clone(), policy);
        Ok(Response::Done)
    }

    pub(super) fn alter_retention_policy(
        &mut self,
        database: &str,
        name: &str,
        update: &RetentionPolicyUpdate,
    ) -> Result<Response, ApplyError> {
        let policy = self.policy_ref(database, name)?;
        let duration = update.duration.unwrap_or(policy.duration);
        let shard_group_duration = update.shard_group_duration.unwrap_or(policy.shard_group_duration);
        validate_durations(duration, shard_group_duration)?;
        if let Some(rf) = update.replication_factor {
            validate_replication_factor(rf, self.active_data_node_count())?;
        }
        let db = self.database_mut(database)?;
        if update.make_default {
            db.default_retention_policy = Some(name.to_owned());
        }
        let policy = db.retention_policies.get_mut(name).ok_or_else(|| policy_not_found(database, name))?;
        policy.duration = duration;
        policy.shard_group_duration = shard_group_duration;
        if let Some(rf) = update.replication_factor {
            policy.replication_factor = rf;
            let shards: Vec<_> = policy.shard_groups.values().flat_map(|g| g.shards.iter().map(|s| s.id)).collect();
            self.journal.shards(shards);
        }
        Ok(Response::Done)
    }

    pub(super) fn drop_retention_policy(&mut self, database: &str, name: &str) -> Result<Response, ApplyError> {
        let db = self.database_mut(database)?;
        let policy = db.retention_policies.remove(name).ok_or_else(|| policy_not_found(database, name))?;
        if db.default_retention_policy.as_deref() == Some(name) {
            db.default_retention_policy = None;
        }
        let affected = self.forget_groups([&policy]);
        self.settle_draining(affected);
        Ok(Response::Done)
    }

    /// A new, empty policy from a spec, validated against the current cluster.
    fn new_retention_policy(&self, spec: &RetentionPolicySpec) -> Result<RetentionPolicy, ApplyError> {
        validate_name("retention policy", &spec.name)?;
        let shard_group_duration =
            spec.shard_group_duration.unwrap_or_else(|| RetentionPolicy::default_shard_group_duration(spec.duration));
        validate_durations(spec.duration, shard_group_duration)?;
        validate_replication_factor(spec.replication_factor, self.active_data_node_count())?;
        Ok(RetentionPolicy {
            name: spec.name.clone(),
            duration: spec.duration,
            shard_group_duration,
            replication_factor: spec.replication_factor,
            shard_groups: BTreeMap::new(),
        })
    }

    /// Removes the groups of dropped policies from the index; returns the nodes that owned shards.
    fn forget_groups<'a>(&mut self, policies: impl IntoIterator<Item = &'a RetentionPolicy>) -> Vec<NodeId> {
        let mut owners = Vec::new();
        for group in policies.into_iter().flat_map(|p| p.shard_groups.values()) {
            owners.extend(group.shards.iter().flat_map(|s| s.owners.iter().copied()));
            self.forget_group(group);
        }
        owners.sort_unstable();
        owners.dedup();
        owners
    }

    pub(super) fn database_ref(&self, name: &str) -> Result<&Database, ApplyError> {
        self.databases.get(name).ok_or_else(|| ApplyError::DatabaseNotFound { database: name.to_owned() })
    }

    fn database_mut(&mut self, name: &str) -> Result<&mut Database, ApplyError> {
        self.databases.get_mut(name).ok_or_else(|| ApplyError::DatabaseNotFound { database: name.to_owned() })
    }

    pub(super) fn policy_ref(&self, database: &str, name: &str) -> Result<&RetentionPolicy, ApplyError> {
        self.database_ref(database)?.retention_policies.get(name).ok_or_else(|| policy_not_found(database, name))
    }
}

fn policy_not_found(database: &str, name: &str) -> ApplyError {
    ApplyError::RetentionPolicyNotFound { database: database.to_owned(), retention_policy: name.to_owned() }
}
