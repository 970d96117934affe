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

/// Writes `input` (PNG, JPEG or a PGM from pdftoppm) cleaned, in grey, to `output` as PGM
/// (uncompressed: Tesseract reads it without a decoding step, and compressing 9 megapixels cost
/// more than the clean-up); answers the skew it corrected, in degrees.
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
    if w < 3 || h < 3 {
        return out;
    }
    // Each column of three sorted once, shared by the three windows it belongs to; the median
    // of nine is then the median of (the largest low, the middle middle, the smallest high).
    let (mut lo, mut mid, mut hi) = (vec![0u8; w], vec![0u8; w], vec![0u8; w]);
    for y in 1..h - 1 {
        let (up, row, down) = (&src[(y - 1) * w..y * w], &src[y * w..(y + 1) * w], &src[(y + 1) * w..(y + 2) * w]);
        for ((((l, m), hg), (a, b)), c) in lo.iter_mut().zip(&mut mid).zip(&mut hi).zip(up.iter().zip(row)).zip(down) {
            let (a, b, c) = (*a, *b, *c);
            let (x, y) = (a.min(b), a.max(b));
            *l = x.min(c);
            *hg = y.max(c);
            *m = med3(a, b, c);
        }
        let dst = &mut out[y * w + 1..(y + 1) * w - 1];
        for (x, d) in dst.iter_mut().enumerate() {
            let l = lo[x].max(lo[x + 1]).max(lo[x + 2]);
            let hg = hi[x].min(hi[x + 1]).min(hi[x + 2]);
            let m = med3(mid[x], mid[x + 1], mid[x + 2]);
            *d = med3(l, m, hg);
        }
    }
    out
}

fn med3(a: u8, b: u8, c: u8) -> u8 {
    a.min(b).max(a.max(b).min(c))
}

/// The slope of the text lines, in degrees (positive: lines rise to the right in image
/// coordinates, i.e. y grows with x).
fn skew(px: &[u8], w: usize, h: usize) -> f64 {
    // Dark pixels, every `step`th of them: enough points for a sharp profile, few enough that
    // 42 angles cost little.
    let total = px.iter().filter(|v| **v < 128).count();
    if total < 100 {
        return 0.0;
    }
    let step = total.div_ceil(200_000);
    let mut dark: Vec<(i64, i64)> = Vec::with_capacity(total / step + 1);
    let mut seen = 0usize;
    for (i, v) in px.iter().enumerate() {
        if *v < 128 {
            if seen.is_multiple_of(step) {
                dark.push(((i % w) as i64, (i / w) as i64));
            }
            seen += 1;
        }
    }
    let mut rows = vec![0u32; h + 2 * w + 2];
    let mut score = |deg: f64| -> u64 {
        // y − x·tan in 16.16 fixed point, rounded, offset so it is never negative.
        let t = (deg.to_radians().tan() * 65536.0).round() as i64;
        rows.fill(0);
        for &(x, y) in &dark {
            let r = (((y + w as i64) << 16) - x * t + (1 << 15)) >> 16;
            rows[r as usize] += 1;
        }
        rows.iter().map(|&n| u64::from(n) * u64::from(n)).sum()
    };
    let mut best = |from: f64, to: f64, step: f64| -> f64 {
        let mut best = (0.0, 0u64);
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
    const ONE: f64 = 65536.0;
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let (cs, ss) = ((c * ONE).round() as i64, (s * ONE).round() as i64);
    let at = |x: i64, y: i64| -> u32 {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 { 255 } else { u32::from(img[y as usize * w + x as usize]) }
    };
    let mut out = vec![255u8; w * h];
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        let dy = y as f64 - cy;
        // The source of a level pixel lies on the sloped line through it; along a row it moves
        // by (cos, sin) a pixel, so it is stepped in 16.16 fixed point rather than recomputed.
        let mut sx = ((-cx * c - s * dy + cx) * ONE).round() as i64;
        let mut sy = ((-cx * s + c * dy + cy) * ONE).round() as i64;
        for d in row.iter_mut() {
            let (x0, y0) = (sx >> 16, sy >> 16);
            let (fx, fy) = (((sx >> 8) & 0xff) as u32, ((sy >> 8) & 0xff) as u32);
            let (a, b, e, f) = if x0 >= 0 && y0 >= 0 && x0 + 1 < w as i64 && y0 + 1 < h as i64 {
                let i = y0 as usize * w + x0 as usize;
                (u32::from(img[i]), u32::from(img[i + 1]), u32::from(img[i + w]), u32::from(img[i + w + 1]))
            } else {
                (at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1))
            };
            let top = a * (256 - fx) + b * fx;
            let bottom = e * (256 - fx) + f * fx;
            *d = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
            sx += cs;
            sy += ss;
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
    fn the_filter_is_the_median_of_each_window() {
        let (w, h) = (37, 23);
        let mut seed = 7u32;
        let img: Vec<u8> = (0..w * h)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        let m = median(&img, w, h);
        for y in 0..h {
            for x in 0..w {
                let want = if x == 0 || y == 0 || x == w - 1 || y == h - 1 {
                    img[y * w + x]
                } else {
                    let mut v: Vec<u8> = (0..9).map(|k| img[(y + k / 3 - 1) * w + x + k % 3 - 1]).collect();
                    v.sort_unstable();
                    v[4]
                };
                assert_eq!(m[y * w + x], want, "({x}, {y})");
            }
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
