//! Block boundaries, the active block, burn rate and projection on known series.

use jiff::tz::TimeZone;

use super::*;
use crate::ids::SessionId;
use crate::usage::Tokens;

const SONNET: &str = "claude-sonnet-4-5";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn rec(when: &str, project: &str, output: u64) -> UsageRecord {
    UsageRecord {
        at: at(when),
        session_id: SessionId::new("s"),
        project: Some(project.to_owned()),
        model: Some(SONNET.to_owned()),
        tokens: Tokens {
            output,
            ..Tokens::default()
        },
    }
}

fn starts(records: &[UsageRecord]) -> Vec<(Timestamp, Timestamp)> {
    spans(records.iter().map(|r| r.at))
        .into_iter()
        .map(|s| (s.start, s.end))
        .collect()
}

fn opts() -> ReportOptions {
    ReportOptions::new(TimeZone::UTC)
}

#[test]
fn a_block_starts_at_the_hour_of_its_first_message_and_lasts_five_hours() {
    let records = [rec("2026-09-03T10:17:42Z", "/p", 1)];
    assert_eq!(
        starts(&records),
        [(at("2026-09-03T10:00:00Z"), at("2026-09-03T15:00:00Z"))]
    );
}

#[test]
fn a_message_at_or_after_the_end_opens_the_next_block() {
    let records = [
        rec("2026-09-03T10:17:00Z", "/p", 1),
        rec("2026-09-03T14:59:59.999Z", "/p", 1), // still inside
        rec("2026-09-03T15:00:00Z", "/p", 1),     // the end is exclusive
        rec("2026-09-03T16:40:00Z", "/p", 1),
    ];
    let blocks = spans(records.iter().map(|r| r.at));
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].last_at, at("2026-09-03T14:59:59.999Z"));
    assert_eq!(blocks[1].start, at("2026-09-03T15:00:00Z"));
    assert_eq!(blocks[1].first_at, at("2026-09-03T15:00:00Z"));
    assert_eq!(blocks[1].last_at, at("2026-09-03T16:40:00Z"));
}

/// Messages every 4 hours never leave a gap over 5 h, but each block still ends 5 h after its
/// start: continuous use makes back-to-back blocks.
#[test]
fn steady_use_makes_back_to_back_blocks() {
    let records = [
        rec("2026-09-03T08:30:00Z", "/p", 1),
        rec("2026-09-03T12:30:00Z", "/p", 1),
        rec("2026-09-03T16:30:00Z", "/p", 1),
        rec("2026-09-03T20:30:00Z", "/p", 1),
    ];
    assert_eq!(
        starts(&records),
        [
            (at("2026-09-03T08:00:00Z"), at("2026-09-03T13:00:00Z")),
            (at("2026-09-03T16:00:00Z"), at("2026-09-03T21:00:00Z")),
        ]
    );
}

#[test]
fn a_gap_longer_than_five_hours_starts_a_new_block() {
    let records = [
        rec("2026-09-03T10:05:00Z", "/p", 1),
        rec("2026-09-03T10:10:00Z", "/p", 1),
        // 5 h 50 min of silence.
        rec("2026-09-03T16:00:00Z", "/p", 1),
        // A day later, out of order in the input.
        rec("2026-09-04T09:59:00Z", "/p", 1),
    ];
    assert_eq!(
        starts(&records),
        [
            (at("2026-09-03T10:00:00Z"), at("2026-09-03T15:00:00Z")),
            (at("2026-09-03T16:00:00Z"), at("2026-09-03T21:00:00Z")),
            (at("2026-09-04T09:00:00Z"), at("2026-09-04T14:00:00Z")),
        ]
    );
    let blocks = spans(records.iter().map(|r| r.at));
    assert_eq!(span_index(&blocks, at("2026-09-03T12:00:00Z")), Some(0));
    assert_eq!(span_index(&blocks, at("2026-09-03T15:30:00Z")), None);
    assert_eq!(span_index(&blocks, at("2026-09-04T13:59:59Z")), Some(2));
    assert_eq!(span_index(&blocks, at("2026-09-04T14:00:00Z")), None);
}

