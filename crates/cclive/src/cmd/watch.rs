//! `cclive watch`: the long-running monitor. A leaf: it turns `--listen`, `--token` and the
//! team flags into a [`Serve`] and runs [`serve_monitor`] (`monitor/serve.rs`), which
//! `cclive dashboard` runs too.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::WatchArgs;
use crate::config::Settings;
use crate::monitor::serve::{Serve, resolve_token, serve_monitor};

pub(super) fn run(args: &WatchArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    // The monitor commands' team flags win over `[team]`.
    let settings = settings.clone().with_upstream_flags(
        args.upstream.upstream.as_deref(),
        args.upstream.token_file.as_deref(),
    )?;
    let addr: SocketAddr =
        settings.listen.value.parse().with_context(|| {
            format!("listen address {:?} is not IP:PORT", settings.listen.value)
        })?;
    // `--token` wins over `CCLIVE_TOKEN` (the token this machine's clients send).
    let token = resolve_token(args.token.as_deref().or(settings.client_token()), addr.ip())?;
    serve_monitor(
        settings,
        Serve {
            addr,
            bind_name: addr.ip().to_string(),
            token,
            dashboard: false,
            open: false,
        },
    )
}
