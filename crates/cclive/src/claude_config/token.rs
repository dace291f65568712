//! The monitor's token in `settings.json`'s `env`, so that everything Claude Code sends the
//! monitor carries it (`cclive hooks install` with `CCLIVE_TOKEN` set).
//!
//! A monitor with a token refuses every request without it, loopback included. Claude Code
//! applies `settings.env` to itself at start, and its children inherit it, so one variable
//! serves three senders: `CCLIVE_TOKEN` is what `cclive hook` (a command hook) reads and what
//! the http hooks' header names (`Authorization: Bearer $CCLIVE_TOKEN`, see
//! [`super::settings::HookSpec`]); and when cclive's telemetry is installed (the OTLP endpoint
//! is the monitor's), `OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer <token>` makes the
//! exporter send it (that variable takes no `$VAR`, so the token is written out).
//!
//! [`install`] overwrites an older token of ours, but never the user's own OTLP headers (it
//! says so instead); [`uninstall`] removes exactly ours. Nothing here touches the disk or logs
//! the token.

use serde_json::Value;

use crate::claude_config::settings::{ShapeError, TOKEN_VAR, ensure_object};

/// The OTLP exporter's headers variable.
const OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Where cclive's telemetry points (`telemetry::install` sets it).
const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// How our OTLP headers value starts; the token follows.
const BEARER: &str = "Authorization=Bearer ";

/// What a token edit did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenChange {
    /// Variables set or updated.
    pub(crate) written: Vec<&'static str>,
    /// Variables removed (uninstall).
    pub(crate) removed: Vec<&'static str>,
    /// The telemetry goes to the monitor, but the user's own OTLP headers were kept: it will
    /// be refused until they carry the token.
    pub(crate) otlp_headers_theirs: bool,
}

impl TokenChange {
    /// True when the settings were changed.
    pub(crate) fn changed(&self) -> bool {
        !self.written.is_empty() || !self.removed.is_empty()
    }
}

/// Writes `token` into `settings.env` (created when missing): `CCLIVE_TOKEN`, and the OTLP
/// headers when the telemetry's endpoint is `otlp_endpoint`. Idempotent.
pub(crate) fn install(
    settings: &mut Value,
    token: &str,
    otlp_endpoint: &str,
) -> Result<TokenChange, ShapeError> {
    let env = ensure_object(settings, "env", ShapeError::EnvNotAnObject)?;
    let mut change = TokenChange::default();
    if env.get(TOKEN_VAR).and_then(Value::as_str) != Some(token) {
        env.insert(TOKEN_VAR.to_owned(), Value::String(token.to_owned()));
        change.written.push(TOKEN_VAR);
    }
    if env.get(OTLP_ENDPOINT).and_then(Value::as_str) == Some(otlp_endpoint) {
        let header = format!("{BEARER}{token}");
        match env.get(OTLP_HEADERS).and_then(Value::as_str) {
            Some(current) if current == header => {}
            Some(current) if !current.starts_with(BEARER) => change.otlp_headers_theirs = true,
            _ => {
                env.insert(OTLP_HEADERS.to_owned(), Value::String(header));
                change.written.push(OTLP_HEADERS);
            }
        }
    }
    Ok(change)
}

/// Removes `CCLIVE_TOKEN` (no one else sets it) and our OTLP headers (a bearer header while the
/// telemetry points at `otlp_endpoint`), and `env` when that emptied it. Call it before the
/// telemetry's own uninstall, which removes the endpoint this recognizes ours by.
pub(crate) fn uninstall(
    settings: &mut Value,
    otlp_endpoint: &str,
) -> Result<TokenChange, ShapeError> {
    let top = settings.as_object_mut().ok_or(ShapeError::NotAnObject)?;
    let Some(env) = top.get_mut("env") else {
        return Ok(TokenChange::default());
    };
    let env = env.as_object_mut().ok_or(ShapeError::EnvNotAnObject)?;
    let mut change = TokenChange::default();
    if env.shift_remove(TOKEN_VAR).is_some() {
        change.removed.push(TOKEN_VAR);
    }
    let ours = env.get(OTLP_ENDPOINT).and_then(Value::as_str) == Some(otlp_endpoint)
        && env
            .get(OTLP_HEADERS)
            .and_then(Value::as_str)
            .is_some_and(|h| h.starts_with(BEARER));
    if ours {
        env.shift_remove(OTLP_HEADERS);
        change.removed.push(OTLP_HEADERS);
    }
    if env.is_empty() && change.changed() {
        top.shift_remove("env");
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ENDPOINT: &str = "http://127.0.0.1:8501";
    const TOKEN: &str = "a-long-enough-token-1234";

    #[test]
    fn the_token_goes_where_hooks_and_telemetry_read_it_and_comes_out_again() {
        let mut s = json!({"model": "sonnet"});
        let change = install(&mut s, TOKEN, ENDPOINT).unwrap();
        assert_eq!(change.written, [TOKEN_VAR]);
        assert_eq!(s["env"], json!({"CCLIVE_TOKEN": TOKEN}));
        // With cclive's telemetry, the exporter's header too.
        s["env"][OTLP_ENDPOINT] = json!(ENDPOINT);
        let change = install(&mut s, TOKEN, ENDPOINT).unwrap();
        assert_eq!(change.written, [OTLP_HEADERS]);
        assert_eq!(
            s["env"][OTLP_HEADERS],
            format!("Authorization=Bearer {TOKEN}")
        );
        assert!(!install(&mut s, TOKEN, ENDPOINT).unwrap().changed());
        // A new token replaces ours.
        let change = install(&mut s, "another-token-5678901234", ENDPOINT).unwrap();
        assert_eq!(change.written, [TOKEN_VAR, OTLP_HEADERS]);
        let change = uninstall(&mut s, ENDPOINT).unwrap();
        assert_eq!(change.removed, [TOKEN_VAR, OTLP_HEADERS]);
        assert_eq!(s["env"], json!({OTLP_ENDPOINT: ENDPOINT}));
        s["env"] = json!({"CCLIVE_TOKEN": TOKEN});
        uninstall(&mut s, ENDPOINT).unwrap();
        assert_eq!(s, json!({"model": "sonnet"}));
    }

    #[test]
    fn the_users_own_otlp_headers_and_telemetry_elsewhere_are_left_alone() {
        let mut s = json!({"env": {OTLP_ENDPOINT: ENDPOINT, OTLP_HEADERS: "x-team=7"}});
        let change = install(&mut s, TOKEN, ENDPOINT).unwrap();
        assert!(change.otlp_headers_theirs);
        assert_eq!(s["env"][OTLP_HEADERS], "x-team=7");
        assert_eq!(uninstall(&mut s, ENDPOINT).unwrap().removed, [TOKEN_VAR]);
        assert_eq!(s["env"][OTLP_HEADERS], "x-team=7");
        let mut s = json!({"env": {OTLP_ENDPOINT: "https://collector.example"}});
        assert_eq!(
            install(&mut s, TOKEN, ENDPOINT).unwrap().written,
            [TOKEN_VAR]
        );
        assert!(s["env"].get(OTLP_HEADERS).is_none());
    }
}
