//! The experiment modes the studio offers and their starting settings: `mpc` with the
//! simulator or the learned model, `sac`, and `demorl` (learned model + SAC critic and prior).

use crate::agent::{RunConfig, TrainSettings};
use crate::plan::{PlannerSettings, TerminalChoice, preset};
use crate::scene::Scene;

/// What the control loop runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StudioMode {
    /// The planner on exact forks of the simulator (an oracle model); nothing learns.
    MpcSimulator,
    /// PETS-like: the planner over a learned probabilistic ensemble.
    MpcLearned,
    /// SAC alone.
    Sac,
    /// DeMoRL: the planner over the learned ensemble with SAC's critic as terminal value and its
    /// actor as policy prior; SAC learns from the planner's actions.
    #[default]
    Demorl,
}

impl StudioMode {
    /// The mode named like `train --mode M --model K` (`model` matters for `mpc` only).
    pub fn from_names(mode: &str, model: &str) -> Option<StudioMode> {
        match (mode, model) {
            ("mpc", "simulator") => Some(StudioMode::MpcSimulator),
            ("mpc", "learned") => Some(StudioMode::MpcLearned),
            ("sac", _) => Some(StudioMode::Sac),
            ("demorl", _) => Some(StudioMode::Demorl),
            _ => None,
        }
    }

    /// `train`'s `--mode` name.
    pub fn mode_name(self) -> &'static str {
        match self {
            StudioMode::MpcSimulator | StudioMode::MpcLearned => "mpc",
            StudioMode::Sac => "sac",
            StudioMode::Demorl => "demorl",
        }
    }

    /// `train`'s `--model` name (`none` for SAC).
    pub fn model_name(self) -> &'static str {
        match self {
            StudioMode::MpcSimulator => "simulator",
            StudioMode::MpcLearned | StudioMode::Demorl => "learned",
            StudioMode::Sac => "none",
        }
    }

    /// Whether anything learns (and the learning plots apply).
    pub fn is_learning(self) -> bool {
        self != StudioMode::MpcSimulator
    }

    /// Whether the mode learns a dynamics model.
    pub fn learns_model(self) -> bool {
        matches!(self, StudioMode::MpcLearned | StudioMode::Demorl)
    }

    /// Whether the mode trains SAC.
    pub fn trains_sac(self) -> bool {
        matches!(self, StudioMode::Sac | StudioMode::Demorl)
    }

    /// Whether a planner chooses the actions (and the planner widgets apply).
    pub fn plans(self) -> bool {
        self != StudioMode::Sac
    }

    /// Planner settings a mode starts from: the scene's own for the simulator; for the learned
    /// model the `demorl-h15` preset (the scene's are tuned for an exact model), without the
    /// critic and the actor prior in PETS-like mode.
    pub fn default_planner(self, scene: &Scene) -> PlannerSettings {
        let learned = preset("demorl-h15").expect("built-in preset");
        match self {
            StudioMode::MpcSimulator => scene.planner.clone(),
            StudioMode::MpcLearned => {
                PlannerSettings { terminal_value: TerminalChoice::None, policy_fraction: 0.0, ..learned }
            }
            StudioMode::Sac | StudioMode::Demorl => learned,
        }
    }

    /// The learning schedule the studio starts with: `train`'s defaults (warm-up 250 steps for
    /// the model-based modes, 1000 for SAC) with shorter evaluations and finer log rows, since
    /// the loop pauses while it evaluates.
    pub fn default_train(self) -> TrainSettings {
        TrainSettings {
            warmup_steps: if self == StudioMode::Sac { 1000 } else { 250 },
            eval_every: 1000,
            eval_episodes: 1,
            log_every: 50,
            ..TrainSettings::default()
        }
    }

    /// The run a learning mode performs (what `train --settings` would rerun headless).
    pub fn run_config(
        self,
        scene_path: &std::path::Path,
        planner: &PlannerSettings,
        train: &TrainSettings,
        seed: u64,
        threads: usize,
    ) -> RunConfig {
        RunConfig {
            scene: scene_path.to_path_buf(),
            mode: self.mode_name().to_string(),
            model: self.model_name().to_string(),
            preset: "studio".to_string(),
            seed,
            steps: 0,
            threads,
            train: train.clone(),
            planner: planner.clone(),
        }
    }
}

impl std::fmt::Display for StudioMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StudioMode::MpcSimulator => f.write_str("mpc + simulator"),
            StudioMode::MpcLearned => f.write_str("mpc + learned model"),
            StudioMode::Sac => f.write_str("sac"),
            StudioMode::Demorl => f.write_str("demorl"),
        }
    }
}
