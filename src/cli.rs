//! Command-line interface: `studio` (default), `train`, `compare`, `bench`, `screenshot`, `check`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::agent::{
    Baseline, CheckpointOptions, EpisodeSummary, RunSummary, ScheduleOverrides, episode_seed, learning_config,
    run_baseline_episode, run_mpc_episodes, write_episodes_csv, write_summary_json,
};
use crate::config::RunMode;
use crate::format::same_path;
use crate::scene::load_scene;
use crate::sim::Env;

/// The scene the studio opens when none is given.
pub const DEFAULT_SCENE: &str = "scenes/pendulum.ron";

#[derive(Parser, Debug)]
#[command(
    name = "demorl-studio",
    version,
    about = "Watch, debug and tune DeMoRL (DMD-MPC + SAC) live on Rapier robots",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Scene file for the studio when no subcommand is given.
    pub scene: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the studio window (the default command).
    Studio {
        /// Scene file to open (default: scenes/pendulum.ron).
        #[arg(conflicts_with = "settings")]
        scene: Option<PathBuf>,
        /// Close after this many seconds and print frame time, real-time factor and env steps/s.
        #[arg(long)]
        seconds: Option<f64>,
        /// Rollout threads for planning.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Simulated seconds per wall-clock second (1/16 to 16; planning time may hold it lower).
        #[arg(long, default_value_t = 1.0)]
        speed: f32,
        /// What runs: demorl (learns and plans), sac, or mpc (with --model).
        #[arg(long, value_enum, default_value = "demorl", conflicts_with = "settings")]
        mode: Mode,
        /// The model mpc plans with (default: simulator).
        #[arg(long, value_enum, conflicts_with = "settings")]
        model: Option<ModelKind>,
        /// Start the run a settings.ron records (written by `train`/`compare`, or one of
        /// docs/settings): its scene, mode, model, seed, planner and learning settings.
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Redraw at most this many frames per second (0: no cap). Default: 5 on a software
        /// renderer (whose frames take CPU from planning), no cap on a GPU.
        #[arg(long)]
        max_fps: Option<f32>,
    },
    /// Run an experiment headless and print per-episode returns.
    Train(TrainArgs),
    /// Train a grid of learning runs (modes × seeds), plot their learning curves and tabulate
    /// the env steps each needed to reach a return.
    #[command(long_about = COMPARE_ABOUT)]
    Compare(CompareArgs),
    /// Evaluate saved learning runs (checkpoint folders) in the nominal world and the scene's
    /// shifted worlds: return per world, and as a fraction of the nominal return; over several
    /// runs (seeds), each world's mean, spread and share of nominal.
    Evaluate(EvaluateArgs),
    /// Print throughput figures.
    Bench(BenchArgs),
    /// Run N control steps in the studio and save the window as a PNG.
    Screenshot(ScreenshotArgs),
    /// Convert a URDF or MJCF robot into a scene file (with a task), and print what the
    /// simulator could not carry over.
    Import(ImportArgs),
    /// Validate scene files and report every error with file, line, column and field; for each
    /// valid one print links, joints, actuated joints, total mass and the base height at reset.
    Check {
        /// Scene files to check.
        #[arg(required = true)]
        scenes: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Checkpoint folders (`train --save-every N --save-to DIR`, a SLURM task's RUN/checkpoint, a
    /// studio save); several (e.g. one per seed, of one scene) are also summarised world by world.
    #[arg(required = true, num_args = 1..)]
    pub checkpoints: Vec<PathBuf>,
    /// Worlds, comma-separated: `nominal` and names of the scene's `task.worlds` [default:
    /// nominal, then every world of the scene].
    #[arg(long, value_delimiter = ',')]
    pub worlds: Vec<String>,
    /// Deterministic episodes per world, the run's evaluation seeds [default: the run's
    /// `eval_episodes`].
    #[arg(long)]
    pub episodes: Option<usize>,
    /// Scene file [default: the one the runs recorded].
    #[arg(long)]
    pub scene: Option<PathBuf>,
    /// Also write every run's table as CSV to this file (a row per checkpoint and world).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the summary over the checkpoints as CSV to this file (a row per world).
    #[arg(long)]
    pub summary_out: Option<PathBuf>,
    /// Checkpoints evaluated at the same time (each on one thread; the figures do not depend on
    /// it).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Plan with a planner field changed, `planner.FIELD=VALUE` as in `compare --vary` (e.g.
    /// `planner.terminal_value=None`, `planner.loss.elite_fraction=0.05`); repeatable. The change
    /// applies to the planner settings the run recorded (its manifest's); the saved networks and
    /// model stay as they are: this asks what the same learned parts earn under another planner.
    #[arg(long = "set", value_name = "planner.FIELD=VALUE")]
    pub set: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// SAC alone.
    Sac,
    /// The DMD-MPC planner alone.
    Mpc,
    /// Planner with a learned model, SAC critic and actor prior.
    Demorl,
    /// Baseline: zero actions.
    Zero,
    /// Baseline: uniform random actions.
    Random,
    /// Baseline: the planner's nominal schedule (a gait, `nominal` in the planner settings)
    /// played open loop, without planning.
    Nominal,
    /// Baseline: hold the home pose (position targets at the joints' `home` angles): standing still.
    Home,
}

impl Mode {
    /// The run mode `--mode` names with `--model` (default: the simulator); `None` for the
    /// baselines, which are episodes, not runs.
    pub fn run_mode(self, model: Option<ModelKind>) -> Option<RunMode> {
        let model = match model.unwrap_or(ModelKind::Simulator) {
            ModelKind::Learned => "learned",
            ModelKind::Simulator => "simulator",
        };
        RunMode::from_names(self.name(), model)
    }

    /// The lower-case name, as in `settings.ron` and `summary.json`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sac => "sac",
            Mode::Mpc => "mpc",
            Mode::Demorl => "demorl",
            Mode::Zero => "zero",
            Mode::Random => "random",
            Mode::Nominal => "nominal",
            Mode::Home => "home",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// A probabilistic ensemble learned from data.
    Learned,
    /// The forked simulator (an oracle model).
    Simulator,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Scene file (with --resume or --settings it may be left out: the recorded run names its own).
    #[arg(required_unless_present_any = ["resume", "settings"])]
    pub scene: Option<PathBuf>,
    // A recorded run (--settings, --resume) carries its mode, model and preset: giving them as
    // well is refused rather than silently overridden.
    #[arg(long, value_enum, default_value = "mpc", conflicts_with_all = ["settings", "resume"])]
    pub mode: Mode,
    #[arg(long, value_enum, default_value = "simulator", conflicts_with_all = ["settings", "resume"])]
    pub model: ModelKind,
    /// Planner preset: built in (reference, paper-cem, mppi, mirror-descent, demorl-h15), saved
    /// from the studio (saves/presets/NAME.ron, by NAME), or a preset file by its path (….ron);
    /// default: the scene's own settings for the mode (its `learning:` section, else the mode's
    /// generic ones).
    #[arg(long, conflicts_with_all = ["settings", "resume"])]
    pub preset: Option<String>,
    /// Episodes to run (MPC with the simulator).
    #[arg(long, default_value_t = 10)]
    pub episodes: usize,
    /// Random seed: the same seed and settings give the same run [default: 0; with --settings:
    /// the recorded run's seed unless given; a resumed run keeps its own].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Rollout threads for planning [default: 1; with --settings or --resume: the recorded run's
    /// unless given]. Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output folder: episodes.csv and summary.json for MPC with the simulator and the baselines;
    /// eval.csv, train.csv, train_episodes.csv, summary.json and settings.ron for the learning modes.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Env steps of a learning run (sac, demorl, mpc with the learned model) [default: the
    /// scene's for the mode, else 10000; with --settings or --resume: the recorded run's steps].
    /// With --resume: the new total.
    #[arg(long)]
    pub steps: Option<u64>,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// Rerun from a settings.ron written by an earlier run (its scene, mode, model, preset and
    /// settings; --seed, --threads, --steps, --eval-every, --eval-episodes, --warmup, --set and
    /// --out given here still apply).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Take a checkpoint (weights, optimiser and RNG states, replay buffer, metrics) at the first
    /// episode start on or after every N env steps, and at the end when the run ends at an
    /// episode start (mid-episode state is not saved: the last periodic one stands, see
    /// --save-final; all learning modes).
    #[arg(long, value_name = "N")]
    pub save_every: Option<u64>,
    /// Checkpoint folder [default: saves/<scene>-<mode>-seed<seed>, or the --resume folder].
    #[arg(long, value_name = "DIR")]
    pub save_to: Option<PathBuf>,
    /// Also save the agent the run ends with into DIR, at its last step even mid-episode (learning
    /// modes): `evaluate` then measures exactly the policy of the run's last evaluation. A save
    /// taken mid-episode cannot be resumed (the episode's physics state is not saved). Not the
    /// --save-to folder.
    #[arg(long, value_name = "DIR")]
    pub save_final: Option<PathBuf>,
    /// Learning modes: train in worlds drawn per episode from the scene's `task.randomize` ranges.
    #[arg(long, conflicts_with = "resume")]
    pub randomize: bool,
    /// Evaluate in this named world of the scene's `task.worlds` (e.g. heavy); episode runs
    /// (mpc with the simulator, the baselines) run every episode in it.
    #[arg(long, value_name = "NAME", conflicts_with = "resume")]
    pub eval_world: Option<String>,
    /// Continue a run from its checkpoint folder (scene, mode, seed and settings come from it).
    /// The result is identical to an uninterrupted run when the saved part's length is a
    /// multiple of the evaluation interval.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Change one settings field, `FIELD=VALUE` with FIELD its path in settings.ron as in
    /// `compare --vary` (e.g. `planner.horizon=12`, `train.model_train_every=125`); repeatable,
    /// applied after the other options and recorded in the run's settings.ron. Episode runs (mpc
    /// with the simulator, the baselines) take planner fields only; a field the mode does not use
    /// (a planner field for sac) is refused; a resumed run keeps its settings.
    #[arg(long = "set", value_name = "FIELD=VALUE", conflicts_with = "resume")]
    pub set: Vec<String>,
}

impl TrainArgs {
    /// The scene file, which a run that is not recorded (no --resume, no --settings) must name.
    fn scene_file(&self) -> anyhow::Result<&Path> {
        self.scene.as_deref().ok_or_else(|| anyhow::anyhow!("train needs a scene file (or --resume / --settings)"))
    }

    /// The seed of a fresh run.
    fn seed_or_default(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    /// The rollout threads of a fresh run.
    fn threads_or_default(&self) -> usize {
        self.threads.unwrap_or(1)
    }
}

const COMPARE_ABOUT: &str =
    "Train a grid of learning runs (modes × swept settings × seeds) on one scene, on this machine or as a SLURM \
job array, plot their learning curves and tabulate the env steps each needed to reach a return.

Every run is exactly what `train --mode MODE --seed S --steps N` runs and writes its eval.csv, train.csv, \
train_episodes.csv, summary.json and settings.ron to OUT/<mode>/seed-<s>/ (OUT/<mode>/<field=value,...>/seed-<s>/ in a --vary \
sweep). Then OUT/curves.png and OUT/curves.svg (mean eval return over seeds with a min-max band per mode and \
values), OUT/steps_to_threshold.csv and .md, and a summary on stdout.

Resuming: a run whose folder already holds summary.json and a settings.ron equal to the one it would run is \
not retrained but read back, so rerunning the same command continues an interrupted grid (and only redraws \
the plot and table of a finished one). Results do not depend on --jobs or the backend.

--backend slurm writes OUT/slurm/grid.sbatch (one array task per run, resumed from its checkpoint when \
requeued) and submits the unfinished runs; run the same command again to resubmit failed runs and, once \
every run finished, to write the table and curves. `compare --status OUT` shows where each run stands.";

/// A learning mode of a `compare` grid by name: `sac`, `mpc` (the planner with the learned
/// model, PETS-like) or `demorl`.
fn parse_learning_mode(name: &str) -> Result<RunMode, String> {
    RunMode::learning_from_name(name).ok_or_else(|| format!("`{name}` is not a learning mode: use sac, mpc or demorl"))
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Scene file.
    #[arg(required_unless_present = "status")]
    pub scene: Option<PathBuf>,
    /// Modes to compare, comma-separated, in plot and table order: sac, mpc (with the learned
    /// model), demorl.
    #[arg(long, value_delimiter = ',', required_unless_present = "status", value_parser = parse_learning_mode)]
    pub modes: Vec<RunMode>,
    /// Seeds: 1..5 (both ends included), 7, or 1,2,7.
    #[arg(long, default_value = "1..5")]
    pub seeds: String,
    /// Env steps of every run [default: each mode's own: the scene's, a --settings-for file's,
    /// else 10000].
    #[arg(long)]
    pub steps: Option<u64>,
    /// Output folder.
    #[arg(long, required_unless_present = "status")]
    pub out: Option<PathBuf>,
    /// Runs trained at the same time on this machine (1, or 2 on a 2-core machine).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Return to reach (default: the first mode's final eval return, averaged over seeds).
    #[arg(long, allow_hyphen_values = true)]
    pub threshold: Option<f64>,
    /// Count an evaluation as reaching the threshold only if every one of its episodes lasted the
    /// scene's episode steps (none fell). The table says how many runs fall in their last
    /// evaluation either way.
    #[arg(long)]
    pub without_falls: bool,
    /// MODE=FILE: take MODE's train and planner settings (and preset, model) from a settings.ron
    /// written by `train` or `compare`; scene, seed and steps still come from this command. Repeatable.
    #[arg(long = "settings-for", value_name = "MODE=FILE")]
    pub settings_for: Vec<String>,
    /// FIELD=V1,V2,...: sweep a setting, named by its path in settings.ron (planner.horizon,
    /// planner.loss.elite_fraction, planner.loss=Cem(elite_fraction:0.1),Mppi(temperature:1.0),
    /// train.ensemble.patience). Repeatable: the grid runs every combination.
    #[arg(long, value_name = "FIELD=V1,V2")]
    pub vary: Vec<String>,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// Where the runs train: local (threads on this machine) or slurm (one sbatch array task
    /// per run; run the same command again to resubmit failed runs and, once all finished,
    /// collect the table and curves).
    #[arg(long, value_enum, default_value = "local")]
    pub backend: BackendKind,
    #[command(flatten)]
    pub slurm: SlurmArgs,
    /// Print where every run of the grid in this folder stands (finished, running, pending,
    /// failed, interrupted, not started) and exit.
    #[arg(long, value_name = "OUT", conflicts_with_all = ["scene", "out"])]
    pub status: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Threads on this machine (--jobs at a time).
    Local,
    /// A SLURM job array, submitted with sbatch.
    Slurm,
}

/// `compare --backend slurm` options.
#[derive(Args, Debug, Clone, Default)]
pub struct SlurmArgs {
    /// Write every run's settings.ron and OUT/slurm/grid.sbatch without submitting.
    #[arg(long)]
    pub dry_run: bool,
    /// Wall-time limit per task, as sbatch --time takes it [default: 04:00:00].
    #[arg(long)]
    pub time: Option<String>,
    /// Memory per task, as sbatch --mem takes it [default: 4G].
    #[arg(long)]
    pub mem: Option<String>,
    /// CPUs per task [default: 1; a run uses one rollout thread].
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// sbatch --partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// sbatch --account.
    #[arg(long)]
    pub account: Option<String>,
    /// At most this many tasks at once (--array=…%K).
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// Another sbatch option for the script, e.g. --sbatch-arg=--qos=long. Repeatable.
    #[arg(long = "sbatch-arg", value_name = "OPTION", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Checkpoint every N env steps, so a requeued task resumes [default: each run's
    /// evaluation interval].
    #[arg(long, value_name = "N")]
    pub save_every: Option<u64>,
}

impl SlurmArgs {
    /// The SLURM options, with this binary as the one the tasks run.
    fn options(&self) -> anyhow::Result<crate::compare::SlurmOptions> {
        let binary = std::env::current_exe().context("cannot find this program's path for the sbatch script")?;
        let mut o = crate::compare::SlurmOptions::new(binary);
        o.time = self.time.clone().unwrap_or(o.time);
        o.mem = self.mem.clone().unwrap_or(o.mem);
        o.cpus_per_task = self.cpus_per_task.unwrap_or(o.cpus_per_task);
        o.partition = self.partition.clone();
        o.account = self.account.clone();
        o.max_parallel = self.max_parallel;
        o.extra = self.sbatch_args.clone();
        o.save_every = self.save_every;
        o.dry_run = self.dry_run;
        o.check()?;
        Ok(o)
    }

    /// Whether any option was given (they apply to `--backend slurm` only).
    fn any_given(&self) -> bool {
        self.dry_run
            || self.time.is_some()
            || self.mem.is_some()
            || self.cpus_per_task.is_some()
            || self.partition.is_some()
            || self.account.is_some()
            || self.max_parallel.is_some()
            || !self.sbatch_args.is_empty()
            || self.save_every.is_some()
    }
}

/// Evaluation and warm-up options of the learning runs (`train`, `compare`).
#[derive(Args, Debug, Clone, Copy)]
pub struct ScheduleArgs {
    /// Evaluate every K env steps (learning modes).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Deterministic episodes per evaluation (learning modes).
    #[arg(long)]
    pub eval_episodes: Option<usize>,
    /// Random-action warm-up steps (learning modes; default: the scene's for the mode, else 1000
    /// for sac and 250 otherwise).
    #[arg(long)]
    pub warmup: Option<u64>,
}

impl ScheduleArgs {
    /// The options as overrides of a run's schedule.
    pub fn overrides(&self) -> ScheduleOverrides {
        ScheduleOverrides { eval_every: self.eval_every, eval_episodes: self.eval_episodes, warmup: self.warmup }
    }
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub what: BenchKind,
    /// One JSON object per line: {"name", "value", "unit"}.
    #[arg(long)]
    pub json: bool,
    /// Worker threads for batched figures.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Folder of scene files.
    #[arg(long, default_value = "scenes")]
    pub scenes: PathBuf,
    /// Seconds per env figure, and for the learned-model planner step.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchKind {
    /// Env and physics steps per second for every scene.
    Env,
    /// Planner milliseconds per plan and real-time factor (simulator model): every preset on pendulum and cheetah, the scene's own settings on hopper and quadruped.
    Planner,
    /// Learned-model planner step, its share of the GEMM ceiling, and SAC updates/s (one thread).
    Learning,
    /// SLURM's cost per array task: a grid of short runs locally (--threads at once) and on the
    /// cluster this machine submits to (give --threads = the CPUs it runs tasks on).
    Slurm,
}

#[derive(Args, Debug)]
pub struct ScreenshotArgs {
    /// Scene file.
    #[arg(required_unless_present = "settings", conflicts_with = "settings")]
    pub scene: Option<PathBuf>,
    /// Control steps to run before the picture is taken.
    #[arg(long, default_value_t = 50)]
    pub steps: u32,
    /// PNG file to write (of the window after the last step).
    #[arg(long, required_unless_present = "video")]
    pub out: Option<PathBuf>,
    /// Also record every step as a video: FILE.gif or FILE.mp4 (H.264), one frame per control
    /// step, the whole window.
    #[arg(long, value_name = "FILE")]
    pub video: Option<PathBuf>,
    /// Frames per second of the video [default: the scene's control rate, i.e. real time].
    #[arg(long, requires = "video")]
    pub fps: Option<f64>,
    /// Push the robot's base: STEP:FX,FY,FZ[:STEPS] starts a force (N, world axes, Y up) before
    /// control step STEP, for STEPS steps (default 3); repeatable. The picture shows its arrow
    /// while it acts.
    #[arg(long, value_name = "STEP:FX,FY,FZ[:STEPS]")]
    pub push: Vec<String>,
    /// After the steps, plan the state with the run's settings (A) and this preset (B: built in,
    /// saved from the studio, or a ….ron file, as `train --preset`) and show both (A/B plans; mpc
    /// with the simulator).
    #[arg(long, value_name = "PRESET")]
    pub ab: Option<String>,
    /// Window size as WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720")]
    pub size: String,
    /// What runs: mpc (with --model, the default: plans from the first step), sac or demorl.
    /// Learning modes act at random during warm-up (250 steps; 1000 for sac) and draw no plans.
    #[arg(long, value_enum, default_value = "mpc", conflicts_with = "settings")]
    pub mode: Mode,
    /// The model mpc plans with (default: simulator).
    #[arg(long, value_enum, conflicts_with = "settings")]
    pub model: Option<ModelKind>,
    /// Run what a settings.ron records instead (its scene, mode, model, seed and settings).
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Show the physics debug layer (collision shapes, joints, contacts) in the picture.
    #[arg(long)]
    pub physics_debug: bool,
}

/// The studio mode for `--mode` / `--model` (the baselines have no studio mode).
pub fn studio_mode(mode: Mode, model: Option<ModelKind>) -> anyhow::Result<RunMode> {
    mode.run_mode(model).ok_or_else(|| {
        anyhow::anyhow!("--mode {} is not available in the studio (use mpc, sac or demorl)", mode.name())
    })
}

/// `train`: loads and validates the scene, runs the chosen mode, prints returns, writes outputs.
pub fn train(args: &TrainArgs) -> anyhow::Result<()> {
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let run_mode = args.mode.run_mode(Some(args.model));
    if run_mode.is_some_and(RunMode::is_learning) || args.settings.is_some() || args.resume.is_some() {
        return train_learning(args, run_mode);
    }
    let scene_path = args.scene_file()?;
    let scene = load_scene(scene_path)?;
    let (mut preset_name, settings) = match &args.preset {
        Some(name) => (name.clone(), crate::plan::preset_argument(name)?),
        None => ("scene-default".to_string(), scene.planner.clone()),
    };
    let changes = assignments(&args.set)?;
    crate::compare::ensure_planner_fields(
        &changes,
        "--set",
        "an episode run (mpc with the simulator, a baseline) trains nothing: only planner fields apply",
    )?;
    let settings = crate::compare::apply_planner_fields(&settings, &changes, "--set")?;
    if !changes.is_empty() {
        preset_name = format!("{preset_name} --set {}", crate::compare::combination_name(&changes));
    }
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    }
    let print = |k: usize, summary: &EpisodeSummary| {
        println!(
            "episode {:>3}  return {:>10.2}  steps {:>5}  plan {:>7.2} ms  ({})",
            k + 1,
            summary.episode_return,
            summary.length,
            summary.plan_ms,
            summary.end
        );
        let terms: Vec<String> = scene
            .task
            .reward
            .iter()
            .zip(&summary.reward_terms)
            .map(|(term, sum)| format!("{} {sum:.1}", crate::sim::task::reward_label(&term.term)))
            .collect();
        println!("             reward terms: {}", terms.join(", "));
    };
    let (seed, threads) = (args.seed_or_default(), args.threads_or_default());
    let mut env = Env::new(&scene);
    if args.randomize {
        bail!("--randomize applies to learning runs (sac, demorl, mpc with the learned model)");
    }
    if let Some(name) = &args.eval_world {
        env.set_world(crate::agent::named_world(&scene, name)?);
    }
    let episodes: Vec<EpisodeSummary> = if run_mode == Some(RunMode::MpcSimulator) {
        // The studio's loop runs the same episodes in lockstep (tests/studio.rs checks they agree).
        run_mpc_episodes(&mut env, settings, seed, threads, args.episodes, print)?
    } else {
        let mut baseline = match args.mode {
            Mode::Random => Baseline::random(seed),
            Mode::Nominal => match settings.nominal.clone() {
                Some(schedule) => Baseline::Nominal(schedule),
                None => bail!(
                    "--mode nominal needs a nominal schedule, and the planner settings ({preset_name}) have none: \
                     add `nominal: Some((period_steps: …, amplitude: […]))` to the scene's planner section"
                ),
            },
            Mode::Home => Baseline::Hold(scene.robot.home_action()),
            _ => Baseline::Zero,
        };
        (0..args.episodes)
            .map(|k| {
                let summary = run_baseline_episode(&mut env, &mut baseline, episode_seed(seed, k as u64));
                print(k, &summary);
                summary
            })
            .collect()
    };
    let returns: Vec<f64> = episodes.iter().map(|e| e.episode_return).collect();
    let (mean, std) = crate::agent::mean_std(&returns);
    println!("mean return {mean:.2} ± {std:.2} over {} episodes", episodes.len());
    if let Some(out) = &args.out {
        write_episodes_csv(&out.join("episodes.csv"), &episodes)?;
        let summary = RunSummary {
            scene: scene.name.clone(),
            mode: args.mode.name().to_string(),
            model: if args.mode == Mode::Mpc { "simulator".into() } else { "none".into() },
            preset: preset_name,
            seed,
            env_steps: episodes.iter().map(|e| u64::from(e.length)).sum(),
            episodes: episodes.len(),
            eval_return_mean: mean,
            eval_return_std: std,
            eval_returns: returns,
            mean_plan_ms: episodes.iter().map(|e| e.plan_ms).sum::<f64>() / episodes.len().max(1) as f64,
            train_episodes: 0,
            wall_seconds: 0.0,
            steps_per_second: 0.0,
        };
        write_summary_json(&out.join("summary.json"), &summary)?;
        println!("wrote {} and {}", out.join("episodes.csv").display(), out.join("summary.json").display());
    }
    Ok(())
}

/// `train` for the learning modes (sac, demorl, mpc with the learned model): a progress bar,
/// evaluation lines, and eval.csv, train.csv, train_episodes.csv, summary.json and settings.ron in `--out`.
fn train_learning(args: &TrainArgs, run_mode: Option<RunMode>) -> anyhow::Result<()> {
    let mut config = match (&args.resume, &args.settings) {
        (Some(_), Some(_)) => bail!("--resume and --settings cannot be combined: a checkpoint carries its settings"),
        (Some(dir), None) => crate::agent::read_checkpoint(dir)?.config,
        (None, Some(path)) => crate::config::read_run_config(path)?,
        (None, None) => {
            let scene_path = args.scene_file()?;
            let scene = load_scene(scene_path)?;
            let mode = run_mode.expect("train dispatches only learning modes here");
            let (seed, threads) = (args.seed_or_default(), args.threads_or_default());
            learning_config(scene_path, &scene, mode, args.preset.as_deref(), seed, threads)?
        }
    };
    // A recorded run carries its scene: naming another one is refused, not silently ignored.
    if let (Some(recorded), Some(given)) = (args.resume.as_ref().or(args.settings.as_ref()), &args.scene)
        && !same_path(given, &config.scene)
    {
        bail!(
            "{} records a run on {}, not {}: give that scene with --resume / --settings, or no scene",
            recorded.display(),
            config.scene.display(),
            given.display()
        );
    }
    if let Some(steps) = args.steps {
        config.steps = steps;
    }
    if let Some(seed) = args.seed {
        // A resumed run continues its own random streams; another seed would be another run.
        if args.resume.is_some() && seed != config.seed {
            bail!("--seed {seed} cannot change a resumed run's seed ({})", config.seed);
        }
        config.seed = seed;
    }
    if let Some(threads) = args.threads {
        config.threads = threads;
    }
    let schedule = args.schedule.overrides();
    // A resumed run keeps its schedule, or it would not continue the same run.
    if args.resume.is_some() && schedule != ScheduleOverrides::default() {
        bail!("--eval-every, --eval-episodes and --warmup cannot change a resumed run's schedule");
    }
    schedule.apply(&mut config)?;
    config.train.randomize |= args.randomize;
    if let Some(world) = &args.eval_world {
        config.train.eval_world = Some(world.clone());
    }
    let changes = assignments(&args.set)?;
    if let Some((field, _)) = changes.iter().find(|(field, _)| !crate::compare::applies_to(field, config.mode)) {
        bail!("--set {field}: a {} run does not use it, so it would change nothing", config.mode);
    }
    if !changes.is_empty() {
        config = crate::compare::apply_fields(&config, &changes, "--set")?;
    }
    let scene = load_scene(&config.scene)?;
    let bar = ProgressBar::new(config.steps);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} env steps  {msg}  [{elapsed_precise}]")
            .expect("valid progress template"),
    );
    let default_save = || {
        let stem = config.scene.file_stem().map_or("run".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from("saves").join(format!("{stem}-{}-seed{}", config.mode.mode_name(), config.seed))
    };
    let checkpoints = CheckpointOptions {
        save_every: args.save_every,
        save_to: args
            .save_every
            .map(|_| args.save_to.clone().or_else(|| args.resume.clone()).unwrap_or_else(default_save)),
        resume: args.resume.clone(),
        save_final: args.save_final.clone(),
    };
    let output = crate::agent::run_learning_with(
        &config,
        &scene,
        args.out.as_deref(),
        &checkpoints,
        |p| {
            bar.set_position(p.env_steps);
            if p.env_steps.is_multiple_of(10) {
                bar.set_message(format!(
                    "episodes {}  last return {:.1}  {:.0} steps/s",
                    p.episodes, p.last_return, p.steps_per_second
                ));
            }
        },
        |row| {
            // `suspend` rather than `bar.println`: the latter prints nothing when the bar is hidden.
            bar.suspend(|| {
                println!(
                    "eval @ {:>7} steps: {} (train episodes {})",
                    row.env_steps,
                    row.return_text(),
                    row.train_episodes
                )
            })
        },
    )?;
    bar.finish_and_clear();
    let s = &output.summary;
    println!(
        "{} {} on {}: final eval return {:.2} ± {:.2} after {} env steps ({:.1} s, {:.0} steps/s)",
        s.mode,
        s.model,
        s.scene,
        s.eval_return_mean,
        s.eval_return_std,
        s.env_steps,
        s.wall_seconds,
        s.steps_per_second
    );
    if let Some(out) = &args.out {
        println!("wrote eval.csv, train.csv, train_episodes.csv, summary.json and settings.ron to {}", out.display());
    }
    if let Some(dir) = &checkpoints.save_to {
        println!("{}", checkpoint_line(dir, output.saved_at, s.env_steps));
    }
    if let (Some(dir), Some(mid_episode)) = (&args.save_final, output.final_mid_episode) {
        let kind = if mid_episode { "mid-episode: for evaluate, not --resume" } else { "at an episode start" };
        println!("the final agent at {} env steps ({kind}): {}", s.env_steps, dir.display());
    }
    Ok(())
}

