//! Errors in our RON files (scenes, presets, settings, manifests) that say where (file, line, column, field path) and what was expected.

use std::fmt;
use std::path::PathBuf;

/// An error in one of our RON files, precise enough to fix without reading the loader's code.
#[derive(Clone, Debug, PartialEq)]
pub struct FileError {
    /// The file, or `<text>` when parsed from a string.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Field path such as `robot.links[2].mass`, when known.
    pub field: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

/// A problem found by validation, before its position in the text is known.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}
