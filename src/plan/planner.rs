//! The DMD-MPC planner: shift, then iterations of sample, roll out, score, weight and mirror update.

use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::gaussian::SequenceGaussian;
use super::hooks::{PolicyPrior, TerminalValue};
use super::model::{Model, RolloutBatch, SequenceBatch};
use super::score::Scorer;
use super::settings::{ActionChoice, PlannerSettings, SettingsError};
use super::trace::{IterationStats, PlanOutput, PlanSummary};
use super::update::{MirrorStep, MirrorUpdate};
use super::weights::{CoefficientKind, WeightSummary, Weighting, draw_by_weight};

/// Whether the planned action is for collecting training data or for evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionMode {
    /// Follow `training_action` (possibly a sequence drawn by weight, for exploration).
    Training,
    /// Always the first action of the mean plan.
    Evaluation,
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
    /// The nominal schedule over the current horizon (scratch).
    nominal_window: Vec<f32>,
    // Buffers reused across iterations and plans.
    batch: SequenceBatch,
    rollout: RolloutBatch,
    mean_batch: SequenceBatch,
    mean_rollout: RolloutBatch,
    prior: Vec<f32>,
    sampling_variance: Vec<f32>,
    /// The correlated noise's running state per action dimension (scratch).
    noise_state: Vec<f32>,
    scores: Vec<f32>,
    mean_score: Vec<f32>,
    coefficients: Vec<f32>,
    elite: Vec<bool>,
    weighting: Weighting,
    update: MirrorUpdate,
    scorer: Scorer,
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
            nominal_window: Vec::new(),
            batch: SequenceBatch::default(),
            rollout: RolloutBatch::default(),
            mean_batch: SequenceBatch::default(),
            mean_rollout: RolloutBatch::default(),
            prior: Vec::new(),
            sampling_variance: Vec::new(),
            noise_state: Vec::new(),
            scores: Vec::new(),
            mean_score: Vec::new(),
            coefficients: Vec::new(),
            elite: Vec::new(),
            weighting: Weighting::default(),
            update: MirrorUpdate::default(),
            scorer: Scorer::default(),
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

    /// What a checkpoint keeps of the planner: settings, the sampling distribution and the RNG.
    pub fn state(&self) -> PlannerState {
        PlannerState {
            settings: self.settings.clone(),
            pending: self.pending.clone(),
            rng: self.rng.clone(),
            dist: self.dist.clone(),
            shift_next: self.shift_next,
            step: self.step,
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
        Ok(())
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

    /// As `plan`, but writes into `out`, reusing its allocations.
    pub fn plan_into(
        &mut self,
        model: &mut dyn Model,
        prior: Option<&mut dyn PolicyPrior>,
        mut value: Option<&mut dyn TerminalValue>,
        mode: ActionMode,
        out: &mut PlanOutput,
    ) {
        let started = Instant::now();
        if let Some(settings) = self.pending.take() {
            self.dist.set_std_bounds(settings.initial_std, settings.min_std);
            self.settings = settings;
        }
        let s = &self.settings;
        let (horizon, da) = (s.horizon, model.action_dim());
        let len = horizon * da;
        self.dist.resize(horizon, da);
        if self.shift_next {
            self.dist.shift(&s.shift);
            self.step += 1;
        }
        self.shift_next = true;
        // Between plans the Gaussian holds the correction to the nominal schedule; during the
        // plan it holds absolute actions, so sampling, bounds and updates work as without one.
        let nominal = s.nominal.as_ref();
        if let Some(schedule) = nominal {
            schedule.window_into(self.step, horizon, da, &mut self.nominal_window);
            self.dist.add_nominal(&self.nominal_window);
        }

        let n = s.samples;
        let m = if prior.is_some() { s.prior_count() } else { 0 };
        let total = n + m;
        let particles = model.particles(s.particles).max(1);
        let point_count = model.point_count();
        self.batch.resize(total, horizon, da);

        // The prior is asked once per plan and stays fixed over the iterations.
        if let Some(prior) = prior.filter(|_| m > 0) {
            self.prior.clear();
            self.prior.resize(m * len, 0.0);
            prior.propose(m, horizon, da, &mut self.prior);
            self.prior.resize(m * len, 0.0);
            for (dst, &src) in self.batch.actions[n * len..].iter_mut().zip(&self.prior) {
                *dst = if src.is_nan() { 0.0 } else { src.clamp(-1.0, 1.0) };
            }
        }

        let kind = CoefficientKind::of(&s.loss);
        let step = MirrorStep { map: s.mirror_map, kind, mean_step: s.mean_step, variance_step: s.variance_step };
        let trace = &mut out.trace;
        trace.iterations.clear();
        let mut last = WeightSummary::default();
        for _ in 0..s.iterations {
            let t0 = Instant::now();
            self.dist.sampling_variance(&mut self.sampling_variance);
            self.dist.sample_into(
                &self.sampling_variance,
                s.noise_correlation,
                &mut self.noise_state,
                &mut self.rng,
                &mut self.batch.actions[..n * len],
            );
            if s.keep_mean {
                // Drawn first and then overwritten, so the random stream does not depend on the option.
                self.batch.actions[..len].copy_from_slice(self.dist.mean());
            }
            let t1 = Instant::now();
            model.rollout(&self.batch, particles, &mut self.rollout);
            self.scorer.score(&self.batch, &self.rollout, s.discount, reborrow(&mut value), &mut self.scores);
            let t2 = Instant::now();
            last = self.weighting.compute(&s.loss, &self.scores, &mut self.coefficients, &mut self.elite);
            // With no finite score there is nothing to learn from: keep the distribution.
            let mean_shift = if last.all_invalid() {
                0.0
            } else {
                self.update.apply(
                    &mut self.dist,
                    &self.sampling_variance,
                    &self.batch.actions,
                    &self.coefficients,
                    step,
                )
            };
            let t3 = Instant::now();
            trace.iterations.push(IterationStats {
                best: last.best,
                mean: last.mean,
                elite_threshold: last.elite_threshold,
                effective_sample_size: last.effective_sample_size,
                mean_shift,
                valid: last.valid,
                all_invalid: last.all_invalid(),
                rollout_ms: ms(t2 - t1),
                update_ms: ms((t1 - t0) + (t3 - t2)),
            });
        }

        // Roll out the final mean so the trace can draw the plan that is executed.
        self.mean_batch.resize(1, horizon, da);
        self.mean_batch.actions.copy_from_slice(self.dist.mean());
        model.rollout(&self.mean_batch, particles, &mut self.mean_rollout);
        self.scorer.score(&self.mean_batch, &self.mean_rollout, s.discount, reborrow(&mut value), &mut self.mean_score);

        // Drawing by weight only makes sense for losses whose coefficients are a distribution.
        let draw = mode == ActionMode::Training
            && s.training_action == ActionChoice::SampleByWeight
            && kind == CoefficientKind::Weights
            && !last.all_invalid()
            && s.iterations > 0;
        let chosen = if draw {
            let u: f64 = self.rng.random();
            draw_by_weight(&self.coefficients, u)
        } else {
            None
        };
        let source = match chosen {
            Some(i) => self.batch.sequence(i),
            None => self.dist.mean(),
        };
        out.action.clear();
        out.action.extend_from_slice(&source[..da.min(source.len())]);

        trace.horizon = horizon;
        trace.action_dim = da;
        trace.point_count = point_count;
        trace.particles = particles;
        trace.sample_count = n;
        trace.prior_count = m;
        trace.sequences.clear();
        trace.sequences.extend_from_slice(&self.batch.actions);
        trace.is_prior.clear();
        trace.is_prior.extend((0..total).map(|i| i >= n));
        trace.points.clear();
        trace.points.extend_from_slice(&self.rollout.points);
        trace.scores.clear();
        trace.scores.extend_from_slice(&self.scores);
        trace.weights.clear();
        trace.weights.extend_from_slice(&self.coefficients);
        trace.elite.clear();
        trace.elite.extend_from_slice(&self.elite);
        trace.mean_actions.clear();
        trace.mean_actions.extend_from_slice(self.dist.mean());
        trace.std.clear();
        trace.std.extend(self.dist.variance().iter().map(|v| v.sqrt()));
        trace.mean_points.clear();
        trace.mean_points.extend_from_slice(&self.mean_rollout.points);
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
        if nominal.is_some() {
            self.dist.remove_nominal(&self.nominal_window);
        }
        trace.total_ms = ms(started.elapsed());
    }
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
