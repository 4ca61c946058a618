//! The control loop on its own thread: plan, step its own env, report — as fast as the
//! step credits granted by the studio allow. The render thread never waits for a plan, and the
//! experiment's speed does not depend on the frame rate.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::agent::MpcAgent;
use crate::plan::{ActionMode, PlanOutput, PlannerSettings};
use crate::sim::Env;

/// What the studio tells the loop.
pub enum Command {
    /// Permission to take this many more control steps.
    Grant(u32),
    /// Settings for the next plan on.
    Settings(PlannerSettings),
    /// Start a new episode from `seed`; later records carry `generation`.
    Reset { seed: u64, generation: u64 },
}

/// One control step taken by the loop. The studio replays `output.action` on its own copy of
/// the env, which stays bit-identical to the loop's (same start, same actions).
pub struct StepRecord {
    pub generation: u64,
    pub output: PlanOutput,
    pub plan_ms: f64,
    /// Set when the latest settings were refused (the old ones stay in force).
    pub settings_error: Option<String>,
}

/// Owns the loop's thread; dropping it stops the thread.
pub struct ControlLoop {
    commands: Option<Sender<Command>>,
    /// A mutex only so the loop can live in a Bevy resource (which must be `Sync`).
    records: Mutex<Receiver<StepRecord>>,
    thread: Option<JoinHandle<()>>,
}

impl ControlLoop {
    /// Starts the loop on a copy of `env` (already reset for generation 0).
    pub fn spawn(mut agent: MpcAgent, mut env: Env) -> ControlLoop {
        let (command_tx, command_rx) = channel::<Command>();
        let (record_tx, record_rx) = channel();
        let thread = std::thread::Builder::new()
            .name("control-loop".into())
            .spawn(move || {
                let mut credits = 0u32;
                let mut generation = 0u64;
                let mut settings_error = None;
                // After the episode ends the loop waits for a Reset before planning again.
                let mut episode_over = false;
                agent.reset();
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
                        Some(Command::Settings(s)) => {
                            settings_error = agent.set_settings(s).err().map(|e| e.to_string())
                        }
                        Some(Command::Reset { seed, generation: g }) => {
                            env.reset(seed);
                            agent.reset();
                            generation = g;
                            credits = 0;
                            episode_over = false;
                        }
                        None => {}
                    }
                    if credits == 0 || episode_over {
                        continue;
                    }
                    let started = Instant::now();
                    let output = agent.plan(&env, ActionMode::Evaluation);
                    let plan_ms = started.elapsed().as_secs_f64() * 1e3;
                    episode_over = env.step(&output.action).done();
                    credits -= 1;
                    let record = StepRecord { generation, output, plan_ms, settings_error: settings_error.take() };
                    if record_tx.send(record).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the control-loop thread");
        ControlLoop { commands: Some(command_tx), records: Mutex::new(record_rx), thread: Some(thread) }
    }

    pub fn send(&self, command: Command) {
        if let Some(tx) = &self.commands {
            let _ = tx.send(command);
        }
    }

    /// A finished step, if there is one (never blocks).
    pub fn try_receive(&mut self) -> Option<StepRecord> {
        self.records.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).try_recv().ok()
    }

    /// Waits for the next step (headless lockstep use).
    pub fn receive(&mut self) -> Option<StepRecord> {
        self.records.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).recv().ok()
    }
}

impl Drop for ControlLoop {
    fn drop(&mut self) {
        self.commands = None; // closes the channel: the loop ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
