//! The control loop on its own thread: choose an action (plan), step its own env, learn on the
//! schedule, report — as fast as the step credits granted by the studio allow. The render
//! thread never waits for a plan or a gradient step, and the experiment's speed does not depend
//! on the frame rate.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::agent::{
    EvalRow, MpcAgent, StepStats, TrainAgent, TrainEpisode, TrainRow, Trainer, learning_agent, save_checkpoint,
};
use crate::config::{PlannerSettings, RunConfig};
use crate::plan::{ActionMode, ObservationKinematics, PlanTrace, PlannerState};
use crate::scene::Scene;
use crate::sim::{Env, Push};

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
    Trainer::new(scene, agent, config.train.clone(), config.seed)
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
    /// Push the robot before the next step (the panel's push button).
    Push(Push),
    /// A force held on a link at every step from now on (the mouse drag), or none.
    Drag(Option<Push>),
    /// MPC only: restart the episode from `seed`, replay `steps` (each step's pushes, then its
    /// action), restore the planner as it was before its next plan, then plan with `settings`;
    /// later records carry `generation`.
    Replay {
        seed: u64,
        generation: u64,
        steps: Vec<(Vec<f32>, Vec<Push>)>,
        planner: Box<PlannerState>,
        settings: PlannerSettings,
    },
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
    /// The training episode this step ended, as the trainer recorded it.
    pub episode_end: Option<TrainEpisode>,
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
    /// Pushes the studio asked for, started right before this step: the studio starts them on
    /// its copy of the env too, so both stay identical.
    pub pushes: Vec<Push>,
    /// The planner before it planned this step (MPC with the simulator): what "replay from
    /// here" restores.
    pub planner_before: Option<Box<PlannerState>>,
}

/// A report from the loop, in the order things happened.
pub enum Report {
    Step(Box<StepRecord>),
    /// A finished evaluation (learning modes).
    Eval(EvalRow),
    /// A requested checkpoint was written (its folder and env step) or why not.
    Saved(Result<(PathBuf, u64), String>),
    /// The loop's thread ended on its own (a panic, with its message): no more reports come.
    Stopped(String),
}

/// Owns the loop's thread; dropping it closes the channel and the thread ends at its next
/// check (without waiting for a long evaluation or refit, so switching modes never stalls a frame).
pub struct ControlLoop {
    commands: Option<Sender<Command>>,
    /// A mutex only so the loop can live in a Bevy resource (which must be `Sync`).
    reports: Mutex<Receiver<Report>>,
    /// The thread's end has been reported (as `Report::Stopped`); later calls return nothing.
    ended: bool,
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
                .map(|()| (dir.to_path_buf(), run.state.env_steps))
                .map_err(|e| format!("{e:#}"))
        })
    }

    /// Replays an MPC episode to a past step and restores its planner; returns why the new
    /// settings were refused, if they were (the restored ones stay then).
    fn replay(
        &mut self,
        seed: u64,
        steps: &[(Vec<f32>, Vec<Push>)],
        planner: PlannerState,
        settings: PlannerSettings,
    ) -> Option<String> {
        let Driver::Mpc { agent, env } = self else { return Some("only MPC episodes replay".into()) };
        env.replay(seed, steps);
        if let Err(e) = agent.planner.restore(planner) {
            return Some(e.to_string());
        }
        self.set_settings(settings)
    }

    /// The env the loop acts on.
    fn env_mut(&mut self) -> &mut Env {
        match self {
            Driver::Mpc { env, .. } => env,
            Driver::Learning(run) => &mut run.train_env,
        }
    }

    /// Starts `pushes` on the loop's env; returns those it accepted.
    fn start_pushes(&mut self, pushes: impl Iterator<Item = Push>) -> Vec<Push> {
        let env = self.env_mut();
        pushes.filter(|p| env.push(p.clone()).is_ok()).collect()
    }

    /// One control step; the bool says whether the loop must wait: an MPC episode ended (until a
    /// Reset) or learning stopped on a non-finite value (for good).
    fn step(&mut self, generation: u64, settings_error: Option<String>) -> (StepRecord, bool) {
        match self {
            Driver::Mpc { agent, env } => {
                let planner_before = Some(Box::new(agent.planner.state()));
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
                    pushes: Vec::new(),
                    planner_before,
                };
                (record, over)
            }
            Driver::Learning(run) => {
                let step = run.step();
                let stopped = step.divergence.is_some();
                // Only a step whose action came from a plan has a trace worth drawing.
                let trace = step.stats.plan.and_then(|_| run.agent.last_plan()).map(|p| p.trace.clone());
                let learning = LearnRecord {
                    env_steps: run.state.env_steps,
                    stats: step.stats,
                    learn_ms: step.learn_ms,
                    row: step.row,
                    episode_end: step.episode_end,
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
                    pushes: Vec::new(),
                    planner_before: None,
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
        let panic_tx = report_tx.clone();
        std::thread::Builder::new()
            .name("control-loop".into())
            .spawn(move || {
                // A panic in a planner or learner must reach the studio as a stopped run with its
                // message, not as a silent end of reports (a blocking run would wait forever).
                let body = std::panic::AssertUnwindSafe(move || run_loop(&mut driver, &command_rx, &report_tx));
                if let Err(payload) = std::panic::catch_unwind(body) {
                    let _ =
                        panic_tx.send(Report::Stopped(format!("the control loop panicked: {}", panic_text(&*payload))));
                }
            })
            .expect("spawning the control-loop thread");
        ControlLoop { commands: Some(command_tx), reports: Mutex::new(report_rx), ended: false }
    }

    pub fn send(&self, command: Command) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(command);
        }
    }

    /// A finished report, if there is one (never blocks). A loop that ended without saying why
    /// reports `Stopped` once.
    pub fn try_receive(&mut self) -> Option<Report> {
        let received = self.reports.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).try_recv();
        match received {
            Ok(report) => self.seen(report),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => self.lost(),
        }
    }

    /// Waits for the next report (headless lockstep use); `None` once the loop's end is reported.
    pub fn receive(&mut self) -> Option<Report> {
        match self.reports.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).recv() {
            Ok(report) => self.seen(report),
            Err(_) => self.lost(),
        }
    }

    fn seen(&mut self, report: Report) -> Option<Report> {
        self.ended |= matches!(report, Report::Stopped(_));
        Some(report)
    }

    fn lost(&mut self) -> Option<Report> {
        (!std::mem::replace(&mut self.ended, true))
            .then(|| Report::Stopped("the control loop ended unexpectedly".into()))
    }
}

