//! `demorl_studio._native`: the headless core seen from Python. Scenes as stepping envs (one, or
//! N stepped on Rust threads), exact forks and state snapshots, and the planner with the forked
//! simulator as its model. The Gymnasium classes in `demorl_studio/__init__.py` wrap these.
//!
//! Arrays cross as little-endian `float32` bytes (`numpy.frombuffer` reads them without a copy
//! loop), which keeps the per-step cost of the binding small next to a physics step.

use std::path::Path;
use std::sync::Arc;

use demorl_studio::agent::{MpcAgent, episode_seed};
use demorl_studio::config::PlannerSettings;
use demorl_studio::plan::{ActionMode, PlanTrace, preset_argument};
use demorl_studio::scene::load_scene;
use demorl_studio::sim::{Env, StepOutcome};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// Any core error as a Python `ValueError` carrying the same message (file:line:col for scenes).
fn value_error(error: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(error.to_string())
}

fn f32_bytes<'py>(py: Python<'py>, values: &[f32]) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    PyBytes::new(py, &bytes)
}

/// `float32` values from little-endian bytes, checking the count.
fn f32_values(bytes: &[u8], expected: usize, what: &str) -> PyResult<Vec<f32>> {
    if bytes.len() != expected * 4 {
        return Err(value_error(format!("{what} must hold {expected} float32 values, got {} bytes", bytes.len())));
    }
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// One step's result for Python: (reward, terminated, truncated, why it ended or None).
fn outcome_tuple(outcome: &StepOutcome) -> (f64, bool, bool, Option<String>) {
    (f64::from(outcome.reward), outcome.terminated, outcome.truncated, outcome.reason.as_ref().map(ToString::to_string))
}

/// One scene's robot and task, stepped at the control rate.
#[pyclass(name = "Env", module = "demorl_studio._native")]
pub struct PyEnv {
    env: Env,
}

#[pymethods]
impl PyEnv {
    /// Loads and validates a scene file.
    #[new]
    fn new(scene_path: &str) -> PyResult<Self> {
        let scene = load_scene(Path::new(scene_path)).map_err(value_error)?;
        Ok(PyEnv { env: Env::new(&scene) })
    }

    #[getter]
    fn name(&self) -> String {
        self.env.robot().scene.name.clone()
    }

    #[getter]
    fn obs_dim(&self) -> usize {
        self.env.obs_dim()
    }

    #[getter]
    fn action_dim(&self) -> usize {
        self.env.action_dim()
    }

    /// Control steps before an episode is truncated.
    #[getter]
    fn episode_steps(&self) -> u32 {
        self.env.robot().scene.task.episode_steps
    }

    /// Seconds per control step.
    #[getter]
    fn control_dt(&self) -> f32 {
        1.0 / self.env.robot().scene.physics.control_rate
    }

    /// Control steps taken in this episode.
    #[getter]
    fn steps(&self) -> u32 {
        self.env.steps()
    }

    /// Starts an episode from `seed` (the home pose plus the task's reset noise); the observation.
    fn reset<'py>(&mut self, py: Python<'py>, seed: u64) -> Bound<'py, PyBytes> {
        self.env.reset(seed);
        f32_bytes(py, &self.env.observation())
    }

    /// One control step with an action in [-1, 1] (float32 bytes): (observation, reward,
    /// terminated, truncated, reason).
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: &[u8],
    ) -> PyResult<(Bound<'py, PyBytes>, f64, bool, bool, Option<String>)> {
        let action = f32_values(action, self.env.action_dim(), "the action")?;
        let outcome = self.env.step(&action);
        let (reward, terminated, truncated, reason) = outcome_tuple(&outcome);
        Ok((f32_bytes(py, &self.env.observation()), reward, terminated, truncated, reason))
    }

    fn observation<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        f32_bytes(py, &self.env.observation())
    }

    /// An exact copy: under the same actions its future is bit-identical to this env's. With
    /// `planning`, a copy that integrates as the planner's simulator copies do (the scene's
    /// `physics.planning` resolution; exact when it sets none).
    #[pyo3(signature = (planning = false))]
    fn fork(&self, planning: bool) -> PyEnv {
        PyEnv { env: if planning { self.env.planning_fork() } else { self.env.fork() } }
    }

    /// A snapshot of the whole state (physics, step count, clock, RNG) to restore later.
    fn get_state(&self) -> EnvState {
        EnvState { env: Arc::new(self.env.fork()) }
    }

    /// Restores a snapshot taken from an env of the same scene.
    fn set_state(&mut self, state: &EnvState) -> PyResult<()> {
        if !Arc::ptr_eq(self.env.robot(), state.env.robot()) {
            return Err(value_error("this state was taken from an env of another scene (or another load of it)"));
        }
        self.env.copy_from(&state.env);
        Ok(())
    }

    /// Pushes link `link` (by name) with `force` (N, world axes, Y up) at its centre of mass
    /// for the next `steps` control steps.
    #[pyo3(signature = (link, force, steps = 1))]
    fn push(&mut self, link: &str, force: [f32; 3], steps: u32) -> PyResult<()> {
        let robot = self.env.robot();
        let index = robot.link_index(link).ok_or_else(|| {
            let names: Vec<&str> = robot.links.iter().map(|l| l.name.as_str()).collect();
            value_error(format!("no link named `{link}` (links: {})", names.join(", ")))
        })?;
        let push = demorl_studio::sim::Push { link: index, force, at: None, steps };
        self.env.push(push).map_err(|e| value_error(e.to_string()))
    }

    /// Joint angles and velocities, in the scene's joint order.
    fn joint_state(&self) -> (Vec<f32>, Vec<f32>) {
        self.env.joint_state()
    }

    /// Places the joints (root links keep their poses).
    fn set_joint_state(&mut self, angles: Vec<f32>, velocities: Vec<f32>) -> PyResult<()> {
        let joints = self.env.robot().joints.len();
        if angles.len() != joints || velocities.len() != joints {
            return Err(value_error(format!("the scene has {joints} joints: give {joints} angles and velocities")));
        }
        self.env.set_joint_state(&angles, &velocities);
        Ok(())
    }
}

