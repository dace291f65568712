//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4), and
//! `GET /calendar.ics`: the sessions as an iCalendar calendar.
//!
//! Everything is computed per scrape from what the server already has: the monitor's snapshot
//! (live sessions, fresher than the store), the history (every session: counters by project
//! and model, the duration histogram), and what the binary handed over ([`MetricSources`]): its
//! ingest counters, webhook delivery figures, and budget use. Budgets live in the binary's
//! settings, so it passes a [`BudgetSource`] that evaluates them (with the core's budget rules,
//! against the store) at each scrape; a scrape is then always about the current day, week and
//! month, even when no usage came since midnight. The renderer ([`Exposition`]) is pure and owns
//! the format's rules: one `# HELP` and `# TYPE` per family, label values escaped.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Query;
use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::http::header;
use axum::response::IntoResponse;
use cclive_core::budget::BudgetStatus;
use cclive_core::{SessionState, Status};
use cclive_store::{SessionQuery, StoreError};
use serde::Deserialize;

use crate::{ApiError, AppState};

/// Upper bounds (seconds) of the session-duration histogram's buckets.
const DURATION_BUCKETS: &[f64] = &[60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0];

/// What the transcript follower read: counters shared between the ingest (which adds) and
/// `/metrics` (which reads). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct IngestCounters {
    inner: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    lines: AtomicU64,
    bytes: AtomicU64,
    malformed: AtomicU64,
    probes: AtomicU64,
}

impl IngestCounters {
    /// Counts `lines` complete lines of `bytes` bytes read, `malformed` of them unreadable.
    pub fn add(&self, lines: u64, bytes: u64, malformed: u64) {
        self.inner.lines.fetch_add(lines, Ordering::Relaxed);
        self.inner.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.inner.malformed.fetch_add(malformed, Ordering::Relaxed);
    }

    /// Counts one run of the liveness probe (it reads the session registry and `/proc`).
    pub fn probed(&self) {
        self.inner.probes.fetch_add(1, Ordering::Relaxed);
    }

    /// Liveness probe runs so far: how often an idle monitor wakes itself.
    pub fn probes(&self) -> u64 {
        self.inner.probes.load(Ordering::Relaxed)
    }

    /// `(lines, bytes, malformed)` so far.
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.inner.lines.load(Ordering::Relaxed),
            self.inner.bytes.load(Ordering::Relaxed),
            self.inner.malformed.load(Ordering::Relaxed),
        )
    }
}

/// One webhook's or on_change command's delivery figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// `webhook` or `on_change`.
    pub kind: String,
    /// Its configured name.
    pub name: String,
    /// Delivered.
    pub delivered: u64,
    /// Given up after the last attempt, or refused.
    pub failed: u64,
    /// Dropped from a full queue (or at shutdown).
    pub dropped: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
}

/// Reads every sink's delivery figures.
pub type DeliveryStats = Arc<dyn Fn() -> Vec<DeliveryCounts> + Send + Sync>;

/// The status of every configured budget limit now (global first, then by project key; each
/// by period). Blocking: it reads the store. The binary's evaluates
/// [`cclive_core::budget::evaluate_groups`] over the store's sums of the longest window with a
/// limit.
pub type BudgetSource = Arc<dyn Fn() -> Result<Vec<BudgetStatus>, StoreError> + Send + Sync>;

/// What `/metrics` and `/api/integrations` read besides the snapshot and the store; the binary
/// fills what it has.
#[derive(Clone, Default)]
pub struct MetricSources {
    /// The transcript follower's counters.
    pub ingest: Option<IngestCounters>,
    /// Webhook and on_change delivery figures.
    pub deliveries: Option<DeliveryStats>,
    /// The OTLP intake's counters (the server fills them in itself).
    pub otlp: Option<crate::OtlpCounters>,
    /// Every webhook's and on_change command's figures and recent deliveries, redacted.
    pub integrations: Option<crate::IntegrationsSource>,
    /// Budget use, when budgets are configured.
    pub budgets: Option<BudgetSource>,
    /// The dashboard's panel: the running block, the period spends and every limit's status.
    pub limits: Option<crate::LimitsSource>,
    /// The monitor's catch-up import (`/api/import`), when it runs one.
    pub import: Option<crate::ImportProgress>,
}

