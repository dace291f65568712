//! Sessions, projects and models reports: records grouped by what they belong to rather than by
//! when. Sessions (and projects, as sums of sessions) prefer Claude Code's reported total for a
//! session whose every record passes the filter; see the module rules in [`crate::report`].

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    Acc, CostBasis, ModelUsage, Pricer, Report, ReportKind, ReportOptions, SessionInfo,
    TotalsBuilder, UNKNOWN_MODEL, Usage, UsageGroup, round_usd,
};
use crate::ids::SessionId;
use crate::pricing::PriceTable;

/// One session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    /// The session.
    pub session_id: SessionId,
    /// Its project path, when known.
    pub project: Option<String>,
    /// Its first response in the report.
    pub first_at: Timestamp,
    /// Its last response in the report.
    pub last_at: Timestamp,
    /// Its figures.
    #[serde(flatten)]
    pub usage: Usage,
    /// Claude Code's reported total when it is used (`cost_source: "reported"`), else the
    /// estimate.
    #[serde(deserialize_with = "crate::usage::null_as_nan")]
    pub cost_usd: f64,
    /// `reported` or `estimated`.
    pub cost_source: CostBasis,
    /// Claude Code's reported total, whether or not it is used.
    pub reported_cost_usd: Option<f64>,
    /// The models that answered.
    pub models: Vec<String>,
    /// Models the price table does not know.
    pub unpriced_models: Vec<String>,
    /// Per model (only with `--breakdown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Vec<ModelUsage>>,
    /// Its turns, as the history counts them (`null` when the history has no such session; the
    /// usage records alone do not tell).
    #[serde(default)]
    pub turns: Option<u64>,
    /// Its duration in milliseconds, as the history has it (`null` when unknown).
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// One project: the sum of its sessions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRow {
    /// The project path (`null` for usage of sessions cclive has no record of).
    pub project: Option<String>,
    /// Sessions with usage in the report.
    pub sessions: u64,
    /// The first response in the report.
    pub first_at: Timestamp,
    /// The last response in the report.
    pub last_at: Timestamp,
    /// The figures.
    #[serde(flatten)]
    pub usage: Usage,
    /// The sum of the sessions' `cost_usd`.
    #[serde(deserialize_with = "crate::usage::null_as_nan")]
    pub cost_usd: f64,
    /// `reported`, `estimated` or `mixed`.
    pub cost_source: CostBasis,
    /// The models that answered.
    pub models: Vec<String>,
    /// Models the price table does not know.
    pub unpriced_models: Vec<String>,
    /// Per model (only with `--breakdown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Vec<ModelUsage>>,
}

/// One model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    /// The model id ([`UNKNOWN_MODEL`] when unknown).
    pub model: String,
    /// Whether the price table knows it.
    pub priced: bool,
    /// The first response in the report.
    pub first_at: Timestamp,
    /// The last response in the report.
    pub last_at: Timestamp,
    /// The figures.
    #[serde(flatten)]
    pub usage: Usage,
    /// The estimate.
    #[serde(deserialize_with = "crate::usage::null_as_nan")]
    pub cost_usd: f64,
    /// Always `estimated`.
    pub cost_source: CostBasis,
}

/// A session's records: those that pass the filters, and whether that is all of them.
struct SessionAcc {
    acc: Acc,
    project: Option<String>,
    all: u64,
}

impl SessionAcc {
    fn complete(&self) -> bool {
        self.acc.usage.messages == self.all
    }
}

