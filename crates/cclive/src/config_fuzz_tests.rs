//! The config loader under arbitrary bytes and under structurally valid TOML of the wrong
//! shape (property tests, as `cclive_core`'s `fuzz_tests` for the other parsers): wrong types,
//! huge, negative, fractional and non-finite numbers, unknown keys and tables, nested garbage in
//! `[budget]`, `[[webhook]]`, `[[on_change]]`, `[team]`, `[[calendar]]` and `[server]`.
//! [`Settings::resolve`] never panics: it returns a valid configuration or an error that names
//! the file. A failing input found here is kept below as a named regression case.

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;

use crate::cli::GlobalArgs;
use crate::config::{ConfigError, Inputs, Settings};

/// Every key any table of the config file knows, and some it does not.
const KEYS: &[&str] = &[
    "db",
    "state_file",
    "claude_bin",
    "prices_file",
    "refresh_interval_secs",
    "listen",
    "claude_config_dirs",
    "daily_usd",
    "weekly_usd",
    "monthly_usd",
    "block_at_usd",
    "block_period",
    "week_start",
    "timezone",
    "projects",
    "name",
    "url",
    "events",
    "secret",
    "secret_env",
    "timeout_secs",
    "max_attempts",
    "queue_size",
    "command",
    "upstream",
    "token_file",
    "share_prompts",
    "username",
    "password_file",
    "password_env",
    "token_env",
    "min_duration_secs",
    "merge_window_secs",
    "title",
    "update_interval_secs",
    "link_base",
    "database_url",
    "public_host",
    "tls_cert",
    "tls_key",
    "bogus",
    "\"quoted key\"",
    "a.b",
];

/// Table headers: the real ones, the real ones with the wrong brackets, nested and unknown.
const HEADERS: &[&str] = &[
    "[budget]",
    "[budget.projects.\"/work/app\"]",
    "[budget.projects.\"\"]",
    "[budget.projects]",
    "[[budget]]",
    "[[webhook]]",
    "[webhook]",
    "[[on_change]]",
    "[on_change]",
    "[team]",
    "[[team]]",
    "[team.nested]",
    "[[calendar]]",
    "[calendar]",
    "[server]",
    "[server.tls]",
    "[unknown]",
    "[[webhook.events]]",
];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_owned)
}

/// A TOML value: scalars of every type the file uses and does not (the numbers at and past the
/// edges, non-finite floats, dates), strings that look like what keys expect and do not, and
/// arrays and inline tables of them.
fn value() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(&[
        "\"\"",
        "\" \"",
        "\"~\"",
        "\"~/x\"",
        "\"/\"",
        "\"http://127.0.0.1:1/hook\"",
        "\"https://example.invalid/dav/\"",
        "\"ftp://x\"",
        "\"http://\"",
        "\"127.0.0.1:8501\"",
        "\"0.0.0.0:0\"",
        "\"day\"",
        "\"week\"",
        "\"month\"",
        "\"monday\"",
        "\"sunday\"",
        "\"Europe/Berlin\"",
        "\"../../etc/passwd\"",
        "\"UTC\"",
        "\"*\"",
        "\"session_started\"",
        "\"status_changed\"",
        "\"\\u0000\"",
        "\"\\uFFFF\"",
        "'literal \\ string'",
        "\"\"\"multi\nline\"\"\"",
        "0",
        "-1",
        "1",
        "20",
        "21",
        "3600",
        "3601",
        "100000",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "0.0",
        "-0.0",
        "0.5",
        "1e308",
        "-1e308",
        "5e-324",
        "nan",
        "inf",
        "-inf",
        "+inf",
        "true",
        "false",
        "1979-05-27T07:32:00Z",
        "1979-05-27",
        "07:32:00",
    ])
    .prop_map(str::to_owned);
    let scalar = prop_oneof![
        4 => fixed,
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|x| format!("{x:e}")),
        1 => "[a-zA-Z0-9 _./:~-]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ];
    scalar.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|fields| {
                let body: Vec<String> = fields
                    .into_iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                format!("{{ {} }}", body.join(", "))
            }),
        ]
    })
}

fn assignments(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec((key(), value()), 0..max).prop_map(|lines| {
        lines.into_iter().fold(String::new(), |mut text, (k, v)| {
            let _ = writeln!(text, "{k} = {v}");
            text
        })
    })
}

/// A whole file: top-level keys, then tables.
fn document() -> impl Strategy<Value = String> {
    let table = (prop::sample::select(HEADERS), assignments(6))
        .prop_map(|(header, body)| format!("{header}\n{body}"));
    (assignments(5), prop::collection::vec(table, 0..5))
        .prop_map(|(top, tables)| format!("{top}{}", tables.concat()))
}

