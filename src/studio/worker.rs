//! The control loop on its own thread: choose an action (plan), step its own env, learn on the
//! schedule, report — as fast as the step credits granted by the studio allow. The render
//! thread never waits for a plan or a gradient step, and the experiment's speed does not depend
//! on the frame rate.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::agent::{
    EvalRow, MpcAgent, RunConfig, StepStats, TrainAgent, TrainRow, Trainer, learning_agent, save_checkpoint,
};
use crate::plan::{ActionMode, ObservationKinematics, PlanTrace, PlannerSettings};
use crate::scene::Scene;
use crate::sim::Env;

/// A learning run driven step by step (the same `Trainer` that `train` runs headless).
pub type LearningRun = Trainer<Box<dyn TrainAgent + Send>>;

/// The learning run `config` asks for on `scene`, with learned-model plans drawable where the
/// scene's observation fixes its drawn points (only the studio draws, so headless runs skip it).
pub fn learning_run(scene: &Scene, config: &RunConfig) -> anyhow::Result<LearningRun> {
    let env = Env::new(scene);
    let mut agent = learning_agent(config, &env)?;
    if let Some(drawing) = ObservationKinematics::new(env.robot().clone()) {
        agent.set_drawing(Arc::new(drawing));
    }
    Ok(Trainer::new(scene, agent, config.train.clone(), config.seed))
}

/// What the loop runs.
pub enum Driver {
    /// The planner with the forked-simulator model on the loop's own env.
    Mpc { agent: Box<MpcAgent>, env: Box<Env> },
    /// A learning mode (sac, learned-model mpc, demorl): the trainer owns its envs.
    Learning(Box<LearningRun>),
}

/// What the studio tells the loop.
pub enum Command {
    /// Permission to take this many more control steps.
    Grant(u32),
    /// Settings for the next plan on.
    Settings(PlannerSettings),
    /// Start a new episode from `seed`; later records carry `generation` (MPC only: a learning
    /// run starts its episodes itself).
    Reset { seed: u64, generation: u64 },
    /// Write a checkpoint of the learning run to `dir` at the next episode start (now, if the
    /// run is at one); the outcome comes back as `Report::Saved`.
    Save { dir: PathBuf, config: Box<RunConfig> },
}

/// What learning did in one step.
pub struct LearnRecord {
    /// Env steps of the run after this step.
    pub env_steps: u64,
    pub stats: StepStats,
    /// Wall milliseconds of this step's SAC updates and model refit.
    pub learn_ms: f64,
    /// A `train.csv` row completed by this step.
    pub row: Option<TrainRow>,
    /// An evaluation runs right after this step; its row is the next report.
    pub eval_follows: bool,
    /// Set when learning stopped on NaN or infinity at this step; the loop then takes no more
    /// steps until the studio builds a new run.
    pub divergence: Option<String>,
}

/// One control step taken by the loop. The studio replays `action` on its own copy of the env,
/// which stays bit-identical to the loop's (same start, same actions).
pub struct StepRecord {
    pub generation: u64,
    pub action: Vec<f32>,
    /// The plan that chose the action (none for SAC and for random warm-up actions).
    pub trace: Option<PlanTrace>,
    /// Wall milliseconds choosing the action.
    pub plan_ms: f64,
    /// Set when the latest settings were refused (the old ones stay in force).
    pub settings_error: Option<String>,
    /// Learning modes only.
    pub learning: Option<LearnRecord>,
}

/// A report from the loop, in the order things happened.
pub enum Report {
    Step(Box<StepRecord>),
    /// A finished evaluation (learning modes).
    Eval(EvalRow),
    /// A requested checkpoint was written (its folder and env step) or why not.
    Saved(Result<(PathBuf, u64), String>),
}

/// Owns the loop's thread; dropping it closes the channel and the thread ends at its next
/// check (without waiting for a long evaluation or refit, so switching modes never stalls a frame).
pub struct ControlLoop {
    commands: Option<Sender<Command>>,
    /// A mutex only so the loop can live in a Bevy resource (which must be `Sync`).
    reports: Mutex<Receiver<Report>>,
}

impl Driver {
    fn set_settings(&mut self, settings: PlannerSettings) -> Option<String> {
        let result = match self {
            Driver::Mpc { agent, .. } => agent.set_settings(settings),
            Driver::Learning(run) => run.agent.set_planner_settings(settings),
        };
        result.err().map(|e| e.to_string())
    }

    /// Writes the checkpoint if the learning run is at an episode start; `None` while it is not
    /// (the save stays pending).
    fn save_if_at_episode_start(
        &self,
        dir: &std::path::Path,
        config: &RunConfig,
    ) -> Option<Result<(PathBuf, u64), String>> {
        let Driver::Learning(run) = self else {
            return Some(Err("only learning runs have checkpoints".into()));
        };
        if let Some(why) = run.diverged() {
            return Some(Err(format!("not saved: learning stopped ({why})")));
        }
        run.at_episode_start().then(|| {
            save_checkpoint(dir, config, &**run)
                .map(|()| (dir.to_path_buf(), run.env_steps))
                .map_err(|e| format!("{e:#}"))
        })
    }

