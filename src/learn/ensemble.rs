//! PETS-style probabilistic ensemble: `E` Gaussian MLPs trained with the NLL, hold-out early
//! stopping that restores each member's best snapshot, and elite selection (ALGORITHM.md §4).
//!
//! The members are stacked (`[E, in, out]` weights, see `net.rs`), so a training step or a
//! prediction runs one batched matmul per layer for all of them.

use std::borrow::Cow;
use std::path::Path;

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::ensemble_grad::{self, HostAdam, LossTerms, StackShape};
use super::infer::{FastEnsemble, InferScratch, StackView};
use super::net::{Init, StackedMlp, copy_member, set_param, to_vec};
use super::normalizer::Normalizer;
use super::record_file::{load_module, load_optimizer, load_state, save_module, save_optimizer, save_state};
use crate::config::{Activation, EnsembleBackend, EnsembleSettings};

/// What one [`ProbabilisticEnsemble::fit`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Training epochs run.
    pub epochs: usize,
    /// Whether patience ran out before `max_epochs`.
    pub early_stopped: bool,
    /// Rows used for training.
    pub train_size: usize,
    /// Rows held out.
    pub holdout_size: usize,
    /// Indices (into the fitted data) of the held-out rows.
    pub holdout_indices: Vec<usize>,
    /// Per member: hold-out MSE (standardised targets) of the restored snapshot.
    pub best_holdout_mse: Vec<f32>,
    /// Per member: the epoch of the restored snapshot (0 = the weights before this fit).
    pub best_epoch: Vec<usize>,
    /// Hold-out MSE per member after every epoch; entry 0 is before training.
    pub holdout_history: Vec<Vec<f32>>,
    /// Mean training loss (NLL + penalties, summed over members) per epoch.
    pub train_loss: Vec<f32>,
    /// Elite members, best first.
    pub elites: Vec<usize>,
    /// The refit guard kept the previous model; `best_holdout_mse` then holds the previous
    /// model's errors on this fit's hold-out rows (in this fit's standardised units).
    pub kept_previous: bool,
    /// Per output (reward first, then each Δstate dimension): the elites' mean hold-out MSE of
    /// the model in use after the fit, in this fit's standardised units (as `best_holdout_mse`).
    /// Shows which outputs the model gets wrong.
    pub holdout_mse_per_output: Vec<f32>,
    /// The elites' mean predicted log-variance on the hold-out rows, over rows and outputs, in
    /// the same standardised units. Level with the log of the hold-out MSE is calibrated; far
    /// below it the members are overconfident (the state cheetah seed 4's stalled refits kept,
    /// docs/RESULTS.md); far above it they claim more noise than they show.
    pub holdout_mean_logvar: f32,
    /// The refit stalled: it started from a fitted model and no member improved on its start
    /// within the patience, so (without `restart_stalled`) the model is the previous one,
    /// unchanged — what kept cheetah seed 4's and Go1's models at a high error for thousands of
    /// env steps (docs/RESULTS.md).
    #[serde(default)]
    pub stalled: bool,
    /// The warm-started refit stalled and the model refitted from fresh weights was kept
    /// (`restart_stalled`). Whenever a restart was tried, kept or not, the epochs, losses and
    /// hold-out history run on through the fresh fit's epochs.
    pub restarted: bool,
}

impl FitReport {
    /// The elites' mean hold-out MSE: the model error `train.csv` records.
    pub fn elite_holdout_mse(&self) -> f32 {
        mean_over(&self.best_holdout_mse, &self.elites)
    }
}

/// The mean of `errors` over the members `elites`.
fn mean_over(errors: &[f32], elites: &[usize]) -> f32 {
    elites.iter().map(|&m| errors[m]).sum::<f32>() / elites.len() as f32
}

/// Gaussian predictions of every member in data units, each `[E, n, out]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Members `E`.
    pub members: usize,
    /// Rows `n`.
    pub n: usize,
    /// Output width.
    pub out_dim: usize,
    /// Predicted means.
    pub mean: Vec<f32>,
    /// Predicted (aleatoric) variances.
    pub var: Vec<f32>,
}

/// The trainable part: stacked member MLPs and the per-member log-variance bounds `[E, 1, out]`.
#[derive(Module, Debug)]
struct EnsembleNet {
    mlp: StackedMlp,
    max_logvar: Param<Tensor<3>>,
    min_logvar: Param<Tensor<3>>,
}

impl EnsembleNet {
    /// `x [E|1, B, in]` (standardised) → mean and soft-clamped log-variance, each `[E, B, out]`.
    fn forward(&self, x: Tensor<3>, act: Activation, learn_bounds: bool) -> (Tensor<3>, Tensor<3>) {
        let out = self.mlp.forward(x, act);
        let d = out.dims()[2] / 2;
        let mean = out.clone().narrow(2, 0, d);
        let raw = out.narrow(2, d, d);
        let (mut hi, mut lo) = (self.max_logvar.val(), self.min_logvar.val());
        if !learn_bounds {
            // Fixed bounds: no gradient reaches them, so the optimiser leaves them alone.
            hi = hi.detach();
            lo = lo.detach();
        }
        // Smooth clamp into [lo, hi]: softplus approaches max(·, 0) without killing gradients.
        let logvar = hi.clone() - softplus(hi - raw, 1.0);
        let logvar = lo.clone() + softplus(logvar - lo, 1.0);
        (mean, logvar)
    }

    fn to_host(&self) -> Vec<Vec<f32>> {
        let mut host = self.mlp.to_host();
        host.push(to_vec(self.max_logvar.val()));
        host.push(to_vec(self.min_logvar.val()));
        host
    }

    fn load_host(self, host: &[Vec<f32>]) -> Self {
        let k = host.len() - 2;
        Self {
            mlp: self.mlp.load_host(&host[..k]),
            max_logvar: set_param(self.max_logvar, host[k].clone()),
            min_logvar: set_param(self.min_logvar, host[k + 1].clone()),
        }
    }
}

