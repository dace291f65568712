//! The schema's history and the runner that brings a database up to date.
//!
//! [`MIGRATIONS`] is append-only: a released script is never edited, reordered or removed; a
//! schema change is a new `migrations/NNNN_name.sql` added at the end. The database records how
//! many scripts it has applied in `PRAGMA user_version`. Each script runs in its own transaction
//! together with the version bump, so a failure leaves the database at the last good version, and
//! two processes opening a fresh file at once apply each script only once. A database newer than
//! this build is refused untouched ([`StoreError::NewerSchema`]).

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreError;

/// One schema change.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Migration {
    /// The `user_version` the database has once this script is applied (1, 2, …).
    pub(crate) version: u32,
    /// The script's file name without `.sql`, for error messages.
    pub(crate) name: &'static str,
    /// The script.
    pub(crate) sql: &'static str,
}

/// Every schema change, oldest first. Append only.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "0002_ledger_usage",
        sql: include_str!("migrations/0002_ledger_usage.sql"),
    },
    Migration {
        version: 3,
        name: "0003_budget_alerts",
        sql: include_str!("migrations/0003_budget_alerts.sql"),
    },
    Migration {
        version: 4,
        name: "0004_team_outbox",
        sql: include_str!("migrations/0004_team_outbox.sql"),
    },
    Migration {
        version: 5,
        name: "0005_checkpoint_fingerprint",
        sql: include_str!("migrations/0005_checkpoint_fingerprint.sql"),
    },
    Migration {
        version: 6,
        name: "0006_usage_pricing",
        sql: include_str!("migrations/0006_usage_pricing.sql"),
    },
    Migration {
        version: 7,
        name: "0007_once",
        sql: include_str!("migrations/0007_once.sql"),
    },
    Migration {
        version: 8,
        name: "0008_checkpoint_length",
        sql: include_str!("migrations/0008_checkpoint_length.sql"),
    },
    Migration {
        version: 9,
        name: "0009_usage_by_time_covering",
        sql: include_str!("migrations/0009_usage_by_time_covering.sql"),
    },
    Migration {
        version: 10,
        name: "0010_usage_quarters",
        sql: include_str!("migrations/0010_usage_quarters.sql"),
    },
    Migration {
        version: 11,
        name: "0011_usage_quarters_deferred",
        sql: include_str!("migrations/0011_usage_quarters_deferred.sql"),
    },
    Migration {
        version: 12,
        name: "0012_ledger_journal",
        sql: include_str!("migrations/0012_ledger_journal.sql"),
    },
];

/// The schema version this build writes and understands.
#[cfg(test)]
pub(crate) const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The schema version this build writes and understands.
pub(crate) fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Applies the scripts of `migrations` the database has not seen yet.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    let supported = migrations.last().map_or(0, |m| m.version);
    // Checked without a write lock, so opening an up-to-date database never waits for a writer.
    let found = user_version(conn)?;
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    for migration in migrations.iter().filter(|m| m.version > found) {
        apply(conn, migration, supported)?;
    }
    Ok(())
}

/// Applies one script and bumps the version, in one transaction, unless another process did
/// so in the meantime.
fn apply(conn: &mut Connection, migration: &Migration, supported: u32) -> Result<(), StoreError> {
    let failed = |source| StoreError::Migrate {
        version: migration.version,
        name: migration.name,
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let current = user_version(&tx)?;
    if current > supported {
        return Err(StoreError::NewerSchema {
            found: current,
            supported,
        });
    }
    if current >= migration.version {
        return Ok(());
    }
    tx.execute_batch(migration.sql).map_err(failed)?;
    tx.pragma_update(None, "user_version", migration.version)
        .map_err(failed)?;
    tx.commit().map_err(failed)
}

/// The database's schema version (0 for a new file).
pub(crate) fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    fn table_names(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn versions_count_up_from_one_with_matching_file_names() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
        }
        assert_eq!(LATEST as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_new_database_gets_every_table_and_the_latest_version() {
        let mut conn = fresh();
        migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!(user_version(&conn).unwrap(), LATEST);
        let tables = table_names(&conn);
        for table in [
            "budget_alerts",
            "checkpoints",
            "events",
            "outbox",
            "sessions",
            "team_agent",
            "usage",
        ] {
            assert!(
                tables.iter().any(|t| t == table),
                "{table} missing from {tables:?}"
            );
        }
    }

    #[test]
    fn running_them_again_changes_nothing() {
        let mut conn = fresh();
        migrate(&mut conn, MIGRATIONS).unwrap();
        let before = table_names(&conn);
        migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!(table_names(&conn), before);
        assert_eq!(user_version(&conn).unwrap(), LATEST);
    }

    #[test]
    fn a_failed_migration_leaves_the_last_good_version() {
        let scripts = [
            Migration {
                version: 1,
                name: "0001_good",
                sql: "CREATE TABLE a (x INTEGER);",
            },
            Migration {
                version: 2,
                name: "0002_bad",
                sql: "CREATE TABLE b (x INTEGER); THIS IS NOT SQL;",
            },
        ];
        let mut conn = fresh();
        let err = migrate(&mut conn, &scripts).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Migrate {
                    version: 2,
                    name: "0002_bad",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(user_version(&conn).unwrap(), 1);
        assert_eq!(table_names(&conn), ["a"], "0002 was rolled back as a whole");
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let mut conn = fresh();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        let err = migrate(&mut conn, MIGRATIONS).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found, supported }
                if found == LATEST + 1 && supported == LATEST),
            "{err:?}"
        );
        assert!(table_names(&conn).is_empty());
    }
}
