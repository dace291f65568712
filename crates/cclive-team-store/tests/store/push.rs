//! Pushes: idempotent, revision-ordered, malformed items rejected one by one, cursor forward only.

use cclive_core::Status;
use cclive_core::team::Role;
use serde_json::json;

use crate::support::{push, session, store, tokens, total, usage, user};

#[tokio::test]
async fn the_same_push_twice_changes_nothing() {
    let (store, _) = store("push_twice").await;
    let (ann, _) = user(&store, "ann@corp", "platform", Role::Member).await;
    let body = push(
        "m1",
        vec![
            session(1, "s1", 1, Status::Active, 0.5),
            usage(2, "msg_1", "s1", 10, tokens(100, 5)),
            usage(3, "msg_1", "s1", 10, tokens(100, 50)), // a later streaming snapshot
            usage(4, "msg_2", "s1", 20, tokens(7, 8)),
        ],
    );
    let first = store.push(&ann, body.clone()).await.unwrap();
    assert_eq!(first.reply.acked_seq, 4);
    assert!(
        first.reply.rejected.is_empty(),
        "{:?}",
        first.reply.rejected
    );
    let once = total(&store, &ann).await;
    assert_eq!(once, (tokens(107, 58), 2));
    let second = store.push(&ann, body).await.unwrap();
    assert_eq!(second.reply.acked_seq, 4);
    assert_eq!(total(&store, &ann).await, once);
    assert_eq!(store.cursor(&ann, "m1").await.unwrap(), 4);
    assert_eq!(store.live_sessions(ann.scope()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_response_two_machines_report_counts_once() {
    let (store, _) = store("push_two_machines").await;
    let (ann, _) = user(&store, "ann@corp", "platform", Role::Member).await;
    store
        .push(
            &ann,
            push("laptop", vec![usage(1, "msg_1", "s1", 50, tokens(10, 3))]),
        )
        .await
        .unwrap();
    store
        .push(
            &ann,
            push("desktop", vec![usage(1, "msg_1", "s1", 40, tokens(10, 9))]),
        )
        .await
        .unwrap();
    assert_eq!(total(&store, &ann).await, (tokens(10, 9), 1));
}

#[tokio::test]
async fn an_older_revision_never_overwrites_a_newer_one() {
    let (store, _) = store("push_revisions").await;
    let (ann, _) = user(&store, "ann@corp", "platform", Role::Member).await;
    store
        .push(
            &ann,
            push("m1", vec![session(5, "s1", 5, Status::Active, 2.0)]),
        )
        .await
        .unwrap();
    // An older state arrives late (e.g. a replayed batch): ignored.
    store
        .push(
            &ann,
            push("m1", vec![session(3, "s1", 3, Status::Completed, 1.0)]),
        )
        .await
        .unwrap();
    let live = store.live_sessions(ann.scope()).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(
        (live[0].status.as_str(), live[0].total_cost_usd),
        ("ACTIVE", 2.0)
    );
    // A newer one replaces it: the session ended.
    store
        .push(
            &ann,
            push("m1", vec![session(9, "s1", 9, Status::Completed, 3.0)]),
        )
        .await
        .unwrap();
    assert!(store.live_sessions(ann.scope()).await.unwrap().is_empty());
    // The cursor never moved back with the late batch.
    assert_eq!(store.cursor(&ann, "m1").await.unwrap(), 9);
}

#[tokio::test]
async fn malformed_items_are_rejected_alone_and_still_acked() {
    let (store, _) = store("push_malformed").await;
    let (ann, _) = user(&store, "ann@corp", "platform", Role::Member).await;
    let mut body = push(
        "m1",
        vec![
            usage(1, "msg_1", "s1", 10, tokens(1, 1)),
            usage(4, "msg_2", "s1", 10, tokens(u64::MAX, 1)),
            usage(5, "", "s1", 10, tokens(1, 1)),
        ],
    );
    body.items.push(json!({"seq": 2, "kind": "fax"}));
    body.items.push(json!({"seq": 3, "kind": "usage"}));
    body.items.push(json!("not an item"));
    body.items.push(json!({"seq": 6, "kind": "event", "event": {
        "id": "e1", "session_id": "s1", "at_ms": 1, "kind": "note", "data": {"t": "a\u{0}b"}}}));
    body.items.push(json!({"seq": 7, "kind": "event", "event": {
        "id": "e2", "session_id": "s1", "at_ms": 1, "kind": "note", "data": {}}}));
    let out = store.push(&ann, body).await.unwrap();
    assert_eq!(out.reply.acked_seq, 7);
    let mut seqs: Vec<_> = out.reply.rejected.iter().map(|r| r.seq).collect();
    seqs.sort();
    assert_eq!(seqs, [None, Some(2), Some(3), Some(4), Some(5), Some(6)]);
    assert!(
        out.reply.rejected.iter().all(|r| !r.error.is_empty()),
        "{:?}",
        out.reply.rejected
    );
    assert_eq!(out.applied, 2);
    assert_eq!(total(&store, &ann).await, (tokens(1, 1), 1));
}

#[tokio::test]
async fn a_retired_key_is_dropped() {
    let (store, _) = store("push_retired").await;
    let (ann, _) = user(&store, "ann@corp", "platform", Role::Member).await;
    let mut items = vec![usage(1, "req:r1", "s1", 10, tokens(5, 5))];
    items.push(cclive_core::team::PushItem {
        seq: 2,
        body: cclive_core::team::ItemBody::RetiredUsage {
            message_id: "req:r1".into(),
        },
    });
    items.push(usage(3, "msg_1", "s1", 10, tokens(5, 6)));
    store.push(&ann, push("m1", items)).await.unwrap();
    assert_eq!(total(&store, &ann).await, (tokens(5, 6), 1));
}

/// Spend comes back split by price class (fast or not, US-only or not, the largest of the given
/// prompt thresholds every prompt exceeds), each class with the counts that price it.
#[tokio::test]
async fn spend_is_split_by_price_class_with_the_pricing_counts() {
    let (store, _) = store("push_price_class").await;
    let (ann, _) = user(&store, "ann@corp", "platform", Role::Member).await;
    let t = |input: u64, fast: u64, one_hour: u64| cclive_core::Tokens {
        input,
        output: 10,
        cache_read: 0,
        cache_creation: 1000,
        cache_creation_1h: one_hour,
        web_search_requests: 1,
        fast_responses: fast,
        us_only_responses: 0,
    };
    store
        .push(
            &ann,
            push(
                "m1",
                vec![
                    usage(1, "short_1", "s1", 10, t(50_000, 0, 400)),
                    usage(2, "short_2", "s1", 11, t(60_000, 0, 0)),
                    // 150,000 + 1,000 prompt tokens: above 100,000, not above 200,000.
                    usage(3, "long_1", "s1", 12, t(150_000, 0, 1000)),
                    usage(4, "fast_1", "s1", 13, t(50_000, 1, 0)),
                ],
            ),
        )
        .await
        .unwrap();
    let rows = store
        .spend(ann.scope(), None, None, &[100_000, 200_000])
        .await
        .unwrap();
    let classes: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.prompt_above,
                r.tokens.fast_responses,
                r.responses,
                r.tokens.input,
                r.tokens.cache_creation_1h,
                r.tokens.web_search_requests,
            )
        })
        .collect();
    assert_eq!(
        classes,
        [
            (None, 0, 2, 110_000, 400, 2),
            (None, 1, 1, 50_000, 0, 1),
            (Some(100_000), 0, 1, 150_000, 1000, 1),
        ]
    );
    // Without thresholds, only fast mode splits.
    assert_eq!(
        store
            .spend(ann.scope(), None, None, &[])
            .await
            .unwrap()
            .len(),
        2
    );
}
