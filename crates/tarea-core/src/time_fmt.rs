//! Timestamps are milliseconds since the Unix epoch everywhere inside tarea, and RFC 3339 on
//! the wire. One integer is cheap to index and compare in both SQLite and PostgreSQL.
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const MILLIS: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats milliseconds since the epoch as RFC 3339 in UTC, always with three decimals.
/// Views of a batch repeat the same few timestamps, so the last one formatted is remembered.
pub fn format_ms(ms: i64) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != ms {
            let nanos = i128::from(ms) * 1_000_000;
            let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            *last = (ms, t.format(MILLIS).unwrap_or_default());
        }
        last.1.clone()
    })
}

/// Parses an RFC 3339 timestamp into milliseconds since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_milliseconds() {
        let ms = 1_790_000_000_123;
        assert_eq!(parse_rfc3339_ms(&format_ms(ms)), Some(ms));
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_650), "1970-01-01T00:00:01.650Z");
    }

    #[test]
    fn parses_offsets() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
