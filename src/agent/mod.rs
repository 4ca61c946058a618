//! The experiment without a window: agents that act in an `Env`, episodes, and run records.

mod baseline;
mod caution;
mod checkpoint;
mod config;
mod evaluate;
mod health;
mod learned;
mod model_data;
mod mpc;
mod record;
mod run;
mod sac;
mod train;
mod train_data;
mod workers;

pub use baseline::{Baseline, run_baseline_episode};
pub use checkpoint::{
    CHECKPOINT_FORMAT_VERSION, FileEntry, Manifest, SaveEntry, list_checkpoints, read_checkpoint, restore_checkpoint,
    restore_to_evaluate, save_checkpoint, save_final_checkpoint,
};
pub use config::{ScheduleOverrides, learning_config};
pub use evaluate::{
    NOMINAL_WORLD, WorldEval, WorldSummary, ensure_plans, evaluate_checkpoint, summarize_runs, write_world_evals_csv,
    write_world_summary_csv,
};
pub use health::divergence;
pub use learned::{ActorPrior, CriticValue, LearnedPlannerAgent};
pub use model_data::ModelData;
pub use mpc::{EpisodeSummary, MpcAgent, episode_seed, run_episode, run_mpc_episodes, run_policy_episode};
pub use record::{
    RunSummary, TRAIN_EPISODES_HEADER, mean_std, read_eval_rows_csv, read_train_episodes_csv, write_episodes_csv,
    write_eval_rows_csv, write_learning_records, write_summary_json, write_train_csv,
};
pub use run::{CheckpointOptions, RunOutput, learning_agent, run_learning, run_learning_with};
pub use sac::SacAgent;
pub use train::{TrainAgent, Trainer, named_world, residual_gait, world_choices};
pub use train_data::{
    EvalRow, ModelFit, Progress, StepStats, TrainEpisode, TrainRow, TrainStep, TrainerState, Transition,
    evaluation_fell,
};
pub use workers::on_workers;
