//! The experiment without a window: agents that act in an `Env`, episodes, and run records.

mod baseline;
mod config;
mod learned;
mod mpc;
mod record;
mod run;
mod sac;
mod train;

pub use baseline::{Baseline, run_baseline_episode};
pub use config::{LearningChoice, ScheduleOverrides, learning_config};
pub use learned::{ActorPrior, CriticValue, LearnedPlannerAgent};
pub use mpc::{EpisodeSummary, MpcAgent, episode_seed, run_episode, run_policy_episode};
pub use record::{
    RunSummary, mean_std, read_eval_rows_csv, read_run_config, write_eval_csv, write_eval_rows_csv, write_run_config,
    write_summary_json, write_train_csv,
};
pub use run::{RunOutput, run_learning};
pub use sac::SacAgent;
pub use train::{EvalRow, Progress, RunConfig, StepStats, TrainAgent, TrainRow, TrainSettings, Trainer, Transition};
