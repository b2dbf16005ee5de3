//! The restore's work queue. Each table is created, its data files are
//! loaded, and its deferred indexes and foreign keys are added as soon as
//! its last file is in, while other tables still load: index builds
//! overlap loading instead of all waiting for the slowest table.
//!
//! Order among ready jobs: creates first (they are quick and unblock the
//! loads), then index builds (each one completes a table), then data
//! files, largest first across every table so the long ones do not start
//! last. A worker with nothing ready waits, in short bounded steps that
//! watch for Ctrl-C and for another worker's failure, until a job it
//! depends on ends.

use anyhow::Result;
use oxkit::entry::Cancel;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// One unit of restore work, by table index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    /// Create table `t`.
    Create(usize),
    /// Load data file `i` of table `t`.
    Chunk(usize, usize),
    /// Add table `t`'s deferred indexes and foreign keys.
    Index(usize),
}

/// What the queue knows of a table: its data files' sizes and whether
/// anything is added after them.
pub struct Unit {
    /// Stored size of each data file, in file order.
    pub chunks: Vec<u64>,
    /// The table has deferred indexes or foreign keys.
    pub deferred: bool,
}

/// Heap key: class (create 3, index 2, chunk 1), size, then the lowest
/// table and file first.
type Key = (u8, u64, Reverse<(usize, usize)>, Job);

struct State {
    ready: BinaryHeap<Key>,
    /// Data files of each table not loaded yet.
    left: Vec<usize>,
    running: usize,
    failed: bool,
}

/// The queue for one group of tables.
pub struct Schedule {
    units: Vec<Unit>,
    state: Mutex<State>,
    wake: Condvar,
}

fn key(units: &[Unit], job: Job) -> Key {
    match job {
        Job::Create(t) => (3, 0, Reverse((t, 0)), job),
        Job::Index(t) => (2, 0, Reverse((t, 0)), job),
        Job::Chunk(t, i) => (1, units[t].chunks[i], Reverse((t, i)), job),
    }
}

impl Schedule {
    /// A queue with every table's create ready.
    pub fn new(units: Vec<Unit>) -> Schedule {
        let ready = (0..units.len())
            .map(|t| key(&units, Job::Create(t)))
            .collect();
        let left = units.iter().map(|u| u.chunks.len()).collect();
        Schedule {
            units,
            state: Mutex::new(State {
                ready,
                left,
                running: 0,
                failed: false,
            }),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next job; `None` when every job has ended or one failed.
    /// Waits while jobs that others run are all that is left.
    pub fn next(&self, cancel: &Cancel) -> Result<Option<Job>> {
        let mut s = self.lock();
        loop {
            cancel.check()?;
            if s.failed {
                return Ok(None);
            }
            if let Some(k) = s.ready.pop() {
                s.running += 1;
                return Ok(Some(k.3));
            }
            if s.running == 0 {
                return Ok(None);
            }
            s = self
                .wake
                .wait_timeout(s, Duration::from_millis(200))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Marks `job` ended (`ok` false: failed, and nothing more starts);
    /// makes ready what it unblocks.
    pub fn done(&self, job: Job, ok: bool) {
        let mut s = self.lock();
        s.running -= 1;
        if !ok {
            s.failed = true;
        } else {
            let mut unblocked = Vec::new();
            match job {
                Job::Create(t) => {
                    unblocked.extend((0..self.units[t].chunks.len()).map(|i| Job::Chunk(t, i)));
                    if self.units[t].chunks.is_empty() && self.units[t].deferred {
                        unblocked.push(Job::Index(t));
                    }
                }
                Job::Chunk(t, _) => {
                    s.left[t] -= 1;
                    if s.left[t] == 0 && self.units[t].deferred {
                        unblocked.push(Job::Index(t));
                    }
                }
                Job::Index(_) => {}
            }
            for j in unblocked {
                s.ready.push(key(&self.units, j));
            }
        }
        drop(s);
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &Schedule) -> Vec<Job> {
        let mut order = Vec::new();
        while let Some(j) = s.next(&Cancel::new()).expect("no cancel") {
            order.push(j);
            s.done(j, true);
        }
        order
    }

    #[test]
    fn creates_then_indexes_as_tables_complete_then_largest_files() {
        let s = Schedule::new(vec![
            Unit {
                chunks: vec![10, 50],
                deferred: true,
            },
            Unit {
                chunks: vec![30],
                deferred: false,
            },
            Unit {
                chunks: vec![],
                deferred: true,
            },
        ]);
        assert_eq!(
            drain(&s),
            vec![
                Job::Create(0),
                Job::Create(1),
                Job::Create(2),
                Job::Index(2),
                Job::Chunk(0, 1),
                Job::Chunk(1, 0),
                Job::Chunk(0, 0),
                Job::Index(0),
            ]
        );
    }

    #[test]
    fn a_failure_stops_the_queue_and_cancel_is_an_error() {
        let s = Schedule::new(vec![
            Unit {
                chunks: vec![1, 2],
                deferred: true,
            },
            Unit {
                chunks: vec![3],
                deferred: true,
            },
        ]);
        let j = s.next(&Cancel::new()).expect("ok").expect("a job");
        s.done(j, false);
        assert_eq!(s.next(&Cancel::new()).expect("ok"), None);
        let c = Cancel::new();
        c.cancel();
        let s = Schedule::new(vec![Unit {
            chunks: vec![1],
            deferred: false,
        }]);
        assert!(s.next(&c).is_err());
    }

    #[test]
    fn a_worker_waits_for_the_job_that_unblocks_it() {
        let s = Schedule::new(vec![Unit {
            chunks: vec![1],
            deferred: true,
        }]);
        let create = s.next(&Cancel::new()).expect("ok").expect("create");
        std::thread::scope(|sc| {
            let h = sc.spawn(|| s.next(&Cancel::new()).expect("ok"));
            std::thread::sleep(Duration::from_millis(300));
            s.done(create, true);
            assert_eq!(h.join().expect("joins"), Some(Job::Chunk(0, 0)));
        });
    }
}
