//! What the service binaries (`metad`, `datad`) share around their library's `run`: logging set
//! up the same way, SIGINT/SIGTERM as the shutdown signal, and the runtime with conventional exit
//! codes. Their `main.rs` parse flags and call these.
//!
//! ```no_run
//! async fn run(shutdown: impl std::future::Future<Output = ()>) -> Result<(), std::io::Error> {
//!     shutdown.await;
//!     Ok(())
//! }
//! daemon::init_logging(false);
//! let code = daemon::block_on("example", run(daemon::shutdown_signal()));
//! # let _ = code;
//! ```

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Logs to stderr, as text or JSON lines; `RUST_LOG` filters (default `info`).
pub fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if json {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

/// Runs `service` on a multi-threaded runtime; an error is printed as `NAME: error` and exits 1.
pub fn block_on<E: Display>(name: &str, service: impl Future<Output = Result<(), E>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the service");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown requested");
}
