//! The core's integration tests in one binary: one link and one copy of the generic code they
//! instantiate, instead of one per file (a warm `cargo test` spent most of its build linking 30
//! test binaries). Kept apart in tests/: `planner_alloc` (a counting global allocator),
//! `malloc_tuning` (process-wide malloc settings), `studio` (needs the `studio` feature), `slurm`
//! (a real cluster), and `module_graph`, `run_defaults` and `scene_errors` (CI also runs them
//! in the build without Bevy). Each file here is a module; `cargo test --test core -- NAME::`
//! runs one of them.

#[path = "../compare_common/mod.rs"]
mod compare_common;
#[path = "../learning_common/mod.rs"]
mod learning_common;
#[path = "../planner_common/mod.rs"]
mod planner_common;

mod agent_demorl;
mod agent_model_data;
mod agent_sac;
mod checkpoint;
mod compare;
mod fuzz_loaders;
mod import_robots;
mod learn_ensemble;
mod learn_ensemble_model;
mod learn_sac;
mod learn_wrapped_angles;
mod planner_determinism;
mod planner_lqr;
mod planner_nominal;
mod planner_scoring;
mod planner_settings;
mod planner_shift;
mod planner_simulator;
mod planner_weights;
mod presets;
mod push;
mod sim_physics;
mod sim_scenes;
mod sim_world;
mod train_settings_errors;
