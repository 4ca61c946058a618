//! Scenes: the RON files that describe a robot, its task and default settings, and their checks.

mod error;
mod locate;
mod schema;
mod validate;

use std::path::{Path, PathBuf};

pub use error::{Problem, SceneError};
pub use locate::{Position, locate};
pub use schema::*;

/// Largest scene file accepted, so a wrong path to a huge file fails fast.
const MAX_SCENE_BYTES: u64 = 4 << 20;

/// Reads, parses and validates a scene file.
pub fn load_scene(path: &Path) -> Result<Scene, SceneError> {
    let io_error =
        |message: String| SceneError { file: path.to_path_buf(), line: None, column: None, field: None, message };
    let size = std::fs::metadata(path).map_err(|e| io_error(format!("cannot read the file: {e}")))?.len();
    if size > MAX_SCENE_BYTES {
        return Err(io_error(format!("file is {size} bytes; scenes are at most {MAX_SCENE_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| io_error(format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| io_error(format!("not UTF-8 text: {e}")))?;
    parse_scene(&text, path)
}

/// Parses and validates scene text; `file` only labels errors.
pub fn parse_scene(text: &str, file: &Path) -> Result<Scene, SceneError> {
    let scene: Scene = parse_ron(text, file)?;
    if let Some(problem) = validate::validate(&scene).into_iter().next() {
        return Err(located(text, file, problem.field, problem.message));
    }
    Ok(scene)
}

/// Every problem validation finds in an already parsed scene (empty when valid).
pub fn problems(scene: &Scene) -> Vec<Problem> {
    validate::validate(scene)
}

/// Deserialises any of our RON files (scenes, presets, manifests) with errors that give the file,
/// line, column and, where serde knows it, the field path.
pub fn parse_ron<T: serde::de::DeserializeOwned>(text: &str, file: &Path) -> Result<T, SceneError> {
    let mut deserializer = ron::Deserializer::from_str(text).map_err(|e| spanned(file, e, None))?;
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let field = e.path().to_string();
        let field = (field != ".").then_some(field);
        let inner = e.into_inner();
        spanned(file, deserializer.span_error(inner), field)
    })?;
    deserializer.end().map_err(|e| spanned(file, deserializer.span_error(e), None))?;
    Ok(value)
}

/// An error about the value at `field` of a parsed RON text, placed at that value's line and column.
pub fn located(text: &str, file: &Path, field: String, message: String) -> SceneError {
    let position = locate(text, &field);
    SceneError {
        file: file.to_path_buf(),
        line: position.map(|p| p.line),
        column: position.map(|p| p.column),
        field: Some(field),
        message,
    }
}

fn spanned(file: &Path, error: ron::error::SpannedError, field: Option<String>) -> SceneError {
    SceneError {
        file: PathBuf::from(file),
        line: Some(error.span.start.line),
        column: Some(error.span.start.col),
        field,
        message: error.code.to_string(),
    }
}

/// The `.ron` files in a folder, sorted by name.
pub fn scene_files(folder: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "ron"))
        .collect();
    files.sort();
    Ok(files)
}
