//! Probabilistic ensemble: fit and variance tracking, best-snapshot restore, elites, determinism,
//! on both backends (burn's autodiff and the hand-written host step).

use demorl_studio::config::{EnsembleBackend, EnsembleSettings};
use demorl_studio::learn::{ProbabilisticEnsemble, select_elites};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// True noise std: grows linearly from 0.05 at x = -1 to 0.30 at x = 1.
fn noise_std(x: f32) -> f32 {
    0.05 + 0.125 * (x + 1.0)
}

/// `n` samples of y = sin(3x) + noise_std(x) · z, x ~ U(-1, 1).
fn dataset(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let xs: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let ys = xs
        .iter()
        .map(|&x| {
            let z: f32 = StandardNormal.sample(&mut rng);
            (3.0 * x).sin() + noise_std(x) * z
        })
        .collect();
    (xs, ys)
}

fn small_settings() -> EnsembleSettings {
    EnsembleSettings {
        members: 5,
        elites: 3,
        hidden_layers: 2,
        hidden_width: 64,
        batch_size: 128,
        max_epochs: 300,
        ..Default::default()
    }
}

fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let cov: f32 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f32 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f32 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Fits sin(3x) with heteroscedastic noise and checks the means, the predicted noise and the
/// reported hold-out log-variance against the truth.
fn fit_noisy_function_and_check_variance(settings: EnsembleSettings) {
    let (x, y) = dataset(3000, 1);
    let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 11);
    let t = std::time::Instant::now();
    let report = ens.fit(&x, &y);
    let fit_time = t.elapsed();

    let grid: Vec<f32> = (0..21).map(|i| -0.9 + 0.09 * i as f32).collect();
    let pred = ens.predict(&grid);
    let elites = ens.elites().to_vec();
    // Mean and aleatoric std averaged over the elites.
    let mean: Vec<f32> =
        (0..grid.len()).map(|i| elites.iter().map(|&m| pred.mean[m * grid.len() + i]).sum::<f32>() / 3.0).collect();
    let std: Vec<f32> = (0..grid.len())
        .map(|i| (elites.iter().map(|&m| pred.var[m * grid.len() + i]).sum::<f32>() / 3.0).sqrt())
        .collect();
    let truth_std: Vec<f32> = grid.iter().map(|&x| noise_std(x)).collect();
    let rmse =
        (grid.iter().zip(&mean).map(|(&x, m)| (m - (3.0 * x).sin()).powi(2)).sum::<f32>() / grid.len() as f32).sqrt();
    let corr = pearson(&std, &truth_std);
    let ratios: Vec<f32> = std.iter().zip(&truth_std).map(|(p, t)| p / t).collect();
    // The true mean log-variance of the hold-out rows' noise, in the targets' standardised
    // units (the standardisation is fitted on the training rows; their spread is y's).
    let n = y.len() as f32;
    let y_mean = y.iter().sum::<f32>() / n;
    let y_var = y.iter().map(|v| (v - y_mean).powi(2)).sum::<f32>() / n;
    let hold = &report.holdout_indices;
    let true_logvar = hold.iter().map(|&i| (noise_std(x[i]).powi(2) / y_var).ln()).sum::<f32>() / hold.len() as f32;
    println!(
        "fit: epochs {} (early stop {}), {:.2?}; mean RMSE vs sin(3x) {rmse:.4}; std corr {corr:.3}; \
         hold-out log-variance {:.3} (true {true_logvar:.3})",
        report.epochs, report.early_stopped, fit_time, report.holdout_mean_logvar
    );
    for i in (0..grid.len()).step_by(4) {
        println!("  x {:+.2}: predicted std {:.3}, true {:.3}", grid[i], std[i], truth_std[i]);
    }
    assert!(rmse < 0.06, "mean RMSE {rmse}");
    assert!(corr > 0.9, "std correlation {corr}");
    for (i, r) in ratios.iter().enumerate() {
        assert!((0.6..1.6).contains(r), "std ratio {r} at x = {}", grid[i]);
    }
    let logvar_error = report.holdout_mean_logvar - true_logvar;
    assert!(logvar_error.abs() < 0.3, "hold-out log-variance off by {logvar_error}");
}

