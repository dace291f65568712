//! Human-readable text for the terminal: money, durations, token counts, tables.
//!
//! Times are stored UTC and shown in the system's zone. Pure functions of their input, so the
//! exact text is unit-tested.

use std::fmt::Write as _;

use cclive_core::{SessionState, Snapshot, Source};
use cclive_store::check::Verdict;

use super::table::{Column, Table};
use super::term::Term;

/// `$0.0163`, `$12.40`.
pub(crate) fn usd(v: f64) -> String {
    if !v.is_finite() {
        // An unknown cost (no model of it priced), never shown as $0.
        "unpriced".to_owned()
    } else if v != 0.0 && v.abs() < 1.0 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

/// The decimals of a column of dollar figures: one precision per column, chosen by its largest
/// figure (usually the total), so the column lines up: 4 when everything is under a dollar,
/// else 2.
pub(crate) fn usd_decimals(largest: f64) -> usize {
    if largest.is_finite() && largest.abs() < 1.0 {
        4
    } else {
        2
    }
}

/// `$0.0163` / `$12.40` at a column's fixed `decimals`; `unpriced` when unknown.
pub(crate) fn usd_at(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("${v:.decimals$}")
    } else {
        "unpriced".to_owned()
    }
}

/// `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`.
pub(crate) fn duration_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// `512 B`, `1.5 MiB`, `2.0 GiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn local(ts: jiff::Timestamp) -> String {
    ts.to_zoned_datetime(crate::config::system_zone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// The summary `cclive status` prints; the banner and the status in their colours when `term`
/// has colour.
pub(crate) fn status_text(snapshot: &Snapshot, term: Term) -> String {
    let mut out = String::new();
    let banner = match snapshot.active_sessions.first().map(|s| s.status) {
        Some(cclive_core::Status::Active) => super::term::paint(
            term.color,
            super::term::Style::Red,
            "🔴 LIVE SESSION ACTIVE",
        ),
        Some(_) => super::term::paint(
            term.color,
            super::term::Style::Yellow,
            "🟡 Session waiting for you",
        ),
        None => "⚫ No Active Session".to_owned(),
    };
    let _ = writeln!(out, "{banner}");
    if snapshot.active_sessions.len() > 1 {
        let _ = writeln!(out, "{} live sessions", snapshot.active_sessions.len());
    }
    let Some(s) = &snapshot.data else {
        let _ = writeln!(
            out,
            "\nStart a monitored session with: cclive run -- -p \"your question\""
        );
        return out;
    };
    let _ = writeln!(out);
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "{k:<11} {v}");
    };
    row(&mut out, "session", s.session_id.to_string());
    let status = s.status.to_string();
    row(
        &mut out,
        "status",
        match super::term::status_style(&status) {
            Some(style) => super::term::paint(term.color, style, &status),
            None => status,
        },
    );
    if let Some(p) = &s.project_path {
        row(&mut out, "project", p.clone());
    }
    if let Some(origin) = origin(s) {
        row(&mut out, "ran by", origin);
    }
    if let Some(c) = s.last_prompt.as_ref().or(s.command.as_ref()) {
        row(&mut out, "command", c.clone());
    }
    if let Some(m) = &s.model {
        row(&mut out, "model", m.clone());
    }
    row(&mut out, "started", local(s.started_at));
    let source = match s.cost_source {
        cclive_core::CostSource::Reported => "reported by Claude Code",
        cclive_core::CostSource::Estimated => "estimated",
    };
    row(
        &mut out,
        "cost",
        format!("{} ({source})", usd(s.total_cost_usd)),
    );
    if !s.unpriced_models.is_empty() {
        row(
            &mut out,
            "unpriced",
            format!(
                "{} — not in the price table; `cclive prices sync` or your price file fixes it",
                s.unpriced_models.join(", ")
            ),
        );
    }
    row(&mut out, "turns", s.num_turns.to_string());
    row(
        &mut out,
        "duration",
        format!(
            "{} (API {})",
            duration_ms(s.duration_ms),
            duration_ms(s.duration_api_ms)
        ),
    );
    let t = &s.tokens;
    row(
        &mut out,
        "tokens",
        format!(
            "in {} · out {} · cache read {} · cache write {}",
            count(t.input),
            count(t.output),
            count(t.cache_read),
            count(t.cache_creation)
        ),
    );
    if !s.tool_calls.is_empty() {
        let tools: Vec<String> = s
            .tool_calls
            .iter()
            .map(|(name, n)| format!("{name} ×{n}"))
            .collect();
        row(&mut out, "tools", tools.join(", "));
    }
    let e = &s.efficiency;
    let mut eff = Vec::new();
    if let Some(v) = e.cost_per_turn {
        eff.push(format!("{}/turn", usd(v)));
    }
    if let Some(v) = e.output_tokens_per_minute {
        eff.push(format!("{v:.0} out tok/min"));
    }
    if let Some(v) = e.cache_hit_ratio {
        eff.push(format!("cache hit {:.0}%", v * 100.0));
    }
    if let Some(v) = e.api_time_share {
        eff.push(format!("API {:.0}% of time", v * 100.0));
    }
    if !eff.is_empty() {
        row(&mut out, "efficiency", eff.join(" · "));
    }
    if let Some(err) = &s.error {
        row(&mut out, "error", err.clone());
    }
    out
}

