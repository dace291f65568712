//! Cutting a transcript line's long strings down to their heads before the line is parsed.
//!
//! Most of a history's bytes are tool results, file contents and pasted text: strings that
//! cclive never keeps beyond a preview of their first [`HEAD_BYTES`]. The JSON parser skips them
//! a few bytes at a time; here they are left out of a shorter copy of the line that keeps every
//! string's head, so a cut string still gives the same preview and still reads as longer than
//! its head. Only strings of more than [`LONG_STRING`] raw bytes are cut: no id, name, path or
//! number cclive reads is near that long.
//!
//! The line's quotes are found 64 bytes at a time with SIMD compares (the `wide` crate: SSE2 on
//! x86-64, NEON on aarch64, plain code elsewhere), and its strings are the runs between them.
//! A search per string stopped at every key, short value and escaped quote: the benchmark's
//! history has a string every ~270 bytes and a backslash every ~25 (code and logs escape each
//! newline), so one mask per block costs less than a call per string (the cold import of 1 GB
//! took 8 % less CPU than with `memchr` per string). Only a long string's head is then
//! walked, escape by escape, to find where at least [`KEEP_DECODED`] decoded bytes end.
//!
//! The search for a string's closing quote ([`closing_quote`]) is the one the prefilter's
//! look for a line's `type` uses too, and the block scan follows the same rule: outside a string
//! a quote opens one, inside it closes it unless an odd run of backslashes escapes it.
//!
//! It never decides what a line means: it only copies bytes, and when the line cannot be
//! scanned (a string left open) it cuts nothing and the parser reports the line as it is. What
//! it gives up is validation inside a cut string's tail: a control character or a bad escape
//! there no longer makes the line unreadable (the tail is content cclive would not keep).

use wide::u8x16;

use super::HEAD_BYTES;

/// Raw bytes between the quotes beyond which a string is cut.
pub(crate) const LONG_STRING: usize = 8 * 1024;

/// Decoded bytes a cut string keeps at least: more than the head a preview looks at, so the
/// preview is the same and still ends in `…`.
const KEEP_DECODED: usize = HEAD_BYTES + 8;

/// Bytes the quote scan looks at a time: one bit each in a `u64`.
const BLOCK: usize = 64;

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
    // Where the content of the string the scan is in starts; `None` outside strings.
    let mut content: Option<usize> = None;
    let (blocks, rest) = line.as_chunks::<BLOCK>();
    // The last bytes, padded with spaces (no quote) to a whole block.
    let mut last = [b' '; BLOCK];
    last.get_mut(..rest.len())?.copy_from_slice(rest);
    for (n, block) in blocks.iter().chain([&last]).enumerate() {
        let mut quotes = quote_mask(block);
        while quotes != 0 {
            let quote = n * BLOCK + quotes.trailing_zeros() as usize;
            quotes &= quotes - 1;
            let Some(start) = content else {
                // Outside strings a quote can only open one (valid JSON has no other there).
                content = Some(quote + 1);
                continue;
            };
            if escaped(line, start, quote)? {
                continue;
            }
            content = None;
            if quote - start > LONG_STRING
                && let Some(cut) = head_end(line.get(..quote)?, start)
            {
                if out.is_empty() {
                    out.reserve(line.len() / 4);
                }
                out.extend_from_slice(line.get(copied..cut)?);
                copied = quote;
            }
        }
    }
    if content.is_some() || copied == 0 {
        return None;
    }
    out.extend_from_slice(line.get(copied..)?);
    Some(out)
}

/// One bit per byte of `block` that is a quote (bit `i` for `block[i]`).
fn quote_mask(block: &[u8; BLOCK]) -> u64 {
    let quote = u8x16::splat(b'"');
    let (lanes, _) = block.as_chunks::<16>();
    lanes.iter().enumerate().fold(0, |mask, (k, lane)| {
        mask | u64::from(u8x16::new(*lane).simd_eq(quote).to_bitmask()) << (16 * k)
    })
}

/// Whether the quote at `line[quote]`, in the string whose content starts at `start`, is escaped:
/// an odd run of backslashes before it (within a string a backslash only starts an escape or is
/// one, so the run's parity tells).
fn escaped(line: &[u8], start: usize, quote: usize) -> Option<bool> {
    let backslashes = line
        .get(start..quote)?
        .iter()
        .rev()
        .take_while(|b| **b == b'\\')
        .count();
    Some(backslashes % 2 == 1)
}

