//! Terminal output of the headless commands: text from files (probe labels, `model_id`, patient
//! names, DICOM strings) is printed with its control characters escaped, so a crafted case can
//! neither move the cursor nor recolour or hide lines; and a closed pipe (`… | head -1`) ends the
//! command quietly instead of panicking.

use std::borrow::Cow;
use std::io::Write;

/// Whether `c` must not reach a terminal raw: control characters other than newline and tab
/// (ESC starts every terminal escape sequence), and the invisible format characters that reorder
/// or hide text (bidirectional overrides and isolates, zero-width characters).
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with every unsafe character written as `\u{…}` (borrowed when there is none).
pub fn sanitize(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| format!("\\u{{{:x}}}", u32::from(c)))
}

/// [`sanitize`] for JSON text: the escapes are JSON's own `\uXXXX` (serde already escapes the
/// control characters; the format characters it leaves can only stand inside strings), so the
/// output stays valid JSON with the same values.
pub fn sanitize_json(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| {
        let mut units = [0u16; 2];
        c.encode_utf16(&mut units)
            .iter()
            .map(|u| format!("\\u{u:04x}"))
            .collect()
    })
}

fn escape_with(text: &str, escape: impl Fn(char) -> String) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&escape(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What became of a write to stdout.
#[derive(Debug, PartialEq, Eq)]
pub enum Printed {
    Done,
    /// The reader went away (a closed pipe): not an error of ours, the command ends quietly.
    ReaderGone,
}

/// Writes `text` (sanitised) to stdout and flushes. A broken pipe is [`Printed::ReaderGone`];
/// other errors are returned.
pub fn print_stdout(text: &str) -> std::io::Result<Printed> {
    write_to(&mut std::io::stdout().lock(), &sanitize(text))
}

/// [`print_stdout`] of JSON text (with [`sanitize_json`]) and a final newline.
pub fn print_json(json: &str) -> std::io::Result<Printed> {
    write_to(
        &mut std::io::stdout().lock(),
        &format!("{}\n", sanitize_json(json)),
    )
}

fn write_to(w: &mut impl Write, text: &str) -> std::io::Result<Printed> {
    match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
        Ok(()) => Ok(Printed::Done),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Printed::ReaderGone),
        Err(e) => Err(e),
    }
}

/// Prints one line to stderr, sanitised (a failing stderr is ignored: there is nowhere left
/// to report it).
pub fn eprint_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", sanitize(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_invisible_characters_are_shown_not_obeyed() {
        let label = "Probe\u{1b}[2J\u{1b}[31m 1\r\u{7}\u{202E}evil\u{200B}";
        let s = sanitize(label);
        assert_eq!(
            s,
            "Probe\\u{1b}[2J\\u{1b}[31m 1\\u{d}\\u{7}\\u{202e}evil\\u{200b}"
        );
        assert!(!s.chars().any(|c| c.is_control()));
    }

    #[test]
    fn ordinary_text_is_untouched_and_borrowed() {
        let text = "Électrode 1 — 12.5 mm ≥ 5 mm\n\tpair 1–2: 2,250 V\n";
        assert!(matches!(sanitize(text), Cow::Borrowed(t) if t == text));
    }

    /// A writer whose reader has gone, like stdout piped into `head -1` after it exits.
    struct ClosedPipe;
    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_not_an_error() {
        assert_eq!(write_to(&mut ClosedPipe, "x\n").unwrap(), Printed::ReaderGone);
        let mut buf = Vec::new();
        assert_eq!(write_to(&mut buf, "ab").unwrap(), Printed::Done);
        assert_eq!(buf, b"ab");
    }

    #[test]
    fn json_stays_json_with_the_same_values() {
        let value = serde_json::json!({"label": "L\u{1b}[31m\u{202E}x\u{1F600}"});
        let text = serde_json::to_string(&value).unwrap();
        let safe = sanitize_json(&text);
        assert!(!safe.contains('\u{202E}'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }
}
