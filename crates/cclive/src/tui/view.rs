//! Draws an [`App`] into any ratatui backend (the terminal, or `TestBackend` in tests). Never
//! changes the state and reads nothing but it.
//!
//! The sessions screen, top to bottom: the banner (live work, waiting, or nothing) with the
//! data source and the clock; a card of two lines per live session with the web dashboard's
//! figures (project, model, cost marked `est.` until Claude Code reports its own, turns with the
//! change, duration, last prompt; tokens by kind, cost per turn, output tokens per minute, cache
//! hit ratio, API time share); the 5-hour block as a bar of its elapsed time with its cost and
//! burn rate (estimated); the block against the chosen plan with the time its first limit is
//! reached at this pace; the official limits Claude Code reported; today, this week and this
//! month against the budget; cost per 5 minutes over the last hours; the sessions table; the
//! keys. Lines that do not fit say less (shorter variants first), and narrow terminals lose the
//! least useful columns. Over it, when open: the key help (`?`) and the project picker (`p`).

use std::fmt::Write as _;

use cclive_core::budget::Level;
use cclive_core::statusline::RateLimit;
use cclive_core::{CostSource, SessionState, Status};
use cclive_store::SortKey;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, LineGauge, Paragraph, Row, Sparkline, Table, TableState};

use super::app::{App, Source, TurnsView, View, project_of};
use super::data::{History, PeriodFigure, SPARK_BUCKET_MINUTES};
use crate::output::display;

/// Most live sessions given a card; the rest are counted.
const MAX_CARDS: usize = 4;

/// Draws the whole screen.
pub fn render(frame: &mut Frame<'_>, app: &App) {
    match &app.view {
        View::Sessions => sessions_screen(frame, app),
        View::Turns(view) => turns_screen(frame, app, view),
    }
}

fn tz(app: &App) -> TimeZone {
    app.history
        .as_ref()
        .map_or_else(crate::config::system_zone, |h: &History| h.tz.clone())
}

fn sessions_screen(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let live = app.live_sessions();
    let cards = live.len().min(MAX_CARDS);
    let card_rows = if live.is_empty() {
        1
    } else {
        u16::try_from(cards * 2 + usize::from(live.len() > MAX_CARDS)).unwrap_or(1)
    };
    let [
        banner,
        cards_area,
        block,
        plan,
        limits,
        periods,
        spark,
        table,
        footer,
    ] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(card_rows),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(2),
        Constraint::Min(2),
        Constraint::Length(1),
    ])
    .areas(area);
    banner_line(frame, banner, app);
    live_cards(frame, cards_area, app, &live);
    block_line(frame, block, app);
    plan_line(frame, plan, app);
    limits_line(frame, limits, app);
    period_lines(frame, periods, app);
    spark_lines(frame, spark, app);
    sessions_table(frame, table, app);
    footer_line(frame, footer, app);
    if let Some(at) = app.picker {
        picker(frame, app, at);
    }
    if app.help {
        help(frame);
    }
}

/// A `width` × `height` box in the middle of `area` (smaller when `area` is).
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// The keys, over the screen; any key closes it.
fn help(frame: &mut Frame<'_>) {
    let rows: [(&str, &str); 10] = [
        ("q, Ctrl-C", "quit"),
        ("?", "this help (any key closes it)"),
        ("s / r", "sort by the next column / reverse the order"),
        ("p", "pick a project (↑↓, ⏎ choose, esc cancel)"),
        ("P, esc", "all projects again"),
        ("l", "plan: none → Pro → Max 5× → Max 20× → Custom"),
        ("↑↓ j k", "move in the table (PgUp PgDn g G)"),
        ("⏎, t", "the selected session's turns (esc back)"),
        ("", ""),
        (
            "plan",
            "claude-monitor's per-block limits (input + output tokens)",
        ),
    ];
    let mut lines: Vec<Line<'_>> = rows
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::raw(format!(" {k:<9} ")).bold(),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(
        " limits    the official 5-hour and 7-day use Claude Code reports",
    ));
    let area = centered(
        frame.area(),
        74,
        u16::try_from(lines.len() + 2).unwrap_or(14),
    );
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(ratatui::widgets::Block::bordered().title(" cclive top · keys ")),
        area,
    );
}

