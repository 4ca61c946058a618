//! Learning: replay buffer, standardisation, the PETS-style probabilistic ensemble and SAC,
//! plus the ensemble as the planner's model (`EnsembleModel`, over a fast f32 inference copy).
//!
//! Everything runs on burn's flex CPU backend (autodiff for training, the plain device for
//! inference). All randomness comes from per-object seeded RNGs, so a run is reproducible for a
//! seed regardless of what else runs in the process.

mod checked_file;
pub mod ensemble;
mod ensemble_grad;
pub mod ensemble_model;
pub mod infer;
mod matmul;
mod net;
pub mod normalizer;
pub(crate) mod record_file;
pub mod replay;
pub mod replay_file;
pub mod sac;
mod simd;
pub mod state_delta;

pub use ensemble::{FitReport, Prediction, ProbabilisticEnsemble, select_elites};
pub use ensemble_grad::{rows_per_task, training_products_gflops, training_step_flops};
pub use ensemble_model::{EnsembleModel, ModelNoise};
pub use infer::{FastEnsemble, InferScratch, affine_gflops};
pub use matmul::forward_flops;
pub use normalizer::Normalizer;
pub use replay::{Batch, ReplayBuffer, StepEnd};
pub use replay_file::{REPLAY_FORMAT_VERSION, ReplayFileError};
pub use sac::{Sac, SacLosses};
pub use state_delta::StateDelta;
