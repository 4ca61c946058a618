//! The learned ensemble as the planner's [`Model`]: elite members only, P particles per sequence
//! (particle p bound to elite p mod K), every sequence × particle advanced together.
//!
//! Each particle adds the reward and Δstate its member predicts, optionally sampled from the
//! predicted Gaussian (PETS trajectory sampling). The noise is a pure function of (seed, start
//! observation, lane, step, output), so re-rolling the same sequences from the same start gives
//! the same predictions (the planner's trace scores can be reproduced) and runs are
//! deterministic. Termination is known, not learned: with an [`ObservedTermination`] set, a lane
//! ends at the first step whose predicted observation leaves the task's limits (that step's reward
//! counts, minus the task's penalty; later rewards are 0 and the lane holds its last state);
//! without one, `terminated_at` is always `horizon` and a scene with falls relies on the reward
//! (and the critic) to steer away from them.

use std::sync::Arc;

use super::infer::{FastEnsemble, InferScratch};
use super::normalizer::Normalizer;
use super::simd::{self, Kernel, splitmix};
use super::state_delta::StateDelta;
use crate::plan::{Model, ObservationPoints, RolloutBatch, RootTrack, SequenceBatch};
use crate::sim::ObservedTermination;

/// Whether particles follow the predicted means or samples around them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ModelNoise {
    /// Each particle follows its member's mean prediction.
    Mean,
    /// Each particle samples from its member's predicted Gaussian (PETS TS-∞).
    Sampled,
}

/// Plans through the learned dynamics.
pub struct EnsembleModel {
    net: Option<Arc<FastEnsemble>>,
    obs_dim: usize,
    act_dim: usize,
    noise: ModelNoise,
    seed: u64,
    /// How a predicted Δstate moves an observation (wrapped angles stay in (−π, π]).
    state_delta: StateDelta,
    /// Where predicted observations end a rollout (`None`: never).
    termination: Option<ObservedTermination>,
    /// Turns predicted observations into drawable points (none: rollouts carry no points).
    drawing: Option<Arc<dyn ObservationPoints>>,
    start: Vec<f32>,
    start_key: u64,
    /// One work item per member slot, reused between rollouts.
    slots: Vec<SlotWork>,
    /// Threads the slots are shared out on (`None`: the calling thread alone).
    pool: Option<Arc<rayon::ThreadPool>>,
}

/// One member slot's share of a rollout: the lanes (sequence × particle) its member drives,
/// advanced on their own for the whole horizon, so slots can run on different threads. Every
/// value depends only on the lane, so the result does not depend on the thread count.
#[derive(Default)]
struct SlotWork {
    /// Global lane indices, ascending.
    lanes: Vec<usize>,
    /// Current observation of each lane, rows × obs_dim.
    state: Vec<f32>,
    /// Predicted reward of each lane and step, rows × horizon.
    rewards: Vec<f32>,
    /// Step whose transition ended each lane, or `horizon` while it runs.
    ended: Vec<u32>,
    /// Observation before the last step, rows × obs_dim (written at step H − 1; unused when H = 0).
    before_last: Vec<f32>,
    /// Every predicted observation of the lanes that are drawn, [drawn row][step 0..=H][obs].
    history: Vec<f32>,
    x: Vec<f32>,
    scratch: InferScratch,
    mean: Vec<f32>,
    logvar: Vec<f32>,
}

/// What every slot of one rollout shares.
struct SlotShared<'a> {
    net: &'a FastEnsemble,
    batch: &'a SequenceBatch,
    start: &'a [f32],
    start_key: u64,
    particles: usize,
    sampled: bool,
    state_delta: &'a StateDelta,
    termination: Option<&'a ObservedTermination>,
    /// Keep the history of lanes that are particle 0 of their sequence.
    draw: bool,
}

