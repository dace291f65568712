//! The agent protocol's writes: a machine's cursor and idempotent pushes.
//!
//! Every item of a push is checked in Rust first (so a bad value is rejected alone instead of
//! aborting the transaction), then applied with a statement whose conflict rule makes a repeat a
//! no-op: sessions only to a higher revision, usage by the local merge rule, events
//! insert-or-ignore, the cursor only forward. The whole push is one transaction.

use cclive_core::team::{
    EventItem, ItemBody, MachineInfo, PROTOCOL_VERSION, PushReply, RawPushRequest, Rejected,
    SessionItem, UsageItem, parse_item,
};
use deadpool_postgres::Transaction;

use crate::{Principal, TeamStore, TeamStoreError, now_ms, to_i64, to_u64};

/// What a push did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// The reply for the agent.
    pub reply: PushReply,
    /// How many items were applied (whether or not they changed a row).
    pub applied: usize,
}

const UPSERT_MACHINE: &str = "
    INSERT INTO machines (id, user_id, hostname, agent_version, acked_seq, outbox_head,
                          first_seen_ms, last_contact_ms)
    VALUES ($1, $2, $3, $4, 0, $5, $6, $6)
    ON CONFLICT (id) DO UPDATE SET
        hostname = EXCLUDED.hostname,
        agent_version = EXCLUDED.agent_version,
        outbox_head = coalesce(EXCLUDED.outbox_head, machines.outbox_head),
        last_contact_ms = EXCLUDED.last_contact_ms
    WHERE machines.user_id = EXCLUDED.user_id
    RETURNING acked_seq";

const UPSERT_SESSION: &str = "
    INSERT INTO sessions (machine_id, session_id, user_id, revision, status, mode, source,
        started_at_ms, updated_at_ms, ended_at_ms, project, cwd, model, waiting_for,
        total_cost_usd, cost_source, duration_ms, duration_api_ms, num_turns, tokens_input,
        tokens_output, tokens_cache_read, tokens_cache_creation, api_requests, claude_version,
        title, last_prompt, command, received_at_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)
    ON CONFLICT (machine_id, session_id) DO UPDATE SET
        revision = EXCLUDED.revision, status = EXCLUDED.status, mode = EXCLUDED.mode,
        source = EXCLUDED.source, started_at_ms = EXCLUDED.started_at_ms,
        updated_at_ms = EXCLUDED.updated_at_ms, ended_at_ms = EXCLUDED.ended_at_ms,
        project = EXCLUDED.project, cwd = EXCLUDED.cwd, model = EXCLUDED.model,
        waiting_for = EXCLUDED.waiting_for, total_cost_usd = EXCLUDED.total_cost_usd,
        cost_source = EXCLUDED.cost_source, duration_ms = EXCLUDED.duration_ms,
        duration_api_ms = EXCLUDED.duration_api_ms, num_turns = EXCLUDED.num_turns,
        tokens_input = EXCLUDED.tokens_input, tokens_output = EXCLUDED.tokens_output,
        tokens_cache_read = EXCLUDED.tokens_cache_read,
        tokens_cache_creation = EXCLUDED.tokens_cache_creation,
        api_requests = EXCLUDED.api_requests, claude_version = EXCLUDED.claude_version,
        title = EXCLUDED.title, last_prompt = EXCLUDED.last_prompt, command = EXCLUDED.command,
        received_at_ms = EXCLUDED.received_at_ms
    WHERE sessions.revision < EXCLUDED.revision";

