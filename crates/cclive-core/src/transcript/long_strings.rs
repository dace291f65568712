//! Cutting a transcript line's long strings down to their heads before the line is parsed.
//!
//! Most of a history's bytes are tool results, file contents and pasted text: strings that
//! cclive never keeps beyond a preview of their first [`HEAD_BYTES`]. The JSON parser skips them
//! a few bytes at a time; here they are found with `memchr` (SIMD) and left out of a shorter
//! copy of the line that keeps every string's head, so a cut string still gives the same preview
//! and still reads as longer than its head. Only strings of more than [`LONG_STRING`] raw bytes
//! are cut: no id, name, path or number cclive reads is near that long.
//!
//! The search for a string's closing quote ([`closing_quote`]) is the one the prefilter's
//! look for a line's `type` uses too.
//!
//! It never decides what a line means: it only copies bytes, and when the line cannot be
//! scanned (a string left open) it cuts nothing and the parser reports the line as it is. What
//! it gives up is validation inside a cut string's tail: a control character or a bad escape
//! there no longer makes the line unreadable (the tail is content cclive would not keep).

use super::HEAD_BYTES;

/// Raw bytes between the quotes beyond which a string is cut.
pub(crate) const LONG_STRING: usize = 8 * 1024;

/// Decoded bytes a cut string keeps at least: more than the head a preview looks at, so the
/// preview is the same and still ends in `…`.
const KEEP_DECODED: usize = HEAD_BYTES + 8;

/// `line` with every string longer than [`LONG_STRING`] raw bytes cut after a head of at least
/// [`KEEP_DECODED`] decoded bytes (never inside an escape, a surrogate pair or a UTF-8
/// character). `None` when nothing was cut, or when the line cannot be scanned.
pub(crate) fn cut_long_strings(line: &[u8]) -> Option<Vec<u8>> {
    if line.len() <= LONG_STRING {
        return None;
    }
    let mut out: Vec<u8> = Vec::new();
    // `line[..copied]` is in `out`.
    let mut copied = 0;
    let mut i = 0;
    // Outside strings a quote can only open one (valid JSON has no other quote there).
    while let Some(found) = memchr::memchr(b'"', line.get(i..)?) {
        let open = i + found;
        let string = scan_string(line, open + 1)?;
        if string.close - (open + 1) > LONG_STRING
            && let Some(cut) = string.cut
        {
            if out.is_empty() {
                out.reserve(line.len() / 4);
            }
            out.extend_from_slice(line.get(copied..cut)?);
            copied = string.close;
        }
        i = string.close + 1;
    }
    if copied == 0 {
        return None;
    }
    out.extend_from_slice(line.get(copied..)?);
    Some(out)
}

/// A string scanned from its first content byte.
struct Scanned {
    /// The index of its closing quote.
    close: usize,
    /// Where a head of [`KEEP_DECODED`] decoded bytes ends, when it holds that many.
    cut: Option<usize>,
}

/// Scans the string whose content starts at `start`; `None` when it is not closed.
fn scan_string(line: &[u8], start: usize) -> Option<Scanned> {
    let mut at = start;
    // A lower bound of the bytes the content so far decodes to.
    let mut decoded = 0;
    // The head: escapes are stepped over one by one, counting what they decode to.
    let cut = loop {
        let special = at + memchr::memchr2(b'"', b'\\', line.get(at..)?)?;
        // `line[at..special]` is plain text: each byte decodes to itself.
        if decoded + (special - at) >= KEEP_DECODED {
            let mut end = at + (KEEP_DECODED - decoded);
            // On to the end of a UTF-8 character (never past this run).
            while end < special && line.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
                end += 1;
            }
            break end;
        }
        decoded += special - at;
        if line.get(special) == Some(&b'"') {
            return Some(Scanned {
                close: special,
                cut: None,
            });
        }
        let (raw, decodes_to) = escape_at(line, special);
        at = special + raw;
        decoded += decodes_to;
        if decoded >= KEEP_DECODED {
            break at;
        }
    };
    // The rest: only the closing quote matters.
    Some(Scanned {
        close: closing_quote(line, start, at)?,
        cut: Some(cut),
    })
}

