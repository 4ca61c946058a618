//! What a run is: its [`RunMode`], the per-mode defaults ([`ModeDefaults`]) and the
//! [`RunConfig`] a `settings.ron` records, read and written with file, line and field in errors.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::learning::TrainSettings;
use super::learning_check::check_train_settings;
use super::planner::{PlannerSettings, TerminalChoice, preset};

/// What the control loop runs. Written to files as `train`'s `--mode` and `--model` names
/// (`mode: "mpc", model: "simulator"`), so settings files and saves from before the type load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RunMode {
    /// SAC alone.
    Sac,
    /// The planner on exact forks of the simulator (an oracle model); nothing learns.
    MpcSimulator,
    /// PETS-like: the planner over a learned probabilistic ensemble, no critic, no prior.
    MpcLearned,
    /// DeMoRL: the planner over the learned ensemble with SAC's critic as terminal value and its
    /// actor as policy prior; SAC learns from the planner's actions.
    #[default]
    Demorl,
}

impl RunMode {
    /// Every mode, in the studio's picker order.
    pub const ALL: [RunMode; 4] = [RunMode::MpcSimulator, RunMode::MpcLearned, RunMode::Sac, RunMode::Demorl];
    /// The modes that learn (what `compare` grids and learning runs accept).
    pub const LEARNING: [RunMode; 3] = [RunMode::Sac, RunMode::MpcLearned, RunMode::Demorl];

    /// The mode named like `train --mode M --model K` (`model` matters for `mpc` only).
    pub fn from_names(mode: &str, model: &str) -> Option<RunMode> {
        match (mode, model) {
            ("mpc", "simulator") => Some(RunMode::MpcSimulator),
            ("mpc", "learned") => Some(RunMode::MpcLearned),
            ("sac", _) => Some(RunMode::Sac),
            ("demorl", _) => Some(RunMode::Demorl),
            _ => None,
        }
    }

    /// A learning mode by its `compare --modes` name: `sac`, `mpc` (learned model) or `demorl`.
    pub fn learning_from_name(name: &str) -> Option<RunMode> {
        RunMode::from_names(name, "learned")
    }

    /// `train`'s `--mode` name.
    pub fn mode_name(self) -> &'static str {
        match self {
            RunMode::MpcSimulator | RunMode::MpcLearned => "mpc",
            RunMode::Sac => "sac",
            RunMode::Demorl => "demorl",
        }
    }

    /// `train`'s `--model` name (`none` for SAC).
    pub fn model_name(self) -> &'static str {
        match self {
            RunMode::MpcSimulator => "simulator",
            RunMode::MpcLearned | RunMode::Demorl => "learned",
            RunMode::Sac => "none",
        }
    }

    /// Whether anything learns (a `Trainer` runs it, and the learning plots apply).
    pub fn is_learning(self) -> bool {
        self != RunMode::MpcSimulator
    }

    /// Whether the mode learns a dynamics model.
    pub fn learns_model(self) -> bool {
        matches!(self, RunMode::MpcLearned | RunMode::Demorl)
    }

    /// Whether the mode trains SAC.
    pub fn trains_sac(self) -> bool {
        matches!(self, RunMode::Sac | RunMode::Demorl)
    }

    /// Whether the planner plans with SAC's parts — its actor as policy prior, its critic as
    /// terminal value (DeMoRL: the one mode that both plans over a learned model and trains SAC).
    pub fn plans_with_actor(self) -> bool {
        self.learns_model() && self.trains_sac()
    }

    /// Whether a planner chooses the actions (and the planner widgets apply).
    pub fn plans(self) -> bool {
        self != RunMode::Sac
    }

    /// The defaults of this mode on a scene that records none of its own: the scene's planner
    /// for the simulator model (and for SAC, which never plans); for the learned model the
    /// `demorl-h15` preset (the scene's settings are tuned for an exact model), without critic
    /// and actor prior in PETS-like mode; 250 random warm-up steps for the model-based modes
    /// (PETS, LOOP), 1000 for SAC.
    pub fn generic_defaults(self, scene_planner: &PlannerSettings) -> ModeDefaults {
        let learned = preset("demorl-h15").expect("built-in preset");
        let planner = match self {
            RunMode::MpcSimulator | RunMode::Sac => scene_planner.clone(),
            RunMode::MpcLearned => {
                PlannerSettings { terminal_value: TerminalChoice::None, policy_fraction: 0.0, ..learned }
            }
            RunMode::Demorl => learned,
        };
        let warmup_steps = if self == RunMode::Sac { 1000 } else { 250 };
        ModeDefaults {
            steps: DEFAULT_LEARNING_STEPS,
            train: TrainSettings { warmup_steps, ..TrainSettings::default() },
            planner,
        }
    }
}

