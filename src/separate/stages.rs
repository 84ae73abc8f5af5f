//! Where an extraction's wall time goes, stage by stage (for `saex extract --timings` and the
//! benchmarks).

use std::time::{Duration, Instant};

/// Busy time of each stage of one run. The stages run at once on their own threads (each may
/// use several threads inside), so their sum may exceed the run's wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Reading and decoding the input.
    pub decode: Duration,
    /// Resampling to the model's rate and back.
    pub resample: Duration,
    /// The forward STFT.
    pub stft: Duration,
    /// Magnitudes and context stacking: building the network's input.
    pub features: Duration,
    /// The networks' forward passes, copies to and from the device included.
    pub network: Duration,
    /// Masks and masked spectra.
    pub mask: Duration,
    /// The inverse STFT.
    pub istft: Duration,
    /// Encoding and writing the outputs (residual included).
    pub encode: Duration,
}

impl StageTimes {
    /// Every stage with its name, in pipeline order.
    pub fn stages(&self) -> [(&'static str, Duration); 8] {
        [
            ("decode", self.decode),
            ("resample", self.resample),
            ("stft", self.stft),
            ("features", self.features),
            ("network", self.network),
            ("mask", self.mask),
            ("istft", self.istft),
            ("encode", self.encode),
        ]
    }

    /// The sum over the stages.
    pub fn total(&self) -> Duration {
        self.stages().iter().map(|(_, d)| *d).sum()
    }
}

impl std::ops::AddAssign for StageTimes {
    fn add_assign(&mut self, other: StageTimes) {
        self.decode += other.decode;
        self.resample += other.resample;
        self.stft += other.stft;
        self.features += other.features;
        self.network += other.network;
        self.mask += other.mask;
        self.istft += other.istft;
        self.encode += other.encode;
    }
}

/// Runs `f`, adding its wall time to `slot`.
pub(crate) fn timed<T>(slot: &mut Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    *slot += start.elapsed();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_adds_up_and_total_sums_the_stages() {
        let mut times = StageTimes::default();
        let value = timed(&mut times.network, || {
            std::thread::sleep(Duration::from_millis(5));
            7
        });
        assert_eq!(value, 7);
        assert!(times.network >= Duration::from_millis(5));
        times.decode = Duration::from_millis(2);
        assert_eq!(times.total(), times.network + Duration::from_millis(2));
        assert_eq!(times.stages()[4].0, "network");
    }
}
