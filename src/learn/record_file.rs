//! Saving and loading the learners' parts inside a checkpoint folder: burn modules and Adam
//! states as burnpack files, plain state (sizes, settings, RNGs, statistics) as RON. Every
//! error names the file.

use std::path::Path;

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn at(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{}: {e}", path.display())
}

/// Writes a module's parameters to `dir/name`.
pub(crate) fn save_module<M: Module>(dir: &Path, name: &str, module: &M) -> anyhow::Result<()> {
    let path = dir.join(name);
    module.clone().into_record().save(&path).map_err(|e| at(&path, e))
}

/// Loads parameters from `dir/name` into `module` (whose shapes must match).
pub(crate) fn load_module<M: Module>(dir: &Path, name: &str, module: M) -> anyhow::Result<M> {
    let path = dir.join(name);
    let record = ModuleRecord::load(&path).map_err(|e| at(&path, e))?;
    module.try_load_record(record).map_err(|e| at(&path, e))
}

/// Writes an optimiser's state (Adam moments and step counts) to `dir/name`.
pub(crate) fn save_optimizer(dir: &Path, name: &str, optimizer: &ModuleOptimizer) -> anyhow::Result<()> {
    let path = dir.join(name);
    optimizer.to_record().save(&path).map_err(|e| at(&path, e))
}

/// Loads an optimiser state from `dir/name` into a fresh optimiser of the same configuration.
pub(crate) fn load_optimizer(dir: &Path, name: &str, fresh: ModuleOptimizer) -> anyhow::Result<ModuleOptimizer> {
    let path = dir.join(name);
    let record = OptimizerRecord::load(&path).map_err(|e| at(&path, e))?;
    Ok(fresh.load_record(record))
}

/// Writes plain state as RON (which, unlike JSON, keeps NaN, infinities and 128-bit RNG counters).
pub(crate) fn save_state<T: Serialize>(dir: &Path, name: &str, state: &T) -> anyhow::Result<()> {
    let path = dir.join(name);
    let text = ron::to_string(state).map_err(|e| at(&path, e))?;
    std::fs::write(&path, text).map_err(|e| at(&path, e))
}

/// Reads plain state written by [`save_state`].
pub(crate) fn load_state<T: DeserializeOwned>(dir: &Path, name: &str) -> anyhow::Result<T> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| at(&path, e))?;
    ron::from_str(&text).map_err(|e| at(&path, e))
}
