//! The planner's numeric knobs as one table: each knob's field, the range validation accepts,
//! the span of its slider in the studio, its label and tooltip. `PlannerSettings::errors` and
//! the studio's sliders both read it, so a value the checks accept is never clamped by a widget.

/// Largest planning horizon accepted.
pub const MAX_HORIZON: usize = 1000;
/// Largest number of sampled sequences per iteration.
pub const MAX_SAMPLES: usize = 100_000;
/// Largest number of optimisation iterations per plan.
pub const MAX_ITERATIONS: usize = 1000;
/// Largest number of particles per sequence.
pub const MAX_PARTICLES: usize = 1000;
/// One numeric planner setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Knob {
    /// Field path in a settings file (`planner.horizon`).
    pub field: &'static str,
    /// The widget's name in the studio (tests find widgets by it).
    pub widget: &'static str,
    pub label: &'static str,
    pub tooltip: &'static str,
    /// Valid values: `min` to `max` (either may be excluded; `max` may be infinite).
    pub min: f64,
    pub min_included: bool,
    pub max: f64,
    pub max_included: bool,
    /// Whole numbers only.
    pub integer: bool,
    /// The slider's span, inside the valid range; a valid value beyond it (typed in, or from a
    /// file) is kept as it is.
    pub slider: (f64, f64),
    pub logarithmic: bool,
}

impl Knob {
    /// Whether validation accepts `value` (never NaN).
    pub fn accepts(&self, value: f64) -> bool {
        let above = if self.min_included { value >= self.min } else { value > self.min };
        let below = if self.max_included { value <= self.max } else { value < self.max };
        above && below && value.is_finite() && (!self.integer || value.fract() == 0.0)
    }

    /// `value` if valid, else the nearest end of the slider (what a widget stores after an
    /// out-of-range edit).
    pub fn clamp_valid(&self, value: f64) -> f64 {
        if self.accepts(value) {
            value
        } else if self.integer && self.accepts(value.round()) {
            value.round()
        } else if value > self.min {
            self.slider.1 // above the range (NaN compares false: it takes the lower end)
        } else {
            self.slider.0
        }
    }

    /// The valid range as a sentence fragment: `in (0, 1]`, `an integer in [1, 1000]`, `finite and > 0`.
    pub fn range_text(&self) -> String {
        if self.max.is_infinite() {
            let op = if self.min_included { ">=" } else { ">" };
            return format!("finite and {op} {}", self.min);
        }
        let open = if self.min_included { '[' } else { '(' };
        let close = if self.max_included { ']' } else { ')' };
        let range = format!("{open}{}, {}{close}", self.min, self.max);
        if self.integer { format!("an integer in {range}") } else { format!("in {range}") }
    }

    /// This knob with another upper end (bounds that depend on another setting).
    pub const fn with_max(self, max: f64, included: bool) -> Knob {
        let slider = (self.slider.0, if self.slider.1 < max { self.slider.1 } else { max });
        Knob { max, max_included: included, slider, ..self }
    }
}

const fn knob(field: &'static str, widget: &'static str, label: &'static str, tooltip: &'static str) -> Knob {
    Knob {
        field,
        widget,
        label,
        tooltip,
        min: 0.0,
        min_included: true,
        max: 1.0,
        max_included: true,
        integer: false,
        slider: (0.0, 1.0),
        logarithmic: false,
    }
}

const fn count(k: Knob, max: usize, slider_max: usize, logarithmic: bool) -> Knob {
    Knob { min: 1.0, max: max as f64, integer: true, slider: (1.0, slider_max as f64), logarithmic, ..k }
}

const fn positive(k: Knob, slider: (f64, f64)) -> Knob {
    Knob { min: 0.0, min_included: false, max: f64::INFINITY, max_included: false, slider, logarithmic: true, ..k }
}

