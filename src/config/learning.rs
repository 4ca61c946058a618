//! The learning settings of a run (`train:` in a settings file): schedule, SAC, the dynamics
//! ensemble and model-generated transitions, as plain serde data with documented defaults.

use serde::{Deserialize, Serialize};

/// Default lower bound on a standard deviation in the learners' normalisers: a dimension that
/// barely varies in the data is scaled by at most `1 / DEFAULT_STD_FLOOR` instead of blowing up
/// (or dividing by zero).
pub const DEFAULT_STD_FLOOR: f32 = 1e-3;

/// Hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// `x · sigmoid(x)` (PETS).
    Swish,
    /// `max(x, 0)` (the usual SAC choice).
    Relu,
}

/// Where the ensemble's fits compute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnsembleBackend {
    /// burn's autodiff and Adam (every run recorded before the option).
    #[default]
    Burn,
    /// The hand-written training step, hold-out predictions and Adam on host buffers
    /// (src/learn/ensemble_grad.rs): the same loss, gradients and update to float tolerance,
    /// faster (docs/BENCHMARKS.md), members in parallel.
    Host,
}

/// SAC hyper-parameters. Defaults follow the common SAC setup (Haarnoja et al., SB3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SacSettings {
    /// Hidden layer widths of actor and critics ([256, 256]; the DeMoRL reference uses [32, 32]).
    pub hidden: Vec<usize>,
    /// Minibatch size (256).
    pub batch_size: usize,
    /// Discount γ (0.99).
    pub discount: f32,
    /// Target-network Polyak factor ρ in `θ' ← ρ θ' + (1 − ρ) θ` (0.995).
    pub polyak: f32,
    /// Actor Adam learning rate (3e-4).
    pub actor_lr: f64,
    /// Critic Adam learning rate (3e-4).
    pub critic_lr: f64,
    /// Temperature Adam learning rate (3e-4).
    pub alpha_lr: f64,
    /// Initial entropy temperature α (1.0).
    pub initial_alpha: f32,
    /// Adapt α toward the target entropy (true); otherwise α stays at `initial_alpha`.
    pub learn_alpha: bool,
    /// Target entropy; `None` means `-act_dim` (None).
    pub target_entropy: Option<f32>,
    /// Clamp range of the actor's log-std ([-20, 2]).
    pub log_std_min: f32,
    /// See `log_std_min`.
    pub log_std_max: f32,
    /// Weight β of a behaviour-cloning term in the actor loss (0: plain SAC). The actor's mean
    /// action is pulled toward the stored action (in DeMoRL, the planner's) by
    /// `β · mean|Q| · Σ_j (tanh μ_j(s) − a_j)²`; scaling by the batch's mean |Q| (no gradient)
    /// keeps β's meaning as returns grow, as in TD3+BC. It lets the actor, and through the
    /// critic's targets the critic, follow what the planner executes.
    pub behaviour_cloning: f32,
}

impl Default for SacSettings {
    fn default() -> Self {
        Self {
            hidden: vec![256, 256],
            batch_size: 256,
            discount: 0.99,
            polyak: 0.995,
            actor_lr: 3e-4,
            critic_lr: 3e-4,
            alpha_lr: 3e-4,
            initial_alpha: 1.0,
            learn_alpha: true,
            target_entropy: None,
            log_std_min: -20.0,
            log_std_max: 2.0,
            behaviour_cloning: 0.0,
        }
    }
}

