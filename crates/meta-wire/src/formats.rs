//! The string formats of `/v1` bodies as the OpenAPI document states them.
//!
//! Each pattern mirrors a check the server makes before anything changes
//! ([`meta_model::validate_addr`], [`meta_model::validate_name`],
//! [`meta_model::validate_label_key`], [`meta_model::validate_labels`],
//! [`meta_model::parse_duration`] with [`meta_model::validate_durations`]), so a client, or a
//! contract fuzzer, can tell from the document which requests are refused. Where a check cannot
//! be written as a pattern exactly, the pattern is the stricter side: every string it admits is
//! accepted (the tests generate strings from each pattern and check them). What only the server
//! takes:
//!
//! - durations: white space around them, `inf` for `wait` and `delay`, `INF`, more than three
//!   parts, a part with more digits than the pattern allows (at most `999w`, `9999d`, `99999h`,
//!   `9999999m`, ...: each under 32 years, so no sum of three overflows), and a retention or
//!   shard-group duration whose first part is not an hour or more in minutes, hours, days or
//!   weeks (`3600s`, `30m30m`);
//! - addresses: hosts with characters beyond printable ASCII, ports with a sign or leading zeros;
//! - lengths: JSON Schema counts characters where the server counts UTF-8 bytes, so a name or a
//!   label value of at most 255 characters that takes more than 255 bytes is admitted by the
//!   document and refused (`400`). This one the document cannot state.
//!
//! With the `openapi` feature each format is also a schema (`HostPort`, `Duration`, ...) that the
//! bodies' fields refer to.

/// A duration part: a number and its unit, each under 32 years, so that three parts never
/// overflow a signed 64-bit count of nanoseconds.
macro_rules! duration_part {
    () => {
        r"(?:[0-9]{1,18}ns|[0-9]{1,15}(?:us|µs)|[0-9]{1,12}ms|[0-9]{1,9}s|[0-9]{1,7}m|[0-9]{1,5}h|[0-9]{1,4}d|[0-9]{1,3}w)"
    };
}

/// A part of an hour or more, in minutes, hours, days or weeks (what a retention or shard-group
/// duration starts with: both are at least an hour).
macro_rules! long_part {
    () => {
        r"(?:(?:[6-9][0-9]|[1-9][0-9]{2,6})m|[1-9][0-9]{0,4}h|[1-9][0-9]{0,3}d|[1-9][0-9]{0,2}w)"
    };
}

/// Characters neither control characters (`char::is_control`) nor white space
/// (`char::is_whitespace`), `/` or `\`, as the inside of a negated class.
macro_rules! space_control_or_slash {
    () => {
        r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000/\\"
    };
}

/// A duration such as `30s`, `1h30m` or `0` (what `wait` and `delay` take).
pub const DURATION: &str = concat!("^(?:0|", duration_part!(), "{1,3})$");

/// A retention duration: `0` or `inf` (forever), or at least an hour (`1h`, `7d`, `90m`, `1h30m`).
pub const RETENTION_DURATION: &str = concat!("^(?:0|inf|", long_part!(), duration_part!(), "{0,2})$");

/// A shard-group duration: at least an hour. (It must also not exceed the retention duration,
/// which a pattern cannot compare.)
pub const SHARD_DURATION: &str = concat!("^", long_part!(), duration_part!(), "{0,2}$");

/// `host:port`, with IPv6 hosts in brackets and a port from 1 to 65535.
pub const HOST_PORT: &str = r"^(?:\[[!-~]*\]|[!-9;-~]+):(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$";

/// A database or retention policy name: no control characters, `/` or `\`, no white space at
/// either end, and neither `.` nor `..`.
pub const NAME: &str = concat!(
    r"^(?:[^",
    space_control_or_slash!(),
    r".]|[^",
    space_control_or_slash!(),
    r".][^\x00-\x1f\x7f-\x9f/\\]*[^",
    space_control_or_slash!(),
    r"]|\.[^",
    space_control_or_slash!(),
    r".]|\.[^\x00-\x1f\x7f-\x9f/\\]+[^",
    space_control_or_slash!(),
    r"])$"
);

/// A data-node label key (also a failure-domain level): 1-63 characters of `a-z`, `0-9`, `_`,
/// `.`, `-`.
pub const LABEL_KEY: &str = r"^[a-z0-9_.-]{1,63}$";

/// A data-node label value: no control characters.
pub const LABEL_VALUE: &str = r"^[^\x00-\x1f\x7f-\x9f]+$";

#[cfg(feature = "openapi")]
pub use schemas::*;

