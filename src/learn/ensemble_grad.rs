//! The ensemble's training step on host buffers (`backend: Host`): a forward pass that keeps its
//! activations, the loss's gradients written out by hand, and Adam; members, and the halves of
//! each member's minibatch, run as rayon tasks.
//!
//! Why by hand: burn's autodiff runs each elementwise op of this loss (two softplus clamps, the
//! β-NLL, Swish) as its own pass with its own allocation and graph node, so a minibatch step of
//! the 7 × 4 × 200 ensemble ran at 30 % of the GEMM ceiling (docs/BENCHMARKS.md). Here a layer
//! costs its three products (forward, weight gradient, input gradient) and one fused pass. The
//! loss and its gradients are those of the burn path (`loss_tensor` in ensemble.rs) and the update
//! is burn's `Adam`; the tests check both against burn.

use rayon::prelude::*;

use super::checked_file::{FrameError, FrameWriter, open_frame};
use super::matmul::{Layout, forward_flops, gflops_over, matmul};
use super::simd::{self, Kernel};
use crate::config::Activation;

/// The parts of the loss the ensemble's settings choose.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LossTerms {
    pub activation: Activation,
    /// β of the β-NLL (0: the plain NLL).
    pub nll_beta: f32,
    /// Coefficient of `½ Σ W²` over weight matrices.
    pub weight_decay: f32,
    /// `Some(c)`: the log-variance bounds learn, with the penalty `c · (Σ hi − Σ lo)`;
    /// `None`: they are fixed (no gradient, no update).
    pub bound_penalty: Option<f32>,
}

/// Shapes of the stacked parameters in `to_host` order: per layer a weight `[E, in, out]` and a
/// bias `[E, out]`, then the log-variance bounds `hi` and `lo` (`[E, d]` each, `2d` = the last
/// layer's width).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StackShape {
    /// One member's layer widths, inputs first.
    pub sizes: Vec<usize>,
    pub members: usize,
}

impl StackShape {
    fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    fn out_dim(&self) -> usize {
        self.sizes[self.layers()] / 2
    }

    /// Index of the upper bound in `to_host` order (the lower one follows it).
    fn bounds(&self) -> usize {
        2 * self.layers()
    }

    /// Elements of parameter `p` per member.
    fn member_len(&self, p: usize) -> usize {
        let l = p / 2;
        match (l < self.layers(), p % 2) {
            (true, 0) => self.sizes[l] * self.sizes[l + 1],
            (true, _) => self.sizes[l + 1],
            (false, _) => self.out_dim(),
        }
    }

    /// Parameters in `to_host` order.
    fn params(&self) -> usize {
        self.bounds() + 2
    }

    /// Whether `params` has this shape.
    fn matches(&self, params: &[Vec<f32>]) -> bool {
        params.len() == self.params()
            && params.iter().enumerate().all(|(p, v)| v.len() == self.member_len(p) * self.members)
    }
}

/// One member's buffers for a step, reused across steps: its rows are processed in two halves
/// at once, the member's gradients summed into the first.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemberScratch {
    halves: [RowsScratch; 2],
}

/// Minibatches of at least this many rows per member are split in two halves that run as
/// separate tasks: seven members alone would leave one of two cores idle an eighth of the time.
/// The split depends on the row count only, so the sums are the same on any number of threads.
const SPLIT_ROWS: usize = 64;

/// The rows one task of a training step multiplies: a member's minibatch, or half of it (see
/// [`SPLIT_ROWS`]; the first half takes the odd row).
pub fn rows_per_task(batch: usize) -> usize {
    if batch >= SPLIT_ROWS { batch.div_ceil(2) } else { batch }
}

