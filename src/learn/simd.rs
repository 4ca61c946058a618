//! Vectorisable elementwise math for the inference hot loops (exp, ln, softplus, cos, a hashed
//! normal draw) and a dispatcher that runs a loop compiled for the widest of AVX-512 and AVX2
//! the CPU has.
//!
//! The crate is built for baseline x86-64, where loops run four lanes wide at best and libm
//! calls (`expf`, `log1pf`, `cos`) do not vectorise at all; at planner sizes these passes cost as
//! much as the matrix multiplies. The functions here are plain arithmetic on `f32`/`u64` bit
//! patterns so the compiler can vectorise loops over them.

/// A loop body to run by [`wide`]. `run` must be `#[inline(always)]` so it is compiled into the
/// wide entry points rather than called from them.
pub(crate) trait Kernel {
    fn run(self);
}

/// The widest instruction set [`wide`] can use on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SimdLevel {
    /// What the crate is built for (x86-64's SSE2, or the target's own baseline).
    Baseline,
    /// AVX2 with FMA (8 lanes).
    Avx2,
    /// AVX-512 F/DQ/VL (16 lanes).
    Avx512,
}

/// The widest level this CPU supports (the standard library caches the CPUID answers).
pub(crate) fn detected_level() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let avx2 = has!("avx2") && has!("fma");
        if avx2 && has!("avx512f") && has!("avx512dq") && has!("avx512vl") {
            return SimdLevel::Avx512;
        }
        if avx2 {
            return SimdLevel::Avx2;
        }
    }
    SimdLevel::Baseline
}

/// Runs `kernel` compiled for the widest instruction set the CPU has.
#[inline(always)]
pub(crate) fn wide(kernel: impl Kernel) {
    // SAFETY: the level is the one the CPU reports.
    unsafe { run_at(detected_level(), kernel) }
}

/// Runs `kernel` compiled for `level`, which must not exceed [`detected_level`] (checked). Every
/// level gives bit-identical results: Rust never fuses a multiply and an add on its own, so the
/// wider code does the same IEEE operations in the same order per element.
#[cfg(test)]
pub(crate) fn wide_at(level: SimdLevel, kernel: impl Kernel) {
    assert!(level <= detected_level(), "{level:?} is not supported by this CPU");
    // SAFETY: asserted just above.
    unsafe { run_at(level, kernel) }
}

/// # Safety
/// The CPU must support `level`.
#[inline(always)]
unsafe fn run_at(level: SimdLevel, kernel: impl Kernel) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
        fn avx512(kernel: impl Kernel) {
            kernel.run();
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(kernel: impl Kernel) {
            kernel.run();
        }
        match level {
            // SAFETY (both): the caller guarantees the CPU has `level`'s features.
            SimdLevel::Avx512 => return unsafe { avx512(kernel) },
            SimdLevel::Avx2 => return unsafe { avx2(kernel) },
            SimdLevel::Baseline => {}
        }
    }
    kernel.run();
}

/// `e^x` to about 1e-7 relative error.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let t = x.clamp(-87.0, 88.0) * std::f32::consts::LOG2_E;
    // Round to nearest with the 1.5·2^23 trick: `shifted` holds n in the low bits of its
    // mantissa, which also gives 2^n without a float-to-int conversion.
    const MAGIC: f32 = 12_582_912.0;
    let shifted = t + MAGIC;
    let n = shifted - MAGIC;
    let y = (t - n) * std::f32::consts::LN_2;
    let p = 1.0 + y * (1.0 + y * (0.5 + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (1.0 / 120.0 + y * (1.0 / 720.0))))));
    let exponent = shifted.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127);
    p * f32::from_bits(exponent << 23)
}

/// `ln x` for finite positive normal `x`, to about 2e-7 absolute error on the mantissa part.
#[inline(always)]
pub(crate) fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    // x = 2^e · m with m in [√½, √2), so the series below converges fast on both sides of 1.
    let shifted = bits.wrapping_sub(0x3f35_04f3); // bits of √½
    let e = (shifted as i32 >> 23) as f32;
    let m = f32::from_bits((shifted & 0x007f_ffff).wrapping_add(0x3f35_04f3));
    // ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))));
    e * std::f32::consts::LN_2 + series
}

