//! A text table that fits the terminal: numbers right-aligned, a rule above the totals row, and
//! when the table is too wide, text columns cut short with `…` first, then the least important
//! columns left out. Pure: the width is a parameter, so the layout is unit-tested.

use std::fmt::Write as _;

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// One column.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    header: &'static str,
    align: Align,
    /// Left out when the table is too wide, lowest first; `None`: always shown.
    drop_rank: Option<u8>,
    /// Text may be cut down to this many characters before any column is left out.
    min_width: Option<usize>,
    /// Cut text at its start (paths: the end says most), not its end.
    keep_end: bool,
}

impl Column {
    /// A text column that is always shown.
    pub(crate) fn text(header: &'static str) -> Column {
        Column {
            header,
            align: Align::Left,
            drop_rank: None,
            min_width: None,
            keep_end: false,
        }
    }

    /// A number column that is always shown.
    pub(crate) fn number(header: &'static str) -> Column {
        Column {
            align: Align::Right,
            ..Column::text(header)
        }
    }

    /// May be left out when the table is too wide (lower ranks go first).
    pub(crate) fn optional(mut self, rank: u8) -> Column {
        self.drop_rank = Some(rank);
        self
    }

    /// May be cut down to `min` characters.
    pub(crate) fn shrink_to(mut self, min: usize) -> Column {
        self.min_width = Some(min);
        self
    }

    /// When cut, keeps the end of the text (`…rc/app`).
    pub(crate) fn keep_end(mut self) -> Column {
        self.keep_end = true;
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Body,
    Total,
}

/// Columns and rows, rendered by [`Table::render`].
#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<Column>,
    rows: Vec<(Kind, Vec<String>)>,
}

impl Table {
    pub(crate) fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// A body row (missing cells are empty).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push((Kind::Body, cells));
    }

    /// The totals row, after a rule.
    pub(crate) fn total(&mut self, cells: Vec<String>) {
        self.rows.push((Kind::Total, cells));
    }

    /// The table in at most `width` columns, if leaving out optional columns can make it fit.
    pub(crate) fn render(&self, width: usize) -> String {
        let n = self.columns.len();
        let cell = |row: &[String], i: usize| row.get(i).map_or("", String::as_str).to_owned();
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .map(|(_, r)| chars(&cell(r, i)))
                    .chain([chars(c.header)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut shown = vec![true; n];
        let total = |widths: &[usize], shown: &[bool]| {
            let visible: Vec<usize> = (0..n).filter(|i| shown[*i]).map(|i| widths[i]).collect();
            visible.iter().sum::<usize>() + 2 * visible.len().saturating_sub(1)
        };
        for (i, c) in self.columns.iter().enumerate() {
            let excess = total(&widths, &shown).saturating_sub(width);
            if excess == 0 {
                break;
            }
            if let Some(min) = c.min_width {
                let floor = min.max(chars(c.header));
                widths[i] = widths[i].saturating_sub(excess).max(floor).min(widths[i]);
            }
        }
        while total(&widths, &shown) > width {
            let next = (0..n)
                .filter(|i| shown[*i])
                .filter_map(|i| self.columns[i].drop_rank.map(|r| (r, i)))
                .min();
            match next {
                Some((_, i)) => shown[i] = false,
                None => break,
            }
        }

        let line = |cells: Vec<String>| -> String {
            let parts: Vec<String> = (0..n)
                .filter(|i| shown[*i])
                .map(|i| {
                    let text = fit(&cells[i], widths[i], self.columns[i].keep_end);
                    let w = widths[i];
                    match self.columns[i].align {
                        Align::Left => format!("{text:<w$}"),
                        Align::Right => format!("{text:>w$}"),
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_owned()
        };
        let rule = "─".repeat(total(&widths, &shown));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}",
            line(self.columns.iter().map(|c| c.header.to_owned()).collect())
        );
        let _ = writeln!(out, "{rule}");
        for (kind, row) in &self.rows {
            if *kind == Kind::Total {
                let _ = writeln!(out, "{rule}");
            }
            let _ = writeln!(out, "{}", line((0..n).map(|i| cell(row, i)).collect()));
        }
        out
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `s` cut to `w` characters with `…` where text was left out: at the end, or (`keep_end`) at
/// the start.
fn fit(s: &str, w: usize, keep_end: bool) -> String {
    let n = chars(s);
    if n <= w {
        return s.to_owned();
    }
    if w == 0 {
        return String::new();
    }
    if keep_end {
        let tail: String = s.chars().skip(n - (w - 1)).collect();
        return format!("…{tail}");
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push('…');
    out
}

/// The terminal's width: `$COLUMNS` when set to a sensible number, else 100.
pub(crate) fn terminal_width() -> usize {
    crate::config::env::columns()
        .filter(|w| *w >= 20)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(vec![
            Column::text("Date"),
            Column::text("Models").shrink_to(6).optional(0),
            Column::number("Input").optional(1),
            Column::number("Cost"),
        ]);
        t.row(vec![
            "2026-09-03".into(),
            "opus-4, sonnet-4".into(),
            "1,200".into(),
            "$1.50".into(),
        ]);
        t.total(vec![
            "Total".into(),
            String::new(),
            "1,200".into(),
            "$1.50".into(),
        ]);
        t
    }

    #[test]
    fn wide_enough_shows_everything_with_numbers_right_aligned() {
        let text = sample().render(100);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Date        Models            Input   Cost");
        assert_eq!(lines[2], "2026-09-03  opus-4, sonnet-4  1,200  $1.50");
        assert_eq!(lines[3], "─".repeat(42));
        assert_eq!(lines[4], "Total                         1,200  $1.50");
    }

    #[test]
    fn paths_keep_their_end() {
        assert_eq!(fit("/home/me/src/app", 8, true), "…src/app");
        assert_eq!(fit("/home/me/src/app", 8, false), "/home/m…");
        assert_eq!(fit("app", 8, true), "app");
    }

    #[test]
    fn too_narrow_cuts_text_then_leaves_columns_out() {
        let text = sample().render(36);
        assert!(text.lines().all(|l| l.chars().count() <= 36), "{text}");
        assert!(text.contains("opus-4, s…"), "{text}");
        let text = sample().render(25);
        assert!(!text.contains("Models"), "{text}");
        assert!(text.contains("Input"), "{text}");
        let text = sample().render(10);
        assert_eq!(text.lines().next(), Some("Date         Cost"));
    }
}
