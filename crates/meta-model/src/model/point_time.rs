//! Where a point's time may fall: within its retention policy's duration (as InfluxDB enforces
//! retention on write), no further ahead than a window on the leader's clock, and inside the
//! range a shard group can cover without being clamped.

use crate::error::ApplyError;
use crate::model::retention_policy::RetentionPolicy;
use crate::model::shard_group::{ShardGroup, Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};

/// Why a point's time is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampRefusal {
    /// Older than `now - duration`: its group would be expired already (InfluxDB drops such
    /// points as "points beyond retention policy").
    Expired {
        /// The oldest time the policy accepts now.
        earliest: Timestamp,
    },
    /// Further ahead of the leader's clock than the configured window.
    TooFarAhead {
        /// The latest time accepted now.
        latest: Timestamp,
    },
    /// The shard-group window holding it would reach past [`MIN_TIMESTAMP`]..=[`MAX_TIMESTAMP`]:
    /// such a group could only be clamped, so the point is refused instead.
    OutOfRange,
}

impl std::fmt::Display for TimestampRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimestampRefusal::Expired { earliest } => {
                write!(f, "older than the retention policy keeps data (earliest accepted now: {earliest})")
            }
            TimestampRefusal::TooFarAhead { latest } => {
                write!(f, "further ahead than the meta leader accepts (latest accepted now: {latest})")
            }
            TimestampRefusal::OutOfRange => {
                write!(
                    f,
                    "in a shard-group window that reaches past the representable time range \
                     ({MIN_TIMESTAMP}..={MAX_TIMESTAMP} ns, about 1677-09-21 to 2262-04-11): no group can hold it"
                )
            }
        }
    }
}

impl TimestampRefusal {
    /// The refusal as the meta service answers it for a point at `timestamp`.
    pub fn into_apply_error(self, timestamp: Timestamp) -> ApplyError {
        match self {
            TimestampRefusal::Expired { earliest } => ApplyError::TimestampExpired { timestamp, earliest },
            TimestampRefusal::TooFarAhead { latest } => ApplyError::TimestampTooFarAhead { timestamp, latest },
            TimestampRefusal::OutOfRange => ApplyError::InvalidTimestamp { timestamp },
        }
    }
}

impl RetentionPolicy {
    /// When retention deletes `group`: its end plus the policy's duration; `None` when the
    /// policy keeps data forever. (InfluxDB: a group expires once its end is older than the
    /// duration.)
    pub fn expiry(&self, group: &ShardGroup) -> Option<Timestamp> {
        (self.duration != 0).then(|| group.end.saturating_add(Timestamp::try_from(self.duration).unwrap_or(i64::MAX)))
    }

    /// Whether `group` has outlived the policy's duration at `now` (deleted or not yet).
    pub fn is_expired(&self, group: &ShardGroup, now: Timestamp) -> bool {
        self.expiry(group).is_some_and(|expiry| expiry <= now)
    }

    /// The oldest point time the policy accepts at `now`: `now - duration`; `None` when it keeps
    /// data forever.
    pub fn earliest_accepted(&self, now: Timestamp) -> Option<Timestamp> {
        (self.duration != 0).then(|| now.saturating_sub(Timestamp::try_from(self.duration).unwrap_or(i64::MAX)))
    }

    /// Checks a point's time against the policy at `now`: refused when older than the duration,
    /// further ahead than `max_future` nanoseconds (`None`: no bound; only a proposer with the
    /// leader's clock passes one), or in a group window that would leave the representable range.
    ///
    /// # Errors
    /// The [`TimestampRefusal`] that applies first (range, then age, then future).
    pub fn check_point_time(
        &self,
        timestamp: Timestamp,
        now: Timestamp,
        max_future: Option<u64>,
    ) -> Result<(), TimestampRefusal> {
        if !group_window_fits(timestamp, self.shard_group_duration) {
            return Err(TimestampRefusal::OutOfRange);
        }
        if let Some(earliest) = self.earliest_accepted(now).filter(|&earliest| timestamp < earliest) {
            return Err(TimestampRefusal::Expired { earliest });
        }
        if let Some(window) = max_future {
            let latest = now.saturating_add(Timestamp::try_from(window).unwrap_or(i64::MAX));
            if timestamp > latest {
                return Err(TimestampRefusal::TooFarAhead { latest });
            }
        }
        Ok(())
    }
}

