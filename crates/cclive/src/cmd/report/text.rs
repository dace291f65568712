//! The reports as text tables: a heading, the table (fitted to the terminal, coloured when it
//! may be), footnotes. Pure functions of the report, the options and the [`Look`], so the exact
//! text is snapshot-tested.

use std::fmt::Write as _;

use cclive_core::blocks::{Block, gap_between};
use cclive_core::report::{
    self, CostBasis, ModelRow, ModelUsage, PeriodRow, ProjectRow, Report, ReportOptions,
    SessionRow, TotalsRow, Usage, project_name,
};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{Column, Look, Table};
use crate::output::display::{self, usd_at, usd_decimals};
use crate::output::term::{self, Style, paint};

/// `Daily usage · Europe/Berlin · 2026-09-01 – 2026-09-30 · project app`, in the header colour.
fn heading<R>(title: &str, report: &Report<R>, look: Look) -> String {
    let line = heading_of(
        title,
        &report.timezone,
        (report.since, report.until),
        report.project.as_deref(),
    );
    format!("{}\n", look.header(line.trim_end()))
}

/// A report's first line, from what it was asked for.
pub(super) fn heading_of(
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
pub(super) fn short_model(model: &str) -> &str {
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

pub(super) fn local(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// The token columns, in order: Input, Output, Cache write, Cache read, Total tokens. The four
/// kinds may be left out at narrow widths, cache traffic first; `all` keeps them (the models
/// report, whose columns must add up to the total: they go only when even short counts do not
/// fit, after every other optional column).
fn token_columns(all: bool) -> Vec<Column> {
    let kind = |c: Column, rank: u8| c.optional(if all { rank + 20 } else { rank });
    vec![
        kind(Column::number("Input").abbreviated("In"), 3),
        kind(Column::number("Output").abbreviated("Out"), 4),
        kind(Column::number("Cache write").abbreviated("Cache wr"), 1),
        kind(Column::number("Cache read").abbreviated("Cache rd"), 2),
        Column::number("Total tokens").abbreviated("Total"),
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

/// One cost column's format: its precision, chosen once from its largest figure (the total).
#[derive(Clone, Copy, Debug)]
struct Money(usize);

impl Money {
    fn of(totals: &TotalsRow) -> Money {
        Money(usd_decimals(totals.cost_usd))
    }

    fn cell(self, v: f64) -> String {
        usd_at(v, self.0)
    }

    /// A cost with its basis marked: `~` estimated (where a reported total could have been
    /// used), `*` a mix.
    fn marked(self, cost: f64, basis: Option<CostBasis>) -> String {
        match basis {
            Some(CostBasis::Estimated) => format!("{}~", self.cell(cost)),
            Some(CostBasis::Mixed) => format!("{}*", self.cell(cost)),
            _ => self.cell(cost),
        }
    }
}

fn breakdown_rows(
    table: &mut Table,
    breakdown: Option<&Vec<ModelUsage>>,
    lead: usize,
    trail: usize,
    money: Money,
) {
    for m in breakdown.into_iter().flatten() {
        let mut cells = vec![format!("  └ {}", breakdown_model(&m.model))];
        cells.extend(std::iter::repeat_n(String::new(), lead));
        cells.extend(token_cells(&m.usage));
        cells.extend(std::iter::repeat_n(String::new(), trail));
        cells.push(money.cell(m.cost_usd));
        table.row(cells);
    }
}

fn footnotes(out: &mut String, totals: &TotalsRow, marks: bool, look: Look) {
    let mut notes = String::new();
    if marks {
        let _ = writeln!(notes, "~ estimated from the price table");
        let _ = writeln!(notes, "* Claude Code's reported totals plus estimates");
    }
    if !totals.unpriced_models.is_empty() {
        let _ = writeln!(
            notes,
            "! not in the price table, counted at $0: {}",
            totals.unpriced_models.join(", ")
        );
    }
    for line in notes.lines() {
        let _ = writeln!(out, "{}", paint(look.term.color, Style::Dim, line));
    }
}

pub(super) fn period_text(
    r: &Report<PeriodRow>,
    opts: &ReportOptions,
    first: &'static str,
    look: Look,
) -> String {
    let title = match r.report {
        report::ReportKind::Weekly => {
            format!("Weekly usage (weeks from {})", opts.week_start.as_str())
        }
        report::ReportKind::Monthly => "Monthly usage".to_owned(),
        _ => "Daily usage".to_owned(),
    };
    let money = Money::of(&r.totals);
    let mut columns = vec![
        Column::text(first),
        Column::text("Models").shrink_to(10).optional(0),
    ];
    columns.extend(token_columns(false));
    columns.push(Column::number("Cost"));
    let mut t = Table::new(columns);
    for row in &r.rows {
        let mut cells = vec![row.period.clone(), models_cell(&row.models)];
        cells.extend(token_cells(&row.usage));
        cells.push(money.cell(row.cost_usd));
        t.row(cells);
        breakdown_rows(&mut t, row.breakdown.as_ref(), 1, 0, money);
    }
    let mut cells = vec!["Total".to_owned(), String::new()];
    cells.extend(token_cells(&r.totals.usage));
    cells.push(money.cell(r.totals.cost_usd));
    t.total(cells);
    let mut out = heading(&title, r, look);
    out.push_str(&look.table(t));
    footnotes(&mut out, &r.totals, false, look);
    out
}

/// The sessions table, with each row's turns and duration where the history has them.
pub(super) fn sessions_text(r: &Report<SessionRow>, opts: &ReportOptions, look: Look) -> String {
    let money = Money::of(&r.totals);
    let mut columns = vec![
        Column::text("Session"),
        Column::text("Project").shrink_to(12).keep_end().optional(8),
        Column::text("Last activity").optional(7),
        Column::text("Models").shrink_to(10).optional(0),
    ];
    columns.extend(token_columns(false));
    columns.push(Column::number("Turns").optional(6));
    columns.push(Column::number("Duration").optional(5));
    columns.push(Column::number("Cost"));
    let mut t = Table::new(columns);
    let (mut turns_total, mut duration_total) = (0_u64, 0_u64);
    for row in &r.rows {
        let id = row.session_id.to_string();
        // A session the history lacks: no turns, and the span of its responses.
        let span_ms = u64::try_from(row.last_at.as_millisecond() - row.first_at.as_millisecond())
            .unwrap_or(0);
        let (turns, duration) = (row.turns.unwrap_or(0), row.duration_ms.unwrap_or(span_ms));
        turns_total += turns;
        duration_total += duration;
        let mut cells = vec![
            id.chars().take(8).collect(),
            row.project
                .as_deref()
                .map(project_name)
                .unwrap_or_default()
                .to_owned(),
            local(row.last_at, &opts.tz),
            models_cell(&row.models),
        ];
        cells.extend(token_cells(&row.usage));
        cells.push(if turns > 0 {
            turns.to_string()
        } else {
            String::new()
        });
        cells.push(display::duration_ms(duration));
        cells.push(money.marked(row.cost_usd, Some(row.cost_source)));
        t.row(cells);
        breakdown_rows(&mut t, row.breakdown.as_ref(), 3, 2, money);
    }
    let mut cells = vec![
        format!("Total ({})", r.rows.len()),
        String::new(),
        String::new(),
        String::new(),
    ];
    cells.extend(token_cells(&r.totals.usage));
    cells.push(turns_total.to_string());
    cells.push(display::duration_ms(duration_total));
    cells.push(money.marked(r.totals.cost_usd, r.totals.cost_source));
    t.total(cells);
    let mut out = heading("Usage by session", r, look);
    out.push_str(&look.table(t));
    footnotes(&mut out, &r.totals, true, look);
    out
}

pub(super) fn projects_text(r: &Report<ProjectRow>, look: Look) -> String {
    let money = Money::of(&r.totals);
    let mut columns = vec![
        Column::text("Project").shrink_to(16).keep_end(),
        Column::number("Sessions").optional(5),
        Column::text("Models").shrink_to(10).optional(0),
    ];
    columns.extend(token_columns(false));
    columns.push(Column::number("Cost"));
    let mut t = Table::new(columns);
    for row in &r.rows {
        let mut cells = vec![
            row.project
                .as_deref()
                .map_or("(unknown)", project_name)
                .to_owned(),
            row.sessions.to_string(),
            models_cell(&row.models),
        ];
        cells.extend(token_cells(&row.usage));
        cells.push(money.marked(row.cost_usd, Some(row.cost_source)));
        t.row(cells);
        breakdown_rows(&mut t, row.breakdown.as_ref(), 2, 0, money);
    }
    let sessions: u64 = r.rows.iter().map(|p| p.sessions).sum();
    let mut cells = vec!["Total".to_owned(), sessions.to_string(), String::new()];
    cells.extend(token_cells(&r.totals.usage));
    cells.push(money.marked(r.totals.cost_usd, r.totals.cost_source));
    t.total(cells);
    let mut out = heading("Usage by project", r, look);
    out.push_str(&look.table(t));
    footnotes(&mut out, &r.totals, true, look);
    out
}

/// Every token column stays (they add up to the total); the model name is cut before any goes.
pub(super) fn models_text(r: &Report<ModelRow>, look: Look) -> String {
    let money = Money::of(&r.totals);
    let mut columns = vec![
        Column::text("Model"),
        Column::number("Messages").optional(5),
    ];
    columns.extend(token_columns(true));
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
            money.cell(row.cost_usd)
        } else {
            format!("{}!", money.cell(row.cost_usd))
        });
        cells.push(share(row.cost_usd));
        t.row(cells);
    }
    let mut cells = vec!["Total".to_owned(), display::count(r.totals.usage.messages)];
    cells.extend(token_cells(&r.totals.usage));
    cells.push(money.cell(total));
    t.total(cells);
    let mut out = heading("Usage by model", r, look);
    out.push_str(&look.table(t));
    footnotes(&mut out, &r.totals, false, look);
    out
}

/// A share of the token limit coloured as budgets are: yellow from 80 %, red from 100 %.
fn limit_style(cell: &str) -> Option<Style> {
    let percent: f64 = cell.trim_end_matches(" %").parse().ok()?;
    term::budget_style(percent, 80.0)
}

/// The blocks table, a gap row where nothing ran for longer than a block (`length_ms`), and the
/// active block's live figures.
pub(super) fn blocks_text(
    r: &Report<Block>,
    opts: &ReportOptions,
    length_ms: i64,
    look: Look,
) -> String {
    let money = Money::of(&r.totals);
    let mut columns = vec![
        Column::text("Block start"),
        Column::text("Status").styled(term::status_style),
        Column::text("Models").shrink_to(10).optional(0),
        Column::number("Messages").optional(1),
        Column::number("Total tokens"),
    ];
    if r.token_limit.is_some() {
        columns.push(Column::number("% of limit").styled(limit_style));
    }
    columns.push(Column::number("Cost"));
    let mut t = Table::new(columns);
    let limit_cells = usize::from(r.token_limit.is_some());
    for (i, b) in r.rows.iter().enumerate() {
        if i > 0
            && let Some((from, to)) = gap_between(&r.rows[i - 1].span, &b.span, length_ms)
        {
            let quiet = u64::try_from(to.as_millisecond() - from.as_millisecond()).unwrap_or(0);
            t.row(vec![
                local(from, &opts.tz),
                format!("gap, {}", display::duration_ms(quiet)),
            ]);
        }
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
        cells.push(money.cell(b.cost_usd));
        t.row(cells);
        for m in b.breakdown.iter().flatten() {
            let mut cells = vec![
                format!("  └ {}", breakdown_model(&m.model)),
                String::new(),
                String::new(),
                display::count(m.usage.messages),
                display::count(m.usage.total_tokens),
            ];
            cells.extend(std::iter::repeat_n(String::new(), limit_cells));
            cells.push(money.cell(m.cost_usd));
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
    cells.extend(std::iter::repeat_n(String::new(), limit_cells));
    cells.push(money.cell(r.totals.cost_usd));
    t.total(cells);
    let hours = length_ms as f64 / 3_600_000.0;
    let title = if length_ms == cclive_core::blocks::BLOCK_LENGTH_MS {
        "5-hour blocks".to_owned()
    } else {
        format!("{hours}-hour blocks")
    };
    let mut out = heading(&title, r, look);
    out.push_str(&look.table(t));
    footnotes(&mut out, &r.totals, false, look);
    if let Some(active) = r.rows.iter().find(|b| b.active) {
        out.push('\n');
        out.push_str(&active_text(active, opts, r.token_limit, look));
    }
    out
}

/// The active block's live figures, each on its own short line so nothing is cut at 80
/// columns.
pub(super) fn active_text(
    b: &Block,
    opts: &ReportOptions,
    limit: Option<u64>,
    look: Look,
) -> String {
    let Some(live) = &b.live else {
        return String::new();
    };
    let time = |ts: Timestamp| {
        ts.to_zoned_datetime(opts.tz.clone())
            .strftime("%H:%M")
            .to_string()
    };
    let ms = |v: i64| display::duration_ms(u64::try_from(v).unwrap_or(0));
    let usd = display::usd;
    let rate = &live.burn_rate;
    let mut out = String::new();
    let title = format!(
        "Active block {} → {} ({}): {} elapsed, {} left",
        time(b.span.start),
        time(b.span.end),
        opts.tz_name(),
        ms(live.elapsed_ms),
        ms(live.remaining_ms),
    );
    let _ = writeln!(out, "{}", look.header(&title));
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
    let _ = writeln!(
        out,
        "  projected  {} tokens  {} by {}",
        display::count(live.projected_total_tokens),
        usd(live.projected_cost_usd),
        time(b.span.end),
    );
    if let (Some(limit), Some(pct)) = (limit, live.projected_limit_percent) {
        let limit_line = format!(
            "  limit      {} tokens: {:.1} % used, {pct:.1} % projected",
            display::count(limit),
            b.limit_percent.unwrap_or(0.0)
        );
        let _ = match term::budget_style(pct, 80.0) {
            Some(style) => writeln!(out, "{}", paint(look.term.color, style, &limit_line)),
            None => writeln!(out, "{limit_line}"),
        };
    }
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
