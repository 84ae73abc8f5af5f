//! `saex serve`: a local web page to drop songs on, hear and see their stems. An axum server on
//! a tokio runtime answers the page (`routes`); uploads and results live in a private
//! temporary folder (`jobs`), removed after the keep time and when the server stops; one
//! worker thread runs the separations through the library.

mod jobs;
mod models;
mod page;
mod routes;

use crate::error::{Error, Result};
use std::future::IntoFuture;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on: 127.0.0.1 (this machine only) unless told otherwise.
    pub bind: IpAddr,
    /// 0: any free port (the address is reported to `on_ready`).
    pub port: u16,
    /// Folders of model folders offered beside the shipped models.
    pub model_dirs: Vec<PathBuf>,
    /// The largest upload, in bytes.
    pub max_upload: u64,
    /// Jobs that may wait for the worker; more are refused with 503.
    pub queue_len: usize,
    /// How long a finished job's files are kept.
    pub keep: Duration,
    /// Where the networks run.
    pub device: tch::Device,
    /// LibTorch threads of the worker.
    pub network_threads: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            model_dirs: Vec::new(),
            max_upload: 200 << 20,
            queue_len: 16,
            keep: Duration::from_secs(3600),
            device: tch::Device::Cpu,
            network_threads: 1,
        }
    }
}

/// What the server says as it starts: where it listens, its temporary folder, and any warning
/// about the models found.
pub struct Ready {
    pub address: SocketAddr,
    pub temp_dir: PathBuf,
    pub warnings: Vec<String>,
    pub nb_models: usize,
}

/// Serves until `shutdown` resolves (the binary passes Ctrl-C / SIGTERM), then cancels the
/// jobs, stops the worker and removes the temporary folder. `on_ready` is called once the
/// socket listens.
pub fn serve(
    options: &ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&Ready),
) -> Result<()> {
    let mut warnings = Vec::new();
    let catalog = models::Catalog::discover(&options.model_dirs, &mut warnings)?;
    if catalog.entries.is_empty() {
        return Err(Error::Invalid(
            "no models to offer: neither shipped models nor model folders under --models \
             (saex info shows where models are looked for)"
                .into(),
        ));
    }
    let (jobs, queue) = jobs::Jobs::new(options.queue_len, options.keep)
        .map_err(|e| Error::Invalid(format!("cannot make the server's temporary folder: {e}")))?;
    let temp_dir = jobs.root().to_path_buf();
    let state = Arc::new(routes::AppState {
        jobs,
        catalog,
        max_upload: options.max_upload,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (device, threads, stop) = (options.device, options.network_threads, Arc::clone(&stop));
        std::thread::Builder::new()
            .name("saex-serve-worker".into())
            .spawn(move || {
                tch::set_num_threads(threads as i32);
                jobs::run_worker(queue, device, stop)
            })
            .map_err(|e| Error::Invalid(format!("cannot start the worker thread: {e}")))?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the async runtime: {e}")))?;
    let address = SocketAddr::new(options.bind, options.port);
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| Error::Invalid(format!("cannot listen on {address}: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::Invalid(format!("cannot listen on {address}: {e}")))?;
        on_ready(&Ready {
            address,
            temp_dir: temp_dir.clone(),
            warnings,
            nb_models: state.catalog.entries.len(),
        });
        // Finished jobs expire in the background.
        let expiry = {
            let state = Arc::clone(&state);
            let period =
                (options.keep / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    state.jobs.expire();
                }
            })
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            axum::serve(listener, routes::router(Arc::clone(&state)))
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .into_future(),
        );
        shutdown.await;
        let _ = tx.send(());
        // Open connections get a moment to finish; a browser's idle keep-alive does not hold
        // the exit up.
        let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
        expiry.abort();
        Ok(())
    });
    stop.store(true, Ordering::SeqCst);
    state.jobs.cancel_all();
    let _ = worker.join();
    runtime.shutdown_timeout(Duration::from_secs(1));
    // The last holder: dropping the state removes the temporary folder.
    drop(state);
    if temp_dir.exists() {
        let _ = std::fs::remove_dir_all(&temp_dir);
    }
    result
}
