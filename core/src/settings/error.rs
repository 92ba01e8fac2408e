//! The one error of settings that cannot be used: the key, its line when known, and why.

use std::fmt;

/// A setting that cannot be used. Displayed as `line N: key: why` (the line when the value's
/// place is known), the way `check-config` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingError {
    /// The key as the file writes it (`engine.windows`, `queues.sales`, `kafka.inputs`).
    pub key: String,
    pub line: Option<usize>,
    pub why: String,
}

impl SettingError {
    pub fn new(key: impl Into<String>, why: impl Into<String>) -> Self {
        SettingError {
            key: key.into(),
            line: None,
            why: why.into(),
        }
    }

    pub fn at(key: impl Into<String>, line: usize, why: impl Into<String>) -> Self {
        SettingError {
            line: Some(line),
            ..SettingError::new(key, why)
        }
    }

    /// A message that names its key itself (as the TOML parser's do).
    pub fn message(why: impl Into<String>) -> Self {
        SettingError::new("", why)
    }

    /// A file that is not TOML or does not fit the tables (the parser's message names the key
    /// and the line itself).
    pub fn syntax(e: toml::de::Error) -> Self {
        SettingError::message(e.to_string().trim_end())
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.why)
    }
}

impl std::error::Error for SettingError {}
