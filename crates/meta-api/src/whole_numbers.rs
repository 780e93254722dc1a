//! JSON has one kind of number: `5`, `5.0` and `5e0` are the same integer, and a JSON Schema
//! `integer` admits all three. serde reads only the first into an integer field, so request bodies
//! pass through [`whole_numbers_as_integers`] first: a whole number written with a fraction or an
//! exponent is rewritten, digit for digit, as the integer it is (no trip through floating point,
//! so `9007199254740993.0` stays exact). A number that is not whole is left alone, and the
//! integer fields refuse it as before.

use std::borrow::Cow;

/// Most digits of an integer a rewritten number may have: more than any integer field holds
/// (`u64::MAX` has 20), few enough that `1e999999` does not become a megabyte of zeros.
const MAX_DIGITS: usize = 40;

/// `body` with every whole number outside strings that is written with a fraction or an
/// exponent (`2.0`, `-3.00`, `1e3`, `2.5E1`) written as an integer (`2`, `-3`, `1000`, `25`);
/// borrowed when there is none. Anything that is not a well-formed number is left as it is, for
/// the JSON parser to refuse.
pub(crate) fn whole_numbers_as_integers(body: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    let mut in_string = false;
    while i < body.len() {
        let byte = body[i];
        if in_string {
            match byte {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let number = Number::scan(&body[i..]);
                if let Some(integer) = number.as_integer() {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(body.len()));
                    out.extend_from_slice(&body[copied..i]);
                    out.extend_from_slice(integer.as_bytes());
                    copied = i + number.len;
                }
                i += number.len.max(1);
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(body),
        Some(mut out) => {
            out.extend_from_slice(&body[copied..]);
            Cow::Owned(out)
        }
    }
}

/// One JSON number token as written: `-? int (. frac)? ([eE] [+-]? exp)?`.
struct Number<'a> {
    negative: bool,
    int: &'a [u8],
    frac: Option<&'a [u8]>,
    exp: Option<(bool, &'a [u8])>,
    /// Bytes the token spans (the longest prefix shaped like a number).
    len: usize,
    /// Whether every part has its digits (`1.`, `1e`, `-` do not).
    complete: bool,
}

impl<'a> Number<'a> {
    fn scan(text: &'a [u8]) -> Number<'a> {
        let digits = |from: usize| from + text[from..].iter().take_while(|b| b.is_ascii_digit()).count();
        let negative = text.first() == Some(&b'-');
        let start = usize::from(negative);
        let int_end = digits(start);
        let mut complete = int_end > start;
        let mut end = int_end;
        let mut frac = None;
        if text.get(end) == Some(&b'.') {
            let frac_end = digits(end + 1);
            complete &= frac_end > end + 1;
            frac = Some(&text[end + 1..frac_end]);
            end = frac_end;
        }
        let mut exp = None;
        if matches!(text.get(end), Some(b'e' | b'E')) {
            let mut from = end + 1;
            let exp_negative = text.get(from) == Some(&b'-');
            if matches!(text.get(from), Some(b'+' | b'-')) {
                from += 1;
            }
            let exp_end = digits(from);
            complete &= exp_end > from;
            exp = Some((exp_negative, &text[from..exp_end]));
            end = exp_end;
        }
        Number { negative, int: &text[start..int_end], frac, exp, len: end, complete }
    }

    /// The integer this number is, when it is written with a fraction or an exponent, is whole,
    /// and has at most [`MAX_DIGITS`] digits.
    fn as_integer(&self) -> Option<String> {
        if !self.complete || (self.frac.is_none() && self.exp.is_none()) {
            return None;
        }
        let frac = self.frac.unwrap_or_default();
        let exponent = match self.exp {
            None => 0,
            Some((negative, digits)) => {
                // Longer exponents make no integer a field holds: leave those to the parser.
                let value: i64 = std::str::from_utf8(digits).ok().filter(|d| d.len() <= 6)?.parse().ok()?;
                if negative {
                    -value
                } else {
                    value
                }
            }
        };
        let mut digits: Vec<u8> = self.int.iter().chain(frac).copied().collect();
        // The value is `digits × 10^scale`.
        let scale = exponent - i64::try_from(frac.len()).ok()?;
        if scale >= 0 {
            let zeros = usize::try_from(scale).ok().filter(|&z| z <= MAX_DIGITS)?;
            digits.extend(std::iter::repeat_n(b'0', zeros));
        } else {
            let cut = usize::try_from(-scale).ok()?;
            let kept = digits.len().saturating_sub(cut);
            if digits[kept..].iter().any(|&d| d != b'0') {
                return None;
            }
            digits.truncate(kept);
        }
        let first = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len());
        let significant = &digits[first..];
        if significant.len() > MAX_DIGITS {
            return None;
        }
        if significant.is_empty() {
            return Some("0".to_owned());
        }
        let sign = if self.negative { "-" } else { "" };
        Some(format!("{sign}{}", String::from_utf8_lossy(significant)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(text: &str) -> String {
        String::from_utf8_lossy(&whole_numbers_as_integers(text.as_bytes())).into_owned()
    }

    #[test]
    fn whole_numbers_become_integers_exactly() {
        let cases = [
            (r#"{"a": 5.0}"#, r#"{"a": 5}"#),
            (r#"{"a": -3.00, "b": [1.0,2.5,0.0]}"#, r#"{"a": -3, "b": [1,2.5,0]}"#),
            (r#"{"a": 1e3, "b": 2.5E1, "c": 25E-1, "d": 1500e-2}"#, r#"{"a": 1000, "b": 25, "c": 25E-1, "d": 15}"#),
            (r#"{"a": 9007199254740993.0}"#, r#"{"a": 9007199254740993}"#),
            (r#"{"a": 18446744073709551616.0}"#, r#"{"a": 18446744073709551616}"#),
            (r#"{"a": -0.0, "b": 0e5}"#, r#"{"a": 0, "b": 0}"#),
            (r#"{"a": 1e999999, "b": 1e41}"#, r#"{"a": 1e999999, "b": 1e41}"#),
            (r#"{"a": 1.5, "b": 12, "c": -7}"#, r#"{"a": 1.5, "b": 12, "c": -7}"#),
        ];
        for (body, want) in cases {
            assert_eq!(rewrite(body), want, "{body}");
        }
    }

    #[test]
    fn strings_and_malformed_numbers_are_left_alone() {
        let cases = [
            r#"{"a": "5.0", "b\"": "x\\", "c": "1e3"}"#,
            r#"{"a": 1., "b": 1e, "c": -, "d": .5}"#,
            r#"{"a": "unterminated 5.0"#,
        ];
        for body in cases {
            assert!(matches!(whole_numbers_as_integers(body.as_bytes()), Cow::Borrowed(_)), "{body}");
        }
        assert_eq!(rewrite(r#"{"k\"5.0": 5.0}"#), r#"{"k\"5.0": 5}"#);
    }
}
