//! A thin f32 inference copy of chosen ensemble members: plain host buffers, one `gemm` per
//! member and layer, with bias and activation fused into one pass over the product.
//!
//! burn runs every elementwise op as its own pass with its own allocation, which costs as much
//! as the multiplies at planner sizes (API_NOTES); the planner only needs forward passes.

use super::matmul::{Layout, forward_flops, gflops_over, matmul};
use super::normalizer::Normalizer;
use super::simd::{self, Kernel};
use crate::config::Activation;

/// Reusable layer buffers for [`StackView::forward_standardised`].
#[derive(Clone, Debug, Default)]
pub struct InferScratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

/// Forward-only copy of `K` ensemble members with the ensemble's standardisation.
#[derive(Clone, Debug)]
pub struct FastEnsemble {
    /// One member's layer widths, inputs first.
    sizes: Vec<usize>,
    /// The kept members' parameters in `StackedMlp::to_host` order (`[K, …]` blocks), then the
    /// soft log-variance bounds `[K, out]`.
    params: Vec<Vec<f32>>,
    activation: Activation,
    input_norm: Normalizer,
    output_norm: Normalizer,
}

/// Stacked members' parameters in `to_host` order, borrowed: the forward pass both the planner's
/// copy ([`FastEnsemble`]) and the host backend's own weights (hold-out checks, no copy) run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StackView<'a> {
    /// One member's layer widths, inputs first (the last is twice the output width).
    pub sizes: &'a [usize],
    pub params: &'a [Vec<f32>],
    pub activation: Activation,
}

impl StackView<'_> {
    /// Member `k`'s standardised mean and soft-clamped log-variance for `rows` standardised
    /// inputs `x`. Writes `[rows, out]` into `mean` and `logvar`.
    pub fn forward_standardised(
        &self,
        k: usize,
        x: &[f32],
        rows: usize,
        scratch: &mut InferScratch,
        mean: &mut Vec<f32>,
        logvar: &mut Vec<f32>,
    ) {
        let last = self.sizes.len() - 2;
        let d = self.sizes[last + 1] / 2;
        // Ping-pong between the two scratch buffers; `cur` ends up holding the output.
        let mut cur = std::mem::take(&mut scratch.a);
        let mut next = std::mem::take(&mut scratch.b);
        for (i, w) in self.sizes.windows(2).enumerate() {
            let (fi, fo) = (w[0], w[1]);
            let weight = &self.params[2 * i][k * fi * fo..(k + 1) * fi * fo];
            let bias = &self.params[2 * i + 1][k * fo..(k + 1) * fo];
            let src: &[f32] = if i == 0 { &x[..rows * fi] } else { &cur[..rows * fi] };
            next.resize(rows * fo, 0.0);
            matmul(&mut next, (rows, fi, fo), (src, Layout::AsIs), (weight, Layout::AsIs));
            if i < last {
                simd::wide(BiasActivation { values: &mut next[..rows * fo], bias, activation: self.activation });
            } else {
                mean.resize(rows * d, 0.0);
                logvar.resize(rows * d, 0.0);
                let bounds = 2 * (last + 1);
                simd::wide(OutputHead {
                    raw: &next[..rows * fo],
                    bias,
                    hi: &self.params[bounds][k * d..(k + 1) * d],
                    lo: &self.params[bounds + 1][k * d..(k + 1) * d],
                    mean,
                    logvar,
                });
            }
            std::mem::swap(&mut cur, &mut next);
        }
        scratch.a = cur;
        scratch.b = next;
    }
}

/// `v ← act(v + bias)` over rows of `bias.len()` values.
struct BiasActivation<'a> {
    values: &'a mut [f32],
    bias: &'a [f32],
    activation: Activation,
}

impl Kernel for BiasActivation<'_> {
    #[inline(always)]
    fn run(self) {
        let Self { values, bias, activation } = self;
        for row in values.chunks_exact_mut(bias.len()) {
            match activation {
                Activation::Swish => row.iter_mut().zip(bias).for_each(|(v, b)| *v = simd::swish(*v + b)),
                Activation::Relu => row.iter_mut().zip(bias).for_each(|(v, b)| *v = (*v + b).max(0.0)),
            }
        }
    }
}

/// The output layer's bias, then the split of each row into the mean and the log-variance,
/// soft-clamped between `[lo, hi]`: `hi − softplus(hi − raw)`, then `lo + softplus(· − lo)`.
struct OutputHead<'a> {
    raw: &'a [f32],
    bias: &'a [f32],
    hi: &'a [f32],
    lo: &'a [f32],
    mean: &'a mut [f32],
    logvar: &'a mut [f32],
}

impl Kernel for OutputHead<'_> {
    #[inline(always)]
    fn run(self) {
        let Self { raw, bias, hi, lo, mean, logvar } = self;
        let d = hi.len();
        let rows = raw.chunks_exact(2 * d).zip(mean.chunks_exact_mut(d)).zip(logvar.chunks_exact_mut(d));
        let (mean_bias, logvar_bias) = bias.split_at(d);
        for ((row, mean), logvar) in rows {
            let (raw_mean, raw_logvar) = row.split_at(d);
            mean.iter_mut().zip(raw_mean).zip(mean_bias).for_each(|((m, v), b)| *m = v + b);
            // Zipped rather than indexed, so the loop has no bounds checks and vectorises.
            let bounds = hi.iter().zip(lo);
            for (((out, raw), b), (&hi, &lo)) in logvar.iter_mut().zip(raw_logvar).zip(logvar_bias).zip(bounds) {
                let v = hi - simd::softplus(hi - (raw + b));
                *out = lo + simd::softplus(v - lo);
            }
        }
    }
}

