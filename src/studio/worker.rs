//! The planner on its own thread, so a frame never waits for a plan.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::agent::MpcAgent;
use crate::plan::{ActionMode, PlanOutput, PlannerSettings};
use crate::sim::Env;

/// One planning job: a fork of the env to plan from, and settings to apply first.
pub struct PlanRequest {
    pub env: Env,
    pub settings: Option<PlannerSettings>,
    pub reset: bool,
    pub mode: ActionMode,
}

/// The planner's answer.
pub struct PlanReply {
    pub output: PlanOutput,
    pub plan_ms: f64,
    /// Set when the requested settings were refused (the old ones stay in force).
    pub settings_error: Option<String>,
}

/// Owns the planner thread; dropping it stops the thread.
pub struct PlannerWorker {
    requests: Option<Sender<PlanRequest>>,
    /// A mutex only so the worker can live in a Bevy resource (which must be `Sync`).
    replies: Mutex<Receiver<PlanReply>>,
    thread: Option<JoinHandle<()>>,
    in_flight: bool,
}

impl PlannerWorker {
    pub fn spawn(mut agent: MpcAgent) -> PlannerWorker {
        let (request_tx, request_rx) = channel::<PlanRequest>();
        let (reply_tx, reply_rx) = channel();
        let thread = std::thread::Builder::new()
            .name("planner".into())
            .spawn(move || {
                for request in request_rx {
                    let settings_error =
                        request.settings.and_then(|s| agent.set_settings(s).err()).map(|e| e.to_string());
                    if request.reset {
                        agent.reset();
                    }
                    let started = Instant::now();
                    let output = agent.plan(&request.env, request.mode);
                    let plan_ms = started.elapsed().as_secs_f64() * 1e3;
                    if reply_tx.send(PlanReply { output, plan_ms, settings_error }).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the planner thread");
        PlannerWorker {
            requests: Some(request_tx),
            replies: Mutex::new(reply_rx),
            thread: Some(thread),
            in_flight: false,
        }
    }

    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    /// Starts a plan; call only when none is in flight.
    pub fn request(&mut self, request: PlanRequest) {
        debug_assert!(!self.in_flight, "one plan at a time");
        if let Some(tx) = &self.requests
            && tx.send(request).is_ok()
        {
            self.in_flight = true;
        }
    }

    /// The finished plan, if there is one (never blocks).
    pub fn try_receive(&mut self) -> Option<PlanReply> {
        let replies = self.replies.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        match replies.try_recv() {
            Ok(reply) => {
                self.in_flight = false;
                Some(reply)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.in_flight = false;
                None
            }
        }
    }

    /// Waits for the plan in flight (headless lockstep use).
    pub fn receive(&mut self) -> Option<PlanReply> {
        if !self.in_flight {
            return None;
        }
        self.in_flight = false;
        self.replies.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).recv().ok()
    }
}

impl Drop for PlannerWorker {
    fn drop(&mut self) {
        self.requests = None; // closes the channel: the thread's loop ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
