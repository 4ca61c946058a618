//! The experiment without a window: agents that act in an `Env`, episodes, and run records.

mod baseline;
mod checkpoint;
mod config;
mod health;
mod learned;
mod model_data;
mod mpc;
mod record;
mod run;
mod sac;
mod settings_check;
mod train;

pub use baseline::{Baseline, run_baseline_episode};
pub use checkpoint::{
    CHECKPOINT_FORMAT_VERSION, FileEntry, Manifest, SaveEntry, list_checkpoints, read_checkpoint, restore_checkpoint,
    save_checkpoint,
};
pub use config::{LearningChoice, ScheduleOverrides, learning_config};
pub use health::divergence;
pub use learned::{ActorPrior, CriticValue, LearnedPlannerAgent};
pub use model_data::{ModelData, ModelDataSettings};
pub use mpc::{EpisodeSummary, MpcAgent, episode_seed, run_episode, run_policy_episode};
pub use record::{
    RunSummary, mean_std, read_eval_rows_csv, read_run_config, write_eval_csv, write_eval_rows_csv, write_run_config,
    write_summary_json, write_train_csv,
};
pub use run::{CheckpointOptions, RunOutput, learning_agent, run_learning, run_learning_with};
pub use sac::SacAgent;
pub use settings_check::{check_train_settings, train_settings_problems};
pub use train::{
    EvalRow, ModelFit, Progress, RunConfig, StepStats, TrainAgent, TrainRow, TrainSettings, TrainStep, Trainer,
    TrainerState, Transition,
};
