//! Sessions as an iCalendar (RFC 5545) calendar: one `VEVENT` per session.
//!
//! A pure writer shared by `GET /calendar.ics` and `cclive report sessions --ics`. It owns the
//! format's rules — CRLF line endings, lines folded at 75 octets (never inside a UTF-8
//! character), TEXT escaping of `\ ; ,` and newlines, UTC times as `YYYYMMDDTHHMMSSZ` — and never
//! reads the clock: "now" (the end of live sessions, and `DTSTAMP`) is passed in.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::calendar::Block;
use crate::{CostSource, SessionState, Tokens};

/// The `PRODID` of every calendar cclive writes.
pub const PRODID: &str = "-//cclive//cclive sessions//EN";

/// Longest line in octets, the CRLF excluded (RFC 5545 §3.1).
const FOLD_AT: usize = 75;

/// The calendar of `sessions`, one event each. Live sessions end at `now`; a finished session
/// that never recorded its end ends at its last change.
pub fn calendar(sessions: &[SessionState], now: Timestamp) -> String {
    let mut out = begin_calendar();
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, "X-WR-CALNAME:Claude Code sessions");
    for s in sessions {
        event(&mut out, s, now);
    }
    line(&mut out, "END:VCALENDAR");
    out
}

fn event(out: &mut String, s: &SessionState, now: Timestamp) {
    let end = if s.status.is_live() {
        now
    } else {
        s.ended_at.unwrap_or(s.updated_at)
    };
    line(out, "BEGIN:VEVENT");
    line(
        out,
        &format!("UID:{}", text(&format!("{}@cclive", s.session_id.as_str()))),
    );
    line(out, &format!("DTSTAMP:{}", utc(now)));
    line(out, &format!("DTSTART:{}", utc(s.started_at)));
    // DTEND must be later than DTSTART; without it the event ends where it starts.
    if utc(end) > utc(s.started_at) {
        line(out, &format!("DTEND:{}", utc(end)));
    }
    line(
        out,
        &format!(
            "SUMMARY:{}",
            text(&format!("{} — {}", project_name(s), s.status.as_str()))
        ),
    );
    line(out, &format!("DESCRIPTION:{}", text(&description(s))));
    if let Some(path) = s.project_path.as_deref().or(s.cwd.as_deref()) {
        line(out, &format!("LOCATION:{}", text(path)));
    }
    line(out, &format!("LAST-MODIFIED:{}", utc(s.updated_at)));
    line(out, "TRANSP:TRANSPARENT");
    line(out, "END:VEVENT");
}

/// The project's last path component (`project_path`, else `cwd`).
fn project_name(s: &SessionState) -> &str {
    let path = s.project_path.as_deref().or(s.cwd.as_deref()).unwrap_or("");
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "unknown project"
    } else {
        name
    }
}

fn description(s: &SessionState) -> String {
    let mut d = figures(s.total_cost_usd, s.cost_source, s.num_turns, &s.tokens);
    if let Some(model) = &s.model {
        let _ = write!(d, "\nModel: {model}");
    }
    let _ = write!(d, "\nSession: {}", s.session_id.as_str());
    d
}

/// `BEGIN:VCALENDAR` and the properties every calendar cclive writes has.
fn begin_calendar() -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, &format!("PRODID:{PRODID}"));
    line(&mut out, "CALSCALE:GREGORIAN");
    out
}

/// The cost, turns and tokens lines of a description.
fn figures(cost: f64, source: CostSource, turns: u64, t: &Tokens) -> String {
    let source = match source {
        CostSource::Reported => "reported by Claude Code",
        CostSource::Estimated => "estimated",
    };
    format!(
        "Cost: ${cost:.4} ({source})\nTurns: {turns}\nTokens: {} (input {}, output {}, cache \
         read {}, cache write {})",
        t.total(),
        t.input,
        t.output,
        t.cache_read,
        t.cache_creation
    )
}

/// A calendar block (see [`crate::calendar`]) as a calendar of one `VEVENT`, for a CalDAV `PUT`.
///
/// Its UID is the block's; `SUMMARY` is `title`; `STATUS` is `TENTATIVE` while a session runs
/// (the block is "in progress", `X-CCLIVE-STATUS:ACTIVE`) and `CONFIRMED` once all ended, with
/// the true start and end; `DESCRIPTION` has the figures, each session's status and, with
/// `link_base` (the dashboard's address), a link to each session's page (the first also as
/// `URL`). `now` is `DTSTAMP` and the end of a live block.
pub fn block_calendar(
    block: &Block,
    title: &str,
    link_base: Option<&str>,
    now: Timestamp,
) -> String {
    let link =
        |id: &str| link_base.map(|base| format!("{}/sessions/{id}", base.trim_end_matches('/')));
    let status = block.status();
    let mut out = begin_calendar();
    line(&mut out, "BEGIN:VEVENT");
    line(&mut out, &format!("UID:{}", text(&block.uid)));
    line(&mut out, &format!("DTSTAMP:{}", utc(now)));
    let (start, end) = (block.start(), block.end(now));
    line(&mut out, &format!("DTSTART:{}", utc(start)));
    // DTEND must be after DTSTART: a block that just began lasts a minute on the calendar.
    let end = if utc(end) > utc(start) {
        end
    } else {
        start + jiff::SignedDuration::from_mins(1)
    };
    line(&mut out, &format!("DTEND:{}", utc(end)));
    line(&mut out, &format!("SUMMARY:{}", text(title)));
    let mut d = if block.is_live() {
        format!("In progress ({status})\n")
    } else {
        format!("Status: {status}\n")
    };
    d.push_str(&figures(
        block.total_cost_usd(),
        block.cost_source(),
        block.num_turns(),
        &block.tokens(),
    ));
    let models = block.models();
    if !models.is_empty() {
        let _ = write!(d, "\nModel: {}", models.join(", "));
    }
    for s in &block.sessions {
        let _ = write!(d, "\nSession {}: {}", s.session_id.as_str(), s.status);
        if let Some(url) = link(s.session_id.as_str()) {
            let _ = write!(d, " {url}");
        }
    }
    line(&mut out, &format!("DESCRIPTION:{}", text(&d)));
    if let Some(path) = &block.project_path {
        line(&mut out, &format!("LOCATION:{}", text(path)));
    }
    if let Some(url) = block
        .sessions
        .first()
        .and_then(|s| link(s.session_id.as_str()))
    {
        line(&mut out, &format!("URL:{url}"));
    }
    line(&mut out, "CATEGORIES:Claude Code");
    line(
        &mut out,
        if block.is_live() {
            "STATUS:TENTATIVE"
        } else {
            "STATUS:CONFIRMED"
        },
    );
    line(&mut out, &format!("X-CCLIVE-STATUS:{status}"));
    line(&mut out, &format!("LAST-MODIFIED:{}", utc(now)));
    line(&mut out, "TRANSP:OPAQUE");
    line(&mut out, "END:VEVENT");
    line(&mut out, "END:VCALENDAR");
    out
}