/// The buffers of one member's pass over some of its rows.
#[derive(Clone, Debug, Default)]
struct RowsScratch {
    /// Each hidden layer's σ(pre-activation) `[B, width]` (Swish only), for the backward pass.
    gate: Vec<Vec<f32>>,
    /// Each hidden layer's activations (the product is written here and activated in place).
    post: Vec<Vec<f32>>,
    /// The output layer's product, then the gradient of the loss with respect to it.
    out: Vec<f32>,
    /// Gradients with respect to a hidden layer's pre-activations (ping-pong with `out`).
    spare: Vec<f32>,
    /// The gradient of every parameter (member blocks, `to_host` order).
    grads: Vec<Vec<f32>>,
    /// The loss, and its sums per output across rows (the loss head's lanes).
    loss: f64,
    loss_per_output: Vec<f32>,
}

/// Adam's state per parameter, as burn's `AdaptiveMomentum` keeps it: step count and moments.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct HostAdam {
    /// Steps taken per parameter (the bounds take none while fixed).
    pub time: Vec<u32>,
    pub first: Vec<Vec<f32>>,
    pub second: Vec<Vec<f32>>,
}

/// burn's `AdamConfig` defaults, with the ensemble's ε.
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
pub(crate) const ADAM_EPSILON: f32 = 1e-8;

impl HostAdam {
    /// Zero moments shaped like `params` (kept if they already are).
    fn shape_like(&mut self, params: &[Vec<f32>]) {
        let shaped = |m: &[Vec<f32>]| m.len() == params.len() && m.iter().zip(params).all(|(a, b)| a.len() == b.len());
        if !(shaped(&self.first) && shaped(&self.second) && self.time.len() == params.len()) {
            self.time = vec![0; params.len()];
            self.first = params.iter().map(|p| vec![0.0; p.len()]).collect();
            self.second = self.first.clone();
        }
    }
}

/// Member `m`'s block of every parameter (`[E, …]` each), mutable and disjoint across members.
fn member_blocks<'a>(all: &'a mut [Vec<f32>], shape: &StackShape) -> Vec<Vec<&'a mut [f32]>> {
    let mut per_member: Vec<Vec<&mut [f32]>> = (0..shape.members).map(|_| Vec::with_capacity(all.len())).collect();
    for (p, values) in all.iter_mut().enumerate() {
        for (m, block) in values.chunks_mut(shape.member_len(p)).enumerate() {
            per_member[m].push(block);
        }
    }
    per_member
}

/// The loss (as `ProbabilisticEnsemble`'s burn loss sums it over members) and its gradient for
/// every parameter, on a stacked minibatch `x [E, B, in]`, `y [E, B, d]`. Fixed bounds get zero
/// gradients. For the checks against burn's autodiff; training runs [`train_step`].
#[cfg(test)]
pub(crate) fn loss_and_gradients(
    shape: &StackShape,
    params: &[Vec<f32>],
    (x, y): (&[f32], &[f32]),
    terms: LossTerms,
) -> (f32, Vec<Vec<f32>>) {
    let mut params = params.to_vec();
    let mut scratch = vec![MemberScratch::default(); shape.members];
    let blocks = member_blocks(&mut params, shape);
    blocks.into_par_iter().zip(&mut scratch).enumerate().for_each(|(m, (block, scratch))| {
        let block: Vec<&[f32]> = block.into_iter().map(|b| &*b).collect();
        member_gradients(shape, &block, member_rows(shape, m, x, y), terms, scratch);
        for l in 0..shape.layers() {
            let decay = block[2 * l].iter().map(|w| terms.weight_decay * w);
            scratch.halves[0].grads[2 * l].iter_mut().zip(decay).for_each(|(g, d)| *g += d);
        }
    });
    let loss = scratch.iter().map(|s| s.halves[0].loss).sum::<f64>() as f32;
    let member_grads = |p: usize| scratch.iter().flat_map(move |s| s.halves[0].grads[p].iter().copied());
    (loss, (0..shape.params()).map(|p| member_grads(p).collect()).collect())
}