#[cfg(feature = "openapi")]
mod schemas {
    use meta_model::{MAX_FAILURE_DOMAIN_LEVELS, MAX_LABEL_KEY_LEN, MAX_NAME_LEN, MAX_TIMESTAMP, MIN_TIMESTAMP};
    use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
    use utoipa::openapi::RefOr;
    use utoipa::{PartialSchema, ToSchema};

    /// A string schema with a pattern and lengths.
    fn string(pattern: &str, lengths: (usize, usize), description: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .min_length(Some(lengths.0))
            .max_length(Some(lengths.1))
            .description(Some(description))
    }

    /// Declares a string format's schema type.
    macro_rules! string_format {
        ($(#[$doc:meta])* $name:ident = $pattern:expr, $lengths:expr, $description:expr) => {
            $(#[$doc])*
            pub struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    string($pattern, $lengths, $description).into()
                }
            }

            impl ToSchema for $name {}
        };
    }

    string_format!(
        /// The schema of [`super::DURATION`].
        Duration = super::DURATION, (1, 64),
        "A duration: a number and a unit (ns, us, ms, s, m, h, d, w), up to three of them \
         (`30s`, `1h30m`), or `0`."
    );
    string_format!(
        /// The schema of [`super::RETENTION_DURATION`].
        RetentionDuration = super::RETENTION_DURATION, (1, 64),
        "How long data is kept: `0` or `inf` for forever, else at least an hour (`1h`, `90m`, `7d`, `4w`, \
         `1h30m`), largest part first."
    );
    string_format!(
        /// The schema of [`super::SHARD_DURATION`].
        ShardDuration = super::SHARD_DURATION, (2, 64),
        "A shard-group duration: at least an hour (`1h`, `1d`, `7d`), largest part first, and not longer \
         than the retention duration (else `400 invalid_duration`)."
    );
    string_format!(
        /// The schema of [`super::HOST_PORT`].
        HostPort = super::HOST_PORT, (3, MAX_NAME_LEN),
        "`host:port`: a DNS name or IP address (IPv6 in brackets, `[::1]:8088`) and a port from 1 to 65535."
    );
    string_format!(
        /// The schema of [`super::NAME`].
        Name = super::NAME, (1, MAX_NAME_LEN),
        "1-255 bytes (UTF-8): no control characters, `/` or `\\`, no white space at either end, not `.` or \
         `..`."
    );
    string_format!(
        /// The schema of [`super::LABEL_KEY`].
        LabelKey = super::LABEL_KEY, (1, MAX_LABEL_KEY_LEN),
        "A label key: 1-63 characters of a-z, 0-9, `_`, `.`, `-`."
    );

    /// Data-node labels: [`LabelKey`]s to values of 1-255 bytes without control characters.
    pub struct Labels;

    impl PartialSchema for Labels {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property_names(Some(label_key()))
                .additional_properties(Some(string(super::LABEL_VALUE, (1, MAX_NAME_LEN), "A label value.")))
                .description(Some(
                    "Labels such as `zone`: keys of a-z, 0-9, `_`, `.`, `-`; values without control characters.",
                ))
                .into()
        }
    }

    impl ToSchema for Labels {}

    /// A failure-domain hierarchy: distinct [`LabelKey`]s, highest level first.
    pub struct FailureDomains;

    impl PartialSchema for FailureDomains {
        fn schema() -> RefOr<Schema> {
            ArrayBuilder::new()
                .items(label_key())
                .max_items(Some(MAX_FAILURE_DOMAIN_LEVELS))
                .unique_items(true)
                .description(Some("Label keys, highest level first: at most 8, each once."))
                .into()
        }
    }

    impl ToSchema for FailureDomains {}

    /// A point's time: nanoseconds since the epoch, within the range a shard group can cover.
    pub struct PointTime;

    impl PartialSchema for PointTime {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(MIN_TIMESTAMP))
                .maximum(Some(MAX_TIMESTAMP))
                .description(Some("Nanoseconds since the epoch, about 1677-09-21 to 2262-04-11."))
                .into()
        }
    }

    impl ToSchema for PointTime {}

    /// A label key's schema, inline in [`Labels`] and [`FailureDomains`].
    fn label_key() -> ObjectBuilder {
        string(super::LABEL_KEY, (1, MAX_LABEL_KEY_LEN), "A label key.")
    }
}

#[cfg(test)]
mod tests {
    use meta_model::{parse_duration, validate_addr, validate_durations, validate_label_key, validate_name, HOUR};
    use proptest::prelude::*;
    use regex::Regex;

    use super::*;

