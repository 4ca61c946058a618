//! SAC alone as an agent: uniform random warm-up, then its own stochastic actions, with
//! `updates_per_step` gradient updates per env step from its replay buffer.

use std::path::Path;

use anyhow::Context;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::model_data::ModelData;
use super::train::TrainAgent;
use super::train_data::{StepStats, Transition};
use crate::config::TrainSettings;
use crate::learn::record_file::{load_state, save_state};
use crate::learn::{ReplayBuffer, Sac};

/// Seed offsets so the networks, the replay sampling and the warm-up noise use separate streams.
pub(crate) const REPLAY_SEED: u64 = 0x7e91a7;
pub(crate) const WARMUP_SEED: u64 = 0x3a11d0;

/// Uniform random actions in [-1, 1] for the warm-up phase.
pub(crate) fn uniform_action(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.random_range(-1.0..=1.0)).collect()
}

/// The SAC learner with its replay buffer and warm-up noise.
pub struct SacAgent {
    pub sac: Sac,
    pub replay: ReplayBuffer,
    settings: TrainSettings,
    rng: ChaCha8Rng,
}

impl SacAgent {
    /// A fresh agent for `obs_dim` observations and `act_dim` actions; `seed` fixes everything.
    pub fn new(obs_dim: usize, act_dim: usize, settings: TrainSettings, seed: u64) -> Self {
        Self {
            sac: Sac::new(obs_dim, act_dim, settings.sac.clone(), seed),
            replay: ReplayBuffer::new(obs_dim, act_dim, settings.replay_capacity, seed ^ REPLAY_SEED),
            rng: ChaCha8Rng::seed_from_u64(seed ^ WARMUP_SEED),
            settings,
        }
    }

    /// The schedule and learner settings.
    pub fn settings(&self) -> &TrainSettings {
        &self.settings
    }
}

/// Runs the SAC updates one env step owes: `updates_per_step` once past warm-up and once the
/// buffer holds a batch; with `model_data`, each batch mixes in generated transitions.
pub(crate) fn sac_updates(
    sac: &mut Sac,
    replay: &mut ReplayBuffer,
    settings: &TrainSettings,
    env_steps: u64,
    mut model_data: Option<&mut ModelData>,
) -> StepStats {
    let mut stats = StepStats::default();
    let batch = settings.sac.batch_size;
    if env_steps > settings.warmup_steps && replay.len() >= batch {
        for _ in 0..settings.updates_per_step {
            let b = match model_data.as_deref_mut() {
                Some(generated) => generated.mixed_batch(replay, batch),
                None => replay.sample(batch),
            };
            stats.sac.push(sac.update(&b));
        }
    }
    stats
}

impl TrainAgent for SacAgent {
    fn act(&mut self, obs: &[f32], env_steps: u64) -> Vec<f32> {
        if env_steps < self.settings.warmup_steps {
            uniform_action(&mut self.rng, self.sac.act_dim())
        } else {
            self.sac.act(obs, false)
        }
    }

    fn observe(&mut self, t: Transition<'_>, env_steps: u64) -> StepStats {
        self.replay.push(t.obs, t.action, t.reward, t.next_obs, t.end);
        sac_updates(&mut self.sac, &mut self.replay, &self.settings, env_steps, None)
    }

    fn episode_start(&mut self) {}

    fn eval_act(&mut self, obs: &[f32]) -> Vec<f32> {
        // The mean action uses no RNG, so evaluation leaves the training noise stream alone.
        self.sac.actor_mean(obs)
    }

    fn eval_episode_start(&mut self, _env_steps: u64) {}

    fn save_state(&self, dir: &Path) -> anyhow::Result<()> {
        let sac_dir = dir.join("sac");
        std::fs::create_dir_all(&sac_dir)?;
        self.sac.save_to(&sac_dir)?;
        write_replay(&dir.join("replay.bin"), &self.replay)?;
        save_state(dir, "agent.ron", &self.rng)
    }

    fn load_state(&mut self, dir: &Path) -> anyhow::Result<()> {
        let sac = Sac::load_from(&dir.join("sac"))?;
        let replay = read_replay(&dir.join("replay.bin"))?;
        let rng: ChaCha8Rng = load_state(dir, "agent.ron")?;
        check_sizes(dir, (sac.obs_dim(), sac.act_dim()), (self.sac.obs_dim(), self.sac.act_dim()))?;
        (self.sac, self.replay, self.rng) = (sac, replay, rng);
        Ok(())
    }
}

/// Refuses a saved agent whose observation/action sizes differ from the scene's.
pub(crate) fn check_sizes(dir: &Path, saved: (usize, usize), scene: (usize, usize)) -> anyhow::Result<()> {
    if saved != scene {
        anyhow::bail!(
            "{}: saved for observation/action sizes {}/{}, this scene has {}/{}",
            dir.display(),
            saved.0,
            saved.1,
            scene.0,
            scene.1
        );
    }
    Ok(())
}

/// Writes a replay buffer file.
pub(crate) fn write_replay(path: &Path, replay: &ReplayBuffer) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    replay.write_to(file).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a replay buffer file; errors name the file and the problem.
pub(crate) fn read_replay(path: &Path) -> anyhow::Result<ReplayBuffer> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    ReplayBuffer::read_from(file).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
