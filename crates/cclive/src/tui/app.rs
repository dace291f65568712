//! The dashboard's state and what keys do to it: pure, so every key and every message can be
//! tested without a terminal.
//!
//! Data arrives as [`Msg`]s (from the monitor's stream or the in-process monitor, and from the
//! store reader); keys arrive as crossterm [`KeyEvent`]s and return an [`Action`] when the
//! outside world must do something (read a turn list, quit). [`super::view`] draws an `App`; it
//! never changes it.

use std::collections::{BTreeSet, HashMap, HashSet};

use cclive_core::plans::{Plan, PlanLimits};
use cclive_core::{SessionId, SessionState, Snapshot, Status, Update, UpdateKind};
use cclive_store::{SessionOrder, SortKey};
use jiff::Timestamp;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::data::History;
use super::turns::TurnRow;

/// The columns `s` cycles through, in order.
pub const SORT_KEYS: [SortKey; 8] = [
    SortKey::StartedAt,
    SortKey::Cost,
    SortKey::Duration,
    SortKey::Turns,
    SortKey::Tokens,
    SortKey::Project,
    SortKey::Model,
    SortKey::Status,
];

/// Where the live figures come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A running monitor's stream at this address.
    Following {
        /// Its address.
        addr: String,
        /// False while the stream is down (it reconnects by itself).
        connected: bool,
    },
    /// The monitor runs in this process.
    Own {
        /// True while it reads the history that was written while no monitor ran.
        catching_up: bool,
    },
}

/// Something that happened outside: data to show.
#[derive(Clone, Debug)]
pub enum Msg {
    /// The full live state (first, and after a resync).
    Snapshot(Box<Snapshot>),
    /// One session changed.
    Update(Box<Update>),
    /// Fresh figures from the store.
    History(Box<History>),
    /// A turn list that was asked for.
    Turns {
        /// Whose.
        session_id: SessionId,
        /// The turns, or why they could not be read.
        result: Result<Vec<TurnRow>, String>,
    },
    /// The live source changed state.
    Source(Source),
    /// A line to show at the bottom (a budget alert, a lost connection).
    Notice(String),
    /// The clock moved (durations, block time left).
    Tick(Timestamp),
    /// Stop (a signal).
    Quit,
    /// A key from the terminal (the runtime hands it to [`App::on_key`]).
    Key(KeyEvent),
    /// The terminal changed size.
    Resize,
}

/// What the caller must do after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Restore the terminal and exit.
    Quit,
    /// Read this session's turn list (answer with [`Msg::Turns`]).
    LoadTurns(SessionId),
}

/// Which screen.
#[derive(Clone, Debug, PartialEq)]
pub enum View {
    /// Live sessions, block, budgets, history.
    Sessions,
    /// One session's turns.
    Turns(Box<TurnsView>),
}

/// The turn list of one session.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnsView {
    /// The session, as it was when the list was opened.
    pub session: SessionState,
    /// `None` while loading.
    pub turns: Option<Result<Vec<TurnRow>, String>>,
    /// The first turn shown.
    pub scroll: usize,
}

/// The whole state of the dashboard.
#[derive(Clone, Debug)]
pub struct App {
    /// The live state: every `ACTIVE` or `IDLE` session, the current one, official limits.
    pub snapshot: Snapshot,
    /// Figures from the store (`None` until first read).
    pub history: Option<History>,
    /// Where live figures come from.
    pub source: Source,
    /// The last notice.
    pub notice: Option<String>,
    /// The sessions table's order.
    pub order: SessionOrder,
    /// Only sessions of this project (path), when set.
    pub project: Option<String>,
    /// The selected row of the sessions table.
    pub selected: usize,
    /// The screen.
    pub view: View,
    /// The clock, as last ticked.
    pub now: Timestamp,
    /// The subscription plan the block is measured against (`l` cycles; `None`: none).
    pub plan: Option<Plan>,
    /// The user's own token limit for [`Plan::Custom`] (`top --plan-tokens`), over the one
    /// learned from the history.
    pub custom_tokens: Option<u64>,
    /// The user's own cost limit for [`Plan::Custom`] (`top --plan-cost`).
    pub custom_cost_usd: Option<f64>,
    /// The key help is shown over the screen (`?`).
    pub help: bool,
    /// The project picker is open (`p`), with this entry highlighted (0: all projects).
    pub picker: Option<usize>,
    /// Per session: its turns when last seen, and how many the last change added.
    turn_changes: HashMap<SessionId, (u64, u64)>,
}

impl App {
    /// An empty dashboard at `now`.
    pub fn new(source: Source, now: Timestamp) -> App {
        App {
            snapshot: Snapshot::inactive(now),
            history: None,
            source,
            notice: None,
            order: SessionOrder::default(),
            project: None,
            selected: 0,
            view: View::Sessions,
            now,
            plan: None,
            custom_tokens: None,
            custom_cost_usd: None,
            help: false,
            picker: None,
            turn_changes: HashMap::new(),
        }
    }