    /// A pattern without its anchors, as proptest generates from it.
    fn body(pattern: &str) -> String {
        pattern.trim_start_matches('^').trim_end_matches('$').to_owned()
    }

    fn matches(pattern: &str, value: &str) -> bool {
        Regex::new(pattern).expect("a valid pattern").is_match(value)
    }

    fn strings(pattern: &str) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&body(pattern)).expect("proptest reads the pattern")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn every_address_the_document_admits_is_accepted(addr in strings(HOST_PORT)) {
            prop_assume!(addr.len() <= 255);
            prop_assert_eq!(validate_addr("addr", &addr), Ok(()));
        }

        #[test]
        fn every_name_the_document_admits_is_accepted_within_255_bytes(name in strings(NAME)) {
            // JSON Schema's maxLength counts characters; more than 255 bytes is the one refusal
            // the document cannot state.
            prop_assume!(name.chars().count() <= 255 && name.len() <= 255);
            prop_assert_eq!(validate_name("database", &name), Ok(()));
        }

        #[test]
        fn every_label_the_document_admits_is_accepted(key in strings(LABEL_KEY), value in strings(LABEL_VALUE)) {
            prop_assume!(value.len() <= 255);
            let labels = [(key.clone(), value)].into();
            prop_assert_eq!(meta_model::validate_labels(&labels), Ok(()));
            prop_assert_eq!(validate_label_key("delete", &key), Ok(()));
        }

        #[test]
        fn every_duration_the_document_admits_parses(duration in strings(DURATION)) {
            prop_assert!(parse_duration(&duration).is_ok(), "{duration:?}");
        }

        #[test]
        fn every_retention_and_shard_duration_the_document_admits_is_valid(
            retention in strings(RETENTION_DURATION),
            shard in strings(SHARD_DURATION),
        ) {
            let retention = parse_duration(&retention).expect("parses");
            let shard = parse_duration(&shard).expect("parses");
            prop_assert_eq!(validate_durations(retention, HOUR), Ok(()));
            prop_assert_eq!(validate_durations(0, shard), Ok(()));
        }
    }

    #[test]
    fn what_the_server_refuses_the_document_refuses() {
        for bad in ["", "host", ":8088", "host:", "host:0", "host:65536", "host:http", "::1:8088", "a b:1", "a\u{85}:1"]
        {
            assert!(validate_addr("addr", bad).is_err() && !matches(HOST_PORT, bad), "{bad:?}");
        }
        for bad in ["", " lead", "trail ", "a/b", "a\\b", "tab\there", ".", "..", "x\u{3000}", "\u{a0}x", "a\u{9f}b"] {
            assert!(validate_name("database", bad).is_err() && !matches(NAME, bad), "{bad:?}");
        }
        for bad in ["", "Zone", "a b", &"k".repeat(64)] {
            assert!(validate_label_key("label key", bad).is_err() && !matches(LABEL_KEY, bad), "{bad:?}");
        }
        for bad in ["", "7x", "h", "10", "1h-", "-1h", "1.5h", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err() && !matches(DURATION, bad), "{bad:?}");
        }
        for (retention, shard) in
            [("30m", "1h"), ("59m", "1h"), ("1s", "1h"), ("1h", "30m"), ("1h", "0"), ("1h", "inf")]
        {
            let valid = validate_durations(parse_duration(retention).unwrap_or(1), parse_duration(shard).unwrap_or(1));
            assert!(valid.is_err(), "{retention:?} {shard:?}");
            assert!(!matches(RETENTION_DURATION, retention) || !matches(SHARD_DURATION, shard), "{retention} {shard}");
        }
    }

    #[test]
    fn the_document_admits_what_operators_write() {
        for ok in ["127.0.0.1:8088", "data-1:8088", "[::1]:8088", "host.example:1", "h:65535"] {
            assert!(matches(HOST_PORT, ok), "{ok:?}");
        }
        for ok in ["telegraf", "my db", "a.b-c_d", "ü", "...", ".x", "%2e%2e", "a?b#c"] {
            assert!(matches(NAME, ok), "{ok:?}");
        }
        for ok in ["0", "30s", "1h30m", "500ms", "3µs"] {
            assert!(matches(DURATION, ok), "{ok:?}");
        }
        for ok in ["0", "inf", "1h", "90m", "7d", "4w", "1h30m"] {
            assert!(matches(RETENTION_DURATION, ok), "{ok:?}");
        }
        for ok in ["1h", "60m", "1d", "7d", "1w"] {
            assert!(matches(SHARD_DURATION, ok), "{ok:?}");
        }
    }
}
