//! Independent jobs (grid runs, evaluations of saved runs) on a few worker threads: taken in
//! order, results returned in order, no new job started after a failure. Each job owns its seeded
//! RNGs, so results do not depend on the number of workers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, anyhow};

/// Stack of a worker thread: the learners' call chains are deeper than the 2 MiB default allows
/// for comfortably.
const WORKER_STACK_BYTES: usize = 32 << 20;

/// Runs `job` on every item on `workers` threads named `name-K`; returns the results in item
/// order, or the first error in item order. After a failure no new job starts, and the items not
/// started report that.
pub fn on_workers<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    name: &str,
    job: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<R>>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|s| -> anyhow::Result<()> {
        for worker in 0..workers.clamp(1, items.len().max(1)) {
            let work = || {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(k) else { break };
                    let outcome = job(item);
                    if outcome.is_err() {
                        next.store(items.len(), Ordering::SeqCst);
                    }
                    results.lock().expect("no worker panics while holding the lock")[k] = Some(outcome);
                }
            };
            std::thread::Builder::new()
                .name(format!("{name}-{worker}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(s, work)
                .with_context(|| format!("cannot start a {name} worker thread"))?;
        }
        Ok(())
    })?;
    let results = results.into_inner().map_err(|_| anyhow!("a {name} worker panicked"))?;
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(anyhow!("not started after an earlier failure")))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_on_any_number_of_workers() {
        let items: Vec<u64> = (0..20).collect();
        for workers in [1, 2, 5, 40] {
            let squares = on_workers(&items, workers, "test", |&k| Ok(k * k)).unwrap();
            assert_eq!(squares, items.iter().map(|k| k * k).collect::<Vec<_>>(), "{workers} workers");
        }
        assert!(on_workers(&[] as &[u64], 3, "test", |&k| Ok(k)).unwrap().is_empty());
    }

    #[test]
    fn the_first_failure_in_item_order_is_returned_and_later_items_do_not_start() {
        let started = AtomicUsize::new(0);
        let items: Vec<u64> = (0..10).collect();
        let error = on_workers(&items, 1, "test", |&k| {
            started.fetch_add(1, Ordering::SeqCst);
            if k >= 3 { Err(anyhow!("item {k} failed")) } else { Ok(k) }
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "item 3 failed");
        assert_eq!(started.load(Ordering::SeqCst), 4, "one worker stops after the failure");
    }
}
