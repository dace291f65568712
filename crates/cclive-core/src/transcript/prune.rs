//! Leaving out of a transcript line every member the parse never reads, before it is parsed.
//!
//! Most of a long line is what cclive skips: a tool's result (`toolUseResult`, and again in the
//! `tool_result` block), a tool call's `input`, thinking, and the text of files and commands
//! (92 % of the bytes of the benchmark's long lines). The JSON parser steps over all of it a few
//! bytes at a time and stops at every escape (code and logs escape a newline every ~25 bytes).
//! Parsing the long lines of the 1 GB benchmark history took 0.52 s of CPU whole (their long
//! strings cut), 0.42 s pruned first, 0.18 s of that the pruning. Here the
//! line's objects are walked only where the typed parse looks — the top level, `message`, the
//! blocks of `message.content` — and every member whose key the parse does not know is stepped
//! over 64 bytes at a time with SIMD compares (the `wide` crate, as `long_strings.rs`), then left
//! out of a shorter copy. What is kept is copied verbatim, in order, so the parse of the copy
//! gives what the parse of the line gives: serde ignores unknown members, and these are the
//! unknown ones.
//!
//! The keys the parse knows are not listed here: they are asked of the parse's own `Deserialize`
//! implementations ([`fields_of`]), so a field added to `RawLine`, `Message` or `Block` is kept
//! without a change here.
//!
//! It never decides what a line means. When the walk meets anything it does not expect — a line
//! that is no object, a key written with escapes, a value left open, trailing bytes — it gives up
//! (`None`) and the line is parsed whole, so errors are reported as before. What it gives up is
//! validation inside the members it leaves out: a bad number or escape there no longer makes the
//! line unreadable, as inside a long string's cut tail (`long_strings.rs`); their brackets and
//! quotes must still match.

use std::sync::LazyLock;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use wide::u8x16;

use super::{Block, Message, RawLine};

/// Bytes the scan looks at a time: one bit each in a `u64`.
const BLOCK: usize = 64;

/// `line` without the members the parse never reads (see the module docs); `None` when the walk
/// gave up, or when nothing was left out.
pub(crate) fn prune(line: &[u8]) -> Option<Vec<u8>> {
    let mut walk = Walk {
        line,
        out: Vec::with_capacity(line.len().min(4096)),
        dropped: false,
    };
    let open = ws(line, 0);
    if *line.get(open)? != b'{' {
        return None;
    }
    let end = walk.object(open, Level::Line)?;
    if ws(line, end) != line.len() || !walk.dropped {
        return None;
    }
    Some(walk.out)
}

/// Where in a line an object is: what decides which of its members are kept.
#[derive(Clone, Copy)]
enum Level {
    /// The line itself (`RawLine`).
    Line,
    /// `message` (`Message`).
    Message,
    /// One element of `message.content` (`Block`).
    Block,
}

/// What becomes of one member's value.
enum Keep {
    /// Left out.
    Drop,
    /// Copied as it is.
    Verbatim,
    /// Walked when it is an object (copied as it is otherwise).
    Object(Level),
    /// Walked element by element when it is an array of objects at this level.
    Array(Level),
}

/// The keys each level's `Deserialize` knows, asked of it once: a line's, `message`'s, a block's.
static KNOWN: LazyLock<[&'static [&'static str]; 3]> = LazyLock::new(|| {
    [
        fields_of::<RawLine<'_>>(),
        fields_of::<Message<'_>>(),
        fields_of::<Block<'_>>(),
    ]
});

impl Level {
    fn keep(self, key: &[u8]) -> Keep {
        let [line, message, block] = *KNOWN;
        let known = match self {
            Level::Line => line,
            Level::Message => message,
            Level::Block => block,
        };
        if !known.iter().any(|k| k.as_bytes() == key) {
            return Keep::Drop;
        }
        match (self, key) {
            (Level::Line, b"message") => Keep::Object(Level::Message),
            (Level::Message, b"content") => Keep::Array(Level::Block),
            _ => Keep::Verbatim,
        }
    }
}

