//! Checks of names, addresses, labels and durations, shared by `apply` and the API front door.

use std::collections::BTreeMap;

use crate::error::ApplyError;
use crate::model::retention_policy::MIN_DURATION;

/// Longest name, address or label value, in bytes (UTF-8).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label key.
pub const MAX_LABEL_KEY_LEN: usize = 63;

/// Checks a database or retention policy name: 1-255 bytes, no control characters, no `/`, `\`,
/// no white space at either end, and not `.` or `..`. Every accepted name can be addressed as
/// one percent-encoded URL path segment (`/v1/databases/{name}`): `/` would split it, and a
/// segment `.` or `..`, even percent-encoded, is a dot segment URLs resolve away (RFC 3986
/// §5.2.4, WHATWG URL), so such a name could be created but never dropped.
pub fn validate_name(field: &str, value: &str) -> Result<(), ApplyError> {
    let reason = if value.is_empty() {
        Some("must not be empty")
    } else if value.len() > MAX_NAME_LEN {
        Some("must be at most 255 bytes")
    } else if value.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        Some("must not contain control characters, '/' or '\\'")
    } else if value.trim() != value {
        Some("must not start or end with white space")
    } else if value == "." || value == ".." {
        Some("must not be `.` or `..` (a URL path cannot address them)")
    } else {
        None
    };
    match reason {
        Some(reason) => {
            Err(ApplyError::InvalidName { field: field.to_owned(), value: value.to_owned(), reason: reason.to_owned() })
        }
        None => Ok(()),
    }
}

/// Checks a `host:port` address (IPv6 hosts in brackets); port 0 is refused.
pub fn validate_addr(field: &str, value: &str) -> Result<(), ApplyError> {
    let fail = |reason: &str| ApplyError::InvalidAddress {
        field: field.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    if value.len() > MAX_NAME_LEN {
        return Err(fail("must be at most 255 bytes"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(fail("must not contain white space"));
    }
    let (host, port) = value.rsplit_once(':').ok_or_else(|| fail("expected host:port"))?;
    if host.is_empty() {
        return Err(fail("host is empty"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(fail("IPv6 hosts must be written in brackets, e.g. [::1]:8088"));
    }
    match port.parse::<u16>() {
        Ok(0) => Err(fail("port 0 cannot be dialled")),
        Ok(_) => Ok(()),
        Err(_) => Err(fail("port must be a number from 1 to 65535")),
    }
}

/// Checks node labels: keys of 1-63 characters from `[a-z0-9_.-]`, values of 1-255 bytes without
/// control characters (an empty value would be a domain of its own by mistake).
pub fn validate_labels(labels: &BTreeMap<String, String>) -> Result<(), ApplyError> {
    for (key, value) in labels {
        validate_label_key("label key", key)?;
        if value.is_empty() || value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
            // A value past the limit is not echoed whole.
            let shown: String = value.chars().take(64).collect();
            return Err(ApplyError::InvalidName {
                field: format!("label {key}"),
                value: if shown.len() < value.len() { format!("{shown}…") } else { shown },
                reason: "must be 1-255 bytes without control characters".to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks one label key (`field` names where it came from in the error): 1-63 characters from
/// `[a-z0-9_.-]`.
///
/// # Errors
/// [`ApplyError::InvalidName`] naming `field` and the key.
pub fn validate_label_key(field: &str, key: &str) -> Result<(), ApplyError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_LABEL_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        return Ok(());
    }
    Err(ApplyError::InvalidName {
        field: field.to_owned(),
        value: key.to_owned(),
        reason: "must be 1-63 characters of a-z, 0-9, '_', '.', '-'".to_owned(),
    })
}

/// Checks a retention duration, a shard-group duration and how they relate.
pub fn validate_durations(duration: u64, shard_group_duration: u64) -> Result<(), ApplyError> {
    let invalid = |field: &str, value: u64, reason: &str| ApplyError::InvalidDuration {
        field: field.to_owned(),
        value,
        reason: reason.to_owned(),
    };
    if duration != 0 && duration < MIN_DURATION {
        return Err(invalid("duration", duration, "must be 0 (forever) or at least 1h"));
    }
    if shard_group_duration < MIN_DURATION {
        return Err(invalid("shard-duration", shard_group_duration, "must be at least 1h"));
    }
    if shard_group_duration > i64::MAX as u64 {
        return Err(invalid("shard-duration", shard_group_duration, "is longer than the supported time range"));
    }
    if duration != 0 && shard_group_duration > duration {
        return Err(invalid("shard-duration", shard_group_duration, "must not be longer than the retention duration"));
    }
    Ok(())
}

/// Checks a replication factor against the active data nodes. RF 1 is always accepted, so a
/// database can be created before any data node has joined.
pub fn validate_replication_factor(replication_factor: u32, active_nodes: u64) -> Result<(), ApplyError> {
    if replication_factor == 0 {
        return Err(ApplyError::InvalidReplicationFactor { replication_factor });
    }
    if u64::from(replication_factor) > active_nodes.max(1) {
        return Err(ApplyError::ReplicationFactorExceedsNodes { replication_factor, active_nodes });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::duration::{DAY, HOUR, MINUTE};

    #[test]
    fn names() {
        for ok in ["telegraf", "my db", "a.b-c_d", "ü", "...", ".x", "%2e%2e", "a?b#c"] {
            assert_eq!(validate_name("database", ok), Ok(()), "{ok:?}");
        }
        for bad in ["", " lead", "trail ", "a/b", "a\\b", "tab\there", ".", "..", &"x".repeat(256)] {
            assert!(validate_name("database", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses() {
        for ok in ["127.0.0.1:8088", "data-1:8088", "[::1]:8088", "host.example:1"] {
            assert_eq!(validate_addr("tcp_addr", ok), Ok(()), "{ok:?}");
        }
        for bad in ["", "host", ":8088", "host:", "host:0", "host:65536", "host:http", "::1:8088", "a b:1"] {
            assert!(validate_addr("tcp_addr", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn labels() {
        let ok: BTreeMap<_, _> = [("zone".to_owned(), "us-east-1a".to_owned())].into();
        assert_eq!(validate_labels(&ok), Ok(()));
        for (k, v) in [("", "x"), ("Zone", "x"), ("zone", "a\nb"), ("zone", "")] {
            let labels: BTreeMap<_, _> = [(k.to_owned(), v.to_owned())].into();
            assert!(validate_labels(&labels).is_err(), "{k:?}={v:?}");
        }
        let long: BTreeMap<_, _> = [("zone".to_owned(), "x".repeat(5000))].into();
        let Err(ApplyError::InvalidName { value, .. }) = validate_labels(&long) else { panic!("refused") };
        assert!(value.len() < 100, "a long value is not echoed whole: {} bytes", value.len());
    }

    #[test]
    fn durations() {
        assert_eq!(validate_durations(0, HOUR), Ok(()));
        assert_eq!(validate_durations(7 * DAY, DAY), Ok(()));
        assert!(validate_durations(30 * MINUTE, HOUR).is_err());
        assert!(validate_durations(0, 30 * MINUTE).is_err());
        assert!(validate_durations(DAY, 2 * DAY).is_err());
        assert!(validate_durations(0, u64::MAX).is_err());
    }

    #[test]
    fn replication_factors() {
        assert_eq!(validate_replication_factor(1, 0), Ok(()));
        assert_eq!(validate_replication_factor(3, 3), Ok(()));
        assert!(validate_replication_factor(0, 3).is_err());
        assert!(validate_replication_factor(2, 0).is_err());
        assert!(validate_replication_factor(4, 3).is_err());
    }
}