/// An opaque snapshot of an env's state (`Env.get_state`).
#[pyclass(module = "demorl_studio._native", frozen)]
pub struct EnvState {
    env: Arc<Env>,
}

/// N envs of one scene stepped together on Rust threads; an env whose episode ended is reset
/// in the same step (its last observation returned apart).
#[pyclass(name = "VecEnv", module = "demorl_studio._native")]
pub struct PyVecEnv {
    envs: Vec<Env>,
    threads: usize,
    /// Each env's (reset seed, episodes started since): episode n > 0 starts from
    /// `episode_seed(reset seed, n)`, as the learning loop numbers its episodes.
    seeds: Vec<(u64, u64)>,
}

/// What one env of a vector step produced.
#[derive(Default, Clone)]
struct VecStep {
    reward: f32,
    terminated: bool,
    truncated: bool,
    final_obs: Option<Vec<f32>>,
}

#[pymethods]
impl PyVecEnv {
    #[new]
    #[pyo3(signature = (scene_path, num_envs, threads = 0))]
    fn new(scene_path: &str, num_envs: usize, threads: usize) -> PyResult<Self> {
        if num_envs == 0 {
            return Err(value_error("num_envs must be at least 1"));
        }
        let scene = load_scene(Path::new(scene_path)).map_err(value_error)?;
        let first = Env::new(&scene);
        let envs: Vec<Env> = (0..num_envs).map(|_| first.fork()).collect();
        let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
        Ok(PyVecEnv { envs, threads: threads.min(num_envs), seeds: vec![(0, 0); num_envs] })
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// Resets every env, env k from `seeds[k]`; the observations, [N][obs_dim] float32 bytes.
    fn reset<'py>(&mut self, py: Python<'py>, seeds: Vec<u64>) -> PyResult<Bound<'py, PyBytes>> {
        if seeds.len() != self.envs.len() {
            return Err(value_error(format!("give one seed per env ({})", self.envs.len())));
        }
        for ((env, &seed), state) in self.envs.iter_mut().zip(&seeds).zip(&mut self.seeds) {
            env.reset(seed);
            *state = (seed, 0);
        }
        Ok(f32_bytes(py, &self.observations()))
    }

    /// Steps every env with its row of `actions` ([N][action_dim] float32 bytes), on the
    /// threads, without holding the interpreter: (observations, rewards, terminated, truncated,
    /// final observations of the envs that ended (None for the others)).
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: &[u8],
    ) -> PyResult<(Bound<'py, PyBytes>, Vec<f32>, Vec<bool>, Vec<bool>, Vec<Option<Bound<'py, PyBytes>>>)> {
        let dim = self.envs[0].action_dim();
        let actions = f32_values(actions, self.envs.len() * dim, "the actions")?;
        let (envs, seeds, threads) = (&mut self.envs, &mut self.seeds, self.threads);
        let results = py.detach(|| step_all(envs, seeds, &actions, dim, threads));
        let observations = f32_bytes(py, &self.observations());
        let finals = results.iter().map(|r| r.final_obs.as_ref().map(|o| f32_bytes(py, o))).collect();
        Ok((
            observations,
            results.iter().map(|r| r.reward).collect(),
            results.iter().map(|r| r.terminated).collect(),
            results.iter().map(|r| r.truncated).collect(),
            finals,
        ))
    }
}

