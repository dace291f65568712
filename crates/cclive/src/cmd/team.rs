//! `cclive team user|budget`: administration of the team server, straight on its database (so
//! the first admin can be created before any token exists). Prints a new user's token once.

use std::process::ExitCode;

use anyhow::Context;
use cclive_core::team::Role;
use cclive_team_store::{BudgetTarget, NewUser, TeamStore};

use crate::cli::{
    TeamAction, TeamArgs, TeamBudgetAction, TeamBudgetArgs, TeamUserAction, TeamUserArgs,
};
use crate::config::Settings;

pub(super) fn run(args: &TeamArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match &args.action {
            TeamAction::User(user) => users(user, settings).await,
            TeamAction::Budget(budget) => budgets(budget, settings).await,
            TeamAction::Status(_) => Ok(ExitCode::SUCCESS),
        }
    })
}

async fn connect(db: &crate::cli::DatabaseArgs, settings: &Settings) -> anyhow::Result<TeamStore> {
    let url = settings
        .server
        .database_url_or(db.database_url.as_deref())?;
    TeamStore::connect(&url)
        .await
        .context("opening the team database")
}

async fn users(args: &TeamUserArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = connect(&args.database, settings).await?;
    match &args.action {
        TeamUserAction::Add {
            email,
            team,
            role,
            json,
        } => {
            let role = Role::parse(role).context("--role is member, lead or admin")?;
            let (user, token) = store
                .add_user(&NewUser {
                    email: email.clone(),
                    team: team.clone(),
                    role,
                })
                .await
                .with_context(|| format!("adding {email}"))?;
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"email": user.email, "team": user.team,
                        "role": user.role, "token": token})
                );
            } else {
                println!(
                    "Added {} ({} of team {}). Their token (shown only now):\n{token}",
                    user.email,
                    user.role.as_str(),
                    user.team
                );
                println!(
                    "On their machine: save it to a file readable only by them and run \
                     `cclive watch --upstream <server URL> --token-file <file>`."
                );
            }
        }
        TeamUserAction::List { json } => {
            let users = store.users().await.context("listing users")?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else if users.is_empty() {
                println!("No users yet: `cclive team user add EMAIL --team TEAM --role admin`.");
            } else {
                println!("{:<32} {:<16} {:<7} STATUS", "EMAIL", "TEAM", "ROLE");
                for u in users {
                    let status = if u.revoked_at_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<32} {:<16} {:<7} {status}",
                        u.email,
                        u.team,
                        u.role.as_str()
                    );
                }
            }
        }
        TeamUserAction::Revoke { email } => {
            store
                .revoke_user(email)
                .await
                .with_context(|| format!("revoking {email}"))?;
            println!("Revoked {email}: their tokens are refused from now on.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn budgets(args: &TeamBudgetArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = connect(&args.database, settings).await?;
    match &args.action {
        TeamBudgetAction::Set {
            team,
            user,
            monthly_usd,
        } => {
            let target = match (team, user) {
                (Some(team), _) => BudgetTarget::Team(team.clone()),
                (None, Some(user)) => BudgetTarget::User(user.clone()),
                (None, None) => anyhow::bail!("name a --team or a --user"),
            };
            store
                .set_budget(&target, *monthly_usd)
                .await
                .context("setting the budget")?;
            let (scope, name) = match &target {
                BudgetTarget::Team(n) => ("team", n),
                BudgetTarget::User(n) => ("user", n),
            };
            println!("Budget of {scope} {name}: ${monthly_usd:.2} per month.");
        }
        TeamBudgetAction::List { json } => {
            let budgets = store.budgets().await.context("listing budgets")?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&budgets)?);
            } else {
                for b in budgets {
                    let (scope, name) = match &b.target {
                        BudgetTarget::Team(n) => ("team", n),
                        BudgetTarget::User(n) => ("user", n),
                    };
                    println!("{scope:<5} {name:<32} ${:.2}/month", b.monthly_usd);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
