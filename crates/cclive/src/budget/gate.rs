//! The budget's hard limit (`block_at_usd`): [`prompt_gate`], which `cclive hook` consults
//! before a prompt is sent, and [`hard_limit_status`], which `cclive budget` shows. Fail-open:
//! any failure lets the prompt through. It never prints (the hook prints what it returns).

use cclive_core::budget::{self, Period};
use cclive_core::hook::HookEvent;
use cclive_store::Store;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tracing::debug;

use super::spend::spend_in;
use crate::config::{BudgetSettings, Settings};

/// The global hard limit's figures (`block_at_usd`), when one is set.
#[derive(Debug, serde::Serialize)]
pub(crate) struct HardLimitStatus {
    pub(crate) period: Period,
    pub(crate) period_key: String,
    pub(crate) limit_usd: f64,
    pub(crate) spent_usd: f64,
    pub(crate) reached: bool,
}

pub(crate) fn hard_limit_status(
    config: &BudgetSettings,
    store: Option<&dyn Store>,
    prices: &cclive_core::PriceTable,
    tz: &TimeZone,
    now: Timestamp,
) -> Option<HardLimitStatus> {
    let limit = config.budget.limits.block_at_usd?;
    let window = budget::window(
        config.budget.block_period,
        now,
        tz,
        config.budget.week_start,
    );
    let spend = store
        .and_then(|s| spend_in(s, &window, prices).ok())
        .unwrap_or_default();
    Some(HardLimitStatus {
        period: window.period,
        period_key: window.key,
        limit_usd: limit,
        spent_usd: cclive_core::report::round_usd(spend.total_usd),
        reached: spend.total_usd >= limit,
    })
}

/// Whether a hook payload is a prompt that a reached `block_at_usd` must refuse; the message to
/// print on stderr (with exit code 2) when it is.
///
/// Fast and fail-open: without a hard limit it returns at once (no parsing, no database); any
/// failure (no database, unreadable payload) lets the prompt through. Only `UserPromptSubmit`
/// payloads are ever refused.
pub(crate) fn prompt_gate(settings: &Settings, payload: &[u8]) -> Option<String> {
    let config = &settings.budget.value;
    if !config.budget.has_hard_limit() {
        return None;
    }
    let parsed = cclive_core::hook::parse_payload(payload).ok()?;
    if parsed.event != HookEvent::UserPromptSubmit {
        return None;
    }
    let store = match settings.open_existing_store() {
        Ok(Some(store)) => store,
        Ok(None) => return None,
        Err(e) => {
            debug!(error = format!("{e:#}"), "No database for the budget gate.");
            return None;
        }
    };
    let prices = settings.prices().ok()?;
    let window = budget::window(
        config.budget.block_period,
        Timestamp::now(),
        &config.time_zone(),
        config.budget.week_start,
    );
    let spend = match spend_in(&*store, &window, &prices) {
        Ok(spend) => spend,
        Err(e) => {
            debug!(error = %e, "Cannot read the spend for the budget gate.");
            return None;
        }
    };
    let hit = budget::hard_limit(&config.budget, parsed.cwd.as_deref(), &spend, &window)?;
    let key = match &hit.project {
        None => "block_at_usd in [budget]".to_owned(),
        Some(p) => format!("block_at_usd in [budget.projects.\"{p}\"]"),
    };
    Some(format!(
        "{}.\nTo go on now, raise or remove {key} in {} (`cclive budget` shows the spend).",
        hit.message(),
        settings.config_file.value.display()
    ))
}
