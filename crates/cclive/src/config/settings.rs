//! [`Settings`]: everything cclive needs to know, resolved once and passed down by `&`.
//!
//! Precedence, lowest first: built-in defaults < the config file < environment variables < flags.
//! Every value remembers where it came from ([`Origin`]) so `cclive config` can say why a value
//! is what it is. Inputs (flags, an environment lookup, the home directory) are parameters, so the
//! precedence table is tested without touching the real environment.

use std::fmt;
use std::path::{Path, PathBuf};

use cclive_core::budget::{Budget, Limits, Period};
use cclive_core::report::WeekStart;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::file::{FileBudget, FileLimits, expand_tilde, read_file_config};
use super::zone::{system_zone, zone_named};
use crate::cli::{GlobalArgs, SessionArgs};
use crate::sinks::notify::calendar::CalendarSettings;
use crate::sinks::notify::calendar::settings as calendar_settings;
use crate::sinks::notify::settings as notify_settings;
use crate::sinks::notify::{ExecHookSettings, WebhookSettings};

/// A configuration problem the user must fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file exists but cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error(
        "config file {path} is invalid: {message}. `cclive config --default` prints a valid one"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// An environment variable has a value that cannot be used.
    #[error("environment variable {name} has an invalid value: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Command-line flags that do not go together.
    #[error("{0}")]
    Flag(String),
    /// No home directory to put default paths under.
    #[error("cannot find the home directory: set HOME, or give --db and --state-file explicitly")]
    NoHome,
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Origin {
    /// cclive's built-in default.
    Default,
    /// The config file.
    File,
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File => f.write_str("config file"),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// A value and its origin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub origin: Origin,
}

impl<T> Sourced<T> {
    fn new(value: T, origin: Origin) -> Self {
        Self { value, origin }
    }
}

/// Team mode, the agent side (`[team]`, `--upstream`, `--token-file`): where the local monitor
/// forwards what it stores. The token itself is only ever in its file, never here.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TeamSettings {
    /// The team server (`https://team.example.com`); `None`: team mode is off.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub upstream: Option<String>,
    /// The file holding this machine's token.
    pub token_file: Option<PathBuf>,
    /// Also send prompt previews, titles and command lines.
    pub share_prompts: bool,
}

impl TeamSettings {
    /// The upstream as it may be shown (no credentials, path or query).
    pub fn upstream_shown(&self) -> Option<String> {
        self.upstream.as_deref().map(notify_settings::redact_url)
    }
}

#[allow(clippy::ref_option, reason = "serde's serialize_with signature")]
fn serialize_redacted_url<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    url.as_deref()
        .map(notify_settings::redact_url)
        .serialize(serializer)
}

/// The `[server]` table: defaults for `cclive server` and `cclive team` (flags and
/// `CCLIVE_DATABASE_URL` win).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFileSettings {
    /// The team database (`postgres://…` or `host=… dbname=…`).
    pub database_url: Option<String>,
    /// Where the team server listens (default 127.0.0.1:8601).
    pub listen: Option<String>,
    /// Host names the server is reached by (behind a proxy: its public name).
    #[serde(default)]
    pub public_host: Vec<String>,
    /// A PEM certificate chain, to serve HTTPS directly.
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl ServerFileSettings {
    /// The team database: `flag` (`--database-url`), else `CCLIVE_DATABASE_URL`, else
    /// `[server] database_url`.
    pub fn database_url_or(&self, flag: Option<&str>) -> anyhow::Result<String> {
        use anyhow::Context as _;
        flag.map(str::to_owned)
            .or_else(super::env::database_url)
            .or_else(|| self.database_url.clone())
            .filter(|u| !u.trim().is_empty())
            .context(
                "no team database: pass --database-url postgres://…, set CCLIVE_DATABASE_URL, or \
                 `database_url` in the config file's [server] table",
            )
    }
}

/// Budget limits (`[budget]`) and the zone their periods are cut in.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BudgetSettings {
    /// The limits, per project, the hard limit's period and where weeks begin.
    pub budget: Budget,
    /// The IANA zone days, weeks and months are cut in; `None` for the system zone.
    pub timezone: Option<String>,
}

impl BudgetSettings {
    /// The zone periods are cut in (checked when the settings were resolved).
    pub fn time_zone(&self) -> TimeZone {
        self.timezone
            .as_deref()
            .and_then(zone_named)
            .unwrap_or_else(system_zone)
    }
}