/// Ensemble size, architecture and training schedule. Defaults are the PETS / ALGORITHM.md §4
/// values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnsembleSettings {
    /// Number of members `E` (7).
    pub members: usize,
    /// Number of elites `K` kept for planning, the best on hold-out data (5).
    pub elites: usize,
    /// Hidden layers per member (4).
    pub hidden_layers: usize,
    /// Units per hidden layer (200).
    pub hidden_width: usize,
    /// Hidden nonlinearity (Swish).
    pub activation: Activation,
    /// Adam learning rate (1e-3).
    pub learning_rate: f64,
    /// Minibatch size per member (256).
    pub batch_size: usize,
    /// L2 coefficient: the loss gets `weight_decay · ½ Σ W²` over weight matrices (5e-5).
    pub weight_decay: f32,
    /// Fraction of the data held out for early stopping and elite selection (0.2).
    pub holdout_fraction: f32,
    /// Upper bound on the hold-out size, to keep evaluation cheap on big buffers (5000).
    pub max_holdout: usize,
    /// Stop after this many epochs in which no member improved its hold-out MSE (5).
    pub patience: usize,
    /// Relative hold-out MSE decrease that counts as an improvement (0.01 = 1%).
    pub min_improvement: f32,
    /// Hard cap on epochs per fit (200).
    pub max_epochs: usize,
    /// Initial upper soft bound of the log-variance (0.5).
    pub max_logvar: f32,
    /// Initial lower soft bound of the log-variance (-10).
    pub min_logvar: f32,
    /// Learn the log-variance bounds (PETS) instead of keeping them fixed (true).
    pub learn_logvar_bounds: bool,
    /// Loss weight pulling learned bounds together: `c · (Σ max − Σ min)` (0.01).
    pub logvar_bound_penalty: f32,
    /// Train each member on its own bootstrap resample of the training split (true).
    pub bootstrap: bool,
    /// Floor of the input/output standard deviations used for standardisation (1e-3).
    pub std_floor: f32,
    /// Refit guard: keep the previous model (weights, standardisation, elites) when the refit's
    /// elites are more than this many times worse than it on the new hold-out rows. A refit
    /// recomputes the standardisation, so a warm start can begin far from the old predictions
    /// and stop early in a worse place; the planner then exploits the broken model. `None`
    /// (default) accepts every refit, as PETS does.
    pub refit_guard: Option<f32>,
    /// β of the β-NLL loss (Seitzer et al. 2022): each element's Gaussian NLL is weighted by its
    /// predicted variance to the power β, held constant in the gradient. 0 (default) is the
    /// plain NLL of PETS; 0.5 is the paper's choice; 1 gives the means the gradient of a plain
    /// MSE. Plain NLL scales each element's pull on the mean by its inverse predicted variance:
    /// hard outputs with a large variance learn slowly, and an overconfident member meeting new
    /// data gets a gradient blown up by its tiny variances (a warm-started refit can stall after
    /// it). The weight evens both out. The variance's optimum (the squared error) is the same for
    /// every β.
    pub nll_beta: f32,
    /// When a warm-started refit changes nothing (every member's best snapshot is the model it
    /// started from), refit once more from fresh weights and a fresh optimiser on the same split
    /// and keep whichever model's elites do better on the hold-out rows. A model that fitted its
    /// first few hundred rows overconfidently can otherwise restore itself unchanged, refit after
    /// refit, for thousands of env steps (docs/RESULTS.md, "a stalled model"). Costs a fresh fit
    /// whenever a refit stalls, and healthy late refits often improve no member either (4–12 of
    /// 40 per recorded cheetah run). Off by default.
    pub restart_stalled: bool,
    /// The model's termination: a planned rollout (and a generated transition) ends at the step
    /// whose predicted observation breaks one of the task's termination conditions, read off the
    /// observed values they test (`LinkHeight`, `LinkPlanarAngle`, roll and pitch of
    /// `LinkOrientation`; a condition the task does not observe is an error when the run
    /// starts), with the task's termination penalty on that step; the model's reward targets
    /// then leave the penalty out. Plans see falls instead of predicting on through states the
    /// simulator never continues from. Off by default: the model never terminates, as in the
    /// runs recorded before the option.
    pub known_termination: bool,
    /// Where fits compute: `Burn` (default) or `Host` (see [`EnsembleBackend`]). The two agree
    /// to float tolerance, not bit for bit, so a run reproduces only on the backend it was
    /// recorded with. Changing it between fits starts Adam's moments afresh.
    pub backend: EnsembleBackend,
}

impl Default for EnsembleSettings {
    fn default() -> Self {
        Self {
            members: 7,
            elites: 5,
            hidden_layers: 4,
            hidden_width: 200,
            activation: Activation::Swish,
            learning_rate: 1e-3,
            batch_size: 256,
            weight_decay: 5e-5,
            holdout_fraction: 0.2,
            max_holdout: 5000,
            patience: 5,
            min_improvement: 0.01,
            max_epochs: 200,
            max_logvar: 0.5,
            min_logvar: -10.0,
            learn_logvar_bounds: true,
            logvar_bound_penalty: 0.01,
            bootstrap: true,
            std_floor: DEFAULT_STD_FLOOR,
            refit_guard: None,
            nll_beta: 0.0,
            restart_stalled: false,
            known_termination: false,
            backend: EnsembleBackend::Burn,
        }
    }
}

/// How many transitions the model generates and how SAC's batches mix them with real ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelDataSettings {
    /// One-step model transitions generated per env step (0: off; MBPO uses 400).
    pub per_step: usize,
    /// Share of each SAC batch drawn from real transitions, the rest generated (MBPO: 0.05).
    pub real_fraction: f32,
    /// Env steps a generated transition stays available: the model buffer holds
    /// `per_step × keep_steps` (MBPO keeps about one 1000-step epoch).
    pub keep_steps: usize,
}

impl Default for ModelDataSettings {
    fn default() -> Self {
        Self { per_step: 0, real_fraction: 0.05, keep_steps: 1000 }
    }
}

/// Pessimism that follows the training falls, as a Lagrange multiplier follows a constraint:
/// after each training episode that ends at or after `from_step`, the κ of the training plans
/// (and of evaluation plans, unless `planner.evaluation_disagreement_penalty` gives their own)
/// moves by `step_size × (fell − falls_per_1000_steps × length / 1000)`, kept between
/// `planner.disagreement_penalty` and `max_penalty`. Episodes that fall more often than the
/// tolerated rate raise it; long episodes without a fall ease it back. With `start_penalty` the
/// plans start cautious and ease down to the planner's κ as the falls allow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FallCaution {
    /// The highest κ the falls can raise it to (3).
    pub max_penalty: f32,
    /// κ's change per fall above the tolerated rate (1).
    pub step_size: f32,
    /// The tolerated falls per 1000 training steps (1): at this rate κ holds still.
    pub falls_per_1000_steps: f32,
    /// Episodes ending before this env step leave κ alone (2500): early falls, while model and
    /// actor know little, happen to every seed and do not say that plans are too bold.
    pub from_step: u64,
    /// The κ of the first plans (`None`: the planner's κ). Above the planner's κ it makes the
    /// early data cautious — the fall-prone seeds stop falling only when κ is high from the first
    /// plan — while clean episodes after `from_step` bring κ back down to the planner's.
    pub start_penalty: Option<f32>,
}