/// The `k` members with the lowest hold-out error, best first (ties keep the lower index).
pub fn select_elites(holdout_mse: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..holdout_mse.len()).collect();
    order.sort_by(|&a, &b| holdout_mse[a].total_cmp(&holdout_mse[b]).then(a.cmp(&b)));
    order.truncate(k.min(holdout_mse.len()));
    order
}

/// Rows `idx` of a row-major `dim`-wide array, appended to `out`.
fn gather_rows(src: &[f32], dim: usize, idx: &[usize], out: &mut Vec<f32>) {
    for &i in idx {
        out.extend_from_slice(&src[i * dim..(i + 1) * dim]);
    }
}

fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.random_range(0..=i));
    }
}

/// A probabilistic ensemble dynamics model with its standardisation and optimiser state.
pub struct ProbabilisticEnsemble {
    settings: EnsembleSettings,
    in_dim: usize,
    out_dim: usize,
    device: Device,
    model: Trainable,
    input_norm: Normalizer,
    output_norm: Normalizer,
    rng: ChaCha8Rng,
    holdout_mse: Vec<f32>,
    elites: Vec<usize>,
}

impl ProbabilisticEnsemble {
    /// A fresh ensemble mapping `in_dim` inputs to `out_dim` Gaussian outputs. All randomness
    /// (weights, splits, minibatches) comes from `seed`.
    pub fn new(in_dim: usize, out_dim: usize, settings: EnsembleSettings, seed: u64) -> Self {
        assert!(settings.members > 0 && settings.elites > 0 && settings.elites <= settings.members);
        let device = Device::flex().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let e = settings.members;
        let net = fresh_net(in_dim, out_dim, &settings, &mut rng, &device);
        Self {
            in_dim,
            out_dim,
            device,
            model: Trainable::new(net, settings.backend),
            input_norm: Normalizer::identity(in_dim),
            output_norm: Normalizer::identity(out_dim),
            rng,
            holdout_mse: vec![f32::INFINITY; e],
            elites: (0..settings.elites).collect(),
            settings,
        }
    }

    /// The settings this ensemble was built with.
    pub fn settings(&self) -> &EnsembleSettings {
        &self.settings
    }

    /// Forgets Adam's moments, as if the next fit were the first (the weights stay).
    pub fn reset_optimizer(&mut self) {
        self.model.reset_optimizer();
    }

