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
    if let Version::Micro(_) = version {
        // Not made by `encode_auto`; kept correct should that change.
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

/// The penalty of a masked symbol (ISO/IEC 18004 §7.8.3, as `qrcode` counts it; its constant
/// −360 per direction for the three finder patterns is left out, as it is the same for every
/// mask).
fn penalty(dark: &[bool], width: usize) -> u32 {
    let at = |x: usize, y: usize| dark[y * width + x];
    let line = |horizontal: bool, i: usize, k: usize| if horizontal { at(k, i) } else { at(i, k) };
    let mut score = 0;
    for horizontal in [true, false] {
        for i in 0..width {
            // Runs of five or more modules of one colour: the run's length minus 2.
            let mut run = 1;
            for k in 1..width {
                if line(horizontal, i, k) == line(horizontal, i, k - 1) {
                    run += 1;
                } else {
                    score += if run >= 5 { run - 2 } else { 0 };
                    run = 1;
                }
            }
            score += if run >= 5 { run - 2 } else { 0 };
            // Dark-light-dark-dark-dark-light-dark (a finder's 1:1:3:1:1) with no dark module
            // in the four before it or in the four after it (off the symbol counts as light).
            const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
            for j in 0..width.saturating_sub(6) {
                if (0..7).any(|k| line(horizontal, i, j + k) != FINDER[k]) {
                    continue;
                }
                let dark_before = (j.saturating_sub(4)..j).any(|k| line(horizontal, i, k));
                let dark_after = (j + 7..(j + 11).min(width)).any(|k| line(horizontal, i, k));
                if !dark_before || !dark_after {
                    score += 40;
                }
            }
        }
    }
    // Each 2 × 2 block of one colour: 3.
    for y in 0..width - 1 {
        for x in 0..width - 1 {
            let c = at(x, y);
            if c == at(x + 1, y) && c == at(x, y + 1) && c == at(x + 1, y + 1) {
                score += 3;
            }
        }
    }
    // How far the share of dark modules is from half, in half-percent steps.
    let ratio = dark.iter().filter(|d| **d).count() * 200 / dark.len();
    score + ratio.abs_diff(100) as u32
}

#[cfg(test)]
mod tests {
    use qrcode::QrCode;

    use super::*;

    /// Texts of every length a label takes, in the shapes labels use (digits, upper-case
    /// alphanumerics, URLs, Spanish text): the symbol must be the one `qrcode` makes.
    #[test]
    fn every_code_is_the_one_the_qrcode_crate_makes() {
        let mut texts: Vec<String> = Vec::new();
        for n in 1..=300 {
            texts.push(format!("https://lab.example.org/p/{}", "7".repeat(n % 40)).chars().take(n.max(1)).collect());
        }
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
