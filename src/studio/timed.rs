//! Timed runs (`studio --seconds S`): close after S wall seconds and print frame time,
//! real-time factor and env steps/s, for docs/BENCHMARKS.md.

use bevy::app::AppExit;
use bevy::prelude::*;

use super::experiment::Experiment;

/// Wall time, frames and steps counted since the first frame.
#[derive(Resource, Debug)]
pub struct TimedRun {
    seconds: f64,
    started: Option<(std::time::Instant, u64, f64)>,
    frames: u64,
}

impl TimedRun {
    pub fn new(seconds: f64) -> TimedRun {
        TimedRun { seconds, started: None, frames: 0 }
    }
}

pub struct TimedRunPlugin;

impl Plugin for TimedRunPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Last, count_and_exit);
    }
}

fn count_and_exit(mut run: ResMut<TimedRun>, experiment: Res<Experiment>, mut exit: MessageWriter<AppExit>) {
    let now = std::time::Instant::now();
    let Some((start, start_steps, start_sim)) = run.started else {
        // Measure from the first frame, after start-up (pipelines compiled, window open).
        run.started = Some((now, experiment.history.env_steps, experiment.history.sim_time));
        return;
    };
    run.frames += 1;
    let wall = now.duration_since(start).as_secs_f64();
    if wall < run.seconds {
        return;
    }
    let steps = experiment.history.env_steps - start_steps;
    let simulated = experiment.history.sim_time - start_sim;
    let learning = &experiment.history.learning;
    let learned = if experiment.run.mode.is_learning() {
        let last_eval = learning.evals.last().map_or(f64::NAN, |r| r.eval_return_mean);
        format!(
            ", {} SAC updates, {} model fits, mean learn {:.1} ms/step, last eval return {last_eval:.1}",
            learning.updates,
            learning.model_fits.len(),
            learning.step_ms.iter().map(|t| t[2]).sum::<f64>() / learning.step_ms.len().max(1) as f64,
        )
    } else {
        String::new()
    };
    println!(
        "studio ({}) {:.1} s: {} frames, {:.1} ms/frame ({:.1} fps), {} env steps ({:.1} steps/s), real-time factor {:.2}, mean plan {:.1} ms{learned}",
        experiment.run.mode,
        wall,
        run.frames,
        1e3 * wall / run.frames.max(1) as f64,
        run.frames as f64 / wall,
        steps,
        steps as f64 / wall,
        simulated / wall,
        experiment.history.metrics.plan_ms.iter().sum::<f64>() / experiment.history.metrics.plan_ms.len().max(1) as f64,
    );
    let timeline = &experiment.history.timeline;
    println!(
        "timeline: {} steps of the episode kept, {:.1} MB ({:.1} MB of plans, kept from step {}; budget {} MB)",
        timeline.len(),
        timeline.bytes() as f64 / 1e6,
        timeline.trace_bytes() as f64 / 1e6,
        timeline.first_kept_plan(),
        super::timeline::TRACE_BUDGET_BYTES >> 20,
    );
    exit.write(AppExit::Success);
}