/// A known series: 60 000 output tokens in the 30 minutes before `now` (2 000 tokens/min), and
/// older usage that must not count towards the rate.
#[test]
fn burn_rate_and_projection_of_the_active_block() {
    let records = vec![
        rec("2026-09-03T10:05:00Z", "/p", 500_000), // outside the 30-minute window
        rec("2026-09-03T11:31:00Z", "/p", 20_000),
        rec("2026-09-03T11:45:00Z", "/p", 20_000),
        rec("2026-09-03T12:00:00Z", "/p", 20_000),
    ];
    let now = at("2026-09-03T12:00:00Z");
    let r = report(&records, &opts(), &PriceTable::builtin(), now, None);
    assert_eq!(r.rows.len(), 1);
    let block = &r.rows[0];
    assert!(block.active);
    let live = block.live.unwrap();
    assert_eq!(live.elapsed_ms, 2 * 3_600_000);
    assert_eq!(live.remaining_ms, 3 * 3_600_000);
    let rate = live.burn_rate;
    assert_eq!(rate.window_start, at("2026-09-03T11:30:00Z"));
    assert_eq!(rate.window_minutes, 30.0);
    assert_eq!(rate.tokens, 60_000);
    assert_eq!(rate.tokens_per_minute, 2_000.0);
    // Sonnet output is $15 per million: 60 000 tokens = $0.90 in 30 min = $1.80/h.
    assert!((rate.cost_per_hour - 1.8).abs() < 1e-9, "{rate:?}");
    // 560 000 so far + 2 000/min × 180 min.
    assert_eq!(live.projected_total_tokens, 560_000 + 360_000);
    assert!((live.projected_cost_usd - (8.4 + 1.8 * 3.0)).abs() < 1e-9);
    assert_eq!(block.usage.total_tokens, 560_000);
}

#[test]
fn the_window_starts_no_earlier_than_the_block() {
    let records = vec![rec("2026-09-03T10:50:00Z", "/p", 10_000)];
    let now = at("2026-09-03T11:10:00Z"); // the block began at 10:00, 70 minutes ago
    let span = spans([records[0].at])[0];
    let rate = burn_rate(&records, &span, now, &PriceTable::builtin());
    assert_eq!(rate.window_start, at("2026-09-03T10:40:00Z"));
    let fresh = at("2026-09-03T10:00:20Z");
    let rate = burn_rate(&records, &span, fresh, &PriceTable::builtin());
    assert_eq!(rate.window_start, at("2026-09-03T10:00:00Z"));
    assert_eq!(rate.window_minutes, 1.0, "at least a minute");
}

#[test]
fn only_a_block_whose_end_is_after_now_is_active() {
    let records = vec![rec("2026-09-03T10:05:00Z", "/p", 1)];
    let prices = PriceTable::builtin();
    let active = |now: &str| report(&records, &opts(), &prices, at(now), None).rows[0].active;
    assert!(active("2026-09-03T14:59:59Z"));
    assert!(!active("2026-09-03T15:00:00Z"));
    assert!(active_block(&records, &opts(), &prices, at("2026-09-03T15:00:00Z"), None).is_none());
    let b = active_block(&records, &opts(), &prices, at("2026-09-03T12:00:00Z"), None).unwrap();
    assert!(b.live.is_some());
}

#[test]
fn a_token_limit_shows_a_percentage_and_max_is_the_highest_finished_block() {
    let records = vec![
        rec("2026-09-01T10:00:00Z", "/p", 40_000),
        rec("2026-09-02T10:00:00Z", "/p", 80_000),
        rec("2026-09-03T10:00:00Z", "/p", 100_000), // active, higher, ignored by `max`
    ];
    let now = at("2026-09-03T11:00:00Z");
    let prices = PriceTable::builtin();
    let r = report(&records, &opts(), &prices, now, Some(TokenLimit::Max));
    assert_eq!(r.token_limit, Some(80_000));
    let pct: Vec<Option<f64>> = r.rows.iter().map(|b| b.limit_percent).collect();
    assert_eq!(pct, [Some(50.0), Some(100.0), Some(125.0)]);
    let r = report(
        &records,
        &opts(),
        &prices,
        now,
        Some(TokenLimit::Tokens(200_000)),
    );
    assert_eq!(r.rows[2].limit_percent, Some(50.0));
    assert_eq!(TokenLimit::parse("max"), Some(TokenLimit::Max));
    assert_eq!(
        TokenLimit::parse("1_000,000"),
        Some(TokenLimit::Tokens(1_000_000))
    );
    assert_eq!(TokenLimit::parse("0"), None);
    assert_eq!(TokenLimit::parse("lots"), None);
}

/// Boundaries come from every project's usage; the filter only picks what is counted.
#[test]
fn a_project_filter_keeps_the_global_boundaries() {
    let records = vec![
        rec("2026-09-03T09:10:00Z", "/p/other", 1),
        rec("2026-09-03T13:30:00Z", "/p/app", 5),
    ];
    let mut o = opts();
    o.project = Some("app".into());
    let r = report(
        &records,
        &o,
        &PriceTable::builtin(),
        at("2026-09-04T00:00:00Z"),
        None,
    );
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.rows[0].span.start, at("2026-09-03T09:00:00Z"));
    assert_eq!(r.rows[0].usage.total_tokens, 5);
}

#[test]
fn json_shape_of_a_block() {
    let records = vec![rec("2026-09-03T10:05:00Z", "/p", 1)];
    let r = report(
        &records,
        &opts(),
        &PriceTable::builtin(),
        at("2026-09-03T11:00:00Z"),
        Some(TokenLimit::Tokens(10)),
    );
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["token_limit"], 10);
    let keys: Vec<&str> = v["rows"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "start",
            "end",
            "first_at",
            "last_at",
            "active",
            "input",
            "output",
            "cache_creation",
            "cache_read",
            "total_tokens",
            "messages",
            "estimated_cost_usd",
            "cost_usd",
            "cost_source",
            "models",
            "unpriced_models",
            "limit_percent",
            "live"
        ]
    );
    let live: Vec<&str> = v["rows"][0]["live"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        live,
        [
            "now",
            "elapsed_ms",
            "remaining_ms",
            "burn_rate",
            "projected_total_tokens",
            "projected_cost_usd",
            "projected_limit_percent"
        ]
    );
}