/// Everything cclive needs to know, resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// The config file that was read (or would be).
    pub config_file: Sourced<PathBuf>,
    /// Whether that file exists.
    pub config_file_found: bool,
    /// The SQLite history.
    pub db: Sourced<PathBuf>,
    /// The state file.
    pub state_file: Sourced<PathBuf>,
    /// The claude executable, when set explicitly (else `claude` on PATH).
    pub claude_bin: Sourced<Option<PathBuf>>,
    /// A price table replacing the built-in one.
    pub prices_file: Sourced<Option<PathBuf>>,
    /// Where the monitor (`cclive watch`, `cclive dashboard`) listens for hooks, `cclive run`
    /// events and (later) the dashboard. Loopback unless the user says otherwise.
    pub listen: Sourced<String>,
    /// Claude Code's config dirs: each entry of `$CLAUDE_CONFIG_DIR` (comma-separated), else
    /// `~/.config/claude` and `~/.claude`.
    pub claude_config_dirs: Sourced<Vec<PathBuf>>,
    /// Fallback refresh of the dashboard when its live stream is down (seed's
    /// `DASHBOARD_REFRESH_INTERVAL`), seconds.
    pub refresh_interval_secs: Sourced<f64>,
    /// Budget limits (`[budget]` in the config file; none by default).
    pub budget: Sourced<BudgetSettings>,
    /// Outgoing webhooks (`[[webhook]]` tables).
    pub webhooks: Sourced<Vec<WebhookSettings>>,
    /// Commands run on changes (`[[on_change]]` tables).
    pub on_change: Sourced<Vec<ExecHookSettings>>,
    /// Team mode (`[team]`; `--upstream`/`--token-file` of the monitor commands win).
    pub team: Sourced<TeamSettings>,
    /// The `[server]` table, as the file has it (team mode's server; flags win).
    pub server: ServerFileSettings,
    /// Calendars that get session blocks (`[[calendar]]` tables).
    pub calendars: Sourced<Vec<CalendarSettings>>,
    /// The monitor's token (`CCLIVE_TOKEN`, what `watch`/`dashboard --token` default to), which
    /// this machine's clients send: `cclive hook`, `run`, `top`, the status line, `replay`,
    /// `hooks install`. Never shown.
    #[serde(skip)]
    pub monitor_token: Option<MonitorToken>,
}

/// A monitor's token as its clients send it (`Authorization: Bearer …`). Its `Debug` hides it.
/// Not checked here: a token the monitor refuses must not stop a hook from falling back.
#[derive(Clone, PartialEq, Eq)]
pub struct MonitorToken(String);

impl Settings {
    /// The token this machine's clients send the monitor, if one is configured.
    pub fn client_token(&self) -> Option<&str> {
        self.monitor_token.as_ref().map(MonitorToken::expose)
    }
}

impl MonitorToken {
    /// The secret, for the one header that carries it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MonitorToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MonitorToken(<hidden>)")
    }
}

/// The monitor's default address: the seed's dashboard port, loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8501";

