//! `Env`: one simulated robot with its task, stepped at the control rate; `fork` copies it exactly.

use std::sync::Arc;

use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rapier3d::prelude::*;

use super::measure;
use super::push::{ActivePushes, Push, PushError};
use super::robot::{JointInfo, PhysicsState, Robot};
use super::task::{self, StepContext};
use super::world::{WorldChoice, apply_to_physics, hashed_normal};
use crate::config::PeriodicNominal;
use crate::scene::{Actuator, Scene, WorldShift};

/// Why an episode ended.
#[derive(Clone, Debug, PartialEq)]
pub enum EndReason {
    /// The task's step limit: a truncation, not a terminal state.
    TimeLimit,
    /// A termination condition of the task held.
    Condition(String),
    /// The physics produced non-finite or runaway values.
    PhysicsBlowUp(String),
    /// The action contained NaN or infinity.
    InvalidAction(String),
}

impl EndReason {
    /// How a fall's reason starts when displayed (`terminated: <the task's condition>`); records
    /// that kept only the text are read back by it.
    pub const FALL_PREFIX: &'static str = "terminated: ";

    /// Whether a termination condition of the task ended the episode: for the legged scenes, a
    /// fall. The one place the studio, the trainer's records and the tests decide it.
    pub fn is_fall(&self) -> bool {
        matches!(self, EndReason::Condition(_))
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndReason::TimeLimit => write!(f, "time limit"),
            EndReason::Condition(what) => write!(f, "{}{what}", Self::FALL_PREFIX),
            EndReason::PhysicsBlowUp(what) => write!(f, "physics blow-up: {what}"),
            EndReason::InvalidAction(what) => write!(f, "invalid action: {what}"),
        }
    }
}

/// Result of one control step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    pub reward: f32,
    /// The episode reached a terminal state (no bootstrapping past it).
    pub terminated: bool,
    /// The episode was cut by the time limit (bootstrapping continues).
    pub truncated: bool,
    pub reason: Option<EndReason>,
}

impl StepOutcome {
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// Actions as residuals around a gait: step t executes `clamp(gait(t) + scale · action)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResidualGait {
    pub gait: Arc<PeriodicNominal>,
    pub scale: f32,
}

/// A position motor's PD law in this episode's world.
struct PdMotor {
    target: f32,
    stiffness: f32,
    damping: f32,
    max_force: f32,
}

/// Speeds beyond this (m/s or rad/s) count as a physics blow-up.
const RUNAWAY_SPEED: f32 = 1.0e3;

/// One robot, its physics world and its task state.
pub struct Env {
    robot: Arc<Robot>,
    physics: PhysicsState,
    pipeline: PhysicsPipeline,
    steps: u32,
    phase: f32,
    rng: ChaCha8Rng,
    done: bool,
    /// Planning copies ignore the step limit: a time limit is not a terminal state.
    time_limit: bool,
    effort: Vec<f32>,
    reward_terms: Vec<f32>,
    x_before: Vec<f32>,
    /// Which world episodes run in, and this episode's.
    world_choice: WorldChoice,
    world: WorldShift,
    /// Actions chosen but not yet applied (`world.latency_steps` of them).
    delayed: std::collections::VecDeque<Vec<f32>>,
    /// Seeds this episode's observation noise.
    noise_seed: u64,
    /// A gait the actions are residuals around (`set_gait`).
    gait: Option<ResidualGait>,
    /// Pushes acting now (a fork copies them).
    pushes: ActivePushes,
    /// Whether pushes act at all: planning copies turn them off, as a planner does not foresee
    /// a push (MuJoCo MPC's models do not see the viewer's perturbations either).
    disturbances: bool,
    /// Physics steps per control step and solver iterations: the scene's, or a planning copy's
    /// coarser ones (`set_physics_resolution`). Kept across resets and `copy_from`.
    resolution: PhysicsResolution,
}

/// How finely an env integrates its physics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysicsResolution {
    /// Physics steps per control step.
    pub substeps: u32,
    /// Rapier solver iterations per physics step.
    pub solver_iterations: u32,
}