/// One Adam step of every member on a stacked minibatch (`x [E, B, in]`, `y [E, B, d]`), members
/// in parallel on rayon's pool (each member's arithmetic is the same on any number of threads).
/// Returns the loss before the step.
pub(crate) fn train_step(
    shape: &StackShape,
    params: &mut [Vec<f32>],
    adam: &mut HostAdam,
    scratch: &mut Vec<MemberScratch>,
    (x, y): (&[f32], &[f32]),
    terms: LossTerms,
    learning_rate: f64,
) -> f32 {
    assert!(shape.matches(params), "parameters do not have the ensemble's shapes");
    adam.shape_like(params);
    scratch.resize_with(shape.members, MemberScratch::default);
    let learned = |p: usize| p < shape.bounds() || terms.bound_penalty.is_some();
    for (p, time) in adam.time.iter_mut().enumerate() {
        *time += u32::from(learned(p));
    }
    let params = member_blocks(params, shape);
    let first = member_blocks(&mut adam.first, shape);
    let second = member_blocks(&mut adam.second, shape);
    let time = &adam.time;
    let members = params.into_par_iter().zip(first).zip(second).zip(scratch.par_iter_mut()).enumerate();
    members.for_each(|(m, (((mut params, mut first), mut second), scratch))| {
        let view: Vec<&[f32]> = params.iter().map(|b| &**b).collect();
        member_gradients(shape, &view, member_rows(shape, m, x, y), terms, scratch);
        let grads = &scratch.halves[0].grads;
        for p in (0..shape.params()).filter(|&p| learned(p)) {
            let moments = (&mut *first[p], &mut *second[p]);
            // Weights (even parameters below the bounds) carry the decay.
            let decay = if p < shape.bounds() && p % 2 == 0 { terms.weight_decay } else { 0.0 };
            let step = AdamStep { time: time[p], lr: learning_rate as f32, decay };
            adam_update(params[p], &grads[p], moments, step);
        }
    });
    scratch.iter().map(|s| s.halves[0].loss).sum::<f64>() as f32
}

/// Member `m`'s rows of a stacked minibatch.
fn member_rows<'a>(shape: &StackShape, m: usize, x: &'a [f32], y: &'a [f32]) -> (&'a [f32], &'a [f32]) {
    let (din, d) = (shape.sizes[0], shape.out_dim());
    let rows = y.len() / (d * shape.members);
    assert_eq!((x.len(), y.len()), (shape.members * rows * din, shape.members * rows * d), "minibatch shape");
    (&x[m * rows * din..(m + 1) * rows * din], &y[m * rows * d..(m + 1) * rows * d])
}

/// One Adam update's scalars: the step count after this step, the learning rate, and the weight
/// decay coefficient whose gradient `decay · θ` the update adds to the loss's.
#[derive(Clone, Copy)]
struct AdamStep {
    time: u32,
    lr: f32,
    decay: f32,
}

/// burn's Adam on one block, on the gradient `g` plus `decay · θ`: `m ← β₁m + (1−β₁)g`,
/// `v ← β₂v + (1−β₂)g²`, then `θ ← θ − lr · m·√(1−β₂ᵗ)/(1−β₁ᵗ) / (√v + ε√(1−β₂ᵗ))`, in burn's
/// order of operations. The decay is added here rather than in the backward pass to save a pass
/// over the weights.
fn adam_update(param: &mut [f32], grad: &[f32], (first, second): (&mut [f32], &mut [f32]), step: AdamStep) {
    let t = step.time as i32;
    let correction2 = (1.0 - BETA_2.powi(t)).sqrt();
    let factor = correction2 / (1.0 - BETA_1.powi(t));
    let epsilon = ADAM_EPSILON * correction2;
    simd::wide(AdamKernel { param, grad, first, second, factor, epsilon, lr: step.lr, decay: step.decay });
}

