//! What the team dashboard and `cclive report --server` read, always within a [`Scope`].
//!
//! Sums come back by (person, project, model) with their tokens; pricing and grouping further
//! are the caller's (the same price table as the local reports), so this crate holds no rule
//! about money.

use cclive_core::Tokens;
use serde::Serialize;

use crate::{Scope, TeamStore, TeamStoreError, to_u64};

/// A running session, as the dashboard's "who runs Claude Code now" shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveSession {
    /// The session.
    pub session_id: String,
    /// Who runs it.
    pub email: String,
    /// Their team.
    pub team: String,
    /// On which machine (host name).
    pub hostname: String,
    /// The machine's id.
    pub machine_id: String,
    /// Its project (`project_path`, else `cwd`).
    pub project: Option<String>,
    /// `ACTIVE` or `IDLE`.
    pub status: String,
    /// What it waits for (e.g. "permission prompt").
    pub waiting_for: Option<String>,
    /// Its main model.
    pub model: Option<String>,
    /// Cost so far.
    pub total_cost_usd: f64,
    /// Tokens so far.
    pub tokens: Tokens,
    /// Turns so far.
    pub num_turns: u64,
    /// First seen.
    pub started_at_ms: i64,
    /// Last change.
    pub updated_at_ms: i64,
    /// Claude Code's title, when the agent shares prompts.
    pub title: Option<String>,
}

/// Usage summed by person, project, model and price class over a time range.
///
/// Responses are summed only within one price class (fast mode or not, US-only or not, the
/// long-prompt thresholds their prompts exceed), so the sum prices exactly as its responses do:
/// `PriceTable::cost_of_sum(model, &tokens, prompt_above)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpendRow {
    /// Who.
    pub email: String,
    /// Their team.
    pub team: String,
    /// The owning session's project, when known.
    pub project: Option<String>,
    /// The model, when known.
    pub model: Option<String>,
    /// The summed tokens, with the counts pricing needs.
    pub tokens: Tokens,
    /// How many responses.
    pub responses: u64,
    /// The largest of the caller's prompt thresholds every one of these responses' prompts
    /// exceeds (`None`: none); with `tokens`' fast and US-only counts, the price class.
    #[serde(skip)]
    pub prompt_above: Option<u64>,
}

/// A machine's contact with the server: is a figure final?
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MachineStatus {
    /// The machine id.
    pub machine_id: String,
    /// Its host name.
    pub hostname: String,
    /// Whose it is.
    pub email: String,
    /// The agent's cclive version.
    pub agent_version: String,
    /// The last push or cursor read.
    pub last_contact_ms: i64,
    /// The acknowledged outbox seq.
    pub acked_seq: u64,
    /// Items the agent holds that the server has not acknowledged, as it last said.
    pub backlog: Option<u64>,
}

fn tokens(r: &tokio_postgres::Row, first: usize) -> Tokens {
    Tokens {
        input: to_u64(r.get(first)),
        output: to_u64(r.get(first + 1)),
        cache_read: to_u64(r.get(first + 2)),
        cache_creation: to_u64(r.get(first + 3)),
        ..Tokens::default()
    }
}

