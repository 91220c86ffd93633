//! Catalog paths: `/`-separated, absolute, normalised. The server and the
//! client check them with the same function, so a name the client accepts is
//! one the server accepts.
//!
//! A name must also look like what it is: in NFC, so that `café` typed on
//! Linux and read from a macOS disk (NFD) are one entry, not two that look
//! alike; and without bidirectional controls or invisible characters (the
//! exact rules are in `path/chars.rs`). Clients turn local names into NFC with
//! [`to_nfc`]; the server refuses what is not.

mod chars;

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use thiserror::Error;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc, is_nfc_quick};

use self::chars::Refused;

/// Longest path accepted, in bytes (the usual PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// Longest single name, in bytes (the usual NAME_MAX).
pub const MAX_NAME: usize = 255;
/// Code points quoted of each spelling in a "not NFC" message: enough to see
/// the difference, not a whole long name.
const NFC_QUOTE: usize = 8;

#[derive(Debug, Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path {0:?} has an empty segment (`//` or a trailing `/`)")]
    EmptySegment(String),
    #[error("path {0:?} contains `.` or `..`, which are not allowed")]
    DotSegment(String),
    #[error("path contains a NUL byte")]
    Nul,
    #[error("name {name:?} contains {}, a control character or line break; names may not hold them", CodePoint(*ch))]
    Control { name: String, ch: char },
    #[error("path is {0} bytes long; the limit is {MAX_PATH}")]
    TooLong(usize),
    #[error("name {0:?} is over {MAX_NAME} bytes")]
    NameTooLong(String),
    #[error(
        "name {name:?} contains the bidirectional control {}, which makes a name display differently from what it is; \
         rename it without that character",
        CodePoint(*ch)
    )]
    Bidi { name: String, ch: char },
    #[error(
        "name {name:?} contains the invisible character {}, which makes it look like another name; rename it without \
         that character (the only invisible characters allowed are ZWJ U+200D and ZWNJ U+200C between two \
         characters, a variation selector after the character it modifies and the tags of a subdivision flag)",
        CodePoint(*ch)
    )]
    Invisible { name: String, ch: char },
    #[error(
        "name {name:?} has {} where it joins or modifies nothing: ZWJ and ZWNJ must stand between two other \
         characters, a variation selector right after the character it modifies",
        CodePoint(*ch)
    )]
    Stray { name: String, ch: char },
    #[error(
        "name {name:?} is not in Unicode normalization form C (NFC): {given} should be {nfc}; clients must send \
         names in NFC (pyxis_proto::path::to_nfc)"
    )]
    NotNfc { name: String, given: String, nfc: String },
}

/// A character as `U+XXXX`, the way Unicode names it.
struct CodePoint(char);

impl fmt::Display for CodePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U+{:04X}", self.0 as u32)
    }
}

/// Which rules a path is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// Every rule: for a name about to be created.
    New,
    /// The rules names have always had to follow: for a name that may already
    /// be stored, from before NFC and the character rules.
    Existing,
}

/// Checks a path and returns it in normal form: a leading `/`, no trailing
/// `/`, no empty, `.` or `..` segments, every name in NFC and free of
/// refused characters. `/` itself is the root. Not NFC is an error, not
/// converted: the server must not guess, the client calls [`to_nfc`] first
/// (or [`normalize_local`]).
pub fn normalize(path: &str) -> Result<String, PathError> {
    check(path, Rules::New)
}

/// [`normalize`] for a path that names something which may already be in a
/// catalog: names stored before the NFC and character rules (an NFD `café`,
/// a name with an RLO) can still be listed, read, moved to a valid name and
/// removed. Only the structural rules and the ban on control characters,
/// which names always had, apply.
pub fn normalize_existing(path: &str) -> Result<String, PathError> {
    check(path, Rules::Existing)
}

/// A local name, or a path a person typed, in NFC: what a client calls
/// before [`normalize`], so that a name read from a disk that stores NFD
/// (macOS) lands on the same entry as its NFC spelling.
pub fn to_nfc(s: &str) -> Cow<'_, str> {
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => Cow::Borrowed(s),
        _ => Cow::Owned(s.nfc().collect()),
    }
}

/// [`to_nfc`], then [`normalize`]: a local path as the catalog will store it.
pub fn normalize_local(path: &str) -> Result<String, PathError> {
    normalize(&to_nfc(path))
}

fn check(path: &str, rules: Rules) -> Result<String, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH {
        return Err(PathError::TooLong(path.len()));
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    if body.is_empty() {
        return Ok("/".to_owned());
    }
    let mut out = String::with_capacity(body.len() + 1);
    for seg in body.split('/') {
        match seg {
            "" => return Err(PathError::EmptySegment(path.to_owned())),
            "." | ".." => return Err(PathError::DotSegment(path.to_owned())),
            s if s.len() > MAX_NAME => return Err(PathError::NameTooLong(s.to_owned())),
            s => {
                check_name(s, rules)?;
                out.push('/');
                out.push_str(s);
            }
        }
    }
    Ok(out)
}

