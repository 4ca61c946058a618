//! The facts `check` prints about a built robot: counts, total mass, base height at reset.

use super::env::Env;

/// A robot at its reset pose (seed 0, no noise beyond the task's).
#[derive(Clone, Debug, PartialEq)]
pub struct RobotSummary {
    pub links: usize,
    pub joints: usize,
    pub actuated: usize,
    /// Sum of the moving links' masses as simulated, kg.
    pub mass: f32,
    /// Height of the first free (jointless, unfixed) link's frame after reset, metres.
    pub base_height: Option<f32>,
}

impl RobotSummary {
    pub fn of(env: &Env) -> RobotSummary {
        let robot = env.robot();
        let bodies = &env.physics().bodies;
        let moving = robot.links.iter().filter(|l| !l.fixed);
        let mass = moving.map(|l| bodies[l.body].mass()).sum();
        let is_child = |name: &str| robot.joints.iter().any(|j| robot.links[j.child].name == name);
        let base = robot.links.iter().find(|l| !l.fixed && !is_child(&l.name));
        RobotSummary {
            links: robot.links.len(),
            joints: robot.joints.len(),
            actuated: robot.action_dim(),
            mass,
            base_height: base.map(|l| bodies[l.body].translation().y),
        }
    }
}

impl std::fmt::Display for RobotSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} links, {} joints ({} actuated), {:.3} kg", self.links, self.joints, self.actuated, self.mass)?;
        match self.base_height {
            Some(h) => write!(f, ", floating base at {h:.3} m"),
            None => write!(f, ", no floating base"),
        }
    }
}