struct AdamKernel<'a> {
    param: &'a mut [f32],
    grad: &'a [f32],
    first: &'a mut [f32],
    second: &'a mut [f32],
    factor: f32,
    epsilon: f32,
    lr: f32,
    decay: f32,
}

impl Kernel for AdamKernel<'_> {
    #[inline(always)]
    fn run(self) {
        let Self { param, grad, first, second, factor, epsilon, lr, decay } = self;
        let moments = first.iter_mut().zip(second.iter_mut());
        for ((p, g), (m, v)) in param.iter_mut().zip(grad).zip(moments) {
            let g = g + decay * *p;
            *m = *m * BETA_1 + g * (1.0 - BETA_1);
            *v = *v * BETA_2 + g * g * (1.0 - BETA_2);
            *p -= (*m * factor / (v.sqrt() + epsilon)) * lr;
        }
    }
}

/// Forward and backward pass of one member (`params`: its blocks in `to_host` order) on its
/// rows, in two halves at once when there are enough (see [`SPLIT_ROWS`]); leaves the member's
/// loss and gradients in `scratch.halves[0]`. The loss includes the weight decay, the weights'
/// gradients leave its term `decay · W` to Adam's pass.
fn member_gradients(
    shape: &StackShape,
    params: &[&[f32]],
    (x, y): (&[f32], &[f32]),
    terms: LossTerms,
    scratch: &mut MemberScratch,
) {
    let (din, d) = (shape.sizes[0], shape.out_dim());
    let rows = y.len() / d;
    // Every row's NLL is scaled by the whole minibatch's size, whichever half it is in.
    let scale = 1.0 / (rows * d) as f32;
    let [first, second] = &mut scratch.halves;
    if rows >= SPLIT_ROWS {
        let half = rows_per_task(rows);
        let ((x_a, x_b), (y_a, y_b)) = (x.split_at(half * din), y.split_at(half * d));
        rayon::join(
            || data_gradients(shape, params, (x_a, y_a), terms, scale, first),
            || data_gradients(shape, params, (x_b, y_b), terms, scale, second),
        );
        for (sum, rows) in first.grads.iter_mut().zip(&second.grads) {
            simd::wide(AddRows { sum, rows });
        }
        first.loss += second.loss;
    } else {
        data_gradients(shape, params, (x, y), terms, scale, first);
    }
    let (hi, lo) = (params[shape.bounds()], params[shape.bounds() + 1]);
    first.loss += weight_decay_loss(shape, params, terms.weight_decay);
    if let Some(c) = terms.bound_penalty {
        first.loss += f64::from(c) * (hi.iter().sum::<f32>() - lo.iter().sum::<f32>()) as f64;
        first.grads[shape.bounds()].iter_mut().for_each(|g| *g += c);
        first.grads[shape.bounds() + 1].iter_mut().for_each(|g| *g -= c);
    } else {
        first.grads[shape.bounds()].fill(0.0);
        first.grads[shape.bounds() + 1].fill(0.0);
    }
}

/// The NLL term's loss and gradients on some of a member's rows, each row's loss scaled by
/// `scale`.
fn data_gradients(
    shape: &StackShape,
    params: &[&[f32]],
    (x, y): (&[f32], &[f32]),
    terms: LossTerms,
    scale: f32,
    s: &mut RowsScratch,
) {
    let layers = shape.layers();
    s.gate.resize_with(layers - 1, Vec::new);
    s.post.resize_with(layers - 1, Vec::new);
    s.grads.resize_with(shape.params(), Vec::new);
    for (p, g) in s.grads.iter_mut().enumerate() {
        g.resize(shape.member_len(p), 0.0);
    }
    forward(shape, params, x, terms.activation, s);
    let (bound_grads, rest) = s.grads.split_at_mut(shape.bounds()).1.split_at_mut(1);
    let head = LossHead {
        out: &mut s.out,
        bias: params[2 * layers - 1],
        y,
        hi: params[shape.bounds()],
        lo: params[shape.bounds() + 1],
        beta: terms.nll_beta,
        scale,
        d_hi: &mut bound_grads[0],
        d_lo: &mut rest[0],
        loss_per_output: &mut s.loss_per_output,
    };
    s.loss = head.run_wide();
    backward(shape, params, x, terms.activation, s);
}