impl SlotWork {
    /// Advances this slot's lanes (member slot `k`) over the whole horizon.
    fn run(&mut self, k: usize, shared: &SlotShared<'_>) {
        let SlotShared { net, batch, start, start_key, particles, sampled, state_delta, termination, draw } = *shared;
        let (od, horizon, rows) = (start.len(), batch.horizon, self.lanes.len());
        let (din, dout) = (net.in_dim(), net.out_dim());
        self.state.clear();
        (0..rows).for_each(|_| self.state.extend_from_slice(start));
        self.rewards.clear();
        self.rewards.resize(rows * horizon, 0.0);
        self.ended.clear();
        self.ended.resize(rows, horizon as u32);
        self.history.clear();
        let drawn = |l: usize| draw && l.is_multiple_of(particles);
        let record = |history: &mut Vec<f32>, state: &[f32], lanes: &[usize]| {
            for (r, &l) in lanes.iter().enumerate() {
                if drawn(l) {
                    history.extend_from_slice(&state[r * od..(r + 1) * od]);
                }
            }
        };
        record(&mut self.history, &self.state, &self.lanes);
        for h in 0..horizon {
            if h + 1 == horizon {
                self.before_last.clone_from(&self.state);
            }
            self.x.clear();
            for (r, &l) in self.lanes.iter().enumerate() {
                self.x.extend_from_slice(&self.state[r * od..(r + 1) * od]);
                self.x.extend_from_slice(batch.action(l / particles, h));
            }
            debug_assert_eq!(self.x.len(), rows * din);
            simd::wide(Standardise { values: &mut self.x, norm: net.input_normalizer() });
            net.view().forward_standardised(k, &self.x, rows, &mut self.scratch, &mut self.mean, &mut self.logvar);
            simd::wide(PredictionToData {
                mean: &mut self.mean,
                logvar: &self.logvar,
                lanes: &self.lanes,
                noise: sampled.then_some((start_key, h as u64)),
                norm: net.output_normalizer(),
            });
            for (r, y) in self.mean.chunks_exact(dout).enumerate() {
                if (self.ended[r] as usize) < h {
                    // Ended earlier: reward 0, the last state held (as the simulator model does).
                    continue;
                }
                let state = &mut self.state[r * od..(r + 1) * od];
                state_delta.advance(state, &y[1..]);
                self.rewards[r * horizon + h] = y[0];
                if let Some(t) = termination.filter(|t| t.ends(state)) {
                    self.ended[r] = h as u32;
                    self.rewards[r * horizon + h] -= t.penalty();
                }
            }
            record(&mut self.history, &self.state, &self.lanes);
        }
    }
}

/// The network inputs standardised in place.
struct Standardise<'a> {
    values: &'a mut [f32],
    norm: &'a Normalizer,
}

impl Kernel for Standardise<'_> {
    #[inline(always)]
    fn run(self) {
        self.norm.normalize_in_place(self.values);
    }
}

/// Turns each lane's standardised prediction `[reward, Δobs]` into data units in place:
/// `y = (μ + σ·ε)·std + mean`, with ε a normal hashed from (start key, lane, step, output) when
/// sampling (`noise` holds the start key and the step), else 0.
struct PredictionToData<'a> {
    mean: &'a mut [f32],
    logvar: &'a [f32],
    lanes: &'a [usize],
    noise: Option<(u64, u64)>,
    norm: &'a Normalizer,
}

impl Kernel for PredictionToData<'_> {
    #[inline(always)]
    fn run(self) {
        if let Some((start_key, step)) = self.noise {
            let d = self.norm.dim();
            let rows = self.mean.chunks_exact_mut(d).zip(self.logvar.chunks_exact(d)).zip(self.lanes);
            for ((mean, logvar), &lane) in rows {
                let lane_key = splitmix(start_key ^ splitmix(lane as u64));
                for (j, (m, lv)) in mean.iter_mut().zip(logvar).enumerate() {
                    *m += simd::exp(0.5 * lv) * simd::gaussian(lane_key ^ ((step << 32) | j as u64));
                }
            }
        }
        self.norm.denormalize_in_place(self.mean);
    }
}