/// Separates the observation noise's stream from the reset noise's (same episode seed).
const NOISE_STREAM: u64 = 0x000B_5E4E_0153;

impl Env {
    /// A new environment for an already validated scene, reset with seed 0.
    pub fn new(scene: &Scene) -> Env {
        Env::from_robot(Arc::new(Robot::build(scene)))
    }

    /// A new environment sharing an already built robot description.
    pub fn from_robot(robot: Arc<Robot>) -> Env {
        let mut env = Env {
            physics: robot.template.clone(),
            pipeline: PhysicsPipeline::new(),
            steps: 0,
            phase: 0.0,
            rng: ChaCha8Rng::seed_from_u64(0),
            done: false,
            time_limit: true,
            effort: vec![0.0; robot.action_dim()],
            reward_terms: vec![0.0; robot.scene.task.reward.len()],
            x_before: vec![0.0; robot.links.len()],
            world_choice: WorldChoice::Nominal,
            world: WorldShift::default(),
            delayed: Default::default(),
            noise_seed: 0,
            gait: None,
            pushes: ActivePushes::default(),
            disturbances: true,
            resolution: PhysicsResolution {
                substeps: robot.substeps,
                solver_iterations: robot.template.parameters.num_solver_iterations as u32,
            },
            robot,
        };
        env.reset(0);
        env
    }

    pub fn robot(&self) -> &Arc<Robot> {
        &self.robot
    }

    pub fn physics(&self) -> &PhysicsState {
        &self.physics
    }

    pub fn action_dim(&self) -> usize {
        self.robot.action_dim()
    }

    pub fn obs_dim(&self) -> usize {
        self.robot.scene.task.observation.iter().map(|t| task::observation_len(t, &self.robot)).sum()
    }

    /// The task's termination conditions read off observations (`ObservedTermination`), or why
    /// one cannot be.
    pub fn observed_termination(&self) -> Result<super::ObservedTermination, String> {
        super::ObservedTermination::of_robot(&self.robot)
    }

    /// Indices of the observation's values that are angles wrapped to (−π, π].
    pub fn wrapped_angle_dims(&self) -> Vec<usize> {
        task::observation_offsets(&self.robot)
            .flat_map(|(term, offset)| {
                task::wrapped_angle_offsets(term, &self.robot).into_iter().map(move |d| offset + d)
            })
            .collect()
    }

    /// Control steps taken in this episode.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Task clock in radians, [0, 2π).
    pub fn phase(&self) -> f32 {
        self.phase
    }

    /// Whether the episode has ended (further steps are refused until `reset`).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Reward terms of the last step, unweighted, in the scene's order.
    pub fn reward_terms(&self) -> &[f32] {
        &self.reward_terms
    }

