//! DMD-MPC planning: a sampling-based model-predictive controller whose update is a mirror-descent step.
//!
//! The planner keeps a Gaussian over action sequences, samples from it, rolls the samples
//! (plus optional policy-prior sequences) through a [`Model`], scores them, turns the scores
//! into coefficients with a loss (CEM, MPPI or expected cost) and moves the Gaussian with a
//! mirror map (KL or Euclidean). See ALGORITHM.md sections 2 and 3.

pub mod gaussian;
pub mod hooks;
pub mod model;
pub mod obs_points;
pub mod planner;
pub mod preset_store;
pub mod score;
pub mod simulator;
pub mod trace;
pub mod update;
pub mod weights;

pub use gaussian::SequenceGaussian;
pub use hooks::{PolicyPrior, TerminalValue};
pub use model::{Model, ObservationPoints, RolloutBatch, RootTrack, SequenceBatch};
pub use obs_points::ObservationKinematics;
pub use planner::{ActionMode, Planner, PlannerState};
pub use preset_store::{
    DEFAULT_PRESET_DIR, PresetError, PresetStore, load_preset_file, parse_preset, preset_argument, resolve_preset,
};
pub use score::{ScoreRule, Scorer};
pub use simulator::SimulatorModel;
pub use trace::{IterationStats, PlanOutput, PlanSummary, PlanTrace};
pub use update::{MirrorStep, MirrorUpdate};
pub use weights::{CoefficientKind, WeightSummary, Weighting, draw_by_weight};
