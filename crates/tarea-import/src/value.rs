//! A cell read as its column's type: whole numbers, exact decimals with either separator, dates
//! in the forms people in Argentina and Spain type (day first), yes/no in Spanish and English.
use std::borrow::Cow;

use jiff::civil::{Date, DateTime};

use crate::cell::CellRef;

/// A value of a column's type, ready to be written as JSON.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Typed<'a> {
    /// An empty cell.
    Null,
    /// Text.
    Text(Cow<'a, str>),
    /// A whole number.
    Int(i64),
    /// A decimal, normalised (`-1234.5`: a valid JSON number, digits kept exactly), and its
    /// value as a float for `min`/`max`.
    Decimal(Cow<'a, str>, f64),
    /// A date.
    Date(Date),
    /// Yes or no.
    Bool(bool),
}

impl Typed<'_> {
    /// Appends the JSON form to `out`.
    pub(crate) fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Typed::Null => out.push_str("null"),
            Typed::Text(t) => write_json_str(t, out),
            Typed::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Typed::Decimal(d, _) => out.push_str(d),
            Typed::Date(d) => {
                let _ = write!(out, "\"{d}\"");
            }
            Typed::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }

    /// The text two values are compared by for `unique` and keys.
    pub(crate) fn key_text(&self) -> Cow<'_, str> {
        match self {
            Typed::Null => Cow::Borrowed(""),
            Typed::Text(t) => Cow::Borrowed(t),
            Typed::Int(i) => Cow::Owned(i.to_string()),
            Typed::Decimal(d, _) => Cow::Borrowed(d),
            Typed::Date(d) => Cow::Owned(d.to_string()),
            Typed::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }
}

/// Appends `s` as a JSON string.
pub(crate) fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A cell's text quoted for a message, cut to 40 characters.
pub(crate) fn quoted(cell: &CellRef<'_>) -> String {
    let text = cell.text();
    let t = text.trim();
    if t.chars().count() > 40 {
        format!("\"{}…\"", t.chars().take(40).collect::<String>())
    } else {
        format!("\"{t}\"")
    }
}

/// Reads a whole number.
pub(crate) fn integer(cell: &CellRef<'_>) -> Result<i64, String> {
    match *cell {
        CellRef::Int(i) => Ok(i),
        CellRef::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        CellRef::Text(t) => {
            let t = t.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                t.trim_start_matches('+').parse::<i64>().map_err(|_| format!("{} is too large", quoted(cell)))
            } else {
                Err(format!("{} is not a whole number", quoted(cell)))
            }
        }
        _ => Err(format!("{} is not a whole number", quoted(cell))),
    }
}

/// Reads a decimal written with `sep` as its decimal separator, or (none) whichever separator
/// the value uses last; the other separator may group thousands.
pub(crate) fn decimal<'c>(cell: &CellRef<'c>, sep: Option<u8>) -> Result<(Cow<'c, str>, f64), String> {
    let not = || format!("{} is not a number", quoted(cell));
    let t = match *cell {
        CellRef::Int(i) => return Ok((Cow::Owned(i.to_string()), i as f64)),
        CellRef::Float(f) if f.is_finite() => return Ok((Cow::Owned(crate::cell::format_float(f)), f)),
        CellRef::Text(t) => t,
        _ => return Err(not()),
    };
    let t = t.trim();
    if let Some(fast) = plain_decimal(t, sep) {
        return Ok(fast);
    }
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let bytes = body.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.' || *b == b',') {
        return Err(not());
    }
    let dec = match sep {
        Some(s) => Some(s),
        None => {
            let dots = bytes.iter().filter(|b| **b == b'.').count();
            let commas = bytes.iter().filter(|b| **b == b',').count();
            match (dots, commas) {
                (0, 0) => None,
                (_, 0) if dots > 1 => None,
                (0, _) if commas > 1 => None,
                _ => bytes.iter().rev().find(|b| **b == b'.' || **b == b',').copied(),
            }
        }
    };
    let group = match dec {
        Some(b'.') => b',',
        Some(_) => b'.',
        None if bytes.contains(&b'.') => b'.',
        None => b',',
    };
    let (int_part, frac_part) = match dec.and_then(|d| body.rfind(d as char)) {
        Some(at) => (&body[..at], &body[at + 1..]),
        None => (body, ""),
    };
    if frac_part.bytes().any(|b| !b.is_ascii_digit()) {
        return Err(not());
    }
    // Thousands groups: 1–3 digits, then groups of exactly 3.
    let groups: Vec<&str> = int_part.split(group as char).collect();
    if groups.iter().any(|g| g.bytes().any(|b| !b.is_ascii_digit()))
        || (groups.len() > 1
            && (groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)))
    {
        return Err(not());
    }
    let digits: String = groups.concat();
    if digits.is_empty() && frac_part.is_empty() {
        return Err(not());
    }
    let int_digits = digits.trim_start_matches('0');
    let mut out = String::with_capacity(t.len() + 2);
    if negative && (int_digits.bytes().any(|b| b != b'0') || frac_part.bytes().any(|b| b != b'0')) {
        out.push('-');
    }
    out.push_str(if int_digits.is_empty() { "0" } else { int_digits });
    if !frac_part.is_empty() {
        out.push('.');
        out.push_str(frac_part);
    }
    let value = out.parse::<f64>().map_err(|_| not())?;
    Ok((Cow::Owned(out), value))
}