struct Walk<'l> {
    line: &'l [u8],
    out: Vec<u8>,
    /// Whether a member was left out (a copy of the whole line is no use).
    dropped: bool,
}

impl Walk<'_> {
    /// Copies the object opening at `line[open]`, walked at `level`; returns the index after it.
    fn object(&mut self, open: usize, level: Level) -> Option<usize> {
        let line = self.line;
        self.out.push(b'{');
        let mut i = ws(line, open + 1);
        if *line.get(i)? == b'}' {
            self.out.push(b'}');
            return Some(i + 1);
        }
        let mut first = true;
        loop {
            if *line.get(i)? != b'"' {
                return None;
            }
            let close = string_end(line, i + 1)?;
            let key = line.get(i + 1..close)?;
            if key.contains(&b'\\') {
                // Matching it would need decoding; the whole line is parsed instead.
                return None;
            }
            let colon = ws(line, close + 1);
            if *line.get(colon)? != b':' {
                return None;
            }
            let value = ws(line, colon + 1);
            let keep = level.keep(key);
            if matches!(keep, Keep::Drop) {
                self.dropped = true;
                i = value_end(line, value)?;
            } else {
                if !first {
                    self.out.push(b',');
                }
                first = false;
                self.out.extend_from_slice(line.get(i..=close)?);
                self.out.push(b':');
                i = match (keep, line.get(value)) {
                    (Keep::Object(inner), Some(b'{')) => self.object(value, inner)?,
                    (Keep::Array(inner), Some(b'[')) => self.array(value, inner)?,
                    _ => {
                        let end = value_end(line, value)?;
                        self.out.extend_from_slice(line.get(value..end)?);
                        end
                    }
                };
            }
            i = ws(line, i);
            match *line.get(i)? {
                b',' => i = ws(line, i + 1),
                b'}' => {
                    self.out.push(b'}');
                    return Some(i + 1);
                }
                _ => return None,
            }
        }
    }

    /// Copies the array opening at `line[open]`, its objects walked at `level` (other elements
    /// copied as they are); returns the index after it.
    fn array(&mut self, open: usize, level: Level) -> Option<usize> {
        let line = self.line;
        self.out.push(b'[');
        let mut i = ws(line, open + 1);
        if *line.get(i)? == b']' {
            self.out.push(b']');
            return Some(i + 1);
        }
        loop {
            i = if *line.get(i)? == b'{' {
                self.object(i, level)?
            } else {
                let end = value_end(line, i)?;
                self.out.extend_from_slice(line.get(i..end)?);
                end
            };
            i = ws(line, i);
            match *line.get(i)? {
                b',' => {
                    self.out.push(b',');
                    i = ws(line, i + 1);
                }
                b']' => {
                    self.out.push(b']');
                    return Some(i + 1);
                }
                _ => return None,
            }
        }
    }
}

/// The index after JSON whitespace (the four bytes JSON allows) from `i`.
fn ws(line: &[u8], mut i: usize) -> usize {
    while line
        .get(i)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// The index after the value starting at `line[at]`: a string, an object or array (brackets and
/// strings matched, nothing else checked), or a scalar (up to the next delimiter).
fn value_end(line: &[u8], at: usize) -> Option<usize> {
    match *line.get(at)? {
        b'"' => string_end(line, at + 1).map(|close| close + 1),
        b'{' | b'[' => container_end(line, at),
        _ => {
            let len = line.get(at..)?.iter().position(|b| {
                matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b'"')
            })?;
            (len > 0).then_some(at + len)
        }
    }
}

/// The index of the quote closing the string whose content starts at `line[start]`.
fn string_end(line: &[u8], start: usize) -> Option<usize> {
    let mut scan = Scan::new(line, start);
    loop {
        let block = scan.next()?;
        if let Some(bit) = lowest(block.quotes) {
            return Some(block.base + bit);
        }
    }
}

