//! Empty on purpose: this crate only pins dependency features (see its Cargo.toml and the root
//! Cargo.toml's `workspace-hack` line), so every build of the workspace shares one compiled copy of
//! each dependency.