/// The tables of the config file with their own keys (`""`: the top level).
const TABLES: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "db",
            "state_file",
            "claude_bin",
            "prices_file",
            "refresh_interval_secs",
            "listen",
            "claude_config_dirs",
        ],
    ),
    (
        "[budget]",
        &[
            "daily_usd",
            "weekly_usd",
            "monthly_usd",
            "block_at_usd",
            "block_period",
            "week_start",
            "timezone",
        ],
    ),
    (
        "[budget.projects.\"/work/app\"]",
        &["daily_usd", "weekly_usd", "monthly_usd", "block_at_usd"],
    ),
    (
        "[[webhook]]",
        &[
            "url",
            "name",
            "events",
            "secret",
            "secret_env",
            "timeout_secs",
            "max_attempts",
            "queue_size",
        ],
    ),
    (
        "[[on_change]]",
        &["command", "name", "events", "timeout_secs"],
    ),
    ("[team]", &["upstream", "token_file", "share_prompts"]),
    (
        "[[calendar]]",
        &[
            "url",
            "name",
            "username",
            "password_file",
            "password_env",
            "token_file",
            "token_env",
            "projects",
            "min_duration_secs",
            "merge_window_secs",
            "title",
            "update_interval_secs",
            "timeout_secs",
            "link_base",
        ],
    ),
    (
        "[server]",
        &[
            "database_url",
            "listen",
            "public_host",
            "tls_cert",
            "tls_key",
        ],
    ),
];

/// A value of the type `key` expects, at the edges of its range (or any value, now and then).
fn plausible(key: &'static str) -> BoxedStrategy<String> {
    let whole = prop::sample::select(&[
        "0",
        "1",
        "-1",
        "5",
        "20",
        "21",
        "300",
        "301",
        "3600",
        "3601",
        "100000",
        "100001",
        "9223372036854775807",
    ])
    .prop_map(str::to_owned);
    let number = prop_oneof![
        whole.clone(),
        prop::sample::select(&["0.5", "-0.5", "1e308", "nan", "inf", "-inf", "5e-324"])
            .prop_map(str::to_owned),
    ];
    let text = prop::sample::select(&[
        "\"\"",
        "\"x\"",
        "\"~/f\"",
        "\"http://127.0.0.1:1/h\"",
        "\"https://example.invalid/dav/\"",
        "\"ftp://x\"",
        "\"127.0.0.1:8501\"",
        "\"day\"",
        "\"month\"",
        "\"monday\"",
        "\"Europe/Berlin\"",
        "\"Nowhere/Atlantis\"",
        "\"*\"",
        "\"session_started\"",
        "\"postgres:///x?host=/tmp\"",
    ])
    .prop_map(str::to_owned);
    let typed: BoxedStrategy<String> = match key {
        "refresh_interval_secs"
        | "daily_usd"
        | "weekly_usd"
        | "monthly_usd"
        | "block_at_usd"
        | "timeout_secs" => number.boxed(),
        "max_attempts"
        | "queue_size"
        | "min_duration_secs"
        | "merge_window_secs"
        | "update_interval_secs" => whole.boxed(),
        "share_prompts" => prop::bool::ANY.prop_map(|b| b.to_string()).boxed(),
        "claude_config_dirs" | "events" | "projects" | "public_host" => {
            prop::collection::vec(text, 0..3)
                .prop_map(|v| format!("[{}]", v.join(", ")))
                .boxed()
        }
        _ => text.boxed(),
    };
    prop_oneof![49 => typed, 1 => value()].boxed()
}