/// The index after the object or array opening at `line[open]`: the bracket that brings the
/// depth back to zero outside strings (`{` and `[` count alike, `}` and `]` alike: in valid JSON
/// they nest properly, and a mismatch still shows when what is kept is parsed).
fn container_end(line: &[u8], open: usize) -> Option<usize> {
    let mut scan = Scan::new(line, open);
    let mut depth = 0u32;
    // All ones while the scan is inside a string at a block's end.
    let mut in_string = 0u64;
    loop {
        let block = scan.next()?;
        let inside = prefix_xor(block.quotes) ^ in_string;
        in_string = 0u64.wrapping_sub(inside >> 63);
        if inside == !0 {
            // Inside a string from end to end (most of a tool result's bytes): no bracket counts.
            continue;
        }
        let (opens, closes) = block.brackets(line);
        let (opens, closes) = (opens & !inside, closes & !inside);
        let mut brackets = opens | closes;
        while let Some(bit) = lowest(brackets) {
            brackets &= brackets - 1;
            if opens & (1 << bit) != 0 {
                depth += 1;
            } else {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(block.base + bit + 1);
                }
            }
        }
    }
}

/// Bit `i` set when an odd number of bits `0..=i` are: with the bits of a block's quotes, the
/// bytes from a string's opening quote up to (not with) its closing one.
fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

/// The 64 bytes from `line[base]`; past the line's end, `padded` filled with them and spaces
/// (nothing any mask looks for).
fn block_at<'a>(line: &'a [u8], base: usize, padded: &'a mut [u8; BLOCK]) -> &'a [u8; BLOCK] {
    let rest = line.get(base..).unwrap_or_default();
    if let Some(block) = rest.first_chunk::<BLOCK>() {
        block
    } else {
        padded[..rest.len()].copy_from_slice(rest);
        padded
    }
}

/// The lowest set bit's index.
fn lowest(bits: u64) -> Option<usize> {
    (bits != 0).then(|| bits.trailing_zeros() as usize)
}

/// What one block of 64 bytes holds, one bit per byte (bit `i` for `line[base + i]`).
struct Masks {
    base: usize,
    /// Quotes not escaped by a backslash.
    quotes: u64,
    /// Bytes escaped by a backslash.
    escaped: u64,
}

impl Masks {
    /// The `{` and `[`, and the `}` and `]`, not escaped (looked for only where the scan needs
    /// them: outside strings).
    fn brackets(&self, line: &[u8]) -> (u64, u64) {
        let mut padded = [b' '; BLOCK];
        let bytes = block_at(line, self.base, &mut padded);
        let case = u8x16::splat(0x20);
        let mut opens = 0;
        let mut closes = 0;
        let (lanes, _) = bytes.as_chunks::<16>();
        for (k, lane) in lanes.iter().enumerate() {
            // Setting bit 5 maps `[` onto `{` and `]` onto `}`, and no other byte onto either.
            let folded = u8x16::new(*lane) | case;
            opens |= u64::from(folded.simd_eq(u8x16::splat(b'{')).to_bitmask()) << (16 * k);
            closes |= u64::from(folded.simd_eq(u8x16::splat(b'}')).to_bitmask()) << (16 * k);
        }
        (opens & !self.escaped, closes & !self.escaped)
    }
}

/// A line's blocks from a point outside any escape (a bracket, or a string's first byte), with
/// what escapes carry from one block into the next.
struct Scan<'l> {
    line: &'l [u8],
    base: usize,
    /// 1 when the last block ended in an odd run of backslashes: the next block's first byte
    /// is escaped.
    odd_carry: u64,
}

impl<'l> Scan<'l> {
    fn new(line: &'l [u8], from: usize) -> Self {
        Self {
            line,
            base: from,
            odd_carry: 0,
        }
    }

