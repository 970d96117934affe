//! A CSV's dialect: which delimiter (`,` `;` tab `|`) splits its records into the same number
//! of fields most consistently, with quotes respected. Spanish Excel writes `;` because `,` is
//! the decimal separator; the quote-aware count keeps `"12,50"` from voting for `,`.

/// How a CSV file separates fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// The field delimiter.
    pub delimiter: u8,
    /// The quote character.
    pub quote: u8,
}

const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
const RECORDS: usize = 50;

/// The dialect of a file whose text starts with `sample`; a declared delimiter or quote is
/// taken as is.
pub fn sniff_dialect(sample: &str, delimiter: Option<u8>, quote: Option<u8>) -> Dialect {
    let quote = quote.unwrap_or(b'"');
    if let Some(delimiter) = delimiter {
        return Dialect { delimiter, quote };
    }
    // Only whole lines: the sample may end in the middle of one.
    let sample = match sample.rfind('\n') {
        Some(end) if end + 1 < sample.len() => &sample[..=end],
        _ => sample,
    };
    let mut best = (b',', 0usize, 0usize);
    for d in CANDIDATES {
        let counts = field_counts(sample, d, quote);
        if counts.is_empty() {
            continue;
        }
        let mode = mode(&counts);
        if mode < 2 {
            continue;
        }
        let agreeing = counts.iter().filter(|&&c| c == mode).count();
        // Consistency first, then more fields.
        if (agreeing, mode) > (best.1, best.2) {
            best = (d, agreeing, mode);
        }
    }
    Dialect { delimiter: best.0, quote }
}

fn field_counts(sample: &str, delimiter: u8, quote: u8) -> Vec<usize> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quote(quote)
        .from_reader(sample.as_bytes());
    let mut record = csv::ByteRecord::new();
    let mut counts = Vec::new();
    while counts.len() < RECORDS {
        match reader.read_byte_record(&mut record) {
            Ok(true) if record.len() == 1 && record[0].is_empty() => continue,
            Ok(true) => counts.push(record.len()),
            _ => break,
        }
    }
    counts
}

fn mode(counts: &[usize]) -> usize {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let (mut best, mut best_n, mut i) = (0, 0, 0);
    while i < sorted.len() {
        let j = sorted[i..].iter().position(|&c| c != sorted[i]).map_or(sorted.len(), |p| i + p);
        if j - i > best_n {
            (best, best_n) = (sorted[i], j - i);
        }
        i = j;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(sample: &str) -> char {
        sniff_dialect(sample, None, None).delimiter as char
    }

    #[test]
    fn the_delimiter_is_the_one_that_splits_consistently() {
        assert_eq!(d("sku,name,stock\nA,b,1\nC,d,2\n"), ',');
        assert_eq!(d("sku;precio;stock\nA;12,50;1\nC;3,75;2\n"), ';');
        assert_eq!(d("sku\tprecio\nA\t12,50\nC\t1,2\n"), '\t');
        assert_eq!(d("sku|precio\nA|1\nB|2\n"), '|');
        // Quoted commas do not vote for the comma.
        assert_eq!(d("a;b\n\"x,y,z\";1\n\"p,q\";2\n"), ';');
        assert_eq!(d("a,b\n\"x;y\",1\n\"p;q;r\",2\n"), ',');
        // One column: the default.
        assert_eq!(d("sku\nA\nB\n"), ',');
        // A last line cut in half does not count.
        assert_eq!(d("a;b;c\n1;2;3\n4;5;6\n7;8"), ';');
        assert_eq!(sniff_dialect("a,b", Some(b';'), Some(b'\'')), Dialect { delimiter: b';', quote: b'\'' });
    }
}
