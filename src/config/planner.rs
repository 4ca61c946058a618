//! Planner settings: the live-tunable knobs of DMD-MPC, their validation and the built-in presets.

use serde::{Deserialize, Serialize};

use super::error::{SettingsError, out_of_range};
use super::knobs::{self, Knob};
use super::nominal::PeriodicNominal;

/// Largest number of predicted steps (sequences x particles x horizon) in one rollout batch,
/// so that no combination of individually valid values allocates absurdly.
pub const MAX_ROLLOUT_STEPS: usize = 20_000_000;

/// How the scores of the sampled sequences become update weights (the "shaping" of the loss).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Loss {
    /// Cross-entropy method: equal weight on the best fraction of sequences, zero on the rest.
    Cem {
        /// Fraction of all scored sequences (samples plus prior) that count as elites, in (0, 1].
        elite_fraction: f32,
    },
    /// Exponential utility (MPPI): weight proportional to exp(score / temperature).
    Mppi {
        /// Temperature lambda > 0: small values trust only the best sequences, large values average widely.
        temperature: f32,
    },
    /// MPPI with the temperature in units of the score spread: weight proportional to
    /// exp(score / (temperature · std of the scores)). The weights then do not depend on the
    /// reward's scale (which grows as a learned critic's values grow), so one temperature
    /// transfers between tasks.
    MppiRelative {
        /// Temperature in standard deviations of the scores, > 0 (0.5: weights fall by e² per
        /// standard deviation below the best score).
        temperature: f32,
    },
    /// Plain mirror descent on the expected cost: a score-function gradient normalised by the spread of the scores.
    ExpectedCost,
}

/// The geometry of the update step on the sampling distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MirrorMap {
    /// KL / moment matching: blend the mean and variance toward the weighted sample moments.
    Kl,
    /// Euclidean: an ordinary gradient step on the mean in parameter space.
    Euclidean,
}

/// What the last step of the mean becomes after shifting the plan by one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LastBlock {
    /// Repeat the previous last action.
    Copy,
    /// Start the new last step from zero (the middle of the action range).
    Reset,
}

/// What the variance becomes after shifting the plan by one step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum VarianceShift {
    /// Every step goes back to the initial variance.
    Reset,
    /// Shift the variance like the mean and widen the new last step.
    ShiftInflate {
        /// Factor (>= 1) applied to the last step's variance, capped at the initial variance.
        factor: f32,
    },
}

/// The "dynamic" part of DMD-MPC: how the plan moves forward one step between control steps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShiftRule {
    /// What the mean's new last step becomes.
    pub last_block: LastBlock,
    /// What the variance becomes.
    pub variance: VarianceShift,
}

impl Default for ShiftRule {
    fn default() -> Self {
        Self { last_block: LastBlock::Reset, variance: VarianceShift::Reset }
    }
}

/// Which action the agent executes: while collecting training data, or in evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionChoice {
    /// First action of one sequence drawn by its weight (CEM and MPPI only; otherwise the mean).
    /// Training only: evaluation is greedy.
    SampleByWeight,
    /// First action of the mean plan.
    Mean,
    /// First action of the best-scoring sequence: of the last iteration's sequences (samples
    /// and the policy prior's) and the final mean, the mean on ties, as MuJoCo MPC's predictive
    /// sampling keeps its best rollout. Where averaging elites blends distinct good plans into
    /// a worse one, this executes one of them whole.
    Best,
}

/// Which critic closes the horizon (used by the agent; the planner only sees whether a hook is given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminalChoice {
    /// No terminal value: scores are the discounted predicted rewards only.
    None,
    /// The first of the twin critics (as the reference code does).
    FirstCritic,
    /// The minimum of the twin critics (the pessimistic choice).
    MinCritic,
    /// The first critic at the actor's mean action in s_{H-1}, `Q1(s, tanh μ(s))`, instead of
    /// at the planned a_{H-1}. The planner then cannot pick a last action for a high Q (where
    /// SAC's critic is least trained: off its actor's actions); it optimises a_0..a_{H-2}
    /// through the model, and the plan's last action is never scored.
    ActorCritic,
}