impl EnsembleModel {
    /// A model with no members yet (rollouts predict zero reward and no motion until
    /// [`set_members`](Self::set_members)).
    pub fn new(obs_dim: usize, act_dim: usize, noise: ModelNoise, seed: u64) -> Self {
        Self {
            net: None,
            obs_dim,
            act_dim,
            noise,
            seed,
            state_delta: StateDelta::plain(),
            termination: None,
            drawing: None,
            start: vec![0.0; obs_dim],
            start_key: 0,
            slots: Vec::new(),
            pool: None,
        }
    }

    /// Uses these members (normally `ProbabilisticEnsemble::fast_elites()`, best first).
    /// Inputs must be `[obs, action]` and outputs `[reward, Δobs]`.
    pub fn set_members(&mut self, net: FastEnsemble) {
        assert_eq!(net.in_dim(), self.obs_dim + self.act_dim, "model input must be [obs, action]");
        assert_eq!(net.out_dim(), 1 + self.obs_dim, "model output must be [reward, Δobs]");
        self.net = Some(Arc::new(net));
    }

    /// Predicted changes of the observation dimensions `step` names as wrapped angles are added
    /// and wrapped back into (−π, π], as the members were trained (`ReplayBuffer::model_dataset`).
    pub fn set_state_delta(&mut self, step: StateDelta) {
        assert!(step.fits(self.obs_dim), "wrapped angle dimension beyond the observation");
        self.state_delta = step;
    }

    /// How predicted changes move an observation.
    pub fn state_delta(&self) -> &StateDelta {
        &self.state_delta
    }

    /// Rollouts from now on end where a predicted observation breaks `termination` (`None`: never).
    pub fn set_termination(&mut self, termination: Option<ObservedTermination>) {
        if let Some(t) = &termination {
            assert!(t.fits(self.obs_dim), "termination limit beyond the observation");
        }
        self.termination = termination;
    }

    /// Where predicted observations end a rollout, if anywhere.
    pub fn termination(&self) -> Option<&ObservedTermination> {
        self.termination.as_ref()
    }

    /// Shares the member slots of each rollout out on `threads` threads (1: the calling thread).
    /// Results do not depend on it.
    pub fn set_threads(&mut self, threads: usize) -> Result<(), rayon::ThreadPoolBuildError> {
        self.pool = if threads > 1 {
            Some(Arc::new(rayon::ThreadPoolBuilder::new().num_threads(threads).build()?))
        } else {
            None
        };
        Ok(())
    }

    /// Rollouts from now on carry the points `drawing` computes from each predicted observation
    /// (particle 0 of every sequence), so the studio can draw learned-model plans.
    pub fn set_drawing(&mut self, drawing: Arc<dyn ObservationPoints>) {
        self.drawing = Some(drawing);
    }

    /// The members in use, if any.
    pub fn members(&self) -> Option<&Arc<FastEnsemble>> {
        self.net.as_ref()
    }

    /// Whether a fitted ensemble is loaded.
    pub fn is_ready(&self) -> bool {
        self.net.is_some()
    }

    /// The noise mode.
    pub fn noise(&self) -> ModelNoise {
        self.noise
    }

    /// Sets the noise mode.
    pub fn set_noise(&mut self, noise: ModelNoise) {
        self.noise = noise;
    }

    /// Rollouts from now on start from observation `obs`.
    pub fn set_start(&mut self, obs: &[f32]) {
        assert_eq!(obs.len(), self.obs_dim, "start observation width");
        self.start.copy_from_slice(obs);
        self.start_key = obs.iter().fold(splitmix(self.seed), |k, v| splitmix(k ^ u64::from(v.to_bits())));
    }

    /// The current start observation.
    pub fn start(&self) -> &[f32] {
        &self.start
    }

    /// The member slot (index into the elites) that drives particle `p` of `particles`.
    pub fn member_of_particle(&self, p: usize, particles: usize) -> usize {
        let k = self.net.as_ref().map_or(1, |n| n.members()).min(particles.max(1));
        p % k
    }
}