    /// Replaces the training settings used by later fits (loss, schedule, early stopping,
    /// elites). The architecture is fixed by the weights: changing the member count, depth, width
    /// or activation is refused.
    pub fn set_training_settings(&mut self, settings: EnsembleSettings) -> anyhow::Result<()> {
        let shape = |s: &EnsembleSettings| (s.members, s.hidden_layers, s.hidden_width, s.activation);
        if shape(&settings) != shape(&self.settings) {
            anyhow::bail!("the ensemble's members, hidden_layers, hidden_width and activation cannot change");
        }
        if settings.elites == 0 || settings.elites > settings.members {
            anyhow::bail!("elites = {} must be between 1 and members ({})", settings.elites, settings.members);
        }
        if settings.backend != self.settings.backend {
            self.model = Trainable::new(self.model.net(), settings.backend);
        }
        self.settings = settings;
        Ok(())
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    /// Output width.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Elite members (best hold-out error first) from the last fit.
    pub fn elites(&self) -> &[usize] {
        &self.elites
    }

    /// Hold-out MSE per member from the last fit (standardised targets; ∞ before any fit).
    pub fn holdout_mse(&self) -> &[f32] {
        &self.holdout_mse
    }

    /// The elites' mean hold-out MSE of the model in use (what the last fit's
    /// [`FitReport::elite_holdout_mse`] reported; kept in checkpoints), `None` before any fit or
    /// when it is not finite.
    pub fn elite_holdout_mse(&self) -> Option<f32> {
        Some(mean_over(&self.holdout_mse, &self.elites)).filter(|e| e.is_finite())
    }

    /// Input standardisation in use.
    pub fn input_normalizer(&self) -> &Normalizer {
        &self.input_norm
    }

    /// Output standardisation in use.
    pub fn output_normalizer(&self) -> &Normalizer {
        &self.output_norm
    }

    /// Every parameter flattened in a fixed order (for checks and fingerprints): weights and
    /// biases layer by layer (`[E, …]` each), then the log-variance upper and lower bounds
    /// (`E × out_dim` each).
    pub fn parameters(&self) -> Vec<f32> {
        self.model.host().concat()
    }

    /// Multiplies every parameter of member `m` by `factor`. A diagnostic / test hook: it lets a
    /// test degrade one member mid-fit and check that its best snapshot comes back.
    pub fn scale_member(&mut self, m: usize, factor: f32) {
        let e = self.settings.members;
        let mut host = self.model.host().into_owned();
        for p in &mut host {
            let block = p.len() / e;
            p[m * block..(m + 1) * block].iter_mut().for_each(|x| *x *= factor);
        }
        self.model.set_host(host);
    }

    /// Layer widths of one member: inputs, hidden layers, `2 × out_dim` outputs.
    pub fn layer_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.in_dim];
        sizes.extend(std::iter::repeat_n(self.settings.hidden_width, self.settings.hidden_layers));
        sizes.push(2 * self.out_dim);
        sizes
    }

    /// A forward-only host copy of members `keep` (in that order) with the current
    /// standardisation, for fast batched inference in the planner.
    pub fn fast_members(&self, keep: &[usize]) -> FastEnsemble {
        assert!(keep.iter().all(|&m| m < self.settings.members), "member index out of range");
        FastEnsemble::from_host(
            &self.layer_sizes(),
            &self.model.host(),
            self.settings.members,
            keep,
            self.settings.activation,
            self.input_norm.clone(),
            self.output_norm.clone(),
        )
    }

    /// [`fast_members`](Self::fast_members) of the elites, best first.
    pub fn fast_elites(&self) -> FastEnsemble {
        self.fast_members(&self.elites.clone())
    }

    /// Per-member mean and variance in data units for `inputs` (`n × in_dim`).
    pub fn predict(&self, inputs: &[f32]) -> Prediction {
        let n = inputs.len() / self.in_dim;
        let x = self.input_norm.normalize(inputs);
        let (mut mean, logvar) = match &self.model {
            Trainable::Burn { net, .. } => {
                let (mean, logvar) = net.valid().forward(
                    self.input_tensor(&self.device.clone().inner(), x, n),
                    self.settings.activation,
                    false,
                );
                (to_vec(mean), to_vec(logvar))
            }
            Trainable::Host { params, .. } => {
                let (means, logvars): (Vec<_>, Vec<_>) = self.host_forward(params, &x, n).into_iter().unzip();
                (means.concat(), logvars.concat())
            }
        };
        let mut var: Vec<f32> = logvar.into_iter().map(f32::exp).collect();
        self.output_norm.denormalize_in_place(&mut mean);
        self.output_norm.denormalize_variance_in_place(&mut var);
        Prediction { members: self.settings.members, n, out_dim: self.out_dim, mean, var }
    }

    /// Per-member MSE of the predicted means on (`inputs`, `targets`), in standardised target
    /// units — the criterion of early stopping and elite selection.
    pub fn evaluate_mse(&self, inputs: &[f32], targets: &[f32]) -> Vec<f32> {
        let n = inputs.len() / self.in_dim;
        self.mse_standardised(&self.input_norm.normalize(inputs), &self.output_norm.normalize(targets), n)
    }

    fn input_tensor(&self, device: &Device, data: Vec<f32>, n: usize) -> Tensor<3> {
        Tensor::from_data(TensorData::new(data, [1, n, self.in_dim]), device)
    }

    /// Every member's standardised mean and log-variance for `n` standardised inputs, read
    /// straight from the host backend's weights `params`: members, and halves of the rows when
    /// there are many, in parallel (seven members alone leave one of two cores idle an eighth of
    /// the time), each thread reusing its own layer buffers.
    fn host_forward(&self, params: &[Vec<f32>], x: &[f32], n: usize) -> Vec<(Vec<f32>, Vec<f32>)> {
        // Nothing inside a member's pass waits on rayon (the products run single-threaded), so a
        // thread never re-enters this while it holds its buffers.
        thread_local! {
            static SCRATCH: std::cell::RefCell<InferScratch> = std::cell::RefCell::default();
        }
        let sizes = self.layer_sizes();
        let view = StackView { sizes: &sizes, params, activation: self.settings.activation };
        let parts = if n >= 512 { 2 } else { 1 };
        let chunk = n.div_ceil(parts);
        let tasks: Vec<(usize, usize)> =
            (0..self.settings.members).flat_map(|m| (0..parts).map(move |p| (m, p * chunk))).collect();
        let outputs: Vec<(Vec<f32>, Vec<f32>)> = tasks
            .into_par_iter()
            .map(|(m, start)| {
                let rows = chunk.min(n - start);
                let rows_x = &x[start * self.in_dim..(start + rows) * self.in_dim];
                let (mut mean, mut logvar) = (Vec::new(), Vec::new());
                SCRATCH.with_borrow_mut(|scratch| {
                    view.forward_standardised(m, rows_x, rows, scratch, &mut mean, &mut logvar)
                });
                (mean, logvar)
            })
            .collect();
        let join = |parts: &[(Vec<f32>, Vec<f32>)]| {
            (
                parts.iter().flat_map(|p| p.0.iter().copied()).collect(),
                parts.iter().flat_map(|p| p.1.iter().copied()).collect(),
            )
        };
        outputs.chunks(parts).map(join).collect()
    }

    /// Per-member MSE on already standardised data.
    fn mse_standardised(&self, x: &[f32], y: &[f32], n: usize) -> Vec<f32> {
        let net = match &self.model {
            Trainable::Host { params, .. } => {
                let squared_error =
                    |mean: &[f32]| mean.iter().zip(y).map(|(m, t)| f64::from(m - t).powi(2)).sum::<f64>();
                let per_member = self.host_forward(params, x, n).into_iter().map(|(mean, _)| squared_error(&mean));
                return per_member.map(|sum| (sum / (n * self.out_dim) as f64) as f32).collect();
            }
            Trainable::Burn { net, .. } => net.valid(),
        };
        let device = self.device.clone().inner();
        let x = self.input_tensor(&device, x.to_vec(), n);
        let y = Tensor::<3>::from_data(TensorData::new(y.to_vec(), [1, n, self.out_dim]), &device);
        let (mean, _) = net.forward(x, self.settings.activation, false);
        let e = self.settings.members;
        to_vec((mean - y).square().reshape([e, n * self.out_dim]).mean_dim(1))
    }

    /// Refits the standardisation and trains on (`inputs`, `targets`), row-major
    /// `n × in_dim` / `n × out_dim`, with hold-out early stopping; restores each member's best
    /// snapshot and re-selects the elites.
    pub fn fit(&mut self, inputs: &[f32], targets: &[f32]) -> FitReport {
        self.fit_observed(inputs, targets, |_, _| {})
    }

    /// [`fit`](Self::fit) calling `after_epoch(epoch, self)` after each training epoch, before
    /// the hold-out evaluation (for progress display, or to inject faults in tests).
    pub fn fit_observed(
        &mut self,
        inputs: &[f32],
        targets: &[f32],
        mut after_epoch: impl FnMut(usize, &mut Self),
    ) -> FitReport {
        let (din, dout, e) = (self.in_dim, self.out_dim, self.settings.members);
        let n = inputs.len() / din;
        assert_eq!(inputs.len(), n * din, "inputs are not n × in_dim");
        assert_eq!(targets.len(), n * dout, "targets do not match the inputs");
        assert!(n >= 2, "need at least two rows to hold one out");

        // Hold-out split, then standardisation fitted on the training rows only.
        let mut perm: Vec<usize> = (0..n).collect();
        shuffle(&mut perm, &mut self.rng);
        let n_hold = ((n as f32 * self.settings.holdout_fraction).round() as usize)
            .min(self.settings.max_holdout)
            .clamp(1, n - 1);
        let (hold_idx, train_idx) = perm.split_at(n_hold);
        // Before this fit's end, `holdout_mse` is the previous fit's (infinite before any fit).
        let warm_start = self.holdout_mse.iter().all(|m| m.is_finite());
        // The model before this fit, for the refit guard (only once there has been a fit).
        let previous = (self.settings.refit_guard.is_some() && warm_start).then(|| PreviousModel {
            model: self.model.clone(),
            input_norm: self.input_norm.clone(),
            output_norm: self.output_norm.clone(),
            elites: self.elites.clone(),
        });
        let (mut xt, mut yt, mut xh, mut yh) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        gather_rows(inputs, din, train_idx, &mut xt);
        gather_rows(targets, dout, train_idx, &mut yt);
        gather_rows(inputs, din, hold_idx, &mut xh);
        gather_rows(targets, dout, hold_idx, &mut yh);
        self.input_norm = Normalizer::fit(&xt, din, self.settings.std_floor);
        self.output_norm = Normalizer::fit(&yt, dout, self.settings.std_floor);
        self.input_norm.normalize_in_place(&mut xt);
        self.output_norm.normalize_in_place(&mut yt);
        self.input_norm.normalize_in_place(&mut xh);
        self.output_norm.normalize_in_place(&mut yh);
        let n_train = train_idx.len();

        // Each member trains on its own index list (a bootstrap resample or the whole split).
        let mut member_idx: Vec<Vec<usize>> = (0..e)
            .map(|_| {
                if self.settings.bootstrap {
                    (0..n_train).map(|_| self.rng.random_range(0..n_train)).collect()
                } else {
                    (0..n_train).collect()
                }
            })
            .collect();

        let split = Split { xt: &xt, yt: &yt, xh: &xh, yh: &yh };
        let mut best = self.mse_standardised(&xh, &yh, n_hold);
        let mut report = FitReport {
            train_size: n_train,
            holdout_size: n_hold,
            holdout_indices: hold_idx.to_vec(),
            best_epoch: vec![0; e],
            holdout_history: vec![best.clone()],
            ..Default::default()
        };
        self.train_until_stale(&split, &mut member_idx, &mut best, &mut report, &mut after_epoch);
        report.stalled = warm_start && report.best_epoch.iter().all(|&b| b == 0);
        if self.settings.restart_stalled && report.stalled {
            self.refit_from_fresh_weights(&split, &mut member_idx, &mut best, &mut report, &mut after_epoch);
        }
        let mut elites = select_elites(&best, self.settings.elites);
        let (mut hx, mut hy) = (Vec::new(), Vec::new());
        gather_rows(inputs, din, hold_idx, &mut hx);
        gather_rows(targets, dout, hold_idx, &mut hy);
        // One evaluation of the fitted model in its own standardisation serves the guard and the
        // per-output report.
        let units = self.output_norm.clone();
        let mut errors = self.error_table(&hx, &hy, &units);
        if let (Some(ratio), Some(previous)) = (self.settings.refit_guard, previous)
            && let Some(kept) =
                self.keep_previous_if_much_better(previous, ratio, (&hx, &hy), (&errors, &elites), &units)
        {
            (errors, elites) = kept;
            best = errors.per_member();
            report.kept_previous = true;
        }
        report.holdout_mse_per_output = errors.per_output(&elites);
        report.holdout_mean_logvar = errors.mean_logvar(&elites);
        self.elites = elites;
        self.holdout_mse = best.clone();
        report.best_holdout_mse = best;
        report.elites = self.elites.clone();
        report
    }
}

