//! QR codes for labels: the `qrcode` crate encodes the text (segments, error correction,
//! placement); the mask is chosen here.
//!
//! Why by hand: `qrcode` 0.14 scores the eight masks with a finder-pattern search that boxes a
//! closure for every module of every row and column, for every mask. A profile of the label
//! benchmark put that at a quarter of a label's render (~0.55 ms of ~2.1 ms), more than the
//! QR check or the PDF. The rules below are the crate's own (the same four penalties, the
//! same lowest-first choice among equals), computed over a plain grid; a test pins that every
//! code comes out exactly as `QrCode::with_error_correction_level` makes it.
use qrcode::bits::encode_auto;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::ec::construct_codewords;
use qrcode::types::{Color, EcLevel, QrResult, Version};

/// The masks in the order `qrcode` tries them: among equal scores the first wins.
const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// A QR code: its width in modules and its modules row by row (`true`: dark).
pub(crate) struct Symbol {
    pub width: usize,
    pub dark: Vec<bool>,
}

/// The QR code of `data` at error correction `ec`, in the smallest version that holds it.
pub(crate) fn encode(data: &[u8], ec: EcLevel) -> QrResult<Symbol> {
    let bits = encode_auto(data, ec)?;
    let version = bits.version();
    let (codewords, ec_codewords) = construct_codewords(&bits.into_bytes(), version, ec)?;
    let mut canvas = Canvas::new(version, ec);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec_codewords);
    let width = version.width() as usize;
    let modules = |canvas: Canvas| canvas.into_colors().into_iter().map(|c| c == Color::Dark).collect::<Vec<_>>();
    if matches!(version, Version::Micro(_)) || width > MAX_WIDTH {
        // Micro codes are not made by `encode_auto`; kept correct should that change.
        return Ok(Symbol { width, dark: modules(canvas.apply_best_mask()) });
    }
    let mut best: Option<(u32, Vec<bool>)> = None;
    for pattern in MASKS {
        let mut masked = canvas.clone();
        masked.apply_mask(pattern);
        let dark = modules(masked);
        let score = penalty(&dark, width);
        if best.as_ref().is_none_or(|(lowest, _)| score < *lowest) {
            best = Some((score, dark));
        }
    }
    let (_, dark) = best.expect("eight masks were scored");
    Ok(Symbol { width, dark })
}

/// The widest symbol scored here (each row and column is one `u128`): version 27. A label's
/// 300 characters need version 13 at most; wider symbols take the crate's own choice.
const MAX_WIDTH: usize = 128;

/// The penalty of a masked symbol (ISO/IEC 18004 §7.8.3, as `qrcode` counts it; its constant
/// −360 per direction for the three finder patterns is left out, as it is the same for every
/// mask). Rows and columns are bit sets, so blocks and finder-like patterns are found a whole
/// line at a time.
fn penalty(dark: &[bool], width: usize) -> u32 {
    let mut rows = vec![0u128; width];
    let mut cols = vec![0u128; width];
    for (y, row) in dark.chunks_exact(width).enumerate() {
        for (x, _) in row.iter().enumerate().filter(|(_, d)| **d) {
            rows[y] |= 1 << x;
            cols[x] |= 1 << y;
        }
    }
    let mut score = 0;
    for line in rows.iter().chain(&cols) {
        score += runs(*line, width) + 40 * finder_like(*line, width);
    }
    // Each 2 × 2 block of one colour: 3. Bit x: module (x, y) equals (x, y + 1), (x + 1, y)
    // and (x + 1, y + 1).
    let blocks = (1u128 << (width - 1)) - 1;
    for pair in rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        score += 3 * (!(a ^ b) & !(a ^ (a >> 1)) & !(b ^ (b >> 1)) & blocks).count_ones();
    }
    // How far the share of dark modules is from half, in half-percent steps.
    let ratio = dark.iter().filter(|d| **d).count() * 200 / dark.len();
    score + ratio.abs_diff(100) as u32
}

/// Runs of five or more modules of one colour in a line: each scores its length minus 2.
/// A run ends where a module differs from the next (or at the line's end), so the work is per
/// run, not per module.
fn runs(line: u128, width: usize) -> u32 {
    let mut ends = ((line ^ (line >> 1)) & ((1u128 << (width - 1)) - 1)) | (1u128 << (width - 1));
    let (mut score, mut start) = (0, 0);
    while ends != 0 {
        let end = ends.trailing_zeros() + 1;
        ends &= ends - 1;
        let run = end - start;
        if run >= 5 {
            score += run - 2;
        }
        start = end;
    }
    score
}

/// Dark-light-dark-dark-dark-light-dark (a finder's 1:1:3:1:1) in a line with no dark module
/// in the four before it or in the four after it (off the symbol counts as light): how many.
fn finder_like(line: u128, width: usize) -> u32 {
    const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
    // Bit j: the pattern starts at module j (and ends on the symbol).
    let mut starts = (1u128 << (width - 6)) - 1;
    for (k, dark) in FINDER.iter().enumerate() {
        starts &= if *dark { line >> k } else { !(line >> k) };
    }
    let mut count = 0;
    while starts != 0 {
        let j = starts.trailing_zeros() as usize;
        starts &= starts - 1;
        let before = line & ((1u128 << j) - 1) & !((1u128 << j.saturating_sub(4)) - 1);
        let after = line.checked_shr((j + 7) as u32).unwrap_or(0) & 0b1111;
        if before == 0 || after == 0 {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use qrcode::QrCode;

    use super::*;

    /// Texts of every length a label takes, in the shapes labels use (digits, upper-case
    /// alphanumerics, URLs, Spanish text): the symbol must be the one `qrcode` makes.
    #[test]
    fn every_code_is_the_one_the_qrcode_crate_makes() {
        let url = format!("https://lab.example.org/p/{}", "7".repeat(300));
        let mut texts: Vec<String> = (1..=300).map(|n| url[..n].to_string()).collect();
        for n in (1..=300).step_by(7) {
            texts.push("1234567890".repeat(30)[..n].to_string());
            texts.push("PROTOCOLO-2026 ".repeat(20)[..n].to_string());
            texts.push("Perro mestizo, biopsia de piel: ñandú, acción ".repeat(7).chars().take(n).collect());
        }
        for text in texts {
            for ec in [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H] {
                let Ok(theirs) = QrCode::with_error_correction_level(&text, ec) else {
                    assert!(encode(text.as_bytes(), ec).is_err(), "{text:?} fits only ours");
                    continue;
                };
                let ours = encode(text.as_bytes(), ec).expect("it fits theirs");
                let theirs_dark: Vec<bool> = theirs.to_colors().into_iter().map(|c| c == Color::Dark).collect();
                assert_eq!(ours.width, theirs.width(), "{text:?}");
                assert!(ours.dark == theirs_dark, "{text:?} at {ec:?}: another mask was chosen");
            }
        }
    }
}
