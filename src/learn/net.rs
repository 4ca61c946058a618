//! Stacked MLPs: `E` independent networks stored as `[E, in, out]` tensors, so one batched matmul
//! per layer runs all of them (the ensemble's members, SAC's twin critics).
//!
//! Weights are drawn from our own seeded RNG on the host, never from burn's: the flex backend's
//! RNG is one process-wide state, so networks built on two threads (parallel tests, two agents)
//! would otherwise get weights that depend on scheduling.

use crate::config::Activation;
use burn::module::{Module, Param};
use burn::tensor::activation::{relu, silu};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

impl Activation {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Swish => silu(x),
            Activation::Relu => relu(x),
        }
    }
}

/// Weight initialisation scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Init {
    /// Weights ~ N(0, 1/(2√fan_in)) truncated at 2σ, biases 0 (PETS).
    TruncatedNormal,
    /// Weights and biases ~ U(±1/√fan_in) (PyTorch's `nn.Linear` default, used by SAC codes).
    Uniform,
}

/// One affine layer for all members: `x [E|1, B, in] · W [E, in, out] + b [E, 1, out]`.
#[derive(Module, Debug)]
pub(crate) struct StackedLinear {
    pub weight: Param<Tensor<3>>,
    pub bias: Param<Tensor<3>>,
}

impl StackedLinear {
    fn new<R: Rng + ?Sized>(
        members: usize,
        fan_in: usize,
        fan_out: usize,
        init: Init,
        rng: &mut R,
        device: &Device,
    ) -> Self {
        let n = members * fan_in * fan_out;
        let (w, b): (Vec<f32>, Vec<f32>) = match init {
            Init::TruncatedNormal => {
                let std = 1.0 / (2.0 * (fan_in as f32).sqrt());
                let w = (0..n)
                    .map(|_| {
                        loop {
                            let z: f32 = StandardNormal.sample(rng);
                            if z.abs() <= 2.0 {
                                break z * std;
                            }
                        }
                    })
                    .collect();
                (w, vec![0.0; members * fan_out])
            }
            Init::Uniform => {
                let k = 1.0 / (fan_in as f32).sqrt();
                let w = (0..n).map(|_| rng.random_range(-k..k)).collect();
                let b = (0..members * fan_out).map(|_| rng.random_range(-k..k)).collect();
                (w, b)
            }
        };
        Self {
            weight: Param::from_data(TensorData::new(w, [members, fan_in, fan_out]), device),
            bias: Param::from_data(TensorData::new(b, [members, 1, fan_out]), device),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        x.matmul(self.weight.val()) + self.bias.val()
    }
}

/// `E` MLPs of identical shape evaluated together.
#[derive(Module, Debug)]
pub(crate) struct StackedMlp {
    pub layers: Vec<StackedLinear>,
}

/// Replaces a parameter's value by host data, keeping its id (so optimiser state stays attached)
/// and its gradient requirement.
pub(crate) fn set_param(param: Param<Tensor<3>>, data: Vec<f32>) -> Param<Tensor<3>> {
    param.map(|t| {
        let shape = t.shape();
        let fresh = Tensor::<3>::from_data(TensorData::new(data, shape), &t.device());
        if t.is_require_grad() { fresh.require_grad() } else { fresh }
    })
}

/// Reads a tensor to host memory as f32.
pub(crate) fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 tensor data")
}

impl StackedMlp {
    /// `members` networks with layer widths `sizes` (`sizes[0]` inputs … last = outputs).
    pub fn new<R: Rng + ?Sized>(members: usize, sizes: &[usize], init: Init, rng: &mut R, device: &Device) -> Self {
        assert!(sizes.len() >= 2, "an MLP needs at least input and output sizes");
        let layers = sizes.windows(2).map(|w| StackedLinear::new(members, w[0], w[1], init, rng, device)).collect();
        Self { layers }
    }

    /// `x [E|1, B, in] → [E, B, out]`; `act` after every layer but the last.
    pub fn forward(&self, mut x: Tensor<3>, act: Activation) -> Tensor<3> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = act.apply(x);
            }
        }
        x
    }

    /// `Σ W²` over all weight matrices (not biases) of all members, a `[1]` tensor.
    pub fn weight_square_sum(&self) -> Tensor<1> {
        self.layers.iter().map(|l| l.weight.val().square().sum()).reduce(|a, b| a + b).expect("at least one layer")
    }

    /// All parameters on the host, in a fixed order (weight, bias per layer).
    pub fn to_host(&self) -> Vec<Vec<f32>> {
        self.layers.iter().flat_map(|l| [to_vec(l.weight.val()), to_vec(l.bias.val())]).collect()
    }

    /// Loads parameters produced by [`StackedMlp::to_host`] (same shapes), keeping parameter ids.
    pub fn load_host(self, host: &[Vec<f32>]) -> Self {
        assert_eq!(host.len(), 2 * self.layers.len(), "parameter count");
        let layers = self
            .layers
            .into_iter()
            .zip(host.chunks_exact(2))
            .map(|(l, p)| StackedLinear {
                weight: set_param(l.weight, p[0].clone()),
                bias: set_param(l.bias, p[1].clone()),
            })
            .collect();
        Self { layers }
    }

    /// Polyak averaging of a (plain-device) target copy toward `online`:
    /// `θ_target ← (1 − tau) θ_target + tau θ_online`.
    pub fn soft_update(self, online: &StackedMlp, tau: f32) -> Self {
        let mix = |target: Param<Tensor<3>>, source: &Param<Tensor<3>>| {
            let s = source.val().inner();
            target.map(|t| t.mul_scalar(1.0 - tau) + s.mul_scalar(tau))
        };
        let layers = self
            .layers
            .into_iter()
            .zip(&online.layers)
            .map(|(t, o)| StackedLinear { weight: mix(t.weight, &o.weight), bias: mix(t.bias, &o.bias) })
            .collect();
        Self { layers }
    }
}

/// Copies member `m`'s slice of every parameter from `src` into `dst` (both from `to_host`).
/// Every parameter is stored member-major (`[E, …]`), so a member is one contiguous block.
pub(crate) fn copy_member(dst: &mut [Vec<f32>], src: &[Vec<f32>], members: usize, m: usize) {
    for (d, s) in dst.iter_mut().zip(src) {
        let block = s.len() / members;
        d[m * block..(m + 1) * block].copy_from_slice(&s[m * block..(m + 1) * block]);
    }
}