/// Freshly initialised members mapping `in_dim` inputs to `out_dim` Gaussian outputs.
fn fresh_net(
    in_dim: usize,
    out_dim: usize,
    settings: &EnsembleSettings,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> EnsembleNet {
    let e = settings.members;
    let mut sizes = vec![in_dim];
    sizes.extend(std::iter::repeat_n(settings.hidden_width, settings.hidden_layers));
    sizes.push(2 * out_dim);
    let bound = |v: f32| Param::from_data(TensorData::new(vec![v; e * out_dim], [e, 1, out_dim]), device);
    EnsembleNet {
        mlp: StackedMlp::new(e, &sizes, Init::TruncatedNormal, rng, device),
        max_logvar: bound(settings.max_logvar),
        min_logvar: bound(settings.min_logvar),
    }
}

/// The members' weights and Adam's state, on the backend that trains them.
#[derive(Clone)]
enum Trainable {
    /// burn's parameters, trained with its autodiff and Adam.
    Burn { net: EnsembleNet, optim: ModuleOptimizer },
    /// Host buffers in `to_host` order, trained by `ensemble_grad` and read in place by the
    /// hold-out checks and predictions (no copies through burn); `layout` is burn's module, kept
    /// only to write and read the same weight file.
    Host { params: Vec<Vec<f32>>, adam: HostAdam, layout: EnsembleNet },
}

impl Trainable {
    /// `net`'s weights with zero Adam moments, on `backend`.
    fn new(net: EnsembleNet, backend: EnsembleBackend) -> Self {
        match backend {
            EnsembleBackend::Burn => Trainable::Burn { net, optim: fresh_burn_adam() },
            EnsembleBackend::Host => Trainable::Host { params: net.to_host(), adam: HostAdam::default(), layout: net },
        }
    }

    /// The weights as burn's module (built from the buffers on the host backend).
    fn net(&self) -> EnsembleNet {
        match self {
            Trainable::Burn { net, .. } => net.clone(),
            Trainable::Host { params, layout, .. } => layout.clone().load_host(params),
        }
    }

    /// The weights in `to_host` order (borrowed on the host backend).
    fn host(&self) -> Cow<'_, [Vec<f32>]> {
        match self {
            Trainable::Burn { net, .. } => Cow::Owned(net.to_host()),
            Trainable::Host { params, .. } => Cow::Borrowed(params),
        }
    }

    /// Replaces the weights by `host` (`to_host` order, same shapes); Adam's state stays.
    fn set_host(&mut self, host: Vec<Vec<f32>>) {
        match self {
            Trainable::Burn { net, .. } => *net = net.clone().load_host(&host),
            Trainable::Host { params, .. } => *params = host,
        }
    }

    /// Forgets Adam's moments (the weights stay).
    fn reset_optimizer(&mut self) {
        match self {
            Trainable::Burn { optim, .. } => *optim = fresh_burn_adam(),
            Trainable::Host { adam, .. } => *adam = HostAdam::default(),
        }
    }
}