/// One table with some of its own keys (each once, the first always in an array of tables: the
/// one it needs), sometimes a key it does not know.
fn table(header: &'static str, keys: &'static [&'static str]) -> BoxedStrategy<String> {
    let (required, optional) = if header.starts_with("[[") {
        keys.split_at(1)
    } else {
        (&[][..], keys)
    };
    let chosen =
        prop::sample::subsequence(optional, 0..=optional.len()).prop_flat_map(move |mut keys| {
            keys.extend_from_slice(required);
            keys.into_iter()
                .map(|k| plausible(k).prop_map(move |v| format!("{k} = {v}\n")))
                .collect::<Vec<_>>()
        });
    let alien = prop::option::weighted(0.03, (key(), value()));
    (chosen, alien)
        .prop_map(move |(lines, alien)| {
            let mut text = if header.is_empty() {
                String::new()
            } else {
                format!("{header}\n")
            };
            text.push_str(&lines.concat());
            if let Some((k, v)) = alien
                && !lines.iter().any(|l| l.starts_with(&format!("{k} ")))
            {
                let _ = writeln!(text, "{k} = {v}");
            }
            text
        })
        .boxed()
}

/// A file of the right tables, each key at most once, the values mostly of the right type:
/// what gets past TOML to the checks of each table.
fn shaped_document() -> impl Strategy<Value = String> {
    let parts: Vec<BoxedStrategy<String>> = TABLES
        .iter()
        .map(|&(header, keys)| {
            if header.starts_with("[[") {
                prop::collection::vec(table(header, keys), 0..3)
                    .prop_map(|t| t.concat())
                    .boxed()
            } else if header.is_empty() {
                table(header, keys)
            } else {
                prop::option::weighted(0.6, table(header, keys))
                    .prop_map(Option::unwrap_or_default)
                    .boxed()
            }
        })
        .collect();
    parts.prop_map(|p| p.concat())
}

/// Loads `bytes` as the config file: a valid configuration or an error naming the file, never a
/// panic.
fn load(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, bytes).unwrap();
    let home = dir.path().display().to_string();
    let env = |name: &str| match name {
        "HOME" => Some(home.clone()),
        // What `secret_env`, `password_env` and `token_env` may name.
        "bogus" | "name" | "secret" => Some("s3cret".to_owned()),
        _ => None,
    };
    let global = GlobalArgs {
        config: Some(path.clone()),
        ..GlobalArgs::default()
    };
    let resolved = Settings::resolve(&Inputs {
        listen: None,
        global: &global,
        session: None,
        env: &env,
    });
    match resolved {
        Ok(settings) => check_valid(&settings),
        Err(err) => check_clear(&err, &path),
    }
}

fn check_valid(settings: &Settings) {
    let secs = settings.refresh_interval_secs.value;
    assert!(secs.is_finite() && secs > 0.0, "refresh interval {secs}");
    let budget = &settings.budget.value.budget;
    for limits in std::iter::once(&budget.limits).chain(budget.projects.values()) {
        for usd in [
            limits.daily_usd,
            limits.weekly_usd,
            limits.monthly_usd,
            limits.block_at_usd,
        ]
        .into_iter()
        .flatten()
        {
            assert!(usd.is_finite() && usd > 0.0, "a budget limit of {usd}");
        }
    }
    // The calendar sinks add these to clocks: bounded, so that never overflows.
    for calendar in &settings.calendars.value {
        for span in [
            calendar.update_interval,
            calendar.min_duration,
            calendar.merge_window,
        ] {
            assert!(span <= std::time::Duration::from_hours(7 * 24), "{span:?}");
        }
    }
    // `cclive config --json` prints it.
    let _ = serde_json::to_string(settings);
}

fn check_clear(err: &ConfigError, path: &Path) {
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "the error names the file: {message}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_the_config_loader(
        bytes in prop::collection::vec(any::<u8>(), 0..256)
    ) {
        load(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics_the_config_loader(text in "\\PC{0,200}") {
        load(text.as_bytes());
    }

    #[test]
    fn wrong_toml_is_a_clear_error_or_a_valid_config(text in document()) {
        load(text.as_bytes());
    }

    #[test]
    fn right_tables_with_wrong_values_are_a_clear_error_or_a_valid_config(
        text in shaped_document()
    ) {
        load(text.as_bytes());
    }
}

/// Inputs that broke the config loader, kept as regressions, and edge cases checked on every
/// run.
#[test]
fn kept_config_inputs() {
    for input in [
        // Found here: accepted, then the calendar's delivery thread overflowed its clock.
        "[[calendar]]\nurl = \"http://127.0.0.1:1/\"\nupdate_interval_secs = 9223372036854775807\n",
        "[[calendar]]\nurl = \"http://127.0.0.1:1/\"\nmin_duration_secs = 9223372036854775807\n",
        "[budget]\ndaily_usd = nan\n",
        "[budget]\ndaily_usd = -inf\n",
        "refresh_interval_secs = 1e308\n",
        "[[webhook]]\nurl = \"http://127.0.0.1:1/\"\ntimeout_secs = 1e308\n",
        "[[on_change]]\ncommand = \"true\"\ntimeout_secs = -0.0\n",
        "[[calendar]]\nurl = \"http://127.0.0.1:1/\"\nmin_duration_secs = 18446744073709551615\n",
        "[budget]\ntimezone = \"../../etc/passwd\"\n",
    ] {
        load(input.as_bytes());
    }
}