/// GFLOP/s of the same multiply kernel the inference path uses, on a chain of layers of the
/// given sizes with `rows` rows, repeated for about `seconds`: the ceiling the planner's
/// inference can reach at these shapes (`bench learning` reports the fraction achieved).
pub fn affine_gflops(sizes: &[usize], rows: usize, seconds: f64) -> f64 {
    let mut chain = GemmChain::new(sizes, rows);
    gflops_over(seconds, forward_flops(sizes, rows), || {
        chain.pass();
    })
}

/// The ceiling's workload: one multiply per layer through a chain of fixed weights.
struct GemmChain {
    sizes: Vec<usize>,
    rows: usize,
    weights: Vec<Vec<f32>>,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl GemmChain {
    fn new(sizes: &[usize], rows: usize) -> Self {
        let widest = sizes.iter().copied().max().unwrap_or(1);
        let weights =
            sizes.windows(2).map(|w| (0..w[0] * w[1]).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect()).collect();
        Self { sizes: sizes.to_vec(), rows, weights, a: vec![0.0; rows * widest], b: vec![0.0; rows * widest] }
    }

    /// One pass through every layer; returns the last layer's output. Every pass starts from the
    /// same input: feeding each pass's output into the next shrank the values, pass after pass,
    /// into subnormal floats, which Intel cores multiply many times slower (an AVX-512 Xeon read
    /// a ceiling of 10 GFLOP/s under a planner step achieving 104; 130–135 once fixed).
    fn pass(&mut self) -> &[f32] {
        self.a.fill(0.1);
        for (layer, w) in self.sizes.windows(2).enumerate() {
            matmul(&mut self.b, (self.rows, w[0], w[1]), (&self.a, Layout::AsIs), (&self.weights[layer], Layout::AsIs));
            std::mem::swap(&mut self.a, &mut self.b);
        }
        &self.a[..self.rows * self.sizes.last().copied().unwrap_or(0)]
    }
}

impl FastEnsemble {
    /// Builds from host parameters in `StackedMlp::to_host` order (`[E, …]` blocks) plus the
    /// log-variance bounds, keeping members `keep` in that order.
    pub(crate) fn from_host(
        sizes: &[usize],
        host: &[Vec<f32>],
        total_members: usize,
        keep: &[usize],
        activation: Activation,
        input_norm: Normalizer,
        output_norm: Normalizer,
    ) -> Self {
        let pick = |block: &Vec<f32>| -> Vec<f32> {
            let per = block.len() / total_members;
            keep.iter().flat_map(|&m| block[m * per..(m + 1) * per].iter().copied()).collect()
        };
        Self { sizes: sizes.to_vec(), params: host.iter().map(pick).collect(), activation, input_norm, output_norm }
    }

    /// The kept members as a [`StackView`], whose `forward_standardised` runs member `k`.
    pub(crate) fn view(&self) -> StackView<'_> {
        StackView { sizes: &self.sizes, params: &self.params, activation: self.activation }
    }

    /// Kept members.
    pub fn members(&self) -> usize {
        self.params[1].len() / self.sizes[1]
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.sizes[0]
    }

    /// Output width (mean part).
    pub fn out_dim(&self) -> usize {
        self.sizes[self.sizes.len() - 1] / 2
    }

    /// The input standardisation.
    pub fn input_normalizer(&self) -> &Normalizer {
        &self.input_norm
    }

    /// The output standardisation.
    pub fn output_normalizer(&self) -> &Normalizer {
        &self.output_norm
    }

    /// Member `k`'s mean and variance in data units for `inputs` (`rows × in_dim`, data units).
    pub fn predict(&self, k: usize, inputs: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let rows = inputs.len() / self.in_dim();
        let x = self.input_norm.normalize(inputs);
        let (mut scratch, mut mean, mut logvar) = (InferScratch::default(), Vec::new(), Vec::new());
        self.view().forward_standardised(k, &x, rows, &mut scratch, &mut mean, &mut logvar);
        self.output_norm.denormalize_in_place(&mut mean);
        let mut var: Vec<f32> = logvar.iter().map(|l| l.exp()).collect();
        self.output_norm.denormalize_variance_in_place(&mut var);
        (mean, var)
    }
}

#[cfg(test)]
mod tests {
    use super::GemmChain;

    #[test]
    fn the_ceilings_passes_repeat_exactly_and_never_reach_subnormal_values() {
        let mut chain = GemmChain::new(&[18, 200, 200, 200, 200, 28], 16);
        let first = chain.pass().to_vec();
        assert!(first.iter().all(|v| *v == 0.0 || v.is_normal()), "{first:?}");
        assert!(first.iter().any(|v| *v != 0.0));
        for _ in 0..200 {
            chain.pass();
        }
        assert_eq!(chain.pass(), first.as_slice());
    }
}
