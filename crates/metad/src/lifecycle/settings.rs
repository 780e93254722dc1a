//! The `[retention]`, `[shard-precreation]` and `[shard-groups]` sections of the configuration
//! and their checked form. Defaults follow InfluxDB's `[retention]` and `[shard-precreation]`.

use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;

/// `[retention]`: the leader deletes expired shard groups and, later, forgets them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RetentionSection {
    /// Enforce retention at all.
    pub enabled: bool,
    /// How often the leader deletes the groups that outlived their policy (InfluxDB: 30m).
    pub check_interval: String,
    /// How long a deleted group stays in the metadata (shown as deleted, so data nodes see the
    /// deletion and remove its files) before it is forgotten.
    pub prune_after: String,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection { enabled: true, check_interval: "30m".to_owned(), prune_after: "24h".to_owned() }
    }
}

/// `[shard-precreation]`: the leader creates each policy's next group before it is needed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct PrecreationSection {
    /// Precreate at all.
    pub enabled: bool,
    /// How often the leader looks (InfluxDB: 10m).
    pub check_interval: String,
    /// A policy whose newest group ends within this much of now gets its next group (InfluxDB:
    /// 30m).
    pub advance_period: String,
}

impl Default for PrecreationSection {
    fn default() -> Self {
        PrecreationSection { enabled: true, check_interval: "10m".to_owned(), advance_period: "30m".to_owned() }
    }
}

/// `[shard-groups]`: limits on the groups the leader creates.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ShardGroupSection {
    /// The furthest a point (and so a new group) may lie ahead of the leader's clock; "0": no
    /// bound. Binds writes through data nodes and `POST /v1/shard-groups` alike.
    pub max_future: String,
}

impl Default for ShardGroupSection {
    fn default() -> Self {
        ShardGroupSection { max_future: "365d".to_owned() }
    }
}

/// The checked lifecycle settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleSettings {
    /// Retention enforcement; `None` when disabled.
    pub retention: Option<RetentionSettings>,
    /// Precreation; `None` when disabled.
    pub precreation: Option<PrecreationSettings>,
    /// How far ahead of the leader's clock a new group may be made, in nanoseconds; `None`: no
    /// bound.
    pub max_future: Option<u64>,
}

/// Checked `[retention]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Between two deletions of expired groups.
    pub check_interval: Duration,
    /// A deleted group is forgotten this long after its deletion.
    pub prune_after: Duration,
}

/// Checked `[shard-precreation]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrecreationSettings {
    /// Between two looks.
    pub check_interval: Duration,
    /// How far ahead groups are made.
    pub advance_period: Duration,
}

fn duration(option: &'static str, text: &str) -> Result<Duration, ConfigError> {
    meta_model::parse_duration(text).map(Duration::from_nanos).map_err(|e| ConfigError::Invalid {
        option,
        value: text.to_owned(),
        reason: e.to_string(),
    })
}

fn positive(option: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let value = duration(option, text)?;
    if value.is_zero() {
        return Err(ConfigError::Invalid { option, value: text.to_owned(), reason: "must be greater than 0".into() });
    }
    Ok(value)
}

/// Checks the three sections, naming the option at fault.
pub(crate) fn validate(
    retention: &RetentionSection,
    precreation: &PrecreationSection,
    shard_groups: &ShardGroupSection,
) -> Result<LifecycleSettings, ConfigError> {
    let retention = if retention.enabled {
        Some(RetentionSettings {
            check_interval: positive("retention.check-interval", &retention.check_interval)?,
            prune_after: duration("retention.prune-after", &retention.prune_after)?,
        })
    } else {
        None
    };
    let precreation = if precreation.enabled {
        Some(PrecreationSettings {
            check_interval: positive("shard-precreation.check-interval", &precreation.check_interval)?,
            advance_period: positive("shard-precreation.advance-period", &precreation.advance_period)?,
        })
    } else {
        None
    };
    let max_future = duration("shard-groups.max-future", &shard_groups.max_future)?;
    let max_future = u64::try_from(max_future.as_nanos()).ok().filter(|&n| n > 0);
    Ok(LifecycleSettings { retention, precreation, max_future })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_influxdbs() {
        let settings =
            validate(&RetentionSection::default(), &PrecreationSection::default(), &ShardGroupSection::default())
                .expect("defaults validate");
        let minutes = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(
            settings.retention,
            Some(RetentionSettings { check_interval: minutes(30), prune_after: minutes(24 * 60) })
        );
        assert_eq!(
            settings.precreation,
            Some(PrecreationSettings { check_interval: minutes(10), advance_period: minutes(30) })
        );
        assert_eq!(settings.max_future, Some(365 * meta_model::DAY));
    }

    #[test]
    fn bad_values_are_named_and_zero_means_no_bound() {
        let zero = ShardGroupSection { max_future: "0".into() };
        let settings = validate(&RetentionSection::default(), &PrecreationSection::default(), &zero).expect("valid");
        assert_eq!(settings.max_future, None);
        let cases = [
            (
                RetentionSection { check_interval: "0".into(), ..Default::default() },
                PrecreationSection::default(),
                "retention.check-interval",
            ),
            (
                RetentionSection { prune_after: "soon".into(), ..Default::default() },
                PrecreationSection::default(),
                "retention.prune-after",
            ),
            (
                RetentionSection::default(),
                PrecreationSection { advance_period: "0".into(), ..Default::default() },
                "shard-precreation.advance-period",
            ),
        ];
        for (retention, precreation, option) in cases {
            let error = validate(&retention, &precreation, &ShardGroupSection::default()).expect_err("refused");
            assert!(error.to_string().contains(option), "{error} names {option}");
        }
        let disabled = RetentionSection { enabled: false, check_interval: "0".into(), ..Default::default() };
        let settings =
            validate(&disabled, &PrecreationSection::default(), &ShardGroupSection::default()).expect("valid");
        assert_eq!(settings.retention, None);
    }
}
