//! The DMD-MPC planner as named stages, in MuJoCo MPC's manner: shift the plan, propose the
//! policy prior's sequences (optionally starting the mean at them), then per iteration sample →
//! roll out → score → weights → mirror update, then roll out the final mean, choose the action
//! and write the trace.

use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::gaussian::SequenceGaussian;
use super::hooks::{PolicyPrior, TerminalValue};
use super::model::{Model, RolloutBatch, SequenceBatch};
use super::score::{ScoreRule, Scorer};
use super::trace::{IterationStats, PlanOutput, PlanSummary, PlanTrace};
use super::update::{MirrorStep, MirrorUpdate};
use super::weights::{CoefficientKind, WeightSummary, Weighting, draw_by_weight};
use crate::config::{ActionChoice, PlannerSettings, SettingsError};

/// Whether the planned action is for collecting training data or for evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionMode {
    /// Follow `training_action` (possibly a sequence drawn by weight, for exploration).
    Training,
    /// Follow `evaluation_action` (the mean's or the best sequence's first action; never drawn).
    Evaluation,
}

impl ActionMode {
    /// How this mode's plans are scored (evaluation may have its own κ; `adapted` is the κ the
    /// training falls set, see [`Planner::set_adapted_penalty`]).
    fn score_rule(self, settings: &PlannerSettings, adapted: Option<f32>) -> ScoreRule {
        match self {
            ActionMode::Training => ScoreRule::for_training(settings, adapted),
            ActionMode::Evaluation => ScoreRule::for_evaluation(settings, adapted),
        }
    }
}

/// The part of a [`Planner`] that carries over between plans (see [`Planner::state`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlannerState {
    pub settings: PlannerSettings,
    pub pending: Option<PlannerSettings>,
    pub rng: ChaCha8Rng,
    pub dist: SequenceGaussian,
    pub shift_next: bool,
    /// Control steps since the episode started (the nominal schedule's clock).
    #[serde(default)]
    pub step: u64,
    /// κ set by the training falls (`train.fall_caution`); absent in older checkpoints.
    #[serde(default)]
    pub adapted_penalty: Option<f32>,
}

/// A DMD-MPC planner. All randomness comes from one seeded ChaCha8 stream, so the same
/// seed, settings and model give bitwise identical plans.
pub struct Planner {
    settings: PlannerSettings,
    pending: Option<PlannerSettings>,
    rng: ChaCha8Rng,
    dist: SequenceGaussian,
    /// False right after construction or `reset`: the first plan of an episode does not shift.
    shift_next: bool,
    /// Control steps since the episode started: the nominal schedule's clock.
    step: u64,
    /// κ in place of `settings.disagreement_penalty`, set by the learning loop from its falls.
    adapted_penalty: Option<f32>,
    work: Workspace,
}

/// Buffers reused across iterations and plans (after the first plan of a shape, planning
/// allocates nothing).
#[derive(Default)]
struct Workspace {
    /// The nominal schedule over the current horizon.
    nominal_window: Vec<f32>,
    /// Sampled sequences first, then the prior's.
    batch: SequenceBatch,
    rollout: RolloutBatch,
    mean_batch: SequenceBatch,
    mean_rollout: RolloutBatch,
    prior: Vec<f32>,
    sampling_variance: Vec<f32>,
    /// The correlated noise's running state per action dimension.
    noise_state: Vec<f32>,
    scores: Vec<f32>,
    mean_score: Vec<f32>,
    coefficients: Vec<f32>,
    elite: Vec<bool>,
    weighting: Weighting,
    update: MirrorUpdate,
    scorer: Scorer,
}

/// The sizes of one plan.
#[derive(Clone, Copy)]
struct Shape {
    horizon: usize,
    action_dim: usize,
    /// Sampled sequences and policy-prior sequences.
    samples: usize,
    priors: usize,
    particles: usize,
}

impl Shape {
    /// Numbers in one sequence.
    fn len(self) -> usize {
        self.horizon * self.action_dim
    }
}

