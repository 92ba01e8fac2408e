//! The Prometheus text format (0.0.4) writer: families, samples, escaped labels, numbers
//! written without per-sample allocations.

use std::fmt::Write as _;

/// Appends `value` to a label value, escaped as the text format requires.
pub fn escape_label(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A text exposition being written.
pub struct Exposition {
    out: String,
    /// Only these families are written (`?family=`); `None`: every family.
    only: Option<Vec<String>>,
    /// The current family is left out.
    skip: bool,
}

impl Default for Exposition {
    fn default() -> Self {
        Self::new()
    }
}

impl Exposition {
    pub fn new() -> Self {
        Exposition {
            out: String::with_capacity(1 << 16),
            only: None,
            skip: false,
        }
    }

    /// An exposition that writes only the families named in `families`.
    pub fn only(families: Vec<String>) -> Self {
        Exposition {
            only: Some(families),
            ..Exposition::new()
        }
    }

    /// Starts a family: its `HELP` and `TYPE` lines, and the samples that follow are its own.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.skip = self
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|f| f == name));
        if self.skip {
            return;
        }
        let _ = write!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    /// One sample; `labels` is pre-rendered (`queue="x",window="5m"`), may be empty.
    pub fn sample(&mut self, name: &str, suffix: &str, labels: &str, extra: &str, value: f64) {
        if self.skip {
            return;
        }
        self.out.push_str(name);
        self.out.push_str(suffix);
        if !labels.is_empty() || !extra.is_empty() {
            self.out.push('{');
            self.out.push_str(labels);
            if !labels.is_empty() && !extra.is_empty() {
                self.out.push(',');
            }
            self.out.push_str(extra);
            self.out.push('}');
        }
        self.out.push(' ');
        if value.fract() == 0.0 && value.abs() < 1e15 {
            self.out.push_str(itoa::Buffer::new().format(value as i64));
        } else if value.is_finite() {
            self.out.push_str(ryu::Buffer::new().format_finite(value));
        } else if value.is_nan() {
            self.out.push_str("NaN");
        } else {
            self.out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
        }
        self.out.push('\n');
    }

    /// Makes room for `bytes` more, so a large scrape is written without regrowing.
    pub fn reserve(&mut self, bytes: usize) {
        self.out.reserve(bytes);
    }

    pub fn push_raw(&mut self, text: &str) {
        self.out.push_str(text);
    }

    pub fn finish(self) -> String {
        self.out
    }
}
