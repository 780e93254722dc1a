//! [`PlacementPolicy`]: how the cluster places shards, set by operators for the whole cluster.

use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::model::node::ZONE_LABEL;
use crate::validate::validate_label_key;

/// Most levels a failure-domain hierarchy may have.
pub const MAX_FAILURE_DOMAIN_LEVELS: usize = 8;

/// How the cluster places shards. Replicated metadata, not node configuration: placement runs in
/// `apply`, so every replica must place by the same rules.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementPolicy {
    /// The failure-domain hierarchy: data-node label keys, highest level first (for example
    /// `["zone", "rack", "host"]`). Each shard's owners spread over as many domains of the first
    /// level as the live nodes offer, then of the next, and so on (HDFS's rack awareness, over
    /// any depth). Empty: owners are placed by load alone. Default `["zone"]`, the one label
    /// earlier releases spread by.
    pub failure_domains: Vec<String>,
}

impl Default for PlacementPolicy {
    fn default() -> Self {
        PlacementPolicy { failure_domains: vec![ZONE_LABEL.to_owned()] }
    }
}

/// Checks a failure-domain hierarchy: at most [`MAX_FAILURE_DOMAIN_LEVELS`] label keys, each a
/// valid key, none twice.
///
/// # Errors
/// [`ApplyError::InvalidName`] naming `failure_domains` and the offending key.
pub fn validate_failure_domains(levels: &[String]) -> Result<(), ApplyError> {
    let invalid = |value: &str, reason: &str| ApplyError::InvalidName {
        field: "failure_domains".to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    if levels.len() > MAX_FAILURE_DOMAIN_LEVELS {
        return Err(invalid(&levels.join(","), "at most 8 levels"));
    }
    for (i, key) in levels.iter().enumerate() {
        validate_label_key("failure_domains", key)?;
        if levels[..i].contains(key) {
            return Err(invalid(key, "a level may appear once"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchies_are_distinct_valid_label_keys() {
        let levels = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(validate_failure_domains(&levels(&["zone", "rack", "host"])), Ok(()));
        assert_eq!(validate_failure_domains(&[]), Ok(()), "no hierarchy: placement by load alone");
        for bad in [&["zone", "zone"][..], &["Zone"], &[""], &["a", "b", "c", "d", "e", "f", "g", "h", "i"]] {
            let error = validate_failure_domains(&levels(bad)).expect_err("refused");
            assert!(matches!(&error, ApplyError::InvalidName { field, .. } if field == "failure_domains"), "{error:?}");
        }
        assert_eq!(PlacementPolicy::default().failure_domains, ["zone"]);
    }
}
