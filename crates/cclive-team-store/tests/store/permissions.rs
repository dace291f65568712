//! Roles and tokens: a member reads and writes only their own data, a lead their team's, an
//! admin everything; a revoked token is refused.

use cclive_core::Status;
use cclive_core::team::Role;
use cclive_team_store::{BudgetTarget, Scope, TeamStoreError};

use crate::support::{push, session, store, tokens, total, usage, user};

#[tokio::test]
async fn each_role_sees_its_own_scope() {
    let (store, _) = store("perm_scope").await;
    let (ann, _) = user(&store, "ann@corp", "platform", Role::Member).await;
    let (bob, _) = user(&store, "bob@corp", "platform", Role::Member).await;
    let (lea, _) = user(&store, "lea@corp", "platform", Role::Lead).await;
    let (cy, _) = user(&store, "cy@corp", "mobile", Role::Member).await;
    let (root, _) = user(&store, "root@corp", "ops", Role::Admin).await;
    for (who, machine, key) in [
        (&ann, "ma", "msg_a"),
        (&bob, "mb", "msg_b"),
        (&cy, "mc", "msg_c"),
    ] {
        store
            .push(
                who,
                push(
                    machine,
                    vec![
                        session(1, &format!("s-{machine}"), 1, Status::Active, 1.0),
                        usage(2, key, &format!("s-{machine}"), 5, tokens(10, 1)),
                    ],
                ),
            )
            .await
            .unwrap();
    }
    assert_eq!(total(&store, &ann).await.1, 1);
    assert_eq!(total(&store, &lea).await.1, 2);
    assert_eq!(total(&store, &root).await.1, 3);
    let emails = |rows: Vec<cclive_team_store::LiveSession>| {
        let mut e: Vec<_> = rows.into_iter().map(|r| r.email).collect();
        e.sort();
        e
    };
    assert_eq!(
        emails(store.live_sessions(ann.scope()).await.unwrap()),
        ["ann@corp"]
    );
    assert_eq!(
        emails(store.live_sessions(lea.scope()).await.unwrap()),
        ["ann@corp", "bob@corp"]
    );
    assert_eq!(store.live_sessions(Scope::All).await.unwrap().len(), 3);
    assert_eq!(store.machines(bob.scope()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_member_cannot_write_another_users_data() {
    let (store, _) = store("perm_write").await;
    let (ann, _) = user(&store, "ann@corp", "platform", Role::Member).await;
    let (bob, _) = user(&store, "bob@corp", "platform", Role::Member).await;
    store
        .push(
            &ann,
            push(
                "ann-laptop",
                vec![usage(1, "msg_a", "s1", 50, tokens(10, 1))],
            ),
        )
        .await
        .unwrap();
    // Bob's token with Ann's machine id (a cloned image, or an attempt): refused whole.
    let err = store
        .push(
            &bob,
            push("ann-laptop", vec![usage(2, "msg_x", "s1", 5, tokens(1, 1))]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TeamStoreError::Conflict(_)), "{err:?}");
    assert!(matches!(
        store.cursor(&bob, "ann-laptop").await.unwrap_err(),
        TeamStoreError::Conflict(_)
    ));
    // Bob reporting Ann's response from his own machine: neither inflates nor steals it.
    let out = store
        .push(
            &bob,
            push(
                "bob-laptop",
                vec![usage(1, "msg_a", "s9", 1, tokens(999, 999))],
            ),
        )
        .await
        .unwrap();
    assert_eq!(out.reply.rejected.len(), 1, "{:?}", out.reply);
    assert_eq!(total(&store, &ann).await, (tokens(10, 1), 1));
    assert_eq!(total(&store, &bob).await.1, 0);
    // Nor can he retire it.
    store
        .push(
            &bob,
            push(
                "bob-laptop",
                vec![cclive_core::team::PushItem {
                    seq: 2,
                    body: cclive_core::team::ItemBody::RetiredUsage {
                        message_id: "msg_a".into(),
                    },
                }],
            ),
        )
        .await
        .unwrap();
    assert_eq!(total(&store, &ann).await.1, 1);
}

#[tokio::test]
async fn revoked_and_bad_tokens_are_refused() {
    let (store, _) = store("perm_tokens").await;
    let (_, token) = user(&store, "ann@corp", "platform", Role::Member).await;
    assert!(store.authenticate(&token).await.is_ok());
    for bad in [
        "",
        "cct_",
        "nonsense",
        &format!("{token}x"),
        &token.replace("cct_", "cct_0"),
    ] {
        assert!(
            matches!(
                store.authenticate(bad).await,
                Err(TeamStoreError::Unauthorized)
            ),
            "{bad}"
        );
    }
    store.revoke_user("ann@corp").await.unwrap();
    assert!(matches!(
        store.authenticate(&token).await,
        Err(TeamStoreError::Unauthorized)
    ));
    assert!(matches!(
        store.revoke_user("nobody@corp").await,
        Err(TeamStoreError::NotFound(_))
    ));
    let users = store.users().await.unwrap();
    assert!(users[0].revoked_at_ms.is_some());
}

#[tokio::test]
async fn budgets_are_set_per_team_and_user() {
    let (store, _) = store("perm_budgets").await;
    user(&store, "ann@corp", "platform", Role::Member).await;
    store
        .set_budget(&BudgetTarget::Team("platform".into()), 2000.0)
        .await
        .unwrap();
    store
        .set_budget(&BudgetTarget::User("ann@corp".into()), 100.0)
        .await
        .unwrap();
    store
        .set_budget(&BudgetTarget::User("ann@corp".into()), 150.0)
        .await
        .unwrap();
    let budgets = store.budgets().await.unwrap();
    assert_eq!(budgets.len(), 2);
    assert_eq!(budgets[1].monthly_usd, 150.0);
    assert!(matches!(
        store
            .set_budget(&BudgetTarget::Team("nope".into()), 1.0)
            .await,
        Err(TeamStoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .set_budget(&BudgetTarget::Team("platform".into()), f64::NAN)
            .await,
        Err(TeamStoreError::Invalid(_))
    ));
}
