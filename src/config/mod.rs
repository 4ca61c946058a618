//! Settings as plain serde data, each with documented defaults and a check that names every bad
//! field: the planner's knobs and presets, the learning schedule and learners, the run mode and
//! the `settings.ron` of a run. Below `scene` (a scene file holds default settings) and every
//! module that runs them, as burn's nested configs are.

mod error;
pub mod knobs;
pub use knobs::{MAX_HORIZON, MAX_ITERATIONS, MAX_PARTICLES, MAX_SAMPLES};
mod learning;
mod learning_check;
mod nominal;
mod planner;
mod run;

pub use error::SettingsError;
pub use learning::{
    Activation, DEFAULT_STD_FLOOR, EnsembleBackend, EnsembleSettings, FallCaution, ModelDataSettings, PlannerStart,
    SacSettings, TrainSettings,
};
pub use learning_check::{check_train_settings, learning_problems, train_settings_problems};
pub use nominal::{MAX_PERIOD_STEPS, PeriodicNominal};
pub use planner::*;
pub use run::{DEFAULT_LEARNING_STEPS, ModeDefaults, RunConfig, RunMode, read_run_config, write_run_config};
