//! The `[[webhook]]` and `[[on_change]]` tables of the config file: their TOML shape, the
//! checks, and the resolved values [`crate::config::Settings`] carries.
//!
//! Resolving happens once, with the rest of the settings, so a typo in an event name or a URL
//! without a scheme is an error at start-up, not a silent non-delivery later. Secrets (a webhook's
//! `secret`, or the environment variable `secret_env` names) never appear in `Debug` output,
//! `cclive config` or logs; neither does a webhook URL's path, which for many services (Slack,
//! Discord) is itself the secret.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use super::event::EventName;
use crate::config::ConfigError;

/// Default time one webhook request may take.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default attempts per delivery (the first one included).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default deliveries waiting per webhook before the oldest is dropped.
pub const DEFAULT_QUEUE_SIZE: usize = 1000;
/// Default time an exec hook may run before it is killed.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// One `[[webhook]]` table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookFile {
    name: Option<String>,
    url: String,
    #[serde(default)]
    events: Vec<String>,
    secret: Option<String>,
    secret_env: Option<String>,
    timeout_secs: Option<f64>,
    max_attempts: Option<u32>,
    queue_size: Option<usize>,
}

/// One `[[on_change]]` table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExecHookFile {
    name: Option<String>,
    command: String,
    #[serde(default)]
    events: Vec<String>,
    timeout_secs: Option<f64>,
}

/// A secret: compared and used, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for signing.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<hidden>")
    }
}

/// A webhook, resolved.
#[derive(Clone, PartialEq, Serialize)]
pub struct WebhookSettings {
    /// A name for messages and `cclive webhooks test --name` (default `webhook-N`).
    pub name: String,
    /// Where to POST. Shown (in logs, `cclive config`, stats) only as [`redact_url`] gives it.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// Which events it gets.
    pub events: Vec<EventName>,
    /// Signs each body (`X-Cclive-Signature: sha256=<hex HMAC-SHA256>`), when set.
    pub secret: Option<Secret>,
    /// How long one request may take.
    #[serde(serialize_with = "serialize_secs")]
    pub timeout: Duration,
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// Deliveries waiting before the oldest is dropped.
    pub queue_size: usize,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("events", &self.events)
            .field("secret", &self.secret)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("queue_size", &self.queue_size)
            .finish()
    }
}

/// An exec hook, resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExecHookSettings {
    /// A name for messages (default `on_change-N`).
    pub name: String,
    /// Run with `sh -c`, the payload JSON on stdin.
    pub command: String,
    /// Which events run it.
    pub events: Vec<EventName>,
    /// Killed (with its whole process group) after this long.
    #[serde(serialize_with = "serialize_secs")]
    pub timeout: Duration,
}

fn serialize_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn serialize_redacted_url<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url))
}

/// A URL as it may be shown: scheme, host and port; the path, query and any user info are
/// replaced by `…` (for many services the path is the secret).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<invalid url>".into();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let tail = if authority_end < rest.len() && rest[authority_end..] != *"/" {
        "/…"
    } else {
        ""
    };
    let user = if authority.contains('@') { "…@" } else { "" };
    format!("{scheme}://{user}{host}{tail}")
}

/// Resolves the `[[webhook]]` tables. `env` looks up `secret_env`; `path` names the config file
/// in errors.
pub(crate) fn resolve_webhooks(
    tables: Vec<WebhookFile>,
    env: &dyn Fn(&str) -> Option<String>,
    path: &Path,
) -> Result<Vec<WebhookSettings>, ConfigError> {
    let mut out: Vec<WebhookSettings> = Vec::with_capacity(tables.len());
    for (i, table) in tables.into_iter().enumerate() {
        let name = table
            .name
            .clone()
            .unwrap_or_else(|| format!("webhook-{}", i + 1));
        let bad = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message: format!("[[webhook]] {name:?}: {message}"),
        };
        let url = table.url.trim().to_owned();
        let scheme_ok = ["http://", "https://"]
            .iter()
            .any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s));
        if !scheme_ok {
            return Err(bad(format!(
                "url must start with http:// or https:// (got {})",
                redact_url(&url)
            )));
        }
        let events = EventName::parse_list(&table.events).map_err(&bad)?;
        let secret = match (table.secret, table.secret_env) {
            (Some(_), Some(_)) => {
                return Err(bad("set either secret or secret_env, not both".into()));
            }
            (Some(s), None) if s.is_empty() => return Err(bad("secret is empty".into())),
            (Some(s), None) => Some(Secret(s)),
            (None, Some(var)) => Some(Secret(env(&var).ok_or_else(|| {
                bad(format!(
                    "secret_env names {var}, which is not set in the environment"
                ))
            })?)),
            (None, None) => None,
        };
        let timeout = seconds(table.timeout_secs, DEFAULT_WEBHOOK_TIMEOUT).map_err(&bad)?;
        let max_attempts = table.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=20).contains(&max_attempts) {
            return Err(bad("max_attempts must be between 1 and 20".into()));
        }
        let queue_size = table.queue_size.unwrap_or(DEFAULT_QUEUE_SIZE);
        if !(1..=100_000).contains(&queue_size) {
            return Err(bad("queue_size must be between 1 and 100000".into()));
        }
        if out.iter().any(|w| w.name == name) {
            return Err(bad("two webhooks have this name".into()));
        }
        out.push(WebhookSettings {
            name,
            url,
            events,
            secret,
            timeout,
            max_attempts,
            queue_size,
        });
    }
    Ok(out)
}

