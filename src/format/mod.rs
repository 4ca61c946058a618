//! Our RON files (scenes, presets, settings, manifests): parsing with errors that name the file,
//! line, column and field path, below every module that reads one.

mod error;
mod locate;
pub mod mesh;
mod unique_keys;

use std::path::{Path, PathBuf};

pub use error::{FileError, Problem};
pub use locate::{Position, locate};
pub use unique_keys::unique_keys;

/// Deserialises any of our RON files (scenes, presets, manifests) with errors that give the file,
/// line, column and, where serde knows it, the field path. Optional values may be written bare
/// (`shape: Box(..)` as well as `shape: Some(Box(..))`), as scenes always did for link shapes.
pub fn parse_ron<T: serde::de::DeserializeOwned>(text: &str, file: &Path) -> Result<T, FileError> {
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let mut deserializer =
        ron::Deserializer::from_str_with_options(text, &options).map_err(|e| spanned(file, e, None))?;
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let field = e.path().to_string();
        let field = (field != ".").then_some(field);
        let inner = e.into_inner();
        spanned(file, deserializer.span_error(inner), field)
    })?;
    deserializer.end().map_err(|e| spanned(file, deserializer.span_error(e), None))?;
    Ok(value)
}

/// Whether two paths name the same file or folder: compared canonically when both exist, else as
/// absolute paths (so `./saves/x` and `saves/x` agree before either is written).
pub fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => match (std::path::absolute(a), std::path::absolute(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        },
    }
}

/// An error about the value at `field` of a parsed RON text, placed at that value's line and column.
pub fn located(text: &str, file: &Path, field: String, message: String) -> FileError {
    let position = locate(text, &field);
    FileError {
        file: file.to_path_buf(),
        line: position.map(|p| p.line),
        column: position.map(|p| p.column),
        field: Some(field),
        message,
    }
}

fn spanned(file: &Path, error: ron::error::SpannedError, field: Option<String>) -> FileError {
    FileError {
        file: PathBuf::from(file),
        line: Some(error.span.start.line),
        column: Some(error.span.start.col),
        field,
        message: error.code.to_string(),
    }
}
