//! Soft actor-critic (ALGORITHM.md §5): tanh-squashed Gaussian actor, twin critics with Polyak
//! target copies, automatic entropy temperature. Actions live in `[-1, 1]^act_dim`.
//!
//! The twin critics are one stacked network (`net.rs`), so both run in one matmul per layer.
//! Exploration noise comes from the agent's own seeded RNG, never burn's process-wide one.

use burn::module::{Module, Param};
use std::path::Path;

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::net::{Init, StackedMlp, to_vec};
use super::record_file::{load_module, load_optimizer, load_state, save_module, save_optimizer, save_state};
use super::replay::Batch;
use crate::config::{Activation, SacSettings};

/// Losses and statistics of one [`Sac::update`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SacLosses {
    /// `½ (MSE(Q1, y) + MSE(Q2, y))`.
    pub critic: f32,
    /// `E[α log π(a|s) − min Q(s, a)]`, plus the behaviour-cloning term when it is on.
    pub actor: f32,
    /// The temperature α used in this update (before its own step).
    pub alpha: f32,
    /// Policy entropy estimate `−E[log π(a|s)]` on the batch.
    pub entropy: f32,
    /// `E[Σ_j (tanh μ_j(s) − a_j)²]`: how far the actor's mean action is from the stored actions
    /// (in DeMoRL, the planner's), whether or not the behaviour-cloning term is on.
    #[serde(default = "f32_not_measured")]
    pub actor_action_gap: f32,
}

/// Records written before a figure existed read it as NaN (also used by `train.csv` rows).
pub(crate) fn f32_not_measured() -> f32 {
    f32::NAN
}

/// The learnable temperature, `log α` (a module so Adam can own its state).
#[derive(Module, Debug)]
struct Temperature {
    log_alpha: Param<Tensor<1>>,
}

/// A SAC agent: networks, target critics, optimisers and its noise RNG.
pub struct Sac {
    settings: SacSettings,
    obs_dim: usize,
    act_dim: usize,
    device: Device,
    actor: StackedMlp,
    critic: StackedMlp,
    /// Target critics, kept on the plain (non-autodiff) device: they are never differentiated.
    target_critic: StackedMlp,
    temperature: Temperature,
    actor_optim: ModuleOptimizer,
    critic_optim: ModuleOptimizer,
    alpha_optim: ModuleOptimizer,
    rng: ChaCha8Rng,
    updates: u64,
}

/// `ln(1 − tanh(u)²)` computed stably as `2 (ln 2 − u − softplus(−2u))`.
fn log_tanh_jacobian<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    (u.clone().neg() - softplus(u.mul_scalar(-2.0), 1.0)).add_scalar(std::f32::consts::LN_2).mul_scalar(2.0)
}