/// The local history's merge rule (`cclive_core::usage_merge`: field-wise maximum of every count
/// of `Tokens`, model kept once known, sidechain while every report says so, the earliest
/// report's owner), server-wide by message id. A row owned by another user is left alone (no row
/// is returned, and the item is rejected). The store's merge-rule property test holds it to the
/// Rust rule.
const UPSERT_USAGE: &str = "
    INSERT INTO usage (message_id, user_id, machine_id, session_id, first_seen_ms, model, input,
        output, cache_read, cache_creation, sidechain, cache_creation_1h, web_search_requests,
        fast_responses, us_only_responses)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (message_id) DO UPDATE SET
        input = GREATEST(usage.input, EXCLUDED.input),
        output = GREATEST(usage.output, EXCLUDED.output),
        cache_read = GREATEST(usage.cache_read, EXCLUDED.cache_read),
        cache_creation = GREATEST(usage.cache_creation, EXCLUDED.cache_creation),
        cache_creation_1h = GREATEST(usage.cache_creation_1h, EXCLUDED.cache_creation_1h),
        web_search_requests = GREATEST(usage.web_search_requests, EXCLUDED.web_search_requests),
        fast_responses = GREATEST(usage.fast_responses, EXCLUDED.fast_responses),
        us_only_responses = GREATEST(usage.us_only_responses, EXCLUDED.us_only_responses),
        model = coalesce(usage.model, EXCLUDED.model),
        sidechain = usage.sidechain AND EXCLUDED.sidechain,
        machine_id = CASE WHEN EXCLUDED.first_seen_ms < usage.first_seen_ms
                          THEN EXCLUDED.machine_id ELSE usage.machine_id END,
        session_id = CASE WHEN EXCLUDED.first_seen_ms < usage.first_seen_ms
                          THEN EXCLUDED.session_id ELSE usage.session_id END,
        first_seen_ms = LEAST(usage.first_seen_ms, EXCLUDED.first_seen_ms)
    WHERE usage.user_id = EXCLUDED.user_id
    RETURNING 1";

const RETIRE_USAGE: &str = "DELETE FROM usage WHERE message_id = $1 AND user_id = $2";

const INSERT_EVENT: &str = "
    INSERT INTO events (machine_id, event_id, user_id, session_id, at_ms, kind, data)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (machine_id, event_id) DO NOTHING";

const ADVANCE_CURSOR: &str =
    "UPDATE machines SET acked_seq = GREATEST(acked_seq, $2) WHERE id = $1 RETURNING acked_seq";

/// Text PostgreSQL can store, of at most `max` bytes.
fn text(v: &str, what: &str, max: usize) -> Result<(), String> {
    if v.contains('\0') {
        return Err(format!("{what} contains a NUL character"));
    }
    if v.len() > max {
        return Err(format!("{what} is longer than {max} bytes"));
    }
    Ok(())
}

fn opt_text(v: Option<&String>, what: &str, max: usize) -> Result<(), String> {
    v.map_or(Ok(()), |v| text(v, what, max))
}

fn check_key(v: &str, what: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    text(v, what, 200)
}

fn check_machine(m: &MachineInfo) -> Result<(), TeamStoreError> {
    check_key(&m.id, "the machine id")
        .and_then(|()| text(&m.hostname, "the hostname", 255))
        .and_then(|()| text(&m.agent_version, "the agent version", 100))
        .map_err(TeamStoreError::Invalid)
}

