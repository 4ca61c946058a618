//! The experiment without a window: agents that act in an `Env`, episodes, and run records.

mod baseline;
mod mpc;
mod record;

pub use baseline::{Baseline, run_baseline_episode};
pub use mpc::{EpisodeSummary, MpcAgent, episode_seed, run_episode};
pub use record::{RunSummary, mean_std as mean_std_of, write_eval_csv, write_summary_json};
