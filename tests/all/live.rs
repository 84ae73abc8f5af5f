//! The low-latency mode (`--latency low`): the batched engine's samples, hop by hop, through
//! the library and the pipe path, and the refusals of what needs the future.

use crate::common::{on_path, saex, skip, tones, write_tones, Setup};
use saex::separate::{
    ComputePath, Estimator, EstimatorSpec, Latency, MaskKind, SeparateOptions, Separator,
};
use saex::StftConfig;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tch::{Device, Tensor};

/// A fixed non-linear map of each row alone (a product and a ReLU of the centre and the last
/// frame), so that its output does not depend on how rows are batched.
struct RowWise(EstimatorSpec);

impl Estimator for RowWise {
    fn spec(&self) -> &EstimatorSpec {
        &self.0
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn estimate(&self, input: &Tensor) -> saex::Result<Tensor> {
        let (c, l, n) = (
            self.0.context as i64,
            self.0.nb_bins_in as i64,
            self.0.nb_bins as i64,
        );
        let centre = input.narrow(1, c * l, n);
        let last = input.narrow(1, 2 * c * l, n);
        Ok((&centre * 0.7 - &last * 0.2).relu() + centre.sqrt() * 0.01)
    }
}

fn row_wise(target: &str, sample_rate: u32, context: usize) -> Box<dyn Estimator> {
    Box::new(RowWise(EstimatorSpec {
        target: target.into(),
        sample_rate,
        stft: StftConfig::new(256, 64).unwrap(),
        context,
        context_stride: 1,
        nb_bins_in: 70,
        nb_bins: 60,
    }))
}

/// Row by row, the low-latency mode computes exactly what the batched engine computes: the
/// same samples bit for bit, for both masks, two targets, the residual and resampling. (It
/// runs the CPU path's signal processing, whatever the compute path says.)
#[test]
fn low_latency_gives_the_batched_samples_exactly() {
    let mix = tones(22050, 2, 9_001);
    for (mask, model_rate) in [
        (MaskKind::Wiener, 22050),
        (MaskKind::Ratio, 22050),
        (MaskKind::Wiener, 16000),
    ] {
        let run = |latency| {
            let options = SeparateOptions {
                mask,
                path: ComputePath::Cpu,
                batch_frames: 48,
                block_frames: 2000,
                ..SeparateOptions::default()
            };
            let models = vec![
                row_wise("vocals", model_rate, 3),
                row_wise("bass", model_rate, 1),
            ];
            Separator::new(models, options)
                .unwrap()
                .with_latency(latency)
                .unwrap()
                .separate(&mix)
                .unwrap()
        };
        let (batch, low) = (run(Latency::Batch), run(Latency::Low));
        let case = format!("{mask:?}, model at {model_rate} Hz");
        for ((name, a), (_, b)) in batch.targets.iter().zip(&low.targets) {
            assert_eq!(a.nb_frames(), 9_001, "{case} {name}");
            assert!(a == b, "{case}: {name} differs");
        }
        assert!(
            batch.residual == low.residual,
            "{case}: the residual differs"
        );
    }
}

/// The stated stream latency bounds what the hop processor holds back: at the models' rate the
/// algorithmic latency alone, at another rate that plus the resamplers' waits. Pushing one
/// sample at a time, the input is never ahead of the output by more, and is by at least 70 %
/// of it (the two resamplers' worst waits do not fall on the same sample: 76 to 92 % here).
#[test]
fn the_stream_latency_counts_the_resamplers() {
    let separator = Separator::new(
        vec![row_wise("vocals", 16000, 2)],
        SeparateOptions {
            path: ComputePath::Cpu,
            ..SeparateOptions::default()
        },
    )
    .unwrap();
    let algorithmic = separator.algorithmic_latency();
    assert_eq!(separator.stream_latency(16000).unwrap(), (algorithmic, 0));
    for rate in [44100, 22050, 48000] {
        let (total, resampling) = separator.stream_latency(rate).unwrap();
        let into = saex::audio::StreamResampler::new(rate, 16000, 1)
            .unwrap()
            .latency();
        let back = saex::audio::StreamResampler::new(16000, rate, 1)
            .unwrap()
            .latency();
        let at_rate = |n: usize| (n as u64 * rate as u64).div_ceil(16000) as usize;
        assert_eq!(resampling, into + at_rate(back), "{rate} Hz");
        assert_eq!(total, at_rate(algorithmic) + resampling, "{rate} Hz");
        let mix = tones(rate, 2, 3 * total + 4000);
        let mut processor = separator.hop_processor(rate, 2).unwrap();
        let (mut emitted, mut most_behind) = (0, 0);
        for n in 0..mix.nb_frames() {
            let block: Vec<Vec<f32>> = mix.channels.iter().map(|c| vec![c[n]]).collect();
            emitted += processor.push(&block).unwrap().len();
            most_behind = most_behind.max(n + 1 - emitted);
        }
        assert!(
            most_behind <= total,
            "{rate} Hz: held back {most_behind} > {total}"
        );
        assert!(
            10 * most_behind >= 7 * total,
            "{rate} Hz: held back at most {most_behind}, stated {total}"
        );
    }
}

#[test]
fn the_wiener_filter_is_refused_in_low_latency() {
    let options = SeparateOptions {
        niter: 1,
        ..SeparateOptions::default()
    };
    let err = Separator::new(vec![row_wise("vocals", 22050, 1)], options)
        .unwrap()
        .with_latency(Latency::Low)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("cannot run the multichannel Wiener filter"),
        "{err}"
    );
}