/// A panic payload's message.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "(no message)".into(),
    }
}

/// The loop: take commands, and as far as credits allow, step and report. Returns when the
/// studio hangs up.
fn run_loop(driver: &mut Driver, command_rx: &Receiver<Command>, report_tx: &Sender<Report>) {
    let mut credits = 0u32;
    let mut generation = 0u64;
    let mut settings_error = None;
    // After an MPC episode ends the loop waits for a Reset before planning again;
    // after a divergence it waits for good (a Reset does not apply to learning runs).
    let mut episode_over = false;
    let mut pending_save: Option<(PathBuf, Box<RunConfig>)> = None;
    let (mut pending_pushes, mut drag) = (Vec::new(), None::<Push>);
    if let Driver::Mpc { agent, .. } = driver {
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
                if let Driver::Mpc { agent, env } = driver {
                    env.reset(seed);
                    agent.reset();
                }
                generation = g;
                credits = 0;
                episode_over = false;
                pending_pushes.clear();
            }
            Some(Command::Save { dir, config }) => pending_save = Some((dir, config)),
            Some(Command::Replay { seed, generation: g, steps, planner, settings }) => {
                settings_error = driver.replay(seed, &steps, *planner, settings);
                generation = g;
                credits = 0;
                episode_over = false;
                pending_pushes.clear();
            }
            Some(Command::Push(push)) => pending_pushes.push(push),
            Some(Command::Drag(held)) => drag = held,
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
        // A push acts from the next step on; the drag holds its force one step at a time.
        let held = drag.iter().map(|d| Push { steps: 1, ..d.clone() });
        let pushes = driver.start_pushes(pending_pushes.drain(..).chain(held));
        let (mut record, over) = driver.step(generation, settings_error.take());
        record.pushes = pushes;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{StepStats, Transition};
    use crate::config::{RunMode, TrainSettings};
    use crate::studio::experiment::{Experiment, Run};

    /// An agent whose third training action panics, as a bug in a planner or learner would.
    struct PanicsOnThirdAct(u64);

    impl TrainAgent for PanicsOnThirdAct {
        fn act(&mut self, _obs: &[f32], env_steps: u64) -> Vec<f32> {
            self.0 += 1;
            assert!(env_steps < 2, "injected failure at env step {env_steps}");
            vec![0.0]
        }
        fn observe(&mut self, _: Transition<'_>, _: u64) -> StepStats {
            StepStats::default()
        }
        fn episode_start(&mut self) {}
        fn eval_act(&mut self, _obs: &[f32]) -> Vec<f32> {
            vec![0.0]
        }
        fn eval_episode_start(&mut self, _env_steps: u64) {}
    }

    fn panicking_run() -> (Scene, TrainSettings, Driver) {
        let scene = crate::scene::load_scene(std::path::Path::new("scenes/pendulum.ron")).unwrap();
        let train = TrainSettings { eval_every: 1000, eval_episodes: 1, ..TrainSettings::default() };
        let agent: Box<dyn TrainAgent + Send> = Box::new(PanicsOnThirdAct(0));
        let driver = Driver::Learning(Box::new(Trainer::new(&scene, agent, train.clone(), 0).unwrap()));
        (scene, train, driver)
    }

    #[test]
    fn a_panicking_loop_reports_stopped_with_its_message_once() {
        let (_, _, driver) = panicking_run();
        let mut control = ControlLoop::spawn(driver);
        control.send(Command::Grant(5));
        let mut steps = 0;
        let stopped = loop {
            match control.receive().expect("the loop's end is reported, not a silent hang-up") {
                Report::Step(_) => steps += 1,
                Report::Stopped(why) => break why,
                Report::Eval(_) | Report::Saved(_) => {}
            }
        };
        assert_eq!(steps, 2, "the steps before the failure arrive first");
        assert!(stopped.contains("panicked") && stopped.contains("injected failure at env step 2"), "{stopped}");
        assert!(control.receive().is_none() && control.try_receive().is_none(), "reported once, then nothing");
    }

    #[test]
    fn a_blocking_experiment_whose_loop_dies_stops_with_the_message_instead_of_hanging() {
        let (scene, train, driver) = panicking_run();
        let mut env = Env::new(&scene);
        env.reset(crate::agent::episode_seed(0, 0));
        let path = std::path::PathBuf::from("scenes/pendulum.ron");
        let settings = scene.planner.clone();
        let run = Run { scene_path: &path, scene, mode: RunMode::Sac, settings, train, seed: 0, threads: 1 };
        let mut e = Experiment::from_driver(run, env, driver);
        e.run.blocking = true;
        let taken: Vec<u32> = (0..5).map(|_| e.advance(0.05)).collect();
        assert_eq!(taken, [1, 1, 0, 0, 0], "two steps, then no more and no hang");
        let stopped = e.ui.stopped.as_deref().expect("the studio shows why the run stopped");
        assert!(stopped.contains("injected failure at env step 2"), "{stopped}");
    }
}
