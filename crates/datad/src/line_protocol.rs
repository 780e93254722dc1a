//! InfluxDB line protocol: each line checked by InfluxDB's rules (the `influxdb-line-protocol`
//! crate, InfluxData's parser), then cut into its series key (measurement and tags: the line up
//! to its first unescaped space), its fields and its trailing timestamp.
//!
//! ```text
//! cpu,host=a\ b,region=eu usage=0.5,msg="x y" 1700000000000000000
//! └──────── series key ──┘ └──── fields ────┘ └──── timestamp ───┘
//! ```
//! Blank lines and `#` comments are skipped. Timestamps are in the write's precision (InfluxDB
//! 1.x `precision=n|ns|u|ms|s|m|h`, nanoseconds by default); a line is stored with its timestamp
//! in nanoseconds, and a line without one gets the server's time, so every copy holds the same
//! bytes. As in InfluxDB, invalid lines do not stop the valid ones of the same body: they are
//! dropped and reported (a partial write).

use std::borrow::Cow;

use meta_model::Timestamp;

/// The unit of a write's timestamps (InfluxDB 1.x `precision`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// `n` or `ns` (the default).
    #[default]
    Nanoseconds,
    /// `u`.
    Microseconds,
    /// `ms`.
    Milliseconds,
    /// `s`.
    Seconds,
    /// `m`.
    Minutes,
    /// `h`.
    Hours,
}

impl Precision {
    /// The precision a query parameter names, as InfluxDB 1.x spells them.
    pub fn parse(text: &str) -> Option<Precision> {
        Some(match text {
            "n" | "ns" => Precision::Nanoseconds,
            "u" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    /// Nanoseconds in one unit.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }
}

/// One point of a write, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number within the request body.
    pub number: usize,
    /// The line as sent, without surrounding whitespace.
    pub text: &'a str,
    /// The fields, as written.
    pub fields: &'a str,
    /// Measurement and tags: what selects the shard within a group.
    pub series_key: &'a str,
    /// The point's time in nanoseconds (the server's time when the line had none).
    pub timestamp: Timestamp,
    /// Whether the line carried its own timestamp.
    pub has_timestamp: bool,
}

impl Line<'_> {
    /// Appends the line as stored to `out`: its series key as InfluxDB keys the series (tags
    /// sorted), its fields, its timestamp in nanoseconds, newline-terminated.
    pub fn write_stored(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(canonical_series_key(self.series_key).as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.fields.as_bytes());
        out.extend_from_slice(format!(" {}\n", self.timestamp).as_bytes());
    }
}

/// A line InfluxDB's rules refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLine {
    /// 1-based line number within the request body.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// A write body, parsed: its valid points and the lines refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedBody<'a> {
    /// The valid points, in order.
    pub lines: Vec<Line<'a>>,
    /// The lines refused, in order.
    pub invalid: Vec<InvalidLine>,
}

/// Parses a write body whose timestamps are in `precision`; lines without one get `now`
/// (nanoseconds). Invalid lines are collected, not fatal.
pub fn parse_lines(body: &[u8], now: Timestamp, precision: Precision) -> ParsedBody<'_> {
    let mut parsed = ParsedBody::default();
    for (index, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            parsed.invalid.push(InvalidLine { line, message: "not valid UTF-8".to_owned() });
            continue;
        };
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match parse_line(line, text, now, precision) {
            Ok(point) => parsed.lines.push(point),
            Err(message) => parsed.invalid.push(InvalidLine { line, message }),
        }
    }
    parsed
}

/// Parses one non-blank, non-comment line; what is wrong with it when it is invalid.
fn parse_line(number: usize, text: &str, now: Timestamp, precision: Precision) -> Result<Line<'_>, String> {
    let checked = influxdb_line_protocol::parse_lines(text).next();
    let checked = match checked {
        Some(Ok(checked)) => checked,
        Some(Err(error)) => return Err(format!("unable to parse {text:?}: {error}")),
        None => return Err(format!("unable to parse {text:?}")),
    };
    // Valid by InfluxDB's rules: the series key ends at the first unescaped space, the fields
    // at the next one outside a string.
    let key_end = unescaped_space(text, false).ok_or_else(|| format!("unable to parse {text:?}: no fields"))?;
    let series_key = &text[..key_end];
    let rest = text[key_end..].trim_start();
    let fields_end = unescaped_space(rest, true).unwrap_or(rest.len());
    let fields = &rest[..fields_end];
    let (timestamp, has_timestamp) = match checked.timestamp {
        None => (now, false),
        Some(timestamp) => {
            let nanos = timestamp
                .checked_mul(precision.nanos())
                .ok_or_else(|| format!("timestamp {timestamp} is out of range in precision {precision:?}"))?;
            (nanos, true)
        }
    };
    Ok(Line { number, text, fields, series_key, timestamp, has_timestamp })
}

