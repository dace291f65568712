//! The read side of the JSON API: the current state, session history, summaries and charts.
//!
//! History comes from the [`Store`], whose calls block: each runs on a
//! blocking thread. A session that is live right now is served from the monitor's snapshot
//! (fresher than the store, which lags by a flush). List views never carry transcript text:
//! `last_prompt`, `title` and `command` (which holds a print prompt) are left out of
//! `/api/sessions`; a session's own endpoints (`/api/sessions/{id}`, its events, timeline and
//! analytics) have them, for its page. `/api/budget` is the budgets' use now (the gauges of
//! `/metrics`, as JSON, for the editor extension's tooltip).

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use cclive_core::report::ReportOptions;
use cclive_core::{Event, SessionId, SessionState, Snapshot, Status};
use cclive_store::{SessionOrder, SessionQuery, SortKey, Store, UsageRow};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::aggregate::{self, Period};
use crate::range::{self, DayRange};
use crate::{ApiError, AppState, metrics, stream, timeline};

/// Sessions per page when the request does not say.
const DEFAULT_LIMIT: usize = 50;
/// The largest page.
const MAX_LIMIT: usize = 500;
/// Fields of a session that hold transcript text, left out of list views.
const TEXT_FIELDS: &[&str] = &["last_prompt", "title", "command"];

type Rejectable<T> = Result<Query<T>, QueryRejection>;

fn query<T>(q: Rejectable<T>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// Runs a blocking store read.
pub(crate) async fn read<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, cclive_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(&state.inner.store);
    tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|e| ApiError::store(&e))
}

pub(crate) async fn current_session(State(state): State<AppState>) -> Json<Snapshot> {
    Json(state.inner.snapshot.borrow().clone())
}

/// `since`/`until`: an RFC 3339 instant, or a date (its local midnight).
fn instant(name: &str, raw: Option<&str>, tz: &TimeZone) -> Result<Option<Timestamp>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ts) = raw.parse::<Timestamp>() {
        return Ok(Some(ts));
    }
    if let Ok(date) = raw.parse::<Date>() {
        return Ok(Some(aggregate::start_of(date, tz)));
    }
    Err(ApiError::BadRequest(format!(
        "{name}: expected an RFC 3339 time (2026-11-25T10:00:00Z) or a date (2026-11-25), got {raw:?}"
    )))
}

fn number(name: &str, raw: Option<&str>) -> Result<Option<usize>, ApiError> {
    raw.filter(|r| !r.is_empty())
        .map(|r| {
            r.parse::<usize>().map_err(|_| {
                ApiError::BadRequest(format!("{name}: expected a whole number, got {r:?}"))
            })
        })
        .transpose()
}

fn time_zone(state: &AppState, raw: Option<&str>) -> Result<TimeZone, ApiError> {
    match raw.filter(|r| !r.is_empty()) {
        None => Ok(state.inner.config.time_zone.clone()),
        Some(name) => TimeZone::get(name).map_err(|_| {
            ApiError::BadRequest(format!(
                "tz: unknown time zone {name:?} (use an IANA name such as Europe/Paris)"
            ))
        }),
    }
}

fn tz_name(tz: &TimeZone) -> &str {
    tz.iana_name().unwrap_or("local")
}

/// A session as list views show it: without transcript text.
fn list_view(session: &SessionState) -> Value {
    let mut value = serde_json::to_value(session).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        for field in TEXT_FIELDS {
            map.shift_remove(*field);
        }
    }
    value
}

