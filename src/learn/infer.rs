//! A thin f32 inference copy of chosen ensemble members: plain host buffers, one `gemm` per
//! member and layer, with bias and activation fused into one pass over the product.
//!
//! burn runs every elementwise op as its own pass with its own allocation, which costs as much
//! as the multiplies at planner sizes (API_NOTES); the planner only needs forward passes.

use super::net::Activation;
use super::normalizer::Normalizer;

/// One layer of every kept member: weights `[K, in, out]`, biases `[K, out]`.
#[derive(Clone, Debug)]
struct HostLayer {
    fan_in: usize,
    fan_out: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// Reusable layer buffers for [`FastEnsemble::forward_standardised`].
#[derive(Clone, Debug, Default)]
pub struct InferScratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

/// Forward-only copy of `K` ensemble members with the ensemble's standardisation.
#[derive(Clone, Debug)]
pub struct FastEnsemble {
    in_dim: usize,
    out_dim: usize,
    members: usize,
    activation: Activation,
    layers: Vec<HostLayer>,
    /// Soft log-variance bounds, `[K, out]`.
    max_logvar: Vec<f32>,
    min_logvar: Vec<f32>,
    input_norm: Normalizer,
    output_norm: Normalizer,
}

/// `dst[rows, n] = bias + lhs[rows, k] · rhs[k, n]`, all row-major.
fn affine(dst: &mut [f32], lhs: &[f32], rhs: &[f32], bias: &[f32], rows: usize, k: usize, n: usize) {
    assert!(dst.len() >= rows * n && lhs.len() >= rows * k && rhs.len() >= k * n && bias.len() == n);
    for row in dst[..rows * n].chunks_exact_mut(n) {
        row.copy_from_slice(bias);
    }
    if rows == 0 {
        return;
    }
    // SAFETY: the asserts above bound every index the row-major strides reach.
    unsafe {
        gemm::gemm(
            rows,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// GFLOP/s of the same affine kernel the inference path uses, on a chain of layers of the given
/// sizes with `rows` rows, repeated for about `seconds`: the ceiling the planner's inference can
/// reach at these shapes (`bench learning` reports the fraction achieved).
pub fn affine_gflops(sizes: &[usize], rows: usize, seconds: f64) -> f64 {
    let widest = sizes.iter().copied().max().unwrap_or(1);
    let weights: Vec<Vec<f32>> =
        sizes.windows(2).map(|w| (0..w[0] * w[1]).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect()).collect();
    let biases: Vec<Vec<f32>> = sizes.windows(2).map(|w| vec![0.01; w[1]]).collect();
    let (mut a, mut b) = (vec![0.1f32; rows * widest], vec![0.0f32; rows * widest]);
    let flops_per_pass: usize = sizes.windows(2).map(|w| 2 * rows * w[0] * w[1]).sum();
    let started = std::time::Instant::now();
    let mut passes = 0usize;
    while started.elapsed().as_secs_f64() < seconds {
        for (layer, w) in sizes.windows(2).enumerate() {
            affine(&mut b, &a, &weights[layer], &biases[layer], rows, w[0], w[1]);
            std::mem::swap(&mut a, &mut b);
        }
        passes += 1;
    }
    (passes * flops_per_pass) as f64 / started.elapsed().as_secs_f64() / 1e9
}

/// `e^x` to about 1e-7 relative error, written so the compiler can vectorise loops over it
/// (the libm `expf` call cannot be, and dominated Swish at planner sizes).
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    let t = x.clamp(-87.0, 88.0) * std::f32::consts::LOG2_E;
    // Round to nearest with the 1.5·2^23 trick (no libm `roundf` call).
    const MAGIC: f32 = 12_582_912.0;
    let n = (t + MAGIC) - MAGIC;
    let y = (t - n) * std::f32::consts::LN_2;
    let p = 1.0 + y * (1.0 + y * (0.5 + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (1.0 / 120.0 + y * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

fn softplus(x: f32) -> f32 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
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
        let pick = |block: &[f32]| -> Vec<f32> {
            let per = block.len() / total_members;
            keep.iter().flat_map(|&m| block[m * per..(m + 1) * per].iter().copied()).collect()
        };
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| HostLayer {
                fan_in: w[0],
                fan_out: w[1],
                weight: pick(&host[2 * i]),
                bias: pick(&host[2 * i + 1]),
            })
            .collect();
        let l = 2 * (sizes.len() - 1);
        Self {
            in_dim: sizes[0],
            out_dim: sizes[sizes.len() - 1] / 2,
            members: keep.len(),
            activation,
            layers,
            max_logvar: pick(&host[l]),
            min_logvar: pick(&host[l + 1]),
            input_norm,
            output_norm,
        }
    }

    /// Kept members.
    pub fn members(&self) -> usize {
        self.members
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    /// Output width (mean part).
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// The input standardisation.
    pub fn input_normalizer(&self) -> &Normalizer {
        &self.input_norm
    }

    /// The output standardisation.
    pub fn output_normalizer(&self) -> &Normalizer {
        &self.output_norm
    }

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
        let last = self.layers.len() - 1;
        // Ping-pong between the two scratch buffers; `cur` ends up holding the output.
        let mut cur = std::mem::take(&mut scratch.a);
        let mut next = std::mem::take(&mut scratch.b);
        for (i, layer) in self.layers.iter().enumerate() {
            let (fi, fo) = (layer.fan_in, layer.fan_out);
            let w = &layer.weight[k * fi * fo..(k + 1) * fi * fo];
            let bias = &layer.bias[k * fo..(k + 1) * fo];
            let src: &[f32] = if i == 0 { &x[..rows * fi] } else { &cur[..rows * fi] };
            next.resize(rows * fo, 0.0);
            affine(&mut next, src, w, bias, rows, fi, fo);
            if i < last {
                match self.activation {
                    Activation::Swish => next.iter_mut().for_each(|v| *v /= 1.0 + fast_exp(-*v)),
                    Activation::Relu => next.iter_mut().for_each(|v| *v = v.max(0.0)),
                }
            }
            std::mem::swap(&mut cur, &mut next);
        }
        let out = &cur;
        let d = self.out_dim;
        mean.clear();
        logvar.clear();
        let (hi, lo) = (&self.max_logvar[k * d..(k + 1) * d], &self.min_logvar[k * d..(k + 1) * d]);
        for row in out[..rows * 2 * d].chunks_exact(2 * d) {
            mean.extend_from_slice(&row[..d]);
            for j in 0..d {
                let v = hi[j] - softplus(hi[j] - row[d + j]);
                logvar.push(lo[j] + softplus(v - lo[j]));
            }
        }
        scratch.a = cur;
        scratch.b = next;
    }

    /// Member `k`'s mean and variance in data units for `inputs` (`rows × in_dim`, data units).
    pub fn predict(&self, k: usize, inputs: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let rows = inputs.len() / self.in_dim;
        let x = self.input_norm.normalize(inputs);
        let (mut scratch, mut mean, mut logvar) = (InferScratch::default(), Vec::new(), Vec::new());
        self.forward_standardised(k, &x, rows, &mut scratch, &mut mean, &mut logvar);
        self.output_norm.denormalize_in_place(&mut mean);
        let mut var: Vec<f32> = logvar.iter().map(|l| l.exp()).collect();
        self.output_norm.denormalize_variance_in_place(&mut var);
        (mean, var)
    }
}

#[cfg(test)]
mod tests {
    use super::fast_exp;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0.0f32;
        for i in -8700..=8800 {
            let x = i as f32 * 0.01;
            worst = worst.max((fast_exp(x) - x.exp()).abs() / x.exp());
        }
        assert!(worst < 1e-5, "{worst}");
        assert_eq!(fast_exp(-1000.0), (-87.0f32).exp().max(fast_exp(-1000.0)));
        assert!(fast_exp(1000.0).is_finite());
    }
}