    /// The next block's masks; `None` past the line's end.
    fn next(&mut self) -> Option<Masks> {
        if self.base >= self.line.len() {
            return None;
        }
        let mut padded = [b' '; BLOCK];
        let bytes = block_at(self.line, self.base, &mut padded);
        let mut quotes = 0;
        let mut backslashes = 0;
        let (lanes, _) = bytes.as_chunks::<16>();
        for (k, lane) in lanes.iter().enumerate() {
            let lane = u8x16::new(*lane);
            quotes |= u64::from(lane.simd_eq(u8x16::splat(b'"')).to_bitmask()) << (16 * k);
            backslashes |= u64::from(lane.simd_eq(u8x16::splat(b'\\')).to_bitmask()) << (16 * k);
        }
        let escaped = self.escaped(backslashes);
        let masks = Masks {
            base: self.base,
            quotes: quotes & !escaped,
            escaped,
        };
        self.base += BLOCK;
        Some(masks)
    }

    /// The bytes escaped by an odd run of backslashes just before them, this block's runs and
    /// the one the last block ended in counted (the run-parity trick of simdjson's first stage:
    /// adding a run's start to the run carries out of its end, and the parity of where the run
    /// started and ended tells whether it is odd).
    fn escaped(&mut self, backslashes: u64) -> u64 {
        const EVEN: u64 = 0x5555_5555_5555_5555;
        const ODD: u64 = !EVEN;
        let starts = backslashes & !(backslashes << 1);
        // A run the last block left odd makes this block's parities flip at its first byte.
        let even_start_mask = EVEN ^ self.odd_carry;
        let even_starts = starts & even_start_mask;
        let odd_starts = starts & !even_start_mask;
        let even_carries = backslashes.wrapping_add(even_starts);
        let (mut odd_carries, overflow) = backslashes.overflowing_add(odd_starts);
        odd_carries |= self.odd_carry;
        self.odd_carry = u64::from(overflow);
        let even_carry_ends = even_carries & !backslashes;
        let odd_carry_ends = odd_carries & !backslashes;
        (even_carry_ends & ODD) | (odd_carry_ends & EVEN)
    }
}

/// The field names `T`'s derived `Deserialize` matches, as it hands them to the deserializer.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields = Fields(&[]);
    let _ = T::deserialize(&mut fields);
    fields.0
}

