//! Analytics of small hand-made sessions whose figures are worked out in the comments.

use jiff::tz::TimeZone;

use super::*;
use crate::event::EventKind;
use crate::ids::SessionId;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_795_600_000 + secs).unwrap()
}

fn ev(secs: i64, kind: EventKind) -> Event {
    Event::new(SessionId::new("s"), at(secs), kind)
}

fn prompt(id: &str, text: &str) -> EventKind {
    EventKind::PromptSubmitted {
        id: Some(id.into()),
        preview: Some(text.into()),
    }
}

fn usage(key: &str, output: u64) -> EventKind {
    EventKind::Usage {
        key: key.into(),
        request_id: None,
        reported_cost_usd: None,
        model: Some("claude-sonnet-4-5".into()),
        tokens: Tokens {
            output,
            ..Tokens::default()
        },
        is_final: true,
        sidechain: false,
    }
}

fn tool(id: &str, name: &str, sidechain: bool) -> EventKind {
    EventKind::ToolUse {
        tool_use_id: id.into(),
        name: name.into(),
        sidechain,
    }
}

fn result(id: &str, is_error: bool, duration_ms: Option<u64>) -> EventKind {
    EventKind::ToolResult {
        tool_use_id: id.into(),
        is_error,
        duration_ms,
        sidechain: false,
    }
}

fn ended() -> EventKind {
    EventKind::TurnEnded { duration_ms: None }
}

fn session(mode: Mode, wall_s: u64, api_s: u64) -> SessionState {
    let mut s = SessionState::new(SessionId::new("s"), at(0));
    s.mode = mode;
    s.duration_ms = wall_s * 1000;
    s.duration_api_ms = api_s * 1000;
    s.model = Some("claude-sonnet-4-5".into());
    s
}

/// Two turns of an interactive session that lasted 100 s:
/// - the user typed the first prompt 10 s after the start;
/// - turn 1: Bash 13 → 18 s (5 s, its own figure) and Read 14 → 16 s overlap: 5 s of tools;
///   Claude Code ended the turn at 20 s;
/// - the user came back at 50 s (30 s waiting); turn 2: a failed Bash 51 → 53 s; ended at 60 s;
/// - the user left at 100 s: 40 s waiting.
fn interactive_events() -> Vec<Event> {
    vec![
        ev(0, EventKind::Other),
        ev(10, prompt("p1", "fix the flaky test")),
        ev(12, usage("m1", 1_000_000)),
        ev(13, tool("t1", "Bash", false)),
        ev(14, tool("t2", "Read", false)),
        ev(16, result("t2", false, None)),
        ev(18, result("t1", false, Some(5000))),
        ev(20, ended()),
        ev(50, prompt("p2", "now the docs")),
        ev(51, tool("t3", "Bash", false)),
        ev(53, result("t3", true, None)),
        ev(54, usage("m2", 100_000)),
        ev(60, ended()),
    ]
}

#[test]
fn an_interactive_session_s_time_splits_into_api_tools_waiting_and_the_rest() {
    let s = session(Mode::Interactive, 100, 8);
    let a = analyze(&s, &interactive_events(), &PriceTable::builtin());
    let t = a.time;
    assert_eq!(
        (t.wall_ms, t.api_ms, t.tool_ms, t.waiting_ms, t.other_ms),
        (100_000, 8_000, 7_000, 80_000, 5_000),
        "{t:?}"
    );
    assert_eq!(t.api_share, Some(0.08));
    assert_eq!(t.tool_share, Some(0.07));
    assert_eq!(t.waiting_share, Some(0.8));
    assert_eq!(t.other_share, Some(0.05));
    // Claude Code's turns: 2 prompts and 3 tool results.
    assert_eq!((a.turns, a.events), (5, 13));
}

#[test]
fn tools_are_counted_timed_and_ranked() {
    let s = session(Mode::Interactive, 100, 8);
    let a = analyze(&s, &interactive_events(), &PriceTable::builtin());
    let bash = &a.tools[0];
    assert_eq!(bash.name, "Bash", "most used first");
    assert_eq!((bash.calls, bash.errors, bash.timed_calls), (2, 1, 2));
    assert_eq!(bash.error_rate, 0.5);
    assert_eq!(
        (bash.total_ms, bash.mean_ms, bash.max_ms),
        (7000, Some(3500), Some(5000))
    );
    assert_eq!(a.tools[1].name, "Read");
    let slowest: Vec<(&str, u64, u32)> = a
        .slowest_calls
        .iter()
        .map(|c| (c.tool_use_id.as_str(), c.duration_ms, c.turn))
        .collect();
    // t2 and t3 both took 2 s: the earlier first.
    // Each in the turn that asked for it (turn 4 is the second prompt's).
    assert_eq!(slowest, [("t1", 5000, 1), ("t2", 2000, 1), ("t3", 2000, 4)]);
    assert!(a.slowest_calls[2].is_error);
}