/// Every knob of the planner; the default is the `reference` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlannerSettings {
    /// Number of future steps each candidate action sequence covers.
    pub horizon: usize,
    /// Number of action sequences sampled from the planner's distribution in each iteration.
    pub samples: usize,
    /// Number of sample-score-update rounds per control step.
    pub iterations: usize,
    /// How scores become weights: CEM elites, MPPI exponential weights, or the expected-cost gradient.
    pub loss: Loss,
    /// Geometry of the update: KL (moment matching) or Euclidean (plain gradient step).
    pub mirror_map: MirrorMap,
    /// Step size for the mean: 1 jumps straight to the weighted target, smaller values move part of the way.
    pub mean_step: f32,
    /// Step size for the variance: 0 keeps it fixed, 1 jumps to the weighted target.
    pub variance_step: f32,
    /// Standard deviation of the sampling distribution at the start of an episode, in action units.
    pub initial_std: f32,
    /// Smallest standard deviation the distribution may shrink to, so exploration never stops entirely.
    pub min_std: f32,
    /// Correlation in time of the exploration noise, in [0, 1): each step's noise is this share
    /// of the previous step's plus fresh noise (an AR(1) process with unit variance). 0 is white
    /// noise; values near 1 give smooth, low-frequency action changes, which legged gaits need
    /// (iCEM's coloured noise serves the same purpose).
    pub noise_correlation: f32,
    /// How the plan is moved forward by one step between control steps.
    pub shift: ShiftRule,
    /// Score the current mean itself as the first sample of every iteration, so a good plan is
    /// not lost to one unlucky batch of draws (MPPI's nominal sequence; iCEM keeps the mean too).
    pub keep_mean: bool,
    /// Start each plan's mean at the policy prior's sequences (their average: the actor's mean
    /// actions rolled through the model's members) instead of the shifted previous plan, so the
    /// search looks around what the actor would do (POPLIN-A's initialisation). Without a prior
    /// (no actor, or `policy_fraction` 0) the shifted plan is kept.
    pub start_at_prior: bool,
    /// Discount factor applied to predicted rewards along the horizon.
    pub discount: f32,
    /// Number of stochastic predictions averaged per sequence (a deterministic model uses just one).
    pub particles: usize,
    /// Pessimism about what the model is unsure of: a sequence's score is its particles' mean
    /// return minus this many standard deviations of their returns (with the learned model each
    /// particle runs on its own ensemble member and samples that member's predicted noise, so
    /// the spread holds both). With two particles, 1 scores the worse of the two. 0 scores the
    /// mean alone.
    pub disagreement_penalty: f32,
    /// κ for evaluation episodes only; `None` uses `disagreement_penalty` there too. Lets the
    /// planner explore optimistically while it collects data and act pessimistically when its
    /// behaviour is what counts (evaluation, deployment).
    #[serde(default)]
    pub evaluation_disagreement_penalty: Option<f32>,
    /// Share of extra candidate sequences proposed by the SAC actor, relative to the sample count.
    pub policy_fraction: f32,
    /// Which action is executed while training: one drawn by weight, the mean's first action, or
    /// the best-scoring sequence's.
    pub training_action: ActionChoice,
    /// Which action is executed in evaluation: the mean's first action or the best-scoring
    /// sequence's (evaluation is greedy, so never one drawn by weight).
    pub evaluation_action: ActionChoice,
    /// Which critic the agent uses as terminal value at the end of the horizon.
    pub terminal_value: TerminalChoice,
    /// A periodic action schedule (a gait) to plan around: the Gaussian then holds a correction
    /// to it, so `Reset` shifts bring in the schedule's next step and a zero mean follows it.
    /// Robot-specific; the built-in presets have none.
    pub nominal: Option<PeriodicNominal>,
}

impl Default for PlannerSettings {
    fn default() -> Self {
        reference()
    }
}

/// Adds an error unless `knob` accepts `value` (NaN never is); the message shows the value as
/// the file holds it.
fn check<T: Copy + ToString + KnobValue>(errors: &mut Vec<SettingsError>, knob: &Knob, value: T) {
    if !knob.accepts(value.knob_f64()) {
        errors.push(out_of_range(knob.field, value, knob.range_text()));
    }
}

