//! Teams, users, roles, tokens and budgets.
//!
//! A token is `cct_<id>_<secret>` (see `cclive_core::team::TokenParts`); the store keeps the id
//! and the SHA-256 of the secret, so a stolen database dump holds no usable token. The token text
//! exists only in [`TeamStore::add_user`]'s return value.

use cclive_core::team::{Role, TOKEN_PREFIX, TokenParts};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Principal, TeamStore, TeamStoreError, now_ms};

/// A user to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    /// Their email (their name everywhere).
    pub email: String,
    /// Their team (created when new).
    pub team: String,
    /// Their role.
    pub role: Role,
}

/// A user as listings show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// Their email.
    pub email: String,
    /// Their team.
    pub team: String,
    /// Their role.
    pub role: Role,
    /// When they were added.
    pub created_at_ms: i64,
    /// When they were revoked, if they were.
    pub revoked_at_ms: Option<i64>,
}

/// Whom a budget limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", content = "name", rename_all = "lowercase")]
pub enum BudgetTarget {
    /// A team, by name.
    Team(String),
    /// A user, by email.
    User(String),
}

/// A monthly budget.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Budget {
    /// Whom it limits.
    pub target: BudgetTarget,
    /// USD per calendar month.
    pub monthly_usd: f64,
}

