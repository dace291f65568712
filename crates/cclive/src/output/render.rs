//! Showing a print-mode session to the user the way they asked for it.
//!
//! cclive always runs claude with stream-json so it can follow the session; the user still gets
//! what their own flags asked for: `stream-json` lines unchanged (minus the partial-message lines
//! cclive added), `json` as the single result object (or the array of every message with
//! `--verbose`), and text as it streams, with one short line per tool call on stderr. When stdout
//! is not a terminal, text mode prints exactly what claude would: the final result.

use std::collections::HashSet;
use std::io::{self, Write};

use cclive_core::stream_json::{Block, SseEvent, StreamRecord};
use serde_json::Value;

use crate::ingest::invocation::{Invocation, UserOutput};

/// Where rendered output goes.
#[allow(clippy::struct_excessive_bools)] // independent switches, each from one user flag
pub struct Renderer {
    output: UserOutput,
    user_verbose: bool,
    user_partial: bool,
    detail: bool,
    live_text: bool,
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    streamed: HashSet<String>,
    at_line_start: bool,
    printed_text: bool,
    messages: Vec<Value>,
}

impl Renderer {
    /// A renderer for `plan`. `live_text`: stdout is a terminal, so text may stream.
    /// `detail`: cclive's `--verbose`, showing whole tool inputs.
    pub fn new(
        plan: &Invocation,
        live_text: bool,
        detail: bool,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Self {
        Self {
            output: plan.user_output,
            user_verbose: plan.user_verbose,
            user_partial: plan.user_partial,
            detail,
            live_text,
            out,
            err,
            streamed: HashSet::new(),
            at_line_start: true,
            printed_text: false,
            messages: Vec::new(),
        }
    }

    /// A renderer that shows nothing (library use).
    pub fn silent(plan: &Invocation) -> Self {
        Self::new(
            plan,
            false,
            false,
            Box::new(io::sink()),
            Box::new(io::sink()),
        )
    }

    /// Shows one line claude printed. `record` is its parse, when it parsed.
    pub fn line(&mut self, raw: &[u8], record: Option<&StreamRecord>) -> io::Result<()> {
        match self.output {
            UserOutput::StreamJson => {
                if matches!(record, Some(StreamRecord::StreamEvent(_))) && !self.user_partial {
                    return Ok(());
                }
                self.out.write_all(raw)?;
                self.out.write_all(b"\n")?;
                self.out.flush()
            }
            UserOutput::Json => {
                match record {
                    Some(StreamRecord::StreamEvent(_)) => {}
                    Some(StreamRecord::Result(_)) if !self.user_verbose => {
                        self.out.write_all(raw)?;
                        self.out.write_all(b"\n")?;
                    }
                    _ if self.user_verbose => {
                        if let Ok(v) = serde_json::from_slice::<Value>(raw) {
                            self.messages.push(v);
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
            UserOutput::Text => self.text(record),
        }
    }

    fn text(&mut self, record: Option<&StreamRecord>) -> io::Result<()> {
        match record {
            Some(StreamRecord::StreamEvent(se)) if se.parent_tool_use_id.is_none() => {
                if let (SseEvent::TextDelta(text), true) = (&se.event, self.live_text) {
                    if let Some(id) = &se.message_id {
                        self.streamed.insert(id.clone());
                    }
                    self.write_text(text)?;
                }
            }
            Some(StreamRecord::Assistant(a)) => {
                for block in &a.blocks {
                    match block {
                        Block::ToolUse { name, input, .. } => {
                            let line =
                                tool_line(name, input, self.detail, a.parent_tool_use_id.is_some());
                            self.end_text_line()?;
                            writeln!(self.err, "{line}")?;
                            self.err.flush()?;
                        }
                        Block::Text(text) if self.live_text && a.parent_tool_use_id.is_none() => {
                            // Without partial messages nothing streamed: show the block whole.
                            let streamed = a
                                .message_id
                                .as_ref()
                                .is_some_and(|id| self.streamed.contains(id));
                            if !streamed && !a.is_api_error {
                                self.write_text(text)?;
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some(StreamRecord::Result(r)) => {
                if self.live_text && self.printed_text && !r.is_error {
                    self.end_text_line()?;
                } else {
                    self.end_text_line()?;
                    if let Some(text) = &r.result {
                        writeln!(self.out, "{text}")?;
                    }
                }
                self.out.flush()?;
            }
            _ => {}
        }
        Ok(())
    }

    fn write_text(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        self.printed_text = true;
        self.at_line_start = text.ends_with('\n');
        Ok(())
    }

    fn end_text_line(&mut self) -> io::Result<()> {
        if !self.at_line_start {
            self.out.write_all(b"\n")?;
            self.out.flush()?;
            self.at_line_start = true;
        }
        Ok(())
    }

    /// Called once claude's output ended.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.output == UserOutput::Json && self.user_verbose {
            let array = Value::Array(std::mem::take(&mut self.messages));
            serde_json::to_writer(&mut self.out, &array)?;
            self.out.write_all(b"\n")?;
        }
        self.end_text_line()?;
        self.out.flush()
    }
}

/// One short line for a tool call: `⏺ Bash(echo hi)`.
fn tool_line(name: &str, input: &Value, detail: bool, sidechain: bool) -> String {
    let indent = if sidechain { "    ↳ " } else { "⏺ " };
    if detail {
        let mut json = input.to_string();
        truncate(&mut json, 400);
        return format!("{indent}{name} {json}");
    }
    let summary = [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "description",
        "prompt",
    ]
    .iter()
    .find_map(|k| input.get(k).and_then(Value::as_str))
    .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
    .unwrap_or_default();
    let mut summary = summary;
    truncate(&mut summary, 80);
    format!("{indent}{name}({summary})")
}

fn truncate(s: &mut String, max_chars: usize) {
    if s.chars().count() > max_chars {
        let cut: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        *s = cut + "…";
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use cclive_core::stream_json::parse_line;

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    const LINES: &[&str] = &[
        r#"{"type":"system","subtype":"init","session_id":"s","model":"m"}"#,
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello "}},"api_message_id":"m1"}"#,
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"world"}},"api_message_id":"m1"}"#,
        r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"Hello world"}]}}"#,
        r#"{"type":"assistant","message":{"id":"m2","content":[{"type":"tool_use","id":"t","name":"Bash","input":{"command":"echo hi"}}]}}"#,
        r#"{"type":"result","subtype":"success","is_error":false,"result":"Hello world"}"#,
    ];

    fn render(args: &[&str], live: bool) -> (String, String) {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let plan = Invocation::plan(&args, "sid");
        let (out, err) = (Buf::default(), Buf::default());
        let mut r = Renderer::new(
            &plan,
            live,
            false,
            Box::new(out.clone()),
            Box::new(err.clone()),
        );
        for line in LINES {
            let record = parse_line(line.as_bytes()).unwrap();
            r.line(line.as_bytes(), record.as_ref()).unwrap();
        }
        r.finish().unwrap();
        (out.text(), err.text())
    }

    #[test]
    fn text_streams_on_a_terminal_and_lists_tools_on_stderr() {
        let (out, err) = render(&["-p", "q"], true);
        assert_eq!(out, "Hello world\n");
        assert_eq!(err, "⏺ Bash(echo hi)\n");
    }

    #[test]
    fn text_into_a_pipe_is_what_claude_prints() {
        let (out, _) = render(&["-p", "q"], false);
        assert_eq!(out, "Hello world\n");
    }

    #[test]
    fn json_is_the_result_object() {
        let (out, _) = render(&["-p", "q", "--output-format", "json"], false);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["type"], "result");
    }

    #[test]
    fn verbose_json_is_an_array_of_messages_without_partials() {
        let (out, _) = render(&["-p", "q", "--output-format", "json", "--verbose"], false);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        let types: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["system", "assistant", "assistant", "result"]);
    }

    #[test]
    fn stream_json_passes_lines_but_not_the_partials_cclive_added() {
        let (out, _) = render(
            &["-p", "q", "--output-format", "stream-json", "--verbose"],
            false,
        );
        assert_eq!(out.lines().count(), 4);
        let (out, _) = render(
            &[
                "-p",
                "q",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
            ],
            false,
        );
        assert_eq!(out.lines().count(), 6);
    }
}