/// A deserializer that only records the field names a struct asks for.
struct Fields(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut Fields {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's fields are asked"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::transcript::{TranscriptRecord, parse_full, parse_kept, parse_line};

    fn pruned(line: &Value) -> Option<String> {
        prune(line.to_string().as_bytes()).map(|p| String::from_utf8(p).expect("utf-8 kept"))
    }

    #[test]
    fn the_keys_kept_are_the_ones_the_parse_asks_for() {
        let [line, message, block] = *KNOWN;
        for key in [
            "type",
            "sessionId",
            "session_id",
            "timestamp",
            "costUSD",
            "message",
        ] {
            assert!(line.contains(&key), "{key} in {line:?}");
        }
        assert!(!line.contains(&"toolUseResult"));
        assert_eq!(message, ["id", "model", "stop_reason", "usage", "content"]);
        assert!(block.contains(&"tool_use_id") && !block.contains(&"input"));
    }

    #[test]
    fn what_the_parse_never_reads_is_left_out_at_every_level() {
        let line = json!({
            "parentUuid": "p", "type": "assistant", "toolUseResult": {"stdout": "x".repeat(100)},
            "message": {
                "id": "msg_1", "role": "assistant", "usage": {"output_tokens": 5, "extra": [1]},
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
                    "a string element stays",
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"}
                ]
            },
            "sessionId": "s1"
        });
        assert_eq!(
            pruned(&line).as_deref(),
            Some(concat!(
                r#"{"type":"assistant","message":{"id":"msg_1","usage":{"output_tokens":5,"#,
                r#""extra":[1]},"content":[{"type":"tool_use","id":"t1","name":"Bash"},"#,
                r#""a string element stays",{"type":"thinking"}]},"sessionId":"s1"}"#
            ))
        );
    }

    #[test]
    fn a_message_or_content_of_another_shape_is_kept_as_it_is() {
        let line = json!({"type": "user", "message": "text", "x": 1});
        assert_eq!(
            pruned(&line).as_deref(),
            Some(r#"{"type":"user","message":"text"}"#)
        );
        let line = json!({"type": "user", "message": {"content": "a prompt", "role": "user"}});
        assert_eq!(
            pruned(&line).as_deref(),
            Some(r#"{"type":"user","message":{"content":"a prompt"}}"#)
        );
    }

    #[test]
    fn quotes_brackets_and_escapes_inside_what_is_left_out_are_stepped_over() {
        let tricky = "}]\"{[\\\\\"\\\"}".repeat(40);
        let line = json!({
            "a": tricky, "b": {"c": [tricky, {"d": tricky}], "e": "\\"}, "type": "user",
            "z": "\\\\", "sessionId": "s"
        });
        assert_eq!(
            pruned(&line).as_deref(),
            Some(r#"{"type":"user","sessionId":"s"}"#)
        );
    }

    #[test]
    fn a_pruned_line_of_an_unknown_type_keeps_the_whole_lines_raw_json() {
        let line = json!({"type": "new-kind", "sessionId": "s", "body": "b".repeat(2000)});
        let Ok(Some(TranscriptRecord::Unknown { kind, raw, .. })) =
            parse_line(line.to_string().as_bytes())
        else {
            panic!("an unknown line");
        };
        assert_eq!((kind.as_str(), raw), ("new-kind", Some(line)));
    }

    #[test]
    fn whitespace_between_tokens_is_allowed() {
        let line = b" { \"type\" : \"user\" ,\t\"x\" :\r\n[ 1 , { } ] , \"sessionId\":\"s\" } \n";
        assert_eq!(
            prune(line).as_deref(),
            Some(br#"{"type":"user","sessionId":"s"}"#.as_slice())
        );
    }

    #[test]
    fn the_walk_gives_up_on_what_it_does_not_expect() {
        for line in [
            r"[1, 2]",
            r#"{"type": "user", "x": [1, 2"#,
            r#"{"type": "user", "x": "open"#,
            r#"{"type": "user", "x": 1} trailing"#,
            r#"{"type": "user", "x" 1}"#,
            r#"{"type": "user", "x": 1,}"#,
            r#"{"typ\u0065": "user", "x": 1}"#,
            r#"{"type": "user", "x": }"#,
            r#"{"type": "user", "x": 1]"#,
            // Nothing left out: no copy.
            r#"{"type": "user", "sessionId": "s"}"#,
        ] {
            assert_eq!(prune(line.as_bytes()), None, "{line}");
        }
    }

    #[test]
    fn a_backslash_run_across_blocks_escapes_by_its_parity() {
        for run in 1..5 {
            for before in 55..70 {
                let content = format!("{}{}\"x\"", "a".repeat(before), "\\".repeat(run));
                let line = format!("\"{content}");
                let expected =
                    crate::transcript::long_strings::closing_quote(line.as_bytes(), 1, 1);
                assert_eq!(
                    string_end(line.as_bytes(), 1),
                    expected,
                    "{run} after {before}"
                );
            }
        }
    }

    /// A JSON value of any shape, its strings full of what the scan must step over.
    fn junk() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z\"\\\\{}\\[\\]:, é\n]{0,90}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_\"]{1,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A transcript-like line: known keys with values of the right or a wrong shape, unknown
    /// keys with junk, a message with blocks.
    fn line() -> impl Strategy<Value = Value> {
        let known = prop::sample::select(vec![
            "uuid",
            "cwd",
            "isSidechain",
            "costUSD",
            "requestId",
            "subtype",
            "summary",
            "agentId",
            "version",
            "durationMs",
            "isMeta",
            "leafUuid",
            "lastPrompt",
        ]);
        let block = (
            prop::sample::select(vec!["text", "tool_use", "tool_result", "thinking"]),
            junk(),
            junk(),
        )
            .prop_map(|(kind, text, extra)| {
                json!({"type": kind, "id": "t", "name": "Bash", "text": text,
                       "tool_use_id": "t", "input": extra.clone(), "content": extra})
            });
        (
            prop::sample::select(vec![
                "assistant",
                "user",
                "system",
                "cost-state",
                "summary",
                "new-kind",
            ]),
            prop::collection::vec((known, junk()), 0..4),
            prop::collection::vec(("[a-zA-Z]{1,12}", junk()), 0..4),
            prop::collection::vec(block, 0..4),
            junk(),
            0..5_000usize,
        )
            .prop_map(|(kind, known, unknown, blocks, stray, pad)| {
                let mut line = serde_json::Map::new();
                line.insert("type".into(), json!(kind));
                line.insert("sessionId".into(), json!("s1"));
                line.insert("timestamp".into(), json!("2026-01-02T03:04:05Z"));
                // Known members with the values Claude Code writes, then some of them again
                // with values of any shape.
                for (key, value) in [
                    ("uuid", json!("u1")),
                    ("cwd", json!("/work")),
                    ("version", json!("2.1.3")),
                    ("requestId", json!("req_1")),
                    ("isSidechain", json!(true)),
                    ("costUSD", json!(0.25)),
                    ("summary", json!("a title")),
                    ("totalCostUSD", json!(1.5)),
                    (
                        "modelUsage",
                        json!({"claude-sonnet-4-5": {"outputTokens": 9}}),
                    ),
                ] {
                    line.insert(key.into(), value);
                }
                for (key, value) in known {
                    line.insert(key.into(), value);
                }
                for (key, value) in unknown {
                    line.insert(key, value);
                }
                line.insert("padding".into(), json!("p".repeat(pad)));
                line.insert(
                    "message".into(),
                    json!({"id": "msg_1", "model": "claude-sonnet-4-5", "stop_reason": "end_turn",
                           "usage": {"input_tokens": 3, "output_tokens": 4}, "stray": stray,
                           "content": blocks}),
                );
                Value::Object(line)
            })
    }

    proptest! {
        #[test]
        fn a_pruned_line_parses_as_the_line(line in line()) {
            let text = line.to_string();
            let whole = parse_full(text.as_bytes());
            // Every line has an unknown member (`padding`) and no key written with escapes.
            let kept = prune(text.as_bytes());
            prop_assert!(kept.is_some());
            let kept = kept.unwrap_or_default();
            prop_assert!(kept.len() < text.len());
            // As `parse_line` parses it: an unknown line's raw JSON is the whole line's.
            prop_assert_eq!(parse_kept(&kept, text.as_bytes()), whole);
        }

        #[test]
        fn the_block_scan_ends_a_value_where_the_byte_walk_does(
            value in junk(), indent in 0..70usize,
        ) {
            let text = format!("{}{value},", " ".repeat(indent));
            let expected = crate::transcript::skip_value(text.as_bytes(), indent);
            prop_assert_eq!(value_end(text.as_bytes(), indent), expected);
        }

        #[test]
        fn strings_end_where_the_byte_walk_ends_them(
            content in "[a\"\\\\]{0,200}", indent in 0..70usize,
        ) {
            let text = format!("{}\"{content}", " ".repeat(indent));
            let start = indent + 1;
            let expected = crate::transcript::long_strings::closing_quote(text.as_bytes(), start, start);
            prop_assert_eq!(string_end(text.as_bytes(), start), expected);
        }
    }
}
