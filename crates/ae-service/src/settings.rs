//! The `[anti-entropy]` section of the configuration and its checked form.

use std::time::Duration;

use serde::Deserialize;

/// `[anti-entropy]` as written in the TOML file. Durations are strings such as `500ms`, `30s`,
/// `30m`; `dead-node-timeout = "0"` never declares a node dead (only operators remove owners).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct AntiEntropySection {
    /// Plan and hand out copy tasks at all.
    pub enabled: bool,
    /// Full planning round at least this often (also right after entropy-creating events).
    pub check_interval: String,
    /// A data node silent this long is declared dead and its shards are re-replicated.
    pub dead_node_timeout: String,
    /// A data node silent this long is suspect: neither source nor target of new copies.
    pub suspect_timeout: String,
    /// How often data nodes are asked to heartbeat.
    pub heartbeat_interval: String,
    /// After becoming leader, wait this long before trusting liveness and inventories.
    pub grace_period: String,
    /// Concurrent copy tasks per target node.
    pub max_fetch: u32,
    /// Concurrent copy tasks per source node.
    pub max_sync: u32,
    /// Lease of a claimed task; renewed while the claimant reports progress.
    pub lease: String,
    /// Failures after which a task is marked failed (until `entropy repair`).
    pub max_failures: u32,
    /// Delay before the first retry of a failed task; doubled after each further failure.
    pub retry_backoff: String,
    /// Longest delay between retries.
    pub max_retry_backoff: String,
}

impl Default for AntiEntropySection {
    fn default() -> Self {
        AntiEntropySection {
            enabled: true,
            check_interval: "30s".to_owned(),
            dead_node_timeout: "30m".to_owned(),
            suspect_timeout: "5s".to_owned(),
            heartbeat_interval: "1s".to_owned(),
            grace_period: "3s".to_owned(),
            max_fetch: 10,
            max_sync: 5,
            lease: "30s".to_owned(),
            max_failures: 5,
            retry_backoff: "1s".to_owned(),
            max_retry_backoff: "5m".to_owned(),
        }
    }
}

/// The checked anti-entropy settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AntiEntropySettings {
    /// Plan and hand out copy tasks at all.
    pub enabled: bool,
    /// Full planning round at least this often.
    pub check_interval: Duration,
    /// Silence after which a node is dead; `None`: never.
    pub dead_node_timeout: Option<Duration>,
    /// Silence after which a node is suspect.
    pub suspect_timeout: Duration,
    /// Heartbeat interval asked of data nodes.
    pub heartbeat_interval: Duration,
    /// Wait after becoming leader before trusting soft state.
    pub grace_period: Duration,
    /// Concurrent tasks per target.
    pub max_fetch: u32,
    /// Concurrent tasks per source.
    pub max_sync: u32,
    /// Lease of a claim.
    pub lease: Duration,
    /// Failures before a task is failed for good.
    pub max_failures: u32,
    /// First retry delay.
    pub retry_backoff: Duration,
    /// Longest retry delay.
    pub max_retry_backoff: Duration,
}

