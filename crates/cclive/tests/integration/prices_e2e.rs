//! Prices exactly Claude Code's: for every model in the pinned Claude Code's own catalog, the real
//! CLI runs against the fake API with `--model M` (usage with 1-hour cache writes and web
//! searches; one long-prompt run), then the same transcripts, their `cost-state` removed (older
//! releases and killed sessions write none), are imported: each session's cost must equal the
//! `total_cost_usd` Claude Code printed, within 1e-9.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::cclive::{World, describe};
use crate::support::claude::{ClaudeEnv, claude_bin};
use crate::support::fake_api::{FakeApi, Scenario, UsageProfile};

/// Usage with every priced kind: 1-hour and 5-minute writes, reads, web searches.
const PROFILE: UsageProfile = UsageProfile {
    input: 1200,
    output: 42,
    cache_read: 5000,
    cache_creation: 3000,
    cache_creation_1h: 2000,
    web_search_requests: 2,
};

/// A prompt above Haiku 5.5's long-prompt threshold (100,000 prompt tokens).
const LONG_PROFILE: UsageProfile = UsageProfile {
    input: 150_000,
    ..PROFILE
};

/// The model ids of the pinned CLI's baked catalog, read from its executable.
fn pinned_catalog_models() -> Vec<String> {
    let bytes = std::fs::read(claude_bin()).expect("read the pinned claude executable");
    let catalog = cclive_core::pricing::catalog::find(&bytes).expect("the pinned catalog");
    catalog["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

/// One print run of `model` against a fake reporting `usage`: Claude Code's total and the
/// transcript it wrote.
struct Run {
    label: String,
    total_cost_usd: f64,
    transcript: PathBuf,
    _env: ClaudeEnv,
}

fn run_model(model: &str, usage: UsageProfile, label: &str) -> Run {
    let api = FakeApi::start_with_usage(Scenario::BashThenText, usage);
    let env = ClaudeEnv::new(&api.url());
    let mut cmd = env.command([
        "-p",
        "Please do the task.",
        "--model",
        model,
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Bash",
    ]);
    cmd.env("CLAUDE_CODE_MAX_RETRIES", "0");
    let run = crate::support::claude::run_with_timeout(cmd, Duration::from_mins(2));
    let result = run
        .result()
        .unwrap_or_else(|| panic!("{label}: no result line\n{}", run.diagnostics()));
    assert_eq!(result["is_error"], false, "{label}: {result}");
    // Every request counts (a model with a small output limit, Haiku 3.5, looks like a side
    // request to the fake).
    let echoed: Vec<String> = api
        .requests()
        .iter()
        .filter_map(|r| r.model.clone())
        .collect();
    // Claude Code remaps retired models (`claude-opus-4-0` asks for its successor); the fake
    // echoes what was asked, and that is what the transcript names and what is priced.
    assert!(!echoed.is_empty(), "{label}: no request");
    if echoed.iter().any(|m| m != model) {
        eprintln!("{label}: Claude Code asked for {echoed:?}");
    }
    let total_cost_usd = result["total_cost_usd"].as_f64().expect("total_cost_usd");
    let session = result["session_id"]
        .as_str()
        .expect("session_id")
        .to_owned();
    let transcript = find_file(
        &env.claude_dir().join("projects"),
        &format!("{session}.jsonl"),
    )
    .unwrap_or_else(|| panic!("{label}: transcript of {session} not found"));
    Run {
        label: label.to_owned(),
        total_cost_usd,
        transcript,
        _env: env,
    }
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

#[test]
fn every_pinned_model_is_priced_exactly_as_claude_code_prices_it() {
    let mut cases: Vec<(String, UsageProfile, String)> = pinned_catalog_models()
        .into_iter()
        .map(|m| (m.clone(), PROFILE, m))
        .collect();
    assert!(cases.len() >= 20, "catalog models: {cases:?}");
    cases.push((
        "claude-haiku-5-5".to_owned(),
        LONG_PROFILE,
        "claude-haiku-5-5 (long prompt)".to_owned(),
    ));
    // Three claude processes at a time: the machine may be small.
    let runs: Vec<Run> = cases
        .chunks(3)
        .flat_map(|chunk| {
            std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|(model, usage, label)| s.spawn(move || run_model(model, *usage, label)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("run thread"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();

    // One history holding every transcript without its `cost-state`.
    let world = World::new("http://127.0.0.1:9");
    let history = world.claude.home().join("history");
    for (i, run) in runs.iter().enumerate() {
        let dir = history.join("projects").join(format!("-work-p{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let text = std::fs::read_to_string(&run.transcript).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<Value>(l).map_or(true, |v| v["type"] != "cost-state")
            })
            .collect();
        assert!(
            kept.len() < text.lines().count(),
            "{}: no cost-state",
            run.label
        );
        std::fs::write(
            dir.join(run.transcript.file_name().unwrap()),
            kept.join("\n") + "\n",
        )
        .unwrap();
    }
    let out = world
        .cclive(&["import", "--json", "--quiet"])
        .env("CLAUDE_CONFIG_DIR", &history)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let out = world
        .cclive(&["sessions", "--json", "--limit", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let sessions: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();

    let mut wrong = Vec::new();
    for run in &runs {
        let id = run.transcript.file_stem().unwrap().to_str().unwrap();
        let session = sessions
            .iter()
            .find(|s| s["session_id"] == id)
            .unwrap_or_else(|| panic!("{}: session {id} not imported", run.label));
        let ours = session["total_cost_usd"].as_f64();
        eprintln!(
            "{:<34} claude {:.9} cclive {:?}",
            run.label, run.total_cost_usd, ours
        );
        if ours.is_none_or(|c| (c - run.total_cost_usd).abs() > 1e-9) {
            wrong.push(format!(
                "{}: Claude Code {} cclive {ours:?}",
                run.label, run.total_cost_usd
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "priced unlike Claude Code:\n{}",
        wrong.join("\n")
    );
}