/// The common case, without allocating when the text is already a JSON number: digits, at
/// most one decimal separator, no thousands, no leading zero, no sign but `-`. None: take the
/// general path.
fn plain_decimal(t: &str, sep: Option<u8>) -> Option<(Cow<'_, str>, f64)> {
    let b = t.as_bytes();
    let body = b.strip_prefix(b"-").unwrap_or(b);
    let (int, frac) = match body.iter().position(|c| !c.is_ascii_digit()) {
        None => (body, &b""[..]),
        Some(at) if sep.is_none_or(|s| s == body[at]) && matches!(body[at], b'.' | b',') => {
            (&body[..at], &body[at + 1..])
        }
        Some(_) => return None,
    };
    let ok = !int.is_empty()
        && (int.len() == 1 || int[0] != b'0')
        && frac.iter().all(u8::is_ascii_digit)
        && (frac.is_empty() == (int.len() == body.len()))
        && !(b[0] == b'-' && int.iter().chain(frac).all(|c| *c == b'0'));
    if !ok {
        return None;
    }
    let comma = int.len() < body.len() && body[int.len()] == b',';
    let out = if comma { Cow::Owned(t.replacen(',', ".", 1)) } else { Cow::Borrowed(t) };
    let value = out.parse::<f64>().ok()?;
    Some((out, value))
}

/// Reads a date: a workbook's date cell, ISO `2026-11-28`, or day first `28/11/2026`,
/// `28-11-2026`, `28.11.26` (two-digit years are 1970–2069), optionally followed by a time,
/// which is dropped; with `format`, exactly that strftime format.
pub(crate) fn date(cell: &CellRef<'_>, format: Option<&str>) -> Result<Date, String> {
    let not = || format!("{} is not a date (write it as 28/11/2026 or 2026-11-28)", quoted(cell));
    match *cell {
        CellRef::Date(dt) => Ok(dt.date()),
        CellRef::Int(i) => serial_to_datetime(i as f64).map(|dt| dt.date()).ok_or_else(not),
        CellRef::Float(f) => serial_to_datetime(f).map(|dt| dt.date()).ok_or_else(not),
        CellRef::Text(t) | CellRef::IsoDate(t) => {
            let t = t.trim();
            if let Some(format) = format {
                return jiff::fmt::strtime::parse(format, t)
                    .and_then(|p| p.to_date())
                    .map_err(|_| format!("{} is not a date in the form {format}", quoted(cell)));
            }
            parse_common_date(t).ok_or_else(not)?.map_err(|e| format!("{} is not a valid date ({e})", quoted(cell)))
        }
        _ => Err(not()),
    }
}

/// `Some(Ok)` a date, `Some(Err)` the right shape but no such day, `None` not a date's shape.
fn parse_common_date(t: &str) -> Option<Result<Date, String>> {
    let date_part = t.split([' ', 'T']).next()?;
    let sep = date_part.bytes().find(|b| matches!(b, b'/' | b'-' | b'.'))?;
    let parts: Vec<&str> = date_part.split(sep as char).collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let n = |s: &str| s.parse::<i32>().ok();
    let (y, m, d) = if parts[0].len() == 4 {
        (n(parts[0])?, n(parts[1])?, n(parts[2])?)
    } else if parts[2].len() == 4 {
        (n(parts[2])?, n(parts[1])?, n(parts[0])?)
    } else if parts[2].len() == 2 && parts[0].len() <= 2 {
        let yy = n(parts[2])?;
        (if yy < 70 { 2000 + yy } else { 1900 + yy }, n(parts[1])?, n(parts[0])?)
    } else {
        return None;
    };
    if parts[1].len() > 2 || (parts[0].len() != 4 && parts[0].len() > 2) {
        return None;
    }
    Some(
        i16::try_from(y)
            .ok()
            .and_then(|y| Date::new(y, m as i8, d as i8).ok())
            .ok_or_else(|| format!("{y}-{m:02}-{d:02} does not exist")),
    )
}

/// An Excel serial date (days since 1899-12-30 in the 1900 system) as a date-time.
pub(crate) fn serial_to_datetime(serial: f64) -> Option<DateTime> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    // Excel counts a 29 February 1900 that never was: serials below 61 are one day later.
    let serial = if serial < 61.0 { serial + 1.0 } else { serial };
    let days = serial.floor() as i64;
    let ms = ((serial - serial.floor()) * 86_400_000.0).round() as i64;
    let epoch = DateTime::constant(1899, 12, 30, 0, 0, 0, 0);
    epoch.checked_add(jiff::Span::new().days(days).milliseconds(ms)).ok()
}