/// `½ · wd · Σ W²` of this member's weight matrices.
fn weight_decay_loss(shape: &StackShape, params: &[&[f32]], weight_decay: f32) -> f64 {
    let squares: f64 = (0..shape.layers()).map(|l| f64::from(square_sum(params[2 * l]))).sum();
    0.5 * f64::from(weight_decay) * squares
}

/// `Σ v²` in eight independent lanes, so the loop vectorises (a single running sum cannot be
/// reordered by the compiler).
fn square_sum(values: &[f32]) -> f32 {
    struct SquareSum<'a> {
        values: &'a [f32],
        total: &'a mut f32,
    }
    impl Kernel for SquareSum<'_> {
        #[inline(always)]
        fn run(self) {
            let mut lanes = [0.0f32; 8];
            let chunks = self.values.chunks_exact(8);
            let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
            for chunk in chunks {
                lanes.iter_mut().zip(chunk).for_each(|(l, v)| *l += v * v);
            }
            *self.total = lanes.iter().sum::<f32>() + tail;
        }
    }
    let mut total = 0.0;
    simd::wide(SquareSum { values, total: &mut total });
    total
}

/// Hidden layers into `post` (and `gate`), the output layer's product (without its bias) into
/// `out`.
fn forward(shape: &StackShape, params: &[&[f32]], x: &[f32], activation: Activation, s: &mut RowsScratch) {
    let layers = shape.layers();
    let rows = x.len() / shape.sizes[0];
    for l in 0..layers {
        let (fan_in, fan_out) = (shape.sizes[l], shape.sizes[l + 1]);
        let (below, this_and_above) = s.post.split_at_mut(l);
        let input: &[f32] = if l == 0 { x } else { &below[l - 1] };
        let dst = if l + 1 < layers { &mut this_and_above[0] } else { &mut s.out };
        dst.resize(rows * fan_out, 0.0);
        matmul(dst, (rows, fan_in, fan_out), (input, Layout::AsIs), (params[2 * l], Layout::AsIs));
        if l + 1 < layers {
            s.gate[l].resize(if activation == Activation::Swish { rows * fan_out } else { 0 }, 0.0);
            let (gate, values) = (&mut s.gate[l], &mut s.post[l]);
            simd::wide(Activate { values, gate, bias: params[2 * l + 1], activation });
        }
    }
}

/// Weight, bias and input gradients layer by layer, from the output's gradient in `out`.
fn backward(shape: &StackShape, params: &[&[f32]], x: &[f32], activation: Activation, s: &mut RowsScratch) {
    let rows = x.len() / shape.sizes[0];
    let mut upstream = std::mem::take(&mut s.out);
    let mut below = std::mem::take(&mut s.spare);
    for l in (0..shape.layers()).rev() {
        let (fan_in, fan_out) = (shape.sizes[l], shape.sizes[l + 1]);
        let input: &[f32] = if l == 0 { x } else { &s.post[l - 1] };
        let weight = params[2 * l];
        let d_weight = &mut s.grads[2 * l];
        matmul(d_weight, (fan_in, rows, fan_out), (input, Layout::Transposed), (&upstream, Layout::AsIs));
        let d_bias = &mut s.grads[2 * l + 1];
        d_bias.fill(0.0);
        simd::wide(AddRows { sum: d_bias, rows: &upstream });
        if l > 0 {
            below.resize(rows * fan_in, 0.0);
            matmul(&mut below, (rows, fan_out, fan_in), (&upstream, Layout::AsIs), (weight, Layout::Transposed));
            let (post, gate) = (&s.post[l - 1], &s.gate[l - 1]);
            simd::wide(ActivationGradient { grad: &mut below, post, gate, activation });
            std::mem::swap(&mut upstream, &mut below);
        }
    }
    // Hand the buffers back for the next step (which is which does not matter).
    s.out = upstream;
    s.spare = below;
}