/// An `[anti-entropy]` option with a bad value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {option} {value:?}: {reason}")]
pub struct SettingsError {
    /// The option, as written in the configuration (`anti-entropy.lease`).
    pub option: &'static str,
    /// The value given.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

fn invalid(option: &'static str, value: impl Into<String>, reason: impl Into<String>) -> SettingsError {
    SettingsError { option, value: value.into(), reason: reason.into() }
}

fn duration(option: &'static str, text: &str) -> Result<Duration, SettingsError> {
    meta_model::parse_duration(text).map(Duration::from_nanos).map_err(|e| invalid(option, text, e.to_string()))
}

fn positive(option: &'static str, text: &str) -> Result<Duration, SettingsError> {
    let value = duration(option, text)?;
    if value.is_zero() {
        return Err(invalid(option, text, "must be greater than 0"));
    }
    Ok(value)
}

impl AntiEntropySection {
    /// Checks every value and how they relate, naming the option at fault.
    pub fn validate(&self) -> Result<AntiEntropySettings, SettingsError> {
        let heartbeat_interval = positive("anti-entropy.heartbeat-interval", &self.heartbeat_interval)?;
        let suspect_timeout = positive("anti-entropy.suspect-timeout", &self.suspect_timeout)?;
        if suspect_timeout <= heartbeat_interval {
            return Err(invalid(
                "anti-entropy.suspect-timeout",
                &self.suspect_timeout,
                "must be longer than heartbeat-interval",
            ));
        }
        let dead = duration("anti-entropy.dead-node-timeout", &self.dead_node_timeout)?;
        let dead_node_timeout = (!dead.is_zero()).then_some(dead);
        if dead_node_timeout.is_some_and(|dead| dead < suspect_timeout) {
            return Err(invalid(
                "anti-entropy.dead-node-timeout",
                &self.dead_node_timeout,
                "must be 0 (never) or at least suspect-timeout",
            ));
        }
        let grace_period = duration("anti-entropy.grace-period", &self.grace_period)?;
        if grace_period < heartbeat_interval {
            return Err(invalid(
                "anti-entropy.grace-period",
                &self.grace_period,
                "must be at least heartbeat-interval, or a new leader plans before hearing from every node",
            ));
        }
        let lease = positive("anti-entropy.lease", &self.lease)?;
        if lease < 2 * heartbeat_interval {
            return Err(invalid("anti-entropy.lease", &self.lease, "must be at least twice heartbeat-interval"));
        }
        for (option, value) in [
            ("anti-entropy.max-fetch", self.max_fetch),
            ("anti-entropy.max-sync", self.max_sync),
            ("anti-entropy.max-failures", self.max_failures),
        ] {
            if value == 0 {
                return Err(invalid(option, "0", "must be at least 1"));
            }
        }
        let retry_backoff = duration("anti-entropy.retry-backoff", &self.retry_backoff)?;
        let max_retry_backoff = duration("anti-entropy.max-retry-backoff", &self.max_retry_backoff)?;
        if max_retry_backoff < retry_backoff {
            return Err(invalid(
                "anti-entropy.max-retry-backoff",
                &self.max_retry_backoff,
                "must be at least retry-backoff",
            ));
        }
        Ok(AntiEntropySettings {
            enabled: self.enabled,
            check_interval: positive("anti-entropy.check-interval", &self.check_interval)?,
            dead_node_timeout,
            suspect_timeout,
            heartbeat_interval,
            grace_period,
            max_fetch: self.max_fetch,
            max_sync: self.max_sync,
            lease,
            max_failures: self.max_failures,
            retry_backoff,
            max_retry_backoff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let settings = AntiEntropySection::default().validate().expect("defaults are valid");
        assert_eq!(settings.dead_node_timeout, Some(Duration::from_secs(30 * 60)));
        assert_eq!(settings.max_fetch, 10, "InfluxDB's max-fetch default");
    }

    #[test]
    fn zero_dead_node_timeout_means_never() {
        let section = AntiEntropySection { dead_node_timeout: "0".into(), ..AntiEntropySection::default() };
        assert_eq!(section.validate().expect("valid").dead_node_timeout, None);
    }

    #[test]
    fn bad_values_name_their_option() {
        let base = AntiEntropySection::default;
        let cases = [
            (AntiEntropySection { check_interval: "0".into(), ..base() }, "check-interval"),
            (AntiEntropySection { heartbeat_interval: "soon".into(), ..base() }, "heartbeat-interval"),
            (AntiEntropySection { suspect_timeout: "1s".into(), ..base() }, "suspect-timeout"),
            (AntiEntropySection { dead_node_timeout: "2s".into(), ..base() }, "dead-node-timeout"),
            (AntiEntropySection { grace_period: "100ms".into(), ..base() }, "grace-period"),
            (AntiEntropySection { lease: "1s".into(), ..base() }, "lease"),
            (AntiEntropySection { max_fetch: 0, ..base() }, "max-fetch"),
            (AntiEntropySection { max_retry_backoff: "1ms".into(), ..base() }, "max-retry-backoff"),
        ];
        for (section, option) in cases {
            let message = section.validate().expect_err("refused").to_string();
            assert!(message.contains(option), "{message:?} should name {option}");
        }
    }
}
