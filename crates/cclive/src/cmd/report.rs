//! `cclive report daily|weekly|monthly|sessions|projects|models|blocks|tools`: usage from the
//! store, aggregated by the core ([`cclive_core::report`], [`cclive_core::blocks`],
//! [`cclive_core::analytics`] for `tools`, in `report/tools.rs`) and printed as a table that fits
//! the terminal, or as JSON whose field names `docs/reports.md` documents.
//!
//! This file only resolves the flags, reads the store and lays out text; every figure comes from
//! the core's pure functions, which the dashboard, the TUI and the status line share.

mod server;
mod tools;

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, bail};
use cclive_core::PriceTable;
use cclive_core::blocks::{self, Block, TokenLimit};
use cclive_core::budget::usd;
use cclive_core::report::{
    self, CostBasis, ModelRow, ModelUsage, PeriodRow, ProjectRow, Report, ReportOptions,
    SessionRow, TotalsRow, Usage, WeekStart,
};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::cli::{ReportArgs, ReportKindArg, WeekStartArg};
use crate::config::Settings;
use crate::output::display;
pub(crate) use crate::output::table::{Column, Table, terminal_width};

/// Prints one report.
pub(super) fn run(args: &ReportArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let opts = options(args)?;
    let limit = args
        .token_limit
        .as_deref()
        .map(|s| {
            TokenLimit::parse(s).with_context(|| {
                format!("--token-limit takes a positive number of tokens or `max`, not {s:?}")
            })
        })
        .transpose()?;
    if args.ics.is_some() && args.kind != ReportKindArg::Sessions {
        bail!("--ics goes with `cclive report sessions`");
    }
    if let Some(url) = &args.server {
        return server::run(args, url, &opts);
    }
    if let Some(path) = &args.ics {
        return write_ics(path, settings, &opts);
    }
    let prices = settings.prices()?;
    // Period and model reports only need the range; whole sessions and blocks need everything
    // (a session's reported cost counts only when all of it is in range; block boundaries
    // depend on earlier usage).
    let (since, until) = match args.kind {
        ReportKindArg::Daily
        | ReportKindArg::Weekly
        | ReportKindArg::Monthly
        | ReportKindArg::Models => opts.bounds(),
        ReportKindArg::Sessions
        | ReportKindArg::Projects
        | ReportKindArg::Blocks
        | ReportKindArg::Tools => (None, None),
    };
    let store = settings.open_existing_store()?;
    // The tools report reads sessions and their events, not usage rows.
    let (records, sessions) = match &store {
        Some(store) if args.kind != ReportKindArg::Tools => {
            crate::history::usage_records::load(&**store, since, until)
                .context("reading usage from the history database")?
        }
        _ => (Vec::new(), Vec::new()),
    };
    let width = terminal_width();
    let text = match args.kind {
        ReportKindArg::Daily => output(args, &report::daily(&records, &opts, &prices), |r| {
            period_text(r, &opts, "Date", width)
        })?,
        ReportKindArg::Weekly => output(args, &report::weekly(&records, &opts, &prices), |r| {
            period_text(r, &opts, "Week of", width)
        })?,
        ReportKindArg::Monthly => output(args, &report::monthly(&records, &opts, &prices), |r| {
            period_text(r, &opts, "Month", width)
        })?,
        ReportKindArg::Sessions => output(
            args,
            &report::sessions(&records, &sessions, &opts, &prices),
            |r| sessions_text(r, &opts, width),
        )?,
        ReportKindArg::Projects => output(
            args,
            &report::projects(&records, &sessions, &opts, &prices),
            |r| projects_text(r, &opts, width),
        )?,
        ReportKindArg::Models => output(args, &report::models(&records, &opts, &prices), |r| {
            models_text(r, &opts, width)
        })?,
        ReportKindArg::Blocks => blocks_output(args, &records, &opts, &prices, limit, width)?,
        ReportKindArg::Tools => {
            let store = store.as_deref().map(|s| s as &dyn cclive_store::Store);
            tools::output(args.json, store, &opts, &prices, width)?
        }
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// `report sessions --ics FILE`: the sessions that started in the range, in the project, as an
/// iCalendar file (the same calendar as the server's `/calendar.ics`).
fn write_ics(
    path: &std::path::Path,
    settings: &Settings,
    opts: &ReportOptions,
) -> anyhow::Result<ExitCode> {
    let mut sessions = match settings.open_existing_store()? {
        Some(store) => {
            cclive_store::Store::sessions(&*store, &cclive_store::SessionQuery::default())
                .context("reading sessions from the history database")?
        }
        None => Vec::new(),
    };
    let (since, until) = opts.bounds();
    sessions.retain(|s| {
        since.is_none_or(|t| s.started_at >= t)
            && until.is_none_or(|t| s.started_at < t)
            && opts.in_project(s.project_path.as_deref().or(s.cwd.as_deref()))
    });
    sessions.sort_by_key(|s| s.started_at);
    let ics = cclive_core::ics::calendar(&sessions, Timestamp::now());
    if path.as_os_str() == "-" {
        print!("{ics}");
    } else {
        std::fs::write(path, ics).with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "cclive: wrote {} session(s) to {}",
            sessions.len(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The core's options from the flags.
fn options(args: &ReportArgs) -> anyhow::Result<ReportOptions> {
    let tz = match &args.tz {
        Some(name) => crate::config::zone_named(name)
            .with_context(|| format!("--tz {name:?} is not a known IANA time zone"))?,
        None => crate::config::system_zone(),
    };
    let mut opts = ReportOptions::new(tz);
    opts.since = args.since.as_deref().map(parse_date).transpose()?;
    opts.until = args.until.as_deref().map(parse_date).transpose()?;
    if let (Some(s), Some(u)) = (opts.since, opts.until)
        && s > u
    {
        bail!("--since {s} is after --until {u}");
    }
    opts.project.clone_from(&args.project);
    opts.breakdown = args.breakdown;
    opts.week_start = week_start(args.week_start).unwrap_or_default();
    Ok(opts)
}

/// The core's week start from the flag.
pub(crate) fn week_start(arg: Option<WeekStartArg>) -> Option<WeekStart> {
    arg.map(WeekStart::from)
}

/// `2026-09-03` or `20260903`.
fn parse_date(s: &str) -> anyhow::Result<Date> {
    let s = s.trim();
    let iso = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..])
    } else {
        s.to_owned()
    };
    iso.parse::<Date>()
        .with_context(|| format!("{s:?} is not a date; use YYYY-MM-DD"))
}

/// JSON, or the text `table` makes of the report.
fn output<R: Serialize>(
    args: &ReportArgs,
    report: &Report<R>,
    table: impl FnOnce(&Report<R>) -> String,
) -> anyhow::Result<String> {
    if args.json {
        Ok(serde_json::to_string_pretty(report)? + "\n")
    } else if report.rows.is_empty() {
        Ok(nothing(report))
    } else {
        Ok(table(report))
    }
}

fn nothing<R>(report: &Report<R>) -> String {
    let scope = if report.since.is_some() || report.until.is_some() || report.project.is_some() {
        " matching the filters"
    } else {
        ""
    };
    format!(
        "No usage recorded{scope}. Import the history with `cclive import`, or keep `cclive \
         watch` running.\n"
    )
}

/// `Daily usage · Europe/Berlin · 2026-09-01 – 2026-09-30 · project app`
fn heading<R>(title: &str, report: &Report<R>) -> String {
    heading_of(
        title,
        &report.timezone,
        (report.since, report.until),
        report.project.as_deref(),
    )
}

/// A report's first line, from what it was asked for.
fn heading_of(
    title: &str,
    timezone: &str,
    range: (Option<Date>, Option<Date>),
    project: Option<&str>,
) -> String {
    let mut out = format!("{title} · {timezone}");
    match range {
        (None, None) => {}
        (s, u) => {
            let show = |d: Option<Date>| d.map_or_else(|| "…".to_owned(), |d| d.to_string());
            let _ = write!(out, " · {} – {}", show(s), show(u));
        }
    }
    if let Some(p) = project {
        let _ = write!(out, " · project {p}");
    }
    out.push('\n');
    out
}

/// `claude-sonnet-4-20250514` → `sonnet-4`.
fn short_model(model: &str) -> &str {
    let m = model.strip_prefix("claude-").unwrap_or(model);
    match m.rsplit_once('-') {
        Some((head, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => m,
    }
}

/// The models of a row, shortened, each once.
fn models_cell(models: &[String]) -> String {
    let mut short: Vec<&str> = models.iter().map(|m| short_model(m)).collect();
    short.dedup();
    short.join(", ")
}

/// A model in a breakdown line: without the `claude-` prefix, but with its date, so two
/// releases stay apart.
fn breakdown_model(model: &str) -> &str {
    model.strip_prefix("claude-").unwrap_or(model)
}

/// The last two components of a path.
fn short_path(p: &str) -> String {
    let parts: Vec<&str> = p.trim_end_matches('/').rsplit('/').take(2).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

fn local(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// The token columns, in order: Input, Output, Cache write, Cache read, Total tokens.
fn token_columns() -> Vec<Column> {
    vec![
        Column::number("Input").optional(3),
        Column::number("Output").optional(4),
        Column::number("Cache write").optional(1),
        Column::number("Cache read").optional(2),
        Column::number("Total tokens"),
    ]
}

fn token_cells(u: &Usage) -> Vec<String> {
    vec![
        display::count(u.input),
        display::count(u.output),
        display::count(u.cache_creation),
        display::count(u.cache_read),
        display::count(u.total_tokens),
    ]
}

/// A cost with its basis marked: `~` estimated (where a reported total could have been used),
/// `*` a mix.
fn marked(cost: f64, basis: Option<CostBasis>) -> String {
    match basis {
        Some(CostBasis::Estimated) => format!("{}~", usd(cost)),
        Some(CostBasis::Mixed) => format!("{}*", usd(cost)),
        _ => usd(cost),
    }
}

fn breakdown_rows(table: &mut Table, breakdown: Option<&Vec<ModelUsage>>, lead: usize) {
    for m in breakdown.into_iter().flatten() {
        let mut cells = vec![format!("  └ {}", breakdown_model(&m.model))];
        cells.extend(std::iter::repeat_n(String::new(), lead));
        cells.extend(token_cells(&m.usage));
        cells.push(usd(m.cost_usd));
        table.row(cells);
    }
}

fn footnotes(out: &mut String, totals: &TotalsRow, marks: bool) {
    if marks {
        let _ = writeln!(out, "~ estimated from the price table");
        let _ = writeln!(out, "* Claude Code's reported totals plus estimates");
    }
    if !totals.unpriced_models.is_empty() {
        let _ = writeln!(
            out,
            "! not in the price table, counted at $0: {}",
            totals.unpriced_models.join(", ")
        );
    }
}

fn period_text(
    r: &Report<PeriodRow>,
    opts: &ReportOptions,
    first: &'static str,
    width: usize,
) -> String {
    let title = match r.report {
        report::ReportKind::Weekly => {
            format!("Weekly usage (weeks from {})", opts.week_start.as_str())
        }
        report::ReportKind::Monthly => "Monthly usage".to_owned(),
        _ => "Daily usage".to_owned(),
    };
    let mut columns = vec![
        Column::text(first),
        Column::text("Models").shrink_to(10).optional(0),
    ];
    columns.extend(token_columns());
    columns.push(Column::number("Cost"));
    let mut t = Table::new(columns);
    for row in &r.rows {
        let mut cells = vec![row.period.clone(), models_cell(&row.models)];
        cells.extend(token_cells(&row.usage));
        cells.push(usd(row.cost_usd));
        t.row(cells);
        breakdown_rows(&mut t, row.breakdown.as_ref(), 1);
    }
    let mut cells = vec!["Total".to_owned(), String::new()];
    cells.extend(token_cells(&r.totals.usage));
    cells.push(usd(r.totals.cost_usd));
    t.total(cells);
    let mut out = heading(&title, r);
    out.push_str(&t.render(width));
    footnotes(&mut out, &r.totals, false);
    out
}

fn sessions_text(r: &Report<SessionRow>, opts: &ReportOptions, width: usize) -> String {
    let mut columns = vec![
        Column::text("Session"),
        Column::text("Project").shrink_to(12).keep_end().optional(5),
        Column::text("Last activity").optional(6),
        Column::text("Models").shrink_to(10).optional(0),
    ];
    columns.extend(token_columns());
    columns.push(Column::number("Cost"));
    let mut t = Table::new(columns);
    for row in &r.rows {
        let mut cells = vec![
            row.session_id.as_str().chars().take(8).collect(),
            row.project.as_deref().map(short_path).unwrap_or_default(),
            local(row.last_at, &opts.tz),
            models_cell(&row.models),
        ];
        cells.extend(token_cells(&row.usage));
        cells.push(marked(row.cost_usd, Some(row.cost_source)));
        t.row(cells);
        breakdown_rows(&mut t, row.breakdown.as_ref(), 3);
    }
    let mut cells = vec![
        format!("Total ({})", r.rows.len()),
        String::new(),
        String::new(),
        String::new(),
    ];
    cells.extend(token_cells(&r.totals.usage));
    cells.push(marked(r.totals.cost_usd, r.totals.cost_source));
    t.total(cells);
    let mut out = heading("Usage by session", r);
    out.push_str(&t.render(width));
    footnotes(&mut out, &r.totals, true);
    out
}

fn projects_text(r: &Report<ProjectRow>, _opts: &ReportOptions, width: usize) -> String {
    let mut columns = vec![
        Column::text("Project").shrink_to(16).keep_end(),
        Column::number("Sessions").optional(5),
        Column::text("Models").shrink_to(10).optional(0),
    ];
    columns.extend(token_columns());
    columns.push(Column::number("Cost"));
    let mut t = Table::new(columns);
    for row in &r.rows {
        let mut cells = vec![
            row.project
                .clone()
                .unwrap_or_else(|| "(unknown)".to_owned()),
            row.sessions.to_string(),
            models_cell(&row.models),
        ];
        cells.extend(token_cells(&row.usage));
        cells.push(marked(row.cost_usd, Some(row.cost_source)));
        t.row(cells);
        breakdown_rows(&mut t, row.breakdown.as_ref(), 2);
    }
    let sessions: u64 = r.rows.iter().map(|p| p.sessions).sum();
    let mut cells = vec!["Total".to_owned(), sessions.to_string(), String::new()];
    cells.extend(token_cells(&r.totals.usage));
    cells.push(marked(r.totals.cost_usd, r.totals.cost_source));
    t.total(cells);
    let mut out = heading("Usage by project", r);
    out.push_str(&t.render(width));
    footnotes(&mut out, &r.totals, true);
    out
}

fn models_text(r: &Report<ModelRow>, _opts: &ReportOptions, width: usize) -> String {
    let mut columns = vec![
        Column::text("Model"),
        Column::number("Messages").optional(5),
    ];
    columns.extend(token_columns());
    columns.push(Column::number("Cost"));
    columns.push(Column::number("Share").optional(0));
    let mut t = Table::new(columns);
    let total = r.totals.cost_usd;
    let share = |c: f64| {
        if total > 0.0 && c.is_finite() {
            format!("{:.1} %", c / total * 100.0)
        } else {
            "–".to_owned()
        }
    };
    for row in &r.rows {
        let mut cells = vec![row.model.clone(), display::count(row.usage.messages)];
        cells.extend(token_cells(&row.usage));
        cells.push(if row.priced {
            usd(row.cost_usd)
        } else {
            format!("{}!", usd(row.cost_usd))
        });
        cells.push(share(row.cost_usd));
        t.row(cells);
    }
    let mut cells = vec!["Total".to_owned(), display::count(r.totals.usage.messages)];
    cells.extend(token_cells(&r.totals.usage));
    cells.push(usd(total));
    t.total(cells);
    let mut out = heading("Usage by model", r);
    out.push_str(&t.render(width));
    footnotes(&mut out, &r.totals, false);
    out
}

fn blocks_output(
    args: &ReportArgs,
    records: &[report::UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
    limit: Option<TokenLimit>,
    width: usize,
) -> anyhow::Result<String> {
    let now = Timestamp::now();
    let r = blocks::report(records, opts, prices, now, limit);
    if args.active {
        let active = r.rows.iter().find(|b| b.active);
        if args.json {
            return Ok(serde_json::to_string_pretty(&active)? + "\n");
        }
        return Ok(match active {
            Some(b) => active_text(b, opts, r.token_limit),
            None => "No active block: nothing was used in the last 5 hours' window.\n".to_owned(),
        });
    }
    output(args, &r, |r| blocks_text(r, opts, width))
}

fn blocks_text(r: &Report<Block>, opts: &ReportOptions, width: usize) -> String {
    let mut columns = vec![
        Column::text("Block start"),
        Column::text("Status"),
        Column::text("Models").shrink_to(10).optional(0),
        Column::number("Messages").optional(1),
        Column::number("Total tokens"),
    ];
    if r.token_limit.is_some() {
        columns.push(Column::number("% of limit"));
    }
    columns.push(Column::number("Cost"));
    let mut t = Table::new(columns);
    for b in &r.rows {
        let status = match &b.live {
            Some(live) => format!(
                "ACTIVE, {} left",
                display::duration_ms(u64::try_from(live.remaining_ms).unwrap_or(0))
            ),
            None => String::new(),
        };
        let mut cells = vec![
            local(b.span.start, &opts.tz),
            status,
            models_cell(&b.models),
            display::count(b.usage.messages),
            display::count(b.usage.total_tokens),
        ];
        if r.token_limit.is_some() {
            cells.push(
                b.limit_percent
                    .map(|p| format!("{p:.1} %"))
                    .unwrap_or_default(),
            );
        }
        cells.push(usd(b.cost_usd));
        t.row(cells);
        for m in b.breakdown.iter().flatten() {
            let mut cells = vec![
                format!("  └ {}", breakdown_model(&m.model)),
                String::new(),
                String::new(),
                display::count(m.usage.messages),
                display::count(m.usage.total_tokens),
            ];
            if r.token_limit.is_some() {
                cells.push(String::new());
            }
            cells.push(usd(m.cost_usd));
            t.row(cells);
        }
    }
    let mut cells = vec![
        format!("Total ({} blocks)", r.rows.len()),
        String::new(),
        String::new(),
        display::count(r.totals.usage.messages),
        display::count(r.totals.usage.total_tokens),
    ];
    if r.token_limit.is_some() {
        cells.push(String::new());
    }
    cells.push(usd(r.totals.cost_usd));
    t.total(cells);
    let mut out = heading("5-hour blocks", r);
    out.push_str(&t.render(width));
    footnotes(&mut out, &r.totals, false);
    if let Some(active) = r.rows.iter().find(|b| b.active) {
        out.push('\n');
        out.push_str(&active_text(active, opts, r.token_limit));
    }
    out
}

/// The active block's live figures.
fn active_text(b: &Block, opts: &ReportOptions, limit: Option<u64>) -> String {
    let Some(live) = &b.live else {
        return String::new();
    };
    let time = |ts: Timestamp| {
        ts.to_zoned_datetime(opts.tz.clone())
            .strftime("%H:%M")
            .to_string()
    };
    let ms = |v: i64| display::duration_ms(u64::try_from(v).unwrap_or(0));
    let rate = &live.burn_rate;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Active block {} → {} ({}): {} elapsed, {} left",
        time(b.span.start),
        time(b.span.end),
        opts.tz_name(),
        ms(live.elapsed_ms),
        ms(live.remaining_ms),
    );
    let _ = writeln!(
        out,
        "  so far     {} tokens  {}",
        display::count(b.usage.total_tokens),
        usd(b.cost_usd)
    );
    let _ = writeln!(
        out,
        "  burn rate  {} tokens/min  {}/h  (over the last {:.0} min)",
        display::count(whole(rate.tokens_per_minute)),
        usd(rate.cost_per_hour),
        rate.window_minutes,
    );
    let mut projected = format!(
        "  projected  {} tokens  {} by {}",
        display::count(live.projected_total_tokens),
        usd(live.projected_cost_usd),
        time(b.span.end),
    );
    if let (Some(limit), Some(pct)) = (limit, live.projected_limit_percent) {
        let _ = write!(
            projected,
            "  ({pct:.1} % of the {}-token limit; {:.1} % used)",
            display::count(limit),
            b.limit_percent.unwrap_or(0.0)
        );
    }
    let _ = writeln!(out, "{projected}");
    out
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_models_read_and_shorten() {
        assert_eq!(parse_date("2026-09-03").unwrap().to_string(), "2026-09-03");
        assert_eq!(parse_date("20260903").unwrap().to_string(), "2026-09-03");
        assert!(parse_date("03/09/2026").is_err());
        assert_eq!(short_model("claude-sonnet-4-20250514"), "sonnet-4");
        assert_eq!(short_model("claude-opus-4-1"), "opus-4-1");
        assert_eq!(short_model("<synthetic>"), "<synthetic>");
        assert_eq!(short_path("/home/me/src/app/"), "src/app");
    }
}
