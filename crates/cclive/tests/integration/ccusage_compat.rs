//! ccusage users switch in a minute: cclive accepts ccusage's flags, and `--json-format ccusage`
//! gives ccusage 20's JSON shape. Over one generated corpus (fixed seed, fixed dates, UTC), the
//! shapes cclive writes are compared with ccusage 20.0.24's real output: the copy kept in
//! `tests/fixtures/ccusage-20/` always, and a fresh run of the pinned ccusage from the test
//! cache when `scripts/test-setup.sh` installed it. The totals must be cclive's own, exactly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::import_corpus::gen_corpus_script;
use super::reports::Fixture;
use crate::support::cclive::describe;

/// The corpus the fixtures were made from (`gen_corpus.py` with these options).
const CORPUS: &[&str] = &[
    "--size-mb",
    "1",
    "--sessions",
    "6",
    "--projects",
    "2",
    "--days",
    "3",
    "--seed",
    "7",
];

/// ccusage's report name, and cclive's flags for the same report (ccusage's own spelling).
const REPORTS: &[(&str, &[&str])] = &[
    (
        "daily",
        &[
            "daily",
            "-j",
            "-s",
            "20261101",
            "-u",
            "2026-11-30",
            "-z",
            "UTC",
            "--order",
            "asc",
            "--breakdown",
            "--no-color",
            "-O",
        ],
    ),
    (
        "weekly",
        &["weekly", "--json", "--timezone", "UTC", "--compact"],
    ),
    ("monthly", &["monthly", "-j", "-z", "UTC", "-o", "asc"]),
    (
        "session",
        &["sessions", "-j", "-z", "UTC", "--since", "2026-11-01"],
    ),
    (
        "blocks",
        &["blocks", "-j", "-z", "UTC", "--session-length", "5", "-b"],
    ),
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ccusage-20")
}

/// Every path in a JSON value with the kind of what is there (`daily[].period: string`);
/// array elements share one path. A `null` says nothing about the kind (ccusage writes `null`
/// for a block's burn rate until it is active), so it adds no path.
fn shape(v: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, path: &str, out: &mut BTreeSet<String>) {
        let kind = match v {
            Value::Null => return,
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{path}[]"), out);
                }
                "array"
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(item, &p, out);
                }
                "object"
            }
        };
        out.insert(format!("{path}: {kind}"));
    }
    let mut out = BTreeSet::new();
    walk(v, "", &mut out);
    out
}

/// Paths that only some rows have: a breakdown's `missingPricing` (ccusage writes it only for a
/// model it could not price; cclive's table prices models ccusage's does not), and the array
/// element paths under lists that may be empty in one tool's run (`unpricedModels`).
fn comparable(shape: BTreeSet<String>) -> BTreeSet<String> {
    shape
        .into_iter()
        .filter(|p| !p.contains("missingPricing") && !p.contains("unpricedModels[]"))
        .collect()
}

fn pinned_ccusage() -> Option<PathBuf> {
    let bin =
        crate::support::radicale::test_cache().join("ccusage-20.0.24/node_modules/.bin/ccusage");
    bin.is_file().then_some(bin)
}

#[test]
fn ccusage_flags_and_json_shape_match_ccusage_20_with_cclive_totals() {
    let f = Fixture::new();
    let corpus = f.home().join("claude");
    let out = Command::new("python3")
        .arg(gen_corpus_script())
        .args(CORPUS)
        .arg("--out")
        .arg(&corpus)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "gen_corpus: {}", describe(&out));
    let out = f
        .cclive(&["import", "--quiet"])
        .env("CLAUDE_CONFIG_DIR", &corpus)
        .output()
        .unwrap();
    assert!(out.status.success(), "import: {}", describe(&out));
    let ccusage = pinned_ccusage();
    if ccusage.is_none() {
        eprintln!(
            "ccusage 20.0.24 is not in the test cache (scripts/test-setup.sh installs it): comparing with the kept copy of its output only"
        );
    }

    for (name, flags) in REPORTS {
        let mut args = vec!["report"];
        args.extend(flags.iter().copied());
        args.extend(["--json-format", "ccusage"]);
        let out = f.run(&args);
        let ours: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} is not JSON ({e}): {}", describe(&out)));
        let kept: Value = serde_json::from_slice(
            &std::fs::read(fixture_dir().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            comparable(shape(&ours)),
            comparable(shape(&kept)),
            "{name}: cclive's ccusage-shaped JSON against ccusage 20's"
        );
        if let Some(bin) = &ccusage {
            let out = Command::new(bin)
                .args([name, "--json", "--offline", "-z", "UTC"])
                .env("CLAUDE_CONFIG_DIR", &corpus)
                .env("HOME", f.home())
                .output()
                .unwrap();
            assert!(out.status.success(), "ccusage {name}: {}", describe(&out));
            let live: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                comparable(shape(&ours)),
                comparable(shape(&live)),
                "{name}: cclive's ccusage-shaped JSON against the pinned ccusage's"
            );
            // The same rows (periods, sessions, blocks and gaps) from the same corpus.
            let key = |v: &Value| -> Vec<String> {
                let rows = v
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(k, _)| *k != "totals")
                    .unwrap()
                    .1;
                let mut ids: Vec<String> = rows
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.get("period").or_else(|| r.get("id")).unwrap().to_string())
                    .collect();
                ids.sort();
                ids
            };
            assert_eq!(key(&ours), key(&live), "{name}: the same rows as ccusage");
        }

        // The totals are cclive's exact ones (its own --json of the same report).
        if let Some(totals) = ours.get("totals") {
            let mut own_args = vec!["report"];
            own_args.extend(
                flags
                    .iter()
                    .copied()
                    .filter(|a| *a != "-j" && *a != "--json"),
            );
            let own = f.json(&own_args);
            let t = &own["totals"];
            for (theirs, mine) in [
                ("inputTokens", "input"),
                ("outputTokens", "output"),
                ("cacheCreationTokens", "cache_creation"),
                ("cacheReadTokens", "cache_read"),
                ("totalTokens", "total_tokens"),
                ("totalCost", "cost_usd"),
            ] {
                assert_eq!(totals[theirs], t[mine], "{name} totals: {theirs}");
            }
        }
    }
}

#[test]
fn ccusage_only_flags_check_their_arguments() {
    let f = Fixture::new();
    for (args, says) in [
        (
            &["report", "projects", "--json-format", "ccusage"][..],
            "ccusage has no",
        ),
        (&["report", "daily", "--recent"][..], "--recent goes with"),
        (
            &["report", "sessions", "--last", "2"][..],
            "--last goes with",
        ),
        (
            &["report", "blocks", "--session-length", "0"][..],
            "--session-length takes hours",
        ),
        (
            &["report", "daily", "--last", "0"][..],
            "--last takes 1 or more",
        ),
    ] {
        let out = f.cclive(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // --last and --recent count back from today: a range that starts, and no error.
    for args in [
        &["report", "daily", "--last", "1", "-z", "UTC"][..],
        &["report", "weekly", "--last", "2"][..],
        &["report", "monthly", "--last", "3"][..],
        &["report", "blocks", "--recent", "-n", "2.5"][..],
    ] {
        let r = f.json(args);
        assert!(r["since"].is_string(), "{args:?}: {r}");
    }
}
