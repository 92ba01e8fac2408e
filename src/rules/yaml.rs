//! The YAML and PromQL text of the generated rules: quoting, escaping and indentation.

use std::fmt::Write as _;

/// A RE2 regular expression matching exactly `text`.
pub(super) fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A PromQL double-quoted string literal: the same escapes as a YAML double-quoted scalar
/// (Go's `\\`, `\"`, `\n`, `\t`, `\r`, `\uXXXX`), so one function serves both.
pub(super) fn promql_str(text: &str) -> String {
    yaml_str(text)
}

/// Text that can stand in a YAML comment line.
pub(super) fn comment_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A YAML double-quoted scalar.
pub(super) fn yaml_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The YAML being written, two spaces per level.
#[derive(Default)]
pub(super) struct Yaml {
    pub(super) out: String,
}

impl Yaml {
    pub(super) fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// `key: "value"`.
    pub(super) fn kv(&mut self, indent: usize, key: &str, value: &str) {
        self.line(indent, &format!("{key}: {}", yaml_str(value)));
    }

    /// `key: |-` and the text as a literal block, indented one level deeper.
    pub(super) fn block(&mut self, indent: usize, key: &str, text: &str) {
        self.line(indent, &format!("{key}: |-"));
        for l in text.lines() {
            self.line(indent + 2, l);
        }
    }
}