fn group_sessions(
    groups: &[UsageGroup],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> BTreeMap<SessionId, SessionAcc> {
    let mut table = Pricer::new(prices);
    let mut sessions: BTreeMap<SessionId, SessionAcc> = BTreeMap::new();
    for group in groups {
        let entry = sessions
            .entry(group.session_id.clone())
            .or_insert_with(|| SessionAcc {
                acc: Acc::default(),
                project: group.project.clone(),
                all: 0,
            });
        entry.all += group.responses;
        if entry.project.is_none() {
            entry.project.clone_from(&group.project);
        }
        if opts.matches_group(group) {
            entry.acc.add(group.summed(), &mut table);
        }
    }
    sessions.retain(|_, s| s.acc.usage.messages > 0);
    sessions
}

/// One row per session with usage in the report, oldest last response first.
///
/// `groups` must hold ALL the usage of each session (not only that in the date range): a
/// session's reported total is used only when all of its usage passes the filters, since it
/// covers the whole session. Each group must lie within one local day of `opts.tz`
/// ([`UsageGroup::is_within_a_day`]). `sessions` gives projects and reported totals; a session missing
/// from it is estimated, with the project of its records.
pub fn sessions(
    groups: &[UsageGroup],
    sessions: &[SessionInfo],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Report<SessionRow> {
    let rows = session_rows(groups, sessions, opts, prices);
    let mut totals = TotalsBuilder::new();
    let mut out: Vec<SessionRow> = rows
        .into_iter()
        .map(|(row, acc)| {
            totals.add(&acc, row.cost_usd, row.cost_source);
            row
        })
        .collect();
    out.sort_by(|a, b| {
        a.last_at
            .cmp(&b.last_at)
            .then_with(|| a.session_id.cmp(&b.session_id))
    });
    Report::new(ReportKind::Sessions, opts, out, totals.finish())
}

fn session_rows(
    groups: &[UsageGroup],
    sessions: &[SessionInfo],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Vec<(SessionRow, Acc)> {
    let infos: HashMap<&SessionId, &SessionInfo> =
        sessions.iter().map(|s| (&s.session_id, s)).collect();
    group_sessions(groups, opts, prices)
        .into_iter()
        .map(|(id, group)| {
            let info = infos.get(&id);
            let reported = info
                .and_then(|i| i.reported_cost_usd)
                .filter(|c| c.is_finite());
            let estimated = group.acc.usage.cost_usd().unwrap_or(f64::NAN);
            let (cost, basis) = match reported {
                Some(cost) if group.complete() => (cost, CostBasis::Reported),
                _ => (estimated, CostBasis::Estimated),
            };
            let project = info
                .and_then(|i| i.project.clone())
                .or_else(|| group.project.clone());
            let acc = group.acc;
            let row = SessionRow {
                session_id: id,
                project,
                first_at: acc.first_at.unwrap_or_default(),
                last_at: acc.last_at.unwrap_or_default(),
                usage: acc.usage.rounded(),
                cost_usd: round_usd(cost),
                cost_source: basis,
                reported_cost_usd: reported,
                models: acc.models(),
                unpriced_models: acc.unpriced(),
                breakdown: acc.breakdown_if(opts.breakdown),
                turns: None,
                duration_ms: None,
            };
            (row, acc)
        })
        .collect()
}

/// One row per project, most expensive first: the sums of its sessions' rows (see
/// [`sessions`], whose requirement on `groups` applies here too).
pub fn projects(
    usage: &[UsageGroup],
    sessions: &[SessionInfo],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Report<ProjectRow> {
    struct ProjectAcc {
        acc: Acc,
        sessions: u64,
        cost: f64,
        basis: CostBasis,
    }
    let mut groups: BTreeMap<Option<String>, ProjectAcc> = BTreeMap::new();
    for (row, acc) in session_rows(usage, sessions, opts, prices) {
        let group = groups.entry(row.project).or_insert_with(|| ProjectAcc {
            acc: Acc::default(),
            sessions: 0,
            cost: 0.0,
            basis: row.cost_source,
        });
        group.sessions += 1;
        group.cost += row.cost_usd;
        group.basis = group.basis.combine(row.cost_source);
        merge_acc(&mut group.acc, &acc);
    }
    let mut totals = TotalsBuilder::new();
    let mut rows: Vec<ProjectRow> = groups
        .into_iter()
        .map(|(project, g)| {
            totals.add(&g.acc, g.cost, g.basis);
            ProjectRow {
                project,
                sessions: g.sessions,
                first_at: g.acc.first_at.unwrap_or_default(),
                last_at: g.acc.last_at.unwrap_or_default(),
                usage: g.acc.usage.rounded(),
                cost_usd: round_usd(g.cost),
                cost_source: g.basis,
                models: g.acc.models(),
                unpriced_models: g.acc.unpriced(),
                breakdown: g.acc.breakdown_if(opts.breakdown),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        crate::report::known_cost(b.cost_usd)
            .total_cmp(&crate::report::known_cost(a.cost_usd))
            .then_with(|| a.project.cmp(&b.project))
    });
    Report::new(ReportKind::Projects, opts, rows, totals.finish())
}

fn merge_acc(into: &mut Acc, from: &Acc) {
    into.usage.merge(&from.usage);
    for (model, usage) in &from.by_model {
        into.by_model.entry(model.clone()).or_default().merge(usage);
    }
    into.unpriced.extend(from.unpriced.iter().cloned());
    for t in [from.first_at, from.last_at].into_iter().flatten() {
        into.first_at = Some(into.first_at.map_or(t, |f| f.min(t)));
        into.last_at = Some(into.last_at.map_or(t, |l| l.max(t)));
    }
}

/// One row per model, most expensive first. Costs are estimates. Each group must lie within
/// one local day of `opts.tz` ([`UsageGroup::is_within_a_day`]).
pub fn models(usage: &[UsageGroup], opts: &ReportOptions, prices: &PriceTable) -> Report<ModelRow> {
    let mut table = Pricer::new(prices);
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for group in usage.iter().filter(|g| opts.matches_group(g)) {
        let model = group.model.as_deref().unwrap_or(UNKNOWN_MODEL);
        groups
            .entry(model.to_owned())
            .or_default()
            .add(group.summed(), &mut table);
    }
    let mut totals = TotalsBuilder::new();
    let mut rows: Vec<ModelRow> = groups
        .into_iter()
        .map(|(model, acc)| {
            let cost = acc.usage.cost_usd().unwrap_or(f64::NAN);
            totals.add(&acc, cost, CostBasis::Estimated);
            ModelRow {
                priced: acc.unpriced.is_empty(),
                model,
                first_at: acc.first_at.unwrap_or_default(),
                last_at: acc.last_at.unwrap_or_default(),
                usage: acc.usage.rounded(),
                cost_usd: round_usd(cost),
                cost_source: CostBasis::Estimated,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        crate::report::known_cost(b.cost_usd)
            .total_cmp(&crate::report::known_cost(a.cost_usd))
            .then_with(|| a.model.cmp(&b.model))
    });
    Report::new(ReportKind::Models, opts, rows, totals.finish())
}