    /// Takes in one message. Returns true when the caller should stop.
    pub fn apply(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Snapshot(snapshot) => {
                for s in &snapshot.active_sessions {
                    self.note_turns(s);
                }
                self.snapshot = *snapshot;
            }
            Msg::Update(update) => self.update(*update),
            Msg::History(history) => {
                self.now = self.now.max(history.loaded_at);
                self.history = Some(*history);
            }
            Msg::Turns { session_id, result } => {
                if let View::Turns(view) = &mut self.view
                    && view.session.session_id == session_id
                {
                    view.turns = Some(result);
                }
            }
            Msg::Source(source) => self.source = source,
            Msg::Notice(text) => self.notice = Some(text),
            Msg::Tick(now) => self.now = now,
            Msg::Quit => return true,
            // Keys go through `on_key`, which says what to do next.
            Msg::Key(_) | Msg::Resize => {}
        }
        self.clamp_selection();
        false
    }

    fn update(&mut self, update: Update) {
        let session = update.session;
        self.note_turns(&session);
        if session.rate_limits.is_some() {
            self.snapshot.rate_limits.clone_from(&session.rate_limits);
        }
        let live = &mut self.snapshot.active_sessions;
        live.retain(|s| s.session_id != session.session_id);
        if session.status.is_live() {
            live.insert(0, session.clone());
        }
        if update.kind == UpdateKind::Ended {
            self.turn_changes.remove(&session.session_id);
        }
        self.snapshot.status = Some(live.first().map_or(session.status, |s| s.status));
        self.snapshot.data = live.first().cloned().or(Some(session.clone()));
        // The table shows the newest state too.
        if let Some(history) = &mut self.history {
            match history
                .recent
                .iter_mut()
                .find(|s| s.session_id == session.session_id)
            {
                Some(old) => *old = session,
                None => history.recent.insert(0, session),
            }
        }
    }

    fn note_turns(&mut self, s: &SessionState) {
        let entry = self
            .turn_changes
            .entry(s.session_id.clone())
            .or_insert((s.num_turns, 0));
        if s.num_turns != entry.0 {
            *entry = (s.num_turns, s.num_turns.saturating_sub(entry.0));
        }
    }

    /// How many turns the last change of a live session added.
    pub fn turns_added(&self, id: &SessionId) -> u64 {
        self.turn_changes.get(id).map_or(0, |(_, added)| *added)
    }

    /// The live sessions shown (the project filter applies), most recently changed first.
    pub fn live_sessions(&self) -> Vec<&SessionState> {
        let mut live: Vec<&SessionState> = self
            .snapshot
            .active_sessions
            .iter()
            .filter(|s| self.in_project(s))
            .collect();
        live.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.session_id.cmp(&b.session_id))
        });
        live
    }

    /// The sessions table: the stored sessions with the live states over them, filtered by
    /// project, in the chosen order.
    pub fn table_rows(&self) -> Vec<&SessionState> {
        let mut rows: Vec<&SessionState> = self
            .snapshot
            .active_sessions
            .iter()
            .filter(|s| self.in_project(s))
            .collect();
        if let Some(history) = &self.history {
            let live: HashSet<SessionId> = rows.iter().map(|s| s.session_id.clone()).collect();
            rows.extend(
                history
                    .recent
                    .iter()
                    .filter(|s| self.in_project(s) && !live.contains(&s.session_id)),
            );
        }
        // The listing's own order first, so equal keys stay newest first.
        rows.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| a.session_id.cmp(&b.session_id))
        });
        rows.sort_by(|a, b| self.order.compare(a, b));
        rows
    }

    /// Every project seen (live or stored), sorted: what `p` cycles through.
    pub fn projects(&self) -> Vec<String> {
        let stored = self.history.iter().flat_map(|h| h.recent.iter());
        self.snapshot
            .active_sessions
            .iter()
            .chain(stored)
            .filter_map(|s| project_of(s).map(str::to_owned))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    fn in_project(&self, s: &SessionState) -> bool {
        match &self.project {
            None => true,
            Some(p) => project_of(s) == Some(p.as_str()),
        }
    }

    /// The banner: live work, a session waiting, or nothing.
    pub fn banner(&self) -> &'static str {
        let live = &self.snapshot.active_sessions;
        if live.iter().any(|s| s.status == Status::Active) {
            "🔴 LIVE SESSION ACTIVE"
        } else if live.iter().any(|s| s.status == Status::Idle) {
            "🟡 Session waiting for you"
        } else {
            "⚫ No Active Session"
        }
    }

    /// The plan and its limits (Custom: the user's own, else learned from the history).
    pub fn plan_limits(&self) -> Option<(Plan, PlanLimits)> {
        let plan = self.plan?;
        let learned = self.history.as_ref().and_then(|h| h.learned_tokens);
        let mut limits = plan.limits(self.custom_tokens.or(learned));
        if plan == Plan::Custom
            && let Some(cost) = self.custom_cost_usd
        {
            limits.cost_usd = cost;
        }
        Some((plan, limits))
    }

    /// The picker's entries: all projects (`None`), then each project.
    pub fn picker_entries(&self) -> Vec<Option<String>> {
        std::iter::once(None)
            .chain(self.projects().into_iter().map(Some))
            .collect()
    }

    /// What a key does.
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        // The help closes on any key; the picker takes the keys while it is open.
        if self.help {
            self.help = false;
            return Action::None;
        }
        if let Some(at) = self.picker {
            self.on_picker_key(at, key.code);
            return Action::None;
        }
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('?') => {
                self.help = true;
                return Action::None;
            }
            KeyCode::Char('l') => {
                self.plan = match self.plan {
                    None => Some(Plan::ALL[0]),
                    Some(p) => Plan::ALL
                        .iter()
                        .position(|x| *x == p)
                        .and_then(|i| Plan::ALL.get(i + 1))
                        .copied(),
                };
                return Action::None;
            }
            _ => {}
        }
        match &mut self.view {
            View::Turns(view) => {
                match key.code {
                    KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                        self.view = View::Sessions;
                    }
                    KeyCode::Down | KeyCode::Char('j') => view.scroll += 1,
                    KeyCode::Up | KeyCode::Char('k') => view.scroll = view.scroll.saturating_sub(1),
                    KeyCode::Home | KeyCode::Char('g') => view.scroll = 0,
                    _ => {}
                }
                if let View::Turns(view) = &mut self.view {
                    let len = match &view.turns {
                        Some(Ok(turns)) => turns.len(),
                        _ => 0,
                    };
                    view.scroll = view.scroll.min(len.saturating_sub(1));
                }
                Action::None
            }
            View::Sessions => self.on_sessions_key(key.code),
        }
    }

    fn on_sessions_key(&mut self, code: KeyCode) -> Action {
        match code {
            KeyCode::Char('s') => {
                let at = SORT_KEYS
                    .iter()
                    .position(|k| *k == self.order.key)
                    .unwrap_or(0);
                let key = SORT_KEYS[(at + 1) % SORT_KEYS.len()];
                // Text columns read best A→Z; figures and times largest first.
                let descending =
                    !matches!(key, SortKey::Project | SortKey::Model | SortKey::Status);
                self.order = SessionOrder { key, descending };
                self.selected = 0;
            }
            KeyCode::Char('S' | 'r') => {
                self.order.descending = !self.order.descending;
                self.selected = 0;
            }
            KeyCode::Char('p') => {
                // Open on the project shown now.
                let at = self
                    .picker_entries()
                    .iter()
                    .position(|e| *e == self.project)
                    .unwrap_or(0);
                self.picker = Some(at);
            }
            KeyCode::Char('P') | KeyCode::Esc => {
                self.project = None;
                self.selected = 0;
            }
            KeyCode::Down | KeyCode::Char('j') => self.selected += 1,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::PageDown => self.selected += 10,
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = usize::MAX,
            KeyCode::Enter | KeyCode::Char('t') => {
                if let Some(session) = self.table_rows().get(self.selected).copied().cloned() {
                    let id = session.session_id.clone();
                    self.view = View::Turns(Box::new(TurnsView {
                        session,
                        turns: None,
                        scroll: 0,
                    }));
                    return Action::LoadTurns(id);
                }
            }
            _ => {}
        }
        self.clamp_selection();
        Action::None
    }

    fn on_picker_key(&mut self, at: usize, code: KeyCode) {
        let entries = self.picker_entries();
        let last = entries.len().saturating_sub(1);
        match code {
            KeyCode::Down | KeyCode::Char('j' | 'p') => self.picker = Some((at + 1).min(last)),
            KeyCode::Up | KeyCode::Char('k') => self.picker = Some(at.saturating_sub(1)),
            KeyCode::Home | KeyCode::Char('g') => self.picker = Some(0),
            KeyCode::End | KeyCode::Char('G') => self.picker = Some(last),
            KeyCode::Enter => {
                self.project = entries.get(at).cloned().flatten();
                self.picker = None;
                self.selected = 0;
                self.clamp_selection();
            }
            KeyCode::Esc | KeyCode::Char('q') => self.picker = None,
            _ => {}
        }
    }

    fn clamp_selection(&mut self) {
        let rows = self.table_rows().len();
        self.selected = self.selected.min(rows.saturating_sub(1));
    }

    /// The selected session of the table.
    pub fn selected_session(&self) -> Option<&SessionState> {
        self.table_rows().get(self.selected).copied()
    }
}

/// A session's project: its `project_path`, else its `cwd` (as reports have it).
pub fn project_of(s: &SessionState) -> Option<&str> {
    s.project_path.as_deref().or(s.cwd.as_deref())
}