/// `sum += row` for every `sum.len()`-long row of `rows`, element by element (column sums).
struct AddRows<'a> {
    sum: &'a mut [f32],
    rows: &'a [f32],
}

impl Kernel for AddRows<'_> {
    #[inline(always)]
    fn run(self) {
        if self.sum.is_empty() {
            return;
        }
        for row in self.rows.chunks_exact(self.sum.len()) {
            self.sum.iter_mut().zip(row).for_each(|(s, p)| *s += p);
        }
    }
}

/// `z = values + bias`, then `values ← act(z)` over rows of `bias.len()` values, and for Swish
/// `gate ← σ(z)` (so `values = z · gate`). The pre-activations are not kept: the derivatives
/// below need only the activation and the gate.
struct Activate<'a> {
    values: &'a mut [f32],
    gate: &'a mut [f32],
    bias: &'a [f32],
    activation: Activation,
}

impl Kernel for Activate<'_> {
    #[inline(always)]
    fn run(self) {
        let Self { values, gate, bias, activation } = self;
        match activation {
            Activation::Swish => {
                for (row, gates) in values.chunks_exact_mut(bias.len()).zip(gate.chunks_exact_mut(bias.len())) {
                    for ((h, s), b) in row.iter_mut().zip(gates).zip(bias) {
                        let z = *h + b;
                        *s = simd::sigmoid(z);
                        *h = z * *s;
                    }
                }
            }
            Activation::Relu => {
                for row in values.chunks_exact_mut(bias.len()) {
                    row.iter_mut().zip(bias).for_each(|(h, b)| *h = (*h + b).max(0.0));
                }
            }
        }
    }
}

/// `grad ← grad · act'(z)` from the activation `h` and gate `s = σ(z)`: Swish' = σ(z)(1 + z(1 − σ(z)))
/// = s + h(1 − s) since `h = z·s`; ReLU' = [z > 0] = [h > 0].
struct ActivationGradient<'a> {
    grad: &'a mut [f32],
    post: &'a [f32],
    gate: &'a [f32],
    activation: Activation,
}

impl Kernel for ActivationGradient<'_> {
    #[inline(always)]
    fn run(self) {
        let Self { grad, post, gate, activation } = self;
        match activation {
            Activation::Swish => grad.iter_mut().zip(post).zip(gate).for_each(|((g, &h), &s)| {
                *g *= s + h * (1.0 - s);
            }),
            Activation::Relu => grad.iter_mut().zip(post).for_each(|(g, &h)| *g = if h > 0.0 { *g } else { 0.0 }),
        }
    }
}

/// The output layer's bias, the soft clamps and the β-NLL on each row, forward and backward:
/// `u = hi − softplus(hi − raw)`, `lv = lo + softplus(u − lo)`, element loss
/// `w·((μ−y)² e^{−lv} + lv)` with `w = e^{β·lv}` held constant, scaled by `1/(B·d)`.
/// Overwrites `out` with the gradient for `[μ | raw]` and accumulates the bounds' gradients.
struct LossHead<'a> {
    out: &'a mut [f32],
    bias: &'a [f32],
    y: &'a [f32],
    hi: &'a [f32],
    lo: &'a [f32],
    beta: f32,
    scale: f32,
    d_hi: &'a mut [f32],
    d_lo: &'a mut [f32],
    /// Reused buffer for the loss summed per output across rows.
    loss_per_output: &'a mut Vec<f32>,
}

