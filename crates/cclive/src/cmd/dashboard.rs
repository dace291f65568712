//! `cclive dashboard`: the monitor of `cclive watch` with its live web page.
//!
//! It is the same monitor and the same server (see [`crate::monitor::serve::serve_monitor`]); this file
//! only turns `--port`, `--bind`, `--token` and `--open` into where to listen. Defaults come
//! from the `listen` setting (127.0.0.1:8501), so hooks installed with `cclive hooks install`
//! reach the dashboard too. A host name for `--bind` is resolved once, and the server then
//! answers to that name as well.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::DashboardArgs;
use crate::config::{DEFAULT_LISTEN, Settings};
use crate::monitor::serve::{self as watch, Serve};

pub(super) fn run(args: &DashboardArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    // The monitor commands' team flags win over `[team]`.
    let settings = settings.clone().with_upstream_flags(
        args.upstream.upstream.as_deref(),
        args.upstream.token_file.as_deref(),
    )?;
    let listen: Option<SocketAddr> = settings.listen.value.parse().ok();
    let (bind_name, ip) = match args.bind.as_deref() {
        Some(name) => (name.to_owned(), resolve(name)?),
        None => match listen {
            Some(addr) => (addr.ip().to_string(), addr.ip()),
            None => bail!(
                "the listen address {:?} is not IP:PORT; pass --bind and --port",
                settings.listen.value
            ),
        },
    };
    let port = args
        .port
        .or(listen.map(|a| a.port()))
        .or_else(|| DEFAULT_LISTEN.parse::<SocketAddr>().ok().map(|a| a.port()))
        .context("no port: pass --port")?;
    // `--token` wins over `CCLIVE_TOKEN` (the token this machine's clients send).
    let token = watch::resolve_token(args.token.as_deref().or(settings.client_token()), ip)?;
    watch::serve_monitor(
        settings,
        Serve {
            addr: SocketAddr::new(ip, port),
            bind_name,
            token,
            dashboard: true,
            open: args.open,
        },
    )
}

/// An address, or a host name's first address.
fn resolve(name: &str) -> anyhow::Result<IpAddr> {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    (bare, 0)
        .to_socket_addrs()
        .with_context(|| format!("--bind {name}: cannot resolve it"))?
        .map(|a| a.ip())
        .next()
        .with_context(|| format!("--bind {name}: it has no address"))
}