/// Turns `compare` arguments into options for [`crate::compare::run_compare`].
pub fn compare_options(args: &CompareArgs) -> anyhow::Result<crate::compare::CompareOptions> {
    let (Some(scene), Some(out)) = (&args.scene, &args.out) else {
        bail!("compare needs a scene and --out (or --status OUT alone)");
    };
    let backend = match args.backend {
        BackendKind::Local if args.slurm.any_given() => {
            bail!(
                "--dry-run, --time, --mem, --cpus-per-task, --partition, --account, --max-parallel, --sbatch-arg and --save-every apply to --backend slurm"
            )
        }
        BackendKind::Local => crate::compare::Backend::Local { jobs: args.jobs },
        BackendKind::Slurm => crate::compare::Backend::Slurm(args.slurm.options()?),
    };
    Ok(crate::compare::CompareOptions {
        scene: scene.clone(),
        modes: args.modes.clone(),
        seeds: crate::compare::parse_seeds(&args.seeds)?,
        steps: args.steps,
        out: out.clone(),
        backend,
        threshold: args.threshold,
        without_falls: args.without_falls,
        settings_for: args
            .settings_for
            .iter()
            .map(|s| crate::compare::parse_settings_for(s))
            .collect::<Result<_, _>>()?,
        schedule: args.schedule.overrides(),
        variations: args.vary.iter().map(|v| crate::compare::parse_variation(v)).collect::<Result<_, _>>()?,
    })
}

