//! The `[[calendar]]` tables of the config file: their TOML shape, the checks, and the resolved
//! [`CalendarSettings`].
//!
//! The password or token is never written in the config file itself: it is read from a file
//! (`password_file`, `token_file`) or an environment variable (`password_env`, `token_env`) when
//! the settings are resolved, and lives on only as a [`Secret`], which `Debug`, `cclive config`
//! and logs show as `<hidden>`. The collection URL is shown only as [`redact_url`] gives it (its
//! path often names the user).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cclive_core::calendar::{DEFAULT_TITLE, Rules};
use serde::{Deserialize, Serialize, Serializer};

use crate::config::ConfigError;
use crate::sinks::notify::settings::{Secret, redact_url};

/// Default time one CalDAV request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest update interval, minimum duration or merge window a calendar may set (a week).
const MAX_SPAN_SECS: u64 = 7 * 24 * 3600;
/// Default shortest time between two writes of a live block's event (at most one a minute).
pub const DEFAULT_UPDATE_INTERVAL: Duration = Duration::from_mins(1);
/// Default merge window: sessions of one project starting within 5 minutes of each other's end
/// share one block.
pub const DEFAULT_MERGE_WINDOW: Duration = Duration::from_mins(5);
/// Session updates waiting for the calendar thread before the oldest is dropped.
pub const QUEUE_SIZE: usize = 1000;

/// One `[[calendar]]` table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CalendarFile {
    name: Option<String>,
    url: String,
    username: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    token_file: Option<PathBuf>,
    token_env: Option<String>,
    #[serde(default)]
    projects: Vec<String>,
    min_duration_secs: Option<u64>,
    merge_window_secs: Option<u64>,
    title: Option<String>,
    update_interval_secs: Option<u64>,
    timeout_secs: Option<u64>,
    link_base: Option<String>,
}

/// How cclive proves who it is to the calendar server.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (a server on the same machine that needs none).
    None,
    /// HTTP Basic: a username and a password (or app password).
    Basic {
        /// The username.
        username: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: Bearer <token>` (e.g. an OAuth access token).
    Bearer(Secret),
}

impl Auth {
    /// The `Authorization` header's value, if any.
    pub(crate) fn header(&self) -> Option<String> {
        use base64::Engine as _;
        match self {
            Auth::None => None,
            Auth::Basic { username, password } => {
                let mut raw = format!("{username}:").into_bytes();
                raw.extend_from_slice(password.expose());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
            Auth::Bearer(token) => Some(format!(
                "Bearer {}",
                String::from_utf8_lossy(token.expose())
            )),
        }
    }

    /// What `cclive config` and messages may say about it.
    pub fn describe(&self) -> String {
        match self {
            Auth::None => "none".into(),
            Auth::Basic { username, .. } => format!("basic ({username}, password hidden)"),
            Auth::Bearer(_) => "bearer token (hidden)".into(),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Serialize for Auth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.describe())
    }
}

/// A calendar, resolved.
#[derive(Clone, PartialEq, Serialize)]
pub struct CalendarSettings {
    /// A name for messages and `cclive calendar test --name` (default `calendar-N`).
    pub name: String,
    /// The calendar collection's URL, ending in `/`. Shown only redacted.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// Credentials.
    pub auth: Auth,
    /// Projects whose sessions are written (empty: all).
    pub projects: Vec<String>,
    /// Blocks shorter than this are not written.
    #[serde(serialize_with = "serialize_secs")]
    pub min_duration: Duration,
    /// Sessions of one project this close together share one event (zero: never).
    #[serde(serialize_with = "serialize_secs")]
    pub merge_window: Duration,
    /// The event title template (`{project}`, `{status}`, `{cost}`, `{turns}`, `{tokens}`,
    /// `{model}`, `{sessions}`).
    pub title: String,
    /// Shortest time between two writes of a live block's event.
    #[serde(serialize_with = "serialize_secs")]
    pub update_interval: Duration,
    /// How long one request may take.
    #[serde(serialize_with = "serialize_secs")]
    pub timeout: Duration,
    /// The dashboard's address, for the link to each session's page (default: `http://` and
    /// the monitor's `listen` address).
    pub link_base: Option<String>,
}

impl fmt::Debug for CalendarSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalendarSettings")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("auth", &self.auth)
            .field("projects", &self.projects)
            .field("min_duration", &self.min_duration)
            .field("merge_window", &self.merge_window)
            .field("title", &self.title)
            .field("update_interval", &self.update_interval)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl CalendarSettings {
    /// A calendar at `url` with `auth` and every other value its default (for tests).
    pub fn new(name: &str, url: &str, auth: Auth) -> CalendarSettings {
        CalendarSettings {
            name: name.to_owned(),
            url: collection_url(url),
            auth,
            projects: Vec::new(),
            min_duration: Duration::ZERO,
            merge_window: DEFAULT_MERGE_WINDOW,
            title: DEFAULT_TITLE.to_owned(),
            update_interval: DEFAULT_UPDATE_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            link_base: None,
        }
    }

    /// The block rules these settings ask for.
    pub fn rules(&self) -> Rules {
        let signed = |d: Duration| jiff::SignedDuration::try_from(d).unwrap_or_default();
        Rules {
            merge_window: signed(self.merge_window),
            min_duration: signed(self.min_duration),
            projects: self.projects.clone(),
        }
    }
}

