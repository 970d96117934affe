//! Light clean-up of a scanned page before Tesseract reads it, each step there because it
//! measurably helps (docs/benchmarks.md, "OCR"):
//!
//! - a 3×3 median filter removes dust and toner specks (salt-and-pepper noise) without
//!   softening letters at 300 dpi;
//! - deskewing finds the angle at which the page's dark pixels fall into the sharpest rows
//!   (a projection profile, ±5°) and turns the page back. Tesseract straightens small skews
//!   itself, but on a crooked, speckled page its layout analysis dropped whole paragraphs.
//!
//! Binarization is left to Tesseract (Otsu, or Sauvola with `adaptive_threshold`).
use std::path::Path;

/// Writes `input` (PNG or JPEG) cleaned, in grey, to `output` as PGM (uncompressed: Tesseract
/// reads it without a decoding step, and compressing 9 megapixels cost more than the clean-up);
/// answers the skew it corrected, in degrees.
pub fn clean_scan(input: &Path, output: &Path) -> Result<f64, String> {
    let img = image::ImageReader::open(input)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| format!("the image cannot be decoded: {e}"))?
        .into_luma8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut px = median(img.as_raw(), w, h);
    let angle = skew(&px, w, h);
    if angle.abs() >= 0.2 {
        px = rotate(&px, w, h, angle);
    }
    let mut pgm = format!("P5\n{w} {h}\n255\n").into_bytes();
    pgm.extend_from_slice(&px);
    std::fs::write(output, pgm).map_err(|e| e.to_string())?;
    Ok(angle)
}

fn median(src: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = src.to_vec();
    for y in 1..h.saturating_sub(1) {
        let (up, row, down) = (&src[(y - 1) * w..y * w], &src[y * w..(y + 1) * w], &src[(y + 1) * w..(y + 2) * w]);
        for x in 1..w - 1 {
            out[y * w + x] = median9([
                up[x - 1],
                up[x],
                up[x + 1],
                row[x - 1],
                row[x],
                row[x + 1],
                down[x - 1],
                down[x],
                down[x + 1],
            ]);
        }
    }
    out
}

/// The median of nine by the 19 exchanges of the classic network (Paeth), without branches.
fn median9(mut p: [u8; 9]) -> u8 {
    let mut s = |a: usize, b: usize| {
        let (lo, hi) = (p[a].min(p[b]), p[a].max(p[b]));
        p[a] = lo;
        p[b] = hi;
    };
    for (a, b) in [
        (1, 2),
        (4, 5),
        (7, 8),
        (0, 1),
        (3, 4),
        (6, 7),
        (1, 2),
        (4, 5),
        (7, 8),
        (0, 3),
        (5, 8),
        (4, 7),
        (3, 6),
        (1, 4),
        (2, 5),
        (4, 7),
        (4, 2),
        (6, 4),
        (4, 2),
    ] {
        s(a, b);
    }
    p[4]
}

/// The slope of the text lines, in degrees (positive: lines rise to the right in image
/// coordinates, i.e. y grows with x).
fn skew(px: &[u8], w: usize, h: usize) -> f64 {
    let mut dark: Vec<(f64, f64)> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if px[y * w + x] < 128 {
                dark.push((x as f64, y as f64));
            }
        }
    }
    if dark.len() < 100 {
        return 0.0;
    }
    let step = dark.len().div_ceil(200_000);
    let dark: Vec<(f64, f64)> = dark.into_iter().step_by(step).collect();
    let score = |deg: f64| -> f64 {
        let t = deg.to_radians().tan();
        let mut rows = vec![0u32; h + 2 * w];
        for &(x, y) in &dark {
            let r = (y - x * t).round() as isize + w as isize;
            if let Some(n) = rows.get_mut(r.max(0) as usize) {
                *n += 1;
            }
        }
        rows.iter().map(|&n| f64::from(n) * f64::from(n)).sum()
    };
    let best = |from: f64, to: f64, step: f64| -> f64 {
        let mut best = (0.0, f64::MIN);
        let mut a = from;
        while a <= to + 1e-9 {
            let s = score(a);
            if s > best.1 {
                best = (a, s);
            }
            a += step;
        }
        best.0
    };
    let coarse = best(-5.0, 5.0, 0.5);
    best(coarse - 0.5, coarse + 0.5, 0.05)
}

/// Turned so that lines of slope `deg` become level; white where nothing was. (Public for the
/// test scans of tarea-testkit, which turn pages the other way.)
pub fn rotate(img: &[u8], w: usize, h: usize, deg: f64) -> Vec<u8> {
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let at = |x: isize, y: isize| -> f64 {
        if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
            255.0
        } else {
            f64::from(img[y as usize * w + x as usize])
        }
    };
    let mut out = vec![255u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f64 - cx, y as f64 - cy);
            // The source of a level pixel lies on the sloped line through it.
            let (sx, sy) = (c * dx - s * dy + cx, s * dx + c * dy + cy);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let v = at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + at(x0 + 1, y0) * fx * (1.0 - fy)
                + at(x0, y0 + 1) * (1.0 - fx) * fy
                + at(x0 + 1, y0 + 1) * fx * fy;
            out[y * w + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dark lines of text-like dashes with `slope` degrees, on white.
    fn page(w: usize, h: usize, slope: f64) -> Vec<u8> {
        let mut px = vec![255u8; w * h];
        let t = slope.to_radians().tan();
        for line in 0..12 {
            let y0 = 40.0 + line as f64 * 30.0;
            for x in 20..w - 20 {
                if x % 9 < 6 {
                    for thick in 0..4 {
                        let y = (y0 + x as f64 * t).round() as usize + thick;
                        if y < h {
                            px[y * w + x] = 0;
                        }
                    }
                }
            }
        }
        px
    }

    #[test]
    fn median9_is_the_median() {
        let mut seed = 7u32;
        for _ in 0..10_000 {
            let mut v = [0u8; 9];
            for x in &mut v {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *x = (seed >> 24) as u8;
            }
            let mut sorted = v;
            sorted.sort_unstable();
            assert_eq!(median9(v), sorted[4], "{v:?}");
        }
    }

    #[test]
    fn a_crooked_page_is_measured_and_straightened() {
        let (w, h) = (600, 500);
        for slope in [-3.0, -1.5, 0.0, 2.0, 3.0] {
            let px = page(w, h, slope);
            let found = skew(&px, w, h);
            assert!((found - slope).abs() < 0.15, "slope {slope}: found {found}");
            if slope != 0.0 {
                let level = rotate(&px, w, h, found);
                assert!(skew(&level, w, h).abs() < 0.15, "slope {slope} straightened");
            }
        }
        // Specks go, letters stay.
        let mut px = page(w, h, 0.0);
        px[5 * w + 5] = 0;
        px[300 * w + 3] = 0;
        let m = median(&px, w, h);
        assert_eq!((m[5 * w + 5], m[300 * w + 3]), (255, 255));
        let kept = m.iter().filter(|v| **v == 0).count() as f64 / px.iter().filter(|v| **v == 0).count() as f64;
        assert!(kept > 0.75, "the strokes stay: {kept}");
    }
}
