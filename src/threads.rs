//! How a separation run shares the cores between LibTorch, which runs the network, and rayon,
//! which runs the STFT, features, masks and inverse STFT around it.
//!
//! The engine's stages run at once: while the network computes one batch, rayon's pool works on
//! the batches before and after it. With every core given to each, both are busy together and
//! twice as many threads as cores are runnable; LibTorch's OpenMP threads then wait at every
//! parallel region's barrier for a thread that the kernel has descheduled in favour of a rayon
//! worker (16 cores reached 0.39 of linear batch scaling that way). So the cores are split
//! instead: each file in flight runs its network on a few LibTorch threads, and the rayon pool,
//! shared by all files, gets the rest.

use crate::error::{Error, Result};

/// The split of a run's cores between the networks and the rayon pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadPlan {
    /// Files separated at once.
    pub jobs: usize,
    /// LibTorch (intra-op) threads per file, for its network.
    pub network: usize,
    /// Threads of the rayon pool that all files share.
    pub pool: usize,
}

impl ThreadPlan {
    /// - `cores` (>= 1): the cores the run may use in all;
    /// - `jobs` (>= 1): files separated at once;
    /// - `network` (1 ..= `cores`): LibTorch threads per file; by default half of each file's
    ///   share of the cores (on the CPU path the network is about half of a file's CPU time),
    ///   at least 1, and 1 when `on_gpu` (then LibTorch's CPU threads only run small host
    ///   operations).
    ///
    /// The pool gets the cores the networks leave, and at least one thread per file (up to
    /// `cores`): a network on one thread has no barrier to stall, so sharing a core with it
    /// costs only time slices.
    pub fn new(cores: usize, jobs: usize, network: Option<usize>, on_gpu: bool) -> Result<Self> {
        if cores == 0 || jobs == 0 {
            return Err(Error::Invalid(format!(
                "{cores} threads for {jobs} jobs: expected at least 1 of each"
            )));
        }
        let share = (cores / jobs).max(1);
        let network = match network {
            Some(n) if n == 0 || n > cores => {
                return Err(Error::Invalid(format!(
                    "{n} network threads: expected 1 ..= {cores} (the threads in all)"
                )))
            }
            Some(n) => n,
            None if on_gpu => 1,
            None => (share / 2).max(1),
        };
        let pool = cores.saturating_sub(jobs * network).max(jobs.min(cores));
        Ok(ThreadPlan {
            jobs,
            network,
            pool,
        })
    }

    /// Sizes rayon's global pool to `pool` threads and gives the calling thread's LibTorch
    /// `network` threads (LibTorch's thread count is per thread: threads that run networks
    /// elsewhere set it themselves, as [`crate::batch::BatchJob::run_parallel`] does).
    ///
    /// Process-wide, so once, before any rayon work: it fails if rayon's pool already exists.
    pub fn apply(&self) -> Result<()> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.pool)
            .build_global()
            .map_err(|e| Error::Invalid(format!("cannot size rayon's thread pool: {e}")))?;
        tch::set_num_threads(self.network as i32);
        Ok(())
    }

    /// The cores this process may run on (its CPU affinity, e.g. under `taskset`).
    pub fn available_cores() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cores_are_split_without_oversubscribing() {
        // (cores, jobs) -> (network per job, pool)
        for (cores, jobs, network, pool) in [
            (1, 1, 1, 1),
            (2, 1, 1, 1),
            (4, 1, 2, 2),
            (16, 1, 8, 8),
            (16, 4, 2, 8),
            (16, 8, 1, 8),
            (16, 16, 1, 16),
            (4, 8, 1, 4),
        ] {
            let plan = ThreadPlan::new(cores, jobs, None, false).unwrap();
            assert_eq!(
                (plan.network, plan.pool),
                (network, pool),
                "{cores} cores, {jobs} jobs"
            );
            // Never more threads than cores once the networks use more than one each.
            if plan.network > 1 {
                assert!(jobs * plan.network + plan.pool <= cores, "{plan:?}");
            }
        }
    }

    #[test]
    fn gpu_runs_and_explicit_counts() {
        let plan = ThreadPlan::new(16, 4, None, true).unwrap();
        assert_eq!((plan.network, plan.pool), (1, 12));
        let plan = ThreadPlan::new(16, 1, Some(12), false).unwrap();
        assert_eq!((plan.network, plan.pool), (12, 4));
        let plan = ThreadPlan::new(16, 2, Some(16), false).unwrap();
        assert_eq!(plan.pool, 2);
        for (cores, jobs, network) in [(0, 1, None), (4, 0, None), (4, 1, Some(0)), (4, 1, Some(5))]
        {
            let err = ThreadPlan::new(cores, jobs, network, false).unwrap_err();
            assert!(err.to_string().contains("expected"), "{err}");
        }
    }
}
