//! The team API's handlers: the agent protocol and the dashboard's reads.
//!
//! Money is computed here, from the store's token sums and the price table (the same prices the
//! local reports use); the store returns only what the caller's role may see.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use cclive_core::Tokens;
use cclive_core::report::{WeekStart, start_of_day};
use cclive_core::team::{CursorReply, PushReply, RawPushRequest, Role};
use cclive_team_store::{
    BudgetTarget, LiveSession, MachineStatus, Principal, Scope, SpendRow, TeamStoreError,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::TeamState;
use crate::ApiError;

#[derive(Debug, Deserialize)]
pub(crate) struct CursorQuery {
    machine: Option<String>,
}

pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "mode": "team"}))
}

pub(crate) async fn whoami(Extension(who): Extension<Principal>) -> Json<Viewer> {
    Json(Viewer::of(&who))
}

pub(crate) async fn cursor(
    State(state): State<TeamState>,
    Extension(who): Extension<Principal>,
    Query(q): Query<CursorQuery>,
) -> Result<Json<CursorReply>, ApiError> {
    let machine = q
        .machine
        .ok_or_else(|| ApiError::BadRequest("name the machine: ?machine=<id>".into()))?;
    let acked_seq = state
        .store()
        .cursor(&who, &machine)
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(Json(CursorReply {
        machine_id: machine,
        acked_seq,
    }))
}

pub(crate) async fn push(
    State(state): State<TeamState>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> Result<Json<PushReply>, ApiError> {
    let push: RawPushRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a team push: {e}")))?;
    let outcome = state
        .store()
        .push(&who, push)
        .await
        .map_err(|e| ApiError::store(&e))?;
    if !outcome.reply.rejected.is_empty() {
        tracing::warn!(
            user = %who.email,
            rejected = outcome.reply.rejected.len(),
            "A push had items the server could not apply."
        );
    }
    if outcome.applied > 0 {
        // No subscriber is fine: nobody is watching.
        let _ = state.inner.changes.send(());
    }
    Ok(Json(outcome.reply))
}

/// Who is looking.
#[derive(Debug, Serialize)]
pub(crate) struct Viewer {
    email: String,
    team: String,
    role: Role,
}

impl Viewer {
    fn of(who: &Principal) -> Viewer {
        Viewer {
            email: who.email.clone(),
            team: who.team.clone(),
            role: who.role,
        }
    }
}

/// A spend row with its cost.
#[derive(Debug, Serialize)]
pub(crate) struct PricedRow {
    #[serde(flatten)]
    row: SpendRow,
    cost_usd: f64,
    /// No price is known for the model: `cost_usd` leaves it out.
    unpriced: bool,
}

/// A sum under one name (a person, a project or a model).
#[derive(Debug, Default, Serialize)]
pub(crate) struct Group {
    name: String,
    cost_usd: f64,
    tokens: Tokens,
    responses: u64,
}

/// One period's spend.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Period {
    since_ms: i64,
    cost_usd: f64,
    tokens: Tokens,
    responses: u64,
    by_person: Vec<Group>,
    by_project: Vec<Group>,
    by_model: Vec<Group>,
}

/// A budget and how much of it this month used.
#[derive(Debug, Serialize)]
pub(crate) struct BudgetUse {
    #[serde(flatten)]
    pub(crate) target: BudgetTarget,
    pub(crate) monthly_usd: f64,
    pub(crate) spent_usd: f64,
    pub(crate) percent: Option<f64>,
}

/// A live session with its owner's view.
#[derive(Debug, Serialize)]
pub(crate) struct Overview {
    now_ms: i64,
    time_zone: String,
    viewer: Viewer,
    live: Vec<LiveSession>,
    today: Period,
    week: Period,
    month: Period,
    budgets: Vec<BudgetUse>,
    machines: Vec<MachineStatus>,
}