    /// One control step; the bool says whether the loop must wait: an MPC episode ended (until a
    /// Reset) or learning stopped on a non-finite value (for good).
    fn step(&mut self, generation: u64, settings_error: Option<String>) -> (StepRecord, bool) {
        match self {
            Driver::Mpc { agent, env } => {
                let started = Instant::now();
                let output = agent.plan(env, ActionMode::Evaluation);
                let plan_ms = started.elapsed().as_secs_f64() * 1e3;
                let over = env.step(&output.action).done();
                let record = StepRecord {
                    generation,
                    action: output.action,
                    trace: Some(output.trace),
                    plan_ms,
                    settings_error,
                    learning: None,
                };
                (record, over)
            }
            Driver::Learning(run) => {
                let step = run.step();
                let stopped = step.divergence.is_some();
                // Only a step whose action came from a plan has a trace worth drawing.
                let trace = step.stats.plan.and_then(|_| run.agent.last_plan()).map(|p| p.trace.clone());
                let learning = LearnRecord {
                    env_steps: run.env_steps,
                    stats: step.stats,
                    learn_ms: step.learn_ms,
                    row: step.row,
                    eval_follows: !stopped && run.eval_due(),
                    divergence: step.divergence,
                };
                let record = StepRecord {
                    generation,
                    action: step.action,
                    trace,
                    plan_ms: step.act_ms,
                    settings_error,
                    learning: Some(learning),
                };
                (record, stopped)
            }
        }
    }

    /// Runs the evaluation the schedule asks for now, if any.
    fn evaluate_if_due(&mut self) -> Option<EvalRow> {
        match self {
            Driver::Learning(run) if run.eval_due() && run.diverged().is_none() => Some(run.evaluate()),
            _ => None,
        }
    }
}

impl ControlLoop {
    /// Starts the loop (an MPC driver's env is already reset for generation 0).
    pub fn spawn(mut driver: Driver) -> ControlLoop {
        let (command_tx, command_rx) = channel::<Command>();
        let (report_tx, report_rx) = channel();
        std::thread::Builder::new()
            .name("control-loop".into())
            .spawn(move || {
                let mut credits = 0u32;
                let mut generation = 0u64;
                let mut settings_error = None;
                // After an MPC episode ends the loop waits for a Reset before planning again;
                // after a divergence it waits for good (a Reset does not apply to learning runs).
                let mut episode_over = false;
                let mut pending_save: Option<(PathBuf, Box<RunConfig>)> = None;
                if let Driver::Mpc { agent, .. } = &mut driver {
                    agent.reset();
                }
                loop {
                    let command = if credits > 0 && !episode_over {
                        match command_rx.try_recv() {
                            Ok(command) => Some(command),
                            Err(TryRecvError::Empty) => None,
                            Err(TryRecvError::Disconnected) => return,
                        }
                    } else {
                        match command_rx.recv() {
                            Ok(command) => Some(command),
                            Err(_) => return,
                        }
                    };
                    match command {
                        Some(Command::Grant(n)) => credits += n,
                        Some(Command::Settings(s)) => settings_error = driver.set_settings(s),
                        Some(Command::Reset { seed, generation: g }) => {
                            if let Driver::Mpc { agent, env } = &mut driver {
                                env.reset(seed);
                                agent.reset();
                            }
                            generation = g;
                            credits = 0;
                            episode_over = false;
                        }
                        Some(Command::Save { dir, config }) => pending_save = Some((dir, config)),
                        None => {}
                    }
                    // A save is taken before the next step, after the last step's evaluation (the
                    // order `train --save-every` uses), so its report precedes that step's.
                    if let Some((dir, config)) = &pending_save
                        && let Some(outcome) = driver.save_if_at_episode_start(dir, config)
                    {
                        pending_save = None;
                        if report_tx.send(Report::Saved(outcome)).is_err() {
                            return;
                        }
                    }
                    if credits == 0 || episode_over {
                        continue;
                    }
                    // The evaluation at step 0 comes before the first step, as in `Trainer::run`.
                    if let Some(row) = driver.evaluate_if_due()
                        && report_tx.send(Report::Eval(row)).is_err()
                    {
                        return;
                    }
                    let (record, over) = driver.step(generation, settings_error.take());
                    episode_over = over;
                    credits -= 1;
                    if report_tx.send(Report::Step(Box::new(record))).is_err() {
                        return;
                    }
                    if let Some(row) = driver.evaluate_if_due()
                        && report_tx.send(Report::Eval(row)).is_err()
                    {
                        return;
                    }
                }
            })
            .expect("spawning the control-loop thread");
        ControlLoop { commands: Some(command_tx), reports: Mutex::new(report_rx) }
    }

    pub fn send(&self, command: Command) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(command);
        }
    }

    /// A finished report, if there is one (never blocks).
    pub fn try_receive(&mut self) -> Option<Report> {
        self.reports.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).try_recv().ok()
    }

    /// Waits for the next report (headless lockstep use).
    pub fn receive(&mut self) -> Option<Report> {
        self.reports.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).recv().ok()
    }
}
