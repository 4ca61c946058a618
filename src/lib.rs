//! DeMoRL Studio: simulate robots with Rapier, plan with DMD-MPC, learn with SAC, and watch it live.
//!
//! Core modules (`format`, `config`, `scene`, `sim`, `plan`, `learn`, `agent`, `compare`) are plain
//! Rust and run without a window; the `studio` module is the Bevy app over them, and `cli` holds
//! the command-line entry points. Dependencies point one way, in that order (tests/module_graph.rs).

pub mod agent;
pub mod bench;
pub mod cli;
pub mod compare;
pub mod config;
pub mod format;
pub mod learn;
pub mod malloc_tuning;
pub mod plan;
pub mod scene;
pub mod sim;
#[cfg(feature = "studio")]
pub mod studio;