impl std::fmt::Debug for MetricSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricSources")
            .field("ingest", &self.ingest)
            .field("deliveries", &self.deliveries.is_some())
            .field("otlp", &self.otlp)
            .field("integrations", &self.integrations.is_some())
            .field("budgets", &self.budgets.is_some())
            .field("limits", &self.limits.is_some())
            .field("import", &self.import)
            .finish()
    }
}

/// A text exposition being written: families in the order they are started.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample of the family last started.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// The text.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// A label value: `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// A metric family computed from a `T`: name, help, value.
type Field<T, V> = (&'static str, &'static str, fn(&T) -> V);

/// Per project and model.
#[derive(Debug, Default)]
struct Group {
    sessions: u64,
    cost: f64,
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
    turns: u64,
    tool_calls: u64,
}

/// The exposition of `live` (the snapshot's live sessions) and `all` (every session, live ones
/// included at their freshest).
pub(crate) fn render(
    live: &[SessionState],
    all: &[SessionState],
    budgets: &[BudgetStatus],
    sources: &MetricSources,
) -> String {
    let mut e = Exposition::default();

    e.family(
        "cclive_active_sessions",
        "gauge",
        "Live sessions by status.",
    );
    for status in [Status::Active, Status::Idle] {
        let n = live.iter().filter(|s| s.status == status).count();
        e.sample(
            "cclive_active_sessions",
            &[("status", status.as_str())],
            n as f64,
        );
    }

    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for s in all {
        let project = s
            .project_path
            .as_deref()
            .or(s.cwd.as_deref())
            .unwrap_or("")
            .to_owned();
        let model = s.model.clone().unwrap_or_default();
        let g = groups.entry((project, model)).or_default();
        g.sessions += 1;
        if s.total_cost_usd.is_finite() {
            g.cost += s.total_cost_usd;
        }
        g.input = g.input.saturating_add(s.tokens.input);
        g.output = g.output.saturating_add(s.tokens.output);
        g.cache_read = g.cache_read.saturating_add(s.tokens.cache_read);
        g.cache_creation = g.cache_creation.saturating_add(s.tokens.cache_creation);
        g.turns += s.num_turns;
        g.tool_calls += s.tool_calls.values().sum::<u64>();
    }
    let per_group: [Field<Group, f64>; 4] = [
        ("cclive_sessions_total", "Sessions seen.", |g| {
            g.sessions as f64
        }),
        (
            "cclive_cost_usd_total",
            "Cost in US dollars (Claude Code's own total when it reported one, else estimated).",
            |g| g.cost,
        ),
        ("cclive_turns_total", "Turns (prompts answered).", |g| {
            g.turns as f64
        }),
        ("cclive_tool_calls_total", "Tool calls.", |g| {
            g.tool_calls as f64
        }),
    ];
    for (name, help, value) in per_group {
        e.family(name, "counter", help);
        for ((project, model), g) in &groups {
            e.sample(name, &[("project", project), ("model", model)], value(g));
        }
    }
    e.family("cclive_tokens_total", "counter", "Tokens by kind.");
    for ((project, model), g) in &groups {
        for (kind, n) in [
            ("input", g.input),
            ("output", g.output),
            ("cache_read", g.cache_read),
            ("cache_creation", g.cache_creation),
        ] {
            e.sample(
                "cclive_tokens_total",
                &[("project", project), ("model", model), ("kind", kind)],
                n as f64,
            );
        }
    }

    e.family(
        "cclive_session_duration_seconds",
        "histogram",
        "Wall-clock duration of finished sessions.",
    );
    let durations: Vec<f64> = all
        .iter()
        .filter(|s| !s.status.is_live())
        .map(|s| s.duration_ms as f64 / 1000.0)
        .collect();
    for bound in DURATION_BUCKETS {
        let n = durations.iter().filter(|d| **d <= *bound).count();
        e.sample(
            "cclive_session_duration_seconds_bucket",
            &[("le", &number(*bound))],
            n as f64,
        );
    }
    e.sample(
        "cclive_session_duration_seconds_bucket",
        &[("le", "+Inf")],
        durations.len() as f64,
    );
    e.sample(
        "cclive_session_duration_seconds_sum",
        &[],
        durations.iter().sum(),
    );
    e.sample(
        "cclive_session_duration_seconds_count",
        &[],
        durations.len() as f64,
    );

    if let Some(ingest) = &sources.ingest {
        let (lines, bytes, malformed) = ingest.get();
        for (name, help, v) in [
            ("cclive_ingest_lines_total", "Transcript lines read.", lines),
            ("cclive_ingest_bytes_total", "Transcript bytes read.", bytes),
            (
                "cclive_ingest_malformed_lines_total",
                "Transcript lines that could not be read (skipped).",
                malformed,
            ),
            (
                "cclive_liveness_probes_total",
                "Runs of the liveness probe (session registry and process checks).",
                ingest.probes(),
            ),
        ] {
            e.family(name, "counter", help);
            e.sample(name, &[], v as f64);
        }
    }

    if let Some(otlp) = &sources.otlp {
        let c = otlp.get();
        for (name, help, v) in [
            (
                "cclive_otlp_exports_total",
                "OTLP exports (Claude Code's telemetry) accepted.",
                c.exports,
            ),
            (
                "cclive_otlp_events_total",
                "Events made of accepted OTLP exports.",
                c.events,
            ),
            (
                "cclive_otlp_skipped_total",
                "OTLP records skipped: not Claude Code's, or naming no session.",
                c.skipped,
            ),
            (
                "cclive_otlp_rejected_total",
                "OTLP exports refused (undecodable, or an unsupported encoding).",
                c.rejected,
            ),
        ] {
            e.family(name, "counter", help);
            e.sample(name, &[], v as f64);
        }
    }

    if let Some(deliveries) = &sources.deliveries {
        let sinks = deliveries();
        let fields: [Field<DeliveryCounts, u64>; 5] = [
            ("cclive_deliveries_total", "Notifications delivered.", |d| {
                d.delivered
            }),
            (
                "cclive_delivery_failures_total",
                "Notifications given up.",
                |d| d.failed,
            ),
            (
                "cclive_deliveries_dropped_total",
                "Notifications dropped from a full queue.",
                |d| d.dropped,
            ),
            (
                "cclive_delivery_retries_total",
                "Delivery attempts after the first.",
                |d| d.retries,
            ),
            (
                "cclive_delivery_timeouts_total",
                "Delivery attempts that timed out.",
                |d| d.timeouts,
            ),
        ];
        for (name, help, value) in fields {
            e.family(name, "counter", help);
            for d in &sinks {
                e.sample(
                    name,
                    &[("kind", d.kind.as_str()), ("name", d.name.as_str())],
                    value(d) as f64,
                );
            }
        }
    }
    if sources.budgets.is_some() {
        render_budgets(&mut e, budgets);
    }
    e.finish()
}

