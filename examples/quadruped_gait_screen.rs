//! Screens open-loop trots on the quadruped without planning (docs/RESULTS.md, "planning around a
//! trot"): diagonal legs in phase, a sinusoidal hip swing and a knee lift on the swing half, over
//! a grid of periods and amplitudes; prints the 25 best full episodes from seed 0 with their
//! reward terms. `cargo run --release --example quadruped_gait_screen`

use std::f32::consts::TAU;
use std::path::Path;

use demorl_studio::scene::load_scene;
use demorl_studio::sim::Env;

/// Cycle offset of each leg (fl, fr, bl, br): diagonal pairs move together.
const TROT: [f32; 4] = [0.0, 0.5, 0.5, 0.0];

struct Gait {
    period: f32,
    hip: f32,
    knee: f32,
}

impl Gait {
    /// Hip `hip · sin φ`; knee bent by `knee · max(cos φ, 0)` while the foot swings forward.
    fn action(&self, step: u32) -> [f32; 8] {
        let mut a = [0.0; 8];
        for (leg, offset) in TROT.iter().enumerate() {
            let phase = TAU * (step as f32 / self.period + offset);
            a[2 * leg] = self.hip * phase.sin();
            a[2 * leg + 1] = -self.knee * phase.cos().max(0.0);
        }
        a
    }
}

fn main() -> anyhow::Result<()> {
    let scene = load_scene(Path::new("scenes/quadruped.ron")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut env = Env::new(&scene);
    let mut results = Vec::new();
    for period in [8.0, 10.0, 12.0, 16.0, 20.0] {
        for hip in [0.1, 0.2, 0.3] {
            for knee in [0.0, 0.15, 0.3, 0.45] {
                let gait = Gait { period, hip, knee };
                env.reset(0);
                let (mut episode_return, mut terms) = (0.0f32, vec![0.0f32; env.reward_terms().len()]);
                for step in 0..scene.task.episode_steps {
                    let outcome = env.step(&gait.action(step));
                    episode_return += outcome.reward;
                    terms.iter_mut().zip(env.weighted_reward_terms()).for_each(|(sum, r)| *sum += r);
                    if outcome.done() {
                        break;
                    }
                }
                let terms: Vec<String> = terms.iter().map(|t| format!("{t:.0}")).collect();
                let line = format!(
                    "period {period:>4} hip {hip:.2} knee {knee:.2}: return {episode_return:7.1} after {} steps; terms [{}]",
                    env.steps(),
                    terms.join(", ")
                );
                results.push((episode_return, line));
            }
        }
    }
    results.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, line) in results.iter().take(25) {
        println!("{line}");
    }
    Ok(())
}
