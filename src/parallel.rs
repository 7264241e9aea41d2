//! Independent pieces of work (one environment's overlay, one file of `out/`) spread over the
//! cores there are, with the results in input order: what a render writes, and which error it
//! reports first, never depend on the threads' timing.
//!
//! Plain scoped threads (`std::thread::scope`) rather than a pool crate: a render makes a few
//! such maps, each over tens to thousands of items; the items are taken one at a time from a
//! shared counter, so a core that another process slows down takes fewer of them. A thread is
//! only started when the work left is worth it (see [`WORTH_A_THREAD`]), so a small checkout
//! renders on one thread as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long the calling thread works alone before it estimates the work left from its pace.
const SAMPLE: Duration = Duration::from_micros(300);

/// The least work (estimated) worth another thread. Starting one costs tens of µs, and its
/// allocator heap (mimalloc's, per thread) first touches fresh memory: a 2 MiB huge page takes
/// about 1.5 ms to zero on this VM. Below this a warm render of the repository (3 environments)
/// started threads for nothing: 9.8 -> 11.8 ms CPU, 16 -> 22 MB peak RSS.
const WORTH_A_THREAD: Duration = Duration::from_millis(3);

/// `mi_option_purge_delay`, the option the `o4g` binary and the render bench set to -1 (no
/// purging): a map's threads end when it is done, and with purging their heaps went back to
/// the OS, so the next map's threads faulted and zeroed fresh huge pages again (see
/// `src/main.rs`). Its index in mimalloc v2's `mi_option_e` (libmimalloc-sys 0.1.49
/// `c_src/mimalloc/v2/include/mimalloc.h:411`); the crate names only some options.
pub const MIMALLOC_PURGE_DELAY: std::ffi::c_int = 15;

/// How many threads [`map`] may use: [`std::thread::available_parallelism`] (the CPUs this
/// process may run on, its affinity and cgroup quota included), at least 1.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `f` applied to every item, on up to [`threads`] threads (the calling one included) when
/// the work is large enough, the results in the order of `items`. A panic in `f` is raised
/// again here.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_on(threads, items, f)
}

/// [`map`] for work that can fail: every result in the order of `items`, or the error of the
/// first item in that order that failed, the error a loop over them would return.
pub fn try_map<T: Sync, R: Send, E: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    map(items, f).into_iter().collect()
}

/// [`map`] on at most `threads()` threads, asked only when the work is worth a thread (the
/// standard library reads the cgroup's CPU quota each time: ~40 µs here).
fn map_on<T: Sync, R: Send>(
    threads: impl FnOnce() -> usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    map_sampled(threads, SAMPLE, items, f)
}

/// [`map_on`] with the calling thread working alone for `sample` first.
fn map_sampled<T: Sync, R: Send>(
    threads: impl FnOnce() -> usize,
    sample: Duration,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    // Takes items from the shared counter until none is left or, if given, the time is up:
    // the time is looked at after each item, so at least one is done whenever one is left.
    let work = |until: Option<Instant>| {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                break;
            };
            done.push((i, f(item)));
            if until.is_some_and(|t| Instant::now() >= t) {
                break;
            }
        }
        done
    };
    let start = Instant::now();
    let mut all = work(Some(start + sample));
    let left = items.len().saturating_sub(all.len());
    if left > 0 {
        // At least one item was done (`work` looks at the time after an item).
        let estimate = start.elapsed().mul_f64(left as f64 / all.len() as f64);
        let helpers = if estimate < WORTH_A_THREAD {
            0
        } else {
            threads().min(left).saturating_sub(1)
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..helpers).map(|_| s.spawn(|| work(None))).collect();
            all.extend(work(None));
            for h in handles {
                all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
        });
    }
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, r) in all {
        slots[i] = Some(r);
    }
    // Every index below `items.len()` was taken exactly once.
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index is written out: it must sit between the two options the crate names around
    /// it, or a new mimalloc has moved it.
    #[test]
    fn the_purge_delay_option_sits_between_its_named_neighbours() {
        assert_eq!(
            MIMALLOC_PURGE_DELAY,
            libmimalloc_sys::mi_option_eager_commit_delay + 1
        );
        assert_eq!(
            MIMALLOC_PURGE_DELAY + 1,
            libmimalloc_sys::mi_option_use_numa_nodes
        );
    }

    /// The calling thread can lose its core between taking the time and its first item (a
    /// loaded machine): the sample then ends with nothing done, and the estimate of the work
    /// left divided by zero (a panic in `Duration::mul_f64`, seen in the suite under load).
    #[test]
    fn a_sample_that_ends_before_its_first_item_still_does_the_work() {
        let items: Vec<u32> = (0..100).collect();
        let out = map_sampled(|| 2, Duration::ZERO, &items, |i| i + 1);
        assert_eq!(out, (1..=100).collect::<Vec<_>>());
    }

    #[test]
    fn results_keep_the_input_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..64).collect();
        for threads in [1, 2, 3, 8] {
            let out = map_on(
                || threads,
                &items,
                |i| {
                    // Early items take longest, so later ones finish first on other threads.
                    std::thread::sleep(std::time::Duration::from_micros((64 - i) * 20));
                    i * 2
                },
            );
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn every_item_is_done_once_on_several_threads() {
        let items: Vec<usize> = (0..1000).collect();
        let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
        let ids = std::sync::Mutex::new(std::collections::HashSet::new());
        let out = map_on(
            || 4,
            &items,
            |i| {
                assert!(seen.lock().unwrap().insert(*i), "{i} done twice");
                ids.lock().unwrap().insert(std::thread::current().id());
                std::thread::sleep(std::time::Duration::from_micros(50));
                *i
            },
        );
        assert_eq!(out, items);
        assert!(ids.lock().unwrap().len() > 1, "ran on one thread only");
    }

    #[test]
    fn the_first_error_in_input_order_is_returned() {
        let items: Vec<u64> = (0..50).collect();
        let fails = |i: &u64| {
            // The later failure finishes first.
            std::thread::sleep(std::time::Duration::from_micros(if *i == 7 {
                2000
            } else {
                10
            }));
            if *i == 7 || *i == 40 {
                Err(format!("item {i}"))
            } else {
                Ok(*i)
            }
        };
        let out: Result<Vec<u64>, String> = map_on(|| 2, &items, fails).into_iter().collect();
        assert_eq!(out, Err("item 7".to_string()));
        assert_eq!(try_map(&items, |i| Ok::<_, ()>(*i)), Ok(items.clone()));
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..20).collect();
        let caught = std::panic::catch_unwind(|| {
            map_on(
                || 2,
                &items,
                |i| {
                    assert!(*i != 13, "item 13");
                    *i
                },
            )
        });
        assert!(caught.is_err());
    }

    #[test]
    fn little_work_stays_on_the_calling_thread() {
        let items: Vec<u32> = (0..100).collect();
        let me = std::thread::current().id();
        let out = map_on(
            || 8,
            &items,
            |i| {
                assert_eq!(std::thread::current().id(), me);
                i + 1
            },
        );
        assert_eq!(out, (1..=100).collect::<Vec<_>>());
    }

    #[test]
    fn no_items_no_threads() {
        let none: Vec<u8> = Vec::new();
        assert!(map(&none, |_| -> u8 { unreachable!() }).is_empty());
    }
}
