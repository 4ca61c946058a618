//! User presets: named planner settings saved as RON files in a folder (`saves/presets/` by default).
//!
//! Built-in presets stay read-only: their names cannot be saved over. Files are written to a
//! temporary name and renamed into place, so an interrupted save never leaves a half-written
//! preset, and an existing preset is only replaced when the caller says so.

use std::path::{Path, PathBuf};

use crate::config::{PRESET_NAMES, PlannerSettings, SettingsError, preset};
use crate::format::{FileError, located, parse_ron};

/// Where the studio keeps user presets unless told otherwise.
pub const DEFAULT_PRESET_DIR: &str = "saves/presets";
/// Longest preset name accepted (it becomes a file name).
const MAX_NAME_CHARS: usize = 64;
/// Largest preset file read, so a wrong file fails fast.
const MAX_PRESET_BYTES: u64 = 1 << 20;

/// Why a preset could not be listed, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The name is empty, too long, uses characters unsafe in a file name, or is a built-in's.
    #[error("preset name `{name}`: {reason}")]
    BadName { name: String, reason: String },
    /// A preset of that name exists and overwriting was not asked for.
    #[error("preset `{name}` already exists at {}; choose another name or overwrite it", path.display())]
    Exists { name: String, path: PathBuf },
    /// No built-in or saved preset has this name.
    #[error("no preset named `{name}` (built-in: {builtin}; saved in {})", dir.display())]
    Unknown { name: String, builtin: String, dir: PathBuf },
    /// The settings to save are invalid (they are never written).
    #[error("not saved: {0}")]
    Invalid(SettingsError),
    /// The file exists but is not a valid preset: where and why.
    #[error("{0}")]
    File(FileError),
    /// The file system refused.
    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
}

/// A folder of user presets.
#[derive(Clone, Debug)]
pub struct PresetStore {
    dir: PathBuf,
}

impl PresetStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Names of the saved presets, sorted; an absent folder holds none.
    pub fn list(&self) -> Result<Vec<String>, PresetError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(PresetError::Io { action: "cannot list", path: self.dir.clone(), source }),
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "ron"))
            .filter_map(|path| path.file_stem().and_then(|s| s.to_str()).map(str::to_string))
            .filter(|name| check_name(name).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The file a saved preset of this name lives in.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.ron"))
    }

    /// Saves validated settings under `name`; replaces an existing preset only if `overwrite`.
    pub fn save(&self, name: &str, settings: &PlannerSettings, overwrite: bool) -> Result<PathBuf, PresetError> {
        check_name(name)?;
        settings.validate().map_err(PresetError::Invalid)?;
        let path = self.path_of(name);
        if path.exists() && !overwrite {
            return Err(PresetError::Exists { name: name.to_string(), path });
        }
        std::fs::create_dir_all(&self.dir).map_err(|source| PresetError::Io {
            action: "cannot create",
            path: self.dir.clone(),
            source,
        })?;
        let temporary = self.dir.join(format!(".{name}.ron.tmp"));
        let text = format!("// DeMoRL Studio planner preset `{name}`\n{}\n", settings.to_ron());
        std::fs::write(&temporary, text).map_err(|source| PresetError::Io {
            action: "cannot write",
            path: temporary.clone(),
            source,
        })?;
        std::fs::rename(&temporary, &path).map_err(|source| PresetError::Io {
            action: "cannot move into place",
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// A built-in preset, or else the saved preset of that name.
    pub fn load(&self, name: &str) -> Result<PlannerSettings, PresetError> {
        if let Some(settings) = preset(name) {
            return Ok(settings);
        }
        let path = self.path_of(name);
        if check_name(name).is_err() || !path.is_file() {
            return Err(PresetError::Unknown {
                name: name.to_string(),
                builtin: PRESET_NAMES.join(", "),
                dir: self.dir.clone(),
            });
        }
        load_preset_file(&path)
    }
}

/// The planner settings a `--preset` argument names: a preset file by its path (`….ron`), else a
/// built-in preset, else a preset saved in `dir` (the studio saves to [`DEFAULT_PRESET_DIR`]), so
/// settings tuned live in the studio run headless under the same name.
pub fn resolve_preset(name: &str, dir: &Path) -> Result<PlannerSettings, PresetError> {
    if name.ends_with(".ron") {
        return load_preset_file(Path::new(name));
    }
    PresetStore::new(dir).load(name)
}

/// What a `--preset NAME` argument names, with saved presets looked up in [`DEFAULT_PRESET_DIR`]
/// (relative to the working folder, where the studio saves them).
pub fn preset_argument(name: &str) -> Result<PlannerSettings, PresetError> {
    resolve_preset(name, Path::new(DEFAULT_PRESET_DIR))
}

/// Reads a preset file: RON planner settings (missing fields take their defaults), validated.
/// Errors name the file, line, column and field.
pub fn load_preset_file(path: &Path) -> Result<PlannerSettings, PresetError> {
    let io = |source| PresetError::Io { action: "cannot read", path: path.to_path_buf(), source };
    let size = std::fs::metadata(path).map_err(io)?.len();
    let file_error = |message: String| {
        PresetError::File(FileError { file: path.to_path_buf(), line: None, column: None, field: None, message })
    };
    if size > MAX_PRESET_BYTES {
        return Err(file_error(format!("file is {size} bytes; presets are at most {MAX_PRESET_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes).map_err(|e| file_error(format!("not UTF-8 text: {e}")))?;
    parse_preset(&text, path)
}

/// Parses and validates preset text; `file` only labels errors.
pub fn parse_preset(text: &str, file: &Path) -> Result<PlannerSettings, PresetError> {
    let settings: PlannerSettings = parse_ron(text, file).map_err(PresetError::File)?;
    match settings.validate() {
        Ok(()) => Ok(settings),
        Err(SettingsError::OutOfRange { field, value, range }) => {
            // Validation names fields as they sit in a scene (`planner.horizon`); a preset file
            // holds the settings at its top level.
            let field = field.strip_prefix("planner.").unwrap_or(field).to_string();
            Err(PresetError::File(located(text, file, field, format!("{value}: must be {range}"))))
        }
        Err(other) => Err(PresetError::Invalid(other)),
    }
}

/// A name is a safe, short file stem that no built-in preset uses.
fn check_name(name: &str) -> Result<(), PresetError> {
    let bad = |reason: &str| Err(PresetError::BadName { name: name.to_string(), reason: reason.to_string() });
    if name.is_empty() {
        return bad("is empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return bad(&format!("is longer than {MAX_NAME_CHARS} characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || name.starts_with('-') {
        return bad("may only use letters, digits, `-` and `_` (and not start with `-`)");
    }
    if PRESET_NAMES.contains(&name) {
        return bad("is a built-in preset, which is read-only");
    }
    Ok(())
}