impl Planner {
    /// A planner at episode start. `action_dim` is only the initial shape: each plan adopts
    /// the model's action dimension.
    pub fn new(settings: PlannerSettings, action_dim: usize, seed: u64) -> Result<Self, SettingsError> {
        validate_for(&settings, action_dim)?;
        let dist = SequenceGaussian::new(settings.horizon, action_dim, settings.initial_std, settings.min_std);
        Ok(Self {
            settings,
            pending: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            dist,
            shift_next: false,
            step: 0,
            adapted_penalty: None,
            work: Workspace::default(),
        })
    }

    /// The settings the next plan uses if nothing is pending.
    pub fn settings(&self) -> &PlannerSettings {
        &self.settings
    }

    /// Settings waiting to be applied at the start of the next plan.
    pub fn pending_settings(&self) -> Option<&PlannerSettings> {
        self.pending.as_ref()
    }

    /// Validates `settings` and queues them for the next plan (never applied mid-plan).
    pub fn set_settings(&mut self, settings: PlannerSettings) -> Result<(), SettingsError> {
        validate_for(&settings, self.dist.action_dim())?;
        self.pending = Some(settings);
        Ok(())
    }

    /// Episode start: mean 0, initial variance, and no shift before the next plan.
    pub fn reset(&mut self) {
        self.dist.reset();
        self.shift_next = false;
        self.step = 0;
    }

    /// Like `reset`, for a first plan at control step `step` of an episode already under way
    /// (planning a frozen state afresh): the nominal schedule's clock starts there.
    pub fn reset_at(&mut self, step: u64) {
        self.reset();
        self.step = step;
    }

    /// What a checkpoint keeps of the planner: settings, the sampling distribution and the RNG.
    pub fn state(&self) -> PlannerState {
        PlannerState {
            settings: self.settings.clone(),
            pending: self.pending.clone(),
            rng: self.rng.clone(),
            dist: self.dist.clone(),
            shift_next: self.shift_next,
            step: self.step,
            adapted_penalty: self.adapted_penalty,
        }
    }

    /// Continues from a saved state (settings are validated again).
    pub fn restore(&mut self, state: PlannerState) -> Result<(), SettingsError> {
        let action_dim = state.dist.action_dim();
        validate_for(&state.settings, action_dim)?;
        if let Some(pending) = &state.pending {
            validate_for(pending, action_dim)?;
        }
        self.settings = state.settings;
        self.pending = state.pending;
        self.rng = state.rng;
        self.dist = state.dist;
        self.shift_next = state.shift_next;
        self.step = state.step;
        self.adapted_penalty = state.adapted_penalty;
        Ok(())
    }

    /// Scores plans with κ = `penalty` instead of `planner.disagreement_penalty` (`None`: the
    /// settings' κ again); evaluation's own κ, when set, still rules evaluation plans. The
    /// learning loop sets it from its falls (`train.fall_caution`).
    pub fn set_adapted_penalty(&mut self, penalty: Option<f32>) {
        self.adapted_penalty = penalty;
    }

    /// The κ set by [`set_adapted_penalty`](Self::set_adapted_penalty), if any.
    pub fn adapted_penalty(&self) -> Option<f32> {
        self.adapted_penalty
    }

    /// Restarts the random stream (e.g. for a reproducible evaluation run).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// The current sampling distribution. With a nominal schedule its mean is the correction
    /// to the schedule, not the actions themselves (those are in the last plan's trace).
    pub fn distribution(&self) -> &SequenceGaussian {
        &self.dist
    }

    /// Plans one control step and returns the action with a fresh trace.
    pub fn plan(
        &mut self,
        model: &mut dyn Model,
        prior: Option<&mut dyn PolicyPrior>,
        value: Option<&mut dyn TerminalValue>,
        mode: ActionMode,
    ) -> PlanOutput {
        let mut out = PlanOutput::default();
        self.plan_into(model, prior, value, mode, &mut out);
        out
    }

