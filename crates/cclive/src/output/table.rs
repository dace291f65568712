//! A text table that fits the terminal: numbers right-aligned, a rule above the totals row, and
//! when the table is too wide, text columns cut short with `…` first, then the least important
//! columns left out. Pure: the width and colour are parameters ([`Term`]), so the layout is
//! unit-tested. Colour is painted after padding, so escape codes never count as width.

use std::fmt::Write as _;

use crate::output::term::{Style, Term, paint};

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
    /// A body cell's colour, from its text.
    style: Option<fn(&str) -> Option<Style>>,
    /// Counts may be shown short (`1.3M`), under `short_header`, when the table is too wide.
    abbreviate: bool,
    short_header: &'static str,
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
            style: None,
            abbreviate: false,
            short_header: header,
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

    /// A count column that may be shown short (`1.3M`), headed `short_header`, before any
    /// column is left out.
    pub(crate) fn abbreviated(mut self, short_header: &'static str) -> Column {
        self.abbreviate = true;
        self.short_header = short_header;
        self
    }

    fn header_text(&self, short: bool) -> &'static str {
        if short {
            self.short_header
        } else {
            self.header
        }
    }

    /// A cell as shown: a count in short form when `short` and the column allows it.
    fn shown(&self, cell: &str, short: bool) -> String {
        if short && self.abbreviate {
            short_count(cell).unwrap_or_else(|| cell.to_owned())
        } else {
            cell.to_owned()
        }
    }

    /// Colours body cells by their text (a status, a share of a limit).
    pub(crate) fn styled(mut self, style: fn(&str) -> Option<Style>) -> Column {
        self.style = Some(style);
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Body,
    Total,
}

/// Columns and rows, rendered by [`Table::paint`].
#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<Column>,
    rows: Vec<(Kind, Vec<String>)>,
    compact: bool,
}

impl Table {
    pub(crate) fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
            compact: false,
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
    #[cfg(test)]
    pub(crate) fn render(&self, width: usize) -> String {
        self.paint(Term::plain(width))
    }

    /// Only the columns that are always shown (`--compact`).
    pub(crate) fn compact(mut self) -> Table {
        self.compact = true;
        self
    }