#[test]
fn fits_noisy_function_and_variance_tracks_noise() {
    fit_noisy_function_and_check_variance(small_settings());
}

/// β-NLL reweights the elements but keeps the variance's optimum, so the noise is still learned.
#[test]
fn beta_nll_fits_the_noisy_function_and_its_noise() {
    fit_noisy_function_and_check_variance(EnsembleSettings { nll_beta: 0.5, ..small_settings() });
}

/// The host backend learns the same function and noise as burn's.
#[test]
fn host_backend_fits_the_noisy_function_and_its_noise() {
    fit_noisy_function_and_check_variance(EnsembleSettings { backend: EnsembleBackend::Host, ..small_settings() });
}

#[test]
fn restores_each_members_best_snapshot() {
    restores_each_members_best_snapshot_on(EnsembleBackend::Burn);
    // The host backend trains on host copies: the hook's change must reach them.
    restores_each_members_best_snapshot_on(EnsembleBackend::Host);
}

fn restores_each_members_best_snapshot_on(backend: EnsembleBackend) {
    let (x, y) = dataset(1000, 2);
    let settings = EnsembleSettings { max_epochs: 40, backend, ..small_settings() };
    let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 3);
    // Member 0 is wiped after every epoch from the eighth on: its hold-out error jumps and stays
    // high, so its last weights are far worse than its best snapshot.
    let report = ens.fit_observed(&x, &y, |epoch, ens| {
        if epoch >= 8 {
            ens.scale_member(0, 0.0);
        }
    });
    let last = report.holdout_history.last().unwrap();
    println!("best {:?} (epochs {:?}), last {:?}", report.best_holdout_mse, report.best_epoch, last);
    assert!(report.best_epoch[0] <= 7, "member 0 best epoch {}", report.best_epoch[0]);
    assert!(last[0] > 2.0 * report.best_holdout_mse[0], "injected degradation did not show");

    // Re-evaluate the restored ensemble on the same hold-out rows.
    let hx: Vec<f32> = report.holdout_indices.iter().map(|&i| x[i]).collect();
    let hy: Vec<f32> = report.holdout_indices.iter().map(|&i| y[i]).collect();
    let now = ens.evaluate_mse(&hx, &hy);
    for (m, (now, best)) in now.iter().zip(&report.best_holdout_mse).enumerate() {
        assert!((now - best).abs() <= 1e-6 * best.max(1e-3), "member {m}: restored {now} vs best {best}");
    }
    assert_eq!(ens.holdout_mse(), report.best_holdout_mse.as_slice());
}

#[test]
fn elites_are_the_members_with_lowest_holdout_error() {
    assert_eq!(select_elites(&[0.5, 0.1, 0.9, 0.2, 0.3], 3), vec![1, 3, 4]);
    let (x, y) = dataset(1000, 4);
    let settings = EnsembleSettings { max_epochs: 30, ..small_settings() };
    let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 5);
    // Members 1 and 3 never get to learn: they are wiped after every epoch.
    let report = ens.fit_observed(&x, &y, |_, ens| {
        ens.scale_member(1, 0.0);
        ens.scale_member(3, 0.0);
    });
    let mse = &report.best_holdout_mse;
    println!("hold-out MSE {mse:?}, elites {:?}", report.elites);
    assert_eq!(report.elites, select_elites(mse, 3));
    assert_eq!(ens.elites(), report.elites.as_slice());
    let mut sorted = report.elites.clone();
    sorted.sort();
    assert_eq!(sorted, vec![0, 2, 4]);
    let worst_elite = report.elites.iter().map(|&m| mse[m]).fold(f32::MIN, f32::max);
    assert!(mse[1] > worst_elite && mse[3] > worst_elite);
}

/// The first fit's data plus 3000 noise-free rows of the same function crowded into
/// x ∈ [0.7, 1]: the input and output statistics move a lot, yet the first model still predicts
/// the new rows well.
fn grown_dataset() -> (Vec<f32>, Vec<f32>) {
    let (mut x, mut y) = dataset(1000, 7);
    let mut rng = ChaCha8Rng::seed_from_u64(70);
    for _ in 0..3000 {
        let xi: f32 = rng.random_range(0.7..1.0);
        x.push(xi);
        y.push((3.0 * xi).sin());
    }
    (x, y)
}