impl TeamStore {
    /// A machine's acknowledged cursor (0 when new). `Conflict` when the machine id is bound to
    /// another user (e.g. a cloned disk image): that machine must pick a new id.
    pub async fn cursor(&self, who: &Principal, machine_id: &str) -> Result<u64, TeamStoreError> {
        check_key(machine_id, "the machine id").map_err(TeamStoreError::Invalid)?;
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT user_id, acked_seq FROM machines WHERE id = $1",
                &[&machine_id],
            )
            .await?;
        match row {
            None => Ok(0),
            Some(r) if r.get::<_, i64>(0) == who.user_id => Ok(to_u64(r.get(1))),
            Some(_) => Err(machine_conflict(machine_id)),
        }
    }

    /// Applies one push in one transaction, attributing everything to `who`.
    pub async fn push(
        &self,
        who: &Principal,
        push: RawPushRequest,
    ) -> Result<PushOutcome, TeamStoreError> {
        if push.protocol != PROTOCOL_VERSION {
            return Err(TeamStoreError::Invalid(format!(
                "this server speaks team protocol {PROTOCOL_VERSION}, the agent sent {}; use \
                 the same cclive version on both",
                push.protocol
            )));
        }
        check_machine(&push.machine)?;
        let now = now_ms();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let head = push.outbox_head.and_then(|h| i64::try_from(h).ok());
        let stmt = tx.prepare_cached(UPSERT_MACHINE).await?;
        let machine = &push.machine;
        if tx
            .query_opt(
                &stmt,
                &[
                    &machine.id,
                    &who.user_id,
                    &machine.hostname,
                    &machine.agent_version,
                    &head,
                    &now,
                ],
            )
            .await?
            .is_none()
        {
            return Err(machine_conflict(&machine.id));
        }
        let mut outcome = PushOutcome::default();
        let mut max_seq = 0u64;
        let mut items = Vec::with_capacity(push.items.len());
        for raw in push.items {
            match parse_item(raw) {
                Ok(item) => {
                    max_seq = max_seq.max(item.seq);
                    items.push(item);
                }
                Err(rejected) => {
                    max_seq = max_seq.max(rejected.seq.unwrap_or(0));
                    outcome.reply.rejected.push(rejected);
                }
            }
        }
        // Prepared once, before the items run, so every item's statement goes out in order.
        for sql in [UPSERT_SESSION, UPSERT_USAGE, RETIRE_USAGE, INSERT_EVENT] {
            tx.prepare_cached(sql).await?;
        }
        // The items' statements are pipelined on the one connection (sent in order without
        // waiting for each answer): one round trip per push instead of one per item.
        let results = futures_util::future::join_all(items.iter().map(|item| {
            let tx = &tx;
            let machine = machine.id.as_str();
            async move {
                match &item.body {
                    ItemBody::Session { session } => {
                        apply_session(tx, who, machine, session, now).await
                    }
                    ItemBody::Usage { usage } => apply_usage(tx, who, machine, usage).await,
                    ItemBody::RetiredUsage { message_id } => {
                        match check_key(message_id, "the message id") {
                            Ok(()) => {
                                let stmt = tx.prepare_cached(RETIRE_USAGE).await?;
                                tx.execute(&stmt, &[message_id, &who.user_id]).await?;
                                Ok(Ok(()))
                            }
                            Err(e) => Ok(Err(e)),
                        }
                    }
                    ItemBody::Event { event } => apply_event(tx, who, machine, event).await,
                }
            }
        }))
        .await;
        for (item, applied) in items.iter().zip(results) {
            match applied? {
                Ok(()) => outcome.applied += 1,
                Err(error) => outcome.reply.rejected.push(Rejected {
                    seq: Some(item.seq),
                    error,
                }),
            }
        }
        let seq = i64::try_from(max_seq).unwrap_or(i64::MAX);
        let stmt = tx.prepare_cached(ADVANCE_CURSOR).await?;
        let acked: i64 = tx.query_one(&stmt, &[&machine.id, &seq]).await?.get(0);
        tx.commit().await?;
        outcome.reply.acked_seq = to_u64(acked);
        Ok(outcome)
    }
}

fn machine_conflict(id: &str) -> TeamStoreError {
    TeamStoreError::Conflict(format!(
        "machine {id} belongs to another user (a cloned disk image?); delete the agent's machine \
         id file so it picks a new one"
    ))
}