#[derive(Debug, Deserialize)]
pub(crate) struct SessionsParams {
    since: Option<String>,
    until: Option<String>,
    project: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    tz: Option<String>,
    model: Option<String>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn sort_key(raw: &str) -> Option<SortKey> {
    Some(match raw {
        "started_at" => SortKey::StartedAt,
        "total_cost_usd" | "cost" => SortKey::Cost,
        "duration_ms" | "duration" => SortKey::Duration,
        "num_turns" | "turns" => SortKey::Turns,
        "tokens" => SortKey::Tokens,
        "project" | "project_path" => SortKey::Project,
        "model" => SortKey::Model,
        "status" => SortKey::Status,
        _ => return None,
    })
}

pub(crate) async fn sessions(
    State(state): State<AppState>,
    params: Rejectable<SessionsParams>,
) -> Result<Json<Value>, ApiError> {
    let p = query(params)?;
    let tz = time_zone(&state, p.tz.as_deref())?;
    let status = match p.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(Status::parse(raw).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "status: expected ACTIVE, IDLE, COMPLETED, FAILED or INTERRUPTED, got {raw:?}"
            ))
        })?),
    };
    let limit = number("limit", p.limit.as_deref())?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit: must be between 1 and {MAX_LIMIT}"
        )));
    }
    let offset = number("offset", p.offset.as_deref())?.unwrap_or(0);
    let key = match p.sort.as_deref().filter(|s| !s.is_empty()) {
        None => SortKey::StartedAt,
        Some(raw) => sort_key(raw).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "sort: expected started_at, total_cost_usd, duration_ms, num_turns, tokens, \
                 project, model or status, got {raw:?}"
            ))
        })?,
    };
    let descending = match p.order.as_deref() {
        None | Some("" | "desc") => true,
        Some("asc") => false,
        Some(raw) => {
            return Err(ApiError::BadRequest(format!(
                "order: expected asc or desc, got {raw:?}"
            )));
        }
    };
    let mut since = instant("since", p.since.as_deref(), &tz)?;
    let mut until = instant("until", p.until.as_deref(), &tz)?;
    if let Some(days) = day_range(&tz, p.range.as_deref(), p.from.as_deref(), p.to.as_deref())? {
        (since, until) = {
            let (a, b) = days.bounds(&tz);
            (a, Some(b))
        };
    }
    let q = SessionQuery {
        limit: Some(limit),
        offset,
        status,
        live_only: false,
        project: p.project.filter(|s| !s.is_empty()),
        model: p.model.filter(|s| !s.is_empty()),
        since,
        until,
    };
    let order = SessionOrder { key, descending };
    let (total, page) = read(&state, move |store| {
        Ok((store.count_sessions(&q)?, store.sessions_sorted(&q, order)?))
    })
    .await?;
    Ok(Json(json!({
        "total": total,
        "limit": limit,
        "offset": offset,
        "sessions": page.iter().map(list_view).collect::<Vec<_>>(),
    })))
}

/// A session: the live one from the snapshot, else the stored one.
async fn find(state: &AppState, id: &str) -> Result<SessionState, ApiError> {
    let live = {
        let snap = state.inner.snapshot.borrow();
        snap.active_sessions
            .iter()
            .chain(snap.data.iter())
            .find(|s| s.session_id.as_str() == id)
            .cloned()
    };
    if let Some(s) = live {
        return Ok(s);
    }
    let sid = SessionId::new(id);
    read(state, move |store| store.session_to_show(&sid))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no session {id:?}")))
}

pub(crate) async fn session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionState>, ApiError> {
    find(&state, &id).await.map(Json)
}

async fn stored_events(state: &AppState, id: &str) -> Result<Vec<Event>, ApiError> {
    let sid = SessionId::new(id);
    read(state, move |store| store.events(&sid)).await
}

pub(crate) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Event>>, ApiError> {
    find(&state, &id).await?;
    stored_events(&state, &id).await.map(Json)
}

pub(crate) async fn session_timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<timeline::Timeline>, ApiError> {
    let session = find(&state, &id).await?;
    let events = stored_events(&state, &id).await?;
    Ok(Json(timeline::build(
        &session,
        &events,
        &state.inner.config.prices,
    )))
}

