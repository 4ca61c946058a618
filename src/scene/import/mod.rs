//! `import`: a URDF or MJCF robot into a scene file the rest of the program reads like a
//! hand-written one. Stages: read the file into a [`model::Model`] (source frames, every number as
//! written), build the scene's robot from it ([`build`]), add a task ([`task`]), write RON that
//! passes the scene checks.

mod build;
mod mjcf;
pub mod model;
mod task;
mod urdf;
mod xml;

use std::path::{Path, PathBuf};

pub use build::UrdfDrive;
pub use task::TaskKind;

use super::{Ground, LearningDefaults, Physics, Scene, parse_scene};
use crate::format::FileError;

/// MuJoCo's default physics step, used when a file does not set one (URDF never does).
const DEFAULT_TIMESTEP: f64 = 0.002;

/// What `import` is asked for besides the file.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub task: TaskKind,
    /// Agent actions per second.
    pub control_rate: f32,
    /// The MJCF keyframe to reset to (default: "home", else the first).
    pub keyframe: Option<String>,
    /// Home angles that replace the keyframe's (URDF files have none), radians.
    pub home: Vec<(String, f64)>,
    pub urdf_drive: UrdfDrive,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            task: TaskKind::Stand,
            control_rate: 50.0,
            keyframe: None,
            home: Vec::new(),
            urdf_drive: UrdfDrive::default(),
        }
    }
}

/// An imported scene, its text as written, and what could not be carried over.
pub struct Imported {
    pub scene: Scene,
    pub text: String,
    pub warnings: Vec<String>,
}

/// Imports `file` (`.urdf`, or MJCF `.xml`) for a scene to be written at `out`.
pub fn import(file: &Path, out: &Path, options: &ImportOptions) -> Result<Imported, FileError> {
    let mut model = read_model(file, options)?;
    let out_folder = out.parent().unwrap_or(Path::new("")).to_path_buf();
    let built = build::build(&mut model, &options.urdf_drive, &out_folder)?;
    let base = built.base_height.map(|h| (built.base_link.as_str(), h as f32));
    let (task, planner) = task::task(options.task, &built.robot, base, options.control_rate);
    let timestep = model.timestep.unwrap_or(DEFAULT_TIMESTEP);
    let substeps = ((1.0 / (options.control_rate as f64 * timestep)).round() as u32).max(1);
    let scene = Scene {
        name: model.name.clone(),
        description: format!("{} imported from {}", model.name, file.file_name().unwrap_or_default().to_string_lossy()),
        physics: Physics {
            gravity: [0.0, -9.81, 0.0],
            control_rate: options.control_rate,
            substeps,
            solver_iterations: 8,
            ground: Some(Ground { friction: model.ground_friction.unwrap_or(1.0) as f32 }),
            planar: false,
            planning: None,
        },
        robot: built.robot,
        task,
        planner,
        learning: LearningDefaults::default(),
        assets: Default::default(),
    };
    let warnings = model.warnings.lines();
    let text = write(&scene, file, &warnings, options)?;
    // The written text must pass every check a hand-written scene does (and load its meshes).
    let scene = parse_scene(&text, out).map_err(|e| FileError {
        message: format!("the imported scene does not pass its own checks (an importer bug): {}", e.message),
        ..e
    })?;
    Ok(Imported { scene, text, warnings })
}

fn read_model(file: &Path, options: &ImportOptions) -> Result<model::Model, FileError> {
    let extension = file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let mut model = match extension.as_deref() {
        Some("urdf") => urdf::read(file)?,
        Some("xml" | "mjcf") => mjcf::read(file, options.keyframe.as_deref())?,
        _ => {
            return Err(FileError {
                file: file.to_path_buf(),
                line: None,
                column: None,
                field: None,
                message: "expected a .urdf or an MJCF .xml file".into(),
            });
        }
    };
    if !options.home.is_empty() {
        let home = model.home.get_or_insert_with(Default::default);
        for (joint, angle) in &options.home {
            home.joints.retain(|(name, _)| name != joint);
            home.joints.push((joint.clone(), *angle));
        }
    }
    Ok(model)
}

/// The scene as RON, headed by where it came from and what was not carried over.
fn write(scene: &Scene, file: &Path, warnings: &[String], options: &ImportOptions) -> Result<String, FileError> {
    let config = ron::ser::PrettyConfig::new().struct_names(false).compact_arrays(true).depth_limit(6);
    let body = ron::ser::to_string_pretty(scene, config).map_err(|e| FileError {
        file: file.to_path_buf(),
        line: None,
        column: None,
        field: None,
        message: format!("cannot write the scene: {e}"),
    })?;
    let mut text = format!(
        "// Imported from {} by `demorl-studio import` (task: {:?}, control rate {} Hz).\n\
         // Coordinates are the studio's: Y up, X forward; the file's Z-up frames are turned accordingly.\n",
        display_path(file),
        options.task,
        options.control_rate
    );
    if !warnings.is_empty() {
        text.push_str("// Not carried over:\n");
        for warning in warnings {
            text.push_str(&format!("//   - {warning}\n"));
        }
    }
    text.push_str(&body);
    text.push('\n');
    Ok(text)
}

fn display_path(file: &Path) -> String {
    PathBuf::from(file).to_string_lossy().replace('\\', "/")
}