/// Resolves the `[[on_change]]` tables.
pub(crate) fn resolve_exec_hooks(
    tables: Vec<ExecHookFile>,
    path: &Path,
) -> Result<Vec<ExecHookSettings>, ConfigError> {
    let mut out = Vec::with_capacity(tables.len());
    for (i, table) in tables.into_iter().enumerate() {
        let name = table
            .name
            .clone()
            .unwrap_or_else(|| format!("on_change-{}", i + 1));
        let bad = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message: format!("[[on_change]] {name:?}: {message}"),
        };
        if table.command.trim().is_empty() {
            return Err(bad("command is empty".into()));
        }
        let events = EventName::parse_list(&table.events).map_err(&bad)?;
        let timeout = seconds(table.timeout_secs, DEFAULT_EXEC_TIMEOUT).map_err(&bad)?;
        out.push(ExecHookSettings {
            name,
            command: table.command,
            events,
            timeout,
        });
    }
    Ok(out)
}

/// A positive number of seconds (at most an hour), as a `Duration` with millisecond precision.
fn seconds(value: Option<f64>, default: Duration) -> Result<Duration, String> {
    let Some(secs) = value else {
        return Ok(default);
    };
    if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
        return Err("timeout_secs must be a number of seconds between 0 and 3600".into());
    }
    // Checked above: finite, positive and small, so the product fits.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let millis = (secs * 1000.0).round().max(1.0) as u64;
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(
        "https://hooks.slack.com/services/T0/B0/XXXX",
        "https://hooks.slack.com/…"
    )]
    #[case("http://127.0.0.1:9000/hook?token=abc", "http://127.0.0.1:9000/…")]
    #[case("https://user:pw@example.com", "https://…@example.com")]
    #[case("https://example.com/", "https://example.com")]
    #[case("example.com/x", "<invalid url>")]
    fn urls_are_shown_without_their_secrets(#[case] url: &str, #[case] shown: &str) {
        assert_eq!(redact_url(url), shown);
    }

    #[test]
    fn secrets_never_show() {
        let w = WebhookSettings {
            name: "w".into(),
            url: "https://example.com/secret-path".into(),
            events: EventName::defaults(),
            secret: Some(Secret::new("s3cr3t")),
            timeout: DEFAULT_WEBHOOK_TIMEOUT,
            max_attempts: 5,
            queue_size: 10,
        };
        let debug = format!("{w:?}");
        let json = serde_json::to_string(&w).unwrap();
        for shown in [debug, json] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(!shown.contains("secret-path"), "{shown}");
        }
    }

    #[rstest]
    #[case(None, Ok(5000))]
    #[case(Some(0.25), Ok(250))]
    #[case(Some(0.0), Err(()))]
    #[case(Some(f64::NAN), Err(()))]
    #[case(Some(7200.0), Err(()))]
    fn timeouts_are_positive_seconds(#[case] secs: Option<f64>, #[case] millis: Result<u64, ()>) {
        let got = seconds(secs, DEFAULT_WEBHOOK_TIMEOUT);
        match millis {
            Ok(ms) => assert_eq!(got.unwrap(), Duration::from_millis(ms)),
            Err(()) => assert!(got.is_err()),
        }
    }
}