#[test]
fn the_costliest_turns_come_first_with_their_prompt() {
    let s = session(Mode::Interactive, 100, 8);
    let a = analyze(&s, &interactive_events(), &PriceTable::builtin());
    let turns: Vec<(u32, f64)> = a
        .costliest_turns
        .iter()
        .map(|t| (t.index, t.cost_usd))
        .collect();
    // Sonnet output is $15 per million tokens.
    // m2 answered t3's result: the second prompt's second round, turn 5.
    assert_eq!(turns, [(1, 15.0), (5, 1.5)]);
    assert_eq!(
        a.costliest_turns[0].prompt.as_deref(),
        Some("fix the flaky test")
    );
    assert_eq!(a.costliest_turns[0].tool_calls, 2);
    // From the prompt to its last event (the round after the results is a turn of its own).
    assert_eq!(a.costliest_turns[0].duration_ms, 4_000);
}

#[test]
fn with_claude_codes_total_the_turns_share_it_and_add_up_to_it() {
    let mut s = session(Mode::Interactive, 100, 8);
    s.total_cost_usd = 8.25; // half of the price table's 16.5
    s.cost_source = crate::session::CostSource::Reported;
    s.api_requests = 2;
    let a = analyze(&s, &interactive_events(), &PriceTable::builtin());
    assert_eq!(a.turn_cost_source, crate::session::CostSource::Reported);
    let turns: Vec<f64> = a.costliest_turns.iter().map(|t| t.cost_usd).collect();
    assert_eq!(turns, [7.5, 0.75]);

    // A session recorded only in part keeps the estimates: its total covers more than them.
    s.api_requests = 3;
    let a = analyze(&s, &interactive_events(), &PriceTable::builtin());
    assert_eq!(a.turn_cost_source, crate::session::CostSource::Estimated);
    assert_eq!(a.costliest_turns[0].cost_usd, 15.0);
}

#[test]
fn cache_efficiency_and_cost_per_line_come_from_the_session() {
    let mut s = session(Mode::Interactive, 100, 8);
    s.tokens = Tokens {
        input: 1000,
        output: 500,
        cache_read: 8000,
        cache_creation: 1000,
        ..Tokens::default()
    };
    s.total_cost_usd = 2.0;
    s.cost_source = CostSource::Reported;
    s.lines_added = 30;
    s.lines_removed = 10;
    let a = analyze(&s, &interactive_events(), &PriceTable::builtin());
    assert_eq!(a.cache.hit_ratio, Some(0.8));
    assert_eq!(a.cache.reads_per_write, Some(8.0));
    let line = a.cost_per_line.unwrap();
    assert_eq!((line.lines_added, line.lines_removed), (30, 10));
    assert_eq!(line.usd_per_line, 0.05);
    assert_eq!(a.cost_source, CostSource::Reported);
    s.lines_added = 0;
    s.lines_removed = 0;
    let a = analyze(&s, &interactive_events(), &PriceTable::builtin());
    assert_eq!(a.cost_per_line, None, "no lines, no cost per line");
}

#[test]
fn a_print_session_never_waits_and_sub_agents_tools_are_not_timed_twice() {
    // A Task call runs 2 → 12 s; its sub-agent's Grep runs 3 → 5 s inside it.
    let events = [
        ev(0, prompt("p1", "research")),
        ev(2, tool("task", "Task", false)),
        ev(3, tool("g", "Grep", true)),
        ev(5, result("g", false, None)),
        ev(12, result("task", false, None)),
        ev(13, ended()),
    ];
    let s = session(Mode::Print, 30, 20);
    let a = analyze(&s, &events, &PriceTable::builtin());
    let t = a.time;
    assert_eq!((t.tool_ms, t.waiting_ms), (10_000, 0));
    // 20 s API + 10 s tools fill the 30 s: nothing else.
    assert_eq!((t.other_ms, t.other_share), (0, Some(0.0)));
    let grep = a.tools.iter().find(|x| x.name == "Grep").unwrap();
    assert_eq!(
        grep.max_ms,
        Some(2000),
        "a sub-agent's call has its own figures"
    );
}

#[test]
fn parts_that_overlap_the_wall_time_are_shares_of_their_sum() {
    // A sub-agent's API time lies inside its Task call: 30 s of API + 20 s of tools in 40 s.
    let split = TimeSplit::new(40_000, 30_000, 20_000, 0);
    assert_eq!(split.other_ms, 0);
    assert_eq!(split.api_share, Some(0.6));
    assert_eq!(split.tool_share, Some(0.4));
    assert_eq!(TimeSplit::new(0, 0, 0, 0).api_share, None);
}

