//! `cclive hook`: what Claude Code runs for a command hook. It hands the payload on stdin to the
//! monitor, or to the store when no monitor takes it.
//!
//! It must never slow down or change Claude Code, whatever happens: the exchange with the monitor
//! has a hard [`POST_BUDGET`] (a refused connection fails at once) and carries the monitor's
//! token when one is configured (`CCLIVE_TOKEN`, which `hooks install` puts in Claude Code's
//! `env`), nothing is ever printed on
//! stdout (Claude Code reads a hook's stdout as its answer), the exit status is 0 (2 would
//! block the action), and failures are logged at debug level only. The one exception is the
//! budget's hard limit: once `block_at_usd` is reached, a `UserPromptSubmit` payload is refused
//! with exit status 2 and the reason on stderr, which Claude Code shows the user instead of
//! running the prompt (`crate::budget::gate::prompt_gate`; off unless configured). The payload is passed on raw;
//! parsing it is the monitor's job (`cclive_core::hook`), and the fallback's
//! ([`crate::ingest::hook_fallback`]).

use std::io::Read as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tracing::debug;

use crate::claude_config::settings::HOOKS_PATH;
use crate::cli::HookArgs;
use crate::config::{ConfigError, Settings};
use crate::ingest::hook_fallback;
use crate::monitor::client as monitor_client;

/// The whole exchange with the monitor (connect, send, answer).
pub(crate) const POST_BUDGET: Duration = Duration::from_millis(20);

/// Largest payload read from stdin; a larger one is dropped (a truncated JSON is worthless).
/// Tool outputs ride in payloads, so this is as large as a transcript line may be; the monitor
/// takes 16 MiB, and a larger payload's events go through the store or the spool.
pub(crate) const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;

/// Delivers one payload. Exits 0, or 2 when the budget refuses a prompt.
pub(super) fn run(args: &HookArgs, settings: Result<&Settings, &ConfigError>) -> ExitCode {
    let started = Instant::now();
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| deliver(args, settings)));
    if let Ok(Delivered::Blocked(reason)) = &outcome {
        eprintln!("{reason}");
        return ExitCode::from(2);
    }
    if let Ok(delivered) = outcome {
        debug!(
            ?delivered,
            elapsed_us = started.elapsed().as_micros(),
            "Hook payload handled."
        );
    } else {
        debug!("Hook delivery panicked; ignored.");
    }
    ExitCode::SUCCESS
}

/// Where the payload went.
#[derive(Debug, Clone)]
enum Delivered {
    /// Not delivered: a prompt the budget's hard limit refuses, and why.
    Blocked(String),
    Monitor,
    /// The monitor answered but refused it (a 4xx about the payload itself).
    Refused,
    Store,
    /// Into the hook spool, for the next monitor or import.
    Spool,
    Nowhere,
}

fn deliver(_args: &HookArgs, settings: Result<&Settings, &ConfigError>) -> Delivered {
    let mut payload = Vec::new();
    if let Err(e) = std::io::stdin()
        .lock()
        .take(MAX_PAYLOAD + 1)
        .read_to_end(&mut payload)
    {
        debug!(error = %e, "Cannot read the hook payload.");
        return Delivered::Nowhere;
    }
    if payload.iter().all(u8::is_ascii_whitespace) {
        debug!("Empty hook payload.");
        return Delivered::Nowhere;
    }
    if payload.len() as u64 > MAX_PAYLOAD {
        debug!(limit = MAX_PAYLOAD, "Hook payload too large; dropped.");
        return Delivered::Nowhere;
    }
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            debug!(error = %e, "No usable settings; the hook payload is dropped.");
            return Delivered::Nowhere;
        }
    };
    if let Some(reason) = crate::budget::gate::prompt_gate(settings, &payload) {
        return Delivered::Blocked(reason);
    }
    let listen = &settings.listen.value;
    let token = settings.client_token();
    match monitor_client::post_json(listen, token, HOOKS_PATH, &payload, POST_BUDGET) {
        Ok(r) if r.is_success() => return Delivered::Monitor,
        // The monitor saw the payload and refused its content: the store would too. Refused
        // access (401: no or another token; 403) is about the sender, not the payload: the
        // store or the spool keeps it.
        Ok(r)
            if (400..500).contains(&r.status)
                && ![401, 403, 404, 405, 408, 429].contains(&r.status) =>
        {
            debug!(status = r.status, "The monitor refused the hook payload.");
            return Delivered::Refused;
        }
        Ok(r) => debug!(status = r.status, %listen, "The monitor did not take the hook payload."),
        Err(e) => debug!(error = %e, %listen, "No monitor took the hook payload."),
    }
    match hook_fallback::record(settings, &payload) {
        Ok(hook_fallback::Recorded::Store | hook_fallback::Recorded::Nothing) => Delivered::Store,
        Ok(hook_fallback::Recorded::Spool) => Delivered::Spool,
        Err(e) => {
            debug!(
                error = format!("{e:#}"),
                "Cannot record the hook payload in the store."
            );
            Delivered::Nowhere
        }
    }
}