    /// As `plan`, but writes into `out`, reusing its allocations. The stages, in order.
    pub fn plan_into(
        &mut self,
        model: &mut dyn Model,
        prior: Option<&mut dyn PolicyPrior>,
        mut value: Option<&mut dyn TerminalValue>,
        mode: ActionMode,
        out: &mut PlanOutput,
    ) {
        let started = Instant::now();
        self.apply_pending_settings();
        self.shift(model.action_dim());
        let Planner { settings: s, rng, dist, work, adapted_penalty, .. } = self;
        let rule = mode.score_rule(s, *adapted_penalty);
        let shape = Shape {
            horizon: s.horizon,
            action_dim: model.action_dim(),
            samples: s.samples,
            priors: if prior.is_some() { s.prior_count() } else { 0 },
            particles: model.particles(s.particles).max(1),
        };
        work.batch.resize(shape.samples + shape.priors, shape.horizon, shape.action_dim);
        if let Some(prior) = prior.filter(|_| shape.priors > 0) {
            work.propose_prior(prior, shape);
            if s.start_at_prior {
                work.start_mean_at_prior(dist, shape);
            }
        }
        let kind = CoefficientKind::of(&s.loss);
        out.trace.iterations.clear();
        let mut last = WeightSummary::default();
        for _ in 0..s.iterations {
            let t0 = Instant::now();
            work.sample(s, dist, rng, shape);
            let t1 = Instant::now();
            work.roll_out_and_score(model, reborrow(&mut value), rule, shape);
            let t2 = Instant::now();
            last = work.weighting.compute(&s.loss, &work.scores, &mut work.coefficients, &mut work.elite);
            let mean_shift = work.update_distribution(s, dist, kind, &last);
            let t3 = Instant::now();
            out.trace.iterations.push(IterationStats::from_weights(
                &last,
                mean_shift,
                ms(t2 - t1),
                ms((t1 - t0) + (t3 - t2)),
            ));
        }
        work.roll_out_mean(model, reborrow(&mut value), rule, dist, shape);
        let chosen = work.choose_action(s, rng, dist, mode, kind, &last, shape, &mut out.action);
        work.write_trace(dist, model.point_count(), shape, chosen, &last, &mut out.trace);
        if s.nominal.is_some() {
            dist.remove_nominal(&work.nominal_window);
        }
        out.trace.total_ms = ms(started.elapsed());
    }

    /// Stage 0: settings changed since the last plan take effect now, never mid-plan.
    fn apply_pending_settings(&mut self) {
        if let Some(settings) = self.pending.take() {
            self.dist.set_std_bounds(settings.initial_std, settings.min_std);
            self.settings = settings;
        }
    }

    /// Stage 1: move the plan one step forward (not on an episode's first plan). Between plans
    /// the Gaussian holds the correction to the nominal schedule; during the plan it holds
    /// absolute actions, so sampling, bounds and updates work as without one.
    fn shift(&mut self, action_dim: usize) {
        let s = &self.settings;
        self.dist.resize(s.horizon, action_dim);
        if self.shift_next {
            self.dist.shift(&s.shift);
            self.step += 1;
        }
        self.shift_next = true;
        if let Some(schedule) = &s.nominal {
            schedule.window_into(self.step, s.horizon, action_dim, &mut self.work.nominal_window);
            self.dist.add_nominal(&self.work.nominal_window);
        }
    }
}

impl Workspace {
    /// Stage 2: the policy prior's sequences, asked once per plan and fixed over the iterations,
    /// after the sampled ones in the batch (NaN → 0, clamped to the action bounds).
    fn propose_prior(&mut self, prior: &mut dyn PolicyPrior, shape: Shape) {
        let (len, m) = (shape.len(), shape.priors);
        self.prior.clear();
        self.prior.resize(m * len, 0.0);
        prior.propose(m, shape.horizon, shape.action_dim, &mut self.prior);
        self.prior.resize(m * len, 0.0);
        for (dst, &src) in self.batch.actions[shape.samples * len..].iter_mut().zip(&self.prior) {
            *dst = if src.is_nan() { 0.0 } else { src.clamp(-1.0, 1.0) };
        }
    }

