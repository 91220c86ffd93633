//! Which characters a name may hold, so that a name looks like what it is
//! (docs/PROTOCOL.md, Conventions).
//!
//! Refused: control characters and line or paragraph separators (they move a
//! terminal's cursor), bidirectional controls (they reorder what follows, so
//! `photo<RLO>gnp.exe` shows as `photoexe.png`), and invisible characters —
//! Unicode's format characters (General_Category Cf) and default-ignorable
//! code points — which let two different names look the same. Three kinds of
//! invisible character carry meaning in real names, and are allowed where
//! they have it: ZWJ and ZWNJ between two other characters (emoji sequences,
//! Persian, Indic scripts), a variation selector right after the character
//! whose glyph it picks (emoji presentation, Mongolian, CJK variants), and tag
//! characters spelling a subdivision flag after U+1F3F4 (Scotland's flag).
//! Pinning them to those places also keeps them from carrying a hidden
//! payload, as runs of tag characters or selectors can.

use std::ops::RangeInclusive;
use std::str::Chars;

use icu_properties::props::{BinaryProperty, DefaultIgnorableCodePoint, EnumeratedProperty, GeneralCategory};

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';
/// The one base of a valid emoji tag sequence (UTS #51, ED-14a).
const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';
/// Tag letters in a subdivision flag: a CLDR subdivision code is a region (two
/// letters or three digits) and one to four letters or digits (`gbsct`).
const FLAG_CODE_LEN: RangeInclusive<usize> = 3..=7;

/// Why a character may not stand where it is in a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A control character (Cc) or a line or paragraph separator (Zl, Zp).
    Control,
    /// A bidirectional control: embedding, override, isolate or mark.
    Bidi,
    /// An invisible character: a format character (Cf) or default-ignorable.
    Invisible,
    /// A joiner or variation selector with nothing to join or modify there.
    Stray,
}

/// The bidirectional controls: ALM, LRM, RLM, the embeddings and overrides
/// (LRE, RLE, PDF, LRO, RLO) and the isolates (LRI, RLI, FSI, PDI).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_joiner(c: char) -> bool {
    c == ZWJ || c == ZWNJ
}

/// Standardized and emoji variation selectors, and Mongolian free ones.
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{180B}'..='\u{180D}' | '\u{180F}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// TAG DIGIT ZERO..NINE and TAG LATIN SMALL LETTER A..Z.
fn is_flag_code_tag(c: char) -> bool {
    matches!(c, '\u{E0030}'..='\u{E0039}' | '\u{E0061}'..='\u{E007A}')
}

/// How many of the characters after a black flag spell a subdivision flag,
/// CANCEL TAG included (0 when they do not).
fn flag_tags(mut rest: Chars<'_>) -> usize {
    let mut n = 0;
    while n <= *FLAG_CODE_LEN.end() {
        match rest.next() {
            Some(c) if is_flag_code_tag(c) => n += 1,
            Some(CANCEL_TAG) if FLAG_CODE_LEN.contains(&n) => return n + 1,
            _ => return 0,
        }
    }
    0
}

/// Why `c` is refused between `prev` and `next` (its neighbours in the name).
fn judge(c: char, prev: Option<char>, next: Option<char>) -> Option<Refused> {
    let category = GeneralCategory::for_char(c);
    if c.is_control() || matches!(category, GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator) {
        Some(Refused::Control)
    } else if is_bidi_control(c) {
        Some(Refused::Bidi)
    } else if is_joiner(c) {
        let joins = prev.is_some_and(|p| !is_joiner(p)) && next.is_some_and(|n| !is_joiner(n));
        (!joins).then_some(Refused::Stray)
    } else if is_variation_selector(c) {
        let modifies = prev.is_some_and(|p| !is_joiner(p) && !is_variation_selector(p));
        (!modifies).then_some(Refused::Stray)
    } else if category == GeneralCategory::Format || DefaultIgnorableCodePoint::for_char(c) {
        Some(Refused::Invisible)
    } else {
        None
    }
}

/// The characters of one name, each with why it is refused (`None`: allowed).
#[derive(Debug, Clone)]
pub(crate) struct NameChars<'a> {
    rest: Chars<'a>,
    prev: Option<char>,
    /// Characters still to come of a subdivision flag's tag sequence.
    flag_tags: usize,
}

pub(crate) fn name_chars(name: &str) -> NameChars<'_> {
    NameChars { rest: name.chars(), prev: None, flag_tags: 0 }
}

impl Iterator for NameChars<'_> {
    type Item = (char, Option<Refused>);

    fn next(&mut self) -> Option<Self::Item> {
        let c = self.rest.next()?;
        let why = if self.flag_tags > 0 {
            self.flag_tags -= 1;
            None
        } else {
            judge(c, self.prev, self.rest.clone().next())
        };
        if c == BLACK_FLAG {
            self.flag_tags = flag_tags(self.rest.clone());
        }
        self.prev = Some(c);
        Some((c, why))
    }
}