impl std::fmt::Display for RunMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunMode::MpcSimulator => f.write_str("mpc + simulator"),
            RunMode::MpcLearned => f.write_str("mpc + learned model"),
            RunMode::Sac => f.write_str("sac"),
            RunMode::Demorl => f.write_str("demorl"),
        }
    }
}

/// Env steps of a learning run when neither the scene, a flag nor a recorded run says.
pub const DEFAULT_LEARNING_STEPS: u64 = 10_000;

/// What a mode runs when nothing else is said: its length, learning settings and planner
/// (a scene's `learning:` section records them per mode; see `Scene::defaults`).
#[derive(Clone, Debug, PartialEq)]
pub struct ModeDefaults {
    /// Env steps of a learning run.
    pub steps: u64,
    pub train: TrainSettings,
    pub planner: PlannerSettings,
}

/// Everything needed to rerun a `train` command (`settings.ron`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "RunConfigFile", try_from = "RunConfigFile")]
pub struct RunConfig {
    pub scene: PathBuf,
    pub mode: RunMode,
    /// Where the planner settings came from: a preset name, `scene-default` or `studio`.
    pub preset: String,
    pub seed: u64,
    /// Env steps of the run.
    pub steps: u64,
    /// Rollout threads (simulator model).
    pub threads: usize,
    pub train: TrainSettings,
    pub planner: PlannerSettings,
}

/// The on-disk layout of [`RunConfig`]: the mode as the two names `train` takes.
#[derive(Serialize, Deserialize)]
struct RunConfigFile {
    scene: PathBuf,
    mode: String,
    model: String,
    preset: String,
    seed: u64,
    steps: u64,
    threads: usize,
    train: TrainSettings,
    planner: PlannerSettings,
}

impl From<RunConfig> for RunConfigFile {
    fn from(c: RunConfig) -> Self {
        RunConfigFile {
            scene: c.scene,
            mode: c.mode.mode_name().to_string(),
            model: c.mode.model_name().to_string(),
            preset: c.preset,
            seed: c.seed,
            steps: c.steps,
            threads: c.threads,
            train: c.train,
            planner: c.planner,
        }
    }
}

impl TryFrom<RunConfigFile> for RunConfig {
    type Error = String;

    fn try_from(f: RunConfigFile) -> Result<Self, String> {
        let mode = RunMode::from_names(&f.mode, &f.model).ok_or_else(|| {
            format!(
                "mode `{}` with model `{}` is not a run: modes are sac, demorl, or mpc with model learned or simulator",
                f.mode, f.model
            )
        })?;
        Ok(RunConfig {
            scene: f.scene,
            mode,
            preset: f.preset,
            seed: f.seed,
            steps: f.steps,
            threads: f.threads,
            train: f.train,
            planner: f.planner,
        })
    }
}

/// Writes `config` as a `settings.ron`.
pub fn write_run_config(path: &Path, config: &RunConfig) -> anyhow::Result<()> {
    let text = ron::ser::to_string_pretty(config, ron::ser::PrettyConfig::default())?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

/// Reads and checks a `settings.ron` written by [`write_run_config`]; errors name the file,
/// line, column and field.
pub fn read_run_config(path: &Path) -> anyhow::Result<RunConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config: RunConfig = crate::format::parse_ron(&text, path)?;
    check_train_settings(&config.train).with_context(|| format!("in {}", path.display()))?;
    if let Some(error) = config.planner.errors().into_iter().next() {
        anyhow::bail!("{}: {error}", path.display());
    }
    Ok(config)
}