/// Fits on the first data, then refits on the grown data with every member wiped after every
/// training epoch, so the refit can only end at its epoch-0 snapshot (the old weights under the
/// new standardisation) or worse. Returns the grid predictions before and after the refit.
fn sabotaged_refit(refit_guard: Option<f32>) -> (Vec<f32>, Vec<f32>, ProbabilisticEnsemble, bool) {
    let settings = EnsembleSettings { max_epochs: 60, refit_guard, ..small_settings() };
    let (x, y) = dataset(1000, 7);
    let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 8);
    assert_eq!(ens.elite_holdout_mse(), None, "an unfitted model has no error");
    ens.fit(&x, &y);
    let grid: Vec<f32> = (0..21).map(|i| -0.9 + 0.09 * i as f32).collect();
    let before = ens.predict(&grid).mean;
    let (xg, yg) = grown_dataset();
    let report = ens.fit_observed(&xg, &yg, |_, ens| (0..5).for_each(|m| ens.scale_member(m, 0.0)));
    let hx: Vec<f32> = report.holdout_indices.iter().map(|&i| xg[i]).collect();
    let hy: Vec<f32> = report.holdout_indices.iter().map(|&i| yg[i]).collect();
    let elite_mse = |mse: &[f32]| report.elites.iter().map(|&m| mse[m]).sum::<f32>() / report.elites.len() as f32;
    // The ensemble keeps the error its last fit reported, whether the guard kept the refit or not.
    assert_eq!(ens.elite_holdout_mse(), Some(report.elite_holdout_mse()));
    println!(
        "guard {refit_guard:?}: kept previous {}, elite hold-out MSE {:.4} (re-evaluated {:.4})",
        report.kept_previous,
        elite_mse(&report.best_holdout_mse),
        elite_mse(&ens.evaluate_mse(&hx, &hy))
    );
    (before, ens.predict(&grid).mean, ens, report.kept_previous)
}

#[test]
fn refit_guard_keeps_the_previous_model_when_a_refit_is_much_worse() {
    // Without the guard the sabotaged refit replaces a good model with a broken one.
    let (before, after, _, kept) = sabotaged_refit(None);
    assert!(!kept);
    let moved = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(moved > 0.2, "the sabotaged refit hardly changed the predictions ({moved}): the scenario tests nothing");

    // With it, the previous weights and standardisation come back: the same predictions, bit
    // for bit, and the reported errors are the previous model's on the new hold-out rows.
    let (before, after, ens, kept) = sabotaged_refit(Some(2.0));
    assert!(kept, "the guard accepted a refit that was much worse");
    assert_eq!(before, after);
    let (xg, yg) = grown_dataset();
    let worst_elite = ens.elites().iter().map(|&m| ens.holdout_mse()[m]).fold(0.0f32, f32::max);
    let whole = ens.evaluate_mse(&xg, &yg);
    assert!(worst_elite < 0.5 && ens.elites().iter().all(|&m| whole[m] < 0.5), "kept model {worst_elite} {whole:?}");
}

/// The Adam state file of a fit, then of a sabotaged refit of it (guard `refit_guard`), and
/// whether the refit was rejected.
fn optimiser_state_around_a_sabotaged_refit(
    refit_guard: Option<f32>,
    backend: EnsembleBackend,
) -> (Vec<u8>, Vec<u8>, bool) {
    let scratch =
        std::env::temp_dir().join(format!("demorl-guard-optim-{}-{refit_guard:?}-{backend:?}", std::process::id()));
    let settings = EnsembleSettings { max_epochs: 60, refit_guard, backend, ..small_settings() };
    let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 8);
    let optimiser_file = match backend {
        EnsembleBackend::Burn => "ensemble_optim.bpk",
        EnsembleBackend::Host => "ensemble_host_adam.bin",
    };
    let (x, y) = dataset(1000, 7);
    ens.fit(&x, &y);
    let saved = |ens: &ProbabilisticEnsemble, name: &str| {
        let dir = scratch.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        ens.save_to(&dir).unwrap();
        std::fs::read(dir.join(optimiser_file)).unwrap()
    };
    let before = saved(&ens, "before");
    let (xg, yg) = grown_dataset();
    let report = ens.fit_observed(&xg, &yg, |_, ens| (0..5).for_each(|m| ens.scale_member(m, 0.0)));
    let after = saved(&ens, "after");
    std::fs::remove_dir_all(&scratch).ok();
    (before, after, report.kept_previous)
}