/// The rules on the characters of one name.
fn check_name(name: &str, rules: Rules) -> Result<(), PathError> {
    if let Some(ch) = name.chars().find(|c| c.is_control()) {
        return Err(PathError::Control { name: name.to_owned(), ch });
    }
    if rules == Rules::Existing {
        return Ok(());
    }
    if let Some((ch, why)) = chars::first_refused(name) {
        let name = name.to_owned();
        return Err(match why {
            Refused::Control => PathError::Control { name, ch },
            Refused::Bidi => PathError::Bidi { name, ch },
            Refused::Invisible => PathError::Invisible { name, ch },
            Refused::Stray => PathError::Stray { name, ch },
        });
    }
    if !is_nfc(name) {
        let nfc: String = name.nfc().collect();
        let (given, nfc) = difference(name, &nfc);
        return Err(PathError::NotNfc { name: name.to_owned(), given, nfc });
    }
    Ok(())
}

/// Where two spellings of a name differ, as code points (`U+0065 U+0301`
/// against `U+00E9`): both look the same on screen, so the message must show
/// the characters.
fn difference(a: &str, b: &str) -> (String, String) {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - prefix;
    let suffix = a.iter().rev().zip(b.iter().rev()).take(room).take_while(|(x, y)| x == y).count();
    let quote = |s: &[char]| {
        let mut out: Vec<String> = s.iter().take(NFC_QUOTE).map(|&c| CodePoint(c).to_string()).collect();
        if s.len() > NFC_QUOTE {
            out.push("…".into());
        }
        out.join(" ")
    };
    (quote(&a[prefix..a.len() - suffix]), quote(&b[prefix..b.len() - suffix]))
}

/// A catalog path as a terminal may show it: each character that a new name
/// could not hold (a control, a bidirectional control, an invisible
/// character) written as `\u{202e}`. Names stored before the character rules
/// can hold them, and printed raw they would reorder or hide what a person
/// reads.
pub fn escape_for_display(path: &str) -> Cow<'_, str> {
    let clean = path.split('/').all(|name| chars::first_refused(name).is_none());
    if clean {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 16);
    for (i, name) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        for (c, why) in chars::name_chars(name) {
            match why {
                Some(_) => {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                None => out.push(c),
            }
        }
    }
    Cow::Owned(out)
}

/// The parent of a normalised path (`None` for the root).
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last segment of a normalised path (`""` for the root).
pub fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

/// Joins a normalised directory and a relative part (itself normalised).
pub fn join(dir: &str, rel: &str) -> Result<String, PathError> {
    let rel = rel.trim_start_matches('/');
    if dir == "/" { normalize(&format!("/{rel}")) } else { normalize(&format!("{dir}/{rel}")) }
}

