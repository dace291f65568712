//! The SQL usage merge and the Rust rule (`SessionState`'s counting of usage reports, which is
//! `cclive_core::usage_merge`) agree on random report sequences: every count of `Tokens` (the
//! pricing counts included), model, sidechain and first-seen time per response, and the owner of
//! the earliest report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use cclive_core::team::{ItemBody, PushItem, Role, UsageItem};
use cclive_core::{Event, EventKind, PriceTable, SessionId, SessionState, Tokens};
use jiff::Timestamp;
use proptest::prelude::*;

use crate::support::{push, store, user};

#[derive(Clone, Debug)]
struct Report {
    key: u8,
    session: u8,
    at: i64,
    model: Option<u8>,
    tokens: Tokens,
    sidechain: bool,
}

fn report() -> impl Strategy<Value = Report> {
    (
        0u8..3,
        0u8..2,
        0i64..5,
        proptest::option::of(0u8..2),
        (0u64..50, 0u64..50, 0u64..50, 0u64..50),
        (0u64..50, 0u64..3, 0u64..2, 0u64..2),
        any::<bool>(),
    )
        .prop_map(|(key, session, at, model, t, p, sidechain)| Report {
            key,
            session,
            at,
            model,
            tokens: Tokens {
                input: t.0,
                output: t.1,
                cache_read: t.2,
                cache_creation: t.3,
                cache_creation_1h: p.0,
                web_search_requests: p.1,
                fast_responses: p.2,
                us_only_responses: p.3,
            },
            sidechain,
        })
}

#[test]
fn sql_merge_equals_the_rust_rule() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, url) = rt.block_on(store("merge_rule"));
    let (who, _) = rt.block_on(user(&store, "ann@corp", "platform", Role::Member));
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(&url, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(conn);
    let case = AtomicU32::new(0);
    let prices = PriceTable::builtin();
    proptest!(ProptestConfig::with_cases(40), |(reports in proptest::collection::vec(report(), 1..12), split in 1usize..4)| {
        let n = case.fetch_add(1, Ordering::Relaxed);
        let key = |k: u8| format!("c{n}_msg_{k}");
        // The Rust rule: every report folded into one session's ledger.
        let mut state = SessionState::new(SessionId::from("s"), Timestamp::UNIX_EPOCH);
        // The owner rule: the earliest report's session; on a tie the first one pushed.
        let mut owner: BTreeMap<String, (i64, u8)> = BTreeMap::new();
        let mut items = Vec::new();
        for (i, r) in reports.iter().enumerate() {
            let model = r.model.map(|m| format!("claude-model-{m}"));
            let at = Timestamp::from_millisecond(r.at).unwrap();
            state.apply(&Event::new(SessionId::from("s"), at, EventKind::Usage {
                key: key(r.key),
                request_id: None,
                reported_cost_usd: None,
                model: model.clone(),
                tokens: r.tokens,
                is_final: false,
                sidechain: r.sidechain,
            }), &prices);
            owner.entry(key(r.key))
                .and_modify(|o| if r.at < o.0 { *o = (r.at, r.session) })
                .or_insert((r.at, r.session));
            items.push(PushItem { seq: i as u64 + 1, body: ItemBody::Usage { usage: UsageItem {
                message_id: key(r.key),
                session_id: format!("s{}", r.session),
                first_seen_ms: r.at,
                model,
                tokens: r.tokens,
                sidechain: r.sidechain,
            }}});
        }
        // The same reports pushed in `split` batches.
        let per = items.len().div_ceil(split);
        for chunk in items.chunks(per) {
            rt.block_on(store.push(&who, push("m1", chunk.to_vec()))).unwrap();
        }
        let rows = rt.block_on(client.query(
            "SELECT message_id, input, output, cache_read, cache_creation, model, sidechain,
                    first_seen_ms, session_id, cache_creation_1h, web_search_requests,
                    fast_responses, us_only_responses
             FROM usage WHERE message_id LIKE $1 ORDER BY 1",
            &[&format!("c{n}_%")],
        )).unwrap();
        let mut expected: Vec<_> = state.usage_by_key().map(|c| {
            let (_, s) = owner[c.key];
            (c.key.to_owned(), c.tokens, c.model.map(str::to_owned), c.sidechain,
             c.first_at.as_millisecond(), format!("s{s}"))
        }).collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let got: Vec<_> = rows.iter().map(|r| {
            let t = |i: usize| u64::try_from(r.get::<_, i64>(i)).unwrap();
            (r.get::<_, String>(0), Tokens { input: t(1), output: t(2), cache_read: t(3), cache_creation: t(4),
                cache_creation_1h: t(9), web_search_requests: t(10), fast_responses: t(11), us_only_responses: t(12) },
             r.get::<_, Option<String>>(5), r.get::<_, bool>(6), r.get::<_, i64>(7), r.get::<_, String>(8))
        }).collect();
        prop_assert_eq!(got, expected);
    });
}