/// Where a head of [`KEEP_DECODED`] decoded bytes of the string whose content is
/// `string[start..]` ends, when it holds that many: escapes are stepped over one by one,
/// counting what they decode to.
fn head_end(string: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    // A lower bound of the bytes the content so far decodes to.
    let mut decoded = 0;
    loop {
        let rest = string.get(at..)?;
        let special = at + memchr::memchr(b'\\', rest).unwrap_or(rest.len());
        // `string[at..special]` is plain text: each byte decodes to itself.
        if decoded + (special - at) >= KEEP_DECODED {
            let mut end = at + (KEEP_DECODED - decoded);
            // On to the end of a UTF-8 character (never past this run).
            while end < special && string.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
                end += 1;
            }
            return Some(end);
        }
        if special == string.len() {
            return None;
        }
        decoded += special - at;
        let (raw, decodes_to) = escape_at(string, special);
        // A bad escape at the end never steps past the string.
        at = (special + raw).min(string.len());
        decoded += decodes_to;
        if decoded >= KEEP_DECODED {
            return Some(at);
        }
    }
}

/// The index of the quote that closes the string whose content starts at `start`, searching
/// from `from` (not inside an escape); `None` when it is not closed. Code and logs escape a
/// newline every few dozen bytes, so stopping at each backslash would cost what the parser
/// costs: a quote is found instead, and is the end unless it is [`escaped`].
pub(crate) fn closing_quote(line: &[u8], start: usize, from: usize) -> Option<usize> {
    let mut from = from;
    loop {
        let quote = from + memchr::memchr(b'"', line.get(from..)?)?;
        if !escaped(line, start, quote)? {
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
    use proptest::prelude::*;

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

    /// Text made of pieces that exercise every way a string is written: plain and multi-byte
    /// text, every escape JSON has (control characters become `\u00XX`), quotes and backslashes
    /// in runs, long enough (up to ~30 KB raw) to be cut or to stay just under the limit.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "a",
            "word ",
            "é",
            "日本",
            "🦀",
            "\n",
            "\t",
            "\"",
            "\\",
            "\\\"",
            "\u{1}",
            "\u{1f}",
            "\r\n",
            "{\"k\":[1,2]}",
        ]);
        prop_oneof![
            "[a-z]{0,12}",
            // Ending in a backslash or a quote puts an even or odd run before the closing quote.
            (
                prop::collection::vec(piece, 1..40),
                1usize..800,
                prop::sample::select(vec!["", "\\", "\\\\", "\""]),
            )
                .prop_map(|(pieces, times, end)| pieces.concat().repeat(times) + end),
        ]
    }

    /// A JSON value of objects, arrays, numbers and such texts, a few levels deep.
    fn value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            text().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    /// `cut` is `whole` with each string of more than [`LONG_STRING`] raw bytes replaced by its
    /// head: a prefix of [`KEEP_DECODED`] bytes and at most the rest of a character or an
    /// escape, or all of it when it is shorter than that. Everything else is equal.
    fn assert_cut_from(cut: &serde_json::Value, whole: &serde_json::Value) {
        use serde_json::Value;
        match (cut, whole) {
            (Value::String(kept), Value::String(original)) => {
                let raw = serde_json::to_string(original).unwrap().len() - 2;
                if raw <= LONG_STRING || original.len() < KEEP_DECODED {
                    assert_eq!(kept, original);
                } else {
                    assert!(original.starts_with(kept.as_str()));
                    assert!(
                        (KEEP_DECODED..KEEP_DECODED + 4).contains(&kept.len()),
                        "{}",
                        kept.len()
                    );
                }
            }
            (Value::Array(cut), Value::Array(whole)) => {
                assert_eq!(cut.len(), whole.len());
                cut.iter()
                    .zip(whole)
                    .for_each(|(c, w)| assert_cut_from(c, w));
            }
            (Value::Object(cut), Value::Object(whole)) => {
                assert!(cut.keys().eq(whole.keys()));
                cut.values()
                    .zip(whole.values())
                    .for_each(|(c, w)| assert_cut_from(c, w));
            }
            _ => assert_eq!(cut, whole),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_cut_line_reads_as_the_line_with_its_long_strings_shortened(whole in value()) {
            let line = serde_json::to_vec(&whole).unwrap();
            match cut_long_strings(&line) {
                Some(cut) => {
                    prop_assert!(cut.len() < line.len());
                    assert_cut_from(&serde_json::from_slice(&cut).unwrap(), &whole);
                }
                // Nothing to cut: every long string is too short to be.
                None => assert_cut_from(&whole, &whole),
            }
        }

        #[test]
        fn any_bytes_are_scanned_without_panic_and_only_ever_shortened(
            pieces in prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec!["\"", "\\", "\\u", "\\ud83e\\u", "{", ":"])
                        .prop_map(str::to_owned),
                    "[a-z\\\\\"é]{0,20}",
                    "x{0,20000}",
                ],
                0..12,
            )
        ) {
            let line = pieces.concat();
            if let Some(cut) = cut_long_strings(line.as_bytes()) {
                prop_assert!(cut.len() < line.len());
            }
        }
    }
}
