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
        without_cost_state(&run.transcript, &history, &format!("-work-p{i}"));
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
    // Reports price the stored per-response usage (1-hour writes, searches included).
    let out = world
        .cclive(&["report", "sessions", "--json", "--since", "2000-01-01"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for run in &runs {
        let id = run.transcript.file_stem().unwrap().to_str().unwrap();
        let row = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["session_id"] == id)
            .unwrap_or_else(|| panic!("{}: no report row", run.label));
        let ours = row["cost_usd"].as_f64();
        if ours.is_none_or(|c| (c - run.total_cost_usd).abs() > 1e-9) {
            wrong.push(format!(
                "{} (report sessions): Claude Code {} cclive {ours:?}",
                run.label, run.total_cost_usd
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "priced unlike Claude Code:\n{}",
        wrong.join("\n")
    );

    // `cclive prices sync` on the pinned CLI reads exactly the bundled table.
    let synced = world.claude.home().join("synced-prices.json");
    let out = world
        .cclive(&["prices", "sync", "--out", synced.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let synced =
        cclive_core::PriceTable::parse(&std::fs::read_to_string(&synced).unwrap()).unwrap();
    assert_eq!(synced, cclive_core::PriceTable::builtin());
}

/// Copies `transcript` without its `cost-state` line into `history/projects/<project>/`.
fn without_cost_state(transcript: &Path, history: &Path, project: &str) {
    let dir = history.join("projects").join(project);
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(transcript).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).map_or(true, |v| v["type"] != "cost-state"))
        .collect();
    assert!(
        kept.len() < text.lines().count(),
        "{}: no cost-state",
        transcript.display()
    );
    std::fs::write(
        dir.join(transcript.file_name().unwrap()),
        kept.join("\n") + "\n",
    )
    .unwrap();
}

/// A model no price knows: its cost is unknown (`null`), listed as unpriced in `sessions --json`
/// and reports, and `doctor` says how to fix it; a table lacking a model the installed Claude
/// Code knows is flagged by `doctor`.
#[test]
fn an_unknown_model_is_unpriced_never_zero() {
    let model = "claude-unknown-9";
    let run = run_model(model, PROFILE, model);
    let world = World::new("http://127.0.0.1:9");
    let history = world.claude.home().join("history");
    without_cost_state(&run.transcript, &history, "-work-u");
    let out = world
        .cclive(&["import", "--quiet"])
        .env("CLAUDE_CONFIG_DIR", &history)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));

    let sessions = world.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0]["total_cost_usd"].is_null(), "{}", sessions[0]);
    assert_eq!(sessions[0]["unpriced_models"], serde_json::json!([model]));

    for kind in ["daily", "sessions", "models"] {
        let out = world
            .cclive(&["report", kind, "--json", "--since", "2000-01-01"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let row = &report["rows"][0];
        assert!(row["cost_usd"].is_null(), "{kind}: {row}");
        assert!(report["totals"]["cost_usd"].is_null(), "{kind}: {report}");
        assert_eq!(
            report["totals"]["unpriced_models"],
            serde_json::json!([model]),
            "{kind}"
        );
        let text = world
            .cclive(&["report", kind, "--since", "2000-01-01"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("unpriced"), "{kind}:\n{text}");
        assert!(!text.contains("$0.00"), "{kind}:\n{text}");
    }

    // doctor: the unpriced sessions and how to fix them; a table lacking a catalog model.
    let mut lacking = cclive_core::PriceTable::builtin();
    lacking.models.retain(|m| m.id != "claude-haiku-5-5");
    let prices_file = world.claude.home().join("old-prices.json");
    std::fs::write(&prices_file, serde_json::to_string(&lacking).unwrap()).unwrap();
    let out = world
        .cclive(&["doctor"])
        .env("CLAUDE_CONFIG_DIR", &history)
        .env("CCLIVE_PRICES_FILE", &prices_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unpriced: 1 sessions used models with no price (claude-unknown-9)")
            && text.contains("cclive prices sync"),
        "{text}"
    );
    assert!(
        text.contains("lacks 1 models the installed Claude Code knows (claude-haiku-5-5)"),
        "{text}"
    );
}
