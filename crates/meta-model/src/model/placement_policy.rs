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
    /// Whether and how anti-entropy moves shards between data nodes to even out their load.
    /// Absent in the metadata of earlier releases: off ([`BalancePolicy::upgraded`]).
    #[serde(default = "BalancePolicy::upgraded")]
    pub balance: BalancePolicy,
}

impl Default for PlacementPolicy {
    fn default() -> Self {
        PlacementPolicy { failure_domains: vec![ZONE_LABEL.to_owned()], balance: BalancePolicy::default() }
    }
}

impl PlacementPolicy {
    /// The policy of a cluster upgraded from a release without one: spreading by `zone`, as
    /// those releases did, and balancing off until enabled ([`BalancePolicy::upgraded`]).
    pub fn upgraded() -> Self {
        PlacementPolicy { balance: BalancePolicy::upgraded(), ..PlacementPolicy::default() }
    }
}

/// Rebalancing: moving shards from the most to the least loaded data nodes (a copy to the new
/// node, then the old owner dropped once the copy holds every acknowledged write), after every
/// repair. Set with `metactl balance enable|disable` (`PUT /v1/balance`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancePolicy {
    /// Whether moves are planned. Default on.
    pub enabled: bool,
    /// How far, in percent of the mean, a node's shard count or bytes may stray from the mean
    /// of the active data nodes before shards move (HDFS balancer's threshold); a count within
    /// one shard of the mean is always balanced. 0 to 100, default 10.
    pub tolerance_percent: u32,
    /// Most moves in flight in the whole cluster at once, apart from repairs (which also count
    /// against each node's `max-fetch` and `max-sync` first). 1 to 1000, default 4.
    pub max_moves: u32,
}

impl Default for BalancePolicy {
    fn default() -> Self {
        BalancePolicy { enabled: true, tolerance_percent: 10, max_moves: 4 }
    }
}

impl BalancePolicy {
    /// The policy of a cluster upgraded from a release without balancing: off until `balance
    /// enable`, so that no move task (a kind data nodes of that release cannot read) exists
    /// before every data node runs this release; the default tolerance and move limit.
    pub fn upgraded() -> Self {
        BalancePolicy { enabled: false, ..BalancePolicy::default() }
    }
}

/// Largest [`BalancePolicy::max_moves`].
pub const MAX_MOVES_LIMIT: u32 = 1000;

impl BalancePolicy {
    /// Checks the tolerance (0 to 100) and the move limit (1 to [`MAX_MOVES_LIMIT`]).
    ///
    /// # Errors
    /// [`ApplyError::InvalidName`] naming `tolerance_percent` or `max_moves`.
    pub fn validate(&self) -> Result<(), ApplyError> {
        let invalid = |field: &str, value: u32, reason: &str| ApplyError::InvalidName {
            field: field.to_owned(),
            value: value.to_string(),
            reason: reason.to_owned(),
        };
        if self.tolerance_percent > 100 {
            return Err(invalid("tolerance_percent", self.tolerance_percent, "a percentage from 0 to 100"));
        }
        if !(1..=MAX_MOVES_LIMIT).contains(&self.max_moves) {
            return Err(invalid("max_moves", self.max_moves, "from 1 to 1000 (disable balancing to stop moves)"));
        }
        Ok(())
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

    #[test]
    fn the_metadata_of_a_release_without_balancing_reads_with_balancing_off() {
        let old: PlacementPolicy = serde_json::from_str(r#"{"failure_domains": ["zone", "rack"]}"#).expect("reads");
        assert_eq!(old.failure_domains, ["zone", "rack"]);
        assert_eq!(old.balance, BalancePolicy { enabled: false, tolerance_percent: 10, max_moves: 4 });
        assert!(PlacementPolicy::default().balance.enabled, "a new cluster balances");
    }

    #[test]
    fn balance_policies_keep_tolerance_and_move_limit_in_range() {
        assert_eq!(BalancePolicy::default().validate(), Ok(()));
        let with = |tolerance_percent, max_moves| BalancePolicy { enabled: true, tolerance_percent, max_moves };
        assert_eq!(with(0, 1).validate(), Ok(()));
        assert_eq!(with(100, MAX_MOVES_LIMIT).validate(), Ok(()));
        for (bad, field) in
            [(with(101, 4), "tolerance_percent"), (with(10, 0), "max_moves"), (with(10, 1001), "max_moves")]
        {
            let error = bad.validate().expect_err("refused");
            assert!(matches!(&error, ApplyError::InvalidName { field: f, .. } if f == field), "{error:?}");
        }
    }
}