impl Sac {
    /// A fresh agent; `seed` fixes the initial weights and all sampling noise.
    pub fn new(obs_dim: usize, act_dim: usize, settings: SacSettings, seed: u64) -> Self {
        let device = Device::flex().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut sizes = vec![obs_dim];
        sizes.extend(&settings.hidden);
        sizes.push(2 * act_dim);
        let actor = StackedMlp::new(1, &sizes, Init::Uniform, &mut rng, &device);
        sizes[0] = obs_dim + act_dim;
        *sizes.last_mut().expect("output layer") = 1;
        let critic = StackedMlp::new(2, &sizes, Init::Uniform, &mut rng, &device);
        let target_critic = critic.valid();
        let temperature = Temperature {
            log_alpha: Param::from_data(TensorData::new(vec![settings.initial_alpha.ln()], [1]), &device),
        };
        let adam = || AdamConfig::new().with_epsilon(1e-8).init();
        Self {
            obs_dim,
            act_dim,
            device,
            actor,
            critic,
            target_critic,
            temperature,
            actor_optim: adam(),
            critic_optim: adam(),
            alpha_optim: adam(),
            rng,
            updates: 0,
            settings,
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &SacSettings {
        &self.settings
    }

    /// Observation width.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Action width.
    pub fn act_dim(&self) -> usize {
        self.act_dim
    }

    /// Gradient updates done so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The current entropy temperature α.
    pub fn alpha(&self) -> f32 {
        self.temperature.log_alpha.val().into_scalar::<f32>().exp()
    }

    fn target_entropy(&self) -> f32 {
        self.settings.target_entropy.unwrap_or(-(self.act_dim as f32))
    }

    fn plain(&self) -> Device {
        self.device.clone().inner()
    }

    fn noise(&mut self, n: usize) -> Vec<f32> {
        (0..n * self.act_dim).map(|_| StandardNormal.sample(&mut self.rng)).collect()
    }

    /// `[n, w]` tensor from host rows.
    fn rows(data: &[f32], n: usize, w: usize, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(data.to_vec(), [n, w]), device)
    }

    /// Actor head for `obs [n, obs_dim]`: the pre-tanh mean and the clamped log-std.
    fn actor_head(&self, actor: &StackedMlp, obs: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let out = actor.forward(obs.unsqueeze_dim(0), Activation::Relu).squeeze_dim::<2>(0);
        let mean = out.clone().narrow(1, 0, self.act_dim);
        let log_std =
            out.narrow(1, self.act_dim, self.act_dim).clamp(self.settings.log_std_min, self.settings.log_std_max);
        (mean, log_std)
    }

    /// Reparameterised squashed sample `a = tanh(μ + σ ε)` and its log-density `[n, 1]`.
    fn sample_action(&self, actor: &StackedMlp, obs: Tensor<2>, eps: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (mean, log_std) = self.actor_head(actor, obs);
        Self::squashed_sample(mean, log_std, eps)
    }

    /// `tanh(μ + σ ε)` and its log-density `[n, 1]` from an actor head's output.
    fn squashed_sample(mean: Tensor<2>, log_std: Tensor<2>, eps: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let u = mean + log_std.clone().exp() * eps.clone();
        let gauss = (eps.square().mul_scalar(-0.5) - log_std).add_scalar(-0.5 * (2.0 * std::f32::consts::PI).ln());
        let logp = (gauss - log_tanh_jacobian(u.clone())).sum_dim(1);
        (u.tanh(), logp)
    }

    /// Twin critic values `[2, n, 1]` of `(obs, act)`.
    fn critic_values(critic: &StackedMlp, obs: Tensor<2>, act: Tensor<2>) -> Tensor<3> {
        critic.forward(Tensor::cat(vec![obs, act], 1).unsqueeze_dim(0), Activation::Relu)
    }

    /// One gradient step on critics, actor and temperature from `batch`, then the target update.
    pub fn update(&mut self, batch: &Batch) -> SacLosses {
        let (n, od, ad) = (batch.n, self.obs_dim, self.act_dim);
        let s = self.settings.clone();
        let plain = self.plain();
        let alpha = self.alpha();

        // Critic target y = r + γ (1 − terminal) (min Q'(s', a') − α log π(a'|s')), no gradients.
        let eps_next = Self::rows(&self.noise(n), n, ad, &plain);
        let next_obs = Self::rows(&batch.next_obs, n, od, &plain);
        let (a_next, logp_next) = self.sample_action(&self.actor.valid(), next_obs.clone(), eps_next);
        let q_next = Self::critic_values(&self.target_critic, next_obs, a_next).min_dim(0).squeeze_dim::<2>(0);
        let reward = Self::rows(&batch.rewards, n, 1, &plain);
        let not_done = Self::rows(&batch.terminals, n, 1, &plain).neg().add_scalar(1.0);
        let y = reward + not_done * (q_next - logp_next.mul_scalar(alpha)).mul_scalar(s.discount);

        // Critic step: mean over both critics of (Q − y)² equals ½ (MSE₁ + MSE₂).
        let obs = Self::rows(&batch.obs, n, od, &self.device);
        let act = Self::rows(&batch.actions, n, ad, &self.device);
        let q = Self::critic_values(&self.critic, obs.clone(), act.clone());
        let critic_loss = (q - y.unsqueeze_dim::<3>(0)).square().mean();
        let grads = GradientsParams::from_grads(critic_loss.backward(), &self.critic);
        self.critic = self.critic_optim.step(s.critic_lr, self.critic.clone(), grads);

        // Actor step through a constant copy of the updated critics (gradient flows to the action).
        let eps = Self::rows(&self.noise(n), n, ad, &self.device);
        let (mean, log_std) = self.actor_head(&self.actor, obs.clone());
        let (a_pi, logp) = Self::squashed_sample(mean.clone(), log_std, eps);
        let q_pi = Self::critic_values(&self.critic.valid(), obs, a_pi).min_dim(0).squeeze_dim::<2>(0);
        let mut actor_loss = (logp.clone().mul_scalar(alpha) - q_pi.clone()).mean();
        let gap = (mean.tanh() - act).square().sum_dim(1).mean();
        let actor_action_gap = gap.clone().detach().into_scalar::<f32>();
        if s.behaviour_cloning > 0.0 {
            let q_scale = q_pi.detach().abs().mean().into_scalar::<f32>();
            actor_loss = actor_loss + gap.mul_scalar(s.behaviour_cloning * q_scale);
        }
        let grads = GradientsParams::from_grads(actor_loss.backward(), &self.actor);
        self.actor = self.actor_optim.step(s.actor_lr, self.actor.clone(), grads);

        // Temperature step: loss −log α · (log π + H_target), whose gradient is −mean(log π + H).
        let mean_logp = logp.detach().mean().into_scalar::<f32>();
        if s.learn_alpha {
            let gap = mean_logp + self.target_entropy();
            let alpha_loss = self.temperature.log_alpha.val().mul_scalar(-gap).sum();
            let grads = GradientsParams::from_grads(alpha_loss.backward(), &self.temperature);
            self.temperature = self.alpha_optim.step(s.alpha_lr, self.temperature.clone(), grads);
        }

        self.target_critic = self.target_critic.clone().soft_update(&self.critic, 1.0 - s.polyak);
        self.updates += 1;
        SacLosses {
            critic: critic_loss.into_scalar::<f32>(),
            actor: actor_loss.into_scalar::<f32>(),
            alpha,
            entropy: -mean_logp,
            actor_action_gap,
        }
    }

    /// Actions for observations (`n × obs_dim` → `n × act_dim`): `tanh(μ)` if `deterministic`,
    /// else samples from the policy (noise from the agent's RNG).
    pub fn act(&mut self, obs: &[f32], deterministic: bool) -> Vec<f32> {
        if deterministic {
            return self.actor_mean(obs);
        }
        let plain = self.plain();
        let n = obs.len() / self.obs_dim;
        let eps = Self::rows(&self.noise(n), n, self.act_dim, &plain);
        let (a, _) = self.sample_action(&self.actor.valid(), Self::rows(obs, n, self.obs_dim, &plain), eps);
        to_vec(a)
    }

    /// The actor's mean action `tanh(μ(s))` for a batch of observations (`n × obs_dim` →
    /// `n × act_dim`): the planner's policy prior.
    pub fn actor_mean(&self, obs: &[f32]) -> Vec<f32> {
        let n = obs.len() / self.obs_dim;
        let (mean, _) = self.actor_head(&self.actor.valid(), Self::rows(obs, n, self.obs_dim, &self.plain()));
        to_vec(mean.tanh())
    }

    /// Both critics for a batch (`n × obs_dim`, `n × act_dim`): `(Q1, Q2)`, `n` values each —
    /// the planner's terminal-value hook.
    pub fn q_values(&self, obs: &[f32], actions: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let n = obs.len() / self.obs_dim;
        let plain = self.plain();
        let q = Self::critic_values(
            &self.critic.valid(),
            Self::rows(obs, n, self.obs_dim, &plain),
            Self::rows(actions, n, self.act_dim, &plain),
        );
        let mut q = to_vec(q);
        let q2 = q.split_off(n);
        (q, q2)
    }

    /// Every parameter (actor, critics, target critics, log α) flattened in a fixed order.
    pub fn parameters(&self) -> Vec<f32> {
        let mut p = [self.actor.to_host(), self.critic.to_host(), self.target_critic.to_host()].concat().concat();
        p.extend(to_vec(self.temperature.log_alpha.val()));
        p
    }
}

/// The non-tensor part of a saved [`Sac`]: sizes, settings, update count and noise RNG.
#[derive(Serialize, Deserialize)]
struct SacState {
    obs_dim: usize,
    act_dim: usize,
    settings: SacSettings,
    updates: u64,
    rng: ChaCha8Rng,
}

impl Sac {
    /// Writes networks, target critics, temperature, the three Adam states and the RNG into `dir`
    /// (which must exist), so [`Sac::load_from`] continues bit-identically.
    pub fn save_to(&self, dir: &Path) -> anyhow::Result<()> {
        let state = SacState {
            obs_dim: self.obs_dim,
            act_dim: self.act_dim,
            settings: self.settings.clone(),
            updates: self.updates,
            rng: self.rng.clone(),
        };
        save_state(dir, "sac.ron", &state)?;
        save_module(dir, "actor.bpk", &self.actor)?;
        save_module(dir, "critic.bpk", &self.critic)?;
        save_module(dir, "target_critic.bpk", &self.target_critic)?;
        save_module(dir, "temperature.bpk", &self.temperature)?;
        save_optimizer(dir, "actor_optim.bpk", &self.actor_optim)?;
        save_optimizer(dir, "critic_optim.bpk", &self.critic_optim)?;
        save_optimizer(dir, "alpha_optim.bpk", &self.alpha_optim)
    }

