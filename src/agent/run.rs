//! A learning run from a [`RunConfig`]: builds the agent for the mode, trains, writes
//! `eval.csv`, `train.csv`, `summary.json` and `settings.ron`.

use std::path::Path;

use anyhow::{Context, bail};

use super::learned::LearnedPlannerAgent;
use super::record::{RunSummary, write_eval_rows_csv, write_run_config, write_summary_json, write_train_csv};
use super::sac::SacAgent;
use super::train::{EvalRow, Progress, RunConfig, TrainAgent, Trainer};
use crate::scene::Scene;
use crate::sim::Env;

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub summary: RunSummary,
    pub evals: Vec<EvalRow>,
    pub rows: Vec<super::train::TrainRow>,
}

/// Runs `config` on `scene`; writes the four files into `out` if given.
pub fn run_learning(
    config: &RunConfig,
    scene: &Scene,
    out: Option<&Path>,
    on_progress: impl FnMut(&Progress),
    on_eval: impl FnMut(&EvalRow),
) -> anyhow::Result<RunOutput> {
    config.planner.validate()?;
    let env = Env::new(scene);
    let agent = learning_agent(config, env.obs_dim(), env.action_dim())?;
    let output = drive(config, scene, agent, on_progress, on_eval);
    if let Some(out) = out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        write_eval_rows_csv(&out.join("eval.csv"), &output.evals)?;
        write_train_csv(&out.join("train.csv"), &output.rows)?;
        write_summary_json(&out.join("summary.json"), &output.summary)?;
        write_run_config(&out.join("settings.ron"), config)?;
    }
    Ok(output)
}

/// The learning agent `config` asks for (`sac`; `mpc` or `demorl` with the learned model),
/// shared by `train` and the studio.
pub fn learning_agent(
    config: &RunConfig,
    obs_dim: usize,
    act_dim: usize,
) -> anyhow::Result<Box<dyn TrainAgent + Send>> {
    let train = config.train.clone();
    Ok(match (config.mode.as_str(), config.model.as_str()) {
        ("sac", _) => Box::new(SacAgent::new(obs_dim, act_dim, train, config.seed)),
        ("mpc", "learned") | ("demorl", "learned") => {
            let with_sac = config.mode == "demorl";
            Box::new(LearnedPlannerAgent::new(obs_dim, act_dim, train, config.planner.clone(), with_sac, config.seed)?)
        }
        (mode, model) => bail!("--mode {mode} --model {model} is not available for learning runs"),
    })
}

fn drive<A: TrainAgent>(
    config: &RunConfig,
    scene: &Scene,
    agent: A,
    on_progress: impl FnMut(&Progress),
    on_eval: impl FnMut(&EvalRow),
) -> RunOutput {
    let mut trainer = Trainer::new(scene, agent, config.train.clone(), config.seed);
    trainer.run(config.steps, on_progress, on_eval);
    let wall = trainer.elapsed_seconds();
    let last = trainer.evals.last().cloned();
    let summary = RunSummary {
        scene: scene.name.clone(),
        mode: config.mode.clone(),
        model: config.model.clone(),
        preset: config.preset.clone(),
        seed: config.seed,
        env_steps: trainer.env_steps,
        episodes: config.train.eval_episodes,
        eval_return_mean: last.as_ref().map_or(f64::NAN, |r| r.eval_return_mean),
        eval_return_std: last.as_ref().map_or(f64::NAN, |r| r.eval_return_std),
        eval_returns: trainer.evals.iter().map(|r| r.eval_return_mean).collect(),
        mean_plan_ms: trainer.agent.plan_ms(),
        train_episodes: trainer.episode_returns.len(),
        wall_seconds: wall,
        steps_per_second: trainer.env_steps as f64 / wall.max(1e-9),
    };
    RunOutput { summary, evals: trainer.evals, rows: trainer.rows }
}
