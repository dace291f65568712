//! `cclive budget`: spend against the `[budget]` limits, with the projection to the end of each
//! period; `--check` prints one line and exits 0, 10 or 11 for scripts and CI. Also the prompt
//! gate `cclive hook` consults for `block_at_usd` ([`crate::budget::gate::prompt_gate`]).
//!
//! The figures come from [`cclive_core::budget`]; this file resolves the zone, reads the store
//! and lays out text.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use cclive_core::budget::{self, BudgetStatus, Period, usd};
use cclive_core::report::tz_name;
use cclive_store::Store;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use cclive_core::report::WeekStart;

use crate::cli::{BudgetArgs, GlobalArgs};
use crate::config::Settings;
use crate::output::display;
use crate::output::table::{Column, Table};
use crate::output::term::{self, Term};

/// Shows spend against every limit, or (`--check`) one line and an exit code.
pub(super) fn run(
    args: &BudgetArgs,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let mut config = settings.budget.value.clone();
    if let Some(w) = args.week_start.map(WeekStart::from) {
        config.budget.week_start = w;
    }
    let tz = match &args.tz {
        Some(name) => crate::config::zone_named(name)
            .with_context(|| format!("--tz {name:?} is not a known IANA time zone"))?,
        None => config.time_zone(),
    };
    let now = Timestamp::now();
    let prices = settings.prices()?;
    let store = settings.open_existing_store()?;
    let statuses = match &store {
        Some(store) => {
            crate::sinks::budget_watch::statuses(&config.budget, &**store, &prices, &tz, now)
                .context("reading usage from the history database")?
        }
        None => Vec::new(),
    };
    let verdict = budget::check(&statuses);
    if args.check {
        println!("{}", verdict.line);
        return Ok(ExitCode::from(verdict.exit_code));
    }
    let earliest = statuses.iter().map(|s| s.start).min();
    let alerts = match (&store, earliest) {
        (Some(store), Some(since)) => store.alerts(Some(since)).unwrap_or_default(),
        _ => Vec::new(),
    };
    let hard = crate::budget::gate::hard_limit_status(
        &config,
        store.as_deref().map(|s| s as &dyn Store),
        &prices,
        &tz,
        now,
    );
    let limits = subscription_limits(
        settings,
        store.as_deref().map(|s| s as &dyn Store),
        &prices,
        &tz,
        now,
    );
    if args.json {
        let v = json!({
            "timezone": tz_name(&tz),
            "now": now,
            "statuses": statuses,
            "hard_limit": hard,
            "check": verdict,
            "alerts": alerts,
            "rate_limits": limits,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    if config.budget.is_empty() {
        println!("{}", limits_text(&limits, &tz, now));
        println!(
            "No budget configured. Add a [budget] table to {} (`cclive config --default` shows \
             an example), e.g.\n\n[budget]\ndaily_usd = 10.0\nmonthly_usd = 150.0",
            settings.config_file.value.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    print!(
        "{}",
        statuses_text(&statuses, &tz, now, Term::stdout(global), hard.as_ref())
    );
    print!("\n{}", limits_text(&limits, &tz, now));
    if !alerts.is_empty() {
        println!("\nAlerts raised in these periods:");
        for a in &alerts {
            println!(
                "  {}  {}",
                a.at.to_zoned_datetime(tz.clone())
                    .strftime("%Y-%m-%d %H:%M"),
                a.message()
            );
        }
    }
    println!("\n{}", verdict.line);
    Ok(ExitCode::SUCCESS)
}

/// The subscription's 5-hour and 7-day limits: Claude Code's official figures (from its status
/// line, via the monitor or the status line's cache) beside cclive's own estimates (the active
/// block, the spend of the last 7 days).
#[derive(Debug, serde::Serialize)]
struct SubscriptionLimits {
    official: Option<crate::budget::official::OfficialLimits>,
    estimated: EstimatedLimits,
}

#[derive(Debug, serde::Serialize)]
struct EstimatedLimits {
    block: Option<cclive_core::blocks::Block>,
    last_7_days_usd: Option<f64>,
}

fn subscription_limits(
    settings: &Settings,
    store: Option<&dyn Store>,
    prices: &cclive_core::PriceTable,
    tz: &TimeZone,
    now: Timestamp,
) -> SubscriptionLimits {
    let block = store
        .and_then(|s| crate::history::usage_records::recent(s, now, now).ok())
        .and_then(|records| {
            let opts = cclive_core::report::ReportOptions::new(tz.clone());
            cclive_core::blocks::active_block(&records, &opts, prices, now, None)
        });
    let week = budget::Window {
        period: Period::Week,
        key: "last 7 days".to_owned(),
        start: now - jiff::SignedDuration::from_hours(7 * 24),
        end: now,
    };
    let last_7_days_usd = store
        .and_then(|s| crate::budget::spend::spend_in(s, &week, prices).ok())
        .map(|spend| cclive_core::report::round_usd(spend.total_usd));
    SubscriptionLimits {
        official: crate::budget::official::official_rate_limits(settings),
        estimated: EstimatedLimits {
            block,
            last_7_days_usd,
        },
    }
}

fn limits_text(limits: &SubscriptionLimits, tz: &TimeZone, now: Timestamp) -> String {
    let official = |l: Option<&cclive_core::statusline::RateLimit>| -> String {
        match l {
            None => "official: —".to_owned(),
            Some(l) => {
                let mut text = format!("official: {:.0} % used", l.used_percentage.floor());
                if let Some(resets) = crate::budget::official::resets_text(l.resets_at, now, tz) {
                    let _ = write!(text, ", {resets}");
                }
                text
            }
        }
    };
    let o = limits.official.as_ref().map(|o| &o.limits);
    let five = official(o.and_then(|l| l.five_hour.as_ref()));
    let seven = official(o.and_then(|l| l.seven_day.as_ref()));
    let width = five.chars().count().max(seven.chars().count());
    let hm = |t: Timestamp| {
        t.to_zoned_datetime(tz.clone())
            .strftime("%H:%M")
            .to_string()
    };
    let block = match &limits.estimated.block {
        Some(b) => format!(
            "estimated: block {}–{} {}, {} tokens, {} left",
            hm(b.span.start),
            hm(b.span.end),
            usd(b.cost_usd),
            display::count(b.usage.total_tokens),
            time_left(
                u64::try_from(b.span.end.as_millisecond() - now.as_millisecond()).unwrap_or(0)
            )
        ),
        None => "estimated: no block running".to_owned(),
    };
    let week = match limits.estimated.last_7_days_usd {
        Some(v) => format!("estimated: {} in the last 7 days", usd(v)),
        None => "estimated: —".to_owned(),
    };
    let mut out = String::from("Subscription limits\n");
    let _ = writeln!(out, "  5-hour  {five:<width$}   {block}");
    let _ = writeln!(out, "  7-day   {seven:<width$}   {week}");
    match &limits.official {
        Some(o) if o.source != crate::budget::official::LimitsSource::Monitor => {
            let _ = writeln!(
                out,
                "  (official figures as of {}, from {})",
                o.as_of
                    .to_zoned_datetime(tz.clone())
                    .strftime("%Y-%m-%d %H:%M"),
                if o.source == crate::budget::official::LimitsSource::Statusline {
                    "the last status line run"
                } else {
                    "the state file"
                }
            );
        }
        Some(_) => {}
        None => {
            let _ = writeln!(
                out,
                "  (official figures come with Claude Code's status line on subscriptions: \
                 `cclive hooks install --statusline`)"
            );
        }
    }
    out
}

fn statuses_text(
    statuses: &[BudgetStatus],
    tz: &TimeZone,
    now: Timestamp,
    term: Term,
    hard: Option<&crate::budget::gate::HardLimitStatus>,
) -> String {
    let mut out = format!(
        "Budget · {} · {}\n",
        tz_name(tz),
        now.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M")
    );
    let mut t = Table::new(vec![
        Column::text("Scope").shrink_to(10),
        Column::text("Period"),
        Column::number("Spent"),
        Column::number("Limit"),
        Column::number("Used").styled(used_style),
        Column::number("Projected").optional(1),
        Column::text("Ends in").optional(0),
        Column::text("State").styled(state_style),
    ]);
    for s in statuses {
        let left = u64::try_from(s.end.as_millisecond() - now.as_millisecond()).unwrap_or(0);
        t.row(vec![
            s.project.clone().unwrap_or_else(|| "all".to_owned()),
            format!("{} {}", s.period.as_str(), s.period_key),
            usd(s.spent_usd),
            usd(s.limit_usd),
            format!("{:.0} %", s.percent.floor()),
            usd(s.projected_usd),
            time_left(left),
            gauge(s),
        ]);
    }
    out.push_str(&t.paint(term));
    if let Some(h) = hard {
        let _ = writeln!(
            out,
            "\nHard limit: block_at_usd {} per {} ({} spent in {}){}",
            usd(h.limit_usd),
            h.period.as_str(),
            usd(h.spent_usd),
            h.period_key,
            if h.reached {
                " — REACHED: `cclive hook` refuses new prompts"
            } else {
                ""
            }
        );
    }
    out
}

/// A share of a limit in its warning colour (yellow from 80 %, red from 100 %).
fn used_style(cell: &str) -> Option<term::Style> {
    term::budget_style(cell.trim_end_matches(" %").parse().ok()?, 80.0)
}

/// The gauge in its level's colour.
fn state_style(cell: &str) -> Option<term::Style> {
    if cell.ends_with("exceeded") {
        Some(term::Style::Red)
    } else if cell.ends_with("warning") {
        Some(term::Style::Yellow)
    } else {
        None
    }
}

/// `8h 52m`, or `4d 08h` from a day on.
fn time_left(ms: u64) -> String {
    const DAY: u64 = 24 * 3_600_000;
    if ms < DAY {
        display::duration_ms(ms)
    } else {
        format!("{}d {:02}h", ms / DAY, (ms % DAY) / 3_600_000)
    }
}

/// `████░░░░░░ warning`: ten cells of the percentage, and the level.
fn gauge(s: &BudgetStatus) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let filled = (s.percent / 10.0).floor().clamp(0.0, 10.0) as usize;
    format!(
        "{}{} {}",
        "█".repeat(filled),
        "░".repeat(10 - filled),
        s.level.as_str()
    )
}
