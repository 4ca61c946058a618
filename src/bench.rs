//! `bench`: throughput figures printed as text or as JSON lines `{"name", "value", "unit"}`.

use std::path::Path;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{EnsembleSettings, PRESET_NAMES, PlannerSettings, SacSettings, preset};
use crate::plan::ActionMode;
use crate::scene::{Physics, Scene, load_scene, scene_files};
use crate::sim::{Env, EnvBatch, StepOutcome};

/// One measured figure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// Prints figures as aligned text, or one JSON object per line.
pub fn print(figures: &[Figure], json: bool) {
    for figure in figures {
        if json {
            println!("{}", serde_json::to_string(figure).expect("figures serialise"));
        } else {
            println!("{:<48} {:>14.1} {}", figure.name, figure.value, figure.unit);
        }
    }
}

fn figure(name: String, value: f64, unit: &str) -> Figure {
    Figure { name, value, unit: unit.to_string() }
}

/// Env and physics steps per second for every scene in `scenes_dir`, one env and a batch.
pub fn env_figures(scenes_dir: &Path, threads: usize, seconds: f64) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for path in scene_files(scenes_dir)? {
        let scene = load_scene(&path)?;
        let stem = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let substeps = f64::from(scene.physics.substeps);
        let mut env = Env::new(&scene);
        let single = measure_steps(seconds, |rng| {
            let action: Vec<f32> = (0..env.action_dim()).map(|_| rng.random_range(-1.0..=1.0)).collect();
            if env.step(&action).done() {
                env.reset(rng.random());
            }
            1
        });
        figures.push(figure(format!("env/{stem}/single/env_steps_per_s"), single, "steps/s"));
        figures.push(figure(format!("env/{stem}/single/physics_steps_per_s"), single * substeps, "steps/s"));
        let batch_size = 32;
        let envs = (0..batch_size).map(|k| {
            let mut e = Env::new(&scene);
            e.reset(k as u64);
            e
        });
        let mut batch = EnvBatch::new(envs.collect(), threads)?;
        let dim = batch.envs[0].action_dim();
        let mut outcomes: Vec<StepOutcome> = Vec::new();
        let batched = measure_steps(seconds, |rng| {
            let actions: Vec<f32> = (0..dim * batch_size).map(|_| rng.random_range(-1.0..=1.0)).collect();
            batch.step(&actions, &mut outcomes);
            for (env, outcome) in batch.envs.iter_mut().zip(&outcomes) {
                if outcome.done() {
                    env.reset(rng.random());
                }
            }
            batch_size as u64
        });
        let label = format!("env/{stem}/batch{batch_size}x{threads}threads");
        figures.push(figure(format!("{label}/env_steps_per_s"), batched, "steps/s"));
        figures.push(figure(format!("{label}/physics_steps_per_s"), batched * substeps, "steps/s"));
    }
    Ok(figures)
}

/// Calls `step` (which returns how many env steps it took) for about `seconds`; returns steps/s.
fn measure_steps(seconds: f64, mut step: impl FnMut(&mut ChaCha8Rng) -> u64) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let started = Instant::now();
    let mut steps = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        steps += step(&mut rng);
    }
    steps as f64 / started.elapsed().as_secs_f64()
}