/// The inputs [`Settings::resolve`] reads.
pub struct Inputs<'a> {
    /// `--listen`, for the subcommands that have it.
    pub listen: Option<&'a str>,
    /// Global flags.
    pub global: &'a GlobalArgs,
    /// Session flags, for subcommands that run claude.
    pub session: Option<&'a SessionArgs>,
    /// Environment lookup.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Settings {
    /// Resolves settings from the real process environment, with a command's session flags
    /// (`run`, `ask`) and `--listen` (the monitor and its clients). Called once per process, by
    /// the dispatch.
    pub fn from_process(
        global: &GlobalArgs,
        session: Option<&SessionArgs>,
        listen: Option<&str>,
    ) -> Result<Settings, ConfigError> {
        Settings::resolve(&Inputs {
            listen,
            global,
            session,
            env: &super::env::var,
        })
    }

    /// Resolves settings: defaults < file < env < flags.
    pub fn resolve(inputs: &Inputs<'_>) -> Result<Settings, ConfigError> {
        let env = inputs.env;
        let home = env("HOME").map(PathBuf::from);
        let xdg = |var: &str, fallback: &str| -> Result<PathBuf, ConfigError> {
            match env(var) {
                Some(dir) => Ok(PathBuf::from(dir)),
                None => home
                    .as_ref()
                    .map(|h| h.join(fallback))
                    .ok_or(ConfigError::NoHome),
            }
        };

        // The config file itself: flag > env > default.
        let config_file = if let Some(path) = &inputs.global.config {
            Sourced::new(path.clone(), Origin::Flag("--config"))
        } else if let Some(path) = env("CCLIVE_CONFIG") {
            Sourced::new(PathBuf::from(path), Origin::Env("CCLIVE_CONFIG"))
        } else {
            Sourced::new(
                xdg("XDG_CONFIG_HOME", ".config")?.join("cclive/config.toml"),
                Origin::Default,
            )
        };
        let (file, found) = read_file_config(&config_file, home.as_deref())?;

        let data_dir = || -> Result<PathBuf, ConfigError> {
            Ok(xdg("XDG_DATA_HOME", ".local/share")?.join("cclive"))
        };

        let db = pick_path(
            inputs.global.db.as_ref(),
            "--db",
            env("CCLIVE_DB"),
            "CCLIVE_DB",
            file.db,
            home.as_deref(),
        )
        .map_or_else(
            || data_dir().map(|d| Sourced::new(d.join("cclive.db"), Origin::Default)),
            Ok,
        )?;

        let state_file = pick_path(
            inputs.global.state_file.as_ref(),
            "--state-file",
            env("CLAUDE_SESSION_STATE_FILE"),
            "CLAUDE_SESSION_STATE_FILE",
            file.state_file,
            home.as_deref(),
        )
        .map_or_else(
            || data_dir().map(|d| Sourced::new(d.join("current_session.json"), Origin::Default)),
            Ok,
        )?;

        let claude_bin = pick_path(
            inputs.session.and_then(|s| s.claude_bin.as_ref()),
            "--claude-bin",
            env("CLAUDE_BIN"),
            "CLAUDE_BIN",
            file.claude_bin,
            home.as_deref(),
        )
        .map_or_else(
            || Sourced::new(None, Origin::Default),
            |s| Sourced::new(Some(s.value), s.origin),
        );

        let prices_file = pick_path(
            None,
            "",
            env("CCLIVE_PRICES_FILE"),
            "CCLIVE_PRICES_FILE",
            file.prices_file,
            home.as_deref(),
        )
        .map_or_else(
            || Sourced::new(None, Origin::Default),
            |s| Sourced::new(Some(s.value), s.origin),
        );

        let refresh_interval_secs = match env("DASHBOARD_REFRESH_INTERVAL") {
            Some(raw) => {
                let secs: f64 = raw.trim().parse().map_err(|_| ConfigError::Env {
                    name: "DASHBOARD_REFRESH_INTERVAL",
                    reason: format!("expected seconds as a number, got {raw:?}"),
                })?;
                if !(secs.is_finite() && secs > 0.0) {
                    return Err(ConfigError::Env {
                        name: "DASHBOARD_REFRESH_INTERVAL",
                        reason: "must be a positive number of seconds".into(),
                    });
                }
                Sourced::new(secs, Origin::Env("DASHBOARD_REFRESH_INTERVAL"))
            }
            None => match file.refresh_interval_secs {
                Some(secs) if secs.is_finite() && secs > 0.0 => Sourced::new(secs, Origin::File),
                Some(_) => {
                    return Err(ConfigError::Parse {
                        path: config_file.value.clone(),
                        message: "refresh_interval_secs must be a positive number".into(),
                    });
                }
                None => Sourced::new(2.0, Origin::Default),
            },
        };

        let listen = if let Some(addr) = inputs.listen {
            Sourced::new(addr.to_owned(), Origin::Flag("--listen"))
        } else if let Some(addr) = env("CCLIVE_LISTEN") {
            Sourced::new(addr, Origin::Env("CCLIVE_LISTEN"))
        } else if let Some(addr) = file.listen {
            Sourced::new(addr, Origin::File)
        } else {
            Sourced::new(DEFAULT_LISTEN.to_owned(), Origin::Default)
        };

        let claude_config_dirs = if let Some(list) = env("CLAUDE_CONFIG_DIR") {
            let dirs = list
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| expand_tilde(Path::new(d), home.as_deref()))
                .collect();
            Sourced::new(dirs, Origin::Env("CLAUDE_CONFIG_DIR"))
        } else if let Some(dirs) = file.claude_config_dirs {
            Sourced::new(
                dirs.iter()
                    .map(|d| expand_tilde(d, home.as_deref()))
                    .collect(),
                Origin::File,
            )
        } else {
            let home = home.as_ref().ok_or(ConfigError::NoHome)?;
            Sourced::new(
                vec![home.join(".config/claude"), home.join(".claude")],
                Origin::Default,
            )
        };

        let budget = match file.budget {
            Some(table) => Sourced::new(
                resolve_budget(table).map_err(|message| ConfigError::Parse {
                    path: config_file.value.clone(),
                    message,
                })?,
                Origin::File,
            ),
            None => Sourced::new(BudgetSettings::default(), Origin::Default),
        };

        let webhooks = listed(notify_settings::resolve_webhooks(
            file.webhook,
            env,
            &config_file.value,
        )?);
        let on_change = listed(notify_settings::resolve_exec_hooks(
            file.on_change,
            &config_file.value,
        )?);

        let team = match file.team {
            Some(t) => {
                if t.upstream.is_some() && t.token_file.is_none() {
                    return Err(ConfigError::Parse {
                        path: config_file.value.clone(),
                        message: "team.upstream needs team.token_file (the file holding this \
                                  machine's token, from `cclive team user add`)"
                            .into(),
                    });
                }
                Sourced::new(
                    TeamSettings {
                        upstream: t.upstream,
                        token_file: t.token_file.map(|p| expand_tilde(&p, home.as_deref())),
                        share_prompts: t.share_prompts.unwrap_or(false),
                    },
                    Origin::File,
                )
            }
            None => Sourced::new(TeamSettings::default(), Origin::Default),
        };
        let calendars = listed(calendar_settings::resolve_calendars(
            file.calendar,
            &calendar_settings::Context {
                env,
                home: home.as_deref(),
                listen: &listen.value,
                path: &config_file.value,
            },
        )?);

        Ok(Settings {
            team,
            budget,
            webhooks,
            on_change,
            server: file.server.unwrap_or_default(),
            calendars,
            listen,
            claude_config_dirs,
            config_file,
            config_file_found: found,
            db,
            state_file,
            claude_bin,
            prices_file,
            refresh_interval_secs,
            monitor_token: env("CCLIVE_TOKEN").map(|t| MonitorToken(t.trim().to_owned())),
        })
    }
}