impl PyVecEnv {
    fn observations(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.envs.len() * self.envs[0].obs_dim());
        for env in &self.envs {
            env.observe_into(&mut out);
        }
        out
    }
}

/// Steps env k with `actions[k]`, resetting an env whose episode ended; `threads` workers over
/// contiguous chunks (results do not depend on the count: each env is independent).
fn step_all(envs: &mut [Env], seeds: &mut [(u64, u64)], actions: &[f32], dim: usize, threads: usize) -> Vec<VecStep> {
    let mut results = vec![VecStep::default(); envs.len()];
    let chunk = envs.len().div_ceil(threads.max(1));
    std::thread::scope(|s| {
        let work = envs.chunks_mut(chunk).zip(seeds.chunks_mut(chunk)).zip(results.chunks_mut(chunk));
        for (k, ((envs, seeds), results)) in work.enumerate() {
            let actions = &actions[k * chunk * dim..];
            s.spawn(move || {
                for (i, ((env, seed), result)) in envs.iter_mut().zip(seeds).zip(results).enumerate() {
                    *result = step_one(env, seed, &actions[i * dim..(i + 1) * dim]);
                }
            });
        }
    });
    results
}

fn step_one(env: &mut Env, (seed, episodes): &mut (u64, u64), action: &[f32]) -> VecStep {
    let outcome = env.step(action);
    let mut result = VecStep {
        reward: outcome.reward,
        terminated: outcome.terminated,
        truncated: outcome.truncated,
        final_obs: None,
    };
    if outcome.done() {
        result.final_obs = Some(env.observation());
        *episodes += 1;
        env.reset(episode_seed(*seed, *episodes));
    }
    result
}

/// The DMD-MPC planner with the forked simulator as its model.
#[pyclass(name = "Planner", module = "demorl_studio._native")]
pub struct PyPlanner {
    agent: MpcAgent,
    settings_source: String,
}

#[pymethods]
impl PyPlanner {
    /// A planner for `env`'s scene: `preset` as the CLI's `--preset` takes it (a built-in name, a
    /// preset saved from the studio by name, or a preset file's path ending in `.ron`), or
    /// `settings` as RON text (fields left out take the reference preset's), or the scene's own
    /// planner settings; `threads` rollout threads.
    #[new]
    #[pyo3(signature = (env, preset = None, settings = None, seed = 0, threads = 1))]
    fn new(env: &PyEnv, preset: Option<&str>, settings: Option<&str>, seed: u64, threads: usize) -> PyResult<Self> {
        let (source, settings) = match (preset, settings) {
            (Some(_), Some(_)) => return Err(value_error("give a preset or settings, not both")),
            (Some(name), None) => (name.to_string(), preset_argument(name).map_err(value_error)?),
            (None, Some(text)) => ("settings".to_string(), PlannerSettings::from_ron(text).map_err(value_error)?),
            (None, None) => ("scene".to_string(), env.env.robot().scene.planner.clone()),
        };
        if threads == 0 {
            return Err(value_error("threads must be at least 1"));
        }
        let agent = MpcAgent::new(&env.env, settings, seed, threads).map_err(|e| value_error(format!("{e:#}")))?;
        Ok(PyPlanner { agent, settings_source: source })
    }