#[test]
fn a_rejected_refit_leaves_the_optimiser_state_as_it_was() {
    for backend in [EnsembleBackend::Burn, EnsembleBackend::Host] {
        let (before, after, kept) = optimiser_state_around_a_sabotaged_refit(Some(2.0), backend);
        assert!(kept, "{backend:?}: the guard accepted the sabotaged refit");
        assert!(before == after, "{backend:?}: the rejected refit's Adam moments were kept");
        // An accepted refit does change the state, so the comparison can tell.
        let (before, after, kept) = optimiser_state_around_a_sabotaged_refit(None, backend);
        assert!(!kept && before != after, "{backend:?}");
    }
}

/// The host backend runs members in parallel; each member's arithmetic does not depend on the
/// thread count, so fits on one and on two threads agree bit for bit.
#[test]
fn host_backend_gives_the_same_fit_on_any_thread_count() {
    let (x, y) = dataset(600, 6);
    let settings = EnsembleSettings { max_epochs: 3, backend: EnsembleBackend::Host, ..small_settings() };
    let fit_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut ens = ProbabilisticEnsemble::new(1, 1, settings.clone(), 9);
            let report = ens.fit(&x, &y);
            (ens.parameters().iter().map(|p| p.to_bits()).collect::<Vec<_>>(), report)
        })
    };
    let (one, report_one) = fit_on(1);
    let (two, report_two) = fit_on(2);
    assert_eq!(report_one, report_two);
    assert!(one == two, "one and two threads gave different weights");
}

