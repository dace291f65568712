//! `report --json-format ccusage`: cclive's reports in ccusage 20's JSON shape, so the tools
//! built on `ccusage daily --json` (menu bars, editor plugins, leaderboards) read cclive
//! unchanged. Shapes copied from ccusage 20.0.24's own output (docs/reports.md lists the
//! mapping); the figures are cclive's, so a total here equals `--json`'s.
//!
//! This file only renames and regroups; it never computes a figure beyond what ccusage's shape
//! derives from cclive's (the projection's remaining minutes, a limit's status).

use cclive_core::blocks::{Block, gap_between};
use cclive_core::report::{
    ModelUsage, PeriodRow, Report, ReportKind, SessionRow, TotalsRow, Usage,
};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

/// A cost as ccusage writes it: a number, `0` when unknown (ccusage marks the model with
/// `missingPricing` instead).
fn cost(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// `2026-11-21T03:00:00.000Z`, JavaScript's `toISOString`.
pub(crate) fn iso(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Breakdown {
    cache_creation_tokens: u64,
    cache_read_tokens: u64,
    cost: f64,
    input_tokens: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    missing_pricing: bool,
    model_name: String,
    output_tokens: u64,
}

fn breakdowns(models: Option<&Vec<ModelUsage>>) -> Vec<Breakdown> {
    models
        .into_iter()
        .flatten()
        .map(|m| Breakdown {
            cache_creation_tokens: m.usage.cache_creation,
            cache_read_tokens: m.usage.cache_read,
            cost: cost(m.cost_usd),
            input_tokens: m.usage.input,
            missing_pricing: m.usage.messages > 0 && m.usage.priced_messages == 0,
            model_name: m.model.clone(),
            output_tokens: m.usage.output,
        })
        .collect()
}

/// A row of ccusage's unified report (`daily`, `weekly`, `monthly`, `session`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    agent: &'static str,
    cache_creation_tokens: u64,
    cache_read_tokens: u64,
    input_tokens: u64,
    metadata: Value,
    model_breakdowns: Vec<Breakdown>,
    models_used: Vec<String>,
    output_tokens: u64,
    period: String,
    total_cost: f64,
    total_tokens: u64,
}

impl Row {
    fn new(
        agent: &'static str,
        period: String,
        metadata: Value,
        usage: &Usage,
        total_cost: f64,
        models: &[String],
        breakdown: Option<&Vec<ModelUsage>>,
    ) -> Row {
        Row {
            agent,
            cache_creation_tokens: usage.cache_creation,
            cache_read_tokens: usage.cache_read,
            input_tokens: usage.input,
            metadata,
            model_breakdowns: breakdowns(breakdown),
            models_used: models.to_vec(),
            output_tokens: usage.output,
            period,
            total_cost: cost(total_cost),
            total_tokens: usage.total_tokens,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    cache_creation_tokens: u64,
    cache_read_tokens: u64,
    input_tokens: u64,
    output_tokens: u64,
    total_cost: f64,
    total_tokens: u64,
    unpriced_models: Vec<String>,
}

fn totals(t: &TotalsRow) -> Totals {
    Totals {
        cache_creation_tokens: t.usage.cache_creation,
        cache_read_tokens: t.usage.cache_read,
        input_tokens: t.usage.input,
        output_tokens: t.usage.output,
        total_cost: cost(t.cost_usd),
        total_tokens: t.usage.total_tokens,
        unpriced_models: t.unpriced_models.clone(),
    }
}

/// `{"daily": [...], "totals": {...}}` (or `weekly`, `monthly`).
pub(crate) fn periods(r: &Report<PeriodRow>) -> Value {
    let key = match r.report {
        ReportKind::Weekly => "weekly",
        ReportKind::Monthly => "monthly",
        _ => "daily",
    };
    let rows: Vec<Row> = r
        .rows
        .iter()
        .map(|p| {
            Row::new(
                "all",
                p.period.clone(),
                json!({ "agents": ["claude"] }),
                &p.usage,
                p.cost_usd,
                &p.models,
                p.breakdown.as_ref(),
            )
        })
        .collect();
    json!({ key: rows, "totals": totals(&r.totals) })
}

/// `{"session": [...], "totals": {...}}`: a row per session, its id as the period.
pub(crate) fn sessions(r: &Report<SessionRow>) -> Value {
    let rows: Vec<Row> = r
        .rows
        .iter()
        .map(|s| {
            Row::new(
                "claude",
                s.session_id.to_string(),
                json!({ "lastActivity": iso(s.last_at) }),
                &s.usage,
                s.cost_usd,
                &s.models,
                s.breakdown.as_ref(),
            )
        })
        .collect();
    json!({ "session": rows, "totals": totals(&r.totals) })
}

/// `{"blocks": [...]}`: every block, with ccusage's gap blocks between blocks more than a
/// block's length apart; the active block with its burn rate, projection and (with a limit)
/// the limit's status.
pub(crate) fn blocks(r: &Report<Block>, length_ms: i64) -> Value {
    let mut out = Vec::new();
    for (i, b) in r.rows.iter().enumerate() {
        if i > 0
            && let Some((start, end)) = gap_between(&r.rows[i - 1].span, &b.span, length_ms)
        {
            out.push(gap(start, end));
        }
        out.push(block(b, r.token_limit));
    }
    json!({ "blocks": out })
}

fn gap(start: Timestamp, end: Timestamp) -> Value {
    json!({
        "actualEndTime": null,
        "burnRate": null,
        "costUSD": 0,
        "endTime": iso(end),
        "entries": 0,
        "id": format!("gap-{}", iso(start)),
        "isActive": false,
        "isGap": true,
        "models": [],
        "projection": null,
        "startTime": iso(start),
        "tokenCounts": {
            "cacheCreationInputTokens": 0,
            "cacheReadInputTokens": 0,
            "inputTokens": 0,
            "outputTokens": 0,
        },
        "totalTokens": 0,
    })
}

fn block(b: &Block, limit: Option<u64>) -> Value {
    let u = &b.usage;
    let (burn, projection) = match &b.live {
        Some(live) => {
            // ccusage's indicator rate counts input and output only (cache traffic left out);
            // cclive measures one rate, so the indicator takes that share of it.
            let io_share = if u.total_tokens > 0 {
                (u.input + u.output) as f64 / u.total_tokens as f64
            } else {
                0.0
            };
            (
                json!({
                    "costPerHour": live.burn_rate.cost_per_hour,
                    "tokensPerMinute": live.burn_rate.tokens_per_minute,
                    "tokensPerMinuteForIndicator": live.burn_rate.tokens_per_minute * io_share,
                }),
                json!({
                    "remainingMinutes": live.remaining_ms / 60_000,
                    "totalCost": cost(live.projected_cost_usd),
                    "totalTokens": live.projected_total_tokens,
                }),
            )
        }
        None => (Value::Null, Value::Null),
    };
    let mut v = json!({
        "actualEndTime": iso(b.span.last_at),
        "burnRate": burn,
        "costUSD": cost(b.cost_usd),
        "endTime": iso(b.span.end),
        "entries": u.messages,
        "id": iso(b.span.start),
        "isActive": b.active,
        "isGap": false,
        "models": b.models,
        "projection": projection,
        "startTime": iso(b.span.start),
        "tokenCounts": {
            "cacheCreationInputTokens": u.cache_creation,
            "cacheReadInputTokens": u.cache_read,
            "inputTokens": u.input,
            "outputTokens": u.output,
        },
        "totalTokens": u.total_tokens,
    });
    if let (Some(limit), Some(live)) = (limit, &b.live) {
        let projected = live.projected_total_tokens;
        let percent = live.projected_limit_percent.unwrap_or(0.0);
        let status = if projected > limit {
            "exceeds"
        } else if percent >= 80.0 {
            "warning"
        } else {
            "ok"
        };
        v["tokenLimitStatus"] = json!({
            "limit": limit,
            "percentUsed": percent,
            "projectedUsage": projected,
            "status": status,
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use cclive_core::blocks::{self, TokenLimit};
    use cclive_core::report::{ReportOptions, UsageRecord};
    use cclive_core::{PriceTable, SessionId, Tokens};

    use super::*;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    /// ccusage 20.0.24's own output for an active block with `--token-limit` (kept in the
    /// integration tests' fixtures): the same keys at every level.
    #[test]
    fn an_active_block_has_ccusage_s_keys() {
        let theirs: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/ccusage-20/blocks-active.json"
        ))
        .unwrap();
        let theirs = &theirs["blocks"][0];
        let now: Timestamp = "2026-12-06T05:00:00Z".parse().unwrap();
        let records: Vec<UsageRecord> = [50, 30, 5]
            .iter()
            .map(|m| UsageRecord {
                at: now - jiff::SignedDuration::from_mins(*m),
                session_id: SessionId::new("s"),
                project: None,
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    input: 100,
                    output: 200,
                    cache_read: 5000,
                    ..Tokens::default()
                },
            })
            .collect();
        let opts = ReportOptions::new(jiff::tz::TimeZone::UTC);
        let r = blocks::report(
            &records,
            &opts,
            &PriceTable::builtin(),
            now,
            Some(TokenLimit::Tokens(1_000_000)),
        );
        let ours = blocks(&r, blocks::BLOCK_LENGTH_MS);
        let ours = &ours["blocks"][0];
        assert_eq!(keys(ours), keys(theirs));
        for nested in ["burnRate", "projection", "tokenCounts", "tokenLimitStatus"] {
            assert_eq!(keys(&ours[nested]), keys(&theirs[nested]), "{nested}");
        }
        assert_eq!(ours["isActive"], true);
        assert_eq!(ours["tokenLimitStatus"]["status"], "ok");
    }

    #[test]
    fn times_are_javascript_iso_strings() {
        let ts: Timestamp = "2026-11-21T03:00:00Z".parse().unwrap();
        assert_eq!(iso(ts), "2026-11-21T03:00:00.000Z");
        let ts: Timestamp = "2026-11-21T08:17:46.779Z".parse().unwrap();
        assert_eq!(iso(ts), "2026-11-21T08:17:46.779Z");
    }
}
