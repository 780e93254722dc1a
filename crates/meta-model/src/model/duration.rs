//! Durations as operators write them (`0`, `90m`, `1h`, `7d`, `4w`, `inf`), in nanoseconds.

/// One nanosecond.
pub const NANOSECOND: u64 = 1;
/// One microsecond in nanoseconds.
pub const MICROSECOND: u64 = 1_000;
/// One millisecond in nanoseconds.
pub const MILLISECOND: u64 = 1_000_000;
/// One second in nanoseconds.
pub const SECOND: u64 = 1_000_000_000;
/// One minute in nanoseconds.
pub const MINUTE: u64 = 60 * SECOND;
/// One hour in nanoseconds.
pub const HOUR: u64 = 60 * MINUTE;
/// One day in nanoseconds.
pub const DAY: u64 = 24 * HOUR;
/// One week in nanoseconds.
pub const WEEK: u64 = 7 * DAY;

const UNITS: [(&str, u64); 9] = [
    ("ns", NANOSECOND),
    ("us", MICROSECOND),
    ("µs", MICROSECOND),
    ("ms", MILLISECOND),
    ("s", SECOND),
    ("m", MINUTE),
    ("h", HOUR),
    ("d", DAY),
    ("w", WEEK),
];

/// Why a duration string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationParseError {
    /// The string is empty.
    #[error("empty duration")]
    Empty,
    /// A number lacks a unit or a unit is unknown.
    #[error("invalid duration {input:?}: expected a number followed by ns, us, ms, s, m, h, d or w (e.g. 1h30m, 7d), or 0 / inf")]
    Invalid {
        /// The rejected input.
        input: String,
    },
    /// The value does not fit in 64 bits of nanoseconds.
    #[error("duration {input:?} is too large")]
    Overflow {
        /// The rejected input.
        input: String,
    },
}

/// Parses an InfluxQL-style duration into nanoseconds. `0` and `inf` mean "forever" (0).
pub fn parse_duration(input: &str) -> Result<u64, DurationParseError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationParseError::Empty);
    }
    if s == "0" || s.eq_ignore_ascii_case("inf") {
        return Ok(0);
    }
    let invalid = || DurationParseError::Invalid { input: input.to_owned() };
    let overflow = || DurationParseError::Overflow { input: input.to_owned() };
    let mut rest = s;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| overflow())?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS
            .iter()
            .filter(|(unit, _)| rest.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())
            .ok_or_else(invalid)?;
        rest = &rest[unit.len()..];
        let part = value.checked_mul(*scale).ok_or_else(overflow)?;
        total = total.checked_add(part).ok_or_else(overflow)?;
    }
    Ok(total)
}

/// Formats nanoseconds the way `influxd-ctl` shows durations (`0s` for forever, else `168h0m0s`).
pub fn format_duration(nanos: u64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let hours = nanos / HOUR;
    let minutes = (nanos % HOUR) / MINUTE;
    let seconds = (nanos % MINUTE) / SECOND;
    let sub = nanos % SECOND;
    if sub == 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else {
        format!("{hours}h{minutes}m{seconds}.{sub:09}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operator_durations() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("inf", 0),
            ("INF", 0),
            ("1h", HOUR),
            ("90m", 90 * MINUTE),
            ("1h30m", HOUR + 30 * MINUTE),
            ("7d", 7 * DAY),
            ("4w", 4 * WEEK),
            ("10s", 10 * SECOND),
            ("5ms", 5 * MILLISECOND),
            ("3us", 3 * MICROSECOND),
            ("3µs", 3 * MICROSECOND),
            ("12ns", 12),
            (" 2d ", 2 * DAY),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), Ok(*want), "input {input:?}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for input in ["", "h", "10", "1x", "1h-", "-1h", "1.5h", "d7"] {
            assert!(parse_duration(input).is_err(), "input {input:?} should be rejected");
        }
        assert!(matches!(parse_duration("99999999999w"), Err(DurationParseError::Overflow { .. })));
        assert!(matches!(parse_duration("99999999999999999999999h"), Err(DurationParseError::Overflow { .. })));
    }

    #[test]
    fn formats_like_influxd_ctl() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(WEEK), "168h0m0s");
        assert_eq!(format_duration(HOUR + 90 * SECOND), "1h1m30s");
        assert_eq!(format_duration(SECOND + 5), "0h0m1.000000005s");
    }
}
