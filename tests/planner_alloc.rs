//! After the first plan, planning again with the same shapes allocates nothing.

mod planner_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use demorl_studio::config::{Loss, PlannerSettings};
use demorl_studio::plan::{ActionMode, PlanOutput, Planner, PolicyPrior, TerminalValue};
use planner_common::Lqr;

/// Counts allocations per thread while tracking is on, so tests running in parallel
/// (and the harness) do not interfere.
struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    if TRACKING.try_with(|t| t.get()).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
    }
}

fn start_tracking() {
    ALLOCATIONS.with(|a| a.set(0));
    TRACKING.with(|t| t.set(true));
}

fn stop_tracking() {
    TRACKING.with(|t| t.set(false));
}

fn allocations() -> usize {
    ALLOCATIONS.with(|a| a.get())
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Prior;
impl PolicyPrior for Prior {
    fn propose(&mut self, _: usize, _: usize, _: usize, out: &mut Vec<f32>) {
        out.fill(0.1);
    }
}

struct Critic;
impl TerminalValue for Critic {
    fn values(&mut self, obs: &[f32], _: usize, _: &[f32], _: usize, out: &mut [f32]) {
        for (v, o) in out.iter_mut().zip(obs.chunks(2)) {
            *v = -o[0];
        }
    }
}

#[test]
fn steady_state_planning_does_not_allocate() {
    for loss in [Loss::Cem { elite_fraction: 0.1 }, Loss::Mppi { temperature: 1.0 }, Loss::ExpectedCost] {
        let s = PlannerSettings {
            horizon: 10,
            samples: 64,
            iterations: 4,
            loss,
            particles: 1,
            ..PlannerSettings::default()
        };
        let mut model = Lqr::standard();
        let mut planner = Planner::new(s, 1, 0).unwrap();
        let mut out = PlanOutput::default();
        let mut plan = |out: &mut PlanOutput| {
            planner.plan_into(&mut model, Some(&mut Prior), Some(&mut Critic), ActionMode::Training, out)
        };
        plan(&mut out);
        start_tracking();
        for _ in 0..3 {
            plan(&mut out);
        }
        stop_tracking();
        assert_eq!(allocations(), 0, "{loss:?}");
        assert_eq!(out.trace.iterations.len(), 4);
    }
}

#[test]
fn the_counter_sees_allocations() {
    let mut model = Lqr::standard();
    let mut planner = Planner::new(PlannerSettings::default(), 1, 0).unwrap();
    planner.plan(&mut model, None, None, ActionMode::Evaluation);
    start_tracking();
    // `plan` builds a fresh output, so it must allocate.
    let out = planner.plan(&mut model, None, None, ActionMode::Evaluation);
    stop_tracking();
    assert!(allocations() > 0);
    assert!(!out.trace.sequences.is_empty());
}
