//! A CSV's encoding: declared, or detected from its first bytes — a byte-order mark, UTF-16's
//! zero bytes, valid UTF-8 — and otherwise Windows-1252 (the superset of Latin-1 that Excel on
//! Windows writes in Spain and Argentina).
use std::io::Read;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// How a file's bytes become text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoding {
    /// The encoding.
    pub encoding: &'static Encoding,
    /// Whether the file starts with a byte-order mark.
    pub bom: bool,
}

impl Decoding {
    /// The encoding's name as the summary shows it (`UTF-8`, `windows-1252`).
    pub fn name(&self) -> &'static str {
        self.encoding.name()
    }

    /// A reader of the file's text as UTF-8. A UTF-8 file passes through as it is (its rows
    /// check their cells); in other encodings, bytes that are not valid become U+FFFD, which the
    /// row that holds them reports.
    pub fn reader<R: Read>(&self, inner: R) -> impl Read {
        encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(self.encoding))
            .utf8_passthru(true)
            .bom_override(true)
            .strip_bom(true)
            .build(inner)
    }
}

/// Detects the encoding of a file that starts with `sample` (its first 64 KiB or so);
/// `declared` (an encoding label) wins unless the file has a byte-order mark.
pub fn detect_encoding(sample: &[u8], declared: Option<&str>) -> Decoding {
    if let Some((enc, _)) = Encoding::for_bom(sample) {
        return Decoding { encoding: enc, bom: true };
    }
    if let Some(enc) = declared.and_then(|d| Encoding::for_label(d.as_bytes())) {
        return Decoding { encoding: enc, bom: false };
    }
    // UTF-16 without a mark: text of Latin letters has a zero byte in every other place.
    let pairs = sample.len() / 2;
    if pairs >= 2 {
        let even_zero = sample.chunks_exact(2).filter(|p| p[0] == 0 && p[1] != 0).count();
        let odd_zero = sample.chunks_exact(2).filter(|p| p[1] == 0 && p[0] != 0).count();
        if odd_zero * 10 >= pairs * 4 && even_zero * 10 < pairs {
            return Decoding { encoding: UTF_16LE, bom: false };
        }
        if even_zero * 10 >= pairs * 4 && odd_zero * 10 < pairs {
            return Decoding { encoding: UTF_16BE, bom: false };
        }
    }
    match std::str::from_utf8(sample) {
        Ok(_) => Decoding { encoding: UTF_8, bom: false },
        // Cut in the middle of a character at the end of the sample: still UTF-8.
        Err(e) if e.error_len().is_none() => Decoding { encoding: UTF_8, bom: false },
        Err(_) => Decoding { encoding: WINDOWS_1252, bom: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (String, &'static str) {
        let d = detect_encoding(bytes, None);
        let mut out = String::new();
        d.reader(bytes).read_to_string(&mut out).unwrap();
        (out, d.name())
    }

    fn utf16(text: &str, le: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend(if le { [0xFF, 0xFE] } else { [0xFE, 0xFF] });
        }
        for u in text.encode_utf16() {
            out.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        out
    }

    #[test]
    fn every_encoding_the_users_have_is_read() {
        let text = "código;descripción;año\nPET1;Alimento balanceado ñandú;2026\n";
        assert_eq!(decode(text.as_bytes()), (text.into(), "UTF-8"));
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode(&with_bom), (text.into(), "UTF-8"));
        for (le, bom) in [(true, true), (false, true), (true, false), (false, false)] {
            let (out, name) = decode(&utf16(text, le, bom));
            assert_eq!(out, text);
            assert_eq!(name, if le { "UTF-16LE" } else { "UTF-16BE" });
        }
        let (latin1, _, _) = WINDOWS_1252.encode(text);
        assert_eq!(decode(&latin1), (text.into(), "windows-1252"));
        // The euro sign is 0x80 in Windows-1252.
        assert_eq!(decode(b"precio\n12,50 \x80\n").0, "precio\n12,50 €\n");
        // Declared wins over detection (these bytes are valid UTF-8 and valid Latin-1).
        let d = detect_encoding("Ã±".as_bytes(), Some("latin1"));
        assert_eq!(d.name(), "windows-1252");
        // A sample cut inside a character is still UTF-8.
        assert_eq!(detect_encoding(&"ñandú".as_bytes()[..5], None).name(), "UTF-8");
    }
}