/// burn's Adam with the ensemble's ε and zero moments.
fn fresh_burn_adam() -> ModuleOptimizer {
    AdamConfig::new().with_epsilon(ensemble_grad::ADAM_EPSILON).init()
}

/// The training loss for one stacked minibatch (`x [E, B, in]`, `y [E, B, out]`): per member
/// `mean((μ−y)² e^{−logvar}) + mean(logvar)`, summed over members, plus the penalties;
/// with `nll_beta` β > 0 each element is weighted by the constant `e^{β·logvar}`.
fn loss_tensor(net: &EnsembleNet, s: &EnsembleSettings, x: Tensor<3>, y: Tensor<3>) -> Tensor<1> {
    let [_, b, d] = y.dims();
    let (mean, logvar) = net.forward(x, s.activation, s.learn_logvar_bounds);
    let nll = gaussian_nll_sum(mean, logvar, y, s.nll_beta).div_scalar((b * d) as f32);
    let mut loss = nll + net.mlp.weight_square_sum().mul_scalar(0.5 * s.weight_decay);
    if s.learn_logvar_bounds {
        let spread = net.max_logvar.val().sum() - net.min_logvar.val().sum();
        loss = loss + spread.mul_scalar(s.logvar_bound_penalty);
    }
    loss
}

/// `Σ w·((μ−y)² e^{−logvar} + logvar)` over all elements, with the β-NLL weight
/// `w = e^{β·logvar}` held constant in the gradient (`w = 1` when β = 0).
fn gaussian_nll_sum(mean: Tensor<3>, logvar: Tensor<3>, y: Tensor<3>, beta: f32) -> Tensor<1> {
    let nll = (mean - y).square() * logvar.clone().neg().exp() + logvar.clone();
    if beta > 0.0 { (nll * logvar.detach().mul_scalar(beta).exp()).sum() } else { nll.sum() }
}

/// One fit's standardised training and hold-out rows.
struct Split<'a> {
    xt: &'a [f32],
    yt: &'a [f32],
    xh: &'a [f32],
    yh: &'a [f32],
}

impl ProbabilisticEnsemble {
    /// One pass over the training split in minibatches (each member its own order), on the
    /// backend's optimiser; returns the mean minibatch loss.
    fn train_epoch(&mut self, split: &Split, member_idx: &[Vec<usize>]) -> f32 {
        let (din, dout, e) = (self.in_dim, self.out_dim, self.settings.members);
        let n_train = split.xt.len() / din;
        let batch = self.settings.batch_size.max(1);
        let mut scratch = Vec::new();
        let (shape, terms, lr) = (self.stack_shape(), self.loss_terms(), self.settings.learning_rate);
        let (mut loss_sum, mut steps) = (0.0f64, 0usize);
        for start in (0..n_train).step_by(batch) {
            let end = (start + batch).min(n_train);
            let (mut xb, mut yb) = (Vec::new(), Vec::new());
            for idx in member_idx {
                gather_rows(split.xt, din, &idx[start..end], &mut xb);
                gather_rows(split.yt, dout, &idx[start..end], &mut yb);
            }
            let loss = match &mut self.model {
                Trainable::Host { params, adam, .. } => {
                    ensemble_grad::train_step(&shape, params, adam, &mut scratch, (&xb, &yb), terms, lr)
                }
                Trainable::Burn { net, optim } => {
                    let b = end - start;
                    let x = Tensor::<3>::from_data(TensorData::new(xb, [e, b, din]), &self.device);
                    let y = Tensor::<3>::from_data(TensorData::new(yb, [e, b, dout]), &self.device);
                    let loss = loss_tensor(net, &self.settings, x, y);
                    let grads = GradientsParams::from_grads(loss.backward(), &*net);
                    *net = optim.step(lr, net.clone(), grads);
                    loss.into_scalar::<f32>()
                }
            };
            loss_sum += f64::from(loss);
            steps += 1;
        }
        (loss_sum / steps.max(1) as f64) as f32
    }

    /// The stacked parameters' shapes, for the host backend.
    fn stack_shape(&self) -> StackShape {
        StackShape { sizes: self.layer_sizes(), members: self.settings.members }
    }

    /// The loss's terms as the settings choose them, for the host backend.
    fn loss_terms(&self) -> LossTerms {
        let s = &self.settings;
        LossTerms {
            activation: s.activation,
            nll_beta: s.nll_beta,
            weight_decay: s.weight_decay,
            bound_penalty: s.learn_logvar_bounds.then_some(s.logvar_bound_penalty),
        }
    }

    /// Trains from the current weights until no member improves its hold-out MSE (`best`, per
    /// member, updated) for `patience` epochs or `max_epochs` have run, then restores each
    /// member's best snapshot. Epochs are numbered on from `report.epochs`.
    fn train_until_stale(
        &mut self,
        split: &Split,
        member_idx: &mut [Vec<usize>],
        best: &mut [f32],
        report: &mut FitReport,
        after_epoch: &mut impl FnMut(usize, &mut Self),
    ) {
        let e = self.settings.members;
        let n_hold = split.xh.len() / self.in_dim;
        let mut snapshot = self.model.host().into_owned();
        let first_epoch = report.epochs + 1;
        let mut stale_epochs = 0;
        for epoch in first_epoch..first_epoch + self.settings.max_epochs {
            member_idx.iter_mut().for_each(|idx| shuffle(idx, &mut self.rng));
            let mean_loss = self.train_epoch(split, member_idx);
            report.train_loss.push(mean_loss);
            report.epochs = epoch;
            after_epoch(epoch, self);

            let mse = self.mse_standardised(split.xh, split.yh, n_hold);
            let mut current = None;
            let mut improved = false;
            for m in 0..e {
                if (best[m] - mse[m]) / best[m] > self.settings.min_improvement {
                    best[m] = mse[m];
                    report.best_epoch[m] = epoch;
                    let current = current.get_or_insert_with(|| self.model.host());
                    copy_member(&mut snapshot, current, e, m);
                    improved = true;
                }
            }
            report.holdout_history.push(mse);
            stale_epochs = if improved { 0 } else { stale_epochs + 1 };
            if stale_epochs >= self.settings.patience {
                report.early_stopped = true;
                break;
            }
        }
        // Restore every member's best snapshot (the reference implementation forgets to).
        self.model.set_host(snapshot);
    }