fn sha256(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Equal bytes, in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn new_token() -> (String, String, String) {
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let token = format!("{TOKEN_PREFIX}{id}_{secret}");
    (id, secret, token)
}

fn role_of(s: &str) -> Result<Role, TeamStoreError> {
    Role::parse(s).ok_or_else(|| TeamStoreError::Corrupt {
        what: "role of a user".into(),
        detail: format!("unknown role {s:?}"),
    })
}

impl TeamStore {
    /// Adds a user (and their team when new) and returns the user with their first token — the
    /// only time the token's text exists.
    pub async fn add_user(&self, user: &NewUser) -> Result<(UserInfo, String), TeamStoreError> {
        let email = user.email.trim();
        let team = user.team.trim();
        if email.is_empty() || team.is_empty() {
            return Err(TeamStoreError::Invalid(
                "a user needs an email and a team".into(),
            ));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let now = now_ms();
        tx.execute(
            "INSERT INTO teams (name, created_at_ms) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&team, &now],
        )
        .await?;
        let team_id: i64 = tx
            .query_one("SELECT id FROM teams WHERE name = $1", &[&team])
            .await?
            .get(0);
        let inserted = tx
            .query_opt(
                "INSERT INTO users (email, team_id, role, created_at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (email) DO NOTHING RETURNING id",
                &[&email, &team_id, &user.role.as_str(), &now],
            )
            .await?;
        let Some(row) = inserted else {
            return Err(TeamStoreError::Conflict(format!(
                "user {email} already exists; revoke them first to issue a new token"
            )));
        };
        let user_id: i64 = row.get(0);
        let (id, secret, token) = new_token();
        tx.execute(
            "INSERT INTO tokens (id, user_id, secret_sha256, created_at_ms) VALUES ($1, $2, $3, $4)",
            &[&id, &user_id, &sha256(&secret), &now],
        )
        .await?;
        tx.commit().await?;
        Ok((
            UserInfo {
                email: email.to_owned(),
                team: team.to_owned(),
                role: user.role,
                created_at_ms: now,
                revoked_at_ms: None,
            },
            token,
        ))
    }

    /// Every user, by team then email.
    pub async fn users(&self) -> Result<Vec<UserInfo>, TeamStoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT u.email, t.name, u.role, u.created_at_ms, u.revoked_at_ms
                 FROM users u JOIN teams t ON t.id = u.team_id ORDER BY t.name, u.email",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UserInfo {
                    email: r.get(0),
                    team: r.get(1),
                    role: role_of(r.get(2))?,
                    created_at_ms: r.get(3),
                    revoked_at_ms: r.get(4),
                })
            })
            .collect()
    }

    /// Revokes a user and all their tokens; their data stays. Err `NotFound` for an unknown email.
    pub async fn revoke_user(&self, email: &str) -> Result<(), TeamStoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let now = now_ms();
        let row = tx
            .query_opt(
                "UPDATE users SET revoked_at_ms = coalesce(revoked_at_ms, $2) WHERE email = $1
                 RETURNING id",
                &[&email.trim(), &now],
            )
            .await?;
        let Some(row) = row else {
            return Err(TeamStoreError::NotFound(format!("no user {email}")));
        };
        let user_id: i64 = row.get(0);
        tx.execute(
            "UPDATE tokens SET revoked_at_ms = coalesce(revoked_at_ms, $2) WHERE user_id = $1",
            &[&user_id, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user a bearer token names; `Unauthorized` for a malformed, unknown or revoked one.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, TeamStoreError> {
        let parts = TokenParts::parse(token).ok_or(TeamStoreError::Unauthorized)?;
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(
                "SELECT k.secret_sha256, u.id, u.email, u.team_id, t.name, u.role
                 FROM tokens k JOIN users u ON u.id = k.user_id JOIN teams t ON t.id = u.team_id
                 WHERE k.id = $1 AND k.revoked_at_ms IS NULL AND u.revoked_at_ms IS NULL",
            )
            .await?;
        let row = client
            .query_opt(&stmt, &[&parts.id])
            .await?
            .ok_or(TeamStoreError::Unauthorized)?;
        let hash: Vec<u8> = row.get(0);
        if !same(&hash, &sha256(parts.secret)) {
            return Err(TeamStoreError::Unauthorized);
        }
        Ok(Principal {
            user_id: row.get(1),
            email: row.get(2),
            team_id: row.get(3),
            team: row.get(4),
            role: role_of(row.get(5))?,
        })
    }

    /// Sets (or replaces) a monthly budget.
    pub async fn set_budget(
        &self,
        target: &BudgetTarget,
        monthly_usd: f64,
    ) -> Result<(), TeamStoreError> {
        if !monthly_usd.is_finite() || monthly_usd < 0.0 {
            return Err(TeamStoreError::Invalid(
                "a budget is a non-negative number of USD".into(),
            ));
        }
        let client = self.pool.get().await?;
        let n = match target {
            BudgetTarget::Team(name) => {
                client
                    .execute(
                        "INSERT INTO budgets (team_id, monthly_usd)
                         SELECT id, $2 FROM teams WHERE name = $1
                         ON CONFLICT (team_id) DO UPDATE SET monthly_usd = EXCLUDED.monthly_usd",
                        &[&name.trim(), &monthly_usd],
                    )
                    .await?
            }
            BudgetTarget::User(email) => {
                client
                    .execute(
                        "INSERT INTO budgets (user_id, monthly_usd)
                         SELECT id, $2 FROM users WHERE email = $1
                         ON CONFLICT (user_id) DO UPDATE SET monthly_usd = EXCLUDED.monthly_usd",
                        &[&email.trim(), &monthly_usd],
                    )
                    .await?
            }
        };
        if n == 0 {
            return Err(TeamStoreError::NotFound(match target {
                BudgetTarget::Team(t) => format!("no team {t}"),
                BudgetTarget::User(u) => format!("no user {u}"),
            }));
        }
        Ok(())
    }

    /// Records that `scope` crossed `threshold` percent of its budget in `period_key`; true only
    /// for the first caller (so each alert is announced once, by one server).
    pub async fn record_budget_alert(
        &self,
        scope: &str,
        period_key: &str,
        threshold: u8,
    ) -> Result<bool, TeamStoreError> {
        let client = self.pool.get().await?;
        let n = client
            .execute(
                "INSERT INTO budget_alerts (scope, period_key, threshold, fired_at_ms)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&scope, &period_key, &i32::from(threshold), &now_ms()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Every budget.
    pub async fn budgets(&self) -> Result<Vec<Budget>, TeamStoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT t.name, u.email, b.monthly_usd FROM budgets b
                 LEFT JOIN teams t ON t.id = b.team_id LEFT JOIN users u ON u.id = b.user_id
                 ORDER BY t.name NULLS LAST, u.email",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let target = match (r.get::<_, Option<String>>(0), r.get::<_, Option<String>>(1)) {
                    (Some(team), _) => BudgetTarget::Team(team),
                    (None, Some(email)) => BudgetTarget::User(email),
                    (None, None) => return None,
                };
                Some(Budget {
                    target,
                    monthly_usd: r.get(2),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tokens_parse_and_hash_their_secret() {
        let (id, secret, token) = new_token();
        let parts = TokenParts::parse(&token).unwrap();
        assert_eq!((parts.id, parts.secret), (id.as_str(), secret.as_str()));
        assert!(same(&sha256(&secret), &sha256(parts.secret)));
        assert!(!same(&sha256(&secret), &sha256("other")));
    }
}
