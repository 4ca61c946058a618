//! The current episode's timeline: per step the robot's pose, the drawn points, the plan made
//! there (its samples, for the 3D view) and, in MPC mode, the planner's state before that plan,
//! so that scrubbing shows step k as it was and "replay from here" continues from step k
//! exactly. Plans are the bulk of it: the oldest steps drop theirs beyond a memory budget.

use crate::plan::{PlanTrace, PlannerState};

/// Memory the kept plans may take (bytes); poses and planner states are always kept.
pub const TRACE_BUDGET_BYTES: usize = 256 << 20;

/// What the studio keeps of one step of the episode: the state before the step's action.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Every link's position and rotation (x, y, z, then the quaternion's x, y, z, w).
    pub poses: Vec<[f32; 7]>,
    /// The drawn sites' positions (feet, torso).
    pub points: Vec<[f32; 3]>,
    /// The plan that chose this step's action (dropped for old steps beyond the budget).
    pub trace: Option<PlanTrace>,
    /// The planner before it planned this step (MPC with the simulator only).
    pub planner: Option<Box<PlannerState>>,
}

/// The frames of the current episode and where the user looks.
#[derive(Debug)]
pub struct Timeline {
    frames: Vec<Frame>,
    trace_bytes: usize,
    /// Plans beyond this many bytes are dropped, oldest first.
    budget: usize,
    /// Frames before this one have dropped their plans.
    first_trace: usize,
    /// The step shown instead of the live one (None: live).
    pub cursor: Option<usize>,
}

/// Bytes a kept plan takes (its arrays; the struct itself is small).
pub fn trace_bytes(trace: &PlanTrace) -> usize {
    let floats = trace.sequences.len()
        + trace.scores.len()
        + trace.weights.len()
        + trace.mean_actions.len()
        + trace.std.len()
        + 3 * (trace.points.len() + trace.mean_points.len());
    floats * 4 + trace.elite.len() + trace.is_prior.len()
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::with_budget(TRACE_BUDGET_BYTES)
    }
}

impl Timeline {
    /// An empty timeline keeping at most `budget` bytes of plans.
    pub fn with_budget(budget: usize) -> Timeline {
        Timeline { frames: Vec::new(), trace_bytes: 0, budget, first_trace: 0, cursor: None }
    }

    /// Appends the next step's frame, dropping the oldest plans beyond the budget.
    pub fn push(&mut self, frame: Frame) {
        self.trace_bytes += frame.trace.as_ref().map_or(0, trace_bytes);
        self.frames.push(frame);
        while self.trace_bytes > self.budget && self.first_trace + 1 < self.frames.len() {
            let dropped = self.frames[self.first_trace].trace.take();
            self.trace_bytes -= dropped.as_ref().map_or(0, trace_bytes);
            self.first_trace += 1;
        }
    }

    /// A new episode.
    pub fn clear(&mut self) {
        *self = Timeline::with_budget(self.budget);
    }

    /// Keeps steps `0..k` (the episode continues from step k again).
    pub fn truncate(&mut self, k: usize) {
        self.frames.truncate(k);
        self.trace_bytes = self.frames.iter().filter_map(|f| f.trace.as_ref()).map(trace_bytes).sum();
        self.first_trace = self.first_trace.min(k);
        self.cursor = None;
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub fn frame(&self, k: usize) -> Option<&Frame> {
        self.frames.get(k)
    }

    /// The frame shown, if the user scrubbed away from the live step.
    pub fn shown(&self) -> Option<&Frame> {
        self.cursor.and_then(|k| self.frames.get(k))
    }

    /// Bytes of the kept plans.
    pub fn trace_bytes(&self) -> usize {
        self.trace_bytes
    }

    /// Approximate bytes of everything kept (plans, poses, points, planner states).
    pub fn bytes(&self) -> usize {
        let per_frame = |f: &Frame| {
            std::mem::size_of::<Frame>()
                + f.poses.len() * 28
                + f.points.len() * 12
                + f.planner.as_ref().map_or(0, |p| std::mem::size_of::<PlannerState>() + p.dist.mean().len() * 8)
        };
        self.trace_bytes + self.frames.iter().map(per_frame).sum::<usize>()
    }

    /// The first step whose plan is still kept.
    pub fn first_kept_plan(&self) -> usize {
        self.first_trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(samples: usize) -> Frame {
        let trace = PlanTrace { points: vec![[0.0; 3]; samples], scores: vec![0.0; samples], ..Default::default() };
        Frame { poses: vec![[0.0; 7]; 2], points: Vec::new(), trace: Some(trace), planner: None }
    }

    #[test]
    fn plans_beyond_the_budget_are_dropped_oldest_first_and_poses_stay() {
        let one = trace_bytes(frame(100).trace.as_ref().unwrap());
        assert_eq!(one, 100 * 12 + 100 * 4, "points (3 floats) and scores");
        let mut t = Timeline::with_budget(3 * one);
        for _ in 0..10 {
            t.push(frame(100));
            assert!(t.trace_bytes() <= 3 * one, "{} > budget", t.trace_bytes());
        }
        assert_eq!((t.len(), t.first_kept_plan(), t.trace_bytes()), (10, 7, 3 * one));
        assert!(t.frame(6).unwrap().trace.is_none() && t.frame(7).unwrap().trace.is_some());
        assert_eq!(t.frame(0).unwrap().poses.len(), 2, "poses are kept for every step");
        t.truncate(8);
        assert_eq!((t.len(), t.first_kept_plan(), t.trace_bytes()), (8, 7, one));
        t.cursor = Some(3);
        t.clear();
        assert!(t.is_empty() && t.cursor.is_none() && t.trace_bytes() == 0);
    }
}