/// Whether `path` is `dir` or lies under it.
pub fn is_within(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        assert_eq!(normalize("/").unwrap(), "/");
        assert_eq!(normalize("a/b").unwrap(), "/a/b");
        assert_eq!(normalize("/a/b c/ü.txt").unwrap(), "/a/b c/ü.txt");
    }

    #[test]
    fn bad_paths_are_named() {
        assert_eq!(normalize(""), Err(PathError::Empty));
        assert!(matches!(normalize("/a//b"), Err(PathError::EmptySegment(_))));
        assert!(matches!(normalize("/a/b/"), Err(PathError::EmptySegment(_))));
        assert!(matches!(normalize("/a/../b"), Err(PathError::DotSegment(_))));
        assert!(matches!(normalize("./a"), Err(PathError::DotSegment(_))));
        assert_eq!(normalize("/a\0b"), Err(PathError::Nul));
        assert_eq!(normalize("/a\nb"), Err(PathError::Control { name: "a\nb".into(), ch: '\n' }));
        assert!(matches!(normalize(&format!("/{}", "x".repeat(4097))), Err(PathError::TooLong(_))));
        assert!(matches!(normalize(&format!("/{}", "x".repeat(256))), Err(PathError::NameTooLong(_))));
        let err = normalize("/a/../b").unwrap_err().to_string();
        assert!(err.contains("..") && err.contains("/a/../b"), "{err}");
    }

    #[test]
    fn nfd_is_refused_by_the_server_and_converted_by_the_client() {
        let (nfc, nfd) = ("/docs/caf\u{E9}", "/docs/cafe\u{301}");
        let err = normalize(nfd).unwrap_err();
        assert_eq!(
            err,
            PathError::NotNfc { name: "cafe\u{301}".into(), given: "U+0065 U+0301".into(), nfc: "U+00E9".into() }
        );
        let msg = err.to_string();
        assert!(msg.contains("NFC") && msg.contains("U+0065 U+0301 should be U+00E9"), "{msg}");
        assert_eq!(to_nfc(nfd), nfc);
        assert_eq!(normalize_local(nfd).unwrap(), nfc);
        assert_eq!(normalize_local(nfc).unwrap(), nfc);
        assert!(matches!(to_nfc(nfc), Cow::Borrowed(_)), "NFC input is not copied");
        // Hangul: a syllable spelled as three jamo.
        assert!(matches!(normalize("/\u{1112}\u{1161}\u{11AB}"), Err(PathError::NotNfc { .. })));
        assert_eq!(normalize_local("/\u{1112}\u{1161}\u{11AB}").unwrap(), "/\u{D55C}");
    }

    #[test]
    fn refused_characters_are_named_with_their_name() {
        let cases = [
            ("/photo\u{202E}gnp.exe", "U+202E", "bidirectional"),
            ("/a\u{2066}b", "U+2066", "bidirectional"),
            ("/a\u{200F}b", "U+200F", "bidirectional"),
            ("/a\u{200B}b", "U+200B", "invisible"),
            ("/a\u{2060}b", "U+2060", "invisible"),
            ("/\u{FEFF}a", "U+FEFF", "invisible"),
            ("/soft\u{AD}hyphen", "U+00AD", "invisible"),
            ("/a\u{180E}b", "U+180E", "invisible"),
            ("/hidden\u{E0041}", "U+E0041", "invisible"),
            ("/a\u{2028}b", "U+2028", "control character or line break"),
            ("/\u{200D}a", "U+200D", "joins or modifies nothing"),
            ("/a\u{FE0F}\u{FE0F}", "U+FE0F", "joins or modifies nothing"),
        ];
        for (path, code, what) in cases {
            let msg = normalize(&format!("/dir{path}")).unwrap_err().to_string();
            let name = path.trim_start_matches('/');
            assert!(msg.contains(code) && msg.contains(what), "{path:?}: {msg}");
            assert!(msg.contains(&format!("{name:?}")), "the message names the name: {msg}");
            let hidden = msg.chars().any(|c| chars::first_refused(&c.to_string()).is_some());
            assert!(!hidden, "the message itself is safe to print: {msg:?}");
        }
        assert!(matches!(normalize("/a\u{202E}b"), Err(PathError::Bidi { ch: '\u{202E}', .. })));
        assert!(matches!(normalize("/a\u{200B}b"), Err(PathError::Invisible { ch: '\u{200B}', .. })));
        assert!(matches!(normalize("/a\u{200C}"), Err(PathError::Stray { ch: '\u{200C}', .. })));
        assert!(matches!(normalize("/a\u{2029}b"), Err(PathError::Control { ch: '\u{2029}', .. })));
    }

    #[test]
    fn joiners_and_selectors_in_real_names_are_accepted() {
        for path in [
            "/👩\u{200D}💻 notes.md",
            "/می\u{200C}خواهم.txt",
            "/❤\u{FE0F}",
            "/🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}.jpg",
        ] {
            assert_eq!(normalize(path).as_deref(), Ok(path));
        }
    }

    #[test]
    fn existing_names_are_found_under_the_old_rules() {
        for path in ["/cafe\u{301}", "/photo\u{202E}gnp.exe", "/a\u{200B}b", "/a\u{2028}b"] {
            assert!(normalize(path).is_err(), "{path:?}");
            assert_eq!(normalize_existing(path).as_deref(), Ok(path));
        }
        assert!(matches!(normalize_existing("/a\nb"), Err(PathError::Control { .. })));
        assert!(matches!(normalize_existing("/a/../b"), Err(PathError::DotSegment(_))));
    }

    #[test]
    fn display_escapes_what_a_name_could_not_hold() {
        assert_eq!(escape_for_display("/docs/photo\u{202E}gnp.exe"), "/docs/photo\\u{202e}gnp.exe");
        assert_eq!(escape_for_display("/a\u{200B}b/\u{200D}c\u{1b}"), "/a\\u{200b}b/\\u{200d}c\\u{1b}");
        for clean in ["/", "/a/b", "/👩\u{200D}💻", "/cafe\u{301}"] {
            assert!(matches!(escape_for_display(clean), Cow::Borrowed(_)), "{clean:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn normalizing_twice_changes_nothing(s in "[a-z/\u{300}-\u{36F}\u{E9}\u{1100}-\u{1112}\u{1161}\u{200B}-\u{200F}\u{202E}\u{FE0F}.]{0,16}") {
            if let Ok(p) = normalize_local(&s) {
                proptest::prop_assert_eq!(normalize(&p), Ok(p.clone()));
                proptest::prop_assert_eq!(to_nfc(&p), p.as_str());
                proptest::prop_assert_eq!(escape_for_display(&p), p.as_str());
            }
        }

        #[test]
        fn displayed_paths_hold_nothing_refused(s in proptest::prelude::any::<String>()) {
            let shown = escape_for_display(&s);
            proptest::prop_assert!(shown.split('/').all(|name| chars::first_refused(name).is_none()), "{:?}", shown);
        }
    }

    #[test]
    fn parents_names_and_containment() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(name("/a/b"), "b");
        assert_eq!(join("/", "x/y").unwrap(), "/x/y");
        assert_eq!(join("/a", "x").unwrap(), "/a/x");
        assert!(is_within("/a/b", "/a") && is_within("/a", "/a") && !is_within("/ab", "/a"));
        assert!(is_within("/anything", "/"));
    }
}
