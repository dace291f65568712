//! `cclive config` as users read it: the `[budget]` table is shown, a config file found at the
//! default place is not labelled "default", and a bad value names the file, line, column, key
//! and what was expected.

use super::reports::Fixture;
use crate::support::cclive::describe;

fn write_config(f: &Fixture, text: &str) -> std::path::PathBuf {
    let dir = f.home().join(".config/cclive");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn config_shows_the_budget_and_where_the_file_was_found() {
    let f = Fixture::new();
    write_config(
        &f,
        "[budget]\ndaily_usd = 10\nweek_start = \"sunday\"\n[budget.projects.app]\nmonthly_usd = 100\n",
    );
    let text = f.text(&["config"]);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} line in\n{text}"))
            .to_owned()
    };
    assert!(
        line("config_file").ends_with("# found at the default place"),
        "{text}"
    );
    assert!(line("budget").contains("daily $10.00"), "{text}");
    assert!(line("budget").ends_with("# config file"), "{text}");
    assert!(text.contains("weeks from sunday"), "{text}");
    assert!(
        line("budget.projects.app").contains("monthly $100.00"),
        "{text}"
    );
}

#[test]
fn a_bad_config_value_names_file_line_key_and_what_was_expected() {
    let f = Fixture::new();
    let path = write_config(&f, "[budget]\nweekly_usd = 50\ndaily_usd = \"ten\"\n");
    let out = f.cclive(&["config"]).output().unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "config file {} is invalid: line 3, column 13, key budget.daily_usd: invalid type: \
         string \"ten\", expected a number",
        path.display()
    );
    assert!(err.contains(&expected), "{err}");
}