/// The series key as InfluxDB builds it: the measurement, then the tags sorted by key (bytes),
/// escapes kept. Borrowed when the tags are sorted already.
pub(crate) fn canonical_series_key(key: &str) -> Cow<'_, str> {
    let parts = split_unescaped(key, b',');
    let Some((measurement, tags)) = parts.split_first() else { return Cow::Borrowed(key) };
    // `str` orders by bytes, as InfluxDB orders tag keys.
    let tag_key = |tag: &&str| -> String { split_unescaped(tag, b'=').first().copied().unwrap_or_default().to_owned() };
    if tags.windows(2).all(|pair| tag_key(&pair[0]) <= tag_key(&pair[1])) {
        return Cow::Borrowed(key);
    }
    let mut sorted = tags.to_vec();
    sorted.sort_by_key(tag_key);
    let mut out = String::with_capacity(key.len());
    out.push_str(measurement);
    for tag in sorted {
        out.push(',');
        out.push_str(tag);
    }
    Cow::Owned(out)
}

/// `text` cut at each `separator` not escaped by `\`.
fn split_unescaped(text: &str, separator: u8) -> Vec<&str> {
    let bytes = text.as_bytes();
    let (mut parts, mut start, mut i) = (Vec::new(), 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b if b == separator => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&text[start.min(text.len())..]);
    parts
}