/// A setting's value as a knob compares it.
trait KnobValue {
    fn knob_f64(self) -> f64;
}

impl KnobValue for f32 {
    fn knob_f64(self) -> f64 {
        self.into()
    }
}

impl KnobValue for usize {
    fn knob_f64(self) -> f64 {
        self as f64
    }
}

impl PlannerSettings {
    /// The mean step's knob under the current mirror map (KL: at most 1).
    pub fn mean_step_knob(&self) -> Knob {
        match self.mirror_map {
            MirrorMap::Kl => knobs::MEAN_STEP,
            MirrorMap::Euclidean => knobs::EUCLIDEAN_MEAN_STEP,
        }
    }

    /// The noise floor's knob: at most the initial std when that is valid.
    pub fn min_std_knob(&self) -> Knob {
        if knobs::INITIAL_STD.accepts(self.initial_std.into()) {
            knobs::MIN_STD.with_max(self.initial_std.into(), true)
        } else {
            knobs::MIN_STD
        }
    }

    /// Number of policy-prior sequences for these settings, M = round(policy_fraction * samples).
    pub fn prior_count(&self) -> usize {
        (self.policy_fraction as f64 * self.samples as f64).round() as usize
    }

    /// The first problem found, if any.
    pub fn validate(&self) -> Result<(), SettingsError> {
        match self.errors().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem found, in field order (useful to mark several fields in a form at once).
    /// Each numeric field is checked against its [`Knob`](super::knobs::Knob), the table the
    /// studio's sliders use too.
    pub fn errors(&self) -> Vec<SettingsError> {
        let mut errors = Vec::new();
        let e = &mut errors;
        check(e, &knobs::HORIZON, self.horizon);
        check(e, &knobs::SAMPLES, self.samples);
        check(e, &knobs::ITERATIONS, self.iterations);
        match self.loss {
            Loss::Cem { elite_fraction } => check(e, &knobs::ELITE_FRACTION, elite_fraction),
            Loss::Mppi { temperature } => check(e, &knobs::TEMPERATURE, temperature),
            Loss::MppiRelative { temperature } => check(e, &knobs::RELATIVE_TEMPERATURE, temperature),
            Loss::ExpectedCost => {}
        }
        check(e, &self.mean_step_knob(), self.mean_step);
        check(e, &knobs::VARIANCE_STEP, self.variance_step);
        check(e, &knobs::INITIAL_STD, self.initial_std);
        check(e, &self.min_std_knob(), self.min_std);
        check(e, &knobs::NOISE_CORRELATION, self.noise_correlation);
        if let VarianceShift::ShiftInflate { factor } = self.shift.variance {
            check(e, &knobs::INFLATE_FACTOR, factor);
        }
        check(e, &knobs::DISCOUNT, self.discount);
        check(e, &knobs::PARTICLES, self.particles);
        check(e, &knobs::DISAGREEMENT_PENALTY, self.disagreement_penalty);
        if let Some(kappa) = self.evaluation_disagreement_penalty {
            check(e, &knobs::EVALUATION_DISAGREEMENT_PENALTY, kappa);
        }
        check(e, &knobs::POLICY_FRACTION, self.policy_fraction);
        if self.evaluation_action == ActionChoice::SampleByWeight {
            e.push(out_of_range("planner.evaluation_action", "SampleByWeight", "Mean or Best (evaluation is greedy)"));
        }
        if let Some(nominal) = &self.nominal {
            nominal.errors(e);
        }
        // Only meaningful once the individual counts are sane.
        if errors.is_empty() {
            let steps = (self.samples + self.prior_count()) * self.particles * self.horizon;
            if steps > MAX_ROLLOUT_STEPS {
                errors.push(out_of_range(
                    "planner.samples",
                    self.samples,
                    format!(
                        "small enough that (samples + prior) x particles x horizon = {steps} is at most {MAX_ROLLOUT_STEPS}"
                    ),
                ));
            }
        }
        errors
    }

    /// Settings as RON text.
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default()).expect("planner settings always serialise")
    }

    /// Settings read from RON text (missing fields take their defaults) and validated.
    pub fn from_ron(text: &str) -> Result<Self, SettingsError> {
        let settings: Self = ron::from_str(text).map_err(|e| SettingsError::Parse(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }
}

/// Names of the built-in presets, in the order a menu should show them.
pub const PRESET_NAMES: &[&str] = &["reference", "paper-cem", "mppi", "mirror-descent", "demorl-h15"];

/// The authors' released settings (section 3 of ALGORITHM.md).
fn reference() -> PlannerSettings {
    PlannerSettings {
        horizon: 3,
        samples: 100,
        iterations: 5,
        loss: Loss::Mppi { temperature: 1.0 },
        mirror_map: MirrorMap::Kl,
        mean_step: 1.0,
        // Their alpha = 0.1 smoothing keeps 10% of the old variance.
        variance_step: 0.9,
        // Variance (ub - lb)^2 / 16 with bounds [-1, 1].
        initial_std: 0.5,
        // The reference has no floor.
        min_std: 0.0,
        // The reference samples white noise.
        noise_correlation: 0.0,
        // As PETS: shift, zero the new last step, reset the variance.
        shift: ShiftRule { last_block: LastBlock::Reset, variance: VarianceShift::Reset },
        // The reference scores only fresh draws.
        keep_mean: false,
        // The reference continues from the shifted plan.
        start_at_prior: false,
        discount: 0.99,
        particles: 4,
        disagreement_penalty: 0.0,
        // One κ for training and evaluation.
        evaluation_disagreement_penalty: None,
        policy_fraction: 0.05,
        training_action: ActionChoice::SampleByWeight,
        evaluation_action: ActionChoice::Mean,
        terminal_value: TerminalChoice::FirstCritic,
        nominal: None,
    }
}

/// A built-in preset by name, or None for an unknown name.
pub fn preset(name: &str) -> Option<PlannerSettings> {
    let base = reference();
    match name {
        "reference" => Some(base),
        // M-DeMoRL, the paper's variant: CEM with a 10% elite fraction.
        "paper-cem" => Some(PlannerSettings { loss: Loss::Cem { elite_fraction: 0.1 }, ..base }),
        // Classic MPPI for planning with a forked simulator: long horizon, fixed exploration noise.
        "mppi" => Some(PlannerSettings {
            horizon: 20,
            samples: 64,
            iterations: 3,
            loss: Loss::Mppi { temperature: 1.0 },
            variance_step: 0.0,
            initial_std: 0.4,
            min_std: 0.05,
            shift: ShiftRule { last_block: LastBlock::Copy, variance: VarianceShift::Reset },
            particles: 1,
            policy_fraction: 0.0,
            training_action: ActionChoice::Mean,
            terminal_value: TerminalChoice::None,
            ..base
        }),
        // Gaussian mirror descent on the expected cost with partial steps.
        "mirror-descent" => Some(PlannerSettings {
            loss: Loss::ExpectedCost,
            mean_step: 0.5,
            variance_step: 0.5,
            min_std: 0.05,
            training_action: ActionChoice::Mean,
            ..base
        }),
        // DeMoRL settings that swing the pendulum up within ~500 env steps (docs/RESULTS.md):
        // a 15-step CEM plan over the learned model, the critic as terminal value, mean actions.
        "demorl-h15" => Some(PlannerSettings {
            horizon: 15,
            iterations: 3,
            loss: Loss::Cem { elite_fraction: 0.1 },
            initial_std: 0.6,
            min_std: 0.05,
            shift: ShiftRule { last_block: LastBlock::Copy, variance: VarianceShift::Reset },
            training_action: ActionChoice::Mean,
            ..base
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_reference_preset() {
        assert_eq!(PlannerSettings::default(), preset("reference").unwrap());
    }

    #[test]
    fn errors_lists_every_problem() {
        let s = PlannerSettings { horizon: 0, discount: f32::NAN, ..PlannerSettings::default() };
        let fields: Vec<_> = s
            .errors()
            .into_iter()
            .map(|e| match e {
                SettingsError::OutOfRange { field, .. } => field,
                other => panic!("unexpected {other}"),
            })
            .collect();
        assert_eq!(fields, ["planner.horizon", "planner.discount"]);
    }
}