pub const HORIZON: Knob = count(
    knob("planner.horizon", "horizon", "horizon H", "How many control steps ahead each candidate plan looks."),
    MAX_HORIZON,
    MAX_HORIZON,
    true,
);
pub const SAMPLES: Knob = count(
    knob("planner.samples", "samples", "samples N", "How many action sequences are sampled per iteration."),
    MAX_SAMPLES,
    MAX_SAMPLES,
    true,
);
pub const ITERATIONS: Knob = count(
    knob(
        "planner.iterations",
        "iterations",
        "iterations I",
        "How many sample-score-update rounds refine the plan each step.",
    ),
    MAX_ITERATIONS,
    MAX_ITERATIONS,
    true,
);
pub const PARTICLES: Knob = count(
    knob(
        "planner.particles",
        "particles",
        "particles P",
        "Stochastic predictions averaged per sequence (the simulator uses one).",
    ),
    MAX_PARTICLES,
    MAX_PARTICLES,
    true,
);
pub const ELITE_FRACTION: Knob = Knob {
    min_included: false,
    slider: (0.01, 1.0),
    ..knob(
        "planner.loss.elite_fraction",
        "elite_fraction",
        "elite fraction ρ",
        "Share of samples (best first) that define the new distribution.",
    )
};
pub const TEMPERATURE: Knob = positive(
    knob(
        "planner.loss.temperature",
        "temperature",
        "temperature λ",
        "Small λ trusts only the best samples; large λ averages widely.",
    ),
    (0.001, 100.0),
);
pub const RELATIVE_TEMPERATURE: Knob = positive(
    knob(
        "planner.loss.temperature",
        "temperature",
        "temperature λ (score std)",
        "In standard deviations of the scores: 0.5 makes a sample one std below the best weigh e² less.",
    ),
    (0.01, 10.0),
);
/// The mean's step with the KL mirror map; [`EUCLIDEAN_MEAN_STEP`] with the Euclidean one.
pub const MEAN_STEP: Knob = Knob {
    min_included: false,
    slider: (0.001, 1.0),
    ..knob(
        "planner.mean_step",
        "mean_step",
        "mean step γμ",
        "1 jumps to the weighted target; smaller values move part of the way.",
    )
};
pub const EUCLIDEAN_MEAN_STEP: Knob = Knob { logarithmic: false, ..positive(MEAN_STEP, (0.001, 10.0)) };
pub const VARIANCE_STEP: Knob = knob(
    "planner.variance_step",
    "variance_step",
    "variance step γσ",
    "0 keeps the exploration noise fixed; 1 adopts the weighted variance.",
);
pub const INITIAL_STD: Knob = Knob {
    logarithmic: false,
    ..positive(
        knob(
            "planner.initial_std",
            "initial_std",
            "initial std",
            "Exploration noise at the start of each plan, in action units.",
        ),
        (0.01, 1.0),
    )
};
/// The noise floor; its upper end is the initial std (see [`Knob::with_max`]).
pub const MIN_STD: Knob = Knob {
    max: f64::INFINITY,
    max_included: false,
    ..knob("planner.min_std", "min_std", "min std", "The noise never shrinks below this, so exploration never stops.")
};
pub const NOISE_CORRELATION: Knob = Knob {
    max_included: false,
    slider: (0.0, 0.95),
    ..knob(
        "planner.noise_correlation",
        "noise_correlation",
        "noise correlation",
        "How much each step's exploration noise follows the previous step's: 0 is white noise, near 1 smooth motions.",
    )
};
pub const DISCOUNT: Knob = Knob {
    min_included: false,
    slider: (0.8, 1.0),
    ..knob("planner.discount", "discount", "discount γ", "Weight of rewards h steps ahead is γ^h.")
};
pub const DISAGREEMENT_PENALTY: Knob = Knob {
    max: f64::INFINITY,
    max_included: false,
    slider: (0.0, 3.0),
    ..knob(
        "planner.disagreement_penalty",
        "disagreement",
        "disagreement κ",
        "A sequence scores its particles' mean return minus κ standard deviations of their returns.",
    )
};
pub const EVALUATION_DISAGREEMENT_PENALTY: Knob = Knob {
    field: "planner.evaluation_disagreement_penalty",
    widget: "evaluation_disagreement",
    label: "κ in evaluation",
    tooltip: "The disagreement κ of evaluation episodes, when it differs from training's.",
    ..DISAGREEMENT_PENALTY
};
pub const POLICY_FRACTION: Knob = Knob {
    max_included: false,
    slider: (0.0, 0.5),
    ..knob(
        "planner.policy_fraction",
        "policy_fraction",
        "policy prior",
        "Share of extra candidates proposed by the SAC actor.",
    )
};
pub const INFLATE_FACTOR: Knob = Knob {
    min: 1.0,
    max: f64::INFINITY,
    max_included: false,
    slider: (1.0, 4.0),
    ..knob(
        "planner.shift.variance.factor",
        "inflate",
        "inflate",
        "Factor on the new last step's variance after a shift (capped at the initial variance).",
    )
};

