//! Labels: each label's QR code drawn as SVG for the template, and the finished pages checked
//! before they may reach a printer — the right size, and a QR code that decodes to what it
//! should say.
//!
//! The decoder is `quircs` (a Rust port of quirc). Each code is read from the rendered page
//! where the layout placed it and decoded by quircs (about 0.5 ms a label, most of it
//! rasterizing); a page where that fails is searched whole, as a scanner would (about 3 ms).
//! Pages are checked on several threads when there are many.
use std::fmt::Write as _;

use qrcode::EcLevel;
use serde_json::Value;
use typst::utils::Scalar;
use typst_layout::PagedDocument;

use crate::RenderError;

/// The longest text a label's QR code may hold: beyond this the modules get too small for a
/// 203 dpi label printer at label sizes.
pub const MAX_QR_CHARS: usize = 300;

/// Quiet zone around the symbol, in modules. The standard asks for 4; on a 39 × 20 mm label that
/// would shrink every module by a fifth, and the label's own white margin adds to these 2.
const QUIET_MODULES: usize = 2;

/// The smallest module read where the layout placed it: two dots of a 203 dpi printer.
const MIN_MODULE_MM: f64 = 0.25;

/// Pages are searched for codes at this resolution (a common label-printer resolution is
/// 203–300 dpi).
const CHECK_DPI: f32 = 300.0;

/// A code read where it was placed is rendered at this many pixels per module, modules on
/// pixel edges: the pixel sampled, the second of each module, lies wholly inside its module.
const PIXELS_PER_MODULE: usize = 2;

/// Size tolerance for a page, in points (0.01 mm).
const SIZE_TOLERANCE_PT: f64 = 0.03;

/// What a label's QR code must decode to, and its size in modules (without the quiet zone).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedCode {
    pub text: String,
    pub modules: usize,
}

/// Each label's code, in page order.
pub type Expected = Vec<ExpectedCode>;

/// Adds `qr_svg` to every label of `data` (`{"labels": [...]}`): the QR code of the label's
/// `qr` field, or else its `url`. Returns the texts the codes must decode to.
pub fn prepare(data: &mut Value) -> Result<Expected, RenderError> {
    let labels = data
        .get_mut("labels")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| RenderError::Check("data must have \"labels\": an array of label objects".into()))?;
    if labels.is_empty() {
        return Err(RenderError::Check("\"labels\" is empty: there is nothing to print".into()));
    }
    let mut expected = Vec::with_capacity(labels.len());
    for (i, label) in labels.iter_mut().enumerate() {
        let obj = label.as_object_mut().ok_or_else(|| RenderError::Check(format!("labels[{i}] must be an object")))?;
        let text = match (obj.get("qr"), obj.get("url")) {
            (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => s.clone(),
            (Some(_), _) => return Err(RenderError::Check(format!("labels[{i}].qr must be a string"))),
            (None, Some(_)) => return Err(RenderError::Check(format!("labels[{i}].url must be a string"))),
            (None, None) => {
                return Err(RenderError::Check(format!(
                    "labels[{i}] has neither \"qr\" nor \"url\": a label needs the text its QR code holds"
                )));
            }
        };
        let (svg, modules) = qr_code(&text).map_err(|e| RenderError::Check(format!("labels[{i}]: {e}")))?;
        obj.insert("qr_svg".into(), Value::String(svg));
        expected.push(ExpectedCode { text, modules });
    }
    Ok(expected)
}

/// The QR code of `text` (error correction M) as an SVG of one path, one unit per module.
///
/// Written here rather than with the `qrcode` crate's renderer, which only offers a 4-module
/// quiet zone or none.
pub fn qr_svg(text: &str) -> Result<String, String> {
    qr_code(text).map(|(svg, _)| svg)
}

