//! Calendar blocks: which sessions become which event in the user's calendar, and what the
//! event says.
//!
//! A [`Planner`] is fed every session's latest state and keeps one [`Block`] per calendar event.
//! Its rules, all here:
//! - Which sessions: all, or those whose project matches one of [`Rules::projects`] (its full
//!   path, a folder above it, or its last path component).
//! - Merging: a session that starts while a block of its project is live, or within
//!   [`Rules::merge_window`] of that block's end, joins it (zero: every session is its own block).
//!   A block's event keeps the UID of its first session (`<session id>@cclive`), so rewriting
//!   it never makes a second event.
//! - A block's status: live (`ACTIVE` or `IDLE`) while any of its sessions is; then `FAILED` if
//!   one failed, else `INTERRUPTED` if one was interrupted, else `COMPLETED`.
//! - [`Rules::min_duration`]: a block is written only once it has lasted that long.
//!
//! It never reads a clock (`now` is passed in) and does no I/O; the calendar sink in the binary
//! decides when to write (coalescing, retries) and how (CalDAV).

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use crate::{CostSource, SessionId, SessionState, Status, Tokens};

/// The default event title: `{project}` and `{status}` filled in ([`Block::title`]).
pub const DEFAULT_TITLE: &str = "Claude Code: {project} ({status})";

/// Which sessions make which blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// Sessions starting within this long after a block of their project ended join it.
    /// Zero: never merge.
    pub merge_window: SignedDuration,
    /// A block is written once it has lasted this long (zero: at once).
    pub min_duration: SignedDuration,
    /// Projects whose sessions count (empty: all).
    pub projects: Vec<String>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            merge_window: SignedDuration::from_mins(5),
            min_duration: SignedDuration::ZERO,
            projects: Vec::new(),
        }
    }
}

impl Rules {
    /// True when `s` counts under [`Rules::projects`].
    pub fn wants(&self, s: &SessionState) -> bool {
        if self.projects.is_empty() {
            return true;
        }
        let Some(path) = project_path(s) else {
            return false;
        };
        let path = path.trim_end_matches('/');
        self.projects.iter().any(|p| {
            let p = p.trim_end_matches('/');
            !p.is_empty()
                && (path == p
                    || path
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.starts_with('/'))
                    || (!p.contains('/') && project_name_of(path) == p))
        })
    }
}

/// One session's part of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockSession {
    /// The session.
    pub session_id: SessionId,
    /// Its status.
    pub status: Status,
    /// When it began.
    pub started_at: Timestamp,
    /// When it ended (its last change when it ended without saying when).
    pub ended_at: Option<Timestamp>,
    /// Its cost in USD.
    pub total_cost_usd: f64,
    /// Reported or estimated.
    pub cost_source: CostSource,
    /// Its turns.
    pub num_turns: u64,
    /// Its tokens.
    pub tokens: Tokens,
    /// Its main model.
    pub model: Option<String>,
}

impl BlockSession {
    fn of(s: &SessionState) -> BlockSession {
        BlockSession {
            session_id: s.session_id.clone(),
            status: s.status,
            started_at: s.started_at,
            ended_at: if s.status.is_live() {
                None
            } else {
                Some(s.ended_at.unwrap_or(s.updated_at))
            },
            total_cost_usd: s.total_cost_usd,
            cost_source: s.cost_source,
            num_turns: s.num_turns,
            tokens: s.tokens,
            model: s.model.clone(),
        }
    }
}

/// One calendar event: one session, or several of one project close together.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The event's UID: its first session's id, `@cclive`.
    pub uid: String,
    /// The project's full path, when known.
    pub project_path: Option<String>,
    /// Its sessions, in the order they joined.
    pub sessions: Vec<BlockSession>,
}

