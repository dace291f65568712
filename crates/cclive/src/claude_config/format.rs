//! How a `settings.json` is laid out, so cclive writes it back the way it found it: Claude
//! Code's own layout (`JSON.stringify(v, null, 2)` plus a newline), or the file's indentation and
//! final newline. Pure text; it never reads or writes files.

use serde_json::Value;

/// How a settings file is laid out: the indentation unit and whether it ends with a newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    indent: String,
    trailing_newline: bool,
}

impl Format {
    /// Claude Code's own: `JSON.stringify(settings, null, 2) + "\n"`.
    pub(crate) fn claude() -> Format {
        Format {
            indent: "  ".to_owned(),
            trailing_newline: true,
        }
    }

    /// The layout of `text`: the indentation of its first indented line (a settings file is an
    /// object, so that line is one level deep) and its final newline. One-line files get
    /// Claude Code's layout.
    pub(crate) fn detect(text: &str) -> Format {
        let indent = text.lines().skip(1).find_map(|line| {
            let unit: String = line
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            (!unit.is_empty() && unit.len() < line.len()).then_some(unit)
        });
        match indent {
            Some(indent) => Format {
                indent,
                trailing_newline: text.ends_with('\n'),
            },
            None => Format::claude(),
        }
    }

    /// `settings` as text in this layout.
    pub(crate) fn render(&self, settings: &Value) -> String {
        use serde::Serialize as _;
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(self.indent.as_bytes());
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        settings
            .serialize(&mut ser)
            .expect("a Value always serializes");
        let mut text = String::from_utf8(out).expect("serde_json writes UTF-8");
        if self.trailing_newline {
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_layout_is_claude_codes_or_the_files_own() {
        let value = json!({"a": {"b": [1, "é\u{1b}"]}, "c": [], "d": {}});
        let text = "{\n  \"a\": {\n    \"b\": [\n      1,\n      \"é\\u001b\"\n    ]\n  },\n  \"c\": [],\n  \"d\": {}\n}\n";
        assert_eq!(Format::claude().render(&value), text);
        assert_eq!(Format::detect(text), Format::claude());
        let tabs = "{\n\t\"a\": 1\n}";
        let format = Format::detect(tabs);
        assert_eq!(format.render(&json!({"a": 1})), tabs);
        assert_eq!(Format::detect("{}"), Format::claude());
        assert_eq!(Format::detect(""), Format::claude());
    }
}