/// The first refused character of a name, and why.
pub(crate) fn first_refused(name: &str) -> Option<(char, Refused)> {
    name_chars(name).find_map(|(c, why)| why.map(|w| (c, w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str) -> Vec<(char, Refused)> {
        name_chars(name).filter_map(|(c, why)| why.map(|w| (c, w))).collect()
    }

    #[test]
    fn ordinary_names_have_nothing_refused() {
        for name in ["report.pdf", "café", "Ελληνικά", "日本語のファイル", "résumé (2).txt", "a b", "\u{E000}icon"]
        {
            assert_eq!(refused(name), [], "{name:?}");
        }
    }

    #[test]
    fn each_refused_class() {
        assert_eq!(refused("a\tb"), [('\t', Refused::Control)]);
        assert_eq!(refused("a\u{85}b"), [('\u{85}', Refused::Control)]);
        assert_eq!(refused("a\u{2028}b"), [('\u{2028}', Refused::Control)]);
        assert_eq!(refused("a\u{2029}b"), [('\u{2029}', Refused::Control)]);
        for c in
            "\u{061C}\u{200E}\u{200F}\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}".chars()
        {
            assert_eq!(refused(&format!("a{c}b")), [(c, Refused::Bidi)], "U+{:04X}", c as u32);
        }
        let invisible = [
            '\u{AD}',
            '\u{34F}',
            '\u{115F}',
            '\u{180E}',
            '\u{200B}',
            '\u{2060}',
            '\u{2061}',
            '\u{2064}',
            '\u{206A}',
            '\u{3164}',
            '\u{FEFF}',
            '\u{FFA0}',
            '\u{1D173}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E007F}',
        ];
        for c in invisible {
            assert_eq!(refused(&format!("a{c}b")), [(c, Refused::Invisible)], "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn joiners_only_between_two_characters() {
        // Emoji ZWJ sequences, with and without a presentation selector.
        assert_eq!(refused("👩\u{200D}💻"), []);
        assert_eq!(refused("👁\u{FE0F}\u{200D}🗨\u{FE0F}"), []);
        // ZWNJ in Persian (mi-khāham, "I want") and Hindi.
        assert_eq!(refused("می\u{200C}خواهم"), []);
        assert_eq!(refused("क्\u{200D}ष"), []);
        assert_eq!(refused("\u{200D}a"), [(ZWJ, Refused::Stray)]);
        assert_eq!(refused("a\u{200C}"), [(ZWNJ, Refused::Stray)]);
        assert_eq!(refused("a\u{200D}\u{200C}b"), [(ZWJ, Refused::Stray), (ZWNJ, Refused::Stray)]);
    }

    #[test]
    fn variation_selectors_follow_what_they_modify() {
        assert_eq!(refused("❤\u{FE0F}"), []);
        assert_eq!(refused("#\u{FE0F}\u{20E3}"), []);
        assert_eq!(refused("葛\u{E0100}"), []);
        assert_eq!(refused("ᠠ\u{180B}"), []);
        assert_eq!(refused("\u{FE0F}a"), [('\u{FE0F}', Refused::Stray)]);
        // A run of selectors could carry a hidden payload.
        assert_eq!(refused("a\u{FE0F}\u{FE0E}"), [('\u{FE0E}', Refused::Stray)]);
        assert_eq!(refused("a\u{200D}\u{FE0F}b"), [('\u{FE0F}', Refused::Stray)]);
    }

    #[test]
    fn tags_only_in_a_subdivision_flag() {
        let scotland = "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
        assert_eq!(refused(scotland), []);
        assert_eq!(refused(&format!("{scotland} trip.jpg")), []);
        // Tags that spell hidden text, or a flag left open, are refused.
        assert_eq!(
            refused("a\u{E0068}\u{E0069}"),
            [('\u{E0068}', Refused::Invisible), ('\u{E0069}', Refused::Invisible)]
        );
        assert_eq!(refused("🏴\u{E0067}\u{E0062}\u{E0073}x")[0], ('\u{E0067}', Refused::Invisible));
        assert_eq!(refused("🏴\u{E0047}\u{E0042}\u{E0053}\u{E007F}")[0], ('\u{E0047}', Refused::Invisible));
        let long = format!("🏴{}\u{E007F}", "\u{E0061}".repeat(8));
        assert_eq!(refused(&long).len(), 9);
        assert_eq!(refused("🏴\u{E007F}"), [(CANCEL_TAG, Refused::Invisible)]);
    }
}
