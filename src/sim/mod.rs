//! Rapier simulation of a scene: `Env` (reset, step, fork), measurements, task terms, batches,
//! and the worlds episodes run in (domain randomisation).

mod batch;
mod env;
pub mod measure;
mod push;
mod robot;
mod summary;
pub mod task;
mod world;

pub use batch::EnvBatch;
pub use env::{EndReason, Env, ResidualGait, StepOutcome};
pub use push::{Push, PushError};
pub use robot::{JointInfo, LinkInfo, PhysicsState, Robot, mass_properties};
pub use summary::RobotSummary;
pub use world::{WorldChoice, draw_world, hashed_normal};