    /// Stage 2b (`start_at_prior`): the mean becomes the average of the prior's sequences, as
    /// they stand in the batch (clamped); the variance stays as the shift left it.
    fn start_mean_at_prior(&self, dist: &mut SequenceGaussian, shape: Shape) {
        let len = shape.len();
        let (mean, _) = dist.parts_mut();
        mean.fill(0.0);
        for sequence in self.batch.actions[shape.samples * len..].chunks(len) {
            for (m, &a) in mean.iter_mut().zip(sequence) {
                *m += a / shape.priors as f32;
            }
        }
    }

    /// Iteration stage: draw the sampled sequences from the Gaussian (truncated to the bounds,
    /// correlated in time as configured), the current mean first when it is kept.
    fn sample(&mut self, s: &PlannerSettings, dist: &SequenceGaussian, rng: &mut ChaCha8Rng, shape: Shape) {
        let len = shape.len();
        dist.sampling_variance(&mut self.sampling_variance);
        dist.sample_into(
            &self.sampling_variance,
            s.noise_correlation,
            &mut self.noise_state,
            rng,
            &mut self.batch.actions[..shape.samples * len],
        );
        if s.keep_mean {
            // Drawn first and then overwritten, so the random stream does not depend on the option.
            self.batch.actions[..len].copy_from_slice(dist.mean());
        }
    }

    /// Iteration stage: every sequence through the model, then its discounted score with
    /// termination masking and the terminal value.
    fn roll_out_and_score(
        &mut self,
        model: &mut dyn Model,
        value: Option<&mut dyn TerminalValue>,
        rule: ScoreRule,
        shape: Shape,
    ) {
        model.rollout(&self.batch, shape.particles, &mut self.rollout);
        self.scorer.score(&self.batch, &self.rollout, rule, value, &mut self.scores);
    }

    /// Iteration stage: the mirror-descent step on the Gaussian from this iteration's
    /// coefficients; returns how far the mean moved. With no finite score there is nothing to
    /// learn from: the distribution stays.
    fn update_distribution(
        &mut self,
        s: &PlannerSettings,
        dist: &mut SequenceGaussian,
        kind: CoefficientKind,
        last: &WeightSummary,
    ) -> f32 {
        if last.all_invalid() {
            return 0.0;
        }
        let step = MirrorStep { map: s.mirror_map, kind, mean_step: s.mean_step, variance_step: s.variance_step };
        self.update.apply(dist, &self.sampling_variance, &self.batch.actions, &self.coefficients, step)
    }

    /// Stage: roll out and score the final mean, so the trace can draw the plan that is executed.
    fn roll_out_mean(
        &mut self,
        model: &mut dyn Model,
        value: Option<&mut dyn TerminalValue>,
        rule: ScoreRule,
        dist: &SequenceGaussian,
        shape: Shape,
    ) {
        self.mean_batch.resize(1, shape.horizon, shape.action_dim);
        self.mean_batch.actions.copy_from_slice(dist.mean());
        model.rollout(&self.mean_batch, shape.particles, &mut self.mean_rollout);
        self.scorer.score(&self.mean_batch, &self.mean_rollout, rule, value, &mut self.mean_score);
    }

    /// Stage: the action to execute, by `training_action` or `evaluation_action`: the mean's
    /// first; with `SampleByWeight` the first of a sequence drawn by its weight (only for losses
    /// whose coefficients are a distribution); with `Best` the first of the best-scoring sequence
    /// unless the final mean scores as well. Returns the executed sequence's index (None: the mean).
    #[allow(clippy::too_many_arguments)] // the stage's inputs, each used once
    fn choose_action(
        &self,
        s: &PlannerSettings,
        rng: &mut ChaCha8Rng,
        dist: &SequenceGaussian,
        mode: ActionMode,
        kind: CoefficientKind,
        last: &WeightSummary,
        shape: Shape,
        action: &mut Vec<f32>,
    ) -> Option<usize> {
        let choice = match mode {
            ActionMode::Training => s.training_action,
            ActionMode::Evaluation => s.evaluation_action,
        };
        let scored = !last.all_invalid() && s.iterations > 0;
        let chosen = match choice {
            ActionChoice::SampleByWeight if scored && kind == CoefficientKind::Weights => {
                draw_by_weight(&self.coefficients, rng.random::<f64>())
            }
            ActionChoice::Best if scored => self.best_beating_mean(),
            _ => None,
        };
        let source = match chosen {
            Some(i) => self.batch.sequence(i),
            None => dist.mean(),
        };
        action.clear();
        action.extend_from_slice(&source[..shape.action_dim.min(source.len())]);
        chosen
    }

