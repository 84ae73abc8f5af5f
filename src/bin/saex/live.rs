//! `saex live`: an audio input through the low-latency separation to an audio output (cpal:
//! ALSA or JACK), with a readout of the compute per hop and of underruns.

use crate::common::ModelArgs;
use clap::Args;
use std::process::ExitCode;

/// Separate live: from an audio input to an audio output in real time (ALSA or JACK), playing
/// the target, the residual (karaoke) or a mix of both. The delay from input to output is the
/// model's algorithmic latency (58 ms for the shipped vocals and bass models, 81 ms for drums)
/// plus the device buffers; saex states it. Needs a build with `--features live`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  saex live --list-devices
  saex live --keep accompaniment            (karaoke: the mix minus the vocals)
  saex live --keep vocals=0.2,accompaniment=1 --buffer 256
  saex live --host jack --model bass --seconds 60")]
pub struct LiveArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Audio host: alsa or jack (default: the system's default, ALSA on Linux).
    #[arg(long, value_name = "alsa|jack")]
    host: Option<String>,
    /// List the hosts and their devices (ids for --input-device and --output-device) and exit.
    #[arg(long)]
    list_devices: bool,
    /// Input device id, as --list-devices prints it (default: the host's default input).
    #[arg(long, value_name = "ID")]
    input_device: Option<String>,
    /// Output device id (default: the host's default output).
    #[arg(long, value_name = "ID")]
    output_device: Option<String>,
    /// Frames per device buffer (default: the device's choice; the delay assumes 1024). Under
    /// JACK, the server's period (another size is refused); the delay is stated for it.
    #[arg(long, value_name = "FRAMES")]
    buffer: Option<u32>,
    /// Sample rate of both streams (default: the model's, 44100 Hz for the shipped models;
    /// another rate is resampled in and out, which adds latency).
    #[arg(long, value_name = "HZ")]
    rate: Option<u32>,
    /// What to play: targets and the residual (accompaniment) with a gain each, e.g.
    /// vocals=0.2,accompaniment=1 (default: the first target alone).
    #[arg(long, value_name = "NAME=GAIN,...")]
    keep: Option<String>,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// No readout, only the summary at the end, errors and warnings.
    #[arg(long, short)]
    quiet: bool,
}

#[cfg(not(feature = "live"))]
pub fn run(_args: LiveArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "this saex was built without audio I/O: build it with `cargo build --release --features \
         live` (which needs the ALSA and JACK development files: apt-get install libasound2-dev \
         libjack-jackd2-dev); `saex extract --mix - --out - --latency low` separates a pipe live \
         without it"
    )
}

#[cfg(feature = "live")]
pub fn run(args: LiveArgs) -> anyhow::Result<ExitCode> {
    devices::run(args)
}