/// The budget gauges: one series per limit, by scope (`global` or `project:<key>`) and period.
fn render_budgets(e: &mut Exposition, budgets: &[BudgetStatus]) {
    let fields: [Field<BudgetStatus, f64>; 4] = [
        (
            "cclive_budget_spent_usd",
            "Estimated spend in the budget's current period (US dollars).",
            |b| b.spent_usd,
        ),
        (
            "cclive_budget_limit_usd",
            "The budget's limit for its period (US dollars).",
            |b| b.limit_usd,
        ),
        (
            "cclive_budget_used_ratio",
            "Spend divided by the limit (1 = the limit is reached).",
            // The core's `percent` is rounded for display; the ratio is computed exactly.
            |b| {
                if b.limit_usd > 0.0 {
                    b.spent_usd / b.limit_usd
                } else {
                    0.0
                }
            },
        ),
        (
            "cclive_budget_projected_usd",
            "Spend projected to the end of the period at the pace so far (US dollars).",
            |b| b.projected_usd,
        ),
    ];
    for (name, help, value) in fields {
        e.family(name, "gauge", help);
        for b in budgets {
            let scope = b
                .project
                .as_ref()
                .map_or_else(|| "global".to_owned(), |p| format!("project:{p}"));
            e.sample(
                name,
                &[("budget", &scope), ("period", b.period.as_str())],
                value(b),
            );
        }
    }
}