/// Every knob, for checks over the whole table.
pub const KNOBS: [Knob; 16] = [
    HORIZON,
    SAMPLES,
    ITERATIONS,
    PARTICLES,
    ELITE_FRACTION,
    TEMPERATURE,
    RELATIVE_TEMPERATURE,
    MEAN_STEP,
    EUCLIDEAN_MEAN_STEP,
    VARIANCE_STEP,
    INITIAL_STD,
    MIN_STD,
    NOISE_CORRELATION,
    DISCOUNT,
    DISAGREEMENT_PENALTY,
    POLICY_FRACTION,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slider_lies_inside_its_valid_range() {
        for k in KNOBS.iter().chain([&INFLATE_FACTOR]) {
            assert!(k.accepts(k.slider.0) && k.accepts(k.slider.1), "{}: slider {:?}", k.field, k.slider);
            assert!(k.slider.0 < k.slider.1, "{}", k.field);
            assert!(!k.logarithmic || k.slider.0 > 0.0, "{}: a logarithmic slider starts above 0", k.field);
        }
    }

    #[test]
    fn ranges_read_like_the_spec_and_bounds_are_kept_open_or_closed() {
        assert_eq!(ELITE_FRACTION.range_text(), "in (0, 1]");
        assert_eq!(HORIZON.range_text(), "an integer in [1, 1000]");
        assert_eq!(TEMPERATURE.range_text(), "finite and > 0");
        assert_eq!(INFLATE_FACTOR.range_text(), "finite and >= 1");
        assert!(!ELITE_FRACTION.accepts(0.0) && ELITE_FRACTION.accepts(1.0));
        assert!(NOISE_CORRELATION.accepts(0.0) && !NOISE_CORRELATION.accepts(1.0));
        assert!(!HORIZON.accepts(2.5) && !TEMPERATURE.accepts(f64::NAN) && !TEMPERATURE.accepts(f64::INFINITY));
        assert_eq!(MIN_STD.with_max(0.3, true).range_text(), "in [0, 0.3]");
    }

    #[test]
    fn valid_values_beyond_the_slider_are_kept_and_invalid_ones_clamped_to_it() {
        assert_eq!(EUCLIDEAN_MEAN_STEP.clamp_valid(20.0), 20.0, "a valid Euclidean step above the slider");
        assert_eq!(HORIZON.clamp_valid(1000.0), 1000.0);
        assert_eq!(HORIZON.clamp_valid(5000.0), 1000.0);
        assert_eq!(ELITE_FRACTION.clamp_valid(0.0), 0.01);
        assert_eq!(DISCOUNT.clamp_valid(1.5), 1.0);
        assert_eq!(DISCOUNT.clamp_valid(f64::NAN), 0.8);
    }
}