impl Settings {
    /// Applies the monitor commands' `--upstream` and `--token-file`, which win over `[team]`.
    pub fn with_upstream_flags(
        mut self,
        upstream: Option<&str>,
        token_file: Option<&Path>,
    ) -> Result<Settings, ConfigError> {
        if upstream.is_none() && token_file.is_none() {
            return Ok(self);
        }
        let team = &mut self.team;
        if let Some(url) = upstream {
            team.value.upstream = Some(url.to_owned());
            team.origin = Origin::Flag("--upstream");
        }
        if let Some(path) = token_file {
            team.value.token_file = Some(path.to_owned());
            if upstream.is_none() {
                team.origin = Origin::Flag("--token-file");
            }
        }
        if team.value.upstream.is_some() && team.value.token_file.is_none() {
            return Err(ConfigError::Flag(
                "--upstream needs --token-file (or team.token_file in the config file): the \
                 file holding this machine's token, from `cclive team user add`"
                    .into(),
            ));
        }
        if team.value.upstream.is_none() {
            return Err(ConfigError::Flag(
                "--token-file needs --upstream (or team.upstream in the config file)".into(),
            ));
        }
        Ok(self)
    }
}

/// Checks the `[budget]` table: limits are positive amounts, names are known.
fn resolve_budget(table: FileBudget) -> Result<BudgetSettings, String> {
    fn limits(scope: &str, l: &FileLimits) -> Result<Limits, String> {
        let check = |name: &str, v: Option<f64>| match v {
            Some(usd) if !(usd.is_finite() && usd > 0.0) => Err(format!(
                "{scope}.{name} must be a positive amount of USD, got {usd}"
            )),
            _ => Ok(v),
        };
        Ok(Limits {
            daily_usd: check("daily_usd", l.daily_usd)?,
            weekly_usd: check("weekly_usd", l.weekly_usd)?,
            monthly_usd: check("monthly_usd", l.monthly_usd)?,
            block_at_usd: check("block_at_usd", l.block_at_usd)?,
        })
    }
    let global = FileLimits {
        daily_usd: table.daily_usd,
        weekly_usd: table.weekly_usd,
        monthly_usd: table.monthly_usd,
        block_at_usd: table.block_at_usd,
    };
    let mut budget = Budget {
        limits: limits("budget", &global)?,
        ..Budget::default()
    };
    for (key, l) in &table.projects {
        if key.trim().is_empty() {
            return Err("budget.projects has an empty project name".into());
        }
        budget
            .projects
            .insert(key.clone(), limits(&format!("budget.projects.{key:?}"), l)?);
    }
    if let Some(p) = &table.block_period {
        budget.block_period = Period::parse(p).ok_or_else(|| {
            format!("budget.block_period must be \"day\", \"week\" or \"month\", got {p:?}")
        })?;
    }
    if let Some(w) = &table.week_start {
        budget.week_start = WeekStart::parse(w).ok_or_else(|| {
            format!("budget.week_start must be \"monday\" or \"sunday\", got {w:?}")
        })?;
    }
    if let Some(tz) = &table.timezone {
        zone_named(tz)
            .ok_or_else(|| format!("budget.timezone {tz:?} is not a known IANA time zone"))?;
    }
    Ok(BudgetSettings {
        budget,
        timezone: table.timezone,
    })
}

/// A list that only the config file sets: from the file when it has entries.
fn listed<T>(list: Vec<T>) -> Sourced<Vec<T>> {
    let origin = if list.is_empty() {
        Origin::Default
    } else {
        Origin::File
    };
    Sourced::new(list, origin)
}