impl Block {
    /// When its first session began.
    pub fn start(&self) -> Timestamp {
        self.sessions
            .iter()
            .map(|s| s.started_at)
            .min()
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// When its last session ended; `now` while one is live.
    pub fn end(&self, now: Timestamp) -> Timestamp {
        if self.is_live() {
            return now.max(self.start());
        }
        self.sessions
            .iter()
            .filter_map(|s| s.ended_at)
            .max()
            .unwrap_or_else(|| self.start())
    }

    /// True while one of its sessions runs.
    pub fn is_live(&self) -> bool {
        self.sessions.iter().any(|s| s.status.is_live())
    }

    /// See the module docs.
    pub fn status(&self) -> Status {
        let has = |status: Status| self.sessions.iter().any(|s| s.status == status);
        [
            Status::Active,
            Status::Idle,
            Status::Failed,
            Status::Interrupted,
        ]
        .into_iter()
        .find(|s| has(*s))
        .unwrap_or(Status::Completed)
    }

    /// How long it has lasted by `now`.
    pub fn duration(&self, now: Timestamp) -> SignedDuration {
        self.end(now).duration_since(self.start())
    }

    /// Its sessions' costs added up.
    pub fn total_cost_usd(&self) -> f64 {
        self.sessions.iter().map(|s| s.total_cost_usd).sum()
    }

    /// `reported` only when every session's cost is Claude Code's own.
    pub fn cost_source(&self) -> CostSource {
        if self
            .sessions
            .iter()
            .all(|s| s.cost_source == CostSource::Reported)
        {
            CostSource::Reported
        } else {
            CostSource::Estimated
        }
    }

    /// Its sessions' turns added up.
    pub fn num_turns(&self) -> u64 {
        self.sessions.iter().map(|s| s.num_turns).sum()
    }

    /// Its sessions' tokens added up.
    pub fn tokens(&self) -> Tokens {
        let mut total = Tokens::default();
        for s in &self.sessions {
            total.add(&s.tokens);
        }
        total
    }

    /// The project's name (last path component), or `unknown project`.
    pub fn project_name(&self) -> &str {
        self.project_path
            .as_deref()
            .map(project_name_of)
            .filter(|n| !n.is_empty())
            .unwrap_or("unknown project")
    }

    /// The models its sessions used, first seen first.
    pub fn models(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in self.sessions.iter().filter_map(|s| s.model.as_deref()) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    /// The title `template` gives: `{project}`, `{status}` (`in progress` while live, else
    /// `completed`, `failed`, `interrupted`), `{cost}` (`$0.42`), `{turns}`, `{tokens}`,
    /// `{model}`, `{sessions}` replaced; anything else is kept as written.
    pub fn title(&self, template: &str) -> String {
        let status = if self.is_live() {
            "in progress".to_owned()
        } else {
            self.status().as_str().to_ascii_lowercase()
        };
        let values = [
            ("{project}", self.project_name().to_owned()),
            ("{status}", status),
            ("{cost}", format!("${:.2}", self.total_cost_usd())),
            ("{turns}", self.num_turns().to_string()),
            ("{tokens}", self.tokens().total().to_string()),
            ("{model}", self.models().join(", ")),
            ("{sessions}", self.sessions.len().to_string()),
        ];
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        'outer: while !rest.is_empty() {
            for (key, value) in &values {
                if let Some(after) = rest.strip_prefix(key) {
                    out.push_str(value);
                    rest = after;
                    continue 'outer;
                }
            }
            let mut chars = rest.chars();
            out.extend(chars.next());
            rest = chars.as_str();
        }
        out
    }
}

/// The blocks of every session seen, by UID. See the module docs.
#[derive(Debug, Default)]
pub struct Planner {
    rules: Rules,
    blocks: HashMap<String, Block>,
    of_session: HashMap<SessionId, String>,
}

impl Planner {
    /// A planner following `rules`.
    pub fn new(rules: Rules) -> Planner {
        Planner {
            rules,
            ..Planner::default()
        }
    }