fn serialize_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn serialize_redacted_url<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url))
}

/// A collection URL always ends in `/`, so event names join onto it.
fn collection_url(url: &str) -> String {
    let url = url.trim();
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

/// What resolving needs besides the tables.
pub(crate) struct Context<'a> {
    /// Looks up `password_env` and `token_env`.
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
    /// For `~/` in `password_file` and `token_file`.
    pub(crate) home: Option<&'a Path>,
    /// The monitor's address, the default link base.
    pub(crate) listen: &'a str,
    /// The config file, named in errors.
    pub(crate) path: &'a Path,
}

/// Resolves the `[[calendar]]` tables (reading each password or token file).
pub(crate) fn resolve_calendars(
    tables: Vec<CalendarFile>,
    cx: &Context<'_>,
) -> Result<Vec<CalendarSettings>, ConfigError> {
    let mut out: Vec<CalendarSettings> = Vec::with_capacity(tables.len());
    for (i, table) in tables.into_iter().enumerate() {
        let name = table
            .name
            .clone()
            .unwrap_or_else(|| format!("calendar-{}", i + 1));
        let bad = |message: String| ConfigError::Parse {
            path: cx.path.to_path_buf(),
            message: format!("[[calendar]] {name:?}: {message}"),
        };
        let url = table.url.trim();
        let scheme_ok = ["http://", "https://"]
            .iter()
            .any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s));
        if !scheme_ok {
            return Err(bad(format!(
                "url must be the calendar collection's http:// or https:// URL (got {})",
                redact_url(url)
            )));
        }
        let password = secret(
            "password",
            table.password_file.as_deref(),
            table.password_env.as_deref(),
            cx,
        )
        .map_err(&bad)?;
        let token = secret(
            "token",
            table.token_file.as_deref(),
            table.token_env.as_deref(),
            cx,
        )
        .map_err(&bad)?;
        let auth = match (table.username, password, token) {
            (_, Some(_), Some(_)) => {
                return Err(bad("set a password or a token, not both".into()));
            }
            (Some(username), Some(password), None) => Auth::Basic { username, password },
            (None, Some(_), None) => {
                return Err(bad("a password needs a username".into()));
            }
            (Some(_), None, None) => {
                return Err(bad(
                    "a username needs a password: set password_file or password_env".into(),
                ));
            }
            (_, None, Some(token)) => Auth::Bearer(token),
            (None, None, None) => Auth::None,
        };
        let title = table.title.unwrap_or_else(|| DEFAULT_TITLE.to_owned());
        if title.trim().is_empty() {
            return Err(bad("title is empty".into()));
        }
        let update_interval = table
            .update_interval_secs
            .map_or(DEFAULT_UPDATE_INTERVAL, Duration::from_secs);
        if update_interval.is_zero() || update_interval.as_secs() > MAX_SPAN_SECS {
            return Err(bad(format!(
                "update_interval_secs must be at least 1 and at most {MAX_SPAN_SECS} (a week)"
            )));
        }
        // Larger spans would overflow the delivery thread's clock arithmetic (issue 12's config
        // fuzzing found `update_interval_secs = 9223372036854775807` accepted, then panicking).
        for (key, secs) in [
            ("min_duration_secs", table.min_duration_secs),
            ("merge_window_secs", table.merge_window_secs),
        ] {
            if secs.is_some_and(|s| s > MAX_SPAN_SECS) {
                return Err(bad(format!(
                    "{key} must be at most {MAX_SPAN_SECS} (a week)"
                )));
            }
        }
        let timeout = table
            .timeout_secs
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        if !(1..=300).contains(&timeout.as_secs()) {
            return Err(bad("timeout_secs must be between 1 and 300".into()));
        }
        if out.iter().any(|c| c.name == name) {
            return Err(bad("two calendars have this name".into()));
        }
        let link_base = table
            .link_base
            .or_else(|| Some(format!("http://{}", cx.listen)))
            .map(|b| b.trim_end_matches('/').to_owned());
        out.push(CalendarSettings {
            name,
            url: collection_url(url),
            auth,
            projects: table.projects,
            min_duration: Duration::from_secs(table.min_duration_secs.unwrap_or(0)),
            merge_window: table
                .merge_window_secs
                .map_or(DEFAULT_MERGE_WINDOW, Duration::from_secs),
            title,
            update_interval,
            timeout,
            link_base,
        });
    }
    Ok(out)
}