/// The index of the quote that closes the string whose content starts at `start`, searching
/// from `from` (not inside an escape); `None` when it is not closed. Code and logs escape a
/// newline every few dozen bytes, so stopping at each backslash would cost what the parser
/// costs: a quote is found instead, and is the end unless an odd run of backslashes escapes it
/// (within a string a backslash only starts an escape or is one, so the run's parity tells).
pub(crate) fn closing_quote(line: &[u8], start: usize, from: usize) -> Option<usize> {
    let mut from = from;
    loop {
        let quote = from + memchr::memchr(b'"', line.get(from..)?)?;
        let backslashes = line
            .get(start..quote)?
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(quote);
        }
        from = quote + 1;
    }
}

/// The raw length of the escape starting with the backslash at `line[at]`, and the fewest bytes
/// it decodes to: `\uXXXX` is 6 bytes (12 with the low half of a surrogate pair, which stays
/// with its high half: 4 bytes of UTF-8), any other escape 2.
fn escape_at(line: &[u8], at: usize) -> (usize, usize) {
    if line.get(at + 1) != Some(&b'u') {
        return (2, 1);
    }
    let high = line
        .get(at + 2..at + 6)
        .and_then(|hex| std::str::from_utf8(hex).ok())
        .and_then(|hex| u16::from_str_radix(hex, 16).ok())
        .is_some_and(|unit| (0xD800..0xDC00).contains(&unit));
    if high && line.get(at + 6..at + 8) == Some(b"\\u".as_slice()) {
        (12, 4)
    } else {
        (6, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(text: &str, times: usize) -> String {
        text.repeat(times)
    }

    #[test]
    fn a_short_line_or_one_without_long_strings_is_not_copied() {
        assert_eq!(cut_long_strings(br#"{"type":"user","text":"hi"}"#), None);
        let many_short = r#""key":"value","#.repeat(2000);
        let line = format!("{{{many_short}\"end\":1}}");
        assert!(line.len() > LONG_STRING);
        assert_eq!(cut_long_strings(line.as_bytes()), None);
    }

    #[test]
    fn a_long_string_keeps_its_head_and_everything_around_it() {
        let body = long("0123456789", 4000);
        let line = format!(r#"{{"type":"user","content":"{body}","uuid":"u1"}}"#);
        let cut = String::from_utf8(cut_long_strings(line.as_bytes()).unwrap()).unwrap();
        let head = &body[..KEEP_DECODED];
        assert_eq!(
            cut,
            format!(r#"{{"type":"user","content":"{head}","uuid":"u1"}}"#)
        );
    }

    #[test]
    fn a_cut_never_splits_a_character_an_escape_or_a_surrogate_pair() {
        for filler in [
            "é",
            "日本",
            "🦀",
            "\\n",
            "\\u00e9",
            "\\ud83e\\udd80",
            "\\\\",
            "\\\"",
        ] {
            for lead in 0..7 {
                let body = "a".repeat(lead) + &long(filler, 20_000 / filler.len());
                let line = format!(r#"{{"content":"{body}","x":1}}"#);
                let cut = cut_long_strings(line.as_bytes()).unwrap();
                let value: serde_json::Value = serde_json::from_slice(&cut)
                    .unwrap_or_else(|e| panic!("{filler} after {lead}: {e}"));
                let original: serde_json::Value = serde_json::from_str(&line).unwrap();
                let (kept, whole) = (
                    value["content"].as_str().unwrap(),
                    original["content"].as_str().unwrap(),
                );
                assert!(whole.starts_with(kept), "{filler} after {lead}");
                assert!(
                    kept.len() >= KEEP_DECODED,
                    "{filler} after {lead}: {}",
                    kept.len()
                );
                assert_eq!(value["x"], 1);
            }
        }
    }

    #[test]
    fn a_string_left_open_cuts_nothing() {
        let line = format!(
            r#"{{"a":"{}","b":"{}"#,
            long("x", 20_000),
            long("y", 20_000)
        );
        assert_eq!(cut_long_strings(line.as_bytes()), None);
    }

    #[test]
    fn keys_and_strings_inside_nested_values_are_cut_alike() {
        let big = long("z", 20_000);
        let line = format!(r#"{{"{big}":[{{"t":"{big}"}}],"n":2}}"#);
        let cut = cut_long_strings(line.as_bytes()).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&cut).unwrap();
        assert_eq!(value["n"], 2);
        let (key, inner) = value.as_object().unwrap().iter().next().unwrap();
        assert_eq!(key.len(), KEEP_DECODED);
        assert_eq!(inner[0]["t"].as_str().unwrap().len(), KEEP_DECODED);
    }
}
