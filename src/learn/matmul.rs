//! The one matrix product the host paths use (inference and the ensemble's training step):
//! `gemm` on row-major buffers, either operand optionally read transposed.

/// Floating-point operations of one forward pass of `rows` rows through layers of widths
/// `sizes` (one `2·in·out` product per layer and row; the ceilings and `bench learning` count
/// work with it).
pub fn forward_flops(sizes: &[usize], rows: usize) -> usize {
    sizes.windows(2).map(|w| 2 * rows * w[0] * w[1]).sum()
}

/// GFLOP/s of `pass`, doing `flops_per_pass` each time, repeated for about `seconds` (at least
/// once).
pub(crate) fn gflops_over(seconds: f64, flops_per_pass: usize, mut pass: impl FnMut()) -> f64 {
    let started = std::time::Instant::now();
    let mut passes = 0usize;
    while passes == 0 || started.elapsed().as_secs_f64() < seconds {
        pass();
        passes += 1;
    }
    (passes * flops_per_pass) as f64 / started.elapsed().as_secs_f64() / 1e9
}

/// How an operand is stored: as the logical matrix (row-major) or as its transpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The buffer holds the logical `r × c` matrix row by row.
    AsIs,
    /// The buffer holds the logical matrix's transpose (`c × r`, row-major).
    Transposed,
}

impl Layout {
    /// `(column stride, row stride)` of a logical `rows × cols` matrix stored this way.
    fn strides(self, rows: usize, cols: usize) -> (isize, isize) {
        match self {
            Layout::AsIs => (1, cols as isize),
            Layout::Transposed => (rows as isize, 1),
        }
    }
}

/// `dst[m, n] = lhs[m, k] · rhs[k, n]` (`dst` row-major, overwritten), each operand stored as
/// its [`Layout`] says. One thread: callers parallelise over independent products.
pub(crate) fn matmul(dst: &mut [f32], (m, k, n): (usize, usize, usize), lhs: (&[f32], Layout), rhs: (&[f32], Layout)) {
    assert!(dst.len() >= m * n && lhs.0.len() >= m * k && rhs.0.len() >= k * n, "matmul operand too short");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        dst[..m * n].fill(0.0);
        return;
    }
    let (lhs_cs, lhs_rs) = lhs.1.strides(m, k);
    let (rhs_cs, rhs_rs) = rhs.1.strides(k, n);
    // SAFETY: the assert above bounds every index the strides reach: an `r × c` operand, stored
    // either way, spans exactly `r · c` elements.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.0.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.0.as_ptr(),
            rhs_cs,
            rhs_rs,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of layouts against the triple loop.
    #[test]
    fn products_match_the_definition_in_every_layout() {
        let (m, k, n) = (3, 4, 5);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 2.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 - 3.0).collect();
        let transpose =
            |x: &[f32], r: usize, c: usize| -> Vec<f32> { (0..c * r).map(|i| x[(i % r) * c + i / r]).collect() };
        let mut want = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        for (lhs, rhs) in [
            ((&a, Layout::AsIs), (&b, Layout::AsIs)),
            ((&at, Layout::Transposed), (&b, Layout::AsIs)),
            ((&a, Layout::AsIs), (&bt, Layout::Transposed)),
            ((&at, Layout::Transposed), (&bt, Layout::Transposed)),
        ] {
            let mut got = vec![f32::NAN; m * n];
            matmul(&mut got, (m, k, n), (lhs.0, lhs.1), (rhs.0, rhs.1));
            assert_eq!(got, want, "{:?} × {:?}", lhs.1, rhs.1);
        }
    }
}
