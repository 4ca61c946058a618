//! Rapier simulation of a scene: `Env` (reset, step, fork), measurements, task terms, batches,
//! the worlds episodes run in (domain randomisation), and the termination conditions as limits on
//! observed values (for learned models).

mod batch;
mod env;
pub mod measure;
mod observed_termination;
mod push;
mod robot;
mod summary;
pub mod task;
mod world;

pub use batch::EnvBatch;
pub use env::{EndReason, Env, PhysicsResolution, ResidualGait, StepOutcome};
pub use observed_termination::{ObservedLimit, ObservedTermination};
pub use push::{Push, PushError};
pub use robot::{JointInfo, LinkInfo, PhysicsState, Robot, mass_properties};
pub use summary::RobotSummary;
pub use world::{WorldChoice, draw_world, hashed_normal};
