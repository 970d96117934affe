//! The fonts every render sees, bundled in the binary: Typst's own (Libertinus Serif, New
//! Computer Modern, DejaVu Sans Mono and the math fonts) and Liberation Sans, the sans-serif
//! text face Typst does not ship (Helvetica/Arial metrics, every Spanish glyph; OFL).
//!
//! No system font is ever read: a render looks the same on every machine, and a missing
//! family is caught by the template tests (Typst only warns and falls back).
use std::sync::LazyLock;

use typst::foundations::Bytes;
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;

const LIBERATION_SANS: [&[u8]; 4] = [
    include_bytes!("../fonts/LiberationSans-Regular.ttf"),
    include_bytes!("../fonts/LiberationSans-Bold.ttf"),
    include_bytes!("../fonts/LiberationSans-Italic.ttf"),
    include_bytes!("../fonts/LiberationSans-BoldItalic.ttf"),
];

/// The parsed fonts and the book Typst picks from.
pub struct Fonts {
    pub book: LazyHash<FontBook>,
    pub fonts: Vec<Font>,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let fonts: Vec<Font> =
        typst_assets::fonts().chain(LIBERATION_SANS).flat_map(|data| Font::iter(Bytes::new(data))).collect();
    let book = FontBook::from_fonts(&fonts);
    Fonts { book: LazyHash::new(book), fonts }
});

/// The bundled fonts, parsed once per process.
pub fn fonts() -> &'static Fonts {
    &FONTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serif_and_a_sans_family_cover_spanish() {
        let names: Vec<&str> = fonts().book.families().map(|(name, _)| name).collect();
        for family in ["Liberation Sans", "Libertinus Serif"] {
            assert!(names.contains(&family), "{family} missing from {names:?}");
        }
        let sans: Vec<&Font> = fonts().fonts.iter().filter(|f| f.info().family == "Liberation Sans").collect();
        assert_eq!(sans.len(), 4, "regular, bold, italic, bold italic");
        for font in sans {
            for c in "áéíóúÁÉÍÓÚñÑüÜ¿¡ºª€".chars() {
                assert!(font.info().coverage.contains(c as u32), "{c} missing from {:?}", font.info());
            }
        }
    }
}
