//! `cclive run -- <claude args>` and `cclive ask "question"`: run claude under monitoring.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{AskArgs, GlobalArgs, RunArgs, SessionArgs};
use crate::config::{Origin, Settings};
use crate::monitor::runtime::Integrations;

/// How long to wait for a running monitor to answer before running standalone.
const MONITOR_PROBE: std::time::Duration = std::time::Duration::from_millis(150);
/// How long webhooks and on_change commands may go on delivering after claude has exited.
const NOTIFY_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
use crate::monitor::session_monitor::{RunRequest, SessionMonitor, resolve_claude};

/// `cclive run`.
pub(super) fn run(
    args: RunArgs,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    monitored(args.claude_args, &args.session, settings, global)
}

/// `cclive ask "question" [-- more claude args]`: `cclive run -- -p "question" ...`.
pub(super) fn ask(
    args: AskArgs,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let mut claude_args = vec!["-p".to_owned(), args.question.join(" ")];
    claude_args.extend(args.claude_args);
    monitored(claude_args, &args.session, settings, global)
}

fn monitored(
    claude_args: Vec<String>,
    session: &SessionArgs,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let claude = resolve_claude(settings.claude_bin.value.as_deref())?;
    let prices = settings.prices()?;

    let mut builder = SessionMonitor::builder()
        .claude_bin(claude)
        .prices(prices)
        .claude_config_dirs(settings.claude_config_dirs.value.clone())
        .show_output(global.verbose > 0);
    let listen = &settings.listen.value;
    let token = settings.client_token();
    let probe = crate::monitor::client::monitor_answers(listen, token, MONITOR_PROBE);
    if let Err(e @ crate::monitor::client::ClientError::NeedsToken) = &probe {
        // The session matters more than its history: say so, and run it on its own.
        eprintln!("cclive: warning: {e}; this session is not sent to it.");
    }
    if probe.is_ok() {
        // A monitor runs: it keeps the history and the state file; this run feeds it.
        tracing::debug!(%listen, "Sending this session's events to the running monitor.");
        builder = builder.forward_to(listen.clone(), token.map(str::to_owned));
        if settings.state_file.origin != Origin::Default {
            builder = builder.state_file(settings.state_file.value.clone());
        }
    } else {
        // Nothing else tells integrations about this session: this run does, budget alerts and
        // block changes included (those need the history).
        builder = builder
            .integrations(Integrations::of(settings), NOTIFY_GRACE)
            .state_file(settings.state_file.value.clone());
        // History matters, but not more than the user's session: run claude even without it.
        match settings.open_store() {
            Ok(store) => {
                let budget = &settings.budget.value;
                builder = builder
                    .store(store)
                    .budget(budget.budget.clone(), budget.time_zone());
            }
            Err(err) => {
                eprintln!("cclive: warning: this session will not be kept in history: {err:#}");
            }
        }
    }
    let request = RunRequest {
        claude_args,
        project_path: session.project_path.clone(),
        session_type: session.session_type.clone(),
        ..RunRequest::default()
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(builder.build().run(request))?;
    if outcome.store_failures > 0 {
        eprintln!(
            "cclive: warning: {} write(s) to the history database {} failed; see the log above",
            outcome.store_failures,
            settings.db.value.display()
        );
    }
    tracing::info!(session = %outcome.session.session_id, status = %outcome.session.status, "Session ended.");
    Ok(ExitCode::from(outcome.exit_code))
}
