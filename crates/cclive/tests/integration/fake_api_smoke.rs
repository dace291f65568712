//! Smoke tests of the fake Anthropic API against the real, pinned Claude Code CLI, run directly
//! (not through cclive): one print-mode run per [`Scenario`], asserting on claude's stream-json
//! output and on what the fake recorded.
//!
//! They pin the contract the cclive end-to-end tests rely on: the fake's answers are accepted by
//! the real CLI and produce the outcome (cost, turns, tool call, failure) each scenario promises.
//! On failure the captured output shows claude's stderr, its stdout tail and the fake's log.

use std::time::Duration;

use rstest::rstest;
use serde_json::Value;

use crate::support::claude::{ClaudeEnv, ClaudeRun, DEFAULT_TIMEOUT, TEST_API_KEY};
use crate::support::fake_api::{Action, BASH_COMMAND, FakeApi, RequestKind, Scenario, TEXT_ANSWER};

const PROMPT: &str = "Please do the task.";

/// Runs claude in print mode against `api`, printing everything a failure needs to be
/// diagnosed (libtest shows it only when the test fails).
fn run_claude(api: &FakeApi) -> (ClaudeEnv, ClaudeRun) {
    let env = ClaudeEnv::new(&api.url());
    let run = env.run_print(PROMPT, DEFAULT_TIMEOUT);
    eprintln!("{}", run.diagnostics());
    eprintln!("--- fake API requests ---");
    for r in api.requests() {
        eprintln!(
            "#{} {} {} kind={:?} model={:?} stream={} max_tokens={:?} -> {} ({})",
            r.seq, r.method, r.path, r.kind, r.model, r.stream, r.max_tokens, r.action, r.status
        );
    }
    (env, run)
}

fn result_line(run: &ClaudeRun) -> Value {
    run.result()
        .unwrap_or_else(|| panic!("the last stdout line is not a result line"))
}

/// The content blocks of every `type: <kind>` stdout line.
fn blocks(run: &ClaudeRun, kind: &str) -> Vec<Value> {
    run.json_lines()
        .into_iter()
        .filter(|l| l["type"] == kind)
        .filter_map(|l| l["message"]["content"].as_array().cloned())
        .flatten()
        .collect()
}

/// The text of a `tool_result` block (string or text-block content).
fn tool_result_text(block: &Value) -> String {
    match &block["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

fn assert_success(run: &ClaudeRun) -> Value {
    let result = result_line(run);
    assert!(run.status.success(), "exit status {}", run.status);
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["is_error"], false, "{result}");
    let cost = result["total_cost_usd"].as_f64().unwrap_or_default();
    assert!(cost > 0.0, "total_cost_usd {cost} should be > 0");
    let text = result["result"].as_str().unwrap_or_default();
    assert!(text.contains(TEXT_ANSWER), "result {text:?}");
    result
}

#[test]
fn fake_api_text_scenario_gives_a_successful_result() {
    let api = FakeApi::start(Scenario::Text);
    let (_env, run) = run_claude(&api);

    let result = assert_success(&run);
    assert_eq!(result["num_turns"], 1);
    assert_eq!(result["usage"]["input_tokens"], 1200);
    assert_eq!(result["usage"]["output_tokens"], 42);

    let main = api.main_requests();
    assert_eq!(main.len(), 1, "{main:#?}");
    let request = &main[0];
    assert!(request.path.starts_with("/v1/messages"), "{}", request.path);
    assert!(request.stream, "claude streams its main requests");
    assert_eq!(request.action, Action::Text);
    assert_eq!(request.header("x-api-key"), Some(TEST_API_KEY));
    assert!(request.finished_at.is_some());
    // The model the fake echoed is the one claude reports.
    let model = request.model.clone().expect("request model");
    assert!(result["modelUsage"].get(&model).is_some(), "{result}");
}

#[test]
fn fake_api_bash_then_text_runs_one_bash_call() {
    let api = FakeApi::start(Scenario::BashThenText);
    let (_env, run) = run_claude(&api);

    let result = assert_success(&run);
    assert!(
        result["num_turns"].as_u64().unwrap_or_default() >= 2,
        "{result}"
    );

    let tool_uses: Vec<Value> = blocks(&run, "assistant")
        .into_iter()
        .filter(|b| b["type"] == "tool_use")
        .collect();
    assert_eq!(tool_uses.len(), 1, "{tool_uses:#?}");
    assert_eq!(tool_uses[0]["name"], "Bash");
    assert_eq!(tool_uses[0]["input"]["command"], BASH_COMMAND);

    let results: Vec<Value> = blocks(&run, "user")
        .into_iter()
        .filter(|b| b["type"] == "tool_result")
        .collect();
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(results[0]["tool_use_id"], tool_uses[0]["id"]);
    assert_eq!(tool_result_text(&results[0]).trim(), "hi");
    assert_ne!(results[0]["is_error"], true);

    let actions: Vec<Action> = api.main_requests().into_iter().map(|r| r.action).collect();
    let bash = Action::ToolUse {
        name: "Bash".to_owned(),
    };
    assert_eq!(actions, [bash, Action::Text]);
}

#[test]
fn fake_api_slow_scenario_streams_for_the_configured_time() {
    let slow = Duration::from_secs(3);
    let api = FakeApi::start_slow(slow);
    let (_env, run) = run_claude(&api);

    assert_success(&run);
    assert!(run.elapsed >= slow, "run took {:?} < {slow:?}", run.elapsed);

    let text = api
        .main_requests()
        .into_iter()
        .find(|r| r.action == Action::Text)
        .expect("a text request");
    let streamed = text
        .finished_at
        .expect("the slow stream finished")
        .duration_since(text.received_at)
        .expect("finished after received");
    assert!(
        streamed >= slow,
        "the text stream took {streamed:?} < {slow:?}"
    );
    assert!(
        streamed < slow + Duration::from_secs(2),
        "the text stream took {streamed:?}, far more than {slow:?}"
    );
}

#[rstest]
#[case::error500(Scenario::Error500, 500)]
#[case::overloaded529(Scenario::Overloaded529, 529)]
fn fake_api_error_scenario_fails_the_run(#[case] scenario: Scenario, #[case] status: u16) {
    let api = FakeApi::start(scenario);
    let (_env, run) = run_claude(&api);

    let result = result_line(&run);
    assert!(!run.status.success(), "exit status {}", run.status);
    assert_eq!(result["is_error"], true, "{result}");
    assert_eq!(result["api_error_status"], status, "{result}");
    assert_eq!(result["terminal_reason"], "api_error", "{result}");
    assert_eq!(result["total_cost_usd"].as_f64(), Some(0.0), "{result}");

    // CLAUDE_CODE_MAX_RETRIES=0: one attempt, no retry.
    let main = api.main_requests();
    assert_eq!(main.len(), 1, "{main:#?}");
    assert_eq!(main[0].action, Action::Error { status });
    assert!(
        api.requests()
            .iter()
            .all(|r| r.kind != RequestKind::Other || r.status == status)
    );
}