/// Applies a session; the inner `Err` is a rejection of this item alone.
async fn apply_session(
    tx: &Transaction<'_>,
    who: &Principal,
    machine: &str,
    s: &SessionItem,
    now: i64,
) -> Result<Result<(), String>, TeamStoreError> {
    let checked = (|| {
        check_key(&s.session_id, "the session id")?;
        text(&s.source, "the source", 100)?;
        for (v, what) in [
            (&s.project_path, "the project"),
            (&s.cwd, "the working directory"),
            (&s.model, "the model"),
            (&s.waiting_for, "waiting_for"),
            (&s.claude_version, "the Claude Code version"),
            (&s.title, "the title"),
            (&s.last_prompt, "the last prompt"),
            (&s.command, "the command"),
        ] {
            opt_text(v.as_ref(), what, 64 * 1024)?;
        }
        if !s.total_cost_usd.is_finite() || s.total_cost_usd < 0.0 {
            return Err("the cost is not a non-negative number".to_owned());
        }
        Ok([
            to_i64(s.revision, "the revision")?,
            to_i64(s.duration_ms, "duration_ms")?,
            to_i64(s.duration_api_ms, "duration_api_ms")?,
            to_i64(s.num_turns, "num_turns")?,
            to_i64(s.tokens.input, "input tokens")?,
            to_i64(s.tokens.output, "output tokens")?,
            to_i64(s.tokens.cache_read, "cache read tokens")?,
            to_i64(s.tokens.cache_creation, "cache creation tokens")?,
            to_i64(s.api_requests, "api_requests")?,
        ])
    })();
    let n = match checked {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    let mode = serde_json::to_value(s.mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let cost_source = serde_json::to_value(s.cost_source)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let stmt = tx.prepare_cached(UPSERT_SESSION).await?;
    tx.execute(
        &stmt,
        &[
            &machine,
            &s.session_id,
            &who.user_id,
            &n[0],
            &s.status.as_str(),
            &mode,
            &s.source,
            &s.started_at_ms,
            &s.updated_at_ms,
            &s.ended_at_ms,
            &s.project_path,
            &s.cwd,
            &s.model,
            &s.waiting_for,
            &s.total_cost_usd,
            &cost_source,
            &n[1],
            &n[2],
            &n[3],
            &n[4],
            &n[5],
            &n[6],
            &n[7],
            &n[8],
            &s.claude_version,
            &s.title,
            &s.last_prompt,
            &s.command,
            &now,
        ],
    )
    .await?;
    Ok(Ok(()))
}

async fn apply_usage(
    tx: &Transaction<'_>,
    who: &Principal,
    machine: &str,
    u: &UsageItem,
) -> Result<Result<(), String>, TeamStoreError> {
    let checked = (|| {
        check_key(&u.message_id, "the message id")?;
        check_key(&u.session_id, "the session id")?;
        opt_text(u.model.as_ref(), "the model", 200)?;
        Ok([
            to_i64(u.tokens.input, "input tokens")?,
            to_i64(u.tokens.output, "output tokens")?,
            to_i64(u.tokens.cache_read, "cache read tokens")?,
            to_i64(u.tokens.cache_creation, "cache creation tokens")?,
            to_i64(u.tokens.cache_creation_1h, "1-hour cache write tokens")?,
            to_i64(u.tokens.web_search_requests, "web search requests")?,
            to_i64(u.tokens.fast_responses, "fast responses")?,
            to_i64(u.tokens.us_only_responses, "US-only responses")?,
        ])
    })();
    let t = match checked {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let stmt = tx.prepare_cached(UPSERT_USAGE).await?;
    let row = tx
        .query_opt(
            &stmt,
            &[
                &u.message_id,
                &who.user_id,
                &machine,
                &u.session_id,
                &u.first_seen_ms,
                &u.model,
                &t[0],
                &t[1],
                &t[2],
                &t[3],
                &u.sidechain,
                &t[4],
                &t[5],
                &t[6],
                &t[7],
            ],
        )
        .await?;
    Ok(if row.is_some() {
        Ok(())
    } else {
        Err(format!(
            "response {} is already counted for another user",
            u.message_id
        ))
    })
}

async fn apply_event(
    tx: &Transaction<'_>,
    who: &Principal,
    machine: &str,
    e: &EventItem,
) -> Result<Result<(), String>, TeamStoreError> {
    let checked = (|| {
        check_key(&e.id, "the event id")?;
        check_key(&e.session_id, "the session id")?;
        text(&e.kind, "the event kind", 100)?;
        // PostgreSQL's JSONB cannot hold a NUL character.
        let data = serde_json::to_string(&e.data).map_err(|x| x.to_string())?;
        if data.contains("\\u0000") {
            return Err("the event data contains a NUL character".to_owned());
        }
        if data.len() > 256 * 1024 {
            return Err("the event data is larger than 256 KiB".to_owned());
        }
        Ok(())
    })();
    if let Err(err) = checked {
        return Ok(Err(err));
    }
    let stmt = tx.prepare_cached(INSERT_EVENT).await?;
    tx.execute(
        &stmt,
        &[
            &machine,
            &e.id,
            &who.user_id,
            &e.session_id,
            &e.at_ms,
            &e.kind,
            &e.data,
        ],
    )
    .await?;
    Ok(Ok(()))
}