#[test]
fn without_a_reported_end_a_turn_ends_at_its_last_work_and_nothing_trails() {
    // Turn 1's work ends at 5 s (no Stop); the next prompt at 25 s: 20 s waiting. Turn 2 has no
    // end: the session may have been cut off mid-turn, so its tail is not waiting.
    let events = [
        ev(0, prompt("p1", "a")),
        ev(5, usage("m1", 10)),
        ev(25, prompt("p2", "b")),
        ev(26, usage("m2", 10)),
    ];
    let s = session(Mode::Interactive, 60, 0);
    let a = analyze(&s, &events, &PriceTable::builtin());
    assert_eq!(a.time.waiting_ms, 20_000);
    assert_eq!(a.time.other_ms, 40_000);
}

#[test]
fn a_session_without_events_still_has_its_tool_counts() {
    let mut s = session(Mode::Print, 0, 0);
    s.tool_calls.insert("Edit".into(), 3);
    s.tool_calls.insert("Bash".into(), 4);
    let a = analyze(&s, &[], &PriceTable::builtin());
    let counts: Vec<(&str, u64, Option<u64>)> = a
        .tools
        .iter()
        .map(|t| (t.name.as_str(), t.calls, t.mean_ms))
        .collect();
    assert_eq!(counts, [("Bash", 4, None), ("Edit", 3, None)]);
    assert!(a.slowest_calls.is_empty() && a.costliest_turns.is_empty());
    assert_eq!(a.time.api_share, None);
}

#[test]
fn a_tools_report_adds_sessions_up() {
    let prices = PriceTable::builtin();
    let mut first = session(Mode::Interactive, 100, 8);
    first.lines_added = 30;
    first.lines_removed = 10;
    first.total_cost_usd = 2.0;
    first.tokens.input = 100;
    first.tokens.cache_read = 300;
    let mut second = session(Mode::Print, 30, 20);
    second.session_id = SessionId::new("s2");
    second.total_cost_usd = 5.0; // no lines: not in the cost per line
    second.tokens.input = 100;
    second.tokens.cache_creation = 100;
    let second_events = [
        ev(0, prompt("p1", "x")),
        ev(1, tool("b", "Bash", false)),
        ev(2, result("b", false, Some(9000))),
    ];
    let opts = ReportOptions::new(TimeZone::UTC);
    let mut report = ToolsReport::new(&opts);
    report.add(&analyze_top(
        &first,
        &interactive_events(),
        &prices,
        REPORT_TOP,
    ));
    report.add(&analyze_top(&second, &second_events, &prices, REPORT_TOP));
    assert_eq!((report.sessions, report.sessions_with_events), (2, 2));
    let bash = &report.rows[0];
    assert_eq!(
        (bash.name.as_str(), bash.calls, bash.errors),
        ("Bash", 3, 1)
    );
    assert_eq!(
        (bash.total_ms, bash.mean_ms, bash.max_ms),
        (16_000, Some(5333), Some(9000))
    );
    assert_eq!(
        (
            report.totals.calls,
            report.totals.errors,
            report.totals.timed_calls
        ),
        (4, 1, 4)
    );
    assert_eq!(report.totals.error_rate, 0.25);
    assert_eq!(
        (report.time.wall_ms, report.time.api_ms, report.time.tool_ms),
        (130_000, 28_000, 16_000)
    );
    assert_eq!(report.time.waiting_ms, 80_000);
    // 300 read of 200 uncached + 300 read + 100 written.
    assert_eq!(report.cache.hit_ratio, Some(0.5));
    let line = report.cost_per_line.unwrap();
    assert_eq!((line.cost_usd, line.usd_per_line), (2.0, 0.05));
    let slowest = &report.slowest_calls[0];
    assert_eq!(
        (slowest.session_id.as_deref(), slowest.duration_ms),
        (Some("s2"), 9000)
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["report"], "tools");
    assert_eq!(json["rows"][0]["mean_ms"], 5333);
}

#[test]
fn a_tools_report_takes_sessions_by_start_date_and_project() {
    let mut opts = ReportOptions::new(TimeZone::UTC);
    opts.project = Some("app".into());
    opts.since = Some(at(0).to_zoned_datetime(TimeZone::UTC).date());
    let mut s = session(Mode::Print, 1, 0);
    s.project_path = Some("/w/app".into());
    assert!(ToolsReport::includes(&opts, &s));
    s.project_path = Some("/w/lib".into());
    assert!(!ToolsReport::includes(&opts, &s));
    s.project_path = None;
    s.cwd = Some("/w/app".into());
    assert!(ToolsReport::includes(&opts, &s), "the cwd stands in");
    s.started_at = at(-86_400 * 2);
    assert!(
        !ToolsReport::includes(&opts, &s),
        "started before the range"
    );
}
