//! Our RON files (scenes, presets, settings, manifests): parsing with errors that name the file,
//! line, column and field path, below every module that reads one.

mod error;
mod locate;
pub mod mesh;
mod unique_keys;

use std::path::{Component, Path, PathBuf};

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

/// Whether two paths name the same file or folder, whether or not they exist yet: `./saves/x`,
/// `saves/x` and `saves/new/../x` agree before anything is written (see [`resolved`]).
pub fn same_path(a: &Path, b: &Path) -> bool {
    resolved(a) == resolved(b)
}

/// The path the OS will use for `path` once its missing folders are created: its longest existing
/// part canonical (symbolic links followed), the rest taken lexically — a folder still to be
/// created cannot be a link, so that is where its `..` will lead.
fn resolved(path: &Path) -> PathBuf {
    let absolute = lexically_absolute(path);
    for existing in absolute.ancestors() {
        if let Ok(real) = existing.canonicalize() {
            let rest = absolute.strip_prefix(existing).unwrap_or(Path::new(""));
            return lexically_normal(&real.join(rest));
        }
    }
    lexically_normal(&absolute)
}

/// `path` made absolute, its `..` not yet taken.
fn lexically_absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `path` made absolute with `.` dropped and `..` taken lexically, no link followed.
pub fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in lexically_absolute(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::same_path;

    #[test]
    fn paths_agree_before_and_after_their_folders_exist() {
        let folder = tempfile::tempdir().unwrap();
        let root = folder.path();
        let target = root.join("saves/run");
        let detour = root.join("saves/not-yet/../run");
        assert!(same_path(&target, &detour), "neither exists yet");
        assert!(same_path(&target, &root.join("saves/./run")));
        assert!(!same_path(&target, &root.join("saves/not-yet/run")));
        std::fs::create_dir_all(&target).unwrap();
        assert!(same_path(&target, &detour), "one exists, the other's folder does not");
        // `..` after a link leads out of the link's target, as the OS resolves it.
        #[cfg(unix)]
        {
            std::fs::create_dir_all(root.join("elsewhere/inner")).unwrap();
            std::os::unix::fs::symlink(root.join("elsewhere/inner"), root.join("link")).unwrap();
            assert!(same_path(&root.join("link/../new"), &root.join("elsewhere/new")));
            assert!(!same_path(&root.join("link/../new"), &root.join("new")));
        }
    }
}
