//! Model-generated transitions for SAC (optional, Dyna / MBPO style): one-step predictions of the
//! learned ensemble from replayed states under SAC's own actions, mixed into SAC's batches, so
//! critic and actor see many more transitions than the env gave. Off unless `per_step > 0`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::config::ModelDataSettings;
use crate::learn::{Batch, FastEnsemble, ReplayBuffer, Sac, StateDelta, StepEnd};
use crate::sim::ObservedTermination;

/// The generated transitions and the RNG of their model noise.
pub struct ModelData {
    pub settings: ModelDataSettings,
    pub buffer: ReplayBuffer,
    pub rng: ChaCha8Rng,
    /// Reused per-member gather buffer of `[obs, action]` inputs.
    inputs: Vec<f32>,
}

impl ModelData {
    /// `None` when the settings generate nothing.
    pub fn new(obs_dim: usize, act_dim: usize, settings: ModelDataSettings, seed: u64) -> Option<Self> {
        (settings.per_step > 0).then(|| Self {
            buffer: ReplayBuffer::new(obs_dim, act_dim, settings.per_step * settings.keep_steps.max(1), seed),
            rng: ChaCha8Rng::seed_from_u64(seed),
            settings,
            inputs: Vec::new(),
        })
    }

    /// Appends `per_step` transitions: start states drawn from `real`, actions sampled from SAC's
    /// policy, reward and next state drawn from the Gaussian of elite `i mod K` (row `i`), the
    /// state change applied by `step`. With `termination`, a transition whose next state breaks
    /// it is stored as terminal with the task's penalty on its reward; without, none is.
    pub fn generate(
        &mut self,
        real: &mut ReplayBuffer,
        sac: &mut Sac,
        members: &FastEnsemble,
        step: &StateDelta,
        termination: Option<&ObservedTermination>,
    ) {
        let n = self.settings.per_step;
        let starts = real.sample(n);
        let actions = sac.act(&starts.obs, false);
        let (od, ad, k) = (real.obs_dim(), real.act_dim(), members.members().max(1));
        let mut next = vec![0.0f32; od];
        let mut draw = vec![0.0f32; 1 + od];
        for m in 0..k {
            // Member m's rows are m, m + k, m + 2k, ...
            let rows = (m..n).step_by(k);
            self.inputs.clear();
            for i in rows.clone() {
                self.inputs.extend_from_slice(&starts.obs[i * od..(i + 1) * od]);
                self.inputs.extend_from_slice(&actions[i * ad..(i + 1) * ad]);
            }
            if self.inputs.is_empty() {
                continue;
            }
            let (mean, var) = members.predict(m, &self.inputs);
            for (j, i) in rows.enumerate() {
                for (o, d) in draw.iter_mut().enumerate() {
                    let eps: f32 = StandardNormal.sample(&mut self.rng);
                    *d = mean[j * (1 + od) + o] + var[j * (1 + od) + o].max(0.0).sqrt() * eps;
                }
                let obs = &starts.obs[i * od..(i + 1) * od];
                next.copy_from_slice(obs);
                step.advance(&mut next, &draw[1..]);
                let (reward, end) = match termination.filter(|t| t.ends(&next)) {
                    Some(t) => (draw[0] - t.penalty(), StepEnd::Terminated),
                    None => (draw[0], StepEnd::Continues),
                };
                self.buffer.push(obs, &actions[i * ad..(i + 1) * ad], reward, &next, end);
            }
        }
    }

    /// A SAC batch of `n` rows: `round(real_fraction · n)` (at least one) real rows first, then
    /// generated ones; all real while nothing has been generated yet.
    pub fn mixed_batch(&mut self, real: &mut ReplayBuffer, n: usize) -> Batch {
        if self.buffer.is_empty() {
            return real.sample(n);
        }
        let n_real = ((self.settings.real_fraction * n as f32).round() as usize).clamp(1, n);
        let mut batch = real.sample(n_real);
        if n_real < n {
            batch.extend(&self.buffer.sample(n - n_real));
        }
        batch
    }
}
