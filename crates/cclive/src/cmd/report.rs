//! `cclive report daily|weekly|monthly|sessions|projects|models|blocks|tools`: usage from the
//! store, aggregated by the core ([`cclive_core::report`], [`cclive_core::blocks`],
//! [`cclive_core::analytics`] for `tools`, in `report/tools.rs`) and printed as a table that fits
//! the terminal, or as JSON whose field names `docs/reports.md` documents.
//!
//! This file only resolves the flags, reads the store and lays out text; every figure comes from
//! the core's pure functions, which the dashboard, the TUI and the status line share.

mod ccusage;
mod server;
mod text;
mod tools;

use std::process::ExitCode;

use anyhow::{Context, bail};
use cclive_core::PriceTable;
use cclive_core::blocks::{self, TokenLimit};
use cclive_core::report::{self, Report, ReportOptions, WeekStart};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan as _};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, JsonFormatArg, OrderArg, ReportArgs, ReportKindArg, WeekStartArg};
use crate::config::Settings;
use crate::history::usage_records;
pub(crate) use crate::output::table::{Column, Table};
use crate::output::term::{Style, Term, paint};

/// How text is laid out: the terminal, and `--compact`.
#[derive(Clone, Copy, Debug)]
struct Look {
    term: Term,
    compact: bool,
}

impl Look {
    fn table(self, t: Table) -> String {
        if self.compact {
            t.compact().paint(self.term)
        } else {
            t.paint(self.term)
        }
    }

    fn header(self, text: &str) -> String {
        paint(self.term.color, Style::Header, text)
    }
}