impl LossHead<'_> {
    /// Runs the pass vectorised; returns the summed, scaled NLL.
    fn run_wide(self) -> f64 {
        let mut loss = 0.0;
        simd::wide(LossHeadKernel { head: self, loss: &mut loss });
        loss
    }
}

struct LossHeadKernel<'a, 'b> {
    head: LossHead<'a>,
    loss: &'b mut f64,
}

impl Kernel for LossHeadKernel<'_, '_> {
    #[inline(always)]
    fn run(self) {
        let LossHead { out, bias, y, hi, lo, beta, scale, d_hi, d_lo, loss_per_output } = self.head;
        let d = hi.len();
        // Every per-output slice cut to exactly `d` values, so the inner loop has no bounds
        // checks and vectorises across outputs.
        let (lo, d_hi, d_lo) = (&lo[..d], &mut d_hi[..d], &mut d_lo[..d]);
        let (mean_bias, raw_bias) = bias.split_at(d);
        let raw_bias = &raw_bias[..d];
        d_hi.fill(0.0);
        d_lo.fill(0.0);
        // The loss summed per output across rows: a single running sum would be a sequential
        // reduction, which keeps the compiler from vectorising the loop.
        loss_per_output.clear();
        loss_per_output.resize(d, 0.0);
        let loss_per_output = &mut loss_per_output[..d];
        for (row, target) in out.chunks_exact_mut(2 * d).zip(y.chunks_exact(d)) {
            let (mean, raw) = row.split_at_mut(d);
            let (raw, target) = (&mut raw[..d], &target[..d]);
            for j in 0..d {
                let t = hi[j] - (raw[j] + raw_bias[j]);
                let (upper, c) = (hi[j] - simd::softplus(t), simd::sigmoid(t));
                let s = upper - lo[j];
                let (logvar, a) = (lo[j] + simd::softplus(s), simd::sigmoid(s));
                let r = mean[j] + mean_bias[j] - target[j];
                let inverse = simd::exp(-logvar);
                let weight = if beta > 0.0 { simd::exp(beta * logvar) } else { 1.0 };
                loss_per_output[j] += weight * (r * r * inverse + logvar);
                let d_logvar = scale * weight * (1.0 - r * r * inverse);
                mean[j] = scale * weight * 2.0 * r * inverse;
                raw[j] = d_logvar * a * c;
                d_hi[j] += d_logvar * a * (1.0 - c);
                d_lo[j] += d_logvar * (1.0 - a);
            }
        }
        *self.loss = loss_per_output.iter().map(|&l| f64::from(l)).sum::<f64>() * f64::from(scale);
    }
}

/// GFLOP/s of a training step's products alone, on one thread for about `seconds`: per layer
/// of `sizes` the forward product on `rows` rows, the weight gradient (the layer's input read
/// transposed) and, above the first layer, the input gradient (the weights read transposed), on
/// fixed operands that stay in cache. `bench learning` sets it beside the forward-chain ceiling
/// (`affine_gflops`): the gap between the two is what these shapes cost the products, the gap
/// between this and a step is the step's own work (activations, the loss, Adam, copies).
pub fn training_products_gflops(sizes: &[usize], rows: usize, seconds: f64) -> f64 {
    let widest = sizes.iter().copied().max().unwrap_or(1);
    let activations = vec![0.1f32; rows * widest];
    let weights = vec![0.01f32; widest * widest];
    let mut out = vec![0.0f32; rows.max(widest) * widest];
    // The layer inputs and the upstream gradients are both `activations`, read as they are.
    let as_is = (&activations[..], Layout::AsIs);
    gflops_over(seconds, training_step_flops(sizes, rows), || {
        for (l, w) in sizes.windows(2).enumerate() {
            let (fan_in, fan_out) = (w[0], w[1]);
            matmul(&mut out, (rows, fan_in, fan_out), as_is, (&weights, Layout::AsIs));
            matmul(&mut out, (fan_in, rows, fan_out), (&activations, Layout::Transposed), as_is);
            if l > 0 {
                matmul(&mut out, (rows, fan_out, fan_in), as_is, (&weights, Layout::Transposed));
            }
        }
    })
}