/// Usage in `[since_ms, until_ms)` that `scope` covers, priced: one row per person, project
/// and model.
pub(crate) async fn priced_spend(
    state: &TeamState,
    scope: Scope,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
) -> Result<Vec<PricedRow>, TeamStoreError> {
    let thresholds = state.inner.config.prices.prompt_thresholds();
    let rows = state
        .store()
        .spend(scope, since_ms, until_ms, &thresholds)
        .await?;
    Ok(price(state, rows))
}

/// Prices the store's rows (each one price class of a person, project and model: priced as a
/// sum exactly as its responses are one by one, the local reports' rule) and merges the classes
/// of each person, project and model into one row.
fn price(state: &TeamState, rows: Vec<SpendRow>) -> Vec<PricedRow> {
    let prices = &state.inner.config.prices;
    let mut rows_out: Vec<PricedRow> = Vec::with_capacity(rows.len());
    for row in rows {
        let model = row.model.as_deref().unwrap_or("unknown");
        let cost = prices.cost_of_sum(model, &row.tokens, row.prompt_above);
        let unpriced = cost.is_none() && row.tokens.total() > 0;
        // The store orders rows by person, project and model: their classes are neighbours.
        match rows_out.last_mut() {
            Some(last)
                if last.row.email == row.email
                    && last.row.project == row.project
                    && last.row.model == row.model =>
            {
                last.row.tokens.add(&row.tokens);
                last.row.responses += row.responses;
                last.cost_usd += cost.unwrap_or(0.0);
                last.unpriced |= unpriced;
            }
            _ => rows_out.push(PricedRow {
                cost_usd: cost.unwrap_or(0.0),
                unpriced,
                row,
            }),
        }
    }
    rows_out
}

fn period(since_ms: i64, rows: &[PricedRow]) -> Period {
    let mut p = Period {
        since_ms,
        ..Period::default()
    };
    let mut person: BTreeMap<String, Group> = BTreeMap::new();
    let mut project: BTreeMap<String, Group> = BTreeMap::new();
    let mut model: BTreeMap<String, Group> = BTreeMap::new();
    for r in rows {
        p.cost_usd += r.cost_usd;
        p.tokens.add(&r.row.tokens);
        p.responses += r.row.responses;
        let names = [
            (&mut person, r.row.email.clone()),
            (
                &mut project,
                r.row.project.clone().unwrap_or_else(|| "(unknown)".into()),
            ),
            (
                &mut model,
                r.row.model.clone().unwrap_or_else(|| "(unknown)".into()),
            ),
        ];
        for (map, name) in names {
            let g = map.entry(name.clone()).or_insert_with(|| Group {
                name,
                ..Group::default()
            });
            g.cost_usd += r.cost_usd;
            g.tokens.add(&r.row.tokens);
            g.responses += r.row.responses;
        }
    }
    let sorted = |m: BTreeMap<String, Group>| {
        let mut v: Vec<Group> = m.into_values().collect();
        v.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd).then(a.name.cmp(&b.name)));
        v
    };
    p.by_person = sorted(person);
    p.by_project = sorted(project);
    p.by_model = sorted(model);
    p
}

