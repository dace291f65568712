//! The team database's schema: append-only SQL scripts (`src/migrations/NNNN_name.sql`) and the
//! runner that applies the missing ones at start.
//!
//! Several servers may start at once against one database: the runner holds a session-level
//! advisory lock while it reads and moves the version, so each script runs exactly once. A
//! database with a version newer than [`MIGRATIONS`] knows is refused untouched. A script is never
//! edited once released; a change is a new script.

use tokio_postgres::Client;

use crate::TeamStoreError;

/// Every migration in order: (version, name, SQL). Versions are 1, 2, … without gaps.
pub(crate) const MIGRATIONS: &[(u32, &str, &str)] = &[
    (1, "people", include_str!("migrations/0001_people.sql")),
    (2, "history", include_str!("migrations/0002_history.sql")),
    (
        3,
        "budget_alerts",
        include_str!("migrations/0003_budget_alerts.sql"),
    ),
    (
        4,
        "usage_pricing",
        include_str!("migrations/0004_usage_pricing.sql"),
    ),
];

/// The newest schema version this build knows.
#[allow(clippy::cast_possible_truncation)] // a handful of scripts
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The advisory lock key migrations hold ("cclive" in ASCII).
const LOCK_KEY: i64 = 0x0000_6363_6c69_7665;

/// Applies the migrations up to `target` (at most [`SCHEMA_VERSION`]); returns the version the
/// database is at afterwards.
pub(crate) async fn migrate(client: &mut Client, target: u32) -> Result<u32, TeamStoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    let result = migrate_locked(client, target).await;
    // Unlock even when a migration failed (the session may be reused from a pool).
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    let version = result?;
    unlocked?;
    Ok(version)
}

async fn migrate_locked(client: &mut Client, target: u32) -> Result<u32, TeamStoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS cclive_schema (
                version       INTEGER PRIMARY KEY,
                name          TEXT    NOT NULL,
                applied_at_ms BIGINT  NOT NULL
            )",
        )
        .await?;
    let row = client
        .query_one("SELECT coalesce(max(version), 0) FROM cclive_schema", &[])
        .await?;
    let found = u32::try_from(row.get::<_, i32>(0)).unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(TeamStoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let mut version = found;
    for &(v, name, sql) in MIGRATIONS {
        if v <= version || v > target {
            continue;
        }
        let apply = async {
            let tx = client.transaction().await?;
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO cclive_schema (version, name, applied_at_ms) VALUES ($1, $2, $3)",
                &[
                    &i32::try_from(v).unwrap_or(i32::MAX),
                    &name,
                    &jiff::Timestamp::now().as_millisecond(),
                ],
            )
            .await?;
            tx.commit().await
        };
        apply.await.map_err(|source| TeamStoreError::Migrate {
            version: v,
            name,
            source,
        })?;
        version = v;
    }
    Ok(version)
}