/// `compare`: trains the grid (printing evaluations as they come) or advances it on SLURM;
/// once every run finished, writes the plot and table and prints the table.
pub fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.status {
        print!("{}", crate::compare::status_text(&crate::compare::grid_status(out)?));
        return Ok(());
    }
    let options = compare_options(args)?;
    let combinations = |mode: RunMode| -> usize {
        let own = options.variations.iter().filter(|v| crate::compare::applies_to(&v.field, mode));
        own.map(|v| v.values.len()).product()
    };
    let runs: usize = options.modes.iter().map(|&m| combinations(m) * options.seeds.len()).sum();
    let modes: Vec<String> = options
        .modes
        .iter()
        .map(|&m| match combinations(m) {
            1 => m.mode_name().to_string(),
            n => format!("{} ({n} settings)", m.mode_name()),
        })
        .collect();
    let steps = options.steps.map_or("each mode's default number of".to_string(), |n| n.to_string());
    let place = match &options.backend {
        crate::compare::Backend::Local { jobs } => format!("{jobs} at a time on this machine"),
        crate::compare::Backend::Slurm(_) => "as a SLURM job array".to_string(),
    };
    println!(
        "compare: {} × seeds {:?} = {runs} runs of {steps} env steps on {}, {place}",
        modes.join(","),
        options.seeds,
        options.scene.display(),
    );
    match crate::compare::run_compare(&options, &|line| println!("{line}"))? {
        crate::compare::CompareOutcome::Finished(report) => {
            println!("\n{}", report.table.markdown(&report.scene_name));
            println!(
                "{} runs trained, {} reused; wrote curves.png, curves.svg, steps_to_threshold.csv and .md to {}",
                report.trained,
                report.reused,
                options.out.display()
            );
        }
        crate::compare::CompareOutcome::Waiting(waiting) if waiting.job.is_none() && !waiting.submitted.is_empty() => {
            println!(
                "dry run: wrote every run's settings.ron and {}; nothing submitted. Submit with:\n  {}",
                waiting.command.last().map_or("", String::as_str),
                waiting.command.join(" ")
            );
        }
        crate::compare::CompareOutcome::Waiting(waiting) => {
            print!("{}", waiting.status);
            println!(
                "{} runs submitted now, {} still queued or running from before. `compare --status {}` shows \
                 progress; run this command again to resubmit failed runs and, once all finished, to write the \
                 table and curves.",
                waiting.submitted.len(),
                waiting.in_queue,
                options.out.display()
            );
        }
    }
    Ok(())
}