    /// Reads an agent written by [`Sac::save_to`]. Errors name the file and what was wrong.
    pub fn load_from(dir: &Path) -> anyhow::Result<Sac> {
        let state: SacState = load_state(dir, "sac.ron")?;
        let mut sac = Sac::new(state.obs_dim, state.act_dim, state.settings, 0);
        sac.actor = load_module(dir, "actor.bpk", sac.actor)?;
        sac.critic = load_module(dir, "critic.bpk", sac.critic)?;
        sac.target_critic = load_module(dir, "target_critic.bpk", sac.target_critic)?;
        sac.temperature = load_module(dir, "temperature.bpk", sac.temperature)?;
        sac.actor_optim = load_optimizer(dir, "actor_optim.bpk", sac.actor_optim)?;
        sac.critic_optim = load_optimizer(dir, "critic_optim.bpk", sac.critic_optim)?;
        sac.alpha_optim = load_optimizer(dir, "alpha_optim.bpk", sac.alpha_optim)?;
        sac.updates = state.updates;
        sac.rng = state.rng;
        Ok(sac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_fill_missing_fields_with_defaults() {
        let s: SacSettings = ron::from_str("(hidden: [32, 32], target_entropy: Some(-2.0))").unwrap();
        assert_eq!(s, SacSettings { hidden: vec![32, 32], target_entropy: Some(-2.0), ..Default::default() });
        assert_eq!((s.discount, s.polyak, s.batch_size, s.log_std_min, s.log_std_max), (0.99, 0.995, 256, -20.0, 2.0));
    }

    #[test]
    fn squashed_log_density_matches_change_of_variables() {
        // One action dimension: log π(a) = log N(u; μ, σ) − log(1 − tanh²u).
        let sac = Sac::new(1, 1, SacSettings { hidden: vec![4], ..Default::default() }, 0);
        let dev = sac.plain();
        let actor = sac.actor.valid();
        let obs = Sac::rows(&[0.3], 1, 1, &dev);
        let (mean, log_std) = sac.actor_head(&actor, obs.clone());
        let (mu, ls) = (to_vec(mean)[0], to_vec(log_std)[0]);
        let eps = 0.7f32;
        let (a, logp) = sac.sample_action(&actor, obs, Sac::rows(&[eps], 1, 1, &dev));
        let u = mu + ls.exp() * eps;
        let expected = -0.5 * eps * eps - ls - 0.5 * (2.0 * std::f32::consts::PI).ln() - (1.0 - u.tanh().powi(2)).ln();
        let (a, logp) = (to_vec(a)[0], to_vec(logp)[0]);
        assert!((a - u.tanh()).abs() < 1e-6);
        assert!((logp - expected).abs() < 1e-4, "{logp} vs {expected}");
    }
}