    /// The last iteration's best-scoring sequence, if it scores above the final mean (NaN
    /// scores never win).
    fn best_beating_mean(&self) -> Option<usize> {
        let mean_score = self.mean_score.first().copied().filter(|v| !v.is_nan()).unwrap_or(f32::NEG_INFINITY);
        let (mut best, mut best_score) = (None, mean_score);
        for (i, &score) in self.scores.iter().enumerate() {
            if score > best_score {
                (best, best_score) = (Some(i), score);
            }
        }
        best
    }

    /// Stage: everything the studio draws and plots of this plan.
    fn write_trace(
        &self,
        dist: &SequenceGaussian,
        point_count: usize,
        shape: Shape,
        chosen: Option<usize>,
        last: &WeightSummary,
        trace: &mut PlanTrace,
    ) {
        let (n, total) = (shape.samples, shape.samples + shape.priors);
        trace.horizon = shape.horizon;
        trace.action_dim = shape.action_dim;
        trace.point_count = point_count;
        trace.particles = shape.particles;
        trace.sample_count = n;
        trace.prior_count = shape.priors;
        refill(&mut trace.sequences, &self.batch.actions);
        trace.is_prior.clear();
        trace.is_prior.extend((0..total).map(|i| i >= n));
        refill(&mut trace.points, &self.rollout.points);
        refill(&mut trace.scores, &self.scores);
        refill(&mut trace.weights, &self.coefficients);
        refill(&mut trace.elite, &self.elite);
        refill(&mut trace.mean_actions, dist.mean());
        trace.std.clear();
        trace.std.extend(dist.variance().iter().map(|v| v.sqrt()));
        refill(&mut trace.mean_points, &self.mean_rollout.points);
        trace.mean_score = self.mean_score[0];
        trace.chosen = chosen;
        let (elite_sum, elite_n) = self
            .scores
            .iter()
            .zip(&self.elite)
            .filter(|(_, e)| **e)
            .fold((0.0f64, 0usize), |(sum, k), (&x, _)| (sum + x as f64, k + 1));
        trace.summary = PlanSummary {
            best_score: last.best,
            sample_mean_score: last.mean,
            elite_mean_score: if elite_n > 0 { (elite_sum / elite_n as f64) as f32 } else { f32::NAN },
            mean_plan_score: trace.mean_score,
            effective_sample_size: last.effective_sample_size,
            elite_count: last.elite_count,
            any_all_invalid: trace.iterations.iter().any(|it| it.all_invalid),
        };
    }
}

/// Replaces `dst`'s contents by `src`, reusing its allocation.
fn refill<T: Copy>(dst: &mut Vec<T>, src: &[T]) {
    dst.clear();
    dst.extend_from_slice(src);
}

/// Settings checked on their own and against the robot's action dimension.
fn validate_for(settings: &PlannerSettings, action_dim: usize) -> Result<(), SettingsError> {
    settings.validate()?;
    match &settings.nominal {
        Some(nominal) => nominal.fits(action_dim),
        None => Ok(()),
    }
}

/// Lends the optional hook for one call without giving it up.
fn reborrow<'a>(value: &'a mut Option<&mut dyn TerminalValue>) -> Option<&'a mut dyn TerminalValue> {
    match value {
        Some(v) => Some(&mut **v),
        None => None,
    }
}

fn ms(d: std::time::Duration) -> f32 {
    d.as_secs_f32() * 1000.0
}
