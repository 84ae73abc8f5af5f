//! The worker's scheduling: on a loaded machine an ordinary thread waits behind every other
//! runnable one (a busy loop, a build) and misses its hop although a hop costs well under a
//! millisecond. The worker asks for real-time scheduling when the system permits it, or at
//! least a higher priority, and says what it got.

use std::fmt;

/// What the calling thread got from [`raise_current_thread`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// `SCHED_FIFO` at this priority: ahead of every ordinary thread.
    RealTime(i32),
    /// Ordinary scheduling at this nice value (lower is sooner).
    Nice(i32),
    /// Nothing was permitted: ordinary scheduling as it was.
    Unchanged,
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Priority::RealTime(p) => write!(f, "real-time scheduling (SCHED_FIFO {p})"),
            Priority::Nice(n) => write!(f, "nice {n} (real-time scheduling not permitted)"),
            Priority::Unchanged => write!(
                f,
                "ordinary scheduling (neither real-time scheduling nor a higher priority \
                 permitted: a loaded machine may make hops late)"
            ),
        }
    }
}

/// The `SCHED_FIFO` priority asked for: above every ordinary thread, below the priorities
/// JACK gives its own real-time threads (70 and up by default), which must come first.
const FIFO_PRIORITY: i32 = 10;
/// The nice value asked for when real-time scheduling is not permitted.
const NICE: i32 = -10;

/// Raises the calling thread's scheduling priority as far as permitted (see [`Priority`]).
pub fn raise_current_thread() -> Priority {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread with valid arguments.
        unsafe {
            let param = libc::sched_param {
                sched_priority: FIFO_PRIORITY,
            };
            if libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0 {
                return Priority::RealTime(FIFO_PRIORITY);
            }
            let tid = libc::gettid() as libc::id_t;
            if libc::setpriority(libc::PRIO_PROCESS, tid, NICE) == 0 {
                return Priority::Nice(NICE);
            }
        }
    }
    Priority::Unchanged
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The thread really runs as reported: real-time at the priority asked for, or at the nice
    /// value, or as before.
    #[test]
    fn the_priority_reported_is_the_threads() {
        std::thread::spawn(|| {
            let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as _) };
            let got = raise_current_thread();
            let (mut policy, mut param) = (0, libc::sched_param { sched_priority: 0 });
            assert_eq!(
                unsafe {
                    libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param)
                },
                0
            );
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as _) };
            match got {
                Priority::RealTime(p) => {
                    assert_eq!((policy, param.sched_priority), (libc::SCHED_FIFO, p))
                }
                Priority::Nice(n) => assert_eq!((policy, nice), (libc::SCHED_OTHER, n)),
                Priority::Unchanged => assert_eq!((policy, nice), (libc::SCHED_OTHER, before)),
            }
        })
        .join()
        .unwrap();
    }
}
