//! Claude Code's own telemetry pointed at cclive, as pure edits of `settings.json`'s `env`
//! object (`cclive hooks install --telemetry`).
//!
//! Claude Code applies `settings.env` to itself at start, so these variables turn on its
//! OpenTelemetry export (logs and metrics, OTLP/HTTP protobuf) to the monitor's `/v1/logs` and
//! `/v1/metrics`: Claude Code's own cost of every API request, tool timings and sessions on
//! other machines reach cclive. With nothing listening the export fails quietly and Claude Code
//! goes on (checked with the real 2.1.332: same output and exit code, no message).
//!
//! [`install`] sets exactly [`variables`]; a variable the user already set to something else is
//! theirs (their own collector, say): the install is refused whole and nothing changes.
//! [`uninstall`] removes the variables whose values are exactly ours, and `env` if that emptied
//! it. Every other key and the key order are kept. Nothing here touches the disk.

use serde_json::{Map, Value};

use crate::claude_config::settings::{ShapeError, ensure_object};

/// The OTLP endpoint of the monitor at `listen` (`0.0.0.0`/`[::]` become loopback, where the
/// monitor answers too).
pub(crate) fn endpoint(listen: &str) -> String {
    format!("http://{}", crate::monitor::client::connect_target(listen))
}

/// The variables cclive sets, for a monitor reached at `endpoint` (`http://host:port`).
pub(crate) fn variables(endpoint: &str) -> [(&'static str, String); 6] {
    [
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1".to_owned()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        // Claude Code's default is 5 s; live figures want less, and a batch is small.
        ("OTEL_LOGS_EXPORT_INTERVAL", "2000".to_owned()),
    ]
}

/// What a telemetry edit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TelemetryChange {
    /// Nothing to do.
    Unchanged,
    /// These variables were set.
    Added(Vec<String>),
    /// The user set this variable to another value; nothing was changed.
    Refused {
        /// The variable.
        name: String,
        /// Their value.
        theirs: String,
    },
    /// These variables were removed (uninstall).
    Removed(Vec<String>),
}

impl TelemetryChange {
    /// True when the settings were changed.
    pub(crate) fn changed(&self) -> bool {
        matches!(
            self,
            TelemetryChange::Added(_) | TelemetryChange::Removed(_)
        )
    }
}

/// Sets [`variables`] in `settings.env` (created when missing). Idempotent.
pub(crate) fn install(settings: &mut Value, endpoint: &str) -> Result<TelemetryChange, ShapeError> {
    let ours = variables(endpoint);
    if let Some(env) = env(settings)? {
        for (name, value) in &ours {
            if let Some(theirs) = env.get(*name).filter(|v| v.as_str() != Some(value)) {
                return Ok(TelemetryChange::Refused {
                    name: (*name).to_owned(),
                    theirs: theirs
                        .as_str()
                        .map_or_else(|| theirs.to_string(), str::to_owned),
                });
            }
        }
    }
    let env = ensure_object(settings, "env", ShapeError::EnvNotAnObject)?;
    let mut added = Vec::new();
    for (name, value) in ours {
        if !env.contains_key(name) {
            env.insert(name.to_owned(), Value::String(value));
            added.push(name.to_owned());
        }
    }
    Ok(if added.is_empty() {
        TelemetryChange::Unchanged
    } else {
        TelemetryChange::Added(added)
    })
}

/// Removes the variables of [`variables`] whose values are ours, and `env` when it is left
/// empty. Ours is recognized by the endpoint: without it, nothing is removed (the other
/// variables may be the user's own telemetry set-up).
pub(crate) fn uninstall(
    settings: &mut Value,
    endpoint: &str,
) -> Result<TelemetryChange, ShapeError> {
    let ours = variables(endpoint);
    let points_here = env(settings)?.is_some_and(|env| {
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .and_then(Value::as_str)
            == Some(endpoint)
    });
    if !points_here {
        return Ok(TelemetryChange::Unchanged);
    }
    let top = settings.as_object_mut().ok_or(ShapeError::NotAnObject)?;
    let Some(env) = top.get_mut("env").and_then(Value::as_object_mut) else {
        return Ok(TelemetryChange::Unchanged);
    };
    let mut removed = Vec::new();
    for (name, value) in ours {
        if env.get(name).and_then(Value::as_str) == Some(value.as_str()) {
            env.shift_remove(name);
            removed.push(name.to_owned());
        }
    }
    if env.is_empty() {
        top.shift_remove("env");
    }
    Ok(TelemetryChange::Removed(removed))
}