    /// `restart_stalled`: trains fresh weights with a fresh optimiser on the same split and keeps
    /// them if their elites beat the stalled model's on the hold-out rows; otherwise puts the
    /// stalled model (weights, optimiser, errors, best epochs) back.
    fn refit_from_fresh_weights(
        &mut self,
        split: &Split,
        member_idx: &mut [Vec<usize>],
        best: &mut Vec<f32>,
        report: &mut FitReport,
        after_epoch: &mut impl FnMut(usize, &mut Self),
    ) {
        let stalled_best_epoch = report.best_epoch.clone();
        let device = self.device.clone();
        let fresh = fresh_net(self.in_dim, self.out_dim, &self.settings, &mut self.rng, &device);
        let stalled = std::mem::replace(&mut self.model, Trainable::new(fresh, self.settings.backend));
        let mut fresh_best = self.mse_standardised(split.xh, split.yh, split.xh.len() / self.in_dim);
        self.train_until_stale(split, member_idx, &mut fresh_best, report, after_epoch);
        let elite_mean = |errors: &[f32]| mean_over(errors, &select_elites(errors, self.settings.elites));
        if elite_mean(&fresh_best) < elite_mean(best) {
            *best = fresh_best;
            report.restarted = true;
        } else {
            self.model = stalled;
            report.best_epoch = stalled_best_epoch;
        }
    }
}

/// The fitted state a refit replaces, kept for the refit guard.
struct PreviousModel {
    /// Weights and Adam's moments before the fit, so a rejected fit leaves no trace in the next one.
    model: Trainable,
    input_norm: Normalizer,
    output_norm: Normalizer,
    elites: Vec<usize>,
}

impl ProbabilisticEnsemble {
    /// The refit guard: compares the freshly fitted model's elites (`new_elites`, errors
    /// `new_errors`) with `previous` on the raw hold-out rows, both in the new standardised units
    /// `units`. If the new elites' mean error exceeds `ratio` times the previous elites', the
    /// previous model is reinstated and its error table and elites are returned; otherwise
    /// nothing changes.
    fn keep_previous_if_much_better(
        &mut self,
        previous: PreviousModel,
        ratio: f32,
        (hold_x, hold_y): (&[f32], &[f32]),
        (new_errors, new_elites): (&ErrorTable, &[usize]),
        units: &Normalizer,
    ) -> Option<(ErrorTable, Vec<usize>)> {
        let fitted = (
            std::mem::replace(&mut self.model, previous.model),
            std::mem::replace(&mut self.input_norm, previous.input_norm),
            std::mem::replace(&mut self.output_norm, previous.output_norm),
        );
        let old_errors = self.error_table(hold_x, hold_y, units);
        // NaN on the new side (a diverged fit) also keeps the previous model.
        let new_err = new_errors.elite_mean(new_elites);
        if new_err.is_nan() || new_err > ratio * old_errors.elite_mean(&previous.elites) {
            return Some((old_errors, previous.elites));
        }
        (self.model, self.input_norm, self.output_norm) = fitted;
        None
    }

    /// Every member's MSE per output of the predicted means on raw rows, standardised by
    /// `units`' deviations, so models with different standardisations can be compared.
    fn error_table(&self, inputs: &[f32], targets: &[f32], units: &Normalizer) -> ErrorTable {
        let p = self.predict(inputs);
        let (n, d) = (p.n, p.out_dim);
        let member = |m: usize| m * n * d..(m + 1) * n * d;
        let mse = (0..p.members)
            .map(|m| {
                let mut sums = vec![0.0f64; d];
                for (k, (mu, y)) in p.mean[member(m)].iter().zip(targets).enumerate() {
                    sums[k % d] += (((mu - y) / units.std()[k % d]) as f64).powi(2);
                }
                sums.iter().map(|s| s / n as f64).collect()
            })
            .collect();
        let logvar = (0..p.members)
            .map(|m| {
                let standardised =
                    p.var[member(m)].iter().enumerate().map(|(k, v)| (v / units.std()[k % d].powi(2)) as f64);
                standardised.map(f64::ln).sum::<f64>() / (n * d) as f64
            })
            .collect();
        ErrorTable { mse, logvar }
    }
}

/// Hold-out MSE of every member (outer) and output (inner), in one standardisation.
struct ErrorTable {
    mse: Vec<Vec<f64>>,
    /// Each member's mean predicted log-variance over rows and outputs, same units.
    logvar: Vec<f64>,
}

impl ErrorTable {
    /// Each member's MSE over all outputs.
    fn per_member(&self) -> Vec<f32> {
        self.mse.iter().map(|outputs| (outputs.iter().sum::<f64>() / outputs.len() as f64) as f32).collect()
    }

    /// Each output's MSE, averaged over `members`.
    fn per_output(&self, members: &[usize]) -> Vec<f32> {
        let d = self.mse.first().map_or(0, Vec::len);
        (0..d).map(|k| (members.iter().map(|&m| self.mse[m][k]).sum::<f64>() / members.len() as f64) as f32).collect()
    }

    /// The mean over `members` of their mean predicted log-variance.
    fn mean_logvar(&self, members: &[usize]) -> f32 {
        (members.iter().map(|&m| self.logvar[m]).sum::<f64>() / members.len() as f64) as f32
    }

    /// The mean over `members` of their MSE over all outputs.
    fn elite_mean(&self, members: &[usize]) -> f32 {
        mean_over(&self.per_member(), members)
    }
}

/// The host backend's Adam state inside a saved ensemble's folder.
const HOST_ADAM_FILE: &str = "ensemble_host_adam.bin";

/// The non-tensor part of a saved ensemble.
#[derive(Serialize, Deserialize)]
struct EnsembleState {
    in_dim: usize,
    out_dim: usize,
    settings: EnsembleSettings,
    input_norm: Normalizer,
    output_norm: Normalizer,
    rng: ChaCha8Rng,
    holdout_mse: Vec<f32>,
    elites: Vec<usize>,
}