/// The snapshot's live sessions, and every session: the stored ones, with live ones replaced
/// by their fresher snapshot copy. `project` keeps only that project's sessions.
async fn sessions(
    state: &AppState,
    project: Option<String>,
) -> Result<(Vec<SessionState>, Vec<SessionState>), ApiError> {
    let live: Vec<SessionState> = state.inner.snapshot.borrow().active_sessions.clone();
    let q = SessionQuery {
        project: project.clone(),
        ..SessionQuery::default()
    };
    let mut all = crate::api::read(state, move |store| store.sessions(&q)).await?;
    let index: HashMap<String, usize> = all
        .iter()
        .enumerate()
        .map(|(i, s)| (s.session_id.as_str().to_owned(), i))
        .collect();
    for s in &live {
        let wanted = project
            .as_deref()
            .is_none_or(|p| s.project_path.as_deref() == Some(p));
        if !wanted {
            continue;
        }
        match index.get(s.session_id.as_str()) {
            Some(&i) => all[i] = s.clone(),
            None => all.push(s.clone()),
        }
    }
    Ok((live, all))
}

/// Every configured limit's status now, evaluated on a blocking thread (it reads the store);
/// `None` when no budget is configured.
pub(crate) async fn budget_statuses(
    state: &AppState,
) -> Result<Option<Result<Vec<BudgetStatus>, StoreError>>, ApiError> {
    let Some(evaluate) = state.inner.metric_sources.budgets.clone() else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || evaluate())
        .await
        .map(Some)
        .map_err(|_| ApiError::Internal)
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (live, all) = sessions(&state, None).await?;
    let sources = &state.inner.metric_sources;
    let budgets = match budget_statuses(&state).await? {
        Some(Ok(statuses)) => statuses,
        // The other families are still worth a scrape; the gauges are left out.
        Some(Err(e)) => {
            tracing::warn!("Cannot evaluate the budgets for /metrics: {e}");
            Vec::new()
        }
        None => Vec::new(),
    };
    let body = render(&live, &all, &budgets, sources);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CalendarParams {
    project: Option<String>,
}

pub(crate) async fn calendar(
    State(state): State<AppState>,
    params: Result<Query<CalendarParams>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (_, mut all) = sessions(&state, p.project.filter(|p| !p.is_empty())).await?;
    all.sort_by_key(|s| s.started_at);
    let body = cclive_core::ics::calendar(&all, jiff::Timestamp::now());
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"cclive.ics\"",
            ),
        ],
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_families_have_help_and_type() {
        let mut e = Exposition::default();
        e.family("x_total", "counter", "An x.");
        e.sample("x_total", &[("project", "a\"b\\c\nd")], 2.0);
        e.sample("x_total", &[], f64::INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP x_total An x.\n# TYPE x_total counter\n\
             x_total{project=\"a\\\"b\\\\c\\nd\"} 2\nx_total +Inf\n"
        );
    }
}
