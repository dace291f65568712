//! Schema migrations: from empty, from every earlier version, and a newer schema refused.

use cclive_core::team::Role;
use cclive_team_store::{SCHEMA_VERSION, TeamStore, TeamStoreError};

use crate::support::{push, store, tokens, usage, user};

#[tokio::test]
async fn from_empty_to_latest_and_again_is_a_no_op() {
    let (store, url) = store("mig_empty").await;
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    let again = TeamStore::connect(&url).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
}

#[tokio::test]
async fn from_each_earlier_version_keeps_the_data() {
    for from in 1..SCHEMA_VERSION {
        let url = cclive_pg_test::fresh_database(&format!("mig_from_{from}")).await;
        let old = TeamStore::connect_at(&url, from).await.unwrap();
        assert_eq!(old.schema_version().await.unwrap(), from);
        let (_, token) = user(&old, "ann@corp", "platform", Role::Member).await;
        drop(old);
        let new = TeamStore::connect(&url).await.unwrap();
        assert_eq!(new.schema_version().await.unwrap(), SCHEMA_VERSION);
        let ann = new.authenticate(&token).await.unwrap();
        assert_eq!(ann.email, "ann@corp");
        let reply = new
            .push(
                &ann,
                push("m1", vec![usage(1, "msg_1", "s1", 5, tokens(3, 4))]),
            )
            .await
            .unwrap();
        assert_eq!(reply.reply.acked_seq, 1);
    }
}

#[tokio::test]
async fn several_servers_starting_at_once_migrate_once() {
    let url = cclive_pg_test::fresh_database("mig_race").await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { TeamStore::connect(&url).await.map(|_| ()) })
        })
        .collect();
    for s in starts {
        s.await.unwrap().unwrap();
    }
    let store = TeamStore::connect(&url).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
}

#[tokio::test]
async fn a_newer_schema_is_refused_untouched() {
    let (_, url) = store("mig_newer").await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute(
            "INSERT INTO cclive_schema (version, name, applied_at_ms) VALUES ($1, 'future', 0)",
            &[&i32::try_from(SCHEMA_VERSION + 1).unwrap()],
        )
        .await
        .unwrap();
    let err = TeamStore::connect(&url).await.unwrap_err();
    assert!(
        matches!(err, TeamStoreError::NewerSchema { found, supported }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade cclive"), "{err}");
}
