//! `cclive report tools`: the sessions that started in the range (and project), each analysed by
//! the core ([`cclive_core::analytics`]) from its events, summed into a [`ToolsReport`] and shown
//! as a table of tools, where the time went, the cache, the cost per changed line and the
//! slowest calls — or as the report's JSON.
//!
//! This file reads the store and lays out text; it holds no rule of its own (what a call, a
//! turn or waiting is lives in the core). It never prints prompts: the report has none.

use std::fmt::Write as _;

use anyhow::Context as _;
use cclive_core::PriceTable;
use cclive_core::analytics::{self, REPORT_TOP, TimeSplit, ToolsReport};
use cclive_core::budget::usd;
use cclive_core::report::ReportOptions;
use cclive_store::{SessionQuery, Store};

use super::text::{heading_of, local};
use super::{Column, Table};
use crate::history::session_events::session_events;
use crate::output::display;
use crate::output::term::Term;

/// The report as JSON or text.
pub(super) fn output(
    json: bool,
    store: Option<&dyn Store>,
    opts: &ReportOptions,
    prices: &PriceTable,
    term: Term,
) -> anyhow::Result<String> {
    let report = match store {
        Some(store) => build(store, opts, prices)?,
        None => ToolsReport::new(opts),
    };
    if json {
        return Ok(serde_json::to_string_pretty(&report)? + "\n");
    }
    Ok(text(&report, opts, term))
}

fn build(
    store: &dyn Store,
    opts: &ReportOptions,
    prices: &PriceTable,
) -> anyhow::Result<ToolsReport> {
    let (since, until) = opts.bounds();
    let query = SessionQuery {
        since,
        until,
        ..SessionQuery::default()
    };
    let mut sessions = store
        .sessions(&query)
        .context("reading sessions from the history database")?;
    sessions.retain(|s| ToolsReport::includes(opts, s));
    sessions.sort_by(|a, b| {
        a.started_at
            .cmp(&b.started_at)
            .then_with(|| a.session_id.as_str().cmp(b.session_id.as_str()))
    });
    let mut report = ToolsReport::new(opts);
    let mut files = None;
    for session in &sessions {
        let events = session_events(store, &session.session_id, &mut files).with_context(|| {
            format!(
                "reading the events of session {}",
                session.session_id.as_str()
            )
        })?;
        report.add(&analytics::analyze_top(
            session, &events, prices, REPORT_TOP,
        ));
    }
    Ok(report)
}