/// A host-backend ensemble saved after a fit and loaded back refits exactly as the one that
/// never stopped (weights, Adam moments and step counts, RNG); a damaged Adam file is refused
/// with its name.
#[test]
fn host_backend_resumes_from_a_save_exactly() {
    let dir = std::env::temp_dir().join(format!("demorl-host-adam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = EnsembleSettings { max_epochs: 4, backend: EnsembleBackend::Host, ..small_settings() };
    let (x, y) = dataset(600, 12);
    let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 13);
    ens.fit(&x, &y);
    ens.save_to(&dir).unwrap();
    let mut resumed = ProbabilisticEnsemble::load_from(&dir).unwrap();
    let (xg, yg) = grown_dataset();
    let (a, b) = (ens.fit(&xg, &yg), resumed.fit(&xg, &yg));
    assert_eq!(a, b);
    assert!(ens.parameters().iter().zip(resumed.parameters()).all(|(p, q)| p.to_bits() == q.to_bits()));

    let path = dir.join("ensemble_host_adam.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let error = ProbabilisticEnsemble::load_from(&dir).err().expect("a damaged Adam file loaded").to_string();
    assert!(error.contains("ensemble_host_adam.bin") && error.contains("checksum"), "{error}");
    std::fs::write(&path, &bytes[..middle]).unwrap();
    let error = ProbabilisticEnsemble::load_from(&dir).err().expect("a truncated Adam file loaded").to_string();
    assert!(error.contains("ensemble_host_adam.bin"), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn refit_guard_accepts_a_refit_that_is_not_much_worse() {
    let settings = EnsembleSettings { max_epochs: 60, refit_guard: Some(2.0), ..small_settings() };
    let (x, y) = dataset(1000, 7);
    let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 8);
    ens.fit(&x, &y);
    let before = ens.parameters();
    let (xg, yg) = grown_dataset();
    let report = ens.fit(&xg, &yg);
    assert!(!report.kept_previous);
    assert_ne!(before, ens.parameters());
    assert_eq!(ens.holdout_mse(), report.best_holdout_mse.as_slice());
}

#[test]
fn per_output_holdout_error_names_the_unpredictable_output() {
    // Output 0 is sin(3x) with a little noise; output 1 is pure noise, independent of x, so no
    // model can beat its mean: its standardised MSE must be about 1, output 0's near 0.
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..2000 {
        let xi: f32 = rng.random_range(-1.0..1.0);
        let (z0, z1): (f32, f32) = (StandardNormal.sample(&mut rng), StandardNormal.sample(&mut rng));
        x.push(xi);
        y.extend([(3.0 * xi).sin() + 0.05 * z0, 2.0 * z1]);
    }
    let mut ens = ProbabilisticEnsemble::new(1, 2, EnsembleSettings { max_epochs: 60, ..small_settings() }, 22);
    let report = ens.fit(&x, &y);
    let per_output = &report.holdout_mse_per_output;
    println!("per-output hold-out MSE {per_output:?}");
    assert_eq!(per_output.len(), 2);
    assert!(per_output[0] < 0.05, "the predictable output: {}", per_output[0]);
    assert!((0.8..1.4).contains(&per_output[1]), "the noise output: {}", per_output[1]);
    // Their mean is the elites' mean hold-out MSE (the number train.csv records).
    let elite_mean = report.elites.iter().map(|&m| report.best_holdout_mse[m]).sum::<f32>() / 3.0;
    let mean = (per_output[0] + per_output[1]) / 2.0;
    assert!((mean - elite_mean).abs() < 1e-3 * elite_mean, "{mean} vs {elite_mean}");
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let (x, y) = dataset(600, 6);
    let settings = EnsembleSettings { max_epochs: 3, ..small_settings() };
    let run = |seed| {
        let mut ens = ProbabilisticEnsemble::new(1, 1, settings.clone(), seed);
        let report = ens.fit(&x, &y);
        (ens.parameters(), report)
    };
    let (a, ra) = run(9);
    let (b, rb) = run(9);
    let (c, _) = run(10);
    assert_eq!(ra, rb);
    assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()), "same seed, different weights");
    assert_ne!(a, c);
}

/// Cost of one training epoch at cheetah sizes (in 23, out 18, 7 × 4 × 200). Run with `--ignored`.
#[test]
#[ignore]
fn timing_cheetah_sized_training() {
    let (din, dout, n) = (23, 18, 5000);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x: Vec<f32> = (0..n * din).map(|_| rng.random_range(-1.0..1.0)).collect();
    let y: Vec<f32> = (0..n * dout).map(|_| rng.random_range(-1.0..1.0)).collect();
    let settings = EnsembleSettings { max_epochs: 3, patience: 100, ..Default::default() };
    let mut ens = ProbabilisticEnsemble::new(din, dout, settings, 1);
    let t = std::time::Instant::now();
    let report = ens.fit(&x, &y);
    let dt = t.elapsed();
    let steps = report.epochs * report.train_size.div_ceil(256);
    println!(
        "ensemble 7x4x200, {n} rows: {} epochs in {dt:.2?}, {:.2} ms per minibatch step (all 7 members)",
        report.epochs,
        dt.as_secs_f64() * 1e3 / steps as f64
    );
    let t = std::time::Instant::now();
    let _ = ens.predict(&x[..2000 * din]);
    println!("predict 2000 rows x 7 members: {:.2?}", t.elapsed());
}

/// A model fitted to y = sin(3x + ½), then refitted on y = sin(3x) with every member wiped after
/// each of the first `stalled_epochs` epochs: a wiped member predicts a constant, worse than the
/// old phase-shifted model, so once the patience runs out the warm-started refit has stalled.
/// (A phase shift, because the refit's new standardisation would undo a change of scale.)
/// Returns the refit's report and the RMSE of the elites' mean against sin(3x) on a grid.
fn stalled_refit(restart_stalled: bool, stalled_epochs: usize) -> (demorl_studio::learn::FitReport, f32) {
    let settings = EnsembleSettings { max_epochs: 150, restart_stalled, ..small_settings() };
    let (x, y) = dataset(1000, 9);
    let shifted: Vec<f32> = x.iter().map(|v| (3.0 * v + 0.5).sin()).collect();
    let mut ens = ProbabilisticEnsemble::new(1, 1, settings, 10);
    ens.fit(&x, &shifted);
    let report = ens.fit_observed(&x, &y, |epoch, ens| {
        if epoch <= stalled_epochs {
            (0..5).for_each(|m| ens.scale_member(m, 0.0));
        }
    });
    let grid: Vec<f32> = (0..21).map(|i| -0.9 + 0.09 * i as f32).collect();
    let pred = ens.predict(&grid);
    let elites = ens.elites();
    let rmse = grid
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let mean = elites.iter().map(|&m| pred.mean[m * grid.len() + i]).sum::<f32>() / elites.len() as f32;
            (mean - (3.0 * g).sin()).powi(2)
        })
        .sum::<f32>()
        / grid.len() as f32;
    (report, rmse.sqrt())
}

