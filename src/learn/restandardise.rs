//! Re-expresses a trained network for new standardisation statistics, so that a refit of the
//! normalisers does not change what the network predicts in data units.
//!
//! A warm-started ensemble refit recomputes the input and output statistics on the grown buffer.
//! The old weights were trained for the old statistics: if a rarely excited dimension's spread
//! grows tenfold, the first layer sees inputs ten times too large and the refit starts from a
//! broken network (seen on the cheetah: one refit's hold-out error jumped 0.044 → 0.44 and the
//! planner exploited it). Folding the change of statistics into the first and last layers keeps
//! the function, so the fit starts from the old model instead of a distorted copy of it.

use super::normalizer::Normalizer;

/// Rewrites stacked-MLP parameters (`to_host` layout: `[W, b]` per layer, weights `[E, in, out]`
/// member-major, biases `[E, 1, out]`) so that the network maps inputs standardised with `new_in`
/// to outputs standardised with `new_out` exactly as it mapped `old_in`-standardised inputs to
/// `old_out`-standardised outputs.
///
/// The network's last layer has `2 · d` outputs: the means of `d` targets, then their raw
/// log-variances. Means are mapped affinely; a log-variance shifts by `2 ln(τ_old / τ_new)`.
/// Entries after the layers are per-output log-variance bounds (`[E, 1, d]`, standardised
/// units); they shift by the same amount, so the soft clamp between them carries over exactly.
pub fn carry_over_standardisation(
    params: &mut [Vec<f32>],
    layers: usize,
    members: usize,
    (old_in, new_in): (&Normalizer, &Normalizer),
    (old_out, new_out): (&Normalizer, &Normalizer),
) {
    assert!(layers >= 1 && params.len() >= 2 * layers, "parameter list shorter than {layers} layers");
    let din = old_in.dim();
    let d = old_out.dim();
    assert_eq!(new_in.dim(), din, "input statistics of different widths");
    assert_eq!(new_out.dim(), d, "output statistics of different widths");

    // First layer: x_old = x_new · (σ'/σ) + (μ' − μ)/σ, folded into W and b.
    {
        let (w, rest) = params.split_at_mut(1);
        let (w, b) = (&mut w[0], &mut rest[0]);
        let hidden = b.len() / members;
        assert_eq!(w.len(), members * din * hidden, "first layer is not [E, {din}, {hidden}]");
        let scale: Vec<f32> = (0..din).map(|i| new_in.std()[i] / old_in.std()[i]).collect();
        let shift: Vec<f32> = (0..din).map(|i| (new_in.mean()[i] - old_in.mean()[i]) / old_in.std()[i]).collect();
        for (wm, bm) in w.chunks_exact_mut(din * hidden).zip(b.chunks_exact_mut(hidden)) {
            for (i, row) in wm.chunks_exact_mut(hidden).enumerate() {
                for (bj, wij) in bm.iter_mut().zip(row.iter_mut()) {
                    *bj += shift[i] * *wij;
                    *wij *= scale[i];
                }
            }
        }
    }

    // Last layer: mean_new = mean_old · (τ/τ') + (ν − ν')/τ'; logvar_new = logvar_old + 2 ln(τ/τ').
    let last = 2 * (layers - 1);
    let (w, rest) = params[last..].split_at_mut(1);
    let (w, b) = (&mut w[0], &mut rest[0]);
    let width = b.len() / members;
    assert_eq!(width, 2 * d, "last layer has {width} outputs, expected 2 × {d}");
    let ratio: Vec<f32> = (0..d).map(|j| old_out.std()[j] / new_out.std()[j]).collect();
    let offset: Vec<f32> = (0..d).map(|j| (old_out.mean()[j] - new_out.mean()[j]) / new_out.std()[j]).collect();
    let column_scale = |j: usize| if j < d { ratio[j] } else { 1.0 };
    for row in w.chunks_exact_mut(width) {
        for (j, wij) in row.iter_mut().enumerate() {
            *wij *= column_scale(j);
        }
    }
    let logvar_shift: Vec<f32> = ratio.iter().map(|r| 2.0 * r.ln()).collect();
    for bm in b.chunks_exact_mut(width) {
        for (j, bj) in bm.iter_mut().enumerate() {
            *bj = if j < d { *bj * ratio[j] + offset[j] } else { *bj + logvar_shift[j - d] };
        }
    }
    for bound in &mut params[2 * layers..] {
        assert_eq!(bound.len(), members * d, "log-variance bound is not [E, 1, {d}]");
        for row in bound.chunks_exact_mut(d) {
            row.iter_mut().zip(&logvar_shift).for_each(|(v, s)| *v += s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny two-member network evaluated by hand: tanh hidden layer, linear output.
    fn forward(params: &[Vec<f32>], members: usize, sizes: &[usize], m: usize, x: &[f32]) -> Vec<f32> {
        let mut h = x.to_vec();
        let layers = sizes.len() - 1;
        for l in 0..layers {
            let (fi, fo) = (sizes[l], sizes[l + 1]);
            let w = &params[2 * l][m * fi * fo..(m + 1) * fi * fo];
            let b = &params[2 * l + 1][m * fo..(m + 1) * fo];
            let mut out = b.to_vec();
            for i in 0..fi {
                for j in 0..fo {
                    out[j] += h[i] * w[i * fo + j];
                }
            }
            if l + 1 < layers {
                out.iter_mut().for_each(|v| *v = v.tanh());
            }
            h = out;
        }
        let _ = members;
        h
    }

    fn params(members: usize, sizes: &[usize]) -> Vec<Vec<f32>> {
        let mut k = 0u32;
        let mut next = || {
            k += 1;
            ((k as f32 * 0.618).fract() - 0.5) * 0.8
        };
        sizes
            .windows(2)
            .flat_map(|w| {
                [(0..members * w[0] * w[1]).map(|_| next()).collect(), (0..members * w[1]).map(|_| next()).collect()]
            })
            .collect()
    }

    fn stats(mean: &[f32], std: &[f32]) -> Normalizer {
        // Build through `fit` on two rows mean ± std, which reproduces exactly these statistics.
        let lo: Vec<f32> = mean.iter().zip(std).map(|(m, s)| m - s).collect();
        let hi: Vec<f32> = mean.iter().zip(std).map(|(m, s)| m + s).collect();
        Normalizer::fit(&[lo, hi].concat(), mean.len(), 1e-6)
    }

    #[test]
    fn predictions_in_data_units_are_unchanged() {
        for sizes in [vec![3, 5, 4], vec![3, 4]] {
            let members = 2;
            let mut p = params(members, &sizes);
            let (old_in, new_in) =
                (stats(&[0.0, 1.0, -2.0], &[1.0, 0.5, 2.0]), stats(&[0.3, 0.0, 1.0], &[3.0, 0.4, 1.0]));
            let (old_out, new_out) = (stats(&[0.5, -1.0], &[2.0, 0.1]), stats(&[0.0, 4.0], &[1.0, 1.5]));
            let x = [0.7f32, -0.2, 1.9];
            let before: Vec<Vec<f32>> =
                (0..members).map(|m| forward(&p, members, &sizes, m, &old_in.normalize(&x))).collect();
            carry_over_standardisation(&mut p, sizes.len() - 1, members, (&old_in, &new_in), (&old_out, &new_out));
            for (m, before) in before.iter().enumerate() {
                let after = forward(&p, members, &sizes, m, &new_in.normalize(&x));
                for j in 0..2 {
                    let mean_before = old_out.mean()[j] + old_out.std()[j] * before[j];
                    let mean_after = new_out.mean()[j] + new_out.std()[j] * after[j];
                    assert!(
                        (mean_before - mean_after).abs() < 1e-4,
                        "member {m} mean {j}: {mean_before} vs {mean_after}"
                    );
                    // Variance in data units: τ² e^{logvar}.
                    let var_before = old_out.std()[j].powi(2) * before[2 + j].exp();
                    let var_after = new_out.std()[j].powi(2) * after[2 + j].exp();
                    assert!((var_before / var_after - 1.0).abs() < 1e-4, "member {m} variance {j}");
                }
            }
        }
    }

    #[test]
    fn identical_statistics_leave_parameters_alone() {
        let sizes = [3, 5, 4];
        let mut p = params(2, &sizes);
        let original = p.clone();
        let s_in = stats(&[0.0, 1.0, -2.0], &[1.0, 0.5, 2.0]);
        let s_out = stats(&[0.5, -1.0], &[2.0, 0.1]);
        carry_over_standardisation(&mut p, 2, 2, (&s_in, &s_in), (&s_out, &s_out));
        for (a, b) in p.iter().flatten().zip(original.iter().flatten()) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