/// Little-endian f32 samples.
fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// With a trained network (the tiny model) the CLI's low-latency output equals the batched one
/// within float rounding (the network's products for one row may round otherwise than for a
/// batch), and it states its latency from the model's config: n_fft 256 + C 1 x hop 64.
#[test]
fn low_latency_cli_matches_batch_and_states_its_latency() {
    let setup = Setup::new();
    let mix = setup.path("mix.wav");
    write_tones(&mix, 22050, 2, 22050);
    let run = |latency: &str, out: &str| {
        let out = setup.path(out);
        let mut cmd = saex();
        cmd.args(["extract", "--device", "cpu", "--raw", "--format", "float"])
            .arg("--model")
            .arg(setup.path("vocals"))
            .arg("--mix")
            .arg(&mix)
            .arg("--out")
            .arg(&out)
            .args(["--latency", latency]);
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        (
            floats(&std::fs::read(out).unwrap()),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (batch, _) = run("batch", "batch.raw");
    let (low, stderr) = run("low", "low.raw");
    assert!(
        stderr.contains("algorithmic latency 320 samples at 22050 Hz = 14.5 ms"),
        "{stderr}"
    );
    assert_eq!(batch.len(), 2 * 22050);
    assert_eq!(low.len(), batch.len());
    let peak = batch.iter().fold(0.0f32, |p, x| p.max(x.abs()));
    let err = batch
        .iter()
        .zip(&low)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(peak > 1e-3, "the tiny model's output is silent: {peak}");
    assert!(err <= 1e-5 * peak, "max difference {err}, peak {peak}");
}

/// The pipe path streams: with the input still open, the output of everything read but the
/// last `latency` samples has already come out of standard output; then it ends with the
/// file mode's samples.
#[test]
fn the_pipe_path_streams_hop_by_hop() {
    let setup = Setup::new();
    let mix = setup.path("mix.wav");
    write_tones(&mix, 22050, 2, 2 * 22050);
    let wav = std::fs::read(&mix).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_saex"))
        .args(["extract", "--quiet", "--device", "cpu", "--raw"])
        .args([
            "--format",
            "float",
            "--latency",
            "low",
            "--mix",
            "-",
            "--out",
            "-",
        ])
        .arg("--model")
        .arg(setup.path("vocals"))
        .env_remove("SAEX_MODELS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    all.extend_from_slice(&buf[..n]);
                    tx.send(all.len()).ok();
                }
            }
        }
        all
    });
    // The header and the first second (2 channels of 16-bit samples).
    let header = wav.windows(4).position(|w| w == b"data").unwrap() + 8;
    let half = header + 22050 * 4;
    stdin.write_all(&wav[..half]).unwrap();
    stdin.flush().unwrap();
    let expected = (22050 - 320) * 2 * 4;
    let start = Instant::now();
    let mut got = 0;
    while got < expected && start.elapsed() < Duration::from_secs(30) {
        if let Ok(n) = rx.recv_timeout(Duration::from_millis(100)) {
            got = n;
        }
    }
    assert!(
        got >= expected,
        "with 1 s of input in and the pipe open, {got} bytes came out, expected {expected}"
    );
    stdin.write_all(&wav[half..]).unwrap();
    drop(stdin);
    let streamed = reader.join().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let file = setup.path("low.raw");
    let output = saex()
        .args(["extract", "--quiet", "--device", "cpu", "--raw"])
        .args(["--format", "float", "--latency", "low", "--mix"])
        .arg(&mix)
        .arg("--out")
        .arg(&file)
        .arg("--model")
        .arg(setup.path("vocals"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(streamed == std::fs::read(&file).unwrap());
}

#[test]
fn what_needs_the_future_is_refused_with_low_latency() {
    let setup = Setup::new();
    let mix = setup.path("mix.wav");
    write_tones(&mix, 22050, 1, 4000);
    for (flags, message) in [
        (
            &["--niter", "1"][..],
            "error: the low-latency mode cannot run the multichannel Wiener filter (niter 1)",
        ),
        (
            &["--clip", "rescale"][..],
            "error: --latency low cannot --clip rescale",
        ),
    ] {
        let output = setup
            .extract(&mix, &setup.path("out.wav"))
            .args(["--latency", "low"])
            .args(flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert!(!setup.path("out.wav").exists());
    }
    let output = setup
        .extract(&mix, &setup.path("out.wav"))
        .args(["--latency", "fast"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("expected batch or low"), "{stderr}");
}

/// Driven block by block through the library (as a live audio loop does), in blocks of any
/// size, the processor gives the batched samples, ending at the input's exact length.
#[test]
fn the_hop_processor_gives_the_batched_samples_in_any_blocks() {
    let mix = tones(22050, 2, 7_777);
    let options = SeparateOptions {
        batch_frames: 64,
        ..SeparateOptions::default()
    };
    let separator = Separator::new(
        vec![row_wise("vocals", 16000, 2), row_wise("bass", 16000, 1)],
        options,
    )
    .unwrap();
    let batch = separator.separate(&mix).unwrap();
    let mut processor = separator.hop_processor(22050, 2).unwrap();
    let mut targets = vec![vec![Vec::new(); 2]; 2];
    let mut residual = vec![Vec::new(); 2];
    let mut keep = |out: saex::separate::HopOutput| {
        for (all, part) in targets.iter_mut().zip(out.targets) {
            for (a, p) in all.iter_mut().zip(part) {
                a.extend(p);
            }
        }
        for (a, p) in residual.iter_mut().zip(out.residual) {
            a.extend(p);
        }
    };
    let mut at = 0;
    for size in [1usize, 100, 777, 3, 2048].iter().cycle() {
        let end = (at + size).min(7_777);
        let block: Vec<Vec<f32>> = mix.channels.iter().map(|c| c[at..end].to_vec()).collect();
        keep(processor.push(&block).unwrap());
        at = end;
        if at == 7_777 {
            break;
        }
    }
    keep(processor.finish().unwrap());
    for ((name, b), t) in batch.targets.iter().zip(&targets) {
        assert!(&b.channels == t, "{name} differs");
    }
    assert!(batch.residual.channels == residual, "the residual differs");
    assert!(processor.push(&[vec![0.0], vec![0.0]]).is_err());
}

/// A headless JACK server with its dummy driver (no sound hardware), stopped with SIGTERM when
/// dropped.
///
/// JACK keeps at most 8 servers in a registry in shared memory; a server that is killed
/// outright leaves its entry behind, and once 8 are left no server starts ("Too many servers
/// already active"). So the server is stopped so that it deregisters, and its name comes from a
/// small fixed set: jackd reclaims a dead server's entry of the same name.
#[cfg(feature = "live")]
struct DummyJack {
    child: std::process::Child,
    name: String,
}

#[cfg(feature = "live")]
enum JackStart {
    Running(DummyJack),
    /// The registry is full of other servers' entries: the machine, not saex, is at fault.
    RegistryFull(String),
}

#[cfg(feature = "live")]
impl DummyJack {
    /// Starts one at 22050 Hz in periods of 256 with 2 inputs and 2 outputs, waiting until
    /// clients can connect (`jack_wait`). Panics with jackd's messages if none starts.
    fn start(
        jackd: &std::path::Path,
        jack_wait: &std::path::Path,
        log_dir: &std::path::Path,
    ) -> JackStart {
        let mut last_log = String::new();
        for slot in 0..8 {
            let name = format!("saex-test-{slot}");
            let log_path = log_dir.join(format!("jackd-{slot}.log"));
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Command::new(jackd)
                .args([
                    "--no-realtime",
                    "-n",
                    &name,
                    "-d",
                    "dummy",
                    "-r",
                    "22050",
                    "-p",
                    "256",
                ])
                .args(["-C", "2", "-P", "2"])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            let ready = loop {
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                let check = Command::new(jack_wait)
                    .args(["-s", &name, "-c"])
                    .stderr(Stdio::null())
                    .output()
                    .unwrap();
                let running = String::from_utf8_lossy(&check.stdout).trim() == "running";
                if running && child.try_wait().unwrap().is_none() {
                    break true;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break false;
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            if ready {
                return JackStart::Running(DummyJack { child, name });
            }
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if last_log.contains("Too many servers already active") {
                return JackStart::RegistryFull(last_log);
            }
            // Otherwise most likely a live server of this name (another test run): next name.
        }
        panic!("jackd -d dummy did not start under any of 8 names; its last messages:\n{last_log}");
    }
}

#[cfg(feature = "live")]
impl Drop for DummyJack {
    fn drop(&mut self) {
        let stopped = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while stopped && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `saex live` through a headless JACK server with its dummy driver (no sound hardware): it
/// opens both streams, separates in real time for 3 s, reads out and ends with its hop count,
/// compute per hop, underruns and overruns. Skipped, saying so, where jackd is not installed
/// or JACK's registry of servers is already full of others.
#[cfg(feature = "live")]
#[test]
fn saex_live_runs_through_a_dummy_jack_server() {
    let test = "live::saex_live_runs_through_a_dummy_jack_server";
    let (Some(jackd), Some(jack_wait)) = (on_path(&["jackd"]), on_path(&["jack_wait"])) else {
        // scripts/setup-audio.sh installs jackd2 where it builds saex live.
        skip(test, "no jackd (apt-get install jackd2)", true);
        return;
    };
    let setup = Setup::new();
    let jack = match DummyJack::start(&jackd, &jack_wait, setup.dir.path()) {
        JackStart::Running(jack) => jack,
        JackStart::RegistryFull(log) => {
            skip(
                test,
                &format!(
                    "JACK's registry holds 8 servers already (entries of killed servers stay \
                     until the registry /dev/shm/jack-shm-registry is removed while no jackd \
                     runs):\n{log}"
                ),
                false,
            );
            return;
        }
    };
    let output = saex()
        .args([
            "live",
            "--host",
            "jack",
            "--device",
            "cpu",
            "--seconds",
            "3",
        ])
        .args(["--keep", "vocals=0.5,accompaniment=1", "--rate", "22050"])
        .arg("--model")
        .arg(setup.path("vocals"))
        .env("JACK_DEFAULT_SERVER", &jack.name)
        .output()
        .unwrap();
    drop(jack);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("algorithmic latency 14.5 ms"), "{stderr}");
    // The delay is stated for the server's period (256), not an assumed 1024.
    assert!(stderr.contains("two buffers of 256 frames"), "{stderr}");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("saex: live for"))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    let hops: usize = summary
        .split(": ")
        .nth(2)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no hop count: {summary}"));
    // 3 s at 22050 Hz in hops of 64 is about a thousand; a loaded machine may do far fewer
    // (they are counted as underruns), but some must have gone through.
    assert!(hops > 10, "{summary}");
    assert!(summary.contains("underruns "), "{summary}");
}

/// Built without the `live` feature, `saex live` says how to get it and fails cleanly.
#[cfg(not(feature = "live"))]
#[test]
fn saex_live_without_the_feature_says_how_to_build_it() {
    let output = saex().args(["live", "--seconds", "1"]).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "built without audio I/O: build it with `cargo build --release --features live`"
        ),
        "{stderr}"
    );
}