/// The SVG and the symbol's width in modules.
fn qr_code(text: &str) -> Result<(String, usize), String> {
    if text.is_empty() {
        return Err("the QR text is empty".into());
    }
    let chars = text.chars().count();
    if chars > MAX_QR_CHARS {
        return Err(format!(
            "the QR text is {chars} characters; at most {MAX_QR_CHARS} fit on a label and still scan (use a shorter URL)"
        ));
    }
    let code =
        crate::qr::encode(text.as_bytes(), EcLevel::M).map_err(|e| format!("the QR text cannot be encoded: {e}"))?;
    let (width, dark) = (code.width, code.dark);
    let side = width + 2 * QUIET_MODULES;
    let mut path = String::with_capacity(width * width * 2);
    for y in 0..width {
        let mut x = 0;
        while x < width {
            if dark[y * width + x] {
                let start = x;
                while x < width && dark[y * width + x] {
                    x += 1;
                }
                let _ =
                    write!(path, "M{} {}h{}v1h-{}z", start + QUIET_MODULES, y + QUIET_MODULES, x - start, x - start);
            } else {
                x += 1;
            }
        }
    }
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    );
    Ok((svg, width))
}

/// Checks a label document: one page per label, each `size_mm` if given (else the first
/// page's size), each with a QR code that decodes to its label's text.
pub fn check(document: &PagedDocument, expected: &Expected, size_mm: Option<(f64, f64)>) -> Result<(), RenderError> {
    let pages = document.pages();
    if pages.len() != expected.len() {
        return Err(RenderError::Check(format!(
            "the template made {} pages for {} labels; a label template must make one page per label",
            pages.len(),
            expected.len()
        )));
    }
    let size_pt = match size_mm {
        Some((w, h)) => (mm_to_pt(w), mm_to_pt(h)),
        None => {
            let s = pages[0].frame.size();
            (s.x.to_pt(), s.y.to_pt())
        }
    };
    let check_page = |i: usize, page: &typst_layout::Page, code: &ExpectedCode| -> Result<(), RenderError> {
        let text = &code.text;
        let s = page.frame.size();
        if (s.x.to_pt() - size_pt.0).abs() > SIZE_TOLERANCE_PT || (s.y.to_pt() - size_pt.1).abs() > SIZE_TOLERANCE_PT {
            return Err(RenderError::Check(format!(
                "label {} is {:.2} × {:.2} mm; the labels are {:.2} × {:.2} mm",
                i + 1,
                pt_to_mm(s.x.to_pt()),
                pt_to_mm(s.y.to_pt()),
                pt_to_mm(size_pt.0),
                pt_to_mm(size_pt.1)
            )));
        }
        if read_placed(page, code) {
            return Ok(());
        }
        let decoded = decode_page(page);
        if !decoded.iter().any(|d| d == text) {
            let found = if decoded.is_empty() { "no readable QR code".to_string() } else { format!("{decoded:?}") };
            return Err(RenderError::Check(format!(
                "label {} would not scan: its QR code should read {text:?} but a {CHECK_DPI} dpi image of it gives {found}",
                i + 1
            )));
        }
        Ok(())
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    if pages.len() < 8 || threads < 2 {
        return pages.iter().zip(expected).enumerate().try_for_each(|(i, (p, t))| check_page(i, p, t));
    }
    // Contiguous shares, one per thread; the first failing label (by page) is reported.
    let share = pages.len().div_ceil(threads);
    let results: Vec<Result<(), RenderError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let check_page = &check_page;
                scope.spawn(move || {
                    let start = t * share;
                    let end = (start + share).min(pages.len());
                    (start..end).try_for_each(|i| check_page(i, &pages[i], &expected[i]))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(RenderError::Check("the label check crashed".into()))))
            .collect()
    });
    results.into_iter().collect()
}

/// A page rendered at [`CHECK_DPI`], in grey (0 black, 255 white): width, height, pixels.
fn grey_page(page: &typst_layout::Page) -> (usize, usize, Vec<u8>) {
    let pixmap = typst_render::render(page, &render_options(f64::from(CHECK_DPI) / 72.0));
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    (w, h, pixmap.data().chunks_exact(4).map(grey).collect())
}

fn render_options(pixel_per_pt: f64) -> typst_render::RenderOptions {
    typst_render::RenderOptions { pixel_per_pt: Scalar::new(pixel_per_pt), render_bleed: false }
}