#[cfg(feature = "live")]
mod devices {
    use super::*;
    use crate::common::stop_on_ctrl_c;
    use anyhow::{bail, Context};
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    use saex::live::{
        raise_current_thread, stated_buffer, Bridge, BridgeSizes, Keep, LiveStats, Priority,
    };
    use saex::separate::{summarize, Latency};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    pub fn run(args: LiveArgs) -> anyhow::Result<ExitCode> {
        if args.list_devices {
            list_devices();
            return Ok(ExitCode::SUCCESS);
        }
        // One frame's products are too small to share out: the network runs on the worker.
        tch::set_num_threads(1);
        let separator = args.model.separator()?.with_latency(Latency::Low)?;
        let targets = separator.targets();
        let keep = match &args.keep {
            Some(spec) => Keep::parse(spec, &targets)?,
            None => Keep::first_target(targets.len()),
        };
        let host = host(args.host.as_deref())?;
        let input = device(&host, args.input_device.as_deref(), true)?;
        let output = device(&host, args.output_device.as_deref(), false)?;
        let nb_in = input
            .default_input_config()
            .context("the input device has no input configuration")?
            .channels();
        let nb_out = output
            .default_output_config()
            .context("the output device has no output configuration")?
            .channels();
        let model_rate = separator.sample_rate();
        let rate = args.rate.unwrap_or(model_rate);
        let buffer_size = match args.buffer {
            Some(frames) => cpal::BufferSize::Fixed(frames),
            None => cpal::BufferSize::Default,
        };
        let at_rate = |n: usize| (n as u64 * rate as u64).div_ceil(model_rate as u64) as usize;
        let block = at_rate(separator.hop()).max(1);
        let algorithmic = at_rate(separator.algorithmic_latency());
        let (latency, resampling) = separator.stream_latency(rate)?;
        // JACK runs at its server's period whatever is asked: state the delay for it.
        let host_range = |config: Result<cpal::SupportedStreamConfig, _>| match config
            .ok()
            .map(|c| *c.buffer_size())
        {
            Some(cpal::SupportedBufferSize::Range { min, max }) => Some((min, max)),
            _ => None,
        };
        let buffer = stated_buffer(args.buffer, host_range(input.default_input_config())).max(
            stated_buffer(args.buffer, host_range(output.default_output_config())),
        );
        // Input and output buffers, and a hop of jitter for the worker.
        let delay = latency + 2 * buffer + block;
        let sizes = BridgeSizes {
            nb_in: nb_in as usize,
            nb_out: nb_out as usize,
            block,
            delay,
            slack: rate as usize / 2,
        };
        let Bridge {
            input: mut input_end,
            output: mut output_end,
            mut worker,
            stats,
        } = Bridge::new(keep, sizes)?;
        let stop = stop_on_ctrl_c("")?;
        let name = |d: &cpal::Device| d.id().map_or("?".to_string(), |id| id.to_string());
        if !args.quiet {
            eprintln!(
                "saex: live from {} ({nb_in} ch) to {} ({nb_out} ch) at {rate} Hz, playing {}",
                name(&input),
                name(&output),
                args.keep.as_deref().unwrap_or(targets[0])
            );
            let ms = |frames: usize| 1000.0 * frames as f64 / rate as f64;
            eprintln!(
                "saex: delay {delay} frames = {:.1} ms: algorithmic latency {:.1} ms, {}two \
                 buffers of {buffer} frames and a hop",
                ms(delay),
                ms(algorithmic),
                if resampling > 0 {
                    format!(
                        "resampling to the model's {model_rate} Hz and back up to {:.1} ms, ",
                        ms(resampling)
                    )
                } else {
                    String::new()
                }
            );
        }
        let config = |channels| cpal::StreamConfig {
            channels,
            sample_rate: rate,
            buffer_size,
        };
        let hop_ms = 1000.0 * block as f64 / rate as f64;
        let worker_stats = Arc::clone(&stats);
        let quiet = args.quiet;
        let worker = std::thread::spawn(move || -> saex::Result<()> {
            // Ahead of the other runnable threads of a loaded machine, where permitted.
            match raise_current_thread() {
                Priority::Unchanged => eprintln!(
                    "saex: warning: the worker runs with {}",
                    Priority::Unchanged
                ),
                got if !quiet => eprintln!("saex: the worker runs with {got}"),
                _ => {}
            }
            let result = separator
                .hop_processor(rate, nb_in as usize)
                .and_then(|mut processor| worker.run(&mut processor));
            // The main loop ends when the worker does.
            worker_stats.stop.store(true, Ordering::SeqCst);
            result
        });
        let streams = (|| -> anyhow::Result<_> {
            let input_stream = input
                .build_input_stream(
                    config(nb_in),
                    move |data: &[f32], _: &cpal::InputCallbackInfo| input_end.push(data),
                    |e| eprintln!("saex: input stream: {e}"),
                    None,
                )
                .with_context(|| format!("cannot open the input {} at {rate} Hz", name(&input)))?;
            let output_stream = output
                .build_output_stream(
                    config(nb_out),
                    move |data: &mut [f32], _: &cpal::OutputCallbackInfo| output_end.pop(data),
                    |e| eprintln!("saex: output stream: {e}"),
                    None,
                )
                .with_context(|| {
                    format!("cannot open the output {} at {rate} Hz", name(&output))
                })?;
            input_stream.play()?;
            output_stream.play()?;
            Ok((input_stream, output_stream))
        })();
        let started = Instant::now();
        let mut seen = 0;
        if streams.is_ok() {
            while !stats.stop.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                if args
                    .seconds
                    .is_some_and(|s| started.elapsed().as_secs_f64() >= s)
                {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
                if !args.quiet {
                    let wall = stats.hops.wall();
                    eprintln!(
                        "saex: {:5.0} s  {}",
                        started.elapsed().as_secs_f64(),
                        readout(&stats, &wall[seen.min(wall.len())..], hop_ms)
                    );
                    seen = wall.len();
                }
            }
        }
        stats.stop.store(true, Ordering::SeqCst);
        let opened = streams.map(drop); // closes both streams
        let worked = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        opened?;
        worked?;
        eprintln!(
            "saex: live for {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            readout(&stats, &stats.hops.wall(), hop_ms)
        );
        if let Some(cpu) = summarize(&stats.hops.cpu()) {
            eprintln!(
                "saex: CPU per hop: median {:.2} ms, 99th percentile {:.2} ms, max {:.2} ms",
                ms(cpu.median),
                ms(cpu.p99),
                ms(cpu.max)
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    fn ms(d: Duration) -> f64 {
        1000.0 * d.as_secs_f64()
    }

    /// Compute per hop over `wall` against the hop (late: longer than a hop), and the underrun
    /// and overrun counts.
    fn readout(stats: &LiveStats, wall: &[Duration], hop_ms: f64) -> String {
        let late = wall.iter().filter(|w| ms(**w) > hop_ms).count();
        let compute = match summarize(wall) {
            Some(s) => format!(
                "{} hops, {late} late, compute per hop median {:.2} ms, 99th percentile {:.2} ms, \
                 max {:.2} ms ({:.0} % of the {hop_ms:.1} ms hop at its max)",
                s.count,
                ms(s.median),
                ms(s.p99),
                ms(s.max),
                100.0 * ms(s.max) / hop_ms
            ),
            None => "no hop yet".to_string(),
        };
        format!(
            "{compute}; underruns {} ({} frames), overruns {} frames",
            stats.underruns.load(Ordering::Relaxed),
            stats.underrun_frames.load(Ordering::Relaxed),
            stats.overrun_frames.load(Ordering::Relaxed)
        )
    }

    /// The host named (alsa, jack) or the default one.
    fn host(name: Option<&str>) -> anyhow::Result<cpal::Host> {
        let Some(name) = name else {
            return Ok(cpal::default_host());
        };
        let available = cpal::available_hosts();
        match available
            .iter()
            .find(|id| id.name().eq_ignore_ascii_case(name))
        {
            Some(id) => Ok(cpal::host_from_id(*id)?),
            None => bail!(
                "no audio host {name:?} here; available: {}",
                available
                    .iter()
                    .map(|id| id.name().to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The device `id` of `host`, or its default input (`input`) or output.
    fn device(host: &cpal::Host, id: Option<&str>, input: bool) -> anyhow::Result<cpal::Device> {
        let what = if input { "input" } else { "output" };
        let found = match id {
            Some(id) => {
                let parsed = id.parse().map_err(|e| {
                    anyhow::anyhow!("--{what}-device {id}: not a device id ({e:?})")
                })?;
                host.device_by_id(&parsed)
            }
            None if input => host.default_input_device(),
            None => host.default_output_device(),
        };
        found.with_context(|| {
            format!(
                "no {what} device {}: saex live --list-devices lists them",
                id.unwrap_or("(the default)")
            )
        })
    }

    /// Every host, its devices and their default configurations.
    fn list_devices() {
        for id in cpal::available_hosts() {
            println!("host {}", id.name().to_lowercase());
            let Ok(host) = cpal::host_from_id(id) else {
                println!("  (unavailable)");
                continue;
            };
            let Ok(devices) = host.devices() else {
                println!("  (no devices)");
                continue;
            };
            for device in devices {
                let name = device.id().map_or("?".to_string(), |id| id.to_string());
                let describe = |config: Result<cpal::SupportedStreamConfig, _>| match config {
                    Ok(c) => format!("{} ch, {} Hz", c.channels(), c.sample_rate()),
                    Err(_) => "-".to_string(),
                };
                println!(
                    "  {name}\n    input: {}\n    output: {}",
                    describe(device.default_input_config()),
                    describe(device.default_output_config())
                );
            }
        }
    }
}