    /// Takes a session's latest state. Returns the UID of the block it changed, or `None` when
    /// the session does not count.
    pub fn apply(&mut self, s: &SessionState) -> Option<&str> {
        if let Some(uid) = self.of_session.get(&s.session_id) {
            let block = self.blocks.get_mut(uid)?;
            let part = BlockSession::of(s);
            if let Some(slot) = block
                .sessions
                .iter_mut()
                .find(|x| x.session_id == s.session_id)
            {
                *slot = part;
            }
            if block.project_path.is_none() {
                block.project_path = project_path(s).map(str::to_owned);
            }
            return Some(block.uid.as_str());
        }
        if !self.rules.wants(s) {
            return None;
        }
        let uid = if let Some(uid) = self.joinable(s) {
            let block = self.blocks.get_mut(&uid)?;
            block.sessions.push(BlockSession::of(s));
            uid
        } else {
            let uid = uid_of(&s.session_id);
            self.blocks.insert(
                uid.clone(),
                Block {
                    uid: uid.clone(),
                    project_path: project_path(s).map(str::to_owned),
                    sessions: vec![BlockSession::of(s)],
                },
            );
            uid
        };
        self.of_session.insert(s.session_id.clone(), uid);
        self.of_session.get(&s.session_id).map(String::as_str)
    }

    /// The block of a new session `s`, if it joins one.
    fn joinable(&self, s: &SessionState) -> Option<String> {
        if self.rules.merge_window <= SignedDuration::ZERO {
            return None;
        }
        let path = project_path(s)?;
        self.blocks
            .values()
            .filter(|b| b.project_path.as_deref() == Some(path))
            .filter(|b| {
                b.is_live()
                    || (s.started_at >= b.start()
                        && s.started_at <= b.end(s.started_at) + self.rules.merge_window)
            })
            .max_by_key(|b| b.end(s.started_at))
            .map(|b| b.uid.clone())
    }

    /// The block with this UID.
    pub fn block(&self, uid: &str) -> Option<&Block> {
        self.blocks.get(uid)
    }

    /// True once the block has lasted [`Rules::min_duration`] (live blocks count up to `now`).
    pub fn long_enough(&self, uid: &str, now: Timestamp) -> bool {
        self.blocks
            .get(uid)
            .is_some_and(|b| b.duration(now) >= self.rules.min_duration)
    }

    /// Drops finished blocks no session can join any more (ended more than the merge window
    /// before `now`) but those `keep` holds on to (e.g. not written yet), and returns their
    /// UIDs, so memory stays bounded.
    pub fn forget_finished(&mut self, now: Timestamp, keep: &dyn Fn(&str) -> bool) -> Vec<String> {
        let window = self.rules.merge_window.max(SignedDuration::ZERO);
        let old: Vec<String> = self
            .blocks
            .values()
            .filter(|b| !b.is_live() && b.end(now) + window < now && !keep(&b.uid))
            .map(|b| b.uid.clone())
            .collect();
        for uid in &old {
            self.blocks.remove(uid);
        }
        self.of_session.retain(|_, uid| !old.contains(uid));
        old
    }

    /// Blocks held now.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// True when no block is held.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

/// The stable UID of a session's event: `<session id>@cclive` (as in `/calendar.ics`).
pub fn uid_of(id: &SessionId) -> String {
    format!("{}@cclive", id.as_str())
}

fn project_path(s: &SessionState) -> Option<&str> {
    s.project_path
        .as_deref()
        .or(s.cwd.as_deref())
        .filter(|p| !p.is_empty())
}

fn project_name_of(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_second(1_790_000_000 + minute * 60).unwrap()
    }

    fn session(id: &str, cwd: &str, start: i64, end: Option<(i64, Status)>) -> SessionState {
        let mut s = SessionState::new(SessionId::new(id), at(start));
        s.cwd = Some(cwd.into());
        s.updated_at = at(start);
        s.total_cost_usd = 0.25;
        s.num_turns = 2;
        s.tokens.input = 100;
        if let Some((end, status)) = end {
            s.status = status;
            s.ended_at = Some(at(end));
            s.updated_at = at(end);
        }
        s
    }

