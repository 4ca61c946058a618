//! A learning run from a [`RunConfig`]: builds the agent for the mode, trains, writes
//! `eval.csv`, `train.csv`, `train_episodes.csv`, `summary.json` and `settings.ron`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::checkpoint::{read_checkpoint, restore_checkpoint, save_checkpoint, save_final_checkpoint};
use super::learned::LearnedPlannerAgent;
use super::record::{RunSummary, write_learning_records, write_summary_json};
use super::sac::SacAgent;
use super::train::{TrainAgent, Trainer};
use super::train_data::{EvalRow, Progress, TrainEpisode, TrainRow};
use crate::config::{RunConfig, RunMode, check_train_settings, write_run_config};
use crate::format::same_path;
use crate::scene::Scene;
use crate::sim::Env;

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub summary: RunSummary,
    pub evals: Vec<EvalRow>,
    pub rows: Vec<TrainRow>,
    /// Every training episode: when it ended, its return and length, and why it ended.
    pub episodes: Vec<TrainEpisode>,
    /// Env steps of the last checkpoint this run wrote (checkpoints are taken at episode starts
    /// only, so a run that ends mid-episode leaves its last periodic one), if it wrote any.
    pub saved_at: Option<u64>,
    /// Whether the agent the run ended with was saved mid-episode (`Some(true)`: for evaluation
    /// only) or at an episode start (`Some(false)`), when `save_final` asked for it.
    pub final_mid_episode: Option<bool>,
}

/// Checkpointing of a learning run.
#[derive(Clone, Debug, Default)]
pub struct CheckpointOptions {
    /// Take a checkpoint at the first episode start on or after every this many env steps, and
    /// at the end of the run if it ends at an episode start.
    pub save_every: Option<u64>,
    /// The checkpoint folder (each new checkpoint replaces the previous one once complete).
    pub save_to: Option<PathBuf>,
    /// Continue from this checkpoint; `config.steps` is the total, counting the steps it holds.
    pub resume: Option<PathBuf>,
    /// Also save the agent the run ends with into this folder, mid-episode or not (see
    /// [`save_final_checkpoint`]); never the `save_to` folder, whose resumable checkpoint it
    /// would replace.
    pub save_final: Option<PathBuf>,
}

/// Runs `config` on `scene`; writes the five files into `out` if given.
pub fn run_learning(
    config: &RunConfig,
    scene: &Scene,
    out: Option<&Path>,
    on_progress: impl FnMut(&Progress),
    on_eval: impl FnMut(&EvalRow),
) -> anyhow::Result<RunOutput> {
    run_learning_with(config, scene, out, &CheckpointOptions::default(), on_progress, on_eval)
}

/// [`run_learning`] with checkpoints: saving on a schedule and resuming from one.
pub fn run_learning_with(
    config: &RunConfig,
    scene: &Scene,
    out: Option<&Path>,
    checkpoints: &CheckpointOptions,
    on_progress: impl FnMut(&Progress),
    on_eval: impl FnMut(&EvalRow),
) -> anyhow::Result<RunOutput> {
    config.planner.validate()?;
    let env = Env::new(scene);
    let agent = learning_agent(config, &env)?;
    let output = drive(config, scene, agent, checkpoints, on_progress, on_eval)?;
    if let Some(out) = out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        write_learning_records(out, &output.evals, &output.rows, &output.episodes)?;
        write_summary_json(&out.join("summary.json"), &output.summary)?;
        write_run_config(&out.join("settings.ron"), config)?;
    }
    Ok(output)
}

