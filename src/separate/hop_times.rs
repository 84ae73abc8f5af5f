//! Per-hop compute time of the low-latency mode: what each hop costs against its duration.

use std::sync::Mutex;
use std::time::Duration;

/// The time each hop took, recorded while a low-latency separation runs (shareable, so a live
/// readout can look while it runs).
#[derive(Debug, Default)]
pub struct HopTimes {
    /// Per hop: (wall time, CPU time of the thread that computed it).
    hops: Mutex<Vec<(Duration, Duration)>>,
}

/// Statistics of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HopSummary {
    pub count: usize,
    pub median: Duration,
    /// The 99th percentile (nearest rank).
    pub p99: Duration,
    pub max: Duration,
}

impl HopTimes {
    pub(crate) fn record(&self, wall: Duration, cpu: Duration) {
        self.lock().push((wall, cpu));
    }

    /// Each hop's wall time: from its input block in hand to its output written and flushed.
    pub fn wall(&self) -> Vec<Duration> {
        self.lock().iter().map(|h| h.0).collect()
    }

    /// Each hop's CPU time on the thread that computed it (the network included when LibTorch
    /// runs on one thread): its cost whatever else the machine runs.
    pub fn cpu(&self) -> Vec<Duration> {
        self.lock().iter().map(|h| h.1).collect()
    }

    /// Hops recorded so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Duration, Duration)>> {
        // Times recorded before a panic elsewhere are still worth reading.
        self.hops.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Median, 99th percentile (nearest rank) and maximum of `times`; `None` when empty.
pub fn summarize(times: &[Duration]) -> Option<HopSummary> {
    if times.is_empty() {
        return None;
    }
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let rank = |q: f64| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(HopSummary {
        count: n,
        median: rank(0.5),
        p99: rank(0.99),
        max: sorted[n - 1],
    })
}

/// CPU time of the calling thread so far.
pub(crate) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the pointer given, which lives on this stack.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if ok {
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let ms = Duration::from_millis;
        let times: Vec<Duration> = (1..=200).rev().map(ms).collect();
        let s = summarize(&times).unwrap();
        assert_eq!(
            (s.count, s.median, s.p99, s.max),
            (200, ms(100), ms(198), ms(200))
        );
        assert!(summarize(&[]).is_none());
        let hops = HopTimes::default();
        hops.record(ms(3), ms(2));
        assert_eq!(
            (hops.wall(), hops.cpu(), hops.len()),
            (vec![ms(3)], vec![ms(2)], 1)
        );
    }

    #[test]
    fn thread_cpu_time_counts_work_not_sleep() {
        let start = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(30));
        let slept = thread_cpu_time() - start;
        let mut x = 0u64;
        let busy = std::time::Instant::now();
        while busy.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let worked = thread_cpu_time() - start - slept;
        assert!(slept < Duration::from_millis(10), "{slept:?} while asleep");
        assert!(worked > Duration::from_millis(1), "{worked:?} while busy");
    }
}