impl Default for FallCaution {
    fn default() -> Self {
        Self { max_penalty: 3.0, step_size: 1.0, falls_per_1000_steps: 1.0, from_step: 2500, start_penalty: None }
    }
}

/// When a learned-model planner (DeMoRL, PETS-like MPC) starts choosing the executed actions.
/// Until then DeMoRL's actor acts, sampling as SAC explores (PETS keeps drawing uniform random
/// actions), so the first data are not the plans of a model fitted on a few hundred steps.
/// Evaluations play the planner from the first fit either way (the actor has its own column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum PlannerStart {
    /// From the end of warm-up, at the first model fit (the paper's loop; every run before the
    /// option).
    #[default]
    WarmUp,
    /// From this env step on (and not before the first fit).
    Step(u64),
    /// From the first model fit whose elite hold-out error (`train.csv`'s `model_holdout_mse`)
    /// is at most this: a schedule on the data rather than on the clock.
    ModelError(f32),
}

impl PlannerStart {
    /// Whether the planner may take over at `env_steps`, the last fit's elite hold-out error
    /// being `model_error` (asked only once the model is fitted and warm-up is over).
    pub fn reached(self, env_steps: u64, model_error: Option<f32>) -> bool {
        match self {
            Self::WarmUp => true,
            Self::Step(step) => env_steps >= step,
            Self::ModelError(limit) => model_error.is_some_and(|error| error <= limit),
        }
    }
}

/// Learning schedule and learner settings of a run (everything but the planner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    /// Env steps with uniform random actions before the agent acts itself (1000).
    pub warmup_steps: u64,
    /// SAC gradient updates per env step once warm-up is over (1).
    pub updates_per_step: usize,
    /// Replay capacity in transitions (1,000,000).
    pub replay_capacity: usize,
    /// Evaluate every this many env steps (1000); also once at step 0.
    pub eval_every: u64,
    /// Deterministic episodes per evaluation (5).
    pub eval_episodes: usize,
    /// One `train.csv` row per this many env steps, averaging the losses in between (100).
    pub log_every: u64,
    /// Refit the dynamics ensemble every this many env steps (250).
    pub model_train_every: u64,
    /// SAC hyper-parameters.
    pub sac: SacSettings,
    /// Dynamics-ensemble hyper-parameters.
    pub ensemble: EnsembleSettings,
    /// Model-generated transitions for SAC (DeMoRL only; off by default).
    pub model_data: ModelDataSettings,
    /// Train in worlds drawn per episode from the scene's `task.randomize` ranges (false: the
    /// nominal world). Evaluation stays in `eval_world`.
    pub randomize: bool,
    /// Evaluate in this named world of the scene's `task.worlds` (None: the nominal world).
    pub eval_world: Option<String>,
    /// `Some(s)`: actions are residuals around the scene's gait (its planner's `nominal`
    /// schedule), step t executing `clamp(gait(t) + s · action)`, so SAC, the model and the
    /// planner learn corrections to the trot (residual policies are the usual practice for
    /// legged robots); `s` < 1 keeps random warm-up and early exploration near the gait. `None`:
    /// the agent outputs whole actions. Give the task a `Phase` observation with the gait's
    /// period so that the policy and the model know where in the cycle they are.
    pub gait_residual: Option<f32>,
    /// When the planner starts acting (learned-model modes; [`PlannerStart`]).
    pub planner_start: PlannerStart,
    /// DeMoRL: the env step from which plans end in SAC's critic (`planner.terminal_value`);
    /// before it, in training and in evaluations, they score the model's predicted rewards
    /// only, as PETS, so a critic trained on a few thousand steps cannot steer them (0: from the
    /// first plan, the paper's loop).
    pub terminal_value_start: u64,
    /// Learned-model planners: κ (`planner.disagreement_penalty`) that follows the training
    /// falls (`None`: κ stays as set). See [`FallCaution`].
    pub fall_caution: Option<FallCaution>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            warmup_steps: 1000,
            updates_per_step: 1,
            replay_capacity: 1_000_000,
            eval_every: 1000,
            eval_episodes: 5,
            log_every: 100,
            model_train_every: 250,
            sac: SacSettings::default(),
            ensemble: EnsembleSettings::default(),
            model_data: ModelDataSettings::default(),
            randomize: false,
            eval_world: None,
            gait_residual: None,
            planner_start: PlannerStart::WarmUp,
            terminal_value_start: 0,
            fall_caution: None,
        }
    }
}