pub(crate) async fn session_analytics(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<cclive_core::analytics::SessionAnalytics>, ApiError> {
    let session = find(&state, &id).await?;
    let events = stored_events(&state, &id).await?;
    Ok(Json(timeline::analytics(
        &session,
        &events,
        &state.inner.config.prices,
    )))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SummaryParams {
    period: Option<String>,
    tz: Option<String>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The day range a request names (`range`, `from`, `to`), in `tz`.
fn day_range(
    tz: &TimeZone,
    range: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Option<DayRange>, ApiError> {
    range::parse(range, from, to, aggregate::now_in(tz).date())
}

/// Adds the range's description to an answer.
fn describe_range(value: &mut Value, days: &DayRange) {
    if let Some(map) = value.as_object_mut() {
        map.insert("range".into(), json!(days.name));
        map.insert("from".into(), json!(days.first));
        map.insert("to".into(), json!(days.last));
    }
}

pub(crate) async fn summary(
    State(state): State<AppState>,
    params: Rejectable<SummaryParams>,
) -> Result<Json<Value>, ApiError> {
    let p = query(params)?;
    let tz = time_zone(&state, p.tz.as_deref())?;
    if let Some(days) = day_range(&tz, p.range.as_deref(), p.from.as_deref(), p.to.as_deref())? {
        let (since, until) = days.bounds(&tz);
        let (totals, first) = window_totals(&state, since, until).await?;
        let mut value = serde_json::to_value(&totals).unwrap_or_else(|_| json!({}));
        describe_range(&mut value, &days);
        if let Some(map) = value.as_object_mut() {
            map.insert("tz".into(), json!(tz_name(&tz)));
            map.insert("since".into(), json!(since));
            map.insert("until".into(), json!(until));
            // Since the first session, for "all time".
            map.insert("first_started_at".into(), json!(first));
        }
        return Ok(Json(value));
    }
    let period = match p.period.as_deref() {
        None | Some("") => Period::Day,
        Some(raw) => Period::parse(raw).ok_or_else(|| {
            ApiError::BadRequest(format!("period: expected day, week or month, got {raw:?}"))
        })?,
    };
    let today = aggregate::now_in(&tz).date();
    let since = aggregate::start_of(period.first_day(today), &tz);
    let until = aggregate::start_of(today.tomorrow().unwrap_or(today), &tz);
    let (totals, _) = window_totals(&state, Some(since), until).await?;
    let mut value = serde_json::to_value(&totals).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        map.insert("period".into(), json!(period.as_str()));
        map.insert("tz".into(), json!(tz_name(&tz)));
        map.insert("since".into(), json!(since));
        map.insert("until".into(), json!(until));
    }
    Ok(Json(value))
}

/// The figures of `[since, until)` (see [`aggregate`]), with the monitor's sessions and
/// responses in it: they are fresher than the store (it lags by a flush), so a session that just
/// ended counts with its final figures at once — from a snapshot that includes the last update
/// (a client asks right after the stream told it a session ended). Also the first start time
/// among the window's sessions.
async fn window_totals(
    state: &AppState,
    since: Option<Timestamp>,
    until: Timestamp,
) -> Result<(aggregate::Totals, Option<Timestamp>), ApiError> {
    let mut snapshots = state.inner.snapshot.clone();
    let snap = stream::fresh_snapshot(&state.inner.live, &mut snapshots).await;
    let inside = |at: Timestamp| since.is_none_or(|s| at >= s) && at < until;
    let live: Vec<SessionState> = snap
        .active_sessions
        .iter()
        .chain(snap.data.iter())
        .cloned()
        .collect();
    let live_rows: Vec<UsageRow> = live
        .iter()
        .flat_map(UsageRow::of_session)
        .filter(|r| inside(r.at))
        .collect();
    let prices = state.inner.config.prices.clone();
    let q = SessionQuery {
        since,
        until: Some(until),
        ..SessionQuery::default()
    };
    let (mut sessions, usage) = read(state, move |store| {
        let sessions = store.sessions(&q)?;
        let sums = store.usage_sums(since, Some(until), &prices.prompt_thresholds())?;
        let (recent, live_rows) = match live_rows.iter().map(|r| r.at).min() {
            None => (Vec::new(), live_rows),
            Some(first) => {
                let recent = store.usage_rows(Some(first), Some(until))?;
                let known: HashSet<&str> = recent.iter().map(|r| r.key.as_str()).collect();
                let mut fresh = Vec::with_capacity(live_rows.len());
                for row in live_rows {
                    // A response stored outside `recent` is counted where it is stored.
                    if known.contains(row.key.as_str()) || store.usage_owner(&row.key)?.is_none() {
                        fresh.push(row);
                    }
                }
                (recent, fresh)
            }
        };
        let usage = aggregate::WindowUsage::of(&sums, &recent, &live_rows, &prices);
        Ok((sessions, usage))
    })
    .await?;
    for s in live.into_iter().filter(|s| inside(s.started_at)) {
        match sessions.iter_mut().find(|x| x.session_id == s.session_id) {
            Some(stored) => *stored = s,
            None => sessions.push(s),
        }
    }
    let first = sessions.iter().map(|s| s.started_at).min();
    Ok((aggregate::totals(&sessions, usage), first))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CostsParams {
    days: Option<String>,
    tz: Option<String>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The most days one chart covers (ten years).
const MAX_CHART_DAYS: i32 = 3660;

pub(crate) async fn costs(
    State(state): State<AppState>,
    params: Rejectable<CostsParams>,
) -> Result<Json<Value>, ApiError> {
    let p = query(params)?;
    let tz = time_zone(&state, p.tz.as_deref())?;
    let today = aggregate::now_in(&tz).date();
    let named = day_range(&tz, p.range.as_deref(), p.from.as_deref(), p.to.as_deref())?;
    let days = if let Some(days) = &named {
        days.clone()
    } else {
        let days = number("days", p.days.as_deref())?.unwrap_or(30);
        let days = u16::try_from(days)
            .ok()
            .filter(|d| (1..=366).contains(d))
            .ok_or_else(|| ApiError::BadRequest("days: must be between 1 and 366".into()))?;
        DayRange {
            name: format!("{days}d"),
            first: today
                .checked_sub(jiff::Span::new().days(i64::from(days - 1)))
                .ok(),
            last: today,
        }
    };
    let (since, until) = days.bounds(&tz);
    // Everything the answer depends on besides the store (the prices are the server's own).
    let key = format!(
        "{:?} {today} {named:?} {days:?} {since:?} {until:?}",
        tz_name(&tz)
    );
    let thresholds = state.inner.config.prices.prompt_thresholds();
    let zone = tz.clone();
    let kept = Arc::clone(&state.inner);
    let read_key = key.clone();
    let (version, fresh) = read(&state, move |store| {
        // The version before the data: a write in between makes the answer stale, not kept.
        let version = store.version()?;
        if let Some(answer) = version.and_then(|v| kept.kept_costs.get(&read_key, v)) {
            return Ok((version, Err(answer)));
        }
        let summaries = store.session_summaries()?;
        let project_of = aggregate::projects(&summaries);
        let usage =
            cclive_store::usage_groups(store, since, Some(until), &zone, &thresholds, &|id| {
                project_of.get(id).copied().flatten().map(str::to_owned)
            })?;
        Ok((version, Ok((usage, summaries))))
    })
    .await?;
    let (usage, summaries) = match fresh {
        Ok(fresh) => fresh,
        Err(answer) => return Ok(Json(Value::clone(&answer))),
    };
    // "All time" starts on the day of the first response.
    let first = days
        .first
        .or_else(|| {
            usage
                .iter()
                .map(|g| g.first_at)
                .min()
                .map(|at| at.to_zoned_datetime(tz.clone()).date())
        })
        .unwrap_or(days.last)
        .min(days.last);
    if days
        .last
        .since(first)
        .map_or(true, |span| span.get_days() >= MAX_CHART_DAYS)
    {
        return Err(ApiError::BadRequest(format!(
            "the range covers more than {MAX_CHART_DAYS} days: choose a shorter one"
        )));
    }
    let mut opts = ReportOptions::new(tz.clone());
    opts.since = Some(first);
    opts.until = Some(days.last);
    let costs = aggregate::costs(&usage, &summaries, &opts, &state.inner.config.prices);
    let mut value = serde_json::to_value(&costs).unwrap_or_else(|_| json!({}));
    if named.is_some() {
        describe_range(&mut value, &days);
    }
    if let Some(map) = value.as_object_mut() {
        map.insert("tz".into(), json!(tz_name(&tz)));
    }
    if let Some(version) = version {
        let answer = Arc::new(value.clone());
        state.inner.kept_costs.keep(key, version, answer);
    }
    Ok(Json(value))
}

/// `GET /api/budget`: every configured limit's use now (`configured: false` and no budgets
/// when none is configured).
pub(crate) async fn budget(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (configured, budgets) = match metrics::budget_statuses(&state).await? {
        None => (false, Vec::new()),
        Some(Ok(statuses)) => (true, statuses),
        Some(Err(e)) => return Err(ApiError::store(&e)),
    };
    Ok(Json(
        json!({ "configured": configured, "budgets": budgets }),
    ))
}