impl ProbabilisticEnsemble {
    /// Writes weights, log-variance bounds, Adam state, normalisers, RNG and elites into `dir`.
    pub fn save_to(&self, dir: &Path) -> anyhow::Result<()> {
        let state = EnsembleState {
            in_dim: self.in_dim,
            out_dim: self.out_dim,
            settings: self.settings.clone(),
            input_norm: self.input_norm.clone(),
            output_norm: self.output_norm.clone(),
            rng: self.rng.clone(),
            holdout_mse: self.holdout_mse.clone(),
            elites: self.elites.clone(),
        };
        save_state(dir, "ensemble.ron", &state)?;
        save_module(dir, "ensemble.bpk", &self.model.net())?;
        match &self.model {
            Trainable::Burn { optim, .. } => save_optimizer(dir, "ensemble_optim.bpk", optim),
            Trainable::Host { adam, .. } => {
                let path = dir.join(HOST_ADAM_FILE);
                std::fs::write(&path, adam.to_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            }
        }
    }

    /// Reads an ensemble written by [`ProbabilisticEnsemble::save_to`].
    pub fn load_from(dir: &Path) -> anyhow::Result<Self> {
        let state: EnsembleState = load_state(dir, "ensemble.ron")?;
        let members = state.settings.members;
        if state.holdout_mse.len() != members || state.elites.iter().any(|&m| m >= members) {
            anyhow::bail!(
                "{}: elites or hold-out errors do not match {members} members",
                dir.join("ensemble.ron").display()
            );
        }
        let mut ensemble = Self::new(state.in_dim, state.out_dim, state.settings, 0);
        let net = load_module(dir, "ensemble.bpk", ensemble.model.net())?;
        let shape = ensemble.stack_shape();
        ensemble.model = match Trainable::new(net, ensemble.settings.backend) {
            Trainable::Burn { net, optim } => {
                Trainable::Burn { net, optim: load_optimizer(dir, "ensemble_optim.bpk", optim)? }
            }
            Trainable::Host { params, layout, .. } => {
                let path = dir.join(HOST_ADAM_FILE);
                let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                let adam =
                    HostAdam::from_bytes(&bytes, &shape).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                Trainable::Host { params, adam, layout }
            }
        };
        ensemble.input_norm = state.input_norm;
        ensemble.output_norm = state.output_norm;
        ensemble.rng = state.rng;
        ensemble.holdout_mse = state.holdout_mse;
        ensemble.elites = state.elites;
        Ok(ensemble)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_fill_missing_fields_with_defaults() {
        let s: EnsembleSettings = ron::from_str("(members: 3, elites: 2, activation: Relu)").unwrap();
        assert_eq!((s.members, s.elites, s.activation), (3, 2, Activation::Relu));
        assert_eq!(EnsembleSettings { members: 3, elites: 2, activation: Activation::Relu, ..Default::default() }, s);
        let back: EnsembleSettings = ron::from_str(&ron::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    /// Closed-form gradients of the β-NLL element `w·(r² e^{−v} + v)`, `r = μ − y`, `w = e^{βv}`
    /// constant: ∂/∂μ = 2r·e^{(β−1)v}, ∂/∂v = e^{βv}(1 − r² e^{−v}). β = 1 gives the means
    /// the MSE gradient 2r whatever the variance; the variance's zero is at e^v = r² for every β.
    #[test]
    fn beta_nll_gradients_match_the_closed_form() {
        let device = Device::flex().autodiff();
        let (mu, v, y) = ([0.3f32, -1.2, 2.0, 0.5], [-1.0f32, 0.4, 1.5, -2.5], [0.1f32, 0.2, -0.5, 0.5]);
        let tensor = |data: [f32; 4]| Tensor::<3>::from_data(TensorData::new(data.to_vec(), [1, 2, 2]), &device);
        for beta in [0.0f32, 0.5, 1.0] {
            let (mean, logvar) = (tensor(mu).require_grad(), tensor(v).require_grad());
            let grads = gaussian_nll_sum(mean.clone(), logvar.clone(), tensor(y), beta).backward();
            let d_mean = to_vec(mean.grad(&grads).unwrap());
            let d_logvar = to_vec(logvar.grad(&grads).unwrap());
            for k in 0..4 {
                let r = mu[k] - y[k];
                let want_mean = 2.0 * r * ((beta - 1.0) * v[k]).exp();
                let want_logvar = (beta * v[k]).exp() * (1.0 - r * r * (-v[k]).exp());
                assert!((d_mean[k] - want_mean).abs() < 1e-4 * want_mean.abs().max(1.0), "β {beta}, μ {k}: {d_mean:?}");
                assert!((d_logvar[k] - want_logvar).abs() < 1e-4 * want_logvar.abs().max(1.0), "β {beta}, v {k}");
            }
            if beta == 1.0 {
                let mse: Vec<f32> = (0..4).map(|k| 2.0 * (mu[k] - y[k])).collect();
                assert!(d_mean.iter().zip(&mse).all(|(g, m)| (g - m).abs() < 1e-4), "{d_mean:?} vs {mse:?}");
            }
        }
    }

    /// A small ensemble (3 members, 2 × 16, 5 inputs, 3 outputs) and a random stacked minibatch
    /// of `rows` rows per member, targets spread so the soft clamps and both NLL terms are active.
    fn gradient_fixture(settings: EnsembleSettings, rows: usize) -> (ProbabilisticEnsemble, Vec<f32>, Vec<f32>) {
        let settings = EnsembleSettings { members: 3, elites: 2, hidden_layers: 2, hidden_width: 16, ..settings };
        let ens = ProbabilisticEnsemble::new(5, 3, settings, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = (0..3 * rows * 5).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        let y = (0..3 * rows * 3).map(|_| rng.random_range(-3.0f32..3.0)).collect();
        (ens, x, y)
    }

    /// burn's loss and autodiff gradients for `to_host`'s parameters (zeros where none flows).
    fn burn_loss_and_gradients(ens: &ProbabilisticEnsemble, x: &[f32], y: &[f32]) -> (f32, Vec<Vec<f32>>) {
        let (e, din, d) = (ens.settings.members, ens.in_dim, ens.out_dim);
        let rows = y.len() / (e * d);
        let x = Tensor::<3>::from_data(TensorData::new(x.to_vec(), [e, rows, din]), &ens.device);
        let y = Tensor::<3>::from_data(TensorData::new(y.to_vec(), [e, rows, d]), &ens.device);
        let net = ens.model.net();
        let loss = loss_tensor(&net, &ens.settings, x, y);
        let grads = loss.backward();
        let mut params: Vec<&Param<Tensor<3>>> = net.mlp.layers.iter().flat_map(|l| [&l.weight, &l.bias]).collect();
        params.extend([&net.max_logvar, &net.min_logvar]);
        let gradients = params
            .iter()
            .map(|p| p.val().grad(&grads).map_or_else(|| vec![0.0; p.val().shape().num_elements()], to_vec))
            .collect();
        (loss.into_scalar::<f32>(), gradients)
    }

    /// The hand-written loss and gradients equal burn's autodiff on every parameter, for both
    /// activations, plain and β-NLL, learned and fixed bounds, with weight decay, on minibatches
    /// run whole (7 rows) and split in halves (70, and 71: unequal halves).
    #[test]
    fn host_gradients_equal_burns_autodiff() {
        let cases = [
            (Activation::Swish, 0.0, true, 7),
            (Activation::Swish, 0.5, false, 70),
            (Activation::Relu, 0.0, false, 7),
            (Activation::Relu, 1.0, true, 70),
            (Activation::Swish, 0.0, true, 71),
        ];
        for (activation, nll_beta, learn_logvar_bounds, rows) in cases {
            let settings = EnsembleSettings {
                activation,
                nll_beta,
                learn_logvar_bounds,
                weight_decay: 0.02,
                ..Default::default()
            };
            let (ens, x, y) = gradient_fixture(settings, rows);
            let (want_loss, want) = burn_loss_and_gradients(&ens, &x, &y);
            let (loss, got) =
                ensemble_grad::loss_and_gradients(&ens.stack_shape(), &ens.model.host(), (&x, &y), ens.loss_terms());
            let case = format!("{activation:?}, β {nll_beta}, learned bounds {learn_logvar_bounds}, {rows} rows");
            assert!((loss - want_loss).abs() <= 1e-5 * want_loss.abs().max(1.0), "{case}: loss {loss} vs {want_loss}");
            assert_eq!(got.len(), want.len());
            let bounds = want.len() - 2;
            for (p, (got, want)) in got.iter().zip(&want).enumerate() {
                let scale = want.iter().fold(0.0f32, |m, g| m.max(g.abs()));
                assert_eq!(scale > 0.0, p < bounds || learn_logvar_bounds, "{case}: parameter {p}'s gradient {want:?}");
                for (k, (g, w)) in got.iter().zip(want).enumerate() {
                    assert!((g - w).abs() <= 1e-4 * scale + 1e-7, "{case}: parameter {p}[{k}]: {g} vs autodiff {w}");
                }
            }
        }
    }

    /// Six minibatch steps on each backend from the same weights: the host's Adam moves every
    /// parameter as burn's does (bias corrections, ε, learning rate), and the fixed bounds stay.
    #[test]
    fn host_adam_steps_follow_burns() {
        for learn_logvar_bounds in [true, false] {
            let settings =
                EnsembleSettings { learn_logvar_bounds, batch_size: 7, learning_rate: 1e-2, ..Default::default() };
            let (mut burn, x, y) = gradient_fixture(settings.clone(), 7);
            let (mut host, _, _) = gradient_fixture(EnsembleSettings { backend: EnsembleBackend::Host, ..settings }, 7);
            let start = burn.parameters();
            assert_eq!(start, host.parameters());
            // Three minibatches of 7 rows per epoch, each member in its own order.
            let split = Split { xt: &x, yt: &y, xh: &[], yh: &[] };
            let member_idx: Vec<Vec<usize>> = (0..3).map(|m| (0..21).map(|i| (i + 7 * m) % 21).collect()).collect();
            for step in 1..=2 {
                burn.train_epoch(&split, &member_idx);
                host.train_epoch(&split, &member_idx);
                let (b, h) = (burn.parameters(), host.parameters());
                let moved = b.iter().zip(&start).filter(|(b, s)| b != s).count();
                assert!(moved > b.len() / 2, "step {step}: burn moved only {moved} of {}", b.len());
                for (k, (b, h)) in b.iter().zip(&h).enumerate() {
                    // A step moves a parameter by about the learning rate; 1e-4 of it is rounding.
                    assert!(
                        (b - h).abs() <= 1e-6,
                        "bounds learned {learn_logvar_bounds}, step {step}, parameter {k}: burn {b}, host {h}"
                    );
                }
            }
            let bounds = host.parameters().split_off(start.len() - 6);
            assert_eq!(bounds == start[start.len() - 6..], !learn_logvar_bounds, "bounds moved iff learned");
        }
    }

    #[test]
    fn logvar_bounds_learn_only_when_asked() {
        let data: Vec<f32> = (0..200).map(|i| i as f32 / 100.0 - 1.0).collect();
        let targets: Vec<f32> = data.iter().map(|x| x * x).collect();
        let bounds_after = |learn| {
            let settings = EnsembleSettings {
                members: 2,
                elites: 1,
                hidden_layers: 1,
                hidden_width: 8,
                batch_size: 16,
                max_epochs: 5,
                learn_logvar_bounds: learn,
                ..Default::default()
            };
            let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 0);
            let report = ens.fit(&data, &targets);
            // The restored snapshots must come from training, not from the initial weights.
            assert!(report.best_epoch.iter().all(|&e| e > 0), "{report:?}");
            let p = ens.parameters();
            p[p.len() - 4..].to_vec()
        };
        assert_eq!(bounds_after(false), vec![0.5, 0.5, -10.0, -10.0]);
        assert_ne!(bounds_after(true), vec![0.5, 0.5, -10.0, -10.0]);
    }
}