/// A UTC DATE-TIME (`19970714T173000Z`).
fn utc(ts: Timestamp) -> String {
    ts.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 §3.3.11): `\`, `;`, `,` escaped, newlines as `\n`, other controls
/// dropped.
pub fn text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets (continuations begin with a space), and CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        if width + c.len_utf8() > FOLD_AT {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SessionId, Status};

    fn session(id: &str, status: Status) -> SessionState {
        let mut s = SessionState::new(SessionId::new(id), "2026-11-25T10:00:00Z".parse().unwrap());
        s.status = status;
        s.project_path = Some("/home/me/code/my,proj;x".into());
        s.updated_at = "2026-11-25T10:30:00Z".parse().unwrap();
        s.total_cost_usd = 0.5;
        s.num_turns = 3;
        s
    }

    #[test]
    fn every_line_ends_in_crlf_and_fits_in_75_octets() {
        let mut s = session("a", Status::Completed);
        s.model = Some("é".repeat(100));
        let ics = calendar(&[s], "2026-11-25T12:00:00Z".parse().unwrap());
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "{l:?}");
            assert!(!l.contains('\n') && !l.contains('\r'));
        }
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("Model: {}", "é".repeat(100))));
    }

    #[test]
    fn text_is_escaped_and_times_are_utc() {
        let s = session("a;b", Status::Completed);
        let ics = calendar(&[s], "2026-11-25T12:00:00Z".parse().unwrap()).replace("\r\n ", "");
        assert!(ics.contains("UID:a\\;b@cclive\r\n"));
        assert!(ics.contains("SUMMARY:my\\,proj\\;x — COMPLETED\r\n"));
        assert!(ics.contains("DTSTART:20261125T100000Z\r\n"));
        assert!(ics.contains("DTEND:20261125T103000Z\r\n"));
        assert!(ics.contains("DTSTAMP:20261125T120000Z\r\n"));
        assert!(ics.contains("Cost: $0.5000 (estimated)\\nTurns: 3\\n"));
        assert_eq!(text("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn a_block_is_one_event_in_progress_then_confirmed_with_its_figures() {
        let mut planner = crate::calendar::Planner::new(crate::calendar::Rules::default());
        let mut s = session("s1", Status::Active);
        s.tokens.output = 42;
        planner.apply(&s);
        let now = "2026-11-25T10:05:00Z".parse().unwrap();
        let block = planner.block("s1@cclive").unwrap();
        let ics = block_calendar(block, "T, live", Some("http://127.0.0.1:8501/"), now)
            .replace("\r\n ", "");
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 1);
        assert!(ics.contains("UID:s1@cclive\r\n"));
        assert!(ics.contains("SUMMARY:T\\, live\r\n"));
        assert!(ics.contains("STATUS:TENTATIVE\r\n"));
        assert!(ics.contains("X-CCLIVE-STATUS:ACTIVE\r\n"));
        assert!(ics.contains("DTEND:20261125T100500Z\r\n"));
        assert!(ics.contains("URL:http://127.0.0.1:8501/sessions/s1\r\n"));
        assert!(ics.contains("DESCRIPTION:In progress (ACTIVE)\\nCost: $0.5000"));

        s.status = Status::Interrupted;
        s.ended_at = Some("2026-11-25T10:20:00Z".parse().unwrap());
        planner.apply(&s);
        let block = planner.block("s1@cclive").unwrap();
        let later = "2026-11-25T11:00:00Z".parse().unwrap();
        let ics = block_calendar(block, "T", None, later).replace("\r\n ", "");
        assert!(ics.contains("STATUS:CONFIRMED\r\n"));
        assert!(ics.contains("X-CCLIVE-STATUS:INTERRUPTED\r\n"));
        assert!(ics.contains("DTSTART:20261125T100000Z\r\n"));
        assert!(ics.contains("DTEND:20261125T102000Z\r\n"));
        assert!(ics.contains("Status: INTERRUPTED\\nCost: $0.5000 (estimated)\\nTurns: 3"));
        assert!(ics.contains("Session s1: INTERRUPTED"));
        assert!(!ics.contains("URL:"));
    }

    #[test]
    fn a_live_session_ends_now() {
        let s = session("live", Status::Active);
        let ics = calendar(&[s], "2026-11-25T11:00:00Z".parse().unwrap());
        assert!(ics.contains("DTEND:20261125T110000Z\r\n"));
        assert!(ics.contains("SUMMARY:my\\,proj\\;x — ACTIVE\r\n"));
    }
}