/// flag > env > file; `None` when none is set (the caller supplies the default).
fn pick_path(
    flag: Option<&PathBuf>,
    flag_name: &'static str,
    env_value: Option<String>,
    env_name: &'static str,
    file_value: Option<PathBuf>,
    home: Option<&Path>,
) -> Option<Sourced<PathBuf>> {
    if let Some(path) = flag {
        return Some(Sourced::new(path.clone(), Origin::Flag(flag_name)));
    }
    if let Some(path) = env_value {
        return Some(Sourced::new(
            expand_tilde(Path::new(&path), home),
            Origin::Env(env_name),
        ));
    }
    file_value.map(|path| Sourced::new(expand_tilde(&path, home), Origin::File))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    #[test]
    fn zones_are_read_from_their_file_and_agree_with_jiffs_lookup() {
        for name in [
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "Asia/Kolkata",
        ] {
            let ours = zone_named(name).expect(name);
            let jiffs = TimeZone::get(name).unwrap();
            assert_eq!(ours.iana_name(), Some(name));
            for secs in [0, 1_700_000_000, 1_800_000_000] {
                let t = jiff::Timestamp::from_second(secs).unwrap();
                assert_eq!(ours.to_offset(t), jiffs.to_offset(t), "{name} at {t}");
            }
        }
        assert_eq!(zone_named("UTC"), Some(TimeZone::UTC));
        for bad in ["Nowhere/Atlantis", "../../etc/passwd", "/etc/passwd", ""] {
            assert!(zone_named(bad).is_none(), "{bad:?}");
        }
    }

    use rstest::rstest;

    use super::*;

    struct World {
        env: HashMap<&'static str, String>,
        global: GlobalArgs,
        dir: tempfile::TempDir,
    }

    impl World {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut env = HashMap::new();
            env.insert("HOME", dir.path().display().to_string());
            World {
                env,
                global: GlobalArgs::default(),
                dir,
            }
        }
        fn file(&mut self, text: &str) {
            let path = self.dir.path().join(".config/cclive/config.toml");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        fn resolve(&self) -> Result<Settings, ConfigError> {
            let env = |k: &str| self.env.get(k).cloned();
            Settings::resolve(&Inputs {
                global: &self.global,
                listen: None,
                session: None,
                env: &env,
            })
        }
    }

    /// Which layer wins for the database path, for every combination of layers set.
    #[rstest]
    #[case(false, false, false, Origin::Default, ".local/share/cclive/cclive.db")]
    #[case(true, false, false, Origin::File, "from-file.db")]
    #[case(true, true, false, Origin::Env("CCLIVE_DB"), "from-env.db")]
    #[case(true, true, true, Origin::Flag("--db"), "from-flag.db")]
    #[case(false, false, true, Origin::Flag("--db"), "from-flag.db")]
    #[case(true, false, true, Origin::Flag("--db"), "from-flag.db")]
    #[case(false, true, false, Origin::Env("CCLIVE_DB"), "from-env.db")]
    fn precedence(
        #[case] file: bool,
        #[case] env: bool,
        #[case] flag: bool,
        #[case] origin: Origin,
        #[case] tail: &str,
    ) {
        let mut w = World::new();
        if file {
            w.file("db = \"~/from-file.db\"\n");
        }
        if env {
            w.env.insert(
                "CCLIVE_DB",
                w.dir.path().join("from-env.db").display().to_string(),
            );
        }
        if flag {
            w.global.db = Some(w.dir.path().join("from-flag.db"));
        }
        let s = w.resolve().unwrap();
        assert_eq!(s.db.origin, origin);
        assert_eq!(s.db.value, w.dir.path().join(tail));
    }

    #[test]
    fn state_file_follows_the_seed_variable_and_xdg() {
        let mut w = World::new();
        w.env.insert("XDG_DATA_HOME", "/xdg/data".into());
        assert_eq!(
            w.resolve().unwrap().state_file.value,
            PathBuf::from("/xdg/data/cclive/current_session.json")
        );
        w.env
            .insert("CLAUDE_SESSION_STATE_FILE", "/tmp/s.json".into());
        let s = w.resolve().unwrap();
        assert_eq!(s.state_file.value, PathBuf::from("/tmp/s.json"));
        assert_eq!(
            s.state_file.origin,
            Origin::Env("CLAUDE_SESSION_STATE_FILE")
        );
        w.global.state_file = Some("/flag.json".into());
        assert_eq!(
            w.resolve().unwrap().state_file.origin,
            Origin::Flag("--state-file")
        );
    }

    #[test]
    fn refresh_interval_from_the_seed_variable() {
        let mut w = World::new();
        assert_eq!(w.resolve().unwrap().refresh_interval_secs.value, 2.0);
        w.file("refresh_interval_secs = 5\n");
        assert_eq!(w.resolve().unwrap().refresh_interval_secs.value, 5.0);
        w.env.insert("DASHBOARD_REFRESH_INTERVAL", "0.5".into());
        assert_eq!(w.resolve().unwrap().refresh_interval_secs.value, 0.5);
        w.env.insert("DASHBOARD_REFRESH_INTERVAL", "soon".into());
        assert!(matches!(
            w.resolve(),
            Err(ConfigError::Env {
                name: "DASHBOARD_REFRESH_INTERVAL",
                ..
            })
        ));
    }

    #[test]
    fn claude_config_dirs_follow_claude_config_dir_lists() {
        let mut w = World::new();
        let s = w.resolve().unwrap();
        assert_eq!(
            s.claude_config_dirs.value,
            vec![
                w.dir.path().join(".config/claude"),
                w.dir.path().join(".claude")
            ]
        );
        w.env.insert("CLAUDE_CONFIG_DIR", "/a, ~/b,".into());
        let s = w.resolve().unwrap();
        assert_eq!(
            s.claude_config_dirs.value,
            vec![PathBuf::from("/a"), w.dir.path().join("b")]
        );
        assert_eq!(s.listen.value, "127.0.0.1:8501");
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let mut w = World::new();
        w.file("db = [1, 2]\n");
        let err = w.resolve().unwrap_err().to_string();
        assert!(err.contains("config.toml is invalid"), "{err}");
        w.file("no_such_key = 1\n");
        assert!(matches!(w.resolve(), Err(ConfigError::Parse { .. })));
    }

    #[test]
    fn a_bad_value_names_the_file_line_column_and_key_and_what_was_expected() {
        let mut w = World::new();
        w.file("# limits\n[budget]\nweekly_usd = 50.0\ndaily_usd = \"ten\"\n");
        let err = w.resolve().unwrap_err().to_string();
        assert!(err.contains("config.toml is invalid"), "{err}");
        assert!(
            err.contains(
                "line 4, column 13, key budget.daily_usd: invalid type: string \"ten\", \
                 expected a number"
            ),
            "{err}"
        );
        w.file("listen = 8501\n");
        let err = w.resolve().unwrap_err().to_string();
        assert!(err.contains("line 1, column 10, key listen:"), "{err}");
        w.file("[budget]\ndayly_usd = 5.0\n");
        let err = w.resolve().unwrap_err().to_string();
        assert!(
            err.contains("line 2, column 1, key budget.dayly_usd: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn a_named_config_file_must_exist() {
        let mut w = World::new();
        assert!(w.resolve().is_ok(), "a missing default file is fine");
        w.global.config = Some(w.dir.path().join("nope.toml"));
        assert!(matches!(w.resolve(), Err(ConfigError::Read { .. })));
    }

    /// `[budget]`: what a file says, resolved; or the error it gets.
    #[rstest]
    #[case::absent("", Ok((Limits::default(), 0, Period::Day, WeekStart::Monday, None)))]
    #[case::global(
        "[budget]\ndaily_usd = 10\nweekly_usd = 50.5\nmonthly_usd = 150\n",
        Ok((
            Limits { daily_usd: Some(10.0), weekly_usd: Some(50.5), monthly_usd: Some(150.0),
                block_at_usd: None },
            0, Period::Day, WeekStart::Monday, None,
        ))
    )]
    #[case::hard_limit_weekly_sunday_zone(
        "[budget]\nblock_at_usd = 25\nblock_period = \"week\"\nweek_start = \"sunday\"\n\
         timezone = \"Europe/Berlin\"\n",
        Ok((
            Limits { block_at_usd: Some(25.0), ..Limits::default() },
            0, Period::Week, WeekStart::Sunday, Some("Europe/Berlin"),
        ))
    )]
    #[case::projects(
        "[budget.projects.app]\ndaily_usd = 5\n[budget.projects.\"/src/lib\"]\nblock_at_usd = 2\n",
        Ok((Limits::default(), 2, Period::Day, WeekStart::Monday, None))
    )]
    #[case::negative(
        "[budget]\ndaily_usd = -1\n",
        Err("budget.daily_usd must be a positive")
    )]
    #[case::zero_project(
        "[budget.projects.app]\nmonthly_usd = 0\n",
        Err("budget.projects.\"app\".monthly_usd must be a positive")
    )]
    #[case::bad_zone(
        "[budget]\ntimezone = \"Mars/Olympus\"\n",
        Err("not a known IANA time zone")
    )]
    #[case::bad_period(
        "[budget]\nblock_period = \"hour\"\n",
        Err("budget.block_period must be")
    )]
    #[case::bad_week(
        "[budget]\nweek_start = \"friday\"\n",
        Err("budget.week_start must be")
    )]
    #[case::unknown_key("[budget]\ndayly_usd = 3\n", Err("unknown field"))]
    fn budget_table(
        #[case] text: &str,
        #[case] expected: Result<(Limits, usize, Period, WeekStart, Option<&str>), &str>,
    ) {
        let mut w = World::new();
        w.file(text);
        match (w.resolve(), expected) {
            (Ok(s), Ok((limits, projects, period, week, tz))) => {
                let b = &s.budget.value;
                assert_eq!(b.budget.limits, limits);
                assert_eq!(b.budget.projects.len(), projects);
                assert_eq!(b.budget.block_period, period);
                assert_eq!(b.budget.week_start, week);
                assert_eq!(b.timezone.as_deref(), tz);
                let origin = if text.is_empty() {
                    Origin::Default
                } else {
                    Origin::File
                };
                assert_eq!(s.budget.origin, origin);
            }
            (Err(e), Err(wanted)) => {
                let e = e.to_string();
                assert!(e.contains(wanted), "{e}");
            }
            (got, wanted) => panic!("got {got:?}, wanted {wanted:?}"),
        }
    }

    #[test]
    fn project_budgets_keep_their_keys() {
        let mut w = World::new();
        w.file("[budget.projects.app]\ndaily_usd = 5\nblock_at_usd = 8\n");
        let s = w.resolve().unwrap();
        let app = &s.budget.value.budget.projects["app"];
        assert_eq!(app.daily_usd, Some(5.0));
        assert_eq!(app.block_at_usd, Some(8.0));
        assert!(s.budget.value.budget.has_hard_limit());
    }

    /// `[[webhook]]` and `[[on_change]]` tables: what each key becomes, and what is refused.
    #[rstest]
    #[case::defaults(
        "[[webhook]]\nurl = \"https://example.com/h\"\n",
        Ok(
            "webhook-1 5000ms 5 1000 session_started,status_changed,turn_finished,session_ended,budget_threshold,block_started,block_ended no-secret"
        )
    )]
    #[case::everything(
        "[[webhook]]\nname = \"cal\"\nurl = \"http://127.0.0.1:1/x\"\nevents = [\"session_ended\", \"progress\"]\nsecret = \"s\"\ntimeout_secs = 0.5\nmax_attempts = 2\nqueue_size = 7\n",
        Ok("cal 500ms 2 7 session_ended,progress secret")
    )]
    #[case::secret_from_env(
        "[[webhook]]\nurl = \"https://e.com\"\nsecret_env = \"HOOK_SECRET\"\n",
        Ok(
            "webhook-1 5000ms 5 1000 session_started,status_changed,turn_finished,session_ended,budget_threshold,block_started,block_ended secret"
        )
    )]
    #[case::all_events(
        "[[webhook]]\nurl = \"https://e.com\"\nevents = [\"*\"]\n",
        Ok(
            "webhook-1 5000ms 5 1000 session_started,status_changed,turn_finished,session_ended,progress,budget_threshold,block_started,block_ended no-secret"
        )
    )]
    #[case::no_scheme(
        "[[webhook]]\nurl = \"example.com/h\"\n",
        Err("url must start with http")
    )]
    #[case::bad_event(
        "[[webhook]]\nurl = \"https://e.com\"\nevents = [\"ended\"]\n",
        Err("unknown event \"ended\"")
    )]
    #[case::unset_env(
        "[[webhook]]\nurl = \"https://e.com\"\nsecret_env = \"NOPE\"\n",
        Err("secret_env names NOPE")
    )]
    #[case::both_secrets(
        "[[webhook]]\nurl = \"https://e.com\"\nsecret = \"a\"\nsecret_env = \"HOOK_SECRET\"\n",
        Err("either secret or secret_env")
    )]
    #[case::zero_timeout(
        "[[webhook]]\nurl = \"https://e.com\"\ntimeout_secs = 0\n",
        Err("timeout_secs")
    )]
    #[case::unknown_key(
        "[[webhook]]\nurl = \"https://e.com\"\nsecrets = \"a\"\n",
        Err("unknown field")
    )]
    #[case::same_name(
        "[[webhook]]\nname = \"a\"\nurl = \"https://e.com\"\n[[webhook]]\nname = \"a\"\nurl = \"https://f.com\"\n",
        Err("two webhooks have this name")
    )]
    fn webhook_tables(#[case] toml: &str, #[case] want: Result<&str, &str>) {
        let mut w = World::new();
        w.env.insert("HOOK_SECRET", "from-env".into());
        w.file(toml);
        match (w.resolve(), want) {
            (Ok(s), Ok(want)) => {
                assert_eq!(s.webhooks.origin, Origin::File);
                let h = &s.webhooks.value[0];
                let events: Vec<&str> = h.events.iter().map(|e| e.as_str()).collect();
                let got = format!(
                    "{} {}ms {} {} {} {}",
                    h.name,
                    h.timeout.as_millis(),
                    h.max_attempts,
                    h.queue_size,
                    events.join(","),
                    if h.secret.is_some() {
                        "secret"
                    } else {
                        "no-secret"
                    }
                );
                assert_eq!(got, want);
            }
            (Err(e), Err(want)) => {
                let e = e.to_string();
                assert!(e.contains(want), "{e}");
                assert!(!e.contains("from-env"), "secrets never show: {e}");
            }
            (got, want) => panic!("{got:?} but wanted {want:?}"),
        }
    }

    #[test]
    fn secret_env_reads_the_environment_and_stays_hidden() {
        let mut w = World::new();
        w.env.insert("HOOK_SECRET", "from-env".into());
        w.file("[[webhook]]\nurl = \"https://e.com/p\"\nsecret_env = \"HOOK_SECRET\"\n");
        let s = w.resolve().unwrap();
        let secret = s.webhooks.value[0].secret.as_ref().unwrap();
        assert_eq!(secret.expose(), b"from-env");
        let shown = format!("{s:?} {}", serde_json::to_string(&s).unwrap());
        assert!(!shown.contains("from-env"), "{shown}");
    }

    #[rstest]
    #[case::defaults("[[on_change]]\ncommand = \"notify-send hi\"\n", Ok(("on_change-1", 10_000, 7)))]
    #[case::set(
        "[[on_change]]\nname = \"cal\"\ncommand = \"x\"\nevents = [\"session_started\"]\ntimeout_secs = 2\n",
        Ok(("cal", 2000, 1))
    )]
    #[case::empty_command("[[on_change]]\ncommand = \" \"\n", Err("command is empty"))]
    #[case::no_command("[[on_change]]\nevents = []\n", Err("missing field `command`"))]
    fn on_change_tables(#[case] toml: &str, #[case] want: Result<(&str, u128, usize), &str>) {
        let mut w = World::new();
        assert_eq!(w.resolve().unwrap().on_change.origin, Origin::Default);
        w.file(toml);
        match (w.resolve(), want) {
            (Ok(s), Ok((name, ms, events))) => {
                let h = &s.on_change.value[0];
                assert_eq!(
                    (h.name.as_str(), h.timeout.as_millis(), h.events.len()),
                    (name, ms, events)
                );
                assert_eq!(s.on_change.origin, Origin::File);
            }
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e}"),
            (got, want) => panic!("{got:?} but wanted {want:?}"),
        }
    }

    #[test]
    fn team_mode_comes_from_the_file_and_the_monitor_flags_win() {
        let mut w = World::new();
        let off = w.resolve().unwrap();
        assert_eq!(off.team.value, TeamSettings::default());
        assert_eq!(off.team.origin, Origin::Default);

        w.file(
            "[team]\nupstream = \"https://u:secret@team.example.com/x?k=v\"\n\
             token_file = \"~/team-token\"\nshare_prompts = true\n",
        );
        let s = w.resolve().unwrap();
        assert_eq!(s.team.origin, Origin::File);
        assert_eq!(
            s.team.value.token_file,
            Some(w.dir.path().join("team-token"))
        );
        assert!(s.team.value.share_prompts);
        // Shown (and serialized for `cclive config --json`) without credentials, path or query.
        assert_eq!(
            s.team.value.upstream_shown().as_deref(),
            Some("https://…@team.example.com/…")
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("secret"), "{json}");

        let flagged = s
            .with_upstream_flags(Some("http://127.0.0.1:8601"), Some(Path::new("/t")))
            .unwrap();
        assert_eq!(flagged.team.origin, Origin::Flag("--upstream"));
        assert_eq!(
            flagged.team.value.upstream.as_deref(),
            Some("http://127.0.0.1:8601")
        );
        assert_eq!(
            flagged.team.value.token_file.as_deref(),
            Some(Path::new("/t"))
        );
    }

    #[test]
    fn an_upstream_needs_a_token_file() {
        let mut w = World::new();
        let err = w
            .resolve()
            .unwrap()
            .with_upstream_flags(Some("https://team.example.com"), None)
            .unwrap_err();
        assert!(err.to_string().contains("--token-file"), "{err}");
        let err = w
            .resolve()
            .unwrap()
            .with_upstream_flags(None, Some(Path::new("/t")))
            .unwrap_err();
        assert!(err.to_string().contains("--upstream"), "{err}");
        w.file("[team]\nupstream = \"https://team.example.com\"\n");
        let err = w.resolve().unwrap_err();
        assert!(err.to_string().contains("team.token_file"), "{err}");
    }

    #[test]
    fn the_server_table_is_read() {
        let mut w = World::new();
        w.file(
            "[server]\ndatabase_url = \"host=/run/postgresql dbname=cclive\"\npublic_host = [\"team.example.com\"]\n",
        );
        let s = w.resolve().unwrap();
        assert_eq!(
            s.server.database_url.as_deref(),
            Some("host=/run/postgresql dbname=cclive")
        );
        assert_eq!(s.server.public_host, ["team.example.com"]);
        w.file("[server]\ndatabase = \"x\"\n");
        assert!(w.resolve().is_err());
    }

    #[test]
    fn the_shipped_default_config_parses() {
        let parsed: Result<super::super::file::FileConfig, _> =
            toml::from_str(crate::config::DEFAULT_CONFIG_TOML);
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
