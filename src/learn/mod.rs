//! Learning: replay buffer, standardisation, the PETS-style probabilistic ensemble and SAC.
//!
//! Everything runs on burn's flex CPU backend (autodiff for training, the plain device for
//! inference). All randomness comes from per-object seeded RNGs, so a run is reproducible for a
//! seed regardless of what else runs in the process.

pub mod ensemble;
mod net;
pub mod normalizer;
pub mod replay;
pub mod sac;

pub use ensemble::{EnsembleSettings, FitReport, Prediction, ProbabilisticEnsemble, select_elites};
pub use net::Activation;
pub use normalizer::{DEFAULT_STD_FLOOR, Normalizer};
pub use replay::{Batch, ReplayBuffer, StepEnd};
pub use sac::{Sac, SacLosses, SacSettings};