/// The monitor's view: nothing, then a first response (started), more in the same block
/// (nothing new), its five hours over (ended, with its totals), a response hours later (a new
/// block started). A look that missed the end sees both, the end first.
#[test]
fn changes_tell_each_block_start_and_end_once() {
    let prices = PriceTable::builtin();
    let mut records = Vec::new();
    let (running, events) = changes(None, &records, &prices, at("2026-09-03T09:00:00Z"));
    assert!(running.is_none() && events.is_empty());

    records.push(rec("2026-09-03T09:20:00Z", "/w/app", 1000));
    let (running, events) = changes(None, &records, &prices, at("2026-09-03T09:21:00Z"));
    let block = running.unwrap();
    assert_eq!(
        (block.start, block.end),
        (at("2026-09-03T09:00:00Z"), at("2026-09-03T14:00:00Z"))
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, BlockChange::Started);
    assert_eq!(events[0].span.start, block.start);
    assert_eq!(events[0].total_tokens, 1000);
    assert_eq!(events[0].at, at("2026-09-03T09:21:00Z"));

    records.push(rec("2026-09-03T11:00:00Z", "/w/app", 500));
    let (again, events) = changes(Some(&block), &records, &prices, at("2026-09-03T11:01:00Z"));
    assert_eq!(again.map(|b| b.start), Some(block.start));
    assert!(events.is_empty(), "the same block: {events:?}");

    let (after, events) = changes(Some(&block), &records, &prices, at("2026-09-03T14:00:00Z"));
    assert!(after.is_none(), "the end is exclusive");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, BlockChange::Ended);
    assert_eq!(events[0].total_tokens, 1500, "the block's totals");
    assert_eq!(events[0].span.last_at, at("2026-09-03T11:00:00Z"));
    assert!(events[0].cost_usd > 0.0);

    records.push(rec("2026-09-03T20:30:00Z", "/w/lib", 10));
    let (next, events) = changes(Some(&block), &records, &prices, at("2026-09-03T20:31:00Z"));
    let changes_seen: Vec<BlockChange> = events.iter().map(|e| e.change).collect();
    assert_eq!(changes_seen, [BlockChange::Ended, BlockChange::Started]);
    assert_eq!(events[0].span.start, block.start);
    assert_eq!(next.unwrap().start, at("2026-09-03T20:00:00Z"));
}

#[test]
fn block_events_serialize_flat() {
    let prices = PriceTable::builtin();
    let records = vec![rec("2026-09-03T09:20:00Z", "/w/app", 1000)];
    let (_, events) = changes(None, &records, &prices, at("2026-09-03T09:21:00Z"));
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["change"], "started");
    assert_eq!(json["start"], "2026-09-03T09:00:00Z");
    assert_eq!(json["end"], "2026-09-03T14:00:00Z");
    assert_eq!(json["total_tokens"], 1000);
    assert_eq!(json["models"], serde_json::json!([SONNET]));
}

#[test]
fn a_shorter_session_length_cuts_shorter_blocks_and_gaps_are_ccusage_s() {
    let times = [
        at("2026-09-03T10:17:00Z"),
        at("2026-09-03T12:05:00Z"),
        at("2026-09-03T23:30:00Z"),
    ];
    // Two-hour blocks: 10:00–12:00, 12:00–14:00, 23:00–01:00.
    let two = spans_of_length(times, 2 * HOUR_MS);
    let starts: Vec<Timestamp> = two.iter().map(|s| s.start).collect();
    assert_eq!(
        starts,
        [
            at("2026-09-03T10:00:00Z"),
            at("2026-09-03T12:00:00Z"),
            at("2026-09-03T23:00:00Z")
        ]
    );
    assert_eq!(two[2].end, at("2026-09-04T01:00:00Z"));
    // No gap between blocks less than a block's length apart; else from the last response
    // plus a block's length to the next response.
    assert_eq!(gap_between(&two[0], &two[1], 2 * HOUR_MS), None);
    assert_eq!(
        gap_between(&two[1], &two[2], 2 * HOUR_MS),
        Some((at("2026-09-03T14:05:00Z"), at("2026-09-03T23:30:00Z")))
    );
    assert_eq!(
        gap_between(&two[2], &two[1], 2 * HOUR_MS),
        gap_between(&two[1], &two[2], 2 * HOUR_MS),
        "newest first (`--order desc`) shows the same gap"
    );
    // The five-hour rule is `spans`.
    assert_eq!(spans(times), spans_of_length(times, BLOCK_LENGTH_MS));
}
