//! Nanosecond timestamps as RFC 3339 UTC, as `influxd-ctl show-shards` prints them (`jiff`).

use meta_model::Timestamp;

/// `2023-11-14T22:13:20Z`; sub-second digits only when present.
pub(crate) fn format_rfc3339(nanos: Timestamp) -> String {
    // Every i64 of nanoseconds is within jiff's range (years -9999 to 9999).
    jiff::Timestamp::from_nanosecond(i128::from(nanos)).map_or_else(|_| nanos.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NANOS_PER_SECOND: i64 = 1_000_000_000;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_700_000_000_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_rfc3339(951_782_400 * NANOS_PER_SECOND), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_rfc3339(i64::MAX - 1), "2262-04-11T23:47:16.854775806Z");
    }
}