    /// Reward terms of the last step times their weights, in the scene's order.
    pub fn weighted_reward_terms(&self) -> impl Iterator<Item = f32> + '_ {
        self.reward_terms.iter().zip(&self.robot.scene.task.reward).map(|(v, term)| v * term.weight)
    }

    /// Torques applied by each actuator during the last step (N·m).
    pub fn effort(&self) -> &[f32] {
        &self.effort
    }

    /// Whether pushes act (on by default; planning copies turn them off). Not copied by
    /// `copy_from`, like the time limit.
    pub fn set_disturbances(&mut self, enabled: bool) {
        self.disturbances = enabled;
    }

    /// Pushes `push.link` with `push.force` for the next `push.steps` control steps, on top of
    /// the task's and the world's pushes. Refused for an unknown link or a non-finite force.
    pub fn push(&mut self, push: Push) -> Result<(), PushError> {
        push.check(&self.robot)?;
        if push.steps > 0 {
            self.pushes.active.push(push);
        }
        Ok(())
    }

    /// Restarts the episode from `seed` and replays `steps` (each step's pushes, then its
    /// action): the state a recorded episode had after them, exactly.
    pub fn replay(&mut self, seed: u64, steps: &[(Vec<f32>, Vec<Push>)]) {
        self.reset(seed);
        for (action, pushes) in steps {
            for push in pushes {
                // Recorded pushes were accepted by an env of this robot.
                let _ = self.push(push.clone());
            }
            self.step(action);
        }
    }

    /// The pushes acting now, with the control steps each has left.
    pub fn active_pushes(&self) -> &[Push] {
        &self.pushes.active
    }

    /// Whether the scene's step limit truncates episodes (on by default; planning copies turn it off).
    pub fn set_time_limit(&mut self, enabled: bool) {
        self.time_limit = enabled;
    }

    /// The world the next episodes run in (from the next `reset` on): nominal, a fixed shifted
    /// world, or one drawn per episode from ranges with the episode's seed.
    pub fn set_world(&mut self, choice: WorldChoice) {
        self.world_choice = choice;
    }

    /// Makes actions residuals around a gait: step t executes `clamp(gait(t) + scale · action)`
    /// (the action clipped to [-1, 1] first), where t counts control steps since reset, as the
    /// planner's nominal clock does. `None`: actions are executed as given. Learning runs use
    /// it so that SAC, the model and the planner all learn corrections to the scene's trot.
    pub fn set_gait(&mut self, gait: Option<ResidualGait>) {
        self.gait = gait;
    }

    /// This episode's world.
    pub fn world(&self) -> &WorldShift {
        &self.world
    }

    /// Starts a new episode: the home pose plus the task's reset noise drawn from `seed`, in the
    /// world `set_world` chose (drawn from `seed` too when randomised).
    pub fn reset(&mut self, seed: u64) {
        self.physics = self.robot.template.clone();
        self.apply_resolution();
        self.world = self.world_choice.world_for(seed);
        apply_to_physics(&mut self.physics, &self.robot, &self.world);
        self.noise_seed = seed ^ NOISE_STREAM;
        self.delayed.clear();
        self.pushes.clear();
        if self.world.latency_steps > 0 {
            let home = self.robot.scene.robot.home_action();
            self.delayed.extend(std::iter::repeat_n(home, self.world.latency_steps as usize));
        }
        self.pipeline = PhysicsPipeline::new();
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        let noise = &self.robot.scene.task.reset_noise;
        let joints = self.robot.joints.len();
        let mut angles = vec![0.0; joints];
        let mut velocities = vec![0.0; joints];
        for (j, joint) in self.robot.joints.iter().enumerate() {
            let angle = joint.home + symmetric(&mut self.rng, noise.joint_angle);
            angles[j] = match joint.limits {
                Some((lo, hi)) => angle.clamp(lo, hi),
                None => angle,
            };
            velocities[j] = symmetric(&mut self.rng, noise.joint_velocity);
        }
        measure::set_joint_state(&mut self.physics, &self.robot, &angles, &velocities);
        self.steps = 0;
        self.phase = 0.0;
        self.done = false;
        self.effort.fill(0.0);
        self.reward_terms.fill(0.0);
    }

    /// Places the joints at given angles and velocities (indexed like the scene's joints), for tests
    /// and teaching demos. Root links keep their poses.
    pub fn set_joint_state(&mut self, angles: &[f32], velocities: &[f32]) {
        assert_eq!(angles.len(), self.robot.joints.len(), "one angle per joint");
        assert_eq!(velocities.len(), self.robot.joints.len(), "one velocity per joint");
        measure::set_joint_state(&mut self.physics, &self.robot, angles, velocities);
    }

    /// Joint angles and velocities, indexed like the scene's joints (what `set_joint_state` takes).
    pub fn joint_state(&self) -> (Vec<f32>, Vec<f32>) {
        let joints = &self.robot.joints;
        let angles = joints.iter().map(|j| measure::joint_angle(&self.physics, &self.robot, j)).collect();
        let velocities = joints.iter().map(|j| measure::joint_velocity(&self.physics, &self.robot, j)).collect();
        (angles, velocities)
    }

    /// An exact copy whose future is bit-identical to this one's under the same actions.
    pub fn fork(&self) -> Env {
        Env {
            robot: self.robot.clone(),
            physics: self.physics.clone(),
            pipeline: PhysicsPipeline::new(),
            steps: self.steps,
            phase: self.phase,
            rng: self.rng.clone(),
            done: self.done,
            time_limit: self.time_limit,
            effort: self.effort.clone(),
            reward_terms: self.reward_terms.clone(),
            x_before: self.x_before.clone(),
            world_choice: self.world_choice.clone(),
            world: self.world.clone(),
            delayed: self.delayed.clone(),
            noise_seed: self.noise_seed,
            gait: self.gait.clone(),
            pushes: self.pushes.clone(),
            disturbances: self.disturbances,
            resolution: self.resolution,
        }
    }

    /// A copy that integrates as the planner's simulator copies do: at the scene's
    /// `physics.planning` resolution, or exact (as [`Env::fork`]) when the scene sets none.
    pub fn planning_fork(&self) -> Env {
        let mut copy = self.fork();
        if let Some(planning) = &self.robot.scene.physics.planning {
            let (substeps, solver_iterations) = (planning.substeps, planning.solver_iterations);
            copy.set_physics_resolution(PhysicsResolution { substeps, solver_iterations });
        }
        copy
    }

    /// Integrates from now on with `resolution` instead of the scene's physics (the planner's
    /// coarser copies, `physics.planning`): the control step's length stays, its physics steps
    /// and solver iterations change. Kept across resets and `copy_from`; forks inherit it.
    pub fn set_physics_resolution(&mut self, resolution: PhysicsResolution) {
        assert!(resolution.substeps > 0 && resolution.solver_iterations > 0, "resolution needs steps and iterations");
        self.resolution = resolution;
        self.apply_resolution();
    }

    /// How finely this env integrates.
    pub fn physics_resolution(&self) -> PhysicsResolution {
        self.resolution
    }

    fn apply_resolution(&mut self) {
        let parameters = &mut self.physics.parameters;
        parameters.dt = self.robot.control_dt / self.resolution.substeps as f32;
        parameters.num_solver_iterations = self.resolution.solver_iterations as usize;
    }

    /// Copies `other`'s state into `self` (same scene), reusing allocations.
    pub fn copy_from(&mut self, other: &Env) {
        debug_assert!(Arc::ptr_eq(&self.robot, &other.robot), "copy_from needs the same robot");
        self.physics.clone_from(&other.physics);
        // The state is copied; how finely this env integrates it stays its own.
        self.apply_resolution();
        self.steps = other.steps;
        self.phase = other.phase;
        self.rng.clone_from(&other.rng);
        self.done = other.done;
        self.effort.clone_from(&other.effort);
        self.reward_terms.clone_from(&other.reward_terms);
        self.world_choice.clone_from(&other.world_choice);
        self.world.clone_from(&other.world);
        self.delayed.clone_from(&other.delayed);
        self.noise_seed = other.noise_seed;
        self.gait.clone_from(&other.gait);
        self.pushes.clone_from(&other.pushes);
    }

    /// The current observation.
    pub fn observation(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.obs_dim());
        self.observe_into(&mut out);
        out
    }

    /// Appends the current observation to `out` (with the world's sensor noise, which depends
    /// only on the episode, the step and the component: reading twice gives the same values).
    pub fn observe_into(&self, out: &mut Vec<f32>) {
        let start = out.len();
        task::observe(&self.physics, &self.robot, self.phase, out);
        if self.world.obs_noise > 0.0 {
            for (k, value) in out[start..].iter_mut().enumerate() {
                *value += self.world.obs_noise * hashed_normal(self.noise_seed, self.steps, k);
            }
        }
    }

    /// World positions of the sites the scene draws (feet, torso), appended to `out`.
    pub fn drawn_points_into(&self, out: &mut Vec<[f32; 3]>) {
        for &site in &self.robot.drawn_sites {
            out.push(measure::site_position(&self.physics, &self.robot, site).to_array());
        }
    }

    /// One control step with `action` in [-1, 1] (values outside are clipped).
    ///
    /// Panics only if `action` has the wrong length (a programming error, not bad input).
    pub fn step(&mut self, action: &[f32]) -> StepOutcome {
        assert_eq!(action.len(), self.action_dim(), "action length must equal the number of actuators");
        if self.done {
            return StepOutcome {
                reward: 0.0,
                terminated: true,
                truncated: false,
                reason: Some(EndReason::Condition("episode already ended; call reset".into())),
            };
        }
        if let Some(bad) = action.iter().position(|a| !a.is_finite()) {
            return self.end(EndReason::InvalidAction(format!("component {bad} is {}", action[bad])));
        }
        let mut clipped: Vec<f32> = match &self.gait {
            None => action.iter().map(|a| a.clamp(-1.0, 1.0)).collect(),
            Some(ResidualGait { gait, scale }) => {
                let t = self.steps as u64;
                let executed = |(d, a): (usize, &f32)| (gait.value(t, d) + scale * a.clamp(-1.0, 1.0)).clamp(-1.0, 1.0);
                action.iter().enumerate().map(executed).collect()
            }
        };
        if self.world.latency_steps > 0 {
            // The action chosen `latency_steps` steps ago acts now.
            self.delayed.push_back(clipped);
            clipped = self.delayed.pop_front().expect("latency_steps actions are queued");
        }
        for (l, link) in self.robot.links.iter().enumerate() {
            self.x_before[l] = self.physics.bodies[link.body].translation().x;
        }
        self.set_motor_targets(&clipped);
        if self.disturbances {
            self.pushes.start_due(&self.robot, self.world.push.as_ref(), self.steps, self.noise_seed);
        }
        for _ in 0..self.resolution.substeps {
            self.pushes.clear_forces(&mut self.physics, &self.robot);
            self.apply_torques(&clipped);
            if self.disturbances {
                self.pushes.apply(&mut self.physics, &self.robot);
            }
            self.physics_step();
            if let Some(what) = self.blow_up() {
                return self.end(EndReason::PhysicsBlowUp(what));
            }
        }
        self.measure_position_effort(&clipped);
        self.pushes.advance();
        self.steps += 1;
        if let Some(clock) = &self.robot.scene.task.phase {
            self.phase = (self.phase + std::f32::consts::TAU / clock.period_steps as f32) % std::f32::consts::TAU;
        }
        let ctx = StepContext {
            action: &clipped,
            effort: &self.effort,
            x_before: &self.x_before,
            dt: self.robot.control_dt,
            phase: self.phase,
        };
        let mut reward = 0.0;
        for (k, term) in self.robot.scene.task.reward.iter().enumerate() {
            let value = task::reward_term(&term.term, &self.physics, &self.robot, &ctx);
            self.reward_terms[k] = value;
            reward += term.weight * value;
        }
        if !reward.is_finite() {
            return self.end(EndReason::PhysicsBlowUp(format!("reward became {reward}")));
        }
        if let Some(what) = task::termination(&self.physics, &self.robot) {
            self.done = true;
            return StepOutcome {
                reward: reward - self.robot.scene.task.termination_penalty,
                terminated: true,
                truncated: false,
                reason: Some(EndReason::Condition(what)),
            };
        }
        if self.time_limit && self.steps >= self.robot.scene.task.episode_steps {
            self.done = true;
            return StepOutcome { reward, terminated: false, truncated: true, reason: Some(EndReason::TimeLimit) };
        }
        StepOutcome { reward, terminated: false, truncated: false, reason: None }
    }

    fn end(&mut self, reason: EndReason) -> StepOutcome {
        self.done = true;
        self.reward_terms.fill(0.0);
        StepOutcome { reward: 0.0, terminated: true, truncated: false, reason: Some(reason) }
    }

    fn physics_step(&mut self) {
        let p = &mut self.physics;
        self.pipeline.step(
            p.gravity,
            &p.parameters,
            &mut p.islands,
            &mut p.broad_phase,
            &mut p.narrow_phase,
            &mut p.bodies,
            &mut p.colliders,
            &mut p.impulse_joints,
            &mut p.multibody_joints,
            &mut p.ccd_solver,
            &(),
            &(),
        );
    }

    /// Sets PD motor targets of Position actuators (see [`Env::position_motor`]).
    fn set_motor_targets(&mut self, action: &[f32]) {
        let scales_force = self.world.strength_scale != 1.0;
        for (k, &j) in self.robot.actuated.iter().enumerate() {
            let joint = &self.robot.joints[j];
            let Some(motor) = self.position_motor(joint, action[k]) else { continue };
            if let Some(handle) = self.physics.impulse_joints.get_mut(joint.handle, false) {
                handle.data.set_motor_position(JointAxis::AngX, motor.target, motor.stiffness, motor.damping);
                if scales_force {
                    handle.data.set_motor_max_force(JointAxis::AngX, motor.max_force);
                }
            }
        }
    }

    /// A Position actuator's PD law for action component `a`: the action maps linearly onto
    /// the target range; gains and force limit as this episode's world scales them.
    fn position_motor(&self, joint: &JointInfo, a: f32) -> Option<PdMotor> {
        let (Actuator::Position { stiffness, damping, max_force, .. }, Some((lo, hi))) =
            (&joint.actuator, joint.target_range)
        else {
            return None;
        };
        let (gain, strength) = (self.world.gain_scale, self.world.strength_scale);
        Some(PdMotor {
            target: lo + (a + 1.0) * 0.5 * (hi - lo),
            stiffness: stiffness * gain,
            damping: damping * gain,
            max_force: max_force * strength,
        })
    }

    /// Applies Torque actuators (and the world's joint damping) as equal and opposite torques
    /// on child and parent.
    fn apply_torques(&mut self, action: &[f32]) {
        let damping = self.world.joint_damping;
        if self.robot.has_torque_actuators || damping > 0.0 {
            for link in &self.robot.links {
                self.physics.bodies[link.body].reset_torques(false);
            }
        }
        for (k, &j) in self.robot.actuated.iter().enumerate() {
            let joint = &self.robot.joints[j];
            let mut torque = 0.0;
            if let Actuator::Torque { max_torque } = joint.actuator {
                torque = action[k] * max_torque * self.world.strength_scale;
                self.effort[k] = torque;
            }
            if damping > 0.0 {
                torque -= damping * measure::joint_velocity(&self.physics, &self.robot, joint);
            }
            if torque == 0.0 {
                continue;
            }
            let parent = self.robot.links[joint.parent].body;
            let axis = self.physics.bodies[parent].position().rotation * joint.axis_in_parent;
            self.physics.bodies[self.robot.links[joint.child].body].add_torque(axis * torque, false);
            let parent = &mut self.physics.bodies[parent];
            if parent.is_dynamic() {
                parent.add_torque(-axis * torque, false);
            }
        }
    }

    /// Estimates the torque of Position actuators from the PD law at the end of the step.
    fn measure_position_effort(&mut self, action: &[f32]) {
        for (k, &j) in self.robot.actuated.iter().enumerate() {
            let joint = &self.robot.joints[j];
            let Some(motor) = self.position_motor(joint, action[k]) else { continue };
            let angle = measure::joint_angle(&self.physics, &self.robot, joint);
            let velocity = measure::joint_velocity(&self.physics, &self.robot, joint);
            let torque = motor.stiffness * (motor.target - angle) - motor.damping * velocity;
            self.effort[k] = torque.clamp(-motor.max_force, motor.max_force);
        }
    }

    fn blow_up(&self) -> Option<String> {
        if let Some(&handle) = self.pipeline.quarantine().bodies().first() {
            let name = self.robot.links.iter().find(|l| l.body == handle).map_or("a body", |l| l.name.as_str());
            return Some(format!("{name} went non-finite"));
        }
        for link in &self.robot.links {
            let body = &self.physics.bodies[link.body];
            let speed = body.linvel().length().max(body.angvel().length());
            if speed.is_nan() || speed >= RUNAWAY_SPEED {
                return Some(format!("{} moves at {speed:.3e} (limit {RUNAWAY_SPEED:.0e})", link.name));
            }
        }
        None
    }
}

fn symmetric(rng: &mut ChaCha8Rng, half_width: f32) -> f32 {
    if half_width > 0.0 { rng.random_range(-half_width..=half_width) } else { 0.0 }
}
