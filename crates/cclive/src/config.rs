//! Resolving what the user asked for into one [`Settings`], built once and passed down by `&`.
//!
//! Precedence, lowest first: built-in defaults < the config file < environment variables < flags.
//! Every value remembers where it came from ([`Origin`]) so `cclive config` can say why a value
//! is what it is. Inputs (flags, an environment lookup, the home directory) are parameters, so the
//! precedence table is tested without touching the real environment.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::{GlobalArgs, SessionArgs};

/// The commented default config file; also `cclive config --default`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../../default-config.toml");

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

/// The config file's shape. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    db: Option<PathBuf>,
    state_file: Option<PathBuf>,
    claude_bin: Option<PathBuf>,
    prices_file: Option<PathBuf>,
    refresh_interval_secs: Option<f64>,
    listen: Option<String>,
    claude_config_dirs: Option<Vec<PathBuf>>,
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
    /// Resolves settings from the real process environment.
    pub fn from_process(
        global: &GlobalArgs,
        session: Option<&SessionArgs>,
    ) -> Result<Settings, ConfigError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Settings::resolve(&Inputs {
            listen: None,
            global,
            session,
            env: &env,
        })
    }

    /// Like [`Settings::from_process`], with the `--listen` flag of the monitor commands.
    pub fn from_process_listen(
        global: &GlobalArgs,
        listen: Option<&str>,
    ) -> Result<Settings, ConfigError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Settings::resolve(&Inputs {
            listen,
            global,
            session: None,
            env: &env,
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

        Ok(Settings {
            listen,
            claude_config_dirs,
            config_file,
            config_file_found: found,
            db,
            state_file,
            claude_bin,
            prices_file,
            refresh_interval_secs,
        })
    }
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

fn expand_tilde(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

fn read_file_config(
    path: &Sourced<PathBuf>,
    home: Option<&Path>,
) -> Result<(FileConfig, bool), ConfigError> {
    let file_path = expand_tilde(&path.value, home);
    match std::fs::read_to_string(&file_path) {
        Ok(text) => {
            let config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: file_path.clone(),
                message: e.message().to_owned(),
            })?;
            Ok((config, true))
        }
        // A missing file at the default place is normal; one the user named is an error.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.origin == Origin::Default => {
            Ok((FileConfig::default(), false))
        }
        Err(source) => Err(ConfigError::Read {
            path: file_path,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
    fn a_named_config_file_must_exist() {
        let mut w = World::new();
        assert!(w.resolve().is_ok(), "a missing default file is fine");
        w.global.config = Some(w.dir.path().join("nope.toml"));
        assert!(matches!(w.resolve(), Err(ConfigError::Read { .. })));
    }

    #[test]
    fn the_shipped_default_config_parses() {
        let parsed: Result<FileConfig, _> = toml::from_str(DEFAULT_CONFIG_TOML);
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