/// Milliseconds per plan, rollout steps per second and the real-time factor with the simulator
/// model on the named scenes (plans from a reset state, the plan shifting as the env advances):
/// the scene's own settings everywhere (also on exact physics when it plans on coarser physics),
/// every preset on the scenes in `with_presets`.
pub fn planner_figures(
    scenes_dir: &Path,
    scenes: &[&str],
    with_presets: &[&str],
    threads: usize,
    plans: usize,
) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for stem in scenes {
        let scene = load_scene(&scenes_dir.join(format!("{stem}.ron")))?;
        // A scene that plans on coarser physics (`physics.planning`) is also timed planning on
        // the exact physics, in the same run, so the two figures compare.
        let exact = scene
            .physics
            .planning
            .is_some()
            .then(|| Scene { physics: Physics { planning: None, ..scene.physics.clone() }, ..scene.clone() });
        let mut settings_list: Vec<(String, PlannerSettings, &Scene)> =
            vec![("scene-default".into(), scene.planner.clone(), &scene)];
        if let Some(exact) = &exact {
            settings_list.push(("scene-default-exact-physics".into(), scene.planner.clone(), exact));
        }
        if with_presets.contains(stem) {
            settings_list.extend(
                PRESET_NAMES.iter().map(|name| (name.to_string(), preset(name).expect("built-in preset"), &scene)),
            );
        }
        for (name, settings, scene) in settings_list {
            let mut env = Env::new(scene);
            env.reset(1);
            let mut agent = crate::agent::MpcAgent::new(&env, settings.clone(), 1, threads)?;
            agent.plan(&env, ActionMode::Evaluation); // warm-up: allocations, worker copies
            let started = Instant::now();
            for _ in 0..plans {
                let output = agent.plan(&env, ActionMode::Evaluation);
                if env.step(&output.action).done() {
                    env.reset(2);
                    agent.reset();
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            let rollout_steps =
                (settings.samples + settings.prior_count()) * settings.horizon * settings.iterations + settings.horizon;
            let label = format!("planner/{stem}/{name}/simulator/{threads}threads");
            figures.push(figure(format!("{label}/ms_per_plan"), 1e3 * seconds / plans as f64, "ms"));
            figures.push(figure(
                format!("{label}/rollout_steps_per_s"),
                (rollout_steps * plans) as f64 / seconds,
                "steps/s",
            ));
            // Simulated time per wall time when every control step waits for its plan (≥ 1: real time).
            let control_dt = 1.0 / f64::from(scene.physics.control_rate);
            figures.push(figure(format!("{label}/real_time_factor"), control_dt * plans as f64 / seconds, "×"));
        }
    }
    Ok(figures)
}

/// Learned-model planner step and SAC updates at the cheetah sizes (obs 17, act 6;
/// 7 × 4 × 200 Swish ensemble, 5 elites, 4 particles, `reference` preset; SAC 256×256, batch 256;
/// random weights), with the GEMM ceiling of the same kernel on the same layer shapes.
/// `threads`: rollout threads of the learned-model planner step (its member slots are shared out);
/// the SAC updates run on one thread. The planner step is timed over about `seconds`.
pub fn learning_figures(seconds: f64, updates: usize, threads: usize) -> anyhow::Result<Vec<Figure>> {
    let threads = threads.max(1);
    use crate::learn::{
        EnsembleModel, ModelNoise, ProbabilisticEnsemble, ReplayBuffer, Sac, StepEnd, affine_gflops, forward_flops,
    };
    use crate::plan::Planner;
    let (obs_dim, act_dim) = (17, 6);
    let settings = preset("reference").expect("built-in preset");
    let ensemble = ProbabilisticEnsemble::new(obs_dim + act_dim, 1 + obs_dim, EnsembleSettings::default(), 0);
    let mut model = EnsembleModel::new(obs_dim, act_dim, ModelNoise::Sampled, 0);
    model.set_members(ensemble.fast_members(&[0, 1, 2, 3, 4]));
    model.set_threads(threads)?;
    let mut planner = Planner::new(settings.clone(), act_dim, 0)?;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let plan_once = |planner: &mut Planner, model: &mut EnsembleModel, rng: &mut ChaCha8Rng| {
        let obs: Vec<f32> = (0..obs_dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        model.set_start(&obs);
        planner.plan(model, None, None, ActionMode::Training);
    };
    plan_once(&mut planner, &mut model, &mut rng); // warm-up
    let started = Instant::now();
    let mut plans = 0usize;
    while plans < 5 || started.elapsed().as_secs_f64() < seconds {
        plan_once(&mut planner, &mut model, &mut rng);
        plans += 1;
    }
    let ms = 1e3 * started.elapsed().as_secs_f64() / plans as f64;
    // Particle p runs on elite p mod K, so with P ≤ K each member used sees N + M rows per step.
    let sizes = ensemble.layer_sizes();
    let flops_per_row = forward_flops(&sizes, 1);
    let rows_per_plan =
        (settings.samples + settings.prior_count()) * settings.particles * settings.horizon * settings.iterations
            + settings.particles * settings.horizon;
    let achieved = (rows_per_plan * flops_per_row) as f64 / (ms * 1e-3) / 1e9;
    let member_rows = settings.samples + settings.prior_count();
    // The ceiling of one core; with several threads the reachable rate is that many times it.
    let ceiling = affine_gflops(&sizes, member_rows, 1.0);
    let reachable = ceiling * threads as f64;
    let mut figures = vec![
        figure(format!("learning/planner_step/reference/cheetah_sizes/{threads}threads/ms_per_plan"), ms, "ms"),
        figure(format!("learning/planner_step/{threads}threads/achieved_gflops"), achieved, "GFLOP/s"),
        figure(format!("learning/gemm_ceiling/{member_rows}rows_same_layers/1core"), ceiling, "GFLOP/s"),
        figure(
            format!("learning/planner_step/{threads}threads/fraction_of_ceiling"),
            100.0 * achieved / reachable,
            "%",
        ),
    ];
    figures.extend(ensemble_training_figures(obs_dim, act_dim, &mut rng));
    let mut sac = Sac::new(obs_dim, act_dim, SacSettings::default(), 1);
    let mut buffer = ReplayBuffer::new(obs_dim, act_dim, 10_000, 1);
    for _ in 0..10_000 {
        let obs: Vec<f32> = (0..obs_dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        let action: Vec<f32> = (0..act_dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        buffer.push(&obs, &action, rng.random_range(-1.0..1.0), &obs, StepEnd::Continues);
    }
    for _ in 0..10 {
        sac.update(&buffer.sample(256));
    }
    let started = Instant::now();
    for _ in 0..updates {
        sac.update(&buffer.sample(256));
    }
    figures.push(figure(
        "learning/sac/256x256_batch256/1thread/updates_per_s".into(),
        updates as f64 / started.elapsed().as_secs_f64(),
        "updates/s",
    ));
    Ok(figures)
}

/// The ensemble's refit cost at cheetah sizes (7 × 4 × 200, batch 256, 5000 rows of random data,
/// 3 epochs) on each backend, burn's and the host's: milliseconds per minibatch step of all
/// members (epochs timed whole, their hold-out checks counted in the work; what else a fit does,
/// gathering minibatches and copying weights, makes the rate a lower bound),
/// hold-out prediction of 1000 rows by every member, and both as fractions of the GEMM ceiling at
/// their row counts that rayon's threads reach together (the host backend runs members and row
/// halves in parallel on that pool; run with `RAYON_NUM_THREADS=1` for one core); and the host
/// prediction once more with ReLU hidden layers, which shows what Swish costs. A training step's
/// work is its products: forward, weight and input gradients (none for the first layer's input).
/// The step is also set against its own products timed alone (`training_products_gflops`), which
/// separates what the shapes cost the products from what the step adds.
fn ensemble_training_figures(obs_dim: usize, act_dim: usize, rng: &mut ChaCha8Rng) -> Vec<Figure> {
    use crate::config::EnsembleBackend;
    use crate::learn::{
        ProbabilisticEnsemble, affine_gflops, forward_flops, rows_per_task, training_products_gflops,
        training_step_flops,
    };
    let (din, dout, rows) = (obs_dim + act_dim, 1 + obs_dim, 5000);
    let x: Vec<f32> = (0..rows * din).map(|_| rng.random_range(-1.0..1.0)).collect();
    let y: Vec<f32> = (0..rows * dout).map(|_| rng.random_range(-1.0..1.0)).collect();
    let settings = EnsembleSettings { max_epochs: 3, patience: 100, ..EnsembleSettings::default() };
    let (members, batch, holdout) = (settings.members, settings.batch_size, 1000);
    let sizes = ProbabilisticEnsemble::new(din, dout, settings.clone(), 1).layer_sizes();
    let flops_per_row = forward_flops(&sizes, 1);
    // The ceiling is what the threads the fits may use (rayon's pool) reach multiplying at once,
    // measured rather than assumed: two vCPUs can share a physical core or memory bandwidth.
    let threads = rayon::current_num_threads();
    let on_every_thread = |measure: &(dyn Fn() -> f64 + Sync)| -> f64 {
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..threads).map(|_| s.spawn(measure)).collect();
            runs.into_iter().map(|r| r.join().expect("a ceiling thread panicked")).sum()
        })
    };
    let ceiling = |rows: usize| on_every_thread(&|| affine_gflops(&sizes, rows, 1.0));
    let (train_ceiling, predict_ceiling) = (ceiling(batch), ceiling(holdout));
    // The training step's own products (forward and both gradients, on the rows one task
    // multiplies), on the same threads: what the products alone reach at the step's shapes.
    let task_rows = rows_per_task(batch);
    let products_ceiling = on_every_thread(&|| training_products_gflops(&sizes, task_rows, 1.0));
    let label = "learning/ensemble_7x4x200_cheetah_sizes";
    let mut figures = vec![
        figure(format!("learning/gemm_ceiling/{batch}rows_same_layers/{threads}threads"), train_ceiling, "GFLOP/s"),
        figure(format!("learning/gemm_ceiling/{holdout}rows_same_layers/{threads}threads"), predict_ceiling, "GFLOP/s"),
        figure(
            format!("learning/gemm_ceiling/training_step_products_{task_rows}rows/{threads}threads"),
            products_ceiling,
            "GFLOP/s",
        ),
    ];
    let mut step_ms_of = Vec::new();
    for backend in [EnsembleBackend::Burn, EnsembleBackend::Host] {
        let mut ensemble = ProbabilisticEnsemble::new(din, dout, EnsembleSettings { backend, ..settings.clone() }, 1);
        let started = Instant::now();
        let report = ensemble.fit(&x, &y);
        let steps = report.epochs * report.train_size.div_ceil(batch);
        let step_ms = 1e3 * started.elapsed().as_secs_f64() / steps as f64;
        // The fit's work per step: its share of the hold-out checks (one before training and
        // one per epoch, every member) on top of the step's own.
        let holdout_rows = (report.epochs + 1) * report.holdout_size;
        let flops_per_step = training_step_flops(&sizes, batch) + holdout_rows * flops_per_row / steps;
        let train_gflops = (members * flops_per_step) as f64 / (step_ms * 1e-3) / 1e9;
        let predict_ms = predict_ms(&ensemble, &x[..holdout * din]);
        let predict_gflops = (members * holdout * flops_per_row) as f64 / (predict_ms * 1e-3) / 1e9;
        let name = format!("{label}/{}/{threads}threads", format!("{backend:?}").to_lowercase());
        figures.extend([
            figure(format!("{name}/train_batch256/ms_per_step"), step_ms, "ms"),
            figure(format!("{name}/train_batch256/achieved_gflops"), train_gflops, "GFLOP/s"),
            figure(format!("{name}/train_batch256/fraction_of_ceiling"), 100.0 * train_gflops / train_ceiling, "%"),
            figure(
                format!("{name}/train_batch256/fraction_of_its_products_alone"),
                100.0 * train_gflops / products_ceiling,
                "%",
            ),
            figure(format!("{name}/predict_1000rows/ms"), predict_ms, "ms"),
            figure(
                format!("{name}/predict_1000rows/fraction_of_ceiling"),
                100.0 * predict_gflops / predict_ceiling,
                "%",
            ),
        ]);
        step_ms_of.push(step_ms);
    }
    figures.push(figure(format!("{label}/train_batch256/host_speedup_over_burn"), step_ms_of[0] / step_ms_of[1], "×"));
    // The same prediction with ReLU hidden layers: the ceiling counts only the products, so the
    // gap between the two is what Swish's exponentials and divisions cost.
    let relu =
        EnsembleSettings { activation: crate::config::Activation::Relu, backend: EnsembleBackend::Host, ..settings };
    let relu_ms = predict_ms(&ProbabilisticEnsemble::new(din, dout, relu, 1), &x[..holdout * din]);
    let relu_gflops = (members * holdout * flops_per_row) as f64 / (relu_ms * 1e-3) / 1e9;
    let name = format!("{label}/host/{threads}threads/predict_1000rows_relu");
    figures.push(figure(format!("{name}/ms"), relu_ms, "ms"));
    figures.push(figure(format!("{name}/fraction_of_ceiling"), 100.0 * relu_gflops / predict_ceiling, "%"));
    figures
}

/// Milliseconds of one `predict` of `rows` by every member, the mean of five.
fn predict_ms(ensemble: &crate::learn::ProbabilisticEnsemble, rows: &[f32]) -> f64 {
    let repeats = 5;
    let started = Instant::now();
    for _ in 0..repeats {
        std::hint::black_box(ensemble.predict(rows));
    }
    1e3 * started.elapsed().as_secs_f64() / repeats as f64
}

/// `bench slurm`: the cost SLURM adds per task. The same grid of `runs` short pendulum SAC runs
/// (200 env steps, all in warm-up: a run is little more than a process start, a scene load and
/// its files) trains locally on `slots` threads and then as a job array on the cluster this
/// machine submits to, which should run `slots` tasks at once (its CPUs). The overhead per task
/// is the difference of the two walls per wave of `slots` tasks.
pub fn slurm_figures(scenes_dir: &Path, runs: u64, slots: usize, binary: &Path) -> anyhow::Result<Vec<Figure>> {
    use crate::compare::{Backend, CompareOptions, RunState, SlurmOptions, grid_status, run_compare};
    let root = std::env::temp_dir().join(format!("demorl-bench-slurm-{}", std::process::id()));
    let grid = |out: &str, backend: Backend| CompareOptions {
        scene: scenes_dir.join("pendulum.ron"),
        modes: vec![crate::config::RunMode::Sac],
        seeds: (1..=runs).collect(),
        steps: Some(200),
        out: root.join(out),
        backend,
        threshold: None,
        without_falls: false,
        settings_for: Vec::new(),
        schedule: crate::agent::ScheduleOverrides { eval_every: Some(200), eval_episodes: Some(1), warmup: Some(200) },
        variations: Vec::new(),
    };
    let quiet = |_: &str| {};
    let started = Instant::now();
    run_compare(&grid("local", Backend::Local { jobs: slots }), &quiet)?;
    let local = started.elapsed().as_secs_f64();
    let on_slurm = grid("slurm", Backend::Slurm(SlurmOptions::new(binary.to_path_buf())));
    let started = Instant::now();
    run_compare(&on_slurm, &quiet)?;
    loop {
        let statuses = grid_status(&on_slurm.out)?;
        if statuses.iter().all(|s| s.state == RunState::Finished) {
            break;
        }
        if let Some(failed) = statuses.iter().find(|s| matches!(s.state, RunState::Failed(_))) {
            anyhow::bail!("{} {}", failed.name, failed.state);
        }
        if started.elapsed().as_secs() > 1800 {
            anyhow::bail!("the SLURM grid did not finish in 30 minutes:\n{}", crate::compare::status_text(&statuses));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let slurm = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&root);
    let waves = (runs as f64 / slots as f64).ceil();
    Ok(vec![
        figure(format!("slurm: local grid, {runs} runs, {slots} at once"), local, "s"),
        figure(format!("slurm: array of {runs} tasks, submit to last end"), slurm, "s"),
        figure("slurm: overhead per task (per wave, vs local)".into(), (slurm - local) / waves, "s"),
    ])
}
