//! Redaction of identifying strings on anonymised images (slides, exported views).
//!
//! A name or ID is found however it is spelled: both the text and the identifiers are *folded*
//! before matching — Unicode compatibility decomposition (NFKD: full-width digits, ligatures),
//! diacritics removed ("Jöhn" = "John"), confusable letters mapped to one prototype (UTS #39
//! skeleton: a Cyrillic "о" in "Dоe" = Latin "o"), case ignored, invisible characters
//! (zero-width space, soft hyphen) skipped, and separators ignored ("MRN 4711" = "MRN-4711" =
//! "mrn4711"). A match must begin at the start of a word and end at the end of one (so "Ann"
//! never removes part of "planning"), and only the matching words are replaced — the rest of
//! the line (a finding, a measurement) stays readable.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// What replaces a redacted run of words.
pub const REDACTED: &str = "[removed]";

/// Shortest identifier (folded characters) that is matched: one character would remove every
/// "1" of a slide.
const MIN_TOKEN_CHARS: usize = 2;

/// Identifiers to remove from drawn text, folded once.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Folded identifiers, longest first (the longest match wins).
    tokens: Vec<Vec<char>>,
}

/// One character of `text` folded: what it contributes to matching.
enum Folded {
    /// Letters and digits (possibly several: "ﬁ" → "fi"), part of a word.
    Word(Vec<char>),
    /// Invisible (zero-width space, soft hyphen, joiners): inside a word, contributes nothing.
    Ignorable,
    /// Space, punctuation, symbols: between words.
    Separator,
}

fn fold_char(c: char) -> Folded {
    if is_invisible(c) {
        return Folded::Ignorable;
    }
    // Lower case first: the confusable prototypes are case-sensitive ("m" → "rn", "M" → "M").
    let base: String = std::iter::once(c)
        .nfkd()
        .filter(|&d| !is_combining_mark(d))
        .flat_map(char::to_lowercase)
        .collect();
    let folded: Vec<char> = unicode_security::confusable_detection::skeleton(&base)
        .filter(|&d| !is_combining_mark(d))
        .flat_map(char::to_lowercase)
        .filter(|d| d.is_alphanumeric())
        .collect();
    if folded.is_empty() {
        Folded::Separator
    } else {
        Folded::Word(folded)
    }
}

/// Characters that draw nothing and may hide inside a name.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// `s` folded to its word characters only (separators and invisibles dropped).
fn fold_all(s: &str) -> Vec<char> {
    s.chars()
        .flat_map(|c| match fold_char(c) {
            Folded::Word(w) => w,
            Folded::Ignorable | Folded::Separator => Vec::new(),
        })
        .collect()
}

/// A word of the text: its byte range and where its folded characters sit in the folded text.
struct Word {
    bytes: std::ops::Range<usize>,
    folded: std::ops::Range<usize>,
}

/// The words of `text` and its folded characters.
fn words_of(text: &str) -> (Vec<Word>, Vec<char>) {
    let mut words: Vec<Word> = Vec::new();
    let mut folded = Vec::new();
    let mut open = false;
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        match fold_char(c) {
            Folded::Word(w) => {
                if open {
                    if let Some(last) = words.last_mut() {
                        last.bytes.end = end;
                        last.folded.end += w.len();
                    }
                } else {
                    words.push(Word {
                        bytes: at..end,
                        folded: folded.len()..folded.len() + w.len(),
                    });
                    open = true;
                }
                folded.extend(w);
            }
            Folded::Ignorable => {
                if let (true, Some(last)) = (open, words.last_mut()) {
                    last.bytes.end = end;
                }
            }
            Folded::Separator => open = false,
        }
    }
    (words, folded)
}

