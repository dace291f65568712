//! Shared helpers: a store on a fresh database, users, and push bodies.

use cclive_core::Tokens;
use cclive_core::team::{
    ItemBody, MachineInfo, PROTOCOL_VERSION, PushItem, RawPushRequest, Role, SessionItem, UsageItem,
};
use cclive_core::{CostSource, Mode, Status};
use cclive_team_store::{NewUser, Principal, TeamStore};

/// A migrated store on a new database, and its URL.
pub(crate) async fn store(test: &str) -> (TeamStore, String) {
    let url = cclive_pg_test::fresh_database(test).await;
    (TeamStore::connect(&url).await.unwrap(), url)
}

/// Adds a user and returns who they are, with their token.
pub(crate) async fn user(
    store: &TeamStore,
    email: &str,
    team: &str,
    role: Role,
) -> (Principal, String) {
    let (_, token) = store
        .add_user(&NewUser {
            email: email.into(),
            team: team.into(),
            role,
        })
        .await
        .unwrap();
    (store.authenticate(&token).await.unwrap(), token)
}

/// A push from `machine` carrying `items` (as JSON, like the wire).
pub(crate) fn push(machine: &str, items: Vec<PushItem>) -> RawPushRequest {
    RawPushRequest {
        protocol: PROTOCOL_VERSION,
        machine: MachineInfo {
            id: machine.into(),
            hostname: format!("host-{machine}"),
            agent_version: "0.1.0".into(),
        },
        outbox_head: items.iter().map(|i| i.seq).max(),
        items: items
            .into_iter()
            .map(|i| serde_json::to_value(i).unwrap())
            .collect(),
    }
}

pub(crate) fn tokens(input: u64, output: u64) -> Tokens {
    Tokens {
        input,
        output,
        cache_read: 0,
        cache_creation: 0,
        ..Tokens::default()
    }
}

pub(crate) fn usage(seq: u64, key: &str, session: &str, at: i64, t: Tokens) -> PushItem {
    PushItem {
        seq,
        body: ItemBody::Usage {
            usage: UsageItem {
                message_id: key.into(),
                session_id: session.into(),
                first_seen_ms: at,
                model: Some("claude-sonnet-4-5".into()),
                tokens: t,
                sidechain: false,
            },
        },
    }
}

pub(crate) fn session(seq: u64, id: &str, revision: u64, status: Status, cost: f64) -> PushItem {
    PushItem {
        seq,
        body: ItemBody::Session {
            session: SessionItem {
                session_id: id.into(),
                revision,
                status,
                mode: Mode::Print,
                source: "wrapper".into(),
                started_at_ms: 1_000,
                updated_at_ms: 1_000 + i64::try_from(revision).unwrap(),
                ended_at_ms: None,
                project_path: Some("/work/app".into()),
                cwd: Some("/work/app".into()),
                model: Some("claude-sonnet-4-5".into()),
                waiting_for: None,
                total_cost_usd: cost,
                cost_source: CostSource::Estimated,
                duration_ms: 10,
                duration_api_ms: 5,
                num_turns: 1,
                tokens: tokens(1, 2),
                api_requests: 1,
                claude_version: Some("2.1.332".into()),
                title: None,
                last_prompt: None,
                command: None,
            },
        },
    }
}

/// Total tokens of everything `who` may see.
pub(crate) async fn total(store: &TeamStore, who: &Principal) -> (Tokens, u64) {
    let mut sum = Tokens::default();
    let mut responses = 0;
    for row in store.spend(who.scope(), None, None, &[]).await.unwrap() {
        sum.add(&row.tokens);
        responses += row.responses;
    }
    (sum, responses)
}
