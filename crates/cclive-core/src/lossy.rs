//! JSON text as JavaScript writes it: `JSON.stringify` emits a lone UTF-16 surrogate
//! (`"\udce9"`, half of a cut emoji) as an escape, which is not Unicode and which serde_json
//! refuses, losing the whole line. [`without_lone_surrogates`] rewrites such escapes to U+FFFD
//! (`\ufffd`) so the line reads lossily instead. Pure bytes in, bytes out; it never parses.

/// `line` with every lone-surrogate `\uXXXX` escape replaced by `\ufffd`; `None` when it has
/// none (the caller's parse error stands). A surrogate pair (`\ud83d\ude00`) is kept.
pub fn without_lone_surrogates(line: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut copied = 0;
    while i < line.len() {
        if line[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = escape_at(line, i) else {
            i += 2; // any other escape (`\\`, `\"`, …): its escaped byte is never a backslash
            continue;
        };
        if (0xD800..0xDC00).contains(&unit) {
            if escape_at(line, i + 6).is_some_and(|low| (0xDC00..0xE000).contains(&low)) {
                i += 12;
                continue;
            }
        } else if !(0xDC00..0xE000).contains(&unit) {
            i += 6;
            continue;
        }
        let buf = out.get_or_insert_with(|| Vec::with_capacity(line.len()));
        buf.extend_from_slice(&line[copied..i]);
        buf.extend_from_slice(br"\ufffd");
        i += 6;
        copied = i;
    }
    let mut buf = out?;
    buf.extend_from_slice(&line[copied..]);
    Some(buf)
}

/// The code unit of a `\uXXXX` escape starting at `at`.
fn escape_at(line: &[u8], at: usize) -> Option<u32> {
    let esc = line.get(at..at + 6)?;
    if esc[0] != b'\\' || esc[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&esc[2..]).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters_and_pairs_stay() {
        let line = br#"{"a":"caf\udce9 \ud83d\ude00 \ud83d end\ud800","b":"\\udce9"}"#;
        let fixed = without_lone_surrogates(line).expect("changed");
        let v: serde_json::Value = serde_json::from_slice(&fixed).expect("parses now");
        assert_eq!(v["a"], "caf\u{fffd} \u{1f600} \u{fffd} end\u{fffd}");
        assert_eq!(v["b"], r"\udce9", "an escaped backslash is no escape");
        assert_eq!(without_lone_surrogates(br#"{"a":"\u00e9\\u"}"#), None);
    }

    proptest! {
        #[test]
        fn never_panics_and_valid_json_stays_valid(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = without_lone_surrogates(&bytes);
        }

        #[test]
        fn any_string_with_surrogate_escapes_reads_after_repair(units in proptest::collection::vec(prop_oneof![Just(0xD83Du16), Just(0xDE00u16), Just(0x41u16), Just(0x5Cu16)], 0..12)) {
            let mut text = String::from("\"");
            for u in units {
                let _ = write!(text, "\\u{u:04x}");
            }
            text.push('"');
            let fixed = without_lone_surrogates(text.as_bytes()).unwrap_or_else(|| text.clone().into_bytes());
            prop_assert!(serde_json::from_slice::<String>(&fixed).is_ok());
        }
    }
}
