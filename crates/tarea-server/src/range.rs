//! HTTP pieces of a download: one `Range` (RFC 9110 §14) and `Content-Disposition` with a
//! UTF-8 file name (RFC 6266), written here because they are a few lines each; axum and
//! tower-http serve files from disk only, and artifacts come from an object store.
use std::ops::Range;

use axum::http::HeaderValue;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The byte range a `Range` header asks of `size` bytes: `Ok(None)` to serve everything (a
/// header that is malformed or asks for several ranges is ignored, as RFC 9110 allows), `Err`
/// when the one well-formed range asked for is not satisfiable (416).
pub(crate) fn parse(header: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else { return Ok(None) };
    let (start, end) = (start.trim(), end.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = (start.is_empty() && digits(end)) || (digits(start) && (end.is_empty() || digits(end)));
    if !well_formed {
        return Ok(None);
    }
    let range = if start.is_empty() {
        // The last `end` bytes.
        let n: u64 = end.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        size.saturating_sub(n)..size
    } else {
        let first: u64 = start.parse().map_err(|_| ())?;
        let last = if end.is_empty() { None } else { Some(end.parse::<u64>().map_err(|_| ())?) };
        if last.is_some_and(|l| l < first) {
            // Malformed (RFC 9110 §14.1.1): ignored.
            return Ok(None);
        }
        if first >= size {
            return Err(());
        }
        let last = last.unwrap_or(size - 1);
        first..last.min(size - 1) + 1
    };
    Ok(Some(range))
}

/// Whether content of this type may be shown in the browser (`inline`) rather than saved:
/// documents and images that run nothing. HTML, SVG, XML and anything unknown are always
/// downloads.
pub(crate) fn safe_inline(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/pdf" | "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "text/plain" | "text/csv"
    )
}

/// Characters kept as they are in `filename*` (RFC 5987 attr-char).
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` (or `inline`) with an ASCII fallback name and the exact UTF-8 name.
pub(crate) fn content_disposition(filename: &str, inline: bool) -> HeaderValue {
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    let value = format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}", utf8_percent_encode(filename, ATTR));
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(parse("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(parse("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(parse("bytes=-500", 100), Ok(Some(0..100)));
        assert_eq!(parse("bytes=50-500", 100), Ok(Some(50..100)));
        assert_eq!(parse("bytes=100-", 100), Err(()));
        assert_eq!(parse("bytes=9-3", 100), Ok(None));
        assert_eq!(parse("bytes=-0", 100), Err(()));
        assert_eq!(parse("bytes=a-b", 100), Ok(None));
        assert_eq!(parse("bytes=--5", 100), Ok(None));
        assert_eq!(parse("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse("items=0-1", 100), Ok(None));
        assert_eq!(parse("bytes=0-0", 0), Err(()));
    }

    #[test]
    fn disposition_keeps_utf8_names_and_a_safe_fallback() {
        let v = content_disposition("Informe Nº 12 \"final\".pdf", false);
        let s = v.to_str().unwrap();
        assert!(s.starts_with("attachment; filename=\"Informe N_ 12 final.pdf\""), "{s}");
        assert!(s.contains("filename*=UTF-8''Informe%20N%C2%BA%2012%20%22final%22.pdf"), "{s}");
        assert!(content_disposition("a.pdf", true).to_str().unwrap().starts_with("inline;"));
    }
}
