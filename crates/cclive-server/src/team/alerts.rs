//! Team budget alerts: after pushes, this month's spend is compared with every team and person
//! budget; each of the 50 %, 80 % and 100 % thresholds crossed is announced once per month
//! (the store's `budget_alerts` table decides, so several replicas never announce twice)
//! through the sink the binary hands over (its webhooks and `[[on_change]]` commands, as a
//! `budget_threshold` notification whose `project` is `team:<name>` or `user:<email>`).
//!
//! Checks follow pushes, at most one per `every`, on a task of their own: a push never waits.

use std::sync::Arc;
use std::time::Duration;

use cclive_core::budget::{BudgetAlert, Period};
use cclive_core::report::start_of_day;
use cclive_team_store::{BudgetTarget, Scope};
use jiff::{Timestamp, ToSpan};

use super::TeamState;
use super::api::{budget_use, priced_spend};

/// Where alerts go.
pub type AlertSink = Arc<dyn Fn(&BudgetAlert) + Send + Sync>;

const THRESHOLDS: [u8; 3] = [50, 80, 100];

/// Runs until the server closes: after each burst of pushes, one check.
pub(crate) async fn watch(state: TeamState, sink: AlertSink, every: Duration) {
    let mut changes = state.inner.changes.subscribe();
    let mut closing = state.inner.closing.subscribe();
    loop {
        tokio::select! {
            got = changes.recv() => {
                if matches!(got, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = closing.wait_for(|c| *c) => return,
        }
        // Everything that came before this check is covered by it.
        while let Ok(()) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) =
            changes.try_recv()
        {}
        if let Err(e) = check(&state, &sink).await {
            tracing::warn!("Checking team budgets failed: {e}");
        }
        // Pushes that come meanwhile wait in `changes`: the next check follows at once.
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = closing.wait_for(|c| *c) => return,
        }
    }
}

async fn check(
    state: &TeamState,
    sink: &AlertSink,
) -> Result<(), cclive_team_store::TeamStoreError> {
    let store = state.store();
    let budgets = store.budgets().await?;
    if budgets.is_empty() {
        return Ok(());
    }
    let tz = &state.inner.config.time_zone;
    let now = Timestamp::now();
    let today = now.to_zoned_datetime(tz.clone()).date();
    let first = today.first_of_month();
    let start = start_of_day(first, tz);
    let end = start_of_day(first.checked_add(1.month()).unwrap_or(first), tz);
    let month_key = format!("{:04}-{:02}", first.year(), first.month());
    let rows = priced_spend(state, Scope::All, Some(start.as_millisecond()), None).await?;
    let elapsed = (now.as_millisecond() - start.as_millisecond()).max(1) as f64;
    let length = (end.as_millisecond() - start.as_millisecond()).max(1) as f64;
    for used in budget_use(budgets, &rows) {
        let Some(percent) = used.percent else {
            continue;
        };
        let scope = match &used.target {
            BudgetTarget::Team(t) => format!("team:{t}"),
            BudgetTarget::User(u) => format!("user:{u}"),
        };
        for threshold in THRESHOLDS.into_iter().filter(|t| percent >= f64::from(*t)) {
            if store
                .record_budget_alert(&scope, &month_key, threshold)
                .await?
            {
                sink(&BudgetAlert {
                    project: Some(scope.clone()),
                    period: Period::Month,
                    period_key: month_key.clone(),
                    period_start: start,
                    period_end: end,
                    threshold_percent: threshold,
                    limit_usd: used.monthly_usd,
                    spent_usd: used.spent_usd,
                    percent,
                    projected_usd: used.spent_usd * length / elapsed,
                    at: now,
                });
            }
        }
    }
    Ok(())
}