/// One premultiplied RGBA pixel drawn over white, in grey.
fn grey(p: &[u8]) -> u8 {
    let alpha = u32::from(p[3]);
    let luma = (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000;
    (luma + (255 - alpha)).min(255) as u8
}

/// Reads `text`'s QR code where the layout placed it, from the page's pixels.
///
/// A scanner first has to find a code (quircs spends about 2.5 ms per code fitting its
/// perspective, whatever the image size); the layout already says where each image is. Every
/// square image on the page, placed without rotation or scaling, is read as a QR code of
/// `text`'s size with its quiet zone: each module sampled at its centre on the page rendered
/// at [`PIXELS_PER_MODULE`] (so whatever is drawn over it counts), the quiet zone required white, and
/// the grid decoded by quircs (format, error correction, data). False when no image reads as
/// `text`: the caller then searches the whole page as a scanner would.
fn read_placed(page: &typst_layout::Page, expected: &ExpectedCode) -> bool {
    use typst::layout::{Frame, Point};
    let (text, modules) = (&expected.text, expected.modules);
    let mut images = Vec::new();
    placed_images(&page.frame, Point::zero(), &mut images);
    let page_size = page.frame.size();
    images.iter().filter(|(_, size)| (size.x - size.y).abs().to_pt() < 0.5).any(|(at, size)| {
        let side = modules + 2 * QUIET_MODULES;
        let pitch = size.x.to_pt() / side as f64;
        if pitch < MIN_MODULE_MM * 72.0 / 25.4
            || at.x.to_pt() < 0.0
            || at.y.to_pt() < 0.0
            || (at.x + size.x).to_pt() > page_size.x.to_pt() + 0.01
            || (at.y + size.y).to_pt() > page_size.y.to_pt() + 0.01
        {
            // Modules this small, or a code not wholly on the page, are left to the whole-page
            // search, which reads what a 300 dpi scanner would.
            return false;
        }
        // Only the code's square is rasterized, with everything the page draws over it, at
        // [`PIXELS_PER_MODULE`]: the pixel sampled in each module then lies wholly inside it,
        // whatever the edges' anti-aliasing.
        let mut crop = page.clone();
        let mut frame = Frame::hard(*size);
        frame.push_frame(Point::new(-at.x, -at.y), page.frame.clone());
        crop.frame = frame;
        // A hair under the exact scale: typst-render rounds the image's texture up, and this
        // keeps it at exactly two pixels per module, each sampled pixel well inside its module.
        let pixel_per_pt = (PIXELS_PER_MODULE * side) as f64 * (1.0 - 1e-4) / size.x.to_pt();
        let pixmap = typst_render::render(&crop, &render_options(pixel_per_pt));
        let (w, h, pixels) = (pixmap.width() as usize, pixmap.height() as usize, pixmap.data());
        // Dark at module (x, y) of the symbol with its quiet zone; None off the image.
        let dark = |x: usize, y: usize| -> Option<bool> {
            let (px, py) =
                (x * PIXELS_PER_MODULE + PIXELS_PER_MODULE / 2, y * PIXELS_PER_MODULE + PIXELS_PER_MODULE / 2);
            (px < w && py < h).then(|| grey(&pixels[(py * w + px) * 4..][..4]) < 128)
        };
        let mut cells = quircs::Code { size: modules as i32, ..Default::default() };
        for y in 0..side {
            for x in 0..side {
                let Some(is_dark) = dark(x, y) else { return false };
                let quiet =
                    x < QUIET_MODULES || y < QUIET_MODULES || x >= side - QUIET_MODULES || y >= side - QUIET_MODULES;
                if quiet {
                    if is_dark {
                        return false;
                    }
                } else if is_dark {
                    let i = (y - QUIET_MODULES) * modules + (x - QUIET_MODULES);
                    cells.cell_bitmap[i >> 3] |= 1 << (i & 7);
                }
            }
        }
        cells.decode().is_ok_and(|data| data.payload == text.as_bytes())
    })
}

/// Images on a frame and where they are, in page coordinates; groups that rotate, scale or
/// skew are left out (their images are not where a translation says).
fn placed_images(
    frame: &typst::layout::Frame,
    origin: typst::layout::Point,
    out: &mut Vec<(typst::layout::Point, typst::layout::Size)>,
) {
    use typst::layout::{FrameItem, Point, Ratio};
    for (pos, item) in frame.items() {
        let at = origin + *pos;
        match item {
            FrameItem::Group(group) => {
                let t = group.transform;
                if t.sx == Ratio::one() && t.sy == Ratio::one() && t.kx.is_zero() && t.ky.is_zero() {
                    placed_images(&group.frame, at + Point::new(t.tx, t.ty), out);
                }
            }
            FrameItem::Image(_, size, _) => out.push((at, *size)),
            _ => {}
        }
    }
}

/// Every QR code readable on a page rendered at [`CHECK_DPI`].
pub fn decode_page(page: &typst_layout::Page) -> Vec<String> {
    let (w, h, grey) = grey_page(page);
    let mut decoder = quircs::Quirc::default();
    decoder
        .identify(w, h, &grey)
        .filter_map(|code| code.ok()?.decode().ok())
        .filter_map(|data| String::from_utf8(data.payload).ok())
        .collect()
}

fn mm_to_pt(mm: f64) -> f64 {
    mm * 72.0 / 25.4
}

fn pt_to_mm(pt: f64) -> f64 {
    pt * 25.4 / 72.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_text_limits_are_explained() {
        assert!(qr_svg("").unwrap_err().contains("empty"));
        let long = "x".repeat(MAX_QR_CHARS + 1);
        assert!(qr_svg(&long).unwrap_err().contains("at most 300"));
        let svg = qr_svg("https://lab.example.org/p/1").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }

    #[test]
    fn the_built_in_label_is_read_where_the_layout_placed_it() {
        let b = crate::builtin::builtin("reception-label").unwrap();
        let mut engine = crate::engine::Engine::new();
        engine.load(&b.template()).unwrap();
        let mut data: Value = serde_json::from_str(b.sample).unwrap();
        let expected = prepare(&mut data).unwrap();
        let today = typst::foundations::Datetime::from_ymd(2026, 1, 1).unwrap();
        let rendered = engine.compile("reception-label@0", serde_json::to_vec(&data).unwrap(), today).unwrap();
        let page = &rendered.document.pages()[0];
        let mut images = Vec::new();
        placed_images(&page.frame, typst::layout::Point::zero(), &mut images);
        assert!(read_placed(page, &expected[0]), "not read where placed; images: {images:?}");
        let other = ExpectedCode { text: "https://otra.example.org/".into(), ..expected[0].clone() };
        assert!(!read_placed(page, &other), "another text must not read");
    }

    /// Codes of every size a label takes (versions 3 to 13) are read where they were placed at
    /// 2 pixels per module, not left to the whole-page search (which is correct but about ten
    /// times slower).
    #[test]
    fn codes_of_every_size_are_read_where_they_were_placed() {
        let b = crate::builtin::builtin("reception-label").unwrap();
        let mut engine = crate::engine::Engine::new();
        engine.load(&b.template()).unwrap();
        let today = typst::foundations::Datetime::from_ymd(2026, 1, 1).unwrap();
        let longest = format!("https://lab.example.org/p/{}", "7".repeat(MAX_QR_CHARS));
        for len in [30, 60, 83, 120, 180, 240, MAX_QR_CHARS] {
            let url = &longest[..len];
            let mut data: Value = serde_json::from_str(b.sample).unwrap();
            data["labels"][0]["url"] = url.into();
            let expected = prepare(&mut data).unwrap();
            let rendered = engine.compile("reception-label@0", serde_json::to_vec(&data).unwrap(), today).unwrap();
            assert!(
                read_placed(&rendered.document.pages()[0], &expected[0]),
                "a {len}-character code ({} modules) was not read where placed",
                expected[0].modules
            );
        }
    }

    #[test]
    fn each_label_needs_its_qr_text() {
        let mut data = serde_json::json!({"labels": [{"url": "https://a.example/1"}, {"qr": "HP 26/1", "url": "x"}]});
        let texts: Vec<String> = prepare(&mut data).unwrap().into_iter().map(|c| c.text).collect();
        assert_eq!(texts, vec!["https://a.example/1".to_string(), "HP 26/1".into()]);
        assert!(data["labels"][0]["qr_svg"].as_str().unwrap().starts_with("<svg"));
        for (bad, says) in [
            (serde_json::json!({}), "\"labels\""),
            (serde_json::json!({"labels": []}), "empty"),
            (serde_json::json!({"labels": [5]}), "labels[0] must be an object"),
            (serde_json::json!({"labels": [{"species": "Canino"}]}), "neither"),
            (serde_json::json!({"labels": [{"url": 7}]}), "labels[0].url must be a string"),
        ] {
            let mut bad = bad;
            let err = prepare(&mut bad).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
