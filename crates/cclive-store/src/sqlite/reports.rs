//! The `SQLite` statements behind reports and budgets: session summaries, usage sums per project
//! and model, and the table of budget alerts already raised (`0003_budget_alerts`). Usage per
//! bucket of time and session is `usage_buckets.rs`.
//!
//! Each function takes the connection [`SqliteStore`](super::SqliteStore) holds and returns domain
//! values; the trait methods in `sqlite.rs` only lock and delegate.

use cclive_core::budget::BudgetAlert;
use cclive_core::{CostSource, SessionId, Status};
use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::{negative, tokens_of};
use crate::{SessionSummary, StoreError, UsageSum};

const SELECT_SUMMARIES: &str = "
    SELECT session_id, project_path, cwd, status, started_at_ms, updated_at_ms, model,
        total_cost_usd, cost_source
    FROM sessions";

/// Per project and model in `[?1, ?2)`, apart by price class: fast mode, US-only serving and
/// how many of the long-prompt thresholds `?3, ?4, …` the prompt exceeds (each class is priced
/// at other rates, so a sum must not mix them). The time range uses the time index; each row
/// finds its session by primary key. One statement text per number of thresholds (a table
/// has one or two), so each is prepared once.
fn select_usage_sums(thresholds: usize) -> String {
    let class = if thresholds == 0 {
        "0".to_owned()
    } else {
        (0..thresholds)
            .map(|i| format!("(u.input + u.cache_read + u.cache_creation > ?{})", i + 3))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    format!(
        "SELECT nullif(coalesce(nullif(s.project_path, ''), s.cwd), '') AS project, u.model, count(*),
            sum(u.input), sum(u.output), sum(u.cache_read), sum(u.cache_creation),
            sum(u.cache_creation_1h), sum(u.web_search_requests), sum(u.fast), sum(u.us_only),
            {class} AS class
        FROM usage u LEFT JOIN sessions s ON s.session_id = u.session_id
        WHERE u.at_ms >= ?1 AND u.at_ms < ?2
        GROUP BY project, u.model, u.fast, u.us_only, class
        ORDER BY project, u.model, u.fast, u.us_only, class"
    )
}

const INSERT_ALERT: &str = "
    INSERT INTO budget_alerts (scope, period, period_key, threshold, fired_at_ms, alert_json)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (scope, period, period_key, threshold) DO NOTHING";

const SELECT_ALERTS: &str = "
    SELECT scope, period, period_key, threshold, alert_json FROM budget_alerts
    WHERE fired_at_ms >= ?1 ORDER BY fired_at_ms, scope, period, period_key, threshold";

/// A `sessions` row's columns, before checking them.
type RawSummary = (
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    Option<String>,
    Option<f64>,
    String,
);

pub(super) fn session_summaries(conn: &Connection) -> Result<Vec<SessionSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(SELECT_SUMMARIES)?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            row.get(7)?,
            row.get(8)?,
        ))
    })?;
    let raw: Vec<RawSummary> = rows.collect::<Result<_, _>>()?;
    raw.into_iter().map(decode_summary).collect()
}

fn decode_summary(raw: RawSummary) -> Result<SessionSummary, StoreError> {
    let (id, project_path, cwd, status, started, updated, model, cost, cost_source) = raw;
    let corrupt = |detail: String| StoreError::Corrupt {
        what: format!("summary of session {id}"),
        detail,
    };
    let status = Status::parse(&status).ok_or_else(|| corrupt(format!("status {status:?}")))?;
    let time = |ms: i64| Timestamp::from_millisecond(ms).map_err(|e| corrupt(e.to_string()));
    let cost_source = match cost_source.as_str() {
        "reported" => CostSource::Reported,
        "estimated" => CostSource::Estimated,
        other => return Err(corrupt(format!("cost_source {other:?}"))),
    };
    Ok(SessionSummary {
        started_at: time(started)?,
        updated_at: time(updated)?,
        session_id: SessionId::new(id),
        project_path,
        cwd,
        status,
        model,
        total_cost_usd: cost,
        cost_source,
    })
}

/// A usage sum's columns, before checking them: project, model, the counts, the class.
type RawSum = (Option<String>, Option<String>, [i64; 9], i64);

pub(super) fn usage_sums(
    conn: &Connection,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    prompt_thresholds: &[u64],
) -> Result<Vec<UsageSum>, StoreError> {
    let thresholds = crate::ascending(prompt_thresholds);
    let mut bounds = vec![
        since.map_or(i64::MIN, Timestamp::as_millisecond),
        until.map_or(i64::MAX, Timestamp::as_millisecond),
    ];
    // A threshold beyond SQLite's integers is exceeded by no prompt.
    bounds.extend(
        thresholds
            .iter()
            .map(|&t| i64::try_from(t).unwrap_or(i64::MAX)),
    );
    let mut stmt = conn.prepare_cached(&select_usage_sums(thresholds.len()))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(&bounds), |row| {
        Ok((
            row.get::<_, Option<String>>(0)?,
            row.get::<_, Option<String>>(1)?,
            [
                row.get::<_, i64>(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
            ],
            row.get::<_, i64>(11)?,
        ))
    })?;
    let raw: Vec<RawSum> = rows.collect::<Result<_, _>>()?;
    raw.into_iter()
        .map(|(project, model, sums, class)| {
            let what = || format!("usage of project {project:?}, model {model:?}");
            let [responses, counts @ ..] = sums;
            let responses = u64::try_from(responses).map_err(|_| negative(what()))?;
            // Class k: the prompts exceed the k smallest thresholds.
            let prompt_above = usize::try_from(class)
                .ok()
                .and_then(|k| k.checked_sub(1))
                .and_then(|i| thresholds.get(i).copied());
            Ok(UsageSum {
                tokens: tokens_of(counts, &what)?,
                responses,
                project,
                model,
                prompt_above,
            })
        })
        .collect()
}

pub(super) fn record_alert(conn: &Connection, alert: &BudgetAlert) -> Result<bool, StoreError> {
    let json = serde_json::to_string(alert).map_err(|source| StoreError::Encode {
        what: format!("budget alert {}", alert.scope()),
        source,
    })?;
    let added = conn.prepare_cached(INSERT_ALERT)?.execute(params![
        alert.scope(),
        alert.period.as_str(),
        alert.period_key,
        i64::from(alert.threshold_percent),
        alert.at.as_millisecond(),
        json,
    ])?;
    Ok(added == 1)
}

pub(super) fn alerts(
    conn: &Connection,
    since: Option<Timestamp>,
) -> Result<Vec<BudgetAlert>, StoreError> {
    let since = since.map_or(i64::MIN, Timestamp::as_millisecond);
    let mut stmt = conn.prepare_cached(SELECT_ALERTS)?;
    let rows = stmt.query_map([since], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, String>(4)?,
        ))
    })?;
    let raw: Vec<(String, String, String, i64, String)> = rows.collect::<Result<_, _>>()?;
    raw.into_iter()
        .map(|(scope, period, key, threshold, json)| {
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                what: format!("budget alert {scope} {period} {key} {threshold} %"),
                detail: e.to_string(),
            })
        })
        .collect()
}