fn percent(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

fn ms(v: Option<u64>) -> String {
    v.map(display::duration_ms).unwrap_or_default()
}

fn text(r: &ToolsReport, opts: &ReportOptions, term: Term) -> String {
    let mut out = heading_of(
        "Tool use",
        &r.timezone,
        (r.since, r.until),
        r.project.as_deref(),
    );
    if r.sessions == 0 {
        let filtered = r.since.is_some() || r.until.is_some() || r.project.is_some();
        let scope = if filtered {
            " matching the filters"
        } else {
            ""
        };
        let _ = writeln!(out, "No sessions{scope}.");
        let _ = writeln!(out, "Record them with `cclive watch` or `cclive import`.");
        return out;
    }
    let _ = writeln!(
        out,
        "{} session{} ({} with events)\n",
        r.sessions,
        if r.sessions == 1 { "" } else { "s" },
        r.sessions_with_events
    );
    if r.rows.is_empty() {
        let _ = writeln!(out, "No tool calls.");
    } else {
        let mut t = Table::new(vec![
            Column::text("Tool").shrink_to(10),
            Column::number("Calls"),
            Column::number("Errors").optional(3),
            Column::number("Error rate"),
            Column::number("Mean"),
            Column::number("Max"),
            Column::number("Timed").optional(1),
            Column::number("Total time").optional(2),
        ]);
        for tool in &r.rows {
            t.row(vec![
                tool.name.clone(),
                display::count(tool.calls),
                display::count(tool.errors),
                percent(tool.error_rate),
                ms(tool.mean_ms),
                ms(tool.max_ms),
                display::count(tool.timed_calls),
                display::duration_ms(tool.total_ms),
            ]);
        }
        let totals = &r.totals;
        t.total(vec![
            "Total".to_owned(),
            display::count(totals.calls),
            display::count(totals.errors),
            percent(totals.error_rate),
            totals
                .total_ms
                .checked_div(totals.timed_calls)
                .map(display::duration_ms)
                .unwrap_or_default(),
            String::new(),
            display::count(totals.timed_calls),
            display::duration_ms(totals.total_ms),
        ]);
        out.push_str(&t.paint(term));
    }
    out.push('\n');
    time_text(&mut out, &r.time, term);
    out.push('\n');
    out.push_str(&figures(r).paint(term));
    if !r.slowest_calls.is_empty() {
        let _ = writeln!(out, "\nSlowest calls");
        let mut t = Table::new(vec![
            Column::text("Tool").shrink_to(10),
            Column::number("Took"),
            Column::text("Session"),
            Column::number("Turn").optional(1),
            Column::text("When").optional(0),
            Column::text("Result").optional(2),
        ]);
        for call in &r.slowest_calls {
            t.row(vec![
                if call.sidechain {
                    format!("{} (sub-agent)", call.name)
                } else {
                    call.name.clone()
                },
                display::duration_ms(call.duration_ms),
                call.session_id
                    .as_deref()
                    .map(|s| s.chars().take(8).collect())
                    .unwrap_or_default(),
                call.turn.to_string(),
                local(call.started_at, &opts.tz),
                if call.is_error { "error" } else { "ok" }.to_owned(),
            ]);
        }
        out.push_str(&t.paint(term));
    }
    out
}

/// The one-line figures: the slowest tools on average, the cache, the cost per line.
fn figures(r: &ToolsReport) -> Table {
    let mut t = Table::new(vec![
        Column::text("Figure"),
        Column::text("Value").shrink_to(12),
    ]);
    let mut slowest: Vec<_> = r.rows.iter().filter(|t| t.mean_ms.is_some()).collect();
    slowest.sort_by(|a, b| b.mean_ms.cmp(&a.mean_ms).then_with(|| a.name.cmp(&b.name)));
    if !slowest.is_empty() {
        let list: Vec<String> = slowest
            .iter()
            .take(3)
            .map(|t| format!("{} {}", t.name, ms(t.mean_ms)))
            .collect();
        t.row(vec!["Slowest on average".into(), list.join(", ")]);
    }
    let c = &r.cache;
    t.row(vec![
        "Cache hit".into(),
        c.hit_ratio.map_or_else(|| "–".to_owned(), percent),
    ]);
    let per_write = c
        .reads_per_write
        .map(|x| format!(" ({x:.1} reads per write)"))
        .unwrap_or_default();
    t.row(vec![
        "Cache read / written".into(),
        format!(
            "{} / {} tokens{per_write}",
            display::count(c.cache_read),
            display::count(c.cache_creation)
        ),
    ]);
    t.row(vec![
        "Cost per changed line".into(),
        match &r.cost_per_line {
            Some(line) => format!(
                "{} (+{} −{} lines, {})",
                usd(line.usd_per_line),
                display::count(line.lines_added),
                display::count(line.lines_removed),
                usd(line.cost_usd),
            ),
            None => "– (no lines reported)".to_owned(),
        },
    ]);
    t
}

/// Where the time went: a row per part, then a bar of the same shares.
fn time_text(out: &mut String, t: &TimeSplit, term: Term) {
    let (Some(api), Some(tools), Some(waiting), Some(other)) =
        (t.api_share, t.tool_share, t.waiting_share, t.other_share)
    else {
        let _ = writeln!(out, "Time: no wall time recorded.");
        return;
    };
    let mut table = Table::new(vec![
        Column::text("Time"),
        Column::number("Share"),
        Column::number("Duration"),
    ]);
    for (cell, part, share, ms) in [
        ('█', "in the API", api, t.api_ms),
        ('▓', "running tools", tools, t.tool_ms),
        ('▒', "waiting for you", waiting, t.waiting_ms),
        ('░', "other", other, t.other_ms),
    ] {
        table.row(vec![
            format!("{cell} {part}"),
            percent(share),
            display::duration_ms(ms),
        ]);
    }
    table.total(vec![
        "Wall time".to_owned(),
        String::new(),
        display::duration_ms(t.wall_ms),
    ]);
    out.push_str(&table.paint(term));
    let _ = writeln!(out, "{}", bar(&[api, tools, waiting, other], term.width));
}

/// Shares as a bar of at most 60 cells (less on a narrow terminal).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn bar(shares: &[f64], width: usize) -> String {
    const CELLS: [char; 4] = ['█', '▓', '▒', '░'];
    let cells = width.clamp(10, 60);
    let mut out = String::new();
    let mut used = 0.0;
    let mut drawn = 0;
    for (share, cell) in shares.iter().zip(CELLS) {
        used += share;
        // Cumulative rounding, so the parts always fill the bar exactly.
        let upto = ((used * cells as f64).round() as usize).min(cells);
        out.extend(std::iter::repeat_n(cell, upto.saturating_sub(drawn)));
        drawn = drawn.max(upto);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_bar_fills_its_width_in_share_order() {
        let b = bar(&[0.5, 0.25, 0.25, 0.0], 40);
        assert_eq!(b.chars().count(), 40);
        assert_eq!(b.chars().filter(|c| *c == '█').count(), 20);
        assert_eq!(b.chars().filter(|c| *c == '▓').count(), 10);
        assert!(!b.contains('░'));
    }
}