/// The logistic sigmoid `1 / (1 + e^{−x})`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Swish (SiLU), `x · σ(x)`, written as a division as the inference path always has.
#[inline(always)]
pub(crate) fn swish(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// `ln(1 + e^x)`, stable for every finite `x`.
#[inline(always)]
pub(crate) fn softplus(x: f32) -> f32 {
    x.max(0.0) + ln(1.0 + exp(-x.abs()))
}

/// `cos(2π u)` for any finite `u`, to about 1e-7 absolute error.
#[inline(always)]
pub(crate) fn cos_turns(u: f32) -> f32 {
    // Reduce to w = |u − round(u)| in [0, ½], then fold to [0, ¼] with cos(π − a) = −cos a.
    const MAGIC: f32 = 12_582_912.0;
    let w = (u - ((u + MAGIC) - MAGIC)).abs();
    let flip = w > 0.25;
    let a = std::f32::consts::TAU * if flip { 0.5 - w } else { w };
    let a2 = a * a;
    let c = 1.0
        + a2 * (-1.0 / 2.0
            + a2 * (1.0 / 24.0
                + a2 * (-1.0 / 720.0
                    + a2 * (1.0 / 40_320.0 + a2 * (-1.0 / 3_628_800.0 + a2 * (1.0 / 479_001_600.0))))));
    if flip { -c } else { c }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `z`.
#[inline(always)]
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A standard normal drawn from a key: Box–Muller on two 24-bit uniforms hashed from it.
#[inline(always)]
pub(crate) fn gaussian(key: u64) -> f32 {
    let a = splitmix(key);
    const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
    // u1 in (0, 1): never 0, so the logarithm is finite (|z| ≤ 5.8).
    let u1 = ((a >> 40) as u32 as f32 + 0.5) * SCALE;
    let u2 = ((a >> 8) as u32 & 0x00ff_ffff) as f32 * SCALE;
    (-2.0 * ln(u1)).sqrt() * cos_turns(u2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worst(f: impl Fn(f32) -> (f32, f64), xs: impl Iterator<Item = f32>) -> f64 {
        xs.map(|x| {
            let (got, want) = f(x);
            (f64::from(got) - want).abs()
        })
        .fold(0.0, f64::max)
    }

    #[test]
    fn exp_is_accurate_and_saturates() {
        let rel = worst(|x| (exp(x) / x.exp(), 1.0), (-8700..=8800).map(|i| i as f32 * 0.01));
        assert!(rel < 1e-5, "{rel}");
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn ln_softplus_and_cos_match_libm() {
        let ln_err = worst(|x| (ln(x), f64::from(x).ln()), (1..200_000).map(|i| i as f32 * 1e-3));
        assert!(ln_err < 5e-7, "ln {ln_err}");
        let tiny = worst(|x| (ln(x), f64::from(x).ln()), (1..1000).map(|i| i as f32 * 1e-30));
        assert!(tiny < 1e-4, "ln of tiny values {tiny}");
        let sp = worst(|x| (softplus(x), f64::from(x).exp().ln_1p()), (-4000..4000).map(|i| i as f32 * 0.01));
        assert!(sp < 1e-6, "softplus {sp}");
        let cos = worst(
            |u| (cos_turns(u), (std::f64::consts::TAU * f64::from(u)).cos()),
            (-20_000..20_000).map(|i| i as f32 * 1e-4),
        );
        assert!(cos < 1e-6, "cos {cos}");
    }

    #[test]
    fn hashed_gaussian_has_normal_moments_and_tails() {
        let n = 200_000;
        let z: Vec<f64> = (0..n).map(|k| f64::from(gaussian(k))).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let beyond_two = z.iter().filter(|v| v.abs() > 2.0).count() as f64 / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "mean {mean} var {var}");
        // P(|z| > 2) = 4.55 % for a standard normal.
        assert!((beyond_two - 0.0455).abs() < 0.003, "{beyond_two}");
        assert!(z.iter().all(|v| v.is_finite()));
    }

    /// Swish and a hashed normal per element: the operations the inference passes use.
    struct Sample<'a>(&'a mut [f32]);
    impl Kernel for Sample<'_> {
        #[inline(always)]
        fn run(self) {
            for (i, v) in self.0.iter_mut().enumerate() {
                let x = *v;
                *v = x / (1.0 + exp(-x)) + softplus(x) * gaussian(i as u64);
            }
        }
    }

    #[test]
    fn every_simd_level_gives_identical_results() {
        let input: Vec<f32> = (0..1003).map(|i| (i as f32 - 500.0) * 0.037).collect();
        let mut baseline = input.clone();
        Sample(&mut baseline).run();
        assert!(baseline.iter().all(|v| v.is_finite()));
        for level in [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512] {
            if level <= detected_level() {
                let mut values = input.clone();
                wide_at(level, Sample(&mut values));
                assert_eq!(values, baseline, "{level:?}");
            }
        }
    }
}