impl Redactor {
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Self {
        let mut tokens: Vec<Vec<char>> = tokens
            .into_iter()
            .map(|t| fold_all(&t))
            .filter(|t| t.len() >= MIN_TOKEN_CHARS)
            .collect();
        tokens.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        tokens.dedup();
        Self { tokens }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// `text` with every run of words that spells an identifier replaced by [`REDACTED`], and
    /// how many runs were replaced.
    pub fn redact(&self, text: &str) -> (String, usize) {
        if self.tokens.is_empty() {
            return (text.to_string(), 0);
        }
        let (words, folded) = words_of(text);
        // Runs of words to replace (first, last), in order and disjoint; a run that follows the
        // previous one with nothing but separators between them joins it ("Doe, John" is one
        // "[removed]").
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut w = 0;
        while w < words.len() {
            let start = words[w].folded.start;
            let hit = self.tokens.iter().find_map(|t| {
                let end = start + t.len();
                if folded.get(start..end) != Some(t.as_slice()) {
                    return None;
                }
                // The match must end where a word ends.
                words[w..].iter().position(|x| x.folded.end == end).map(|k| w + k)
            });
            match hit {
                Some(last) => {
                    match runs.last_mut() {
                        Some(prev) if prev.1 + 1 == w => prev.1 = last,
                        _ => runs.push((w, last)),
                    }
                    w = last + 1;
                }
                None => w += 1,
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for &(first, last) in &runs {
            out.push_str(&text[at..words[first].bytes.start]);
            out.push_str(REDACTED);
            at = words[last].bytes.end;
        }
        out.push_str(&text[at..]);
        (out, runs.len())
    }
}

/// English and German month names (full and abbreviated): dates on slides are written either way.
const MONTHS: [[&str; 3]; 12] = [
    ["January", "Jan", "Januar"],
    ["February", "Feb", "Februar"],
    ["March", "Mar", "März"],
    ["April", "Apr", "April"],
    ["May", "May", "Mai"],
    ["June", "Jun", "Juni"],
    ["July", "Jul", "Juli"],
    ["August", "Aug", "August"],
    ["September", "Sep", "September"],
    ["October", "Oct", "Oktober"],
    ["November", "Nov", "November"],
    ["December", "Dec", "Dezember"],
];

/// The usual spellings of a DICOM date (`YYYYMMDD`) as identifiers: ISO, European (day first,
/// with dots, slashes or dashes, with or without leading zeros, four- or two-digit year), US
/// (month first) and with the month's name ("3 Feb 1961", "February 3, 1961", "3. Februar
/// 1961"). Separators need not be listed: matching ignores them. Empty for anything else.
pub fn date_variants(dicom_date: &str) -> Vec<String> {
    let d = dicom_date.trim();
    if d.len() != 8 || !d.chars().all(|c| c.is_ascii_digit()) {
        return Vec::new();
    }
    let (y, m, day) = (&d[0..4], &d[4..6], &d[6..8]);
    let (Ok(mi), Ok(di)) = (m.parse::<usize>(), day.parse::<usize>()) else {
        return Vec::new();
    };
    if !(1..=12).contains(&mi) || !(1..=31).contains(&di) {
        return Vec::new();
    }
    let (m1, d1, yy) = (mi.to_string(), di.to_string(), &y[2..4]);
    let mut out = Vec::new();
    for (dd, mm) in [(day, m), (d1.as_str(), m1.as_str())] {
        for year in [y, yy] {
            out.push(format!("{dd}.{mm}.{year}"));
            out.push(format!("{mm}/{dd}/{year}"));
        }
    }
    out.push(format!("{y}-{m}-{day}"));
    for name in MONTHS[mi - 1] {
        for dd in [day, d1.as_str()] {
            out.push(format!("{dd} {name} {y}"));
            out.push(format!("{name} {dd}, {y}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        let mut tokens = vec![
            "Doe^John".to_string(),
            "John".into(),
            "Doe".into(),
            "MRN-4711".into(),
        ];
        tokens.extend(date_variants("19610203"));
        Redactor::new(tokens)
    }

    fn redacted(text: &str) -> String {
        redactor().redact(text).0
    }

    #[test]
    fn ids_are_found_whatever_the_separators() {
        for text in ["MRN 4711", "mrn4711", "MRN-4711", "MRN_4711", "ＭＲＮ４７１１"] {
            assert_eq!(redacted(&format!("ID {text}")), "ID [removed]", "{text}");
        }
    }

    #[test]
    fn birth_dates_are_found_in_the_usual_formats() {
        for text in [
            "1961-02-03",
            "19610203",
            "03.02.1961",
            "3.2.1961",
            "02/03/1961",
            "3 Feb 1961",
            "February 3, 1961",
            "3. Februar 1961",
            "03.02.61",
        ] {
            assert_eq!(redacted(&format!("born {text}")), "born [removed]", "{text}");
        }
        // Other dates stay.
        assert_eq!(redacted("study 2024-01-31"), "study 2024-01-31");
    }

    #[test]
    fn names_are_found_through_diacritics_confusables_and_invisible_characters() {
        for name in [
            "Jöhn Döe",
            "JOHN DOE",
            "D\u{043e}e John",  // Cyrillic o
            "Jo\u{200B}hn Doe", // zero-width space inside the name
            "Jo\u{00AD}hn Doe", // soft hyphen
            "Ｊｏｈｎ Ｄｏｅ",  // full width
            "Doe^John",
        ] {
            let out = redacted(&format!("Patient: {name}"));
            assert!(
                !out.to_lowercase().contains("john") && !out.contains("Doe"),
                "{name}: {out}"
            );
            assert!(out.starts_with("Patient: [removed]"), "{name}: {out}");
        }
    }

    #[test]
    fn only_the_matching_words_are_removed_and_never_parts_of_words() {
        // A probe labelled with the patient's name: the finding stays readable.
        assert_eq!(
            redacted("High risk: nerve 1.2 mm from the zone of probe John (outer surface)"),
            "High risk: nerve 1.2 mm from the zone of probe [removed] (outer surface)"
        );
        // "Doe" inside "Does" and "John" inside "Johnson" are other words.
        assert_eq!(redacted("Does Johnson agree?"), "Does Johnson agree?");
        assert_eq!(redactor().redact("Axial").1, 0);
    }

    #[test]
    fn short_and_empty_identifiers_are_ignored() {
        let r = Redactor::new(["".to_string(), "J".into(), " ".into()]);
        assert!(r.is_empty());
        assert_eq!(r.redact("J 1 John").0, "J 1 John");
    }

    #[test]
    fn dates_that_are_not_dates_give_no_variants() {
        assert!(date_variants("1961").is_empty());
        assert!(date_variants("19611303").is_empty());
        assert!(date_variants("abcdefgh").is_empty());
    }
}
