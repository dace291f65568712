//! Sessions as an iCalendar (RFC 5545) calendar: one `VEVENT` per session.
//!
//! A pure writer shared by `GET /calendar.ics` and `cclive report sessions --ics`. It owns the
//! format's rules — CRLF line endings, lines folded at 75 octets (never inside a UTF-8
//! character), TEXT escaping of `\ ; ,` and newlines, UTC times as `YYYYMMDDTHHMMSSZ` — and never
//! reads the clock: "now" (the end of live sessions, and `DTSTAMP`) is passed in.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::{CostSource, SessionState};

/// The `PRODID` of every calendar cclive writes.
pub const PRODID: &str = "-//cclive//cclive sessions//EN";

/// Longest line in octets, the CRLF excluded (RFC 5545 §3.1).
const FOLD_AT: usize = 75;

/// The calendar of `sessions`, one event each. Live sessions end at `now`; a finished session
/// that never recorded its end ends at its last change.
pub fn calendar(sessions: &[SessionState], now: Timestamp) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, &format!("PRODID:{PRODID}"));
    line(&mut out, "CALSCALE:GREGORIAN");
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
    let t = &s.tokens;
    let source = match s.cost_source {
        CostSource::Reported => "reported by Claude Code",
        CostSource::Estimated => "estimated",
    };
    let mut d = format!(
        "Cost: ${:.4} ({source})\nTurns: {}\nTokens: {} (input {}, output {}, cache read {}, \
         cache write {})",
        s.total_cost_usd,
        s.num_turns,
        t.total(),
        t.input,
        t.output,
        t.cache_read,
        t.cache_creation
    );
    if let Some(model) = &s.model {
        let _ = write!(d, "\nModel: {model}");
    }
    let _ = write!(d, "\nSession: {}", s.session_id.as_str());
    d
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
    fn a_live_session_ends_now() {
        let s = session("live", Status::Active);
        let ics = calendar(&[s], "2026-11-25T11:00:00Z".parse().unwrap());
        assert!(ics.contains("DTEND:20261125T110000Z\r\n"));
        assert!(ics.contains("SUMMARY:my\\,proj\\;x — ACTIVE\r\n"));
    }
}