/// What a finished run says of its checkpoint folder: the step it holds, which is earlier than the
/// run's end when the run ended mid-episode (checkpoints are taken at episode starts only).
fn checkpoint_line(dir: &Path, saved_at: Option<u64>, end: u64) -> String {
    let dir = dir.display();
    match saved_at {
        Some(steps) if steps == end => format!("checkpoint at {steps} env steps: {dir} (continue with --resume {dir})"),
        Some(steps) => format!(
            "checkpoint at {steps} env steps, the last episode start on the schedule (the run ended \
             mid-episode at {end}): {dir} (continue with --resume {dir})"
        ),
        None => format!("no checkpoint written: no episode started on the --save-every schedule ({dir})"),
    }
}

/// `evaluate`: each checkpoint's policy in each world, printed as a table, then with several
/// checkpoints the summary over them (CSV with `--out` / `--summary-out`).
pub fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    let manifests =
        args.checkpoints.iter().map(|dir| crate::agent::read_checkpoint(dir)).collect::<anyhow::Result<Vec<_>>>()?;
    let scene_path = match &args.scene {
        Some(scene) => scene.clone(),
        None => one_recorded_scene(&args.checkpoints, &manifests)?,
    };
    let scene = load_scene(&scene_path)?;
    let worlds = match args.worlds.is_empty() {
        true => {
            std::iter::once(crate::agent::NOMINAL_WORLD.to_string()).chain(scene.task.worlds.keys().cloned()).collect()
        }
        false => args.worlds.clone(),
    };
    let changes = planner_changes(&args.set)?;
    // Every checkpoint's changed planner is checked before any episode runs.
    let planners = args
        .checkpoints
        .iter()
        .zip(&manifests)
        .map(|(dir, manifest)| changed_planner(manifest, &changes).with_context(|| dir.display().to_string()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let saved: Vec<_> = args.checkpoints.iter().zip(&manifests).zip(&planners).collect();
    let episodes_of = |manifest: &crate::agent::Manifest| args.episodes.unwrap_or(manifest.config.train.eval_episodes);
    // Each table is printed whole as soon as its checkpoint is done (in finishing order when
    // several run at once; the CSV and the summary keep the order given).
    let runs = crate::agent::on_workers(&saved, args.jobs, "evaluate", |&((dir, manifest), planner)| {
        let episodes = episodes_of(manifest);
        let evals = crate::agent::evaluate_checkpoint(dir, manifest, &scene, &worlds, episodes, planner.as_ref())
            .with_context(|| dir.display().to_string())?;
        print!("{}", world_evals_table(dir, manifest, &scene, episodes, &changes, &evals));
        Ok(evals)
    })?;
    if let Some(out) = &args.out {
        let tables: Vec<(&Path, &[crate::agent::WorldEval])> =
            args.checkpoints.iter().map(PathBuf::as_path).zip(runs.iter().map(Vec::as_slice)).collect();
        crate::agent::write_world_evals_csv(out, &tables)?;
        println!("wrote {}", out.display());
    }
    let summaries = crate::agent::summarize_runs(&runs, scene.task.episode_steps)?;
    if runs.len() > 1 {
        println!("over the {} runs:", runs.len());
        for summary in &summaries {
            println!("{:>12}: {}", summary.world, summary.text());
        }
    }
    if let Some(out) = &args.summary_out {
        crate::agent::write_world_summary_csv(out, &summaries)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// `evaluate --set`'s changes, read and refused before any checkpoint is touched: only the
/// planner's fields, because the rest shaped a training that is over.
fn planner_changes(set: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let changes = assignments(set)?;
    crate::compare::ensure_planner_fields(
        &changes,
        "--set",
        "evaluate changes only how a saved run plans (planner.FIELD=VALUE); this field shaped its training, which is over",
    )?;
    Ok(changes)
}

/// Each `--set FIELD=VALUE` as a (field, value) pair.
fn assignments(set: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    set.iter().map(|text| crate::compare::parse_assignment(text, "--set")).collect()
}

/// The planner settings `manifest`'s run plans with under `changes`, checked like a settings
/// file; `None` without changes.
fn changed_planner(
    manifest: &crate::agent::Manifest,
    changes: &[(String, String)],
) -> anyhow::Result<Option<crate::config::PlannerSettings>> {
    if changes.is_empty() {
        return Ok(None);
    }
    let config = &manifest.config;
    crate::agent::ensure_plans(config).context("--set")?;
    // `planner_changes` has refused every field outside the planner.
    Ok(Some(crate::compare::apply_planner_fields(&config.planner, changes, "--set")?))
}

/// The scene every checkpoint recorded; checkpoints of different scenes are refused (their
/// worlds would not line up), naming the first two that differ.
fn one_recorded_scene(dirs: &[PathBuf], manifests: &[crate::agent::Manifest]) -> anyhow::Result<PathBuf> {
    let first = &manifests[0].config.scene;
    for (dir, manifest) in dirs.iter().zip(manifests).skip(1) {
        if !same_path(&manifest.config.scene, first) {
            bail!(
                "{} recorded scene {} but {} recorded {}: evaluate them separately, or give --scene",
                dirs[0].display(),
                first.display(),
                dir.display(),
                manifest.config.scene.display()
            );
        }
    }
    Ok(first.clone())
}

/// One checkpoint's table: a header line, then each world's return and share of nominal.
fn world_evals_table(
    dir: &Path,
    manifest: &crate::agent::Manifest,
    scene: &crate::scene::Scene,
    episodes: usize,
    changes: &[(String, String)],
    evals: &[crate::agent::WorldEval],
) -> String {
    let recorded = &manifest.config;
    let planner = match changes.is_empty() {
        true => String::new(),
        false => format!(", planning with {}", crate::compare::combination_name(changes)),
    };
    let mut table = format!(
        "{}: {} on {}, seed {}, saved at {} env steps: {episodes} episode{} per world{planner}\n",
        dir.display(),
        recorded.mode,
        scene.name,
        recorded.seed,
        evals.first().map_or(0, |e| e.row.env_steps),
        if episodes == 1 { "" } else { "s" }
    );
    let nominal = evals.iter().find(|e| e.world == crate::agent::NOMINAL_WORLD).map(|e| e.row.eval_return_mean);
    for e in evals {
        let share =
            nominal.map_or(String::new(), |n| format!("  {:5.1} % of nominal", 100.0 * e.row.eval_return_mean / n));
        table +=
            &format!("{:>12}: {} (mean length {:.0}){share}\n", e.world, e.row.return_text(), e.row.eval_length_mean);
    }
    table
}

/// `check`: validates every file; fails if any is invalid.
pub fn check(scenes: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for path in scenes {
        match load_scene(path) {
            Ok(scene) => {
                let summary = crate::sim::RobotSummary::of(&Env::new(&scene));
                println!("ok    {} ({}): {summary}", path.display(), scene.name);
            }
            Err(e) => {
                failed += 1;
                println!("error {e}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} scene files have errors", scenes.len());
    }
    Ok(())
}

/// Arguments of `import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The robot: a `.urdf`, or an MJCF `.xml` (MuJoCo Menagerie's files load as they are).
    pub file: PathBuf,
    /// Where to write the scene (default: scenes/<file stem>.ron). Mesh paths are written
    /// relative to its folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The task: stand (hold the home pose), walk (forward, around a trot) or none.
    #[arg(long, value_enum, default_value = "stand")]
    pub task: crate::scene::import::TaskKind,
    /// Agent actions per second (physics steps per action follow from the file's timestep).
    #[arg(long, default_value_t = 50.0)]
    pub control_rate: f32,
    /// MJCF: the keyframe to reset to (default: "home", else the first).
    #[arg(long)]
    pub keyframe: Option<String>,
    /// Home angles, e.g. `--home FL_HFE=0.8,FL_KFE=-1.6` (radians); they replace the keyframe's.
    #[arg(long, value_delimiter = ',', value_parser = parse_joint_angle)]
    pub home: Vec<(String, f64)>,
    /// URDF: drive joints with PD position motors of this stiffness (N·m/rad) instead of torques.
    #[arg(long)]
    pub kp: Option<f64>,
    /// URDF: the position motors' damping (N·m·s/rad).
    #[arg(long, default_value_t = 0.0, requires = "kp")]
    pub kd: f64,
    /// URDF: cap the file's effort limits (N·m), for files with placeholder values.
    #[arg(long)]
    pub max_effort: Option<f64>,
    /// Replace an existing scene file.
    #[arg(long)]
    pub force: bool,
}

fn parse_joint_angle(text: &str) -> Result<(String, f64), String> {
    let (name, angle) = text.split_once('=').ok_or_else(|| format!("expected JOINT=ANGLE, found {text}"))?;
    let angle: f64 = angle.trim().parse().map_err(|_| format!("\"{angle}\" is not an angle in radians"))?;
    if !angle.is_finite() {
        return Err(format!("the angle of {name} is not finite"));
    }
    Ok((name.trim().to_string(), angle))
}

/// `import`: writes the scene and prints the warnings and the robot's summary.
pub fn import(args: &ImportArgs) -> anyhow::Result<()> {
    use crate::scene::import::{ImportOptions, UrdfDrive, import};
    let stem = args.file.file_stem().and_then(|s| s.to_str()).unwrap_or("robot");
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("scenes").join(format!("{stem}.ron")));
    if out.exists() && !args.force {
        bail!("{} exists; pass --force to replace it", out.display());
    }
    let options = ImportOptions {
        task: args.task,
        control_rate: args.control_rate,
        keyframe: args.keyframe.clone(),
        home: args.home.clone(),
        urdf_drive: UrdfDrive { position_gains: args.kp.map(|kp| (kp, args.kd)), max_effort: args.max_effort },
    };
    let imported = import(&args.file, &out, &options)?;
    if let Some(folder) = out.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    }
    std::fs::write(&out, &imported.text).with_context(|| format!("writing {}", out.display()))?;
    for warning in &imported.warnings {
        println!("warning: {warning}");
    }
    let summary = crate::sim::RobotSummary::of(&Env::new(&imported.scene));
    println!("wrote {}: {summary}", out.display());
    Ok(())
}

/// `bench`.
pub fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    if args.threads == 0 {
        bail!("--threads must be at least 1");
    }
    let figures = match args.what {
        BenchKind::Env => crate::bench::env_figures(&args.scenes, args.threads, args.seconds)?,
        BenchKind::Planner => {
            // Every preset on two scenes; the scene's own settings (and its planning physics) on the walkers.
            let scenes = ["pendulum", "cheetah", "hopper", "quadruped"];
            crate::bench::planner_figures(&args.scenes, &scenes, &["pendulum", "cheetah"], args.threads, 20)?
        }
        BenchKind::Learning => crate::bench::learning_figures(args.seconds, 200, args.threads)?,
        BenchKind::Slurm => {
            let binary = std::env::current_exe().context("cannot find this program's path for the sbatch script")?;
            crate::bench::slurm_figures(&args.scenes, 8, args.threads, &binary)?
        }
    };
    crate::bench::print(&figures, args.json);
    Ok(())
}

/// `studio`: opens the window on `scene` (default: the pendulum) in `mode`, or on the run a
/// settings file records.
pub fn studio(
    scene: Option<&Path>,
    recorded: Option<&Path>,
    seconds: Option<f64>,
    threads: usize,
    speed: f32,
    mode: RunMode,
    max_fps: Option<f32>,
) -> anyhow::Result<()> {
    let scene = scene.unwrap_or(Path::new(DEFAULT_SCENE)).to_path_buf();
    if threads == 0 || seconds.is_some_and(|s| !(s.is_finite() && s > 0.0)) || !(1.0 / 16.0..=16.0).contains(&speed) {
        bail!("--threads must be at least 1, --seconds a positive number and --speed within 1/16..16");
    }
    if max_fps.is_some_and(|fps| !(0.0..=1000.0).contains(&fps)) {
        bail!("--max-fps must be within 0..=1000 (0: no cap)");
    }
    #[cfg(not(feature = "studio"))]
    return Err(no_studio(&(scene, recorded, mode)));
    #[cfg(feature = "studio")]
    crate::studio::run(crate::studio::StudioOptions {
        scene,
        mode,
        seed: 0,
        recorded: recorded.map(Path::to_path_buf),
        threads,
        speed,
        run_seconds: seconds,
        width: 1280,
        height: 720,
        screenshot: None,
        max_fps: max_fps.map(|fps| (fps > 0.0).then_some(fps)),
        physics_debug: false,
    })
}

/// Why a window command cannot run in a build without the studio (`_unused`: what it would
/// have opened).
#[cfg(not(feature = "studio"))]
fn no_studio<T>(_unused: &T) -> anyhow::Error {
    anyhow::anyhow!(
        "this build has no studio window (built with --no-default-features); rebuild with the default \
         `studio` feature for `studio` and `screenshot`"
    )
}

/// Parses `WIDTHxHEIGHT`.
pub fn parse_size(text: &str) -> anyhow::Result<(u32, u32)> {
    let parsed = text
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if (64..=8192).contains(&w) && (64..=8192).contains(&h) => Ok((w, h)),
        _ => bail!("--size must be WIDTHxHEIGHT with both in 64..=8192, e.g. 1280x720 (got `{text}`)"),
    }
}