/// Floating-point operations of a training step's products on `rows` rows of one member: per
/// layer the forward product and the weight gradient, and above the first layer the input
/// gradient (the first layer's input needs none), `2·in·out` per row each.
pub fn training_step_flops(sizes: &[usize], rows: usize) -> usize {
    3 * forward_flops(sizes, rows) - forward_flops(&sizes[..sizes.len().min(2)], rows)
}

const ADAM_MAGIC: &[u8; 8] = b"DMRLADAM";
/// Bumped whenever the layout changes; other versions are refused.
const ADAM_FORMAT_VERSION: u32 = 1;

impl HostAdam {
    /// The state as a framed file (`checked_file`): parameter count, then per parameter its step
    /// count, length and both moments (little-endian f32).
    pub fn to_bytes(&self) -> Vec<u8> {
        let capacity = 8 + self.first.iter().map(|m| 8 * m.len() + 12).sum::<usize>();
        let mut file = FrameWriter::new(ADAM_MAGIC, ADAM_FORMAT_VERSION, capacity);
        file.u64(self.time.len() as u64);
        for ((time, first), second) in self.time.iter().zip(&self.first).zip(&self.second) {
            file.u32(*time);
            file.u64(first.len() as u64);
            file.f32s(first.iter().chain(second));
        }
        file.finish()
    }

    /// Reads [`HostAdam::to_bytes`]' layout, refusing a wrong magic, version or checksum, a
    /// truncated file, or moments that do not fit `shape`.
    pub fn from_bytes(bytes: &[u8], shape: &StackShape) -> anyhow::Result<Self> {
        let mut reader = open_frame(bytes, ADAM_MAGIC, ADAM_FORMAT_VERSION).map_err(|e| match e {
            FrameError::Magic => anyhow::anyhow!("not an Adam state file (wrong magic bytes)"),
            other => anyhow::anyhow!("Adam state {other}"),
        })?;
        let count = reader.u64("parameter count")? as usize;
        anyhow::ensure!(count == shape.params(), "{count} parameters, the ensemble has {}", shape.params());
        let mut adam = HostAdam::default();
        for p in 0..count {
            adam.time.push(reader.u32("step count")?);
            let len = reader.u64("moment count")?;
            let want = shape.member_len(p) * shape.members;
            anyhow::ensure!(len == want as u64, "parameter {p} has {len} moments, the ensemble needs {want}");
            adam.first.push(reader.f32s(len, "first moments")?);
            adam.second.push(reader.f32s(len, "second moments")?);
        }
        anyhow::ensure!(reader.remaining() == 0, "{} bytes after the last parameter", reader.remaining());
        Ok(adam)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steps_products_are_counted_as_the_step_multiplies() {
        // Cheetah sizes: forward and weight gradient of every layer, 2 · 2 · (23·200 + 3·200·200
        // + 200·36) = 527 200 per row, and input gradients above the first, 2 · (3·200·200 +
        // 200·36) = 254 400.
        let cheetah = [23, 200, 200, 200, 200, 36];
        assert_eq!(training_step_flops(&cheetah, 1), 781_600);
        assert_eq!(training_step_flops(&cheetah, 256), 256 * 781_600);
        // A single layer has no input gradient to compute.
        assert_eq!(training_step_flops(&[3, 5], 2), 2 * 2 * 2 * 3 * 5);
    }

    #[test]
    fn minibatches_split_in_halves_from_split_rows_on() {
        assert_eq!(rows_per_task(SPLIT_ROWS - 1), SPLIT_ROWS - 1);
        assert_eq!(rows_per_task(SPLIT_ROWS), SPLIT_ROWS / 2);
        assert_eq!(rows_per_task(257), 129, "the first half takes the odd row");
    }
}
