//! `cclive import` over a realistic synthetic history (the shared generator), against its
//! ground-truth file: exact tokens and response counts, in total and per session; a second
//! import reads nothing new; a half-written last line counts once it is complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::cclive::{World, describe};

/// The shared corpus generator: beside the repository (CI) or at the workspace's default place.
pub(crate) fn gen_corpus_script() -> PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/gen_corpus.py");
    [beside, PathBuf::from("/work/shared/tools/gen_corpus.py")]
        .into_iter()
        .find(|p| p.is_file())
        .expect("shared/tools/gen_corpus.py not found beside the repository")
}

/// Generates a corpus into `dir` and returns its ground truth.
pub(crate) fn generate(dir: &Path, size_mb: u32, seed: u32) -> Value {
    let out = Command::new("python3")
        .arg(gen_corpus_script())
        .args(["--out"])
        .arg(dir)
        .args([
            "--size-mb",
            &size_mb.to_string(),
            "--sessions",
            "60",
            "--projects",
            "6",
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json")).unwrap()).unwrap()
}

fn import(world: &World, corpus: &Path) -> Value {
    let out = world
        .cclive(&["import", "--json", "--quiet"])
        .env("CLAUDE_CONFIG_DIR", corpus)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)))
}

pub(crate) fn sessions(world: &World) -> Vec<Value> {
    let out = world
        .cclive(&["sessions", "--json", "--limit", "100000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn tokens(v: &Value) -> [u64; 4] {
    ["input", "output", "cache_read", "cache_creation"].map(|k| v[k].as_u64().unwrap_or(0))
}

/// Every session of the ground truth is `listed` (`cclive sessions --json`) with its exact
/// tokens and responses, and so are the totals.
pub(crate) fn assert_ground_truth(listed: &[Value], truth: &Value) {
    let by_id: HashMap<&str, &Value> = listed
        .iter()
        .map(|s| (s["session_id"].as_str().unwrap(), s))
        .collect();

    let mut total = [0u64; 4];
    let mut messages = 0;
    for (sid, expected) in truth["by_session"].as_object().unwrap() {
        let s = by_id
            .get(sid.as_str())
            .unwrap_or_else(|| panic!("session {sid} missing"));
        assert_eq!(
            tokens(&s["tokens"]),
            tokens(expected),
            "tokens of session {sid}"
        );
        assert_eq!(
            s["api_requests"], expected["messages"],
            "responses of session {sid}"
        );
        for (t, v) in total.iter_mut().zip(tokens(&s["tokens"])) {
            *t += v;
        }
        messages += s["api_requests"].as_u64().unwrap();
    }
    assert_eq!(total, tokens(&truth["totals"]));
    assert_eq!(messages, truth["totals"]["messages"].as_u64().unwrap());
}

#[test]
fn import_equals_the_generators_ground_truth_and_is_idempotent() {
    let world = World::new("http://127.0.0.1:9");
    let corpus = world.claude.home().join("corpus");
    let truth = generate(&corpus, 12, 11);

    let first = import(&world, &corpus);
    assert_eq!(first["files"], truth["files"]);
    let listed = sessions(&world);
    assert_ground_truth(&listed, &truth);
    assert!(
        listed
            .iter()
            .all(|s| s["status"] != "ACTIVE" && s["status"] != "IDLE"),
        "history has no live sessions"
    );

    // Claude Code deletes old transcripts; the history keeps their sessions.
    let victim = truth["by_session"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let file = truth["sessions"][&victim]["file"].as_str().unwrap();
    std::fs::remove_file(corpus.join(file)).unwrap();

    // Unchanged files are not read again, and nothing changes.
    let second = import(&world, &corpus);
    assert_eq!(second["lines"], 0, "{second:#}");
    assert_eq!(second["sessions"], 0);
    let again: HashMap<String, [u64; 4]> = sessions(&world)
        .iter()
        .map(|s| {
            (
                s["session_id"].as_str().unwrap().to_owned(),
                tokens(&s["tokens"]),
            )
        })
        .collect();
    for s in &listed {
        assert_eq!(
            again[s["session_id"].as_str().unwrap()],
            tokens(&s["tokens"])
        );
    }
    assert!(
        again.contains_key(&victim),
        "a session outlives its deleted transcript"
    );
}

/// Every transcript under `dir`, sub-agents' included.
fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            jsonl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

/// What two imports must agree on of each session: its counts and its cost, to the last bit
/// (an estimate is summed exactly, whatever the order its responses came in).
fn figures(world: &World) -> HashMap<String, Value> {
    sessions(world)
        .into_iter()
        .map(|s| {
            let figures = serde_json::json!([
                s["tokens"],
                s["api_requests"],
                s["total_cost_usd"],
                s["cost_source"],
                s["num_turns"],
                s["tool_calls"],
                s["tool_errors"],
                s["lines_added"],
            ]);
            (s["session_id"].as_str().unwrap().to_owned(), figures)
        })
        .collect()
}

/// Every response's usage as the store keeps it (the reports' source), by day.
fn daily(world: &World) -> Value {
    let out = world
        .cclive(&["report", "daily", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["rows"].clone()
}

#[test]
fn importing_a_history_as_it_grew_counts_what_one_import_counts() {
    let whole = World::new("http://127.0.0.1:9");
    let corpus = whole.claude.home().join("corpus");
    generate(&corpus, 12, 17);
    import(&whole, &corpus);

    // The same transcripts read as they were written: every file cut at a quarter, half and
    // three quarters of its lines, an import at each, then the rest. Resumed runs, a session's
    // last lines (no time of their own) and Claude Code's totals then come in later reads.
    let mut files = Vec::new();
    jsonl_files(&corpus, &mut files);
    let written: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect();
    let stepwise = World::new("http://127.0.0.1:9");
    for quarter in 1..=4 {
        for (file, bytes) in &written {
            let ends: Vec<usize> = bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1)
                .collect();
            let end = match ends.len() * quarter / 4 {
                _ if quarter == 4 => bytes.len(),
                0 => 0,
                n => ends[n - 1],
            };
            std::fs::write(file, &bytes[..end]).unwrap();
        }
        import(&stepwise, &corpus);
    }

    let (once, grown) = (figures(&whole), figures(&stepwise));
    assert_eq!(once.len(), grown.len());
    for (id, figures) in &once {
        assert_eq!(grown.get(id), Some(figures), "session {id}");
    }
    assert_eq!(daily(&stepwise), daily(&whole));
}

#[test]
fn a_half_written_line_counts_once_complete_and_a_rewritten_file_does_not_double_count() {
    let world = World::new("http://127.0.0.1:9");
    let corpus = world.claude.home().join("c");
    let project = corpus.join("projects/-w");
    std::fs::create_dir_all(&project).unwrap();
    let file = project.join("s1.jsonl");
    let line = |id: &str, out: u64| {
        format!(
            r#"{{"parentUuid":null,"isSidechain":false,"type":"assistant","uuid":"u-{id}","timestamp":"2026-11-20T10:00:00.000Z","sessionId":"s1","version":"2.1.332","cwd":"/w","message":{{"id":"{id}","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":"end_turn","usage":{{"input_tokens":100,"output_tokens":{out},"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}}}}}"#
        )
    };
    let second = line("msg_2", 20);
    let (head, tail) = second.split_at(second.len() / 2);
    std::fs::write(&file, format!("{}\n{head}", line("msg_1", 10))).unwrap();
    import(&world, &corpus);
    assert_eq!(
        sessions(&world)[0]["tokens"]["output"],
        10,
        "the partial line waits"
    );

    std::fs::write(&file, format!("{}\n{second}\n", line("msg_1", 10))).unwrap();
    let _ = tail;
    import(&world, &corpus);
    assert_eq!(sessions(&world)[0]["tokens"]["output"], 30);

    // Replaced by a shorter file (as if truncated and rewritten): read again, counted once.
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, format!("{}\n", line("msg_1", 10))).unwrap();
    import(&world, &corpus);
    let s = &sessions(&world)[0];
    assert_eq!(
        s["tokens"]["output"], 30,
        "history keeps what was read before"
    );
    assert_eq!(s["api_requests"], 2);
}

#[test]
fn importing_a_session_cclive_run_recorded_keeps_what_the_wrapper_knew() {
    let api =
        crate::support::fake_api::FakeApi::start(crate::support::fake_api::Scenario::BashThenText);
    let world = World::new(&api.url());
    let out = world
        .cclive(&[
            "run",
            "--session-type",
            "kept",
            "--",
            "-p",
            "Please do the task.",
            "--allowedTools",
            "Bash",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let before = sessions(&world)[0].clone();
    // The import finds the same session in its transcript.
    let out = world
        .cclive(&["import", "--json", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let after = sessions(&world);
    assert_eq!(after.len(), 1, "{after:#?}");
    let s = &after[0];
    for key in [
        "source",
        "command",
        "session_type",
        "exit_code",
        "started_at",
        "total_cost_usd",
        "num_turns",
        "tokens",
        "tool_calls",
    ] {
        assert_eq!(s[key], before[key], "{key}");
    }
}

/// What the generated history itself shows of one session, read here with a parser of its
/// own (not cclive's): the span of its conversation records and whether its last main-thread record leaves a
/// turn open.
#[derive(Debug, Default)]
struct Recorded {
    first: Option<jiff::Timestamp>,
    last: Option<jiff::Timestamp>,
    /// The main thread's last conversation line, in its own file, leaves the turn open: a
    /// prompt or a tool result the model never answered, or an answer that calls a tool.
    mid_turn: bool,
    /// Claude Code wrote its end-of-session `cost-state` after that line.
    cost_state_after: bool,
}

fn recorded(corpus: &Path, truth: &Value) -> HashMap<String, Recorded> {
    let mut files = Vec::new();
    jsonl_files(&corpus.join("projects"), &mut files);
    let mut by_session: HashMap<String, Recorded> = HashMap::new();
    for file in &files {
        let own = file.file_stem().unwrap().to_str().unwrap().to_owned();
        let is_main = truth["sessions"].get(&own).is_some();
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(sid) = v.get("sessionId").and_then(Value::as_str) else {
                continue;
            };
            let r = by_session.entry(sid.to_owned()).or_default();
            let kind = v["type"].as_str().unwrap_or("");
            // The conversation's records (bookkeeping lines such as a resumed session's
            // prologue of attachments are not the session's work).
            let conversation = matches!(kind, "user" | "assistant" | "system");
            if let Some(at) = v
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .filter(|_| conversation)
            {
                r.first = Some(r.first.map_or(at, |f| f.min(at)));
                r.last = Some(r.last.map_or(at, |l| l.max(at)));
            }
            if !is_main || sid != own {
                continue; // a replay in another session's file, or a sub-agent's file
            }
            if kind == "cost-state" {
                r.cost_state_after = true;
            }
            let synthetic = v["message"]["model"] == "<synthetic>";
            if !matches!(kind, "user" | "assistant") || v["isSidechain"] == true || synthetic {
                continue;
            }
            let content = &v["message"]["content"];
            let blocks = content.as_array().map(Vec::as_slice).unwrap_or_default();
            let has = |t: &str| blocks.iter().any(|b| b["type"] == t);
            r.mid_turn = match kind {
                "user" => content.is_string() || has("tool_result"),
                _ => has("tool_use"),
            };
            r.cost_state_after = false;
        }
    }
    by_session
}

#[test]
fn imported_sessions_end_at_their_last_record_interrupted_only_mid_turn() {
    let world = World::new("http://127.0.0.1:9");
    let corpus = world.claude.home().join("corpus");
    let truth = generate(&corpus, 6, 5);
    import(&world, &corpus);
    let listed = sessions(&world);
    let recorded = recorded(&corpus, &truth);
    let mut formats = std::collections::BTreeSet::new();
    let mut checked = 0;
    for s in &listed {
        let sid = s["session_id"].as_str().unwrap();
        let Some(meta) = truth["sessions"].get(sid) else {
            continue;
        };
        let r = &recorded[sid];
        let (Some(first), Some(last)) = (r.first, r.last) else {
            continue; // an empty file: no session
        };
        formats.insert(meta["format"].as_str().unwrap().to_owned());
        let span = u64::try_from(last.as_millisecond() - first.as_millisecond()).unwrap();
        assert_eq!(
            s["duration_ms"].as_u64().unwrap(),
            span,
            "session {sid} ({}) lasts from its first to its last record: {s:#}",
            meta["format"]
        );
        let interrupted = r.mid_turn && !r.cost_state_after;
        let expected = if interrupted {
            "INTERRUPTED"
        } else {
            "COMPLETED"
        };
        assert_eq!(
            s["status"], expected,
            "session {sid} ({}): {r:?}",
            meta["format"]
        );
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} sessions checked");
    assert_eq!(
        formats.into_iter().collect::<Vec<_>>(),
        ["1.0", "2.1"],
        "a mixed history"
    );
}