/// `STEP:FX,FY,FZ[:STEPS]` as (step, a push of the base link).
pub fn parse_push(text: &str) -> anyhow::Result<(u64, crate::sim::Push)> {
    let bad = || anyhow::anyhow!("--push must be STEP:FX,FY,FZ[:STEPS], e.g. 40:80,0,0:3 (got `{text}`)");
    let mut parts = text.split(':');
    let step: u64 = parts.next().and_then(|s| s.trim().parse().ok()).ok_or_else(bad)?;
    let force: Vec<f32> = parts
        .next()
        .ok_or_else(bad)?
        .split(',')
        .map(|v| v.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let steps: u32 = match parts.next() {
        Some(s) => s.trim().parse().map_err(|_| bad())?,
        None => 3,
    };
    let force: [f32; 3] = force.try_into().map_err(|_| bad())?;
    if parts.next().is_some() || steps == 0 || force.iter().any(|f| !f.is_finite()) {
        return Err(bad());
    }
    Ok((step, crate::sim::Push { link: 0, force, at: None, steps }))
}

/// The scene a screenshot runs (its own, or the one a settings file records).
#[cfg(feature = "studio")]
fn screenshot_scene(args: &ScreenshotArgs) -> anyhow::Result<crate::scene::Scene> {
    let path = match &args.settings {
        Some(file) => crate::config::read_run_config(file)?.scene,
        None => args.scene.clone().unwrap_or_default(),
    };
    Ok(crate::scene::load_scene(&path)?)
}

/// `screenshot`: runs the studio for N control steps and saves the window.
pub fn screenshot(args: &ScreenshotArgs) -> anyhow::Result<()> {
    let size = parse_size(&args.size)?;
    let mode = studio_mode(args.mode, args.model)?;
    #[cfg(not(feature = "studio"))]
    return Err(no_studio(&(size, mode)));
    #[cfg(feature = "studio")]
    {
        for file in args.out.iter().chain(&args.video) {
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            }
            let _ = std::fs::remove_file(file); // a stale picture must not pass for a new one
        }
        let video = match &args.video {
            None => None,
            Some(path) => {
                crate::studio::video::VideoFormat::of(path)?;
                let fps = match args.fps {
                    Some(fps) => fps,
                    None => f64::from(screenshot_scene(args)?.physics.control_rate),
                };
                Some((path.clone(), fps))
            }
        };
        crate::studio::run(crate::studio::StudioOptions {
            scene: args.scene.clone().unwrap_or_default(),
            mode,
            seed: 0,
            recorded: args.settings.clone(),
            threads: 1,
            speed: 1.0,
            run_seconds: None,
            width: size.0,
            height: size.1,
            screenshot: Some(crate::studio::screenshot::ScreenshotPlan {
                steps: u64::from(args.steps),
                out: args.out.clone(),
                video,
                pushes: args.push.iter().map(|p| parse_push(p)).collect::<anyhow::Result<_>>()?,
                ab: match &args.ab {
                    None => None,
                    Some(name) => Some(crate::plan::preset_argument(name).with_context(|| format!("--ab {name}"))?),
                },
            }),
            max_fps: None,
            physics_debug: args.physics_debug,
        })?;
        for file in args.out.iter().chain(&args.video) {
            if !file.exists() {
                bail!("nothing was written to {} (is a display or xvfb-run available?)", file.display());
            }
        }
        Ok(())
    }
}
