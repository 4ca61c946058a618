//! Scenes: the RON files that describe a robot, its task and default settings, and their checks.

mod assets;
pub mod import;
mod schema;
mod validate;
mod world;

use std::path::{Path, PathBuf};

pub use assets::SceneAssets;

pub use crate::format::{FileError, Problem};
use crate::format::{located, parse_ron};
pub use schema::*;
pub use world::{
    MAX_LATENCY_STEPS, MAX_PUSH_FORCE, PeriodicPush, Randomization, ScriptedPush, WorldShift, push_problems,
    randomization_problems, world_problems,
};

/// Largest scene file accepted, so a wrong path to a huge file fails fast.
const MAX_SCENE_BYTES: u64 = 4 << 20;

/// Reads, parses and validates a scene file.
pub fn load_scene(path: &Path) -> Result<Scene, FileError> {
    let io_error =
        |message: String| FileError { file: path.to_path_buf(), line: None, column: None, field: None, message };
    let size = std::fs::metadata(path).map_err(|e| io_error(format!("cannot read the file: {e}")))?.len();
    if size > MAX_SCENE_BYTES {
        return Err(io_error(format!("file is {size} bytes; scenes are at most {MAX_SCENE_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| io_error(format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| io_error(format!("not UTF-8 text: {e}")))?;
    parse_scene(&text, path)
}

/// Parses and validates scene text; `file` labels errors, and its folder is where mesh files
/// named in the scene are found.
pub fn parse_scene(text: &str, file: &Path) -> Result<Scene, FileError> {
    let mut scene: Scene = parse_ron(text, file)?;
    if let Some(problem) = validate::validate(&scene).into_iter().next() {
        return Err(located(text, file, problem.field, problem.message));
    }
    let folder = file.parent().unwrap_or(Path::new("")).to_path_buf();
    scene.assets = SceneAssets::load(&scene, folder).map_err(|p| located(text, file, p.field, p.message))?;
    Ok(scene)
}

/// Every problem validation finds in an already parsed scene (empty when valid).
pub fn problems(scene: &Scene) -> Vec<Problem> {
    validate::validate(scene)
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