/// Reads yes or no: `sí`, `si`, `s`, `yes`, `y`, `true`, `verdadero`, `v`, `1`, `x`; `no`, `n`,
/// `false`, `falso`, `f`, `0`.
pub(crate) fn boolean(cell: &CellRef<'_>) -> Result<bool, String> {
    match *cell {
        CellRef::Bool(b) => Ok(b),
        CellRef::Int(0) => Ok(false),
        CellRef::Int(1) => Ok(true),
        CellRef::Float(f) if f == 0.0 || f == 1.0 => Ok(f == 1.0),
        CellRef::Text(t) => match crate::fold(t).as_str() {
            "si" | "s" | "yes" | "y" | "true" | "t" | "verdadero" | "v" | "1" | "x" => Ok(true),
            "no" | "n" | "false" | "f" | "falso" | "0" => Ok(false),
            _ => Err(format!("{} is not yes or no (write sí/no or true/false)", quoted(cell))),
        },
        _ => Err(format!("{} is not yes or no", quoted(cell))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(t: &str) -> Result<String, String> {
        decimal(&CellRef::Text(t), None).map(|(s, _)| s.into_owned())
    }

    #[test]
    fn decimals_take_either_separator_and_group_thousands_with_the_other() {
        assert_eq!(dec("12,50").unwrap(), "12.50");
        assert_eq!(dec("12.50").unwrap(), "12.50");
        assert_eq!(dec("1.234,56").unwrap(), "1234.56");
        assert_eq!(dec("1,234.56").unwrap(), "1234.56");
        assert_eq!(dec("1.234.567").unwrap(), "1234567");
        assert_eq!(dec("-0,5").unwrap(), "-0.5");
        assert_eq!(dec("007").unwrap(), "7");
        assert_eq!(dec(",5").unwrap(), "0.5");
        assert_eq!(dec("-0").unwrap(), "0");
        assert_eq!(dec("-12,5").unwrap(), "-12.5");
        assert_eq!(dec("0.25").unwrap(), "0.25");
        assert_eq!(dec("1500").unwrap(), "1500");
        assert_eq!(dec("05.5").unwrap(), "5.5");
        assert_eq!(dec("12.").unwrap(), "12");
        assert_eq!(
            decimal(&CellRef::Text("1,5"), Some(b'.')).map(|d| d.0.into_owned()),
            Err("\"1,5\" is not a number".into())
        );
        for bad in ["12,50€", "1.2.3,4,5", "abc", "", "-", "1,23,456.7", "1 000", "1e5"] {
            assert!(dec(bad).is_err(), "{bad}");
        }
        assert_eq!(decimal(&CellRef::Text("1,234"), Some(b'.')).unwrap().0, "1234");
        assert_eq!(decimal(&CellRef::Float(3.25), None).unwrap().0, "3.25");
        // Every normalised decimal is a JSON number.
        for ok in ["12,50", "1.234,56", "-0,5", ",5", "007"] {
            let s = dec(ok).unwrap();
            assert!(serde_json::from_str::<serde_json::Number>(&s).is_ok(), "{s}");
        }
    }

    #[test]
    fn dates_are_read_day_first_in_common_forms() {
        let d = |t: &str| date(&CellRef::Text(t), None);
        let nov28 = Date::constant(2026, 11, 28);
        for ok in ["2026-11-28", "28/11/2026", "28-11-2026", "28.11.2026", "28/11/26", "28/11/2026 14:30", "2026/11/28"]
        {
            assert_eq!(d(ok).unwrap(), nov28, "{ok}");
        }
        assert!(d("31/02/2026").unwrap_err().contains("does not exist"));
        assert!(d("mañana").is_err());
        assert!(d("11/28/2026").is_err());
        assert_eq!(date(&CellRef::Text("11/28/2026"), Some("%m/%d/%Y")).unwrap(), nov28);
        assert_eq!(date(&CellRef::Float(46_354.0), None).unwrap(), nov28);
        assert_eq!(serial_to_datetime(45_943.5).unwrap(), DateTime::constant(2025, 10, 13, 12, 0, 0, 0));
    }

    #[test]
    fn integers_booleans_and_json_strings() {
        assert_eq!(integer(&CellRef::Text(" 42 ")).unwrap(), 42);
        assert_eq!(integer(&CellRef::Text("-7")).unwrap(), -7);
        assert_eq!(integer(&CellRef::Float(12.0)).unwrap(), 12);
        assert!(integer(&CellRef::Text("muchos")).unwrap_err().contains("\"muchos\" is not a whole number"));
        assert!(integer(&CellRef::Text("1.5")).is_err());
        assert!(integer(&CellRef::Text("99999999999999999999")).unwrap_err().contains("too large"));
        assert!(boolean(&CellRef::Text("Sí")).unwrap());
        assert!(!boolean(&CellRef::Text("NO")).unwrap());
        assert!(boolean(&CellRef::Text("quizás")).is_err());
        let mut out = String::new();
        write_json_str("a\"b\\c\n\u{1}é", &mut out);
        assert_eq!(serde_json::from_str::<String>(&out).unwrap(), "a\"b\\c\n\u{1}é");
    }
}