/// The project picker: all projects, then each one seen; the highlighted entry reversed.
fn picker(frame: &mut Frame<'_>, app: &App, at: usize) {
    let entries = app.picker_entries();
    let lines: Vec<Line<'_>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let line = match e {
                None => Line::from(" All projects"),
                Some(p) => Line::from(vec![
                    Span::raw(format!(" {}", short(p))).bold(),
                    Span::raw(format!("  {p}")).dim(),
                ]),
            };
            if i == at { line.reversed() } else { line }
        })
        .collect();
    let width = entries
        .iter()
        .flatten()
        .map(|p| short(p).chars().count() + p.chars().count() + 5)
        .max()
        .unwrap_or(20)
        .clamp(24, 90);
    let height = lines.len() + 2;
    let area = centered(
        frame.area(),
        u16::try_from(width).unwrap_or(90),
        u16::try_from(height).unwrap_or(u16::MAX),
    );
    // Keep the highlighted entry in view when the list is longer than the box.
    let inner = usize::from(area.height.saturating_sub(2)).max(1);
    let scroll = u16::try_from(at.saturating_sub(inner - 1)).unwrap_or(0);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(ratatui::widgets::Block::bordered().title(" project · ⏎ choose · esc cancel ")),
        area,
    );
}

/// The block against the chosen plan: the highest share used as a bar, each share, and when
/// the first limit is reached at this pace (or that the block ends first).
fn plan_line(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some((plan, limits)) = app.plan_limits() else {
        frame.render_widget(
            Paragraph::new("plan      none · l: Pro, Max 5×, Max 20×, Custom").dim(),
            area,
        );
        return;
    };
    let label = format!("{:<10}", plan.name());
    let Some(pace) = app.history.as_ref().and_then(|h| h.pace.as_ref()) else {
        let text = format!(
            "{label}{} tok · {} · {} msgs per block · no block running",
            compact(limits.tokens),
            display::usd(limits.cost_usd),
            display::count(limits.messages)
        );
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    let o = cclive_core::plans::outlook(pace, limits, app.now);
    let zone = tz(app);
    let hm = |t: Timestamp| {
        t.to_zoned_datetime(zone.clone())
            .strftime("%H:%M")
            .to_string()
    };
    let shares = format!(
        " tok {:.0}% of {} · {:.0}% of {} · msg {:.0}%",
        o.tokens_percent.floor(),
        compact(limits.tokens),
        o.cost_percent.floor(),
        display::usd(limits.cost_usd),
        o.messages_percent.floor()
    );
    let (when, short_when) = match o.reached {
        Some((at, which)) if at <= app.now => (
            format!(" · {} limit reached", which.as_str()),
            " · limit reached".to_owned(),
        ),
        Some((at, which)) => (
            format!(
                " · {} limit at {} (in {})",
                which.as_str(),
                hm(at),
                hours_minutes(at.as_millisecond() - app.now.as_millisecond())
            ),
            format!(" · limit {}", hm(at)),
        ),
        None => (
            format!(" · lasts to the reset at {}", hm(pace.ends_at)),
            format!(" · lasts to {}", hm(pace.ends_at)),
        ),
    };
    let top = o.max_percent();
    let room = usize::from(area.width).saturating_sub(label.chars().count() + 10);
    let right = [
        format!("{shares}{when}"),
        format!(" {:.0}% used{when}", top.floor()),
        format!(" {:.0}%{short_when}", top.floor()),
    ]
    .into_iter()
    .find(|r| r.chars().count() <= room)
    .unwrap_or_else(|| format!(" {:.0}%", top.floor()));
    let color = if top >= 100.0 || o.reached.is_some() {
        Color::Red
    } else if top >= 80.0 {
        Color::Yellow
    } else {
        Color::Green
    };
    gauge_row(frame, area, &label, top / 100.0, color, &right);
}

fn banner_line(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let banner = app.banner();
    let style = if banner.starts_with('🔴') {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else if banner.starts_with('🟡') {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    let live = app.snapshot.active_sessions.len();
    let mut left = vec![Span::styled(banner, style)];
    if live > 1 {
        left.push(Span::raw(format!("  {live} live sessions")));
    }
    let source = match &app.source {
        Source::Following {
            addr,
            connected: true,
        } => format!("following the monitor at {addr}"),
        Source::Following {
            addr,
            connected: false,
        } => format!("monitor at {addr} not answering; retrying"),
        Source::Own { catching_up: true } => "monitoring (reading history…)".to_owned(),
        Source::Own { catching_up: false } => "monitoring".to_owned(),
    };
    let clock = app
        .now
        .to_zoned_datetime(tz(app))
        .strftime("%H:%M:%S")
        .to_string();
    let left = Line::from(left);
    // The longest that fits: the name, the source and the clock; then without the name; then
    // the clock alone.
    let room = usize::from(area.width).saturating_sub(left.width() + 2);
    let right = [
        format!("cclive top · {source} · {clock}"),
        format!("{source} · {clock}"),
        clock,
    ]
    .into_iter()
    .find(|r| r.chars().count() <= room)
    .unwrap_or_default();
    split_line(frame, area, left, Line::from(right).dim());
}

/// A line with `right` flushed right, cut first when both do not fit.
fn split_line(frame: &mut Frame<'_>, area: Rect, left: Line<'_>, right: Line<'_>) {
    let right_width = u16::try_from(right.width()).unwrap_or(u16::MAX);
    let left_width = u16::try_from(left.width()).unwrap_or(u16::MAX);
    let room = area.width.saturating_sub(left_width + 2);
    let [l, r] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(right_width.min(room)),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(left), l);
    if r.width > 0 {
        frame.render_widget(Paragraph::new(right).right_aligned(), r);
    }
}

fn live_cards(frame: &mut Frame<'_>, area: Rect, app: &App, live: &[&SessionState]) {
    let mut lines: Vec<Line<'_>> = Vec::new();
    if live.is_empty() {
        let text = match app.snapshot.data.as_ref().filter(|_| app.project.is_none()) {
            Some(last) => format!(
                "No live session. Last: {} {} {} · {} turns",
                project_name(last),
                last.status,
                cost_text(last),
                last.num_turns
            ),
            None if app.project.is_some() => "No live session in this project.".to_owned(),
            None => "No live session. Start one with `claude`, or `cclive run -- -p \"…\"`.".into(),
        };
        lines.push(Line::from(text).dim());
    }
    for s in live.iter().take(MAX_CARDS) {
        lines.extend(card(app, s));
    }
    if live.len() > MAX_CARDS {
        lines.push(Line::from(format!("  … and {} more live", live.len() - MAX_CARDS)).dim());
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// Two lines per live session: the web card's figures.
fn card<'a>(app: &App, s: &'a SessionState) -> [Line<'a>; 2] {
    let (dot, color) = match s.status {
        Status::Active => ("●", Color::Red),
        _ => ("◐", Color::Yellow),
    };
    let status = if s.status == Status::Idle {
        "waiting for you".to_owned()
    } else {
        s.status.to_string()
    };
    let added = app.turns_added(&s.session_id);
    let turns = if added > 0 {
        format!("{} turns (+{added})", s.num_turns)
    } else {
        format!("{} turns", s.num_turns)
    };
    let mut first = vec![
        Span::styled(format!("{dot} {status} "), Style::new().fg(color).bold()),
        Span::raw(format!(" {} ", project_name(s))).bold(),
    ];
    if let Some(model) = &s.model {
        first.push(Span::raw(format!(" {model} ")).dim());
    }
    first.push(Span::raw(format!(" {} ", cost_text(s))).bold());
    first.push(Span::raw(format!(
        " {turns} · {} ",
        display::duration_ms(s.duration_ms)
    )));
    if let Some(prompt) = s.last_prompt.as_ref().or(s.command.as_ref()) {
        first.push(Span::raw(format!(" “{}”", one_line(prompt))).italic().dim());
    }
    let t = &s.tokens;
    let e = &s.efficiency;
    // A response still streaming: its output as estimated so far (≈), until its final count.
    let out = if s.streaming_output_tokens > 0 {
        format!("≈{}", compact(t.output + s.streaming_output_tokens))
    } else {
        compact(t.output)
    };
    let mut second = format!(
        "   in {} · out {out} · cache read {} · write {}",
        compact(t.input),
        compact(t.cache_read),
        compact(t.cache_creation)
    );
    if let Some(v) = e.cost_per_turn {
        let _ = write!(second, " │ {}/turn", display::usd(v));
    }
    if let Some(v) = e.output_tokens_per_minute {
        let _ = write!(second, " · {v:.0} out tok/min");
    }
    if let Some(v) = e.cache_hit_ratio {
        let _ = write!(second, " · cache {:.0}%", v * 100.0);
    }
    if let Some(v) = e.api_time_share {
        let _ = write!(second, " · API {:.0}%", v * 100.0);
    }
    if let Some(v) = s.context_used_percentage {
        let _ = write!(second, " · ctx {v:.0}%");
    }
    [Line::from(first), Line::from(second).dim()]
}

fn block_line(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(block) = app.history.as_ref().and_then(|h| h.block.as_ref()) else {
        let text = if app.history.is_some() {
            "5h block  none running (one starts with the next response)"
        } else {
            "5h block  …"
        };
        frame.render_widget(Paragraph::new(text).dim(), area);
        return;
    };
    let zone = tz(app);
    let hm = |t: Timestamp| {
        t.to_zoned_datetime(zone.clone())
            .strftime("%H:%M")
            .to_string()
    };
    let total = (block.span.end.as_millisecond() - block.span.start.as_millisecond()).max(1);
    let elapsed = (app.now.as_millisecond() - block.span.start.as_millisecond()).clamp(0, total);
    let left = total - elapsed;
    let label = format!("5h block {}–{} ", hm(block.span.start), hm(block.span.end));
    let used = format!(
        " {} left · {}",
        hours_minutes(left),
        display::usd(block.cost_usd)
    );
    let tokens = format!(" · {} tok", compact(block.usage.total_tokens));
    let (rate, projected) = match &block.live {
        Some(live) => (
            format!(" · {}/h", display::usd(live.burn_rate.cost_per_hour)),
            format!(" → {}", display::usd(live.projected_cost_usd)),
        ),
        None => (String::new(), String::new()),
    };
    // The projection is what people look for: the tokens, the rate and the long label go
    // first when the line is narrow.
    let room = usize::from(area.width).saturating_sub(label.chars().count() + 10);
    let right = [
        format!("{used}{tokens}{rate}{projected} (estimated)"),
        format!("{used}{rate}{projected} (estimated)"),
        format!("{used}{rate}{projected} est."),
        format!("{used}{projected} est."),
    ]
    .into_iter()
    .find(|r| r.chars().count() <= room)
    .unwrap_or_else(|| format!("{used}{projected}"));
    gauge_row(
        frame,
        area,
        &label,
        elapsed as f64 / total as f64,
        Color::Cyan,
        &right,
    );
}

/// `label [██████░░░░] right`: the bar takes what the texts leave, at least 10 cells.
fn gauge_row(
    frame: &mut Frame<'_>,
    area: Rect,
    label: &str,
    ratio: f64,
    color: Color,
    right: &str,
) {
    let label_w = u16::try_from(label.chars().count()).unwrap_or(u16::MAX);
    let right_w = u16::try_from(right.chars().count()).unwrap_or(u16::MAX);
    let bar_w = area.width.saturating_sub(label_w + right_w).clamp(10, 40);
    let [l, g, r] = Layout::horizontal([
        Constraint::Length(label_w),
        Constraint::Length(bar_w),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(label), l);
    frame.render_widget(
        LineGauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            // The texts beside it say what the bar is; its own percentage would say less.
            .label("")
            .filled_symbol("█")
            .unfilled_symbol("░")
            .filled_style(Style::new().fg(color))
            .unfilled_style(Style::new().fg(Color::DarkGray)),
        g,
    );
    frame.render_widget(Paragraph::new(right), r);
}

fn limits_line(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let zone = tz(app);
    let window = |name: &str, l: &Option<RateLimit>| -> Option<String> {
        let l = l.as_ref()?;
        let mut text = format!("{name} {:.0}% used", l.used_percentage.floor());
        if let Some(resets) = l.resets_at {
            if resets <= app.now {
                text.push_str(" (reset since)");
            } else {
                let when = resets.to_zoned_datetime(zone.clone());
                let soon = resets.as_millisecond() - app.now.as_millisecond() < 20 * 3_600_000;
                let fmt = if soon { "%H:%M" } else { "%a %H:%M" };
                let _ = write!(text, ", resets {}", when.strftime(fmt));
            }
        }
        Some(text)
    };
    let line = match &app.snapshot.rate_limits {
        Some(l) if !l.is_empty() => {
            let parts: Vec<String> = [
                window("5-hour", &l.five_hour),
                window("7-day", &l.seven_day),
            ]
            .into_iter()
            .flatten()
            .collect();
            // How old the figures are: Claude Code sends them with each status line refresh.
            let age = match l.reported_at {
                Some(at) if at <= app.now => format!(
                    " (official, {} ago)",
                    hours_minutes(app.now.as_millisecond() - at.as_millisecond())
                ),
                _ => " (official)".to_owned(),
            };
            Line::from(vec![
                Span::raw("limits    "),
                Span::raw(parts.join(" · ")).bold(),
                Span::raw(age),
            ])
        }
        _ => Line::from(
            "limits    official: none reported yet (Claude Code's status line sends them: \
             `cclive hooks install --statusline`)",
        )
        .dim(),
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn period_lines(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let rows = Layout::vertical([Constraint::Length(1); 3]).split(area);
    let Some(history) = &app.history else {
        frame.render_widget(
            Paragraph::new("budget    reading the history…").dim(),
            rows[0],
        );
        return;
    };
    for (figure, row) in history.periods.iter().zip(rows.iter()) {
        period_line(frame, *row, figure);
    }
}

fn period_line(frame: &mut Frame<'_>, area: Rect, f: &PeriodFigure) {
    let name = match f.period {
        cclive_core::budget::Period::Day => "today",
        cclive_core::budget::Period::Week => "week",
        cclive_core::budget::Period::Month => "month",
    };
    let label = format!("{name:<6}{:<11}", f.key);
    if let (Some(limit), Some(percent), Some(level)) = (f.limit_usd, f.percent, f.level) {
        let right = format!(
            " {} of {} · {:.0}% {} · → {}",
            display::usd(f.spent_usd),
            display::usd(limit),
            percent.floor(),
            level.as_str(),
            display::usd(f.projected_usd)
        );
        gauge_row(
            frame,
            area,
            &label,
            percent / 100.0,
            level_color(level),
            &right,
        );
    } else {
        let text = format!("{label}{} (no limit set)", display::usd(f.spent_usd));
        frame.render_widget(Paragraph::new(text), area);
    }
}

fn level_color(level: Level) -> Color {
    match level {
        Level::Ok | Level::Notice => Color::Green,
        Level::Warning => Color::Yellow,
        Level::Exceeded => Color::Red,
    }
}

fn spark_lines(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let label_w = 18_u16.min(area.width);
    let [l, s] = Layout::horizontal([Constraint::Length(label_w), Constraint::Min(0)]).areas(area);
    let Some(history) = &app.history else {
        return;
    };
    let spark = &history.spark;
    let shown = usize::from(s.width).min(spark.millidollars.len());
    let data = &spark.millidollars[spark.millidollars.len() - shown..];
    let hours = shown as f64 * SPARK_BUCKET_MINUTES as f64 / 60.0;
    let label = vec![
        Line::from(format!("cost, last {hours:.0}h")),
        Line::from(format!("max {}/5m", display::usd(spark.max_usd()))).dim(),
    ];
    frame.render_widget(Paragraph::new(label), l);
    frame.render_widget(
        Sparkline::default()
            .data(data.iter().copied())
            .style(Style::new().fg(Color::Cyan)),
        s,
    );
}

fn sessions_table(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let rows = app.table_rows();
    let wide = area.width >= 110;
    let medium = area.width >= 90;
    let zone = tz(app);
    let arrow = |key: SortKey, name: &'static str| -> String {
        if app.order.key == key {
            format!("{name}{}", if app.order.descending { "↓" } else { "↑" })
        } else {
            name.to_owned()
        }
    };
    let mut header = vec![
        arrow(SortKey::StartedAt, "Started"),
        arrow(SortKey::Project, "Project"),
        arrow(SortKey::Status, "Status"),
    ];
    let mut widths = vec![
        Constraint::Length(11),
        Constraint::Fill(1),
        Constraint::Length(11),
    ];
    if wide {
        header.push(arrow(SortKey::Model, "Model"));
        widths.push(Constraint::Fill(1));
    }
    header.extend([
        arrow(SortKey::Cost, "Cost"),
        arrow(SortKey::Turns, "Turns"),
        arrow(SortKey::Duration, "Duration"),
    ]);
    widths.extend([
        Constraint::Length(10),
        Constraint::Length(6),
        Constraint::Length(9),
    ]);
    if medium {
        header.push(arrow(SortKey::Tokens, "Tokens"));
        widths.push(Constraint::Length(8));
    }
    // One precision for the cost column, from its largest figure.
    let decimals = display::usd_decimals(
        rows.iter()
            .map(|s| s.total_cost_usd)
            .filter(|c| c.is_finite())
            .fold(0.0, f64::max),
    );
    let body: Vec<Row<'_>> = rows
        .iter()
        .map(|s| {
            let mut cells = vec![
                Cell::from(
                    s.started_at
                        .to_zoned_datetime(zone.clone())
                        .strftime("%m-%d %H:%M")
                        .to_string(),
                ),
                Cell::from(project_name(s).to_owned()),
                Cell::from(s.status.to_string()).style(status_style(s.status)),
            ];
            if wide {
                cells.push(Cell::from(s.model.clone().unwrap_or_default()));
            }
            cells.extend([
                Cell::from(Line::from(table_cost(s, decimals)).right_aligned()),
                Cell::from(Line::from(s.num_turns.to_string()).right_aligned()),
                Cell::from(Line::from(display::duration_ms(s.duration_ms)).right_aligned()),
            ]);
            if medium {
                cells.push(Cell::from(
                    Line::from(compact(s.tokens.total())).right_aligned(),
                ));
            }
            Row::new(cells)
        })
        .collect();
    let empty = body.is_empty();
    let table = Table::new(body, widths)
        .header(Row::new(header).style(Style::new().bold().underlined()))
        .row_highlight_style(Style::new().reversed())
        .column_spacing(1);
    let mut state = TableState::default().with_selected((!empty).then_some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
    if empty && area.height > 1 {
        let note = if app.history.is_none() {
            "reading the history…"
        } else if app.project.is_some() {
            "no session in this project (P shows all)"
        } else {
            "no session recorded yet (`cclive import` reads the existing transcripts)"
        };
        let below = Rect {
            y: area.y + 1,
            height: 1,
            ..area
        };
        frame.render_widget(Paragraph::new(note).dim(), below);
    }
}

fn status_style(status: Status) -> Style {
    match status {
        Status::Active => Style::new().fg(Color::Red),
        Status::Idle => Style::new().fg(Color::Yellow),
        Status::Failed => Style::new().fg(Color::Magenta),
        Status::Interrupted => Style::new().fg(Color::DarkGray),
        Status::Completed => Style::new(),
    }
}

fn footer_line(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let sort = format!(
        "{}{}",
        sort_name(app.order.key),
        if app.order.descending { "↓" } else { "↑" }
    );
    let project = app
        .project
        .as_deref()
        .map_or_else(|| "all".to_owned(), |p| short(p).to_owned());
    let keys = format!("q quit · ? help · s sort: {sort} · p project: {project} · ⏎ turns");
    match &app.notice {
        Some(notice) => split_line(
            frame,
            area,
            Line::from(keys).dim(),
            Line::from(notice.as_str()).yellow(),
        ),
        None => frame.render_widget(Paragraph::new(Line::from(keys).dim()), area),
    }
}

fn sort_name(key: SortKey) -> &'static str {
    match key {
        SortKey::Cost => "cost",
        SortKey::Duration => "duration",
        SortKey::Turns => "turns",
        SortKey::Tokens => "tokens",
        SortKey::Project => "project",
        SortKey::Model => "model",
        SortKey::Status => "status",
        _ => "started",
    }
}

fn turns_screen(frame: &mut Frame<'_>, app: &App, view: &TurnsView) {
    let [banner, table, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let s = &view.session;
    let title = Line::from(vec![
        Span::raw("Turns of ").bold(),
        Span::raw(project_name(s).to_owned()).bold(),
        Span::raw(format!(
            " · {} · {} · {} · {} turns",
            s.session_id,
            s.status,
            cost_text(s),
            s.num_turns
        )),
    ]);
    frame.render_widget(Paragraph::new(title), banner);
    match &view.turns {
        None => frame.render_widget(Paragraph::new("reading the session's events…").dim(), table),
        Some(Err(e)) => frame.render_widget(
            Paragraph::new(format!("cannot read the turns: {e}")).red(),
            table,
        ),
        Some(Ok(turns)) if turns.is_empty() => frame.render_widget(
            Paragraph::new(
                "no recorded events for this session (imported sessions keep only their totals)",
            )
            .dim(),
            table,
        ),
        Some(Ok(turns)) => {
            let zone = tz(app);
            let rows: Vec<Row<'_>> = turns
                .iter()
                .skip(view.scroll)
                .map(|t| {
                    let tools = t
                        .tools
                        .iter()
                        .map(|(name, n)| {
                            if *n > 1 {
                                format!("{name}×{n}")
                            } else {
                                name.clone()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    Row::new(vec![
                        Cell::from(Line::from(t.index.to_string()).right_aligned()),
                        Cell::from(
                            t.started_at
                                .to_zoned_datetime(zone.clone())
                                .strftime("%H:%M:%S")
                                .to_string(),
                        ),
                        Cell::from(one_line(t.prompt.as_deref().unwrap_or(""))),
                        Cell::from(tools),
                        Cell::from(Line::from(t.tool_errors.to_string()).right_aligned()),
                        Cell::from(Line::from(compact(t.tokens.total())).right_aligned()),
                        Cell::from(Line::from(display::usd(t.cost_usd)).right_aligned()),
                        Cell::from(
                            Line::from(display::duration_ms(t.duration_ms())).right_aligned(),
                        ),
                    ])
                })
                .collect();
            let widths = [
                Constraint::Length(3),
                Constraint::Length(8),
                Constraint::Fill(2),
                Constraint::Fill(1),
                Constraint::Length(3),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(8),
            ];
            let header = Row::new([
                "#", "Started", "Prompt", "Tools", "Err", "Tokens", "Cost", "Took",
            ])
            .style(Style::new().bold().underlined());
            frame.render_widget(
                Table::new(rows, widths).header(header).column_spacing(1),
                table,
            );
        }
    }
    frame.render_widget(
        Paragraph::new("esc back · ↑↓ scroll · q quit (costs per turn are estimates)").dim(),
        footer,
    );
}

/// `$0.42~` (`~`: an estimate), as `cclive sessions` marks it, at the column's `decimals`.
fn table_cost(s: &SessionState, decimals: usize) -> String {
    let cost = display::usd_at(s.total_cost_usd, decimals);
    match s.cost_source {
        CostSource::Reported => cost,
        CostSource::Estimated => format!("{cost}~"),
    }
}

/// `$0.4200 est.` until Claude Code reports its own total.
fn cost_text(s: &SessionState) -> String {
    match s.cost_source {
        CostSource::Reported => display::usd(s.total_cost_usd),
        CostSource::Estimated => format!("{} est.", display::usd(s.total_cost_usd)),
    }
}

fn project_name(s: &SessionState) -> &str {
    project_of(s).map_or("(no project)", short)
}

/// A path's last component.
fn short(path: &str) -> &str {
    cclive_core::report::project_name(path)
}

/// Whitespace (newlines included) folded to single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `950`, `12.3k`, `1.2M`.
fn compact(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `2h13m`, `42m`.
fn hours_minutes(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    if minutes >= 60 {
        format!("{}h{:02}m", minutes / 60, minutes % 60)
    } else {
        format!("{minutes}m")
    }
}
