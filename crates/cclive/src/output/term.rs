//! What the terminal is: how wide, and whether text may be coloured. The one place that decides
//! from `COLUMNS`, `NO_COLOR`, `FORCE_COLOR` (read through [`crate::config::env`]) and the tty's
//! size; everything that lays out text takes a [`Term`] so it stays a pure function of it (and
//! the tests pin the exact text).

use std::io::IsTerminal as _;

use crate::cli::{ColorArg, GlobalArgs};

/// The width text gets when stdout is not a terminal and `COLUMNS` is not set: wide enough for
/// every report's columns, so a pipe into `grep` or a file loses nothing.
pub(crate) const PIPE_WIDTH: usize = 160;

/// The narrowest width honoured (a smaller `COLUMNS` is a mistake, not a terminal).
const MIN_WIDTH: usize = 20;

/// Where text goes: its width in columns, and whether ANSI colour is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Term {
    /// Columns.
    pub(crate) width: usize,
    /// ANSI colour on.
    pub(crate) color: bool,
}

impl Term {
    /// Plain text of `width` columns.
    #[cfg(test)]
    pub(crate) fn plain(width: usize) -> Term {
        Term {
            width,
            color: false,
        }
    }

    /// Stdout as this process sees it, with the user's `--color`/`--no-color`.
    pub(crate) fn stdout(global: &GlobalArgs) -> Term {
        let env = |k: &str| crate::config::env::var(k);
        Term {
            width: stdout_width(),
            color: color(choice(global), &env, std::io::stdout().is_terminal()),
        }
    }
}

/// Stdout's width ([`width`] with this process's environment and tty).
fn stdout_width() -> usize {
    width(
        &|k| crate::config::env::var(k),
        std::io::stdout().is_terminal(),
        || {
            ratatui::crossterm::terminal::size()
                .ok()
                .map(|(w, _)| usize::from(w))
        },
    )
}

/// The user's colour choice from the flags.
pub(crate) fn choice(global: &GlobalArgs) -> ColorArg {
    if global.no_color {
        ColorArg::Never
    } else {
        global.color.unwrap_or(ColorArg::Auto)
    }
}

/// `COLUMNS` when set to a sensible number; else the terminal's size when stdout is one; else
/// [`PIPE_WIDTH`].
pub(crate) fn width(
    env: &dyn Fn(&str) -> Option<String>,
    tty: bool,
    size: impl FnOnce() -> Option<usize>,
) -> usize {
    let sane = |w: usize| (w >= MIN_WIDTH).then_some(w);
    env("COLUMNS")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .and_then(sane)
        .or_else(|| if tty { size().and_then(sane) } else { None })
        .unwrap_or(PIPE_WIDTH)
}

/// Whether to colour: the flag when it says `always` or `never`; else `NO_COLOR` (any non-empty
/// value, <https://no-color.org>) turns it off, `FORCE_COLOR` on, and otherwise only a terminal
/// gets colour.
pub(crate) fn color(choice: ColorArg, env: &dyn Fn(&str) -> Option<String>, tty: bool) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    match choice {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto if set("NO_COLOR") => false,
        ColorArg::Auto if set("FORCE_COLOR") => env("FORCE_COLOR").as_deref() != Some("0"),
        ColorArg::Auto => tty,
    }
}

/// Writes `text` to stdout. A reader that stopped early (`cclive report daily | head`) closed
/// the pipe: that ends the output, it is not an error (and never a panic, as `print!` would).
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// A text style (SGR codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// Column headers and report titles.
    Header,
    /// The totals row.
    Total,
    /// Secondary text (rules, breakdown lines, footnotes).
    Dim,
    /// Good / running: ACTIVE.
    Green,
    /// Attention: INTERRUPTED, waiting, a budget near its limit.
    Yellow,
    /// Trouble: FAILED, a budget over its limit.
    Red,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Header => "1;36",
            Style::Total => "1",
            Style::Dim => "2",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Red => "1;31",
        }
    }
}

/// `text` in `style` when colour is on, else unchanged. Callers pad before painting, so the
/// escape codes never count toward a column's width.
pub(crate) fn paint(on: bool, style: Style, text: &str) -> String {
    if on && !text.is_empty() {
        format!("\x1b[{}m{text}\x1b[0m", style.sgr())
    } else {
        text.to_owned()
    }
}

/// The style of a session status or a block state as shown in a table.
pub(crate) fn status_style(status: &str) -> Option<Style> {
    let s = status.to_ascii_lowercase();
    if s.starts_with("active") || s.starts_with("live") {
        Some(Style::Green)
    } else if s.starts_with("failed") || s.starts_with("error") {
        Some(Style::Red)
    } else if s.starts_with("gap") {
        Some(Style::Dim)
    } else if s.starts_with("interrupted") || s.starts_with("waiting") || s.starts_with("idle") {
        Some(Style::Yellow)
    } else {
        None
    }
}

/// The style of a budget's share used: red at or over 100 %, yellow from `warn` %.
pub(crate) fn budget_style(percent: f64, warn: f64) -> Option<Style> {
    if percent >= 100.0 {
        Some(Style::Red)
    } else if percent >= warn {
        Some(Style::Yellow)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn columns_wins_then_the_tty_then_the_pipe_default() {
        assert_eq!(width(&env_of(&[("COLUMNS", "90")]), true, || Some(200)), 90);
        assert_eq!(width(&env_of(&[]), true, || Some(200)), 200);
        assert_eq!(width(&env_of(&[("COLUMNS", "3")]), true, || Some(120)), 120);
        assert_eq!(width(&env_of(&[]), false, || Some(200)), PIPE_WIDTH);
        assert_eq!(width(&env_of(&[]), true, || None), PIPE_WIDTH);
    }

    #[test]
    fn no_color_and_pipes_turn_colour_off_unless_always() {
        let none = env_of(&[]);
        assert!(color(ColorArg::Auto, &none, true));
        assert!(!color(ColorArg::Auto, &none, false));
        assert!(color(ColorArg::Always, &none, false));
        assert!(!color(ColorArg::Never, &none, true));
        let no = env_of(&[("NO_COLOR", "1")]);
        assert!(!color(ColorArg::Auto, &no, true));
        assert!(color(ColorArg::Always, &no, true));
        assert!(color(ColorArg::Auto, &env_of(&[("NO_COLOR", "")]), true));
        assert!(color(
            ColorArg::Auto,
            &env_of(&[("FORCE_COLOR", "1")]),
            false
        ));
    }

    #[test]
    fn paint_wraps_only_when_on() {
        assert_eq!(paint(false, Style::Red, "x"), "x");
        assert_eq!(paint(true, Style::Red, "x"), "\x1b[1;31mx\x1b[0m");
        assert_eq!(status_style("ACTIVE, 2h left"), Some(Style::Green));
        assert_eq!(status_style("failed"), Some(Style::Red));
        assert_eq!(budget_style(85.0, 80.0), Some(Style::Yellow));
    }
}
