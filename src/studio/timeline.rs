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
#[derive(Debug, Default)]
pub struct Timeline {
    frames: Vec<Frame>,
    trace_bytes: usize,
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

impl Timeline {
    /// Appends the next step's frame, dropping the oldest plans beyond the budget.
    pub fn push(&mut self, frame: Frame) {
        self.trace_bytes += frame.trace.as_ref().map_or(0, trace_bytes);
        self.frames.push(frame);
        while self.trace_bytes > TRACE_BUDGET_BYTES && self.first_trace + 1 < self.frames.len() {
            let dropped = self.frames[self.first_trace].trace.take();
            self.trace_bytes -= dropped.as_ref().map_or(0, trace_bytes);
            self.first_trace += 1;
        }
    }

    /// A new episode.
    pub fn clear(&mut self) {
        *self = Timeline::default();
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