impl Model for EnsembleModel {
    fn action_dim(&self) -> usize {
        self.act_dim
    }

    fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    fn point_count(&self) -> usize {
        // A learned model predicts observations; points exist only where the scene maps them.
        self.drawing.as_ref().map_or(0, |d| d.point_count())
    }

    fn particles(&self, requested: usize) -> usize {
        match self.noise {
            ModelNoise::Sampled => requested.max(1),
            // Mean predictions repeat once every elite has a particle.
            ModelNoise::Mean => requested.max(1).min(self.net.as_ref().map_or(1, |n| n.members())),
        }
    }

    fn rollout(&mut self, batch: &SequenceBatch, particles: usize, out: &mut RolloutBatch) {
        let (count, horizon, od) = (batch.count, batch.horizon, self.obs_dim);
        let p = particles.max(1);
        out.resize(count, p, horizon, od, self.point_count());
        let lanes = count * p;
        if horizon == 0 || self.net.is_none() {
            // Nothing is predicted, so every lane ends where it starts (the slots write it otherwise).
            for lane in out.final_obs.chunks_exact_mut(od.max(1)) {
                lane.copy_from_slice(&self.start);
            }
        }
        let Some(net) = self.net.clone() else {
            // No members yet: nothing moves (`resize` left zero rewards).
            if let Some(drawing) = &self.drawing {
                for n in 0..count {
                    let states = std::iter::repeat_n(self.start.as_slice(), horizon + 1);
                    draw_trajectory(drawing.as_ref(), states, out.points_of_mut(n));
                }
            }
            return;
        };
        assert_eq!(batch.action_dim, self.act_dim, "action width");
        let slots = net.members().min(p);
        self.slots.resize_with(slots, SlotWork::default);
        for (k, slot) in self.slots.iter_mut().enumerate() {
            slot.lanes.clear();
            slot.lanes.extend((0..lanes).filter(|l| (l % p) % slots == k));
        }
        let shared = SlotShared {
            net: &net,
            batch,
            start: &self.start,
            start_key: self.start_key,
            particles: p,
            sampled: self.noise == ModelNoise::Sampled,
            state_delta: &self.state_delta,
            termination: self.termination.as_ref(),
            draw: self.drawing.is_some(),
        };
        let work = &mut self.slots;
        match &self.pool {
            Some(pool) => {
                use rayon::prelude::*;
                pool.install(|| work.par_iter_mut().enumerate().for_each(|(k, slot)| slot.run(k, &shared)));
            }
            None => work.iter_mut().enumerate().for_each(|(k, slot)| slot.run(k, &shared)),
        }
        for slot in &self.slots {
            for (r, &l) in slot.lanes.iter().enumerate() {
                out.rewards[l * horizon..(l + 1) * horizon]
                    .copy_from_slice(&slot.rewards[r * horizon..(r + 1) * horizon]);
                out.terminated_at[l] = slot.ended[r];
                if horizon > 0 {
                    out.final_obs[l * od..(l + 1) * od].copy_from_slice(&slot.before_last[r * od..(r + 1) * od]);
                }
            }
        }
        if let Some(drawing) = &self.drawing {
            // Particle 0 of sequence n is lane n·p, which slot 0 drives; its drawn rows are in lane order.
            let history = &self.slots[0].history;
            let per_lane = (horizon + 1) * od;
            for n in 0..count {
                let states = history[n * per_lane..(n + 1) * per_lane].chunks_exact(od);
                draw_trajectory(drawing.as_ref(), states, out.points_of_mut(n));
            }
        }
    }
}

/// The drawn points of one predicted trajectory (its observations in order), step by step.
fn draw_trajectory<'a>(
    drawing: &dyn ObservationPoints,
    states: impl Iterator<Item = &'a [f32]>,
    points: &mut [[f32; 3]],
) {
    let pc = drawing.point_count();
    let mut track = RootTrack::default();
    for (h, obs) in states.enumerate() {
        drawing.points_into(obs, &mut track, &mut points[h * pc..(h + 1) * pc]);
    }
}