    #[test]
    fn sessions_close_together_in_one_project_share_one_block() {
        let mut p = Planner::new(Rules::default());
        let a = session("a", "/w/app", 0, Some((10, Status::Completed)));
        assert_eq!(p.apply(&a), Some("a@cclive"));
        // Starts 4 minutes after a ended: joins.
        let b = session("b", "/w/app", 14, None);
        assert_eq!(p.apply(&b), Some("a@cclive"));
        // Another project: its own block.
        assert_eq!(p.apply(&session("c", "/w/lib", 14, None)), Some("c@cclive"));
        let block = p.block("a@cclive").unwrap();
        assert_eq!(block.sessions.len(), 2);
        assert!(block.is_live());
        assert_eq!(block.status(), Status::Active);
        assert_eq!(block.start(), at(0));
        assert_eq!(block.end(at(20)), at(20));
        // b ends interrupted: the block says so.
        let b = session("b", "/w/app", 14, Some((30, Status::Interrupted)));
        assert_eq!(p.apply(&b), Some("a@cclive"));
        let block = p.block("a@cclive").unwrap();
        assert_eq!(block.status(), Status::Interrupted);
        assert_eq!(block.end(at(99)), at(30));
        assert_eq!(block.num_turns(), 4);
        assert!((block.total_cost_usd() - 0.5).abs() < 1e-9);
        assert_eq!(block.tokens().input, 200);
        // 6 minutes after: too late, a new block.
        assert_eq!(p.apply(&session("d", "/w/app", 36, None)), Some("d@cclive"));
    }

    #[test]
    fn no_merge_window_no_merging_even_for_overlaps() {
        let mut p = Planner::new(Rules {
            merge_window: SignedDuration::ZERO,
            ..Rules::default()
        });
        p.apply(&session("a", "/w/app", 0, None));
        assert_eq!(p.apply(&session("b", "/w/app", 1, None)), Some("b@cclive"));
    }

    #[test]
    fn projects_filter_by_path_parent_or_name() {
        let rules = Rules {
            projects: vec!["/w/app".into(), "lib".into(), "/x/".into()],
            ..Rules::default()
        };
        for (cwd, wanted) in [
            ("/w/app", true),
            ("/w/app/sub", true),
            ("/w/apple", false),
            ("/other/lib", true),
            ("/x/y", true),
            ("/y", false),
        ] {
            assert_eq!(rules.wants(&session("a", cwd, 0, None)), wanted, "{cwd}");
        }
        let mut none = session("a", "/w/app", 0, None);
        none.cwd = None;
        assert!(!rules.wants(&none));
        assert!(Rules::default().wants(&none));
    }

    #[test]
    fn min_duration_and_forgetting() {
        let mut p = Planner::new(Rules {
            min_duration: SignedDuration::from_mins(5),
            ..Rules::default()
        });
        p.apply(&session("a", "/w/app", 0, None));
        assert!(!p.long_enough("a@cclive", at(4)));
        assert!(p.long_enough("a@cclive", at(5)));
        p.apply(&session("a", "/w/app", 0, Some((3, Status::Completed))));
        assert!(!p.long_enough("a@cclive", at(60)), "ended after 3 minutes");
        assert!(
            p.forget_finished(at(7), &|_| false).is_empty(),
            "still joinable"
        );
        assert!(p.forget_finished(at(9), &|_| true).is_empty(), "kept");
        assert_eq!(p.forget_finished(at(9), &|_| false), ["a@cclive"]);
        assert!(p.is_empty());
    }

    #[test]
    fn titles_fill_in_their_placeholders() {
        let mut p = Planner::new(Rules::default());
        let mut s = session("a", "/w/my-app", 0, None);
        s.model = Some("claude-sonnet-4-5".into());
        p.apply(&s);
        let b = p.block("a@cclive").unwrap();
        assert_eq!(b.title(DEFAULT_TITLE), "Claude Code: my-app (in progress)");
        assert_eq!(
            b.title("{cost} · {turns} turns · {tokens} tok · {model} · {sessions} · {x}"),
            "$0.25 · 2 turns · 100 tok · claude-sonnet-4-5 · 1 · {x}"
        );
        p.apply(&session("a", "/w/my-app", 0, Some((1, Status::Failed))));
        assert_eq!(p.block("a@cclive").unwrap().title("{status}"), "failed");
    }
}