    /// Where the settings came from: a preset name, `settings` or `scene`.
    #[getter]
    fn source(&self) -> String {
        self.settings_source.clone()
    }

    /// The settings as RON text (what `settings=` takes).
    #[getter]
    fn settings(&self) -> PyResult<String> {
        ron::ser::to_string_pretty(self.agent.planner.settings(), ron::ser::PrettyConfig::default())
            .map_err(value_error)
    }

    /// Forgets the previous plan (call at every episode start).
    fn reset(&mut self) {
        self.agent.reset();
    }

    /// Plans from `env`'s current state; the action (float32 bytes) and the trace as a dict.
    /// `sample=True` executes what the settings' `training_action` says (possibly a sequence
    /// drawn by weight); the default is the first action of the mean plan.
    #[pyo3(signature = (env, sample = false))]
    fn plan<'py>(
        &mut self,
        py: Python<'py>,
        env: &PyEnv,
        sample: bool,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyDict>)> {
        let mode = if sample { ActionMode::Training } else { ActionMode::Evaluation };
        let agent = &mut self.agent;
        let output = py.detach(|| agent.plan(&env.env, mode));
        Ok((f32_bytes(py, &output.action), trace_dict(py, &output.trace)?))
    }
}

/// The trace's arrays as float32 bytes with their shapes, and its scalars.
fn trace_dict<'py>(py: Python<'py>, t: &PlanTrace) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let flags = |v: &[bool]| v.iter().map(|&b| b as u8).collect::<Vec<u8>>();
    d.set_item("horizon", t.horizon)?;
    d.set_item("action_dim", t.action_dim)?;
    d.set_item("sample_count", t.sample_count)?;
    d.set_item("prior_count", t.prior_count)?;
    d.set_item("sequences", f32_bytes(py, &t.sequences))?;
    d.set_item("scores", f32_bytes(py, &t.scores))?;
    d.set_item("weights", f32_bytes(py, &t.weights))?;
    d.set_item("elite", PyBytes::new(py, &flags(&t.elite)))?;
    d.set_item("is_prior", PyBytes::new(py, &flags(&t.is_prior)))?;
    d.set_item("mean_actions", f32_bytes(py, &t.mean_actions))?;
    d.set_item("std", f32_bytes(py, &t.std))?;
    d.set_item("mean_score", t.mean_score)?;
    d.set_item("chosen", t.chosen)?;
    d.set_item("best_score", t.summary.best_score)?;
    d.set_item("effective_sample_size", t.summary.effective_sample_size)?;
    d.set_item("elite_count", t.summary.elite_count)?;
    d.set_item("iterations", t.iterations.len())?;
    d.set_item("total_ms", t.total_ms)?;
    Ok(d)
}

/// The seed of episode `episode` of a run (or vector env slot) seeded with `seed`.
#[pyfunction(name = "episode_seed")]
fn py_episode_seed(seed: u64, episode: u64) -> u64 {
    episode_seed(seed, episode)
}

/// The names of the built-in planner presets.
#[pyfunction]
fn presets() -> Vec<&'static str> {
    demorl_studio::config::PRESET_NAMES.to_vec()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEnv>()?;
    m.add_class::<EnvState>()?;
    m.add_class::<PyVecEnv>()?;
    m.add_class::<PyPlanner>()?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    m.add_function(wrap_pyfunction!(py_episode_seed, m)?)?;
    Ok(())
}
