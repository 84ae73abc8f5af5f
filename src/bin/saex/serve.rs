//! `saex serve`: the local web page.

use clap::Args;
use saex::serve::{serve, ServeOptions};
use saex::ThreadPlan;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Serve a local web page: drop songs on it, choose models, hear each stem (solo, mute, A/B at
/// the same position), see the spectrograms and download the stems. It listens on this machine
/// only (127.0.0.1) unless --bind says otherwise; uploads and results stay in a private
/// temporary folder, removed after --keep-minutes and when the server stops (Ctrl-C).
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  saex serve                              (then open http://127.0.0.1:8080/)
  saex serve --port 9000 --models my-models/
  saex serve --bind 0.0.0.0 --max-upload-mb 100   (reachable from the network: a warning says so)")]
pub struct ServeArgs {
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The address to listen on; anything but a loopback address lets other machines upload.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    bind: IpAddr,
    /// A folder of model folders (each with config.json) offered beside the shipped models;
    /// repeatable.
    #[arg(long, value_name = "DIR")]
    models: Vec<PathBuf>,
    /// The largest upload accepted, in MiB (larger ones get 413).
    #[arg(long, default_value_t = 200, value_name = "MB")]
    max_upload_mb: u64,
    /// Jobs that may wait for the worker (one runs at a time); more are refused with 503.
    #[arg(long, default_value_t = 16, value_name = "N")]
    queue: usize,
    /// Minutes a finished job's files are kept before they are removed.
    #[arg(long, default_value_t = 60, value_name = "MINUTES")]
    keep_minutes: u64,
    /// Where the network runs: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Cores to use (default: every core this process may run on).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let device = saex::parse_device(&args.device)?;
    if args.queue == 0 {
        anyhow::bail!("--queue 0: at least one job must be able to wait");
    }
    if args.max_upload_mb == 0 {
        anyhow::bail!("--max-upload-mb 0: no file could be uploaded");
    }
    let cores = args.threads.unwrap_or_else(ThreadPlan::available_cores);
    let plan = ThreadPlan::new(cores, 1, None, device.is_cuda())?;
    plan.apply()?;
    let options = ServeOptions {
        bind: args.bind,
        port: args.port,
        model_dirs: args.models.clone(),
        max_upload: args.max_upload_mb << 20,
        queue_len: args.queue,
        keep: Duration::from_secs(args.keep_minutes.saturating_mul(60)),
        device,
        network_threads: plan.network,
    };
    if !args.bind.is_loopback() {
        eprintln!(
            "saex: warning: listening on {}: anyone who can reach this machine can upload files \
             and use its processors; use --bind 127.0.0.1 for this machine only",
            args.bind
        );
    }
    serve(&options, stop_signal(), |ready| {
        for warning in &ready.warnings {
            eprintln!("saex: warning: {warning}");
        }
        eprintln!(
            "saex: {} model(s); uploads and results in {} (removed on exit)",
            ready.nb_models,
            ready.temp_dir.display()
        );
        // The address on standard output, for scripts (and tests) to read; a closed stdout
        // must not stop the server (SIGPIPE stays ignored here).
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "saex: serving on http://{}/ (Ctrl-C to stop)",
            ready.address
        );
        let _ = out.flush();
    })?;
    eprintln!("saex: stopped; the temporary folder is removed");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hangup = signal(SignalKind::hangup()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = received(term.as_mut()) => {}
        _ = received(hangup.as_mut()) => {}
    }
    eprintln!("saex: stopping the server");
}

/// Resolves when `signal` arrives; never when it could not be installed.
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
