//! Header and enum matching that ignores case, accents and spacing: `Código`, `codigo` and
//! ` CODIGO ` are one name, as are `precio_unitario` and `Precio unitario`.
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The folded form of `text`: accents removed, lower case, runs of spaces, `_` and `-` made one
/// space, trimmed.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() || c == '_' || c == '-' {
            gap = !out.is_empty();
            continue;
        }
        if gap {
            out.push(' ');
            gap = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn case_accents_and_spacing_are_ignored() {
        assert_eq!(fold("Código"), "codigo");
        assert_eq!(fold("  CODIGO "), "codigo");
        assert_eq!(fold("precio_unitario"), "precio unitario");
        assert_eq!(fold("Precio   Unitario"), "precio unitario");
        assert_eq!(fold("Año-Nacimiento"), "ano nacimiento");
        assert_eq!(fold("ÑANDÚ"), "nandu");
        assert_eq!(fold("Especie\u{a0}"), "especie");
    }
}