/// Where Claude Code's telemetry goes, for `hooks status`: `none`, `cclive's` or `another: …`.
pub(crate) fn status(settings: &Value, endpoint: &str) -> String {
    let Ok(Some(env)) = env(settings) else {
        return "none".to_owned();
    };
    let enabled = env
        .get("CLAUDE_CODE_ENABLE_TELEMETRY")
        .and_then(Value::as_str)
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    let target = env
        .get("OTEL_EXPORTER_OTLP_ENDPOINT")
        .and_then(Value::as_str);
    match (enabled, target) {
        (false, _) => "none".to_owned(),
        (true, Some(t)) if t == endpoint => "cclive's".to_owned(),
        (true, Some(t)) => format!("another: {t}"),
        (true, None) => "on, to Claude Code's default exporters".to_owned(),
    }
}

fn env(settings: &Value) -> Result<Option<&Map<String, Value>>, ShapeError> {
    let top = settings.as_object().ok_or(ShapeError::NotAnObject)?;
    match top.get("env") {
        None => Ok(None),
        Some(Value::Object(env)) => Ok(Some(env)),
        Some(_) => Err(ShapeError::EnvNotAnObject),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const HERE: &str = "http://127.0.0.1:8501";

    #[test]
    fn install_adds_the_variables_beside_the_users_and_uninstall_takes_back_only_them() {
        let mut settings = json!({"model": "opus", "env": {"FOO": "bar"}});
        let change = install(&mut settings, HERE).unwrap();
        assert_eq!(
            change,
            TelemetryChange::Added(
                variables(HERE)
                    .iter()
                    .map(|(n, _)| (*n).to_owned())
                    .collect()
            )
        );
        assert_eq!(settings["env"]["FOO"], "bar");
        assert_eq!(settings["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"], HERE);
        assert_eq!(settings["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"], "1");
        assert_eq!(status(&settings, HERE), "cclive's");
        assert_eq!(
            install(&mut settings, HERE).unwrap(),
            TelemetryChange::Unchanged
        );

        let change = uninstall(&mut settings, HERE).unwrap();
        assert!(matches!(change, TelemetryChange::Removed(ref r) if r.len() == 6));
        assert_eq!(settings, json!({"model": "opus", "env": {"FOO": "bar"}}));
        assert_eq!(status(&settings, HERE), "none");
    }

    #[test]
    fn an_env_that_only_held_ours_goes_with_it() {
        let mut settings = json!({"model": "opus"});
        install(&mut settings, HERE).unwrap();
        uninstall(&mut settings, HERE).unwrap();
        assert_eq!(settings, json!({"model": "opus"}));
    }

    #[test]
    fn the_users_own_collector_is_never_overwritten_nor_removed() {
        let theirs = json!({"env": {
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"
        }});
        let mut settings = theirs.clone();
        assert_eq!(
            install(&mut settings, HERE).unwrap(),
            TelemetryChange::Refused {
                name: "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                theirs: "http://collector:4318".into()
            }
        );
        assert_eq!(settings, theirs, "a refused install changes nothing");
        assert_eq!(status(&settings, HERE), "another: http://collector:4318");
        assert_eq!(
            uninstall(&mut settings, HERE).unwrap(),
            TelemetryChange::Unchanged
        );
        assert_eq!(settings, theirs);
    }

    #[test]
    fn an_env_that_is_not_an_object_is_not_edited() {
        let mut settings = json!({"env": ["FOO=bar"]});
        assert_eq!(
            install(&mut settings, HERE).unwrap_err(),
            ShapeError::EnvNotAnObject
        );
        assert_eq!(
            uninstall(&mut settings, HERE).unwrap_err(),
            ShapeError::EnvNotAnObject
        );
    }
}