/// The learning agent `config` asks for (`sac`; `mpc` or `demorl` with the learned model) on
/// `env`'s observation and actions, shared by `train` and the studio.
pub fn learning_agent(config: &RunConfig, env: &Env) -> anyhow::Result<Box<dyn TrainAgent + Send>> {
    check_train_settings(&config.train)?;
    super::train::world_choices(&env.robot().scene, &config.train)?;
    let residual = super::train::residual_gait(&env.robot().scene, &config.train)?.is_some();
    let train = config.train.clone();
    let mut planner = config.planner.clone();
    if residual {
        // The envs add the gait; the planner plans the residual around zero.
        planner.nominal = None;
    }
    Ok(match config.mode {
        RunMode::Sac => Box::new(SacAgent::new(env.obs_dim(), env.action_dim(), train, config.seed)),
        RunMode::MpcLearned | RunMode::Demorl => {
            let with_sac = config.mode.plans_with_actor();
            let mut agent = LearnedPlannerAgent::for_env(env, train, planner, with_sac, config.seed)?;
            agent.set_rollout_threads(config.threads)?;
            Box::new(agent)
        }
        RunMode::MpcSimulator => bail!("{} learns nothing: it is not a learning run", config.mode),
    })
}

fn drive<A: TrainAgent>(
    config: &RunConfig,
    scene: &Scene,
    agent: A,
    checkpoints: &CheckpointOptions,
    on_progress: impl FnMut(&Progress),
    on_eval: impl FnMut(&EvalRow),
) -> anyhow::Result<RunOutput> {
    let mut trainer = Trainer::new(scene, agent, config.train.clone(), config.seed)?;
    if let Some(dir) = &checkpoints.resume {
        let manifest = read_checkpoint(dir)?;
        restore_checkpoint(dir, &manifest, &mut trainer)?;
    }
    // A resumed run's speed counts only the steps taken in this process's wall time.
    let resumed_at = trainer.state.env_steps;
    let remaining = config.steps.saturating_sub(resumed_at);
    let schedule = match (checkpoints.save_every, &checkpoints.save_to) {
        (Some(0), _) => bail!("--save-every must be at least 1"),
        (Some(every), Some(dir)) => Some((every, dir)),
        (Some(_), None) => bail!("--save-every needs a checkpoint folder"),
        (None, _) => None,
    };
    if let (Some(last), Some((_, periodic))) = (&checkpoints.save_final, schedule)
        && same_path(last, periodic)
    {
        bail!("--save-final {}: the --save-every checkpoints go there; name another folder", last.display());
    }
    let mut next_save = schedule.map_or(u64::MAX, |(every, _)| (trainer.state.env_steps / every + 1) * every);
    let mut last_saved = None;
    trainer.run_with(remaining, on_progress, on_eval, |t| {
        if let Some((every, dir)) = schedule
            && t.state.env_steps >= next_save
            && t.at_episode_start()
        {
            save_checkpoint(dir, config, t)?;
            next_save = (t.state.env_steps / every + 1) * every;
            last_saved = Some(t.state.env_steps);
        }
        Ok(())
    })?;
    if let Some((_, dir)) = schedule
        && trainer.at_episode_start()
        && last_saved != Some(trainer.state.env_steps)
    {
        save_checkpoint(dir, config, &trainer)?;
        last_saved = Some(trainer.state.env_steps);
    }
    let wall = trainer.elapsed_seconds();
    let last = trainer.state.evals.last().cloned();
    let summary = RunSummary {
        scene: scene.name.clone(),
        mode: config.mode.mode_name().to_string(),
        model: config.mode.model_name().to_string(),
        preset: config.preset.clone(),
        seed: config.seed,
        env_steps: trainer.state.env_steps,
        episodes: config.train.eval_episodes,
        eval_return_mean: last.as_ref().map_or(f64::NAN, |r| r.eval_return_mean),
        eval_return_std: last.as_ref().map_or(f64::NAN, |r| r.eval_return_std),
        eval_returns: trainer.state.evals.iter().map(|r| r.eval_return_mean).collect(),
        mean_plan_ms: trainer.agent.plan_ms(),
        train_episodes: trainer.state.episodes.len(),
        wall_seconds: wall,
        steps_per_second: (trainer.state.env_steps - resumed_at) as f64 / wall.max(1e-9),
    };
    // After the wall clock is read: saving is not part of the run's speed.
    let final_mid_episode =
        checkpoints.save_final.as_ref().map(|dir| save_final_checkpoint(dir, config, &trainer)).transpose()?;
    let state = trainer.state;
    Ok(RunOutput {
        summary,
        evals: state.evals,
        rows: state.rows,
        episodes: state.episodes,
        saved_at: last_saved,
        final_mid_episode,
    })
}
