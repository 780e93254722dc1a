//! Databases.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::retention_policy::RetentionPolicy;

/// A database and its retention policies.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Name, unique in the cluster.
    pub name: String,
    /// The retention policy writes go to when none is named.
    pub default_retention_policy: Option<String>,
    /// Retention policies by name.
    pub retention_policies: BTreeMap<String, RetentionPolicy>,
}