    /// The table in at most `term.width` columns, coloured when `term.color`: bold headers and
    /// totals, dim rules and breakdown lines, styled cells.
    pub(crate) fn paint(&self, term: Term) -> String {
        let width = term.width;
        let n = self.columns.len();
        let raw = |row: &[String], i: usize| row.get(i).map_or("", String::as_str).to_owned();
        let total = |widths: &[usize], shown: &[bool]| {
            let visible: Vec<usize> = (0..n).filter(|i| shown[*i]).map(|i| widths[i]).collect();
            visible.iter().sum::<usize>() + 2 * visible.len().saturating_sub(1)
        };
        // `--compact` leaves every optional column out from the start.
        let mut shown: Vec<bool> = self
            .columns
            .iter()
            .map(|c| !self.compact || c.drop_rank.is_none())
            .collect();
        // Each column as wide as its widest cell, text columns then cut toward their minimum.
        let layout = |short: bool| -> Vec<usize> {
            let mut widths = layout_natural(self, short);
            for (i, c) in self.columns.iter().enumerate() {
                let excess = total(&widths, &shown).saturating_sub(width);
                if excess == 0 {
                    break;
                }
                if let Some(min) = c.min_width {
                    let floor = min.max(chars(c.header_text(short)));
                    widths[i] = widths[i].saturating_sub(excess).max(floor).min(widths[i]);
                }
            }
            widths
        };
        let mut widths = layout(false);
        // Still too wide: counts in short form (`1.3M`) and short headers, before any column
        // is left out.
        let short = total(&widths, &shown) > width && self.columns.iter().any(|c| c.abbreviate);
        if short {
            widths = layout(true);
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

        // Room left once columns went: text cut short gets it back, first columns first.
        let full = layout_natural(self, short);
        let mut spare = width.saturating_sub(total(&widths, &shown));
        for i in 0..n {
            if shown[i] && widths[i] < full[i] && spare > 0 {
                let grow = (full[i] - widths[i]).min(spare);
                widths[i] += grow;
                spare -= grow;
            }
        }
        let on = term.color;
        let line = |cells: Vec<String>, kind: Option<Kind>| -> String {
            let breakdown = cells.first().is_some_and(|c| c.starts_with("  └"));
            let parts: Vec<String> = (0..n)
                .filter(|i| shown[*i])
                .map(|i| {
                    let column = &self.columns[i];
                    let text = match kind {
                        Some(_) => column.shown(&cells[i], short),
                        None => cells[i].clone(),
                    };
                    let text = fit(&text, widths[i], column.keep_end);
                    let w = widths[i];
                    let padded = match column.align {
                        Align::Left => format!("{text:<w$}"),
                        Align::Right => format!("{text:>w$}"),
                    };
                    let style = match kind {
                        None => Some(Style::Header),
                        Some(Kind::Total) => Some(Style::Total),
                        Some(Kind::Body) if breakdown => Some(Style::Dim),
                        Some(Kind::Body) => column.style.and_then(|f| f(&cells[i])),
                    };
                    match style {
                        // Padding stays outside the colour, so lines end clean.
                        Some(style) if !padded.trim().is_empty() => {
                            let text = padded.trim();
                            let lead = &padded[..padded.len() - padded.trim_start().len()];
                            let trail = &padded[padded.trim_end().len()..];
                            format!("{lead}{}{trail}", paint(on, style, text))
                        }
                        _ => padded,
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_owned()
        };
        let rule = paint(on, Style::Dim, &"─".repeat(total(&widths, &shown)));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}",
            line(
                self.columns
                    .iter()
                    .map(|c| c.header_text(short).to_owned())
                    .collect(),
                None
            )
        );
        let _ = writeln!(out, "{rule}");
        for (kind, row) in &self.rows {
            if *kind == Kind::Total {
                let _ = writeln!(out, "{rule}");
            }
            let _ = writeln!(
                out,
                "{}",
                line((0..n).map(|i| raw(row, i)).collect(), Some(*kind))
            );
        }
        out
    }
}

/// `1,234,567` → `1.2M`, `45,600` → `45.6K`, `999` unchanged; `None` for what is not a count.
fn short_count(cell: &str) -> Option<String> {
    let n: u64 = cell.replace(',', "").parse().ok()?;
    #[allow(clippy::cast_precision_loss)] // a display figure
    let v = n as f64;
    Some(match n {
        0..1_000 => n.to_string(),
        1_000..999_950 => format!("{:.1}K", v / 1e3),
        999_950..999_950_000 => format!("{:.1}M", v / 1e6),
        _ => format!("{:.1}B", v / 1e9),
    })
}

/// Each column as wide as its widest cell (and header), nothing cut.
fn layout_natural(table: &Table, short: bool) -> Vec<usize> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            table
                .rows
                .iter()
                .map(|(_, r)| chars(&c.shown(r.get(i).map_or("", String::as_str), short)))
                .chain([chars(c.header_text(short))])
                .max()
                .unwrap_or(0)
        })
        .collect()
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
    fn counts_go_short_before_columns_go() {
        let mut t = Table::new(vec![
            Column::text("Model"),
            Column::number("Cache read").abbreviated("Cache rd"),
            Column::number("Cost"),
        ]);
        t.row(vec!["opus".into(), "1,278,587,123".into(), "$1.00".into()]);
        assert!(t.render(80).contains("1,278,587,123"));
        let narrow = t.render(20);
        assert!(narrow.contains("1.3B"), "{narrow}");
        assert!(narrow.starts_with("Model  Cache rd"), "{narrow}");
        assert_eq!(short_count("45,600").as_deref(), Some("45.6K"));
        assert_eq!(short_count("999,999").as_deref(), Some("1.0M"));
        assert_eq!(short_count("$1.00"), None);
    }

    #[test]
    fn compact_keeps_only_the_columns_always_shown_at_full_length() {
        let text = sample().compact().render(100);
        assert_eq!(text.lines().next(), Some("Date         Cost"));
        assert!(text.contains("2026-09-03  $1.50"), "{text}");
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
