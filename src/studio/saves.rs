//! Checkpoints from the studio: ask the control loop for a save at the next episode start, and
//! load a save into a new experiment that continues the run exactly like `train --resume`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::experiment::{Experiment, Run};
use super::worker::{Command, Driver, learning_run};
use crate::agent::{read_checkpoint, restore_checkpoint};
use crate::scene::load_scene;

/// A save name must be one plain folder name inside the saves folder.
fn check_name(name: &str) -> anyhow::Result<()> {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.starts_with('.') || !plain || name.len() > 64 {
        bail!("save name `{name}`: use 1-64 letters, digits, '-', '_' or '.', not starting with '.'");
    }
    Ok(())
}

impl Experiment {
    /// `<scene>-<mode>-seed<seed>`, the name `train` gives its checkpoints.
    pub fn default_save_name(&self) -> String {
        let scene =
            self.run.scene_path.file_stem().map_or_else(|| self.run.scene.name.clone(), |s| s.to_string_lossy().into());
        format!("{scene}-{}-seed{}", self.run.mode.mode_name(), self.run.seed)
    }

    /// Asks the loop to write `saves_dir/<name>` at the next episode start (checkpoints are only
    /// taken there); the outcome arrives as a message, and `saving` is set until then.
    pub fn request_save(&mut self, name: &str) -> anyhow::Result<()> {
        if !self.run.mode.is_learning() {
            bail!("{} learns nothing: there is no checkpoint to save", self.run.mode);
        }
        if let Some(why) = &self.ui.stopped {
            bail!("not saved: {why}");
        }
        check_name(name)?;
        let dir = self.ui.saves_dir.join(name);
        let config = self.run_config();
        self.run.control.send(Command::Save { dir: dir.clone(), config: Box::new(config) });
        self.ui.message = Some(format!("saving {} at the next episode start…", dir.display()));
        self.ui.saving = Some(dir);
        Ok(())
    }

    /// Replaces this experiment with the run saved in `dir`, continuing from its step count in
    /// its own mode, scene and settings. Everything is checked and built before anything is
    /// replaced, so on an error this experiment runs on unchanged; the save is only read.
    pub fn load_save(&mut self, dir: &Path) -> anyhow::Result<()> {
        let manifest = read_checkpoint(dir)?;
        let config = &manifest.config;
        let mode = config.mode;
        if !mode.is_learning() {
            bail!("{}: mode {mode} is not a learning run", dir.display());
        }
        let scene = load_scene(&config.scene).with_context(|| format!("{}: the save's scene", dir.display()))?;
        let mut trainer = learning_run(&scene, config)?;
        restore_checkpoint(dir, &manifest, &mut trainer)?;
        let state = &manifest.trainer;
        // The trainer restarted the saved episode from its seed: a copy of its env (world and
        // gait included) is the studio's.
        let env = trainer.train_env.fork();
        let run = Run {
            scene_path: &config.scene,
            scene,
            mode,
            settings: config.planner.clone(),
            train: config.train.clone(),
            seed: config.seed,
            threads: config.threads,
        };
        let mut next = Experiment::from_driver(run, env, Driver::Learning(Box::new(trainer)));
        next.carry_over_from(self);
        next.history.episode = state.episode;
        next.history.env_steps = state.env_steps;
        next.history.sim_time = state.env_steps as f64 * next.control_dt();
        let l = &mut next.history.learning;
        l.evals = state.evals.clone();
        l.rows = state.rows.clone();
        // Updates so far: those logged in rows plus the unlogged window.
        l.updates = state.rows.iter().map(|r| r.updates as u64).sum::<u64>() + state.window.len() as u64;
        // Saves from before episode end steps were kept list bare returns (length 0): the
        // training-return curve then starts again from the loaded step.
        l.train_episodes = state.episodes.iter().filter(|e| e.length > 0).cloned().collect();
        next.ui.message = Some(format!("loaded {} at env step {}", dir.display(), state.env_steps));
        *self = next;
        Ok(())
    }

    /// Writes the current episode's steps to `exports_dir/<scene>-episode<k>.csv`: step,
    /// observation, action, reward and the plan's first mean action (empty without a plan).
    pub fn export_episode_csv(&self) -> anyhow::Result<PathBuf> {
        let obs_dim = self.run.env.obs_dim();
        let act_dim = self.run.env.action_dim();
        let mut header = vec!["step".to_string()];
        header.extend((0..obs_dim).map(|i| format!("obs{i}")));
        header.extend((0..act_dim).map(|i| format!("action{i}")));
        header.push("reward".into());
        header.extend((0..act_dim).map(|i| format!("planned_mean{i}")));
        let mut text = header.join(",") + "\n";
        for (k, step) in self.history.episode_log.iter().enumerate() {
            let mut fields = vec![k.to_string()];
            fields.extend(step.observation.iter().chain(&step.action).map(f32::to_string));
            fields.push(step.reward.to_string());
            match &step.planned {
                Some(planned) => fields.extend(planned.iter().map(f32::to_string)),
                None => fields.extend((0..act_dim).map(|_| String::new())),
            }
            text += &(fields.join(",") + "\n");
        }
        std::fs::create_dir_all(&self.ui.exports_dir)
            .with_context(|| format!("cannot create {}", self.ui.exports_dir.display()))?;
        let stem =
            self.run.scene_path.file_stem().map_or_else(|| self.run.scene.name.clone(), |s| s.to_string_lossy().into());
        let path = self.ui.exports_dir.join(format!("{stem}-episode{}.csv", self.history.episode + 1));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}