/// Who ran a session on another machine, as telemetry said: `user @ host`.
fn origin(s: &SessionState) -> Option<String> {
    let parts: Vec<&str> = [s.user.as_deref(), s.host.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty() && (s.host.is_some() || s.source == Source::Otel)).then(|| parts.join(" @ "))
}

/// The table `cclive sessions` prints, fitted to `term` (the model, then the duration and the
/// turns go first when it is narrow), each status in its colour.
pub(crate) fn sessions_table(sessions: &[SessionState], term: Term) -> String {
    let mut t = Table::new(vec![
        Column::text("START"),
        Column::text("PROJECT").shrink_to(12).keep_end(),
        Column::text("STATUS").styled(super::term::status_style),
        Column::number("COST"),
        Column::number("TURNS").optional(2),
        Column::number("DURATION").optional(1),
        Column::text("MODEL").shrink_to(10).optional(0),
    ]);
    // One precision for the column, from its largest cost.
    let decimals = usd_decimals(
        sessions
            .iter()
            .map(|s| s.total_cost_usd)
            .filter(|c| c.is_finite())
            .fold(0.0, f64::max),
    );
    for s in sessions {
        t.row(vec![
            local(s.started_at),
            // The project's name, as every surface shows it.
            s.project()
                .map(|p| cclive_core::report::project_name(p).to_owned())
                .or_else(|| origin(s))
                .unwrap_or_default(),
            s.status.to_string(),
            format!(
                "{}{}",
                usd_at(s.total_cost_usd, decimals),
                if s.cost_source == cclive_core::CostSource::Estimated {
                    "~"
                } else {
                    ""
                }
            ),
            s.num_turns.to_string(),
            duration_ms(s.duration_ms),
            s.model.clone().unwrap_or_default(),
        ]);
    }
    let mut out = t.paint(term);
    if sessions
        .iter()
        .any(|s| s.cost_source == cclive_core::CostSource::Estimated)
    {
        let _ = writeln!(
            out,
            "~ estimated from the price table (Claude Code did not report a cost)"
        );
    }
    out
}

/// What to do about a history database check's verdict, in one sentence (`cclive db check`,
/// `cclive doctor`).
pub(crate) fn db_advice(verdict: Verdict, db: &std::path::Path) -> String {
    match verdict {
        Verdict::Healthy => "nothing to do".to_owned(),
        Verdict::Missing => {
            "nothing to do: cclive creates it when it first stores something (`cclive import` or \
             `cclive watch`)"
                .to_owned()
        }
        Verdict::Busy => {
            "another process kept it locked: run `cclive db check` again in a moment".to_owned()
        }
        Verdict::NewerSchema => {
            "a newer cclive wrote it: upgrade cclive (do not recover it with this one)".to_owned()
        }
        _ => format!(
            "stop the monitor if one runs, then run `cclive db recover`: it keeps the damaged \
             file aside as {}.corrupt-<time>, copies every row that still reads into a fresh \
             database and re-reads the transcripts still on disk",
            db.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(usd(0.01628), "$0.0163");
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(12.4), "$12.40");
        assert_eq!(usd_at(0.5, usd_decimals(12.4)), "$0.50");
        assert_eq!(usd_at(0.01628, usd_decimals(0.9)), "$0.0163");
        assert_eq!(usd_at(f64::NAN, 2), "unpriced");
        assert_eq!(duration_ms(353), "353 ms");
        assert_eq!(duration_ms(12_345), "12.3 s");
        assert_eq!(duration_ms(245_000), "4m 05s");
        assert_eq!(duration_ms(7_380_000), "2h 03m");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
    }

    #[test]
    fn a_session_from_another_machine_is_listed_by_who_ran_it_and_where() {
        let at = jiff::Timestamp::now();
        let mut remote = SessionState::new(cclive_core::SessionId::new("r"), at);
        remote.source = "otel".into();
        remote.user = Some("dev@example.com".into());
        remote.host = Some("build-box".into());
        let mut local = SessionState::new(cclive_core::SessionId::new("l"), at);
        local.project_path = Some("/home/me/app".into());
        local.user = Some("user 874f7f4900c3".into()); // telemetry from this machine
        let table = sessions_table(&[remote, local], Term::plain(160));
        assert!(table.contains("dev@example.com @ build-box"), "{table}");
        assert!(!table.contains("874f7f"), "{table}");
    }

    #[test]
    fn status_of_nothing_says_how_to_start() {
        let text = status_text(&Snapshot::inactive(jiff::Timestamp::now()), Term::plain(80));
        assert!(text.starts_with("⚫ No Active Session"));
        assert!(text.contains("cclive run --"));
    }
}
