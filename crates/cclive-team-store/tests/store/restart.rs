//! A PostgreSQL restart: the pool's connections all died, and the first request after it must
//! still succeed (the pool checks a connection before handing it out).

use cclive_core::team::Role;
use cclive_team_store::TeamStore;

use crate::support::user;

#[test]
fn the_first_requests_after_a_postgres_restart_succeed() {
    let mut cluster = cclive_pg_test::PrivateCluster::start();
    let url = cluster.database_url("restart");
    // One thread: while `pg_ctl restart` runs, nothing polls the pool's connections, so the pool
    // cannot have noticed they were closed (as with a server that went away without a word).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = rt.block_on(TeamStore::connect(&url)).unwrap();
    let (ann, token) = rt.block_on(user(&store, "ann@corp", "platform", Role::Member));
    // Several connections in the pool, all idle.
    rt.block_on(async {
        let reads = (0..4).map(|_| store.authenticate(&token));
        for read in futures_util::future::join_all(reads).await {
            read.unwrap();
        }
    });
    cluster.pg_ctl_restart();
    let first = rt.block_on(async {
        let reads = (0..4).map(|_| store.authenticate(&token));
        futures_util::future::join_all(reads).await
    });
    for read in first {
        assert_eq!(
            read.unwrap(),
            ann,
            "the first requests after a restart succeed"
        );
    }
    rt.block_on(store.spend(ann.scope(), None, None, &[]))
        .unwrap();
}
