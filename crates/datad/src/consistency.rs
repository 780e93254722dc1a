//! Write consistency, as InfluxDB 1.x clients ask for it (`consistency=any|one|quorum|all`):
//! how many of a shard's owners must have stored a write before it is acknowledged. Owners that
//! could not take it get it through hinted handoff ([`crate::handoff`]).

use std::fmt;

/// How many owners must store a write before it is acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consistency {
    /// Stored by an owner, or durably queued for one (hinted handoff) when none could take it.
    Any,
    /// Stored by at least one owner (the default, as in InfluxDB).
    #[default]
    One,
    /// Stored by a majority of the owners: `owners / 2 + 1`.
    Quorum,
    /// Stored by every owner.
    All,
}

impl Consistency {
    /// The level a query parameter names (`any`, `one`, `quorum`, `all`, in any case, as
    /// InfluxDB 1.x reads it).
    pub fn parse(text: &str) -> Option<Consistency> {
        Some(match text.to_ascii_lowercase().as_str() {
            "any" => Consistency::Any,
            "one" => Consistency::One,
            "quorum" => Consistency::Quorum,
            "all" => Consistency::All,
            _ => return None,
        })
    }

    /// Whether a write to a shard with `owners` owners is acknowledged when `stored` owners
    /// stored it and `queued` more have it queued for them.
    pub fn met(self, owners: usize, stored: usize, queued: usize) -> bool {
        match self {
            Consistency::Any => stored + queued >= 1,
            Consistency::One => stored >= 1,
            Consistency::Quorum => stored > owners / 2,
            Consistency::All => stored >= owners,
        }
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Consistency::Any => "any",
            Consistency::One => "one",
            Consistency::Quorum => "quorum",
            Consistency::All => "all",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_print_as_influxdb_names_them() {
        for name in ["any", "one", "quorum", "all"] {
            assert_eq!(Consistency::parse(name).map(|c| c.to_string()).as_deref(), Some(name));
        }
        assert_eq!(Consistency::parse("ALL"), Some(Consistency::All));
        assert_eq!(Consistency::parse("most"), None);
        assert_eq!(Consistency::default(), Consistency::One);
    }

    #[test]
    fn each_level_needs_its_number_of_owners() {
        use Consistency::*;
        // (level, owners, stored, queued, acknowledged)
        let table = [
            (Any, 3, 0, 1, true),
            (Any, 3, 0, 0, false),
            (One, 3, 0, 3, false),
            (One, 3, 1, 2, true),
            (Quorum, 3, 1, 2, false),
            (Quorum, 3, 2, 1, true),
            (Quorum, 2, 1, 1, false),
            (Quorum, 2, 2, 0, true),
            (Quorum, 1, 1, 0, true),
            (All, 3, 2, 1, false),
            (All, 3, 3, 0, true),
            (All, 1, 1, 0, true),
        ];
        for (level, owners, stored, queued, acknowledged) in table {
            assert_eq!(level.met(owners, stored, queued), acknowledged, "{level} {owners} {stored} {queued}");
        }
    }
}