impl TeamStore {
    /// Sessions still running (`ACTIVE` or `IDLE`), newest change first; a session two machines
    /// reported once, as its latest report has it.
    pub async fn live_sessions(&self, scope: Scope) -> Result<Vec<LiveSession>, TeamStoreError> {
        let (user, team) = scope.filters();
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT * FROM (
                   SELECT DISTINCT ON (s.session_id)
                     s.session_id, u.email, t.name, m.hostname, m.id, coalesce(s.project, s.cwd),
                     s.status, s.waiting_for, s.model, s.total_cost_usd, s.tokens_input,
                     s.tokens_output, s.tokens_cache_read, s.tokens_cache_creation, s.num_turns,
                     s.started_at_ms, s.updated_at_ms, s.title
                   FROM sessions s JOIN users u ON u.id = s.user_id
                   JOIN teams t ON t.id = u.team_id JOIN machines m ON m.id = s.machine_id
                   WHERE s.status IN ('ACTIVE', 'IDLE')
                     AND ($1::BIGINT IS NULL OR s.user_id = $1)
                     AND ($2::BIGINT IS NULL OR u.team_id = $2)
                   ORDER BY s.session_id, s.updated_at_ms DESC
                 ) live ORDER BY updated_at_ms DESC",
                &[&user, &team],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| LiveSession {
                session_id: r.get(0),
                email: r.get(1),
                team: r.get(2),
                hostname: r.get(3),
                machine_id: r.get(4),
                project: r.get(5),
                status: r.get(6),
                waiting_for: r.get(7),
                model: r.get(8),
                total_cost_usd: r.get(9),
                tokens: tokens(r, 10),
                num_turns: to_u64(r.get(14)),
                started_at_ms: r.get(15),
                updated_at_ms: r.get(16),
                title: r.get(17),
            })
            .collect())
    }

    /// Usage first seen in `[since_ms, until_ms)` (either bound optional), by person, project,
    /// model and price class; `prompt_thresholds` (ascending: `PriceTable::prompt_thresholds`)
    /// split the responses by prompt size.
    pub async fn spend(
        &self,
        scope: Scope,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        prompt_thresholds: &[u64],
    ) -> Result<Vec<SpendRow>, TeamStoreError> {
        let (user, team) = scope.filters();
        // `width_bucket` counts the thresholds at or below its operand; a prompt EXCEEDS a
        // threshold when prompt - 1 is at or above it. An impossible one stands in for none.
        let mut thresholds: Vec<i64> = prompt_thresholds
            .iter()
            .filter_map(|&t| i64::try_from(t).ok())
            .collect();
        if thresholds.is_empty() {
            thresholds.push(i64::MAX);
        }
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(
                "SELECT u.email, t.name, coalesce(s.project, s.cwd) AS project, g.model,
                        width_bucket(g.input + g.cache_read + g.cache_creation - 1, $5::BIGINT[]),
                        g.fast_responses > 0, g.us_only_responses > 0,
                        sum(g.input)::BIGINT, sum(g.output)::BIGINT, sum(g.cache_read)::BIGINT,
                        sum(g.cache_creation)::BIGINT,
                        sum(LEAST(g.cache_creation_1h, g.cache_creation))::BIGINT,
                        sum(g.web_search_requests)::BIGINT, sum(g.fast_responses)::BIGINT,
                        sum(g.us_only_responses)::BIGINT, count(*)
                 FROM usage g JOIN users u ON u.id = g.user_id JOIN teams t ON t.id = u.team_id
                 LEFT JOIN sessions s ON s.machine_id = g.machine_id AND s.session_id = g.session_id
                 WHERE ($1::BIGINT IS NULL OR g.user_id = $1)
                   AND ($2::BIGINT IS NULL OR u.team_id = $2)
                   AND ($3::BIGINT IS NULL OR g.first_seen_ms >= $3)
                   AND ($4::BIGINT IS NULL OR g.first_seen_ms < $4)
                 GROUP BY 1, 2, 3, 4, 5, 6, 7
                 ORDER BY 1, 3 NULLS LAST, 4 NULLS LAST, 5, 6, 7",
            )
            .await?;
        let rows = client
            .query(&stmt, &[&user, &team, &since_ms, &until_ms, &thresholds])
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let bucket = usize::try_from(r.get::<_, i32>(4)).unwrap_or(0);
                SpendRow {
                    email: r.get(0),
                    team: r.get(1),
                    project: r.get(2),
                    model: r.get(3),
                    tokens: Tokens {
                        cache_creation_1h: to_u64(r.get(11)),
                        web_search_requests: to_u64(r.get(12)),
                        fast_responses: to_u64(r.get(13)),
                        us_only_responses: to_u64(r.get(14)),
                        ..tokens(r, 7)
                    },
                    responses: to_u64(r.get(15)),
                    prompt_above: bucket
                        .checked_sub(1)
                        .and_then(|i| prompt_thresholds.get(i).copied()),
                }
            })
            .collect())
    }

    /// Every machine in scope, by last contact (newest first).
    pub async fn machines(&self, scope: Scope) -> Result<Vec<MachineStatus>, TeamStoreError> {
        let (user, team) = scope.filters();
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT m.id, m.hostname, u.email, m.agent_version, m.last_contact_ms,
                        m.acked_seq, m.outbox_head
                 FROM machines m JOIN users u ON u.id = m.user_id
                 WHERE ($1::BIGINT IS NULL OR m.user_id = $1)
                   AND ($2::BIGINT IS NULL OR u.team_id = $2)
                 ORDER BY m.last_contact_ms DESC, m.id",
                &[&user, &team],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let acked = to_u64(r.get(5));
                MachineStatus {
                    machine_id: r.get(0),
                    hostname: r.get(1),
                    email: r.get(2),
                    agent_version: r.get(3),
                    last_contact_ms: r.get(4),
                    acked_seq: acked,
                    backlog: r
                        .get::<_, Option<i64>>(6)
                        .map(|h| to_u64(h).saturating_sub(acked)),
                }
            })
            .collect())
    }
}