/// Prints one report.
pub(super) fn run(
    args: &ReportArgs,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let opts = options(args, Timestamp::now())?;
    if args.json_format == Some(JsonFormatArg::Ccusage)
        && matches!(
            args.kind,
            ReportKindArg::Projects | ReportKindArg::Models | ReportKindArg::Tools
        )
    {
        bail!(
            "ccusage has no {:?} report, so there is no ccusage shape for it; use --json",
            args.kind
        );
    }
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
    // Blocks need each response's time; the other reports read the store's sums per quarter
    // hour, session, model and price class. The tools report reads sessions and their events.
    let (records, groups, sessions) = match &store {
        Some(store) if args.kind == ReportKindArg::Blocks => {
            let (records, sessions) = usage_records::load(&**store, since, until)
                .context("reading usage from the history database")?;
            (records, Vec::new(), sessions)
        }
        Some(store) if args.kind != ReportKindArg::Tools => {
            // Projects are read only for what shows or filters by them.
            let attributed = opts.project.is_some()
                || matches!(args.kind, ReportKindArg::Sessions | ReportKindArg::Projects);
            let (groups, sessions) =
                usage_records::load_groups(&**store, since, until, &opts.tz, &prices, attributed)
                    .context("reading usage from the history database")?;
            (Vec::new(), groups, sessions)
        }
        _ => (Vec::new(), Vec::new(), Vec::new()),
    };
    let look = Look {
        term: Term::stdout(global),
        compact: args.compact,
    };
    let text = match args.kind {
        ReportKindArg::Daily => output(
            args,
            &in_order(args, report::daily(&groups, &opts, &prices)),
            ccusage::periods,
            |r| text::period_text(r, &opts, "Date", look),
        )?,
        ReportKindArg::Weekly => output(
            args,
            &in_order(args, report::weekly(&groups, &opts, &prices)),
            ccusage::periods,
            |r| text::period_text(r, &opts, "Week of", look),
        )?,
        ReportKindArg::Monthly => output(
            args,
            &in_order(args, report::monthly(&groups, &opts, &prices)),
            ccusage::periods,
            |r| text::period_text(r, &opts, "Month", look),
        )?,
        ReportKindArg::Sessions => {
            let details = match &store {
                Some(store) => session_details(&**store)?,
                None => std::collections::HashMap::new(),
            };
            let mut report = in_order(args, report::sessions(&groups, &sessions, &opts, &prices));
            // The usage records do not know turns or duration; the history does.
            for row in &mut report.rows {
                if let Some(&(turns, ms)) = details.get(row.session_id.as_str()) {
                    // Claude Code's own duration when it reported one, else the responses' span.
                    let span_ms = row.last_at.as_millisecond() - row.first_at.as_millisecond();
                    row.turns = Some(turns);
                    row.duration_ms = Some(if ms > 0 {
                        ms
                    } else {
                        u64::try_from(span_ms).unwrap_or(0)
                    });
                }
            }
            output(args, &report, ccusage::sessions, |r| {
                text::sessions_text(r, &opts, look)
            })?
        }
        ReportKindArg::Projects => output(
            args,
            &in_order(args, report::projects(&groups, &sessions, &opts, &prices)),
            |_| Value::Null,
            |r| text::projects_text(r, look),
        )?,
        ReportKindArg::Models => output(
            args,
            &in_order(args, report::models(&groups, &opts, &prices)),
            |_| Value::Null,
            |r| text::models_text(r, look),
        )?,
        ReportKindArg::Blocks => blocks_output(args, &records, &opts, &prices, limit, look)?,
        ReportKindArg::Tools => {
            let store = store.as_deref().map(|s| s as &dyn cclive_store::Store);
            tools::output(json(args), store, &opts, &prices, look.term)?
        }
    };
    crate::output::term::print(&text)?;
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

/// The core's options from the flags; `now` places `--last` and `--recent`.
fn options(args: &ReportArgs, now: Timestamp) -> anyhow::Result<ReportOptions> {
    let tz = match &args.tz {
        Some(name) => crate::config::zone_named(name)
            .with_context(|| format!("--tz {name:?} is not a known IANA time zone"))?,
        None => crate::config::system_zone(),
    };
    let mut opts = ReportOptions::new(tz);
    opts.since = args.since.as_deref().map(parse_date).transpose()?;
    opts.until = args.until.as_deref().map(parse_date).transpose()?;
    opts.project.clone_from(&args.project);
    // ccusage's JSON always carries each row's models.
    opts.breakdown = args.breakdown || args.json_format == Some(JsonFormatArg::Ccusage);
    opts.week_start = week_start(args.week_start).unwrap_or_default();
    let today = now.to_zoned_datetime(opts.tz.clone()).date();
    if let Some(n) = args.last {
        opts.since = Some(last_since(args.kind, n, today, opts.week_start)?);
    }
    if args.recent {
        if args.kind != ReportKindArg::Blocks {
            bail!("--recent goes with `cclive report blocks`");
        }
        // ccusage's "last 3 days": today and the three before it.
        let three_ago = today.checked_sub(3.days()).unwrap_or(today);
        opts.since = Some(opts.since.map_or(three_ago, |s| s.min(three_ago)));
    }
    if args.session_length.is_some() && args.kind != ReportKindArg::Blocks {
        bail!("--session-length goes with `cclive report blocks`");
    }
    if let (Some(s), Some(u)) = (opts.since, opts.until)
        && s > u
    {
        bail!("--since {s} is after --until {u}");
    }
    Ok(opts)
}

/// The first day of the last `n` days, weeks or months, this one included.
fn last_since(
    kind: ReportKindArg,
    n: u32,
    today: Date,
    week_start: WeekStart,
) -> anyhow::Result<Date> {
    if n == 0 {
        bail!("--last takes 1 or more (1 is today, this week or this month)");
    }
    let back = i64::from(n - 1);
    let since = match kind {
        ReportKindArg::Daily => today.checked_sub(back.days()),
        ReportKindArg::Weekly => week_start.week_of(today).checked_sub((back * 7).days()),
        ReportKindArg::Monthly => today.first_of_month().checked_sub(back.months()),
        other => bail!("--last goes with daily, weekly and monthly reports, not {other:?}"),
    };
    since.context("--last reaches before the first date cclive can show")
}

/// `--json` or `--json-format`.
fn json(args: &ReportArgs) -> bool {
    args.json || args.json_format.is_some()
}

/// The report with `--order` applied.
fn in_order<R>(args: &ReportArgs, mut report: Report<R>) -> Report<R> {
    ordered(args, &mut report);
    report
}

/// `--order desc` reverses the report's rows.
fn ordered<R>(args: &ReportArgs, report: &mut Report<R>) {
    if args.order == Some(OrderArg::Desc) {
        report.rows.reverse();
    }
}

/// What the sessions table shows beside the usage: turns and duration, by session id.
fn session_details(
    store: &dyn cclive_store::Store,
) -> anyhow::Result<std::collections::HashMap<String, (u64, u64)>> {
    Ok(store
        .sessions(&cclive_store::SessionQuery::default())
        .context("reading sessions from the history database")?
        .into_iter()
        .map(|s| (s.session_id.to_string(), (s.num_turns, s.duration_ms)))
        .collect())
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

/// JSON (cclive's shape, or ccusage's from `ccusage`), or the text `table` makes of the report.
fn output<R: Serialize>(
    args: &ReportArgs,
    report: &Report<R>,
    ccusage: impl FnOnce(&Report<R>) -> Value,
    table: impl FnOnce(&Report<R>) -> String,
) -> anyhow::Result<String> {
    if args.json_format == Some(JsonFormatArg::Ccusage) {
        Ok(serde_json::to_string_pretty(&ccusage(report))? + "\n")
    } else if json(args) {
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

/// The blocks report (`--session-length` long), or only its active block (`--active`).
fn blocks_output(
    args: &ReportArgs,
    records: &[report::UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
    limit: Option<TokenLimit>,
    look: Look,
) -> anyhow::Result<String> {
    let length_ms = match args.session_length {
        None => blocks::BLOCK_LENGTH_MS,
        Some(h) if h.is_finite() && h > 0.0 && h <= 24.0 * 7.0 => whole_ms(h * 3_600_000.0),
        Some(h) => bail!("--session-length takes hours, more than 0 and at most 168, not {h}"),
    };
    let now = Timestamp::now();
    let mut r = blocks::report_of_length(records, opts, prices, now, limit, length_ms);
    ordered(args, &mut r);
    if args.active {
        r.rows.retain(|b| b.active);
        if args.json_format == Some(JsonFormatArg::Ccusage) {
            return Ok(serde_json::to_string_pretty(&ccusage::blocks(&r, length_ms))? + "\n");
        }
        let active = r.rows.first();
        if json(args) {
            return Ok(serde_json::to_string_pretty(&active)? + "\n");
        }
        return Ok(match active {
            Some(b) => text::active_text(b, opts, r.token_limit, look),
            None => "No active block: nothing was used in the last 5 hours' window.\n".to_owned(),
        });
    }
    output(
        args,
        &r,
        |r| ccusage::blocks(r, length_ms),
        |r| text::blocks_text(r, opts, length_ms, look),
    )
}

#[allow(clippy::cast_possible_truncation)]
fn whole_ms(v: f64) -> i64 {
    v.round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    use text::short_model;

    #[test]
    fn dates_and_models_read_and_shorten() {
        assert_eq!(parse_date("2026-09-03").unwrap().to_string(), "2026-09-03");
        assert_eq!(parse_date("20260903").unwrap().to_string(), "2026-09-03");
        assert!(parse_date("03/09/2026").is_err());
        assert_eq!(short_model("claude-sonnet-4-20250514"), "sonnet-4");
        assert_eq!(short_model("claude-opus-4-1"), "opus-4-1");
        assert_eq!(short_model("<synthetic>"), "<synthetic>");
    }
}