/// Whether the `duration`-aligned window holding `t` lies within
/// [`MIN_TIMESTAMP`]..=[`MAX_TIMESTAMP`] (InfluxDB's representable range), so a group created for
/// `t` covers its whole window.
pub fn group_window_fits(t: Timestamp, duration: u64) -> bool {
    let d = i128::from(duration.max(1));
    let start = i128::from(t).div_euclid(d) * d;
    start >= i128::from(MIN_TIMESTAMP) && start + d - 1 <= i128::from(MAX_TIMESTAMP)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::duration::{DAY, HOUR};

    fn policy(duration: u64) -> RetentionPolicy {
        RetentionPolicy {
            name: "rp".into(),
            duration,
            shard_group_duration: HOUR,
            replication_factor: 1,
            shard_groups: BTreeMap::new(),
        }
    }

    const NOW: Timestamp = 1_700_000_000_000_000_000;
    const H: i64 = HOUR as i64;

    #[test]
    fn points_older_than_the_duration_are_refused_and_forever_keeps_everything() {
        let one_hour = policy(HOUR);
        assert_eq!(
            one_hour.check_point_time(NOW - 3 * H, NOW, None),
            Err(TimestampRefusal::Expired { earliest: NOW - H })
        );
        assert_eq!(one_hour.check_point_time(NOW - H, NOW, None), Ok(()));
        assert_eq!(
            one_hour.check_point_time(NOW - H - 1, NOW, None),
            Err(TimestampRefusal::Expired { earliest: NOW - H })
        );
        assert_eq!(policy(0).check_point_time(0, NOW, None), Ok(()));
    }

    #[test]
    fn the_future_window_binds_only_when_given() {
        let forever = policy(0);
        let day = DAY as i64;
        assert_eq!(forever.check_point_time(NOW + 2 * day, NOW, None), Ok(()));
        assert_eq!(forever.check_point_time(NOW + day, NOW, Some(DAY)), Ok(()));
        assert_eq!(
            forever.check_point_time(NOW + day + 1, NOW, Some(DAY)),
            Err(TimestampRefusal::TooFarAhead { latest: NOW + day })
        );
    }

    #[test]
    fn extreme_timestamps_whose_group_would_be_clamped_are_refused() {
        let forever = policy(0);
        for t in [MAX_TIMESTAMP, MAX_TIMESTAMP - 1, MIN_TIMESTAMP, MIN_TIMESTAMP + 1, i64::MAX, i64::MIN] {
            assert_eq!(forever.check_point_time(t, NOW, None), Err(TimestampRefusal::OutOfRange), "{t}");
        }
        // The last and first whole hours of the range are fine.
        let last_hour_start = (i128::from(MAX_TIMESTAMP) + 1 - i128::from(H)).div_euclid(i128::from(H)) * i128::from(H);
        let t = i64::try_from(last_hour_start).expect("fits");
        assert!(group_window_fits(t, HOUR) && !group_window_fits(t + H, HOUR));
        assert!(group_window_fits(0, HOUR) && group_window_fits(-1, HOUR));
    }

    #[test]
    fn expiry_is_the_end_plus_the_duration() {
        let group =
            ShardGroup { id: 1, start: NOW - H, end: NOW, truncated_at: None, deleted_at: None, shards: vec![] };
        assert_eq!(policy(HOUR).expiry(&group), Some(NOW + H));
        assert!(!policy(HOUR).is_expired(&group, NOW + H - 1));
        assert!(policy(HOUR).is_expired(&group, NOW + H));
        assert_eq!(policy(0).expiry(&group), None);
        assert!(!policy(0).is_expired(&group, Timestamp::MAX));
    }
}