/// Byte index of the first space not escaped by `\` (and, with `quotes`, not inside `"..."`).
fn unescaped_space(text: &str, quotes: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut i, mut in_quotes) = (0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'"' if quotes => in_quotes = !in_quotes,
            b' ' if !in_quotes => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = 42;

    fn one(text: &str) -> Line<'_> {
        let mut parsed = parse_lines(text.as_bytes(), NOW, Precision::Nanoseconds);
        assert_eq!(parsed.invalid, vec![], "{text}");
        assert_eq!(parsed.lines.len(), 1);
        parsed.lines.remove(0)
    }

    fn error_line(body: &[u8]) -> (usize, String) {
        let parsed = parse_lines(body, NOW, Precision::Nanoseconds);
        let first = parsed.invalid.first().unwrap_or_else(|| panic!("expected an invalid line in {body:?}"));
        (first.line, first.message.clone())
    }

    #[test]
    fn trailing_timestamp_routes_the_line() {
        let line = one("cpu,host=a usage=1 1700000000000000000");
        assert_eq!(line.series_key, "cpu,host=a");
        assert_eq!(line.timestamp, 1_700_000_000_000_000_000);
        assert!(line.has_timestamp);
        let negative = one("cpu usage=1 -5");
        assert_eq!(negative.timestamp, -5);
    }

    #[test]
    fn missing_timestamp_gets_now_and_is_stored_with_it() {
        let line = one("cpu,host=a usage=1");
        assert_eq!((line.timestamp, line.has_timestamp), (NOW, false));
        let mut stored = Vec::new();
        line.write_stored(&mut stored);
        assert_eq!(stored, b"cpu,host=a usage=1 42\n");
        let mut with_time = Vec::new();
        one("cpu usage=1 7").write_stored(&mut with_time);
        assert_eq!(with_time, b"cpu usage=1 7\n");
        let mut sorted = Vec::new();
        one("cpu,z=1,a=2   usage=1,b=t   7").write_stored(&mut sorted);
        assert_eq!(sorted, b"cpu,a=2,z=1 usage=1,b=t 7\n", "tags sorted, as InfluxDB keys the series");
    }

    #[test]
    fn timestamps_in_a_precision_are_stored_in_nanoseconds() {
        let body = b"cpu,host=a usage=1   1700000000\ncpu usage=2\n";
        let lines = parse_lines(body, NOW, Precision::Seconds).lines;
        assert_eq!(lines[0].timestamp, 1_700_000_000_000_000_000);
        let mut stored = Vec::new();
        lines.iter().for_each(|l| l.write_stored(&mut stored));
        assert_eq!(stored, b"cpu,host=a usage=1 1700000000000000000\ncpu usage=2 42\n", "now stays in ns");
        let units = ["n", "ns", "u", "ms", "s", "m", "h"].map(|p| Precision::parse(p).map(Precision::nanos));
        let expected = [1, 1, 1_000, 1_000_000, 1_000_000_000, 60_000_000_000, 3_600_000_000_000].map(Some);
        assert_eq!(units, expected);
        assert_eq!(Precision::parse("d"), None);
        let hours = parse_lines(b"cpu v=1 9223372036854775807\n", NOW, Precision::Hours);
        assert!(hours.invalid[0].message.contains("out of range"), "{:?}", hours.invalid);
    }

    #[test]
    fn the_canonical_series_key_sorts_tags_by_key_and_keeps_escapes() {
        assert_eq!(canonical_series_key("cpu,host=a,region=eu"), "cpu,host=a,region=eu");
        assert!(matches!(canonical_series_key("cpu,host=a,region=eu"), Cow::Borrowed(_)));
        assert_eq!(canonical_series_key("cpu,region=eu,host=a"), "cpu,host=a,region=eu");
        assert_eq!(canonical_series_key("cpu"), "cpu");
        assert_eq!(canonical_series_key(r"my\,m,z=1,a\,b=x\=y,a=2"), r"my\,m,a=2,a\,b=x\=y,z=1");
        assert_eq!(canonical_series_key(r"disk,path=/my\ disk,dev=sda"), r"disk,dev=sda,path=/my\ disk");
    }

    #[test]
    fn escaped_spaces_in_tags_belong_to_the_series_key() {
        let line = one(r"disk,path=/mnt/my\ disk,host=a free=1i 10");
        assert_eq!(line.series_key, r"disk,path=/mnt/my\ disk,host=a");
        assert_eq!(line.timestamp, 10);
        assert_eq!(one(r"my\ measurement v=1 3").series_key, r"my\ measurement");
    }

    #[test]
    fn quoted_field_strings_may_hold_spaces_and_digits() {
        let line = one(r#"log,app=x msg="disk 99 full",level="warn \"hot\" 1" 123"#);
        assert_eq!(line.series_key, "log,app=x");
        assert_eq!((line.timestamp, line.has_timestamp), (123, true));
        let no_time = one(r#"log msg="ends with 123""#);
        assert_eq!((no_time.timestamp, no_time.has_timestamp), (NOW, false));
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_skipped() {
        let body = b"# header\n\n   \ncpu v=1 1\r\n  # indented comment\nmem v=2 2\n";
        let lines = parse_lines(body, NOW, Precision::Nanoseconds).lines;
        let summary: Vec<_> = lines.iter().map(|l| (l.number, l.series_key, l.timestamp)).collect();
        assert_eq!(summary, vec![(4, "cpu", 1), (6, "mem", 2)]);
        assert_eq!(lines[0].text, "cpu v=1 1");
    }

    #[test]
    fn lines_influxdb_refuses_are_refused_and_the_valid_ones_kept() {
        // Each was acknowledged and stored before the parser followed InfluxDB's rules.
        for bad in ["cpu v=", "cpu,host= v=1", "cpu, v=1", "cpu v=tru", "cpu v=NaN", "cpu v=inf", "cpu v=1 1.5"] {
            let parsed = parse_lines(bad.as_bytes(), NOW, Precision::Nanoseconds);
            assert!(parsed.lines.is_empty() && parsed.invalid.len() == 1, "{bad:?} was accepted: {parsed:?}");
        }
        let body = b"cpu,host=a v=1 1\ncpu,host=b v= 2\ncpu,host=c v=3i,s=\"x y\",b=t 3\n";
        let parsed = parse_lines(body, NOW, Precision::Nanoseconds);
        let valid: Vec<_> = parsed.lines.iter().map(|l| (l.number, l.series_key)).collect();
        assert_eq!(valid, vec![(1, "cpu,host=a"), (3, "cpu,host=c")]);
        assert_eq!(parsed.invalid.iter().map(|i| i.line).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        assert_eq!(error_line(b"cpu v=1 1\ncpu\n").0, 2);
        let (line, message) = error_line(b"cpu v=1 1\n\ncpu v=1 soon\n");
        assert_eq!(line, 3);
        assert!(message.contains("cpu v=1 soon"), "names the line: {message}");
        assert_eq!(error_line(b"cpu,host=a 1700000000000000000\n").0, 1);
        assert_eq!(error_line(b",host=a v=1\n").0, 1);
        assert_eq!(error_line(b"cpu msg=\"open 1\n").0, 1);
        let (line, message) = error_line(b"cpu v=1 1\ncpu v=\xff 2\n");
        assert_eq!(line, 2);
        assert!(message.contains("UTF-8"), "{message}");
    }
}
