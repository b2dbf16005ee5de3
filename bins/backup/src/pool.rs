//! The one worker pool of the tool: a thread per worker (a connection, or
//! a copier), each pulling work until there is none; the first error stops
//! the others and is the one returned, and a signal stops them all at the
//! next unit of work. The logical backup's chunk writers, the restore's
//! loaders and index builders, verify's checksummers and the physical
//! copy's file copiers all run on it.

use anyhow::Result;
use oxkit::entry::Cancel;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Runs `work` on every worker at once, each in its own thread, until it
/// returns `Ok(None)` (no work left); returns every `Some` result. After
/// the first error, or once `cancel` is set, no worker starts another unit.
pub fn run<W: Send, R: Send>(
    workers: &mut [W],
    cancel: &Cancel,
    work: &(dyn Fn(&mut W) -> Result<Option<R>> + Sync),
) -> Result<Vec<R>> {
    let failed = AtomicBool::new(false);
    let results: Vec<Result<Vec<R>>> = std::thread::scope(|s| {
        let hs: Vec<_> = workers
            .iter_mut()
            .map(|w| {
                let failed = &failed;
                s.spawn(move || -> Result<Vec<R>> {
                    let mut out = Vec::new();
                    while !failed.load(Ordering::SeqCst) {
                        let r = cancel
                            .check()
                            .map_err(anyhow::Error::from)
                            .and_then(|()| work(w));
                        match r {
                            Ok(Some(v)) => out.push(v),
                            Ok(None) => break,
                            Err(e) => {
                                failed.store(true, Ordering::SeqCst);
                                return Err(e);
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::new();
    let mut first_err = None;
    for r in results {
        match r {
            Ok(v) => out.extend(v),
            Err(e) if first_err.is_none() => first_err = Some(e),
            Err(_) => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Runs `f` over `jobs` on `workers` (see [`run`]), in the order given.
pub fn each<W: Send, J: Send, R: Send>(
    workers: &mut [W],
    jobs: Vec<J>,
    cancel: &Cancel,
    f: &(dyn Fn(&mut W, J) -> Result<R> + Sync),
) -> Result<Vec<R>> {
    let queue = Mutex::new(VecDeque::from(jobs));
    run(workers, cancel, &|w| {
        let job = queue.lock().ok().and_then(|mut q| q.pop_front());
        job.map(|j| f(w, j)).transpose()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_once_and_the_first_error_wins() {
        let mut workers = vec![0u32; 3];
        let mut got = each(
            &mut workers,
            (1..=50).collect(),
            &Cancel::new(),
            &|w, j: u32| {
                *w += 1;
                Ok(j)
            },
        )
        .expect("runs");
        got.sort_unstable();
        assert_eq!(got, (1..=50).collect::<Vec<_>>());
        assert_eq!(workers.iter().sum::<u32>(), 50);

        let e = each(
            &mut workers,
            (1..=50).collect(),
            &Cancel::new(),
            &|_, j: u32| {
                if j == 7 {
                    anyhow::bail!("job 7 failed");
                }
                Ok(j)
            },
        )
        .expect_err("fails");
        assert_eq!(e.to_string(), "job 7 failed");

        let cancel = Cancel::new();
        cancel.cancel();
        let e = each(&mut workers, vec![1u32], &cancel, &|_, j| Ok(j)).expect_err("stops");
        assert!(e.downcast_ref::<oxkit::entry::Cancelled>().is_some(), "{e}");
    }
}