/// Only a refit from a fitted model in which no member improves counts as stalled: not the
/// first fit (fresh weights), nor a warm refit that learns the new function.
#[test]
fn a_refit_is_stalled_only_when_no_member_improves_on_its_start() {
    let (x, y) = dataset(1000, 9);
    let shifted: Vec<f32> = x.iter().map(|v| (3.0 * v + 0.5).sin()).collect();
    let mut ens = ProbabilisticEnsemble::new(1, 1, EnsembleSettings { max_epochs: 150, ..small_settings() }, 10);
    let first = ens.fit(&x, &shifted);
    assert!(!first.stalled && first.best_epoch.iter().all(|&b| b > 0), "{:?}", first.best_epoch);
    let learned = ens.fit(&x, &y);
    assert!(!learned.stalled && learned.best_epoch.iter().any(|&b| b > 0), "{:?}", learned.best_epoch);
    // The same refit with every epoch's progress wiped for the patience stalls (see `stalled_refit`).
    assert!(stalled_refit(false, 5).0.stalled);
}

#[test]
fn a_stalled_refit_restarts_from_fresh_weights_when_asked() {
    // Patience 5: wiping the first 5 epochs stalls the warm start.
    let (plain, plain_rmse) = stalled_refit(false, 5);
    let (restarted, restarted_rmse) = stalled_refit(true, 5);
    println!(
        "stalled refit: plain {} epochs, RMSE {plain_rmse:.3}, hold-out {:.3}; restarted {} epochs, RMSE \
         {restarted_rmse:.3}, hold-out {:.3}",
        plain.epochs,
        plain.elite_holdout_mse(),
        restarted.epochs,
        restarted.elite_holdout_mse()
    );
    // Without the option the refit restores the old model, which predicts sin(3x + ½).
    assert!(!plain.restarted && plain.best_epoch.iter().all(|&b| b == 0) && plain.epochs == 5);
    assert!(plain.stalled && restarted.stalled, "both refits stalled before any restart");
    assert!(plain_rmse > 0.25, "the stalled model should still predict the old function: {plain_rmse}");
    // With it, fresh weights are trained after the 5 stalled epochs and kept.
    assert!(restarted.restarted && restarted.epochs > 5);
    assert!(restarted.best_epoch.iter().all(|&b| b > 5), "{:?}", restarted.best_epoch);
    assert!(restarted_rmse < 0.1, "the fresh model fits sin(3x): {restarted_rmse}");
    assert!(restarted.elite_holdout_mse() < 0.3 * plain.elite_holdout_mse());
}

#[test]
fn a_refit_that_improves_does_not_restart() {
    // Nothing wiped: the warm start improves on the old model, so there is no restart.
    let (report, rmse) = stalled_refit(true, 0);
    assert!(!report.restarted && report.best_epoch.iter().any(|&b| b > 0), "{:?}", report.best_epoch);
    assert!(rmse < 0.1, "{rmse}");
}

#[test]
fn a_restart_that_does_worse_keeps_the_stalled_model() {
    // Every epoch wiped: the fresh weights never learn, so the stalled (old) model stays.
    let (kept, _) = stalled_refit(true, usize::MAX);
    let (plain, _) = stalled_refit(false, usize::MAX);
    assert!(!kept.restarted && kept.best_epoch.iter().all(|&b| b == 0));
    assert_eq!(kept.best_holdout_mse, plain.best_holdout_mse, "the old model's errors, unchanged");
}