/// Reads a secret from its file or its environment variable (one of the two, or neither).
fn secret(
    what: &str,
    file: Option<&Path>,
    var: Option<&str>,
    cx: &Context<'_>,
) -> Result<Option<Secret>, String> {
    let value = match (file, var) {
        (Some(_), Some(_)) => {
            return Err(format!("set {what}_file or {what}_env, not both"));
        }
        (Some(file), None) => {
            let path = match (file.strip_prefix("~"), cx.home) {
                (Ok(rest), Some(home)) => home.join(rest),
                _ => file.to_path_buf(),
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {what}_file {}: {e}", path.display()))?;
            // A trailing newline is the editor's, not the password's.
            text.trim_end_matches(['\r', '\n']).to_owned()
        }
        (None, Some(var)) => (cx.env)(var).ok_or_else(|| {
            format!("{what}_env names {var}, which is not set in the environment")
        })?,
        (None, None) => return Ok(None),
    };
    if value.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    Ok(Some(Secret::new(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        toml_text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<CalendarSettings>, String> {
        #[derive(Deserialize)]
        struct File {
            calendar: Vec<CalendarFile>,
        }
        let file: File = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        resolve_calendars(
            file.calendar,
            &Context {
                env,
                home: None,
                listen: "127.0.0.1:8501",
                path: Path::new("config.toml"),
            },
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_password_from_the_environment_never_shows() {
        let env = |v: &str| (v == "CAL_PW").then(|| "hunter2-secret".to_owned());
        let got = resolve(
            "[[calendar]]\nurl = \"https://dav.example.com/cal/me/work\"\nusername = \"me\"\n\
             password_env = \"CAL_PW\"\nprojects = [\"app\"]\nmerge_window_secs = 0\n",
            &env,
        )
        .unwrap();
        let c = &got[0];
        assert_eq!(c.name, "calendar-1");
        assert_eq!(c.url, "https://dav.example.com/cal/me/work/");
        assert_eq!(c.merge_window, Duration::ZERO);
        assert_eq!(c.update_interval, DEFAULT_UPDATE_INTERVAL);
        assert_eq!(c.link_base.as_deref(), Some("http://127.0.0.1:8501"));
        assert_eq!(
            c.auth.header().unwrap(),
            "Basic bWU6aHVudGVyMi1zZWNyZXQ=",
            "me:hunter2-secret"
        );
        let shown = format!("{c:?} {}", serde_json::to_string(c).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("/cal/me"), "{shown}");
    }

    #[test]
    fn a_token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "tok-123\n").unwrap();
        let got = resolve(
            &format!(
                "[[calendar]]\nname = \"g\"\nurl = \"https://x.example/c/\"\ntoken_file = \"{}\"\n",
                file.display()
            ),
            &|_| None,
        )
        .unwrap();
        assert_eq!(got[0].auth.header().unwrap(), "Bearer tok-123");
    }

    /// The commented example in `default-config.toml` is valid once uncommented.
    #[test]
    fn the_default_configs_example_resolves() {
        let example: String = crate::config::DEFAULT_CONFIG_TOML
            .lines()
            .skip_while(|l| *l != "# [[calendar]]")
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            // The example's password file does not exist here; its variable does.
            .map(|l| {
                if l.starts_with("password_file") {
                    "password_env = \"CCLIVE_CALDAV_PASSWORD\"".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(example.starts_with("[[calendar]]"), "{example}");
        let env = |v: &str| (v == "CCLIVE_CALDAV_PASSWORD").then(|| "pw".to_owned());
        let got = resolve(&example, &env).unwrap();
        assert_eq!(got[0].name, "work");
        assert_eq!(got[0].merge_window, DEFAULT_MERGE_WINDOW);
        assert_eq!(got[0].update_interval, DEFAULT_UPDATE_INTERVAL);
        assert_eq!(got[0].title, DEFAULT_TITLE);
    }

    #[test]
    fn mistakes_are_named() {
        let none = |_: &str| None;
        for (toml_text, says) in [
            ("[[calendar]]\nurl = \"dav.example.com\"\n", "url must be"),
            (
                "[[calendar]]\nurl = \"https://x/\"\nusername = \"me\"\n",
                "needs a password",
            ),
            (
                "[[calendar]]\nurl = \"https://x/\"\npassword_env = \"P\"\n",
                "is not set",
            ),
            (
                "[[calendar]]\nurl = \"https://x/\"\npassword = \"inline\"\n",
                "unknown field",
            ),
            (
                "[[calendar]]\nurl = \"https://x/\"\npassword_file = \"/nonexistent/pw\"\nusername = \"u\"\n",
                "cannot read password_file",
            ),
            (
                "[[calendar]]\nurl = \"https://x/\"\nupdate_interval_secs = 0\n",
                "at least 1",
            ),
            (
                "[[calendar]]\nurl = \"https://x/\"\nmerge_window_secs = 9223372036854775807\n",
                "at most 604800",
            ),
        ] {
            let err = resolve(toml_text, &none).unwrap_err();
            assert!(err.contains(says), "{toml_text}: {err}");
        }
    }
}