pub(crate) async fn overview(
    State(state): State<TeamState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Overview>, ApiError> {
    let store = state.store();
    let tz = &state.inner.config.time_zone;
    let now = Timestamp::now();
    let today = now.to_zoned_datetime(tz.clone()).date();
    let day_start = start_of_day(today, tz).as_millisecond();
    let week_start = start_of_day(WeekStart::Monday.week_of(today), tz).as_millisecond();
    let month_start = start_of_day(today.first_of_month(), tz).as_millisecond();
    let scope = who.scope();
    let since = |start: i64| priced_spend(&state, scope, Some(start), None);
    let (day_rows, week_rows, month_rows) =
        tokio::try_join!(since(day_start), since(week_start), since(month_start))
            .map_err(|e| ApiError::store(&e))?;
    let budgets = budgets(&state, &who, month_start, &month_rows).await?;
    Ok(Json(Overview {
        now_ms: now.as_millisecond(),
        time_zone: cclive_core::report::tz_name(tz),
        viewer: Viewer::of(&who),
        live: store
            .live_sessions(scope)
            .await
            .map_err(|e| ApiError::store(&e))?,
        today: period(day_start, &day_rows),
        week: period(week_start, &week_rows),
        month: period(month_start, &month_rows),
        budgets,
        machines: store
            .machines(scope)
            .await
            .map_err(|e| ApiError::store(&e))?,
    }))
}

/// The budgets `who` may see, with this month's spend: a member their own and their team's
/// (the team's total only: `month`, scoped to the member, is not enough for it, so the team's
/// rows are read for the sum and never shown); a lead their team's and its members'; an admin
/// every budget.
async fn budgets(
    state: &TeamState,
    who: &Principal,
    month_start: i64,
    month: &[PricedRow],
) -> Result<Vec<BudgetUse>, ApiError> {
    let store = state.store();
    let all = store.budgets().await.map_err(|e| ApiError::store(&e))?;
    let users = store.users().await.map_err(|e| ApiError::store(&e))?;
    let team_of = |email: &str| users.iter().find(|u| u.email == email).map(|u| &u.team);
    let visible = |t: &BudgetTarget| match (who.role, t) {
        (Role::Admin, _) => true,
        (Role::Lead | Role::Member, BudgetTarget::Team(team)) => *team == who.team,
        (Role::Lead, BudgetTarget::User(email)) => team_of(email) == Some(&who.team),
        (Role::Member, BudgetTarget::User(email)) => *email == who.email,
    };
    let visible: Vec<_> = all.into_iter().filter(|b| visible(&b.target)).collect();
    let team_rows;
    let month = if who.role == Role::Member
        && visible
            .iter()
            .any(|b| matches!(b.target, BudgetTarget::Team(_)))
    {
        team_rows = priced_spend(state, Scope::Team(who.team_id), Some(month_start), None)
            .await
            .map_err(|e| ApiError::store(&e))?;
        &team_rows
    } else {
        month
    };
    Ok(budget_use(visible, month))
}

/// Each budget with what `month` (this month's priced rows) spent against it.
pub(crate) fn budget_use(
    budgets: Vec<cclive_team_store::Budget>,
    month: &[PricedRow],
) -> Vec<BudgetUse> {
    budgets
        .into_iter()
        .map(|b| {
            let spent: f64 = month
                .iter()
                .filter(|r| match &b.target {
                    BudgetTarget::Team(t) => r.row.team == *t,
                    BudgetTarget::User(e) => r.row.email == *e,
                })
                .map(|r| r.cost_usd)
                .sum();
            BudgetUse {
                percent: (b.monthly_usd > 0.0).then(|| spent / b.monthly_usd * 100.0),
                target: b.target,
                monthly_usd: b.monthly_usd,
                spent_usd: spent,
            }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct SpendQuery {
    since_ms: Option<i64>,
    until_ms: Option<i64>,
}

/// Spend by person, project and model over a range, priced (`cclive report --server`).
#[derive(Debug, Serialize)]
pub(crate) struct SpendReply {
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    cost_usd: f64,
    tokens: Tokens,
    responses: u64,
    rows: Vec<PricedRow>,
}

pub(crate) async fn spend(
    State(state): State<TeamState>,
    Extension(who): Extension<Principal>,
    Query(q): Query<SpendQuery>,
) -> Result<Json<SpendReply>, ApiError> {
    let rows = priced_spend(&state, who.scope(), q.since_ms, q.until_ms)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let mut tokens = Tokens::default();
    for r in &rows {
        tokens.add(&r.row.tokens);
    }
    Ok(Json(SpendReply {
        since_ms: q.since_ms,
        until_ms: q.until_ms,
        cost_usd: rows.iter().map(|r| r.cost_usd).sum(),
        responses: rows.iter().map(|r| r.row.responses).sum(),
        tokens,
        rows,
    }))
}
