//! Driving a target: N concurrent clients, each looping one operation for a fixed window, with
//! every latency recorded in an HDR histogram.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;

/// Latencies (µs) and counts of one run.
pub(crate) struct Run {
    pub(crate) latencies: Histogram<u64>,
    pub(crate) errors: u64,
    pub(crate) elapsed: Duration,
}

impl Run {
    /// Acknowledged operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at quantile `q`, in milliseconds.
    pub(crate) fn ms(&self, q: f64) -> f64 {
        self.latencies.value_at_quantile(q) as f64 / 1000.0
    }

    /// One table row: ops/s, p50, p99, max (ms) and errors.
    pub(crate) fn line(&self, label: &str) -> String {
        format!(
            "{label:<32} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8}",
            self.rate(),
            self.ms(0.50),
            self.ms(0.99),
            self.latencies.max() as f64 / 1000.0,
            self.errors
        )
    }
}

/// The header of [`Run::line`] rows.
pub(crate) fn header() -> String {
    format!("{:<32} {:>10} {:>9} {:>9} {:>9} {:>8}", "run", "ops/s", "p50 ms", "p99 ms", "max ms", "errors")
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")
}

/// Runs `clients` loops of `op(client, i)` for `duration`; each returns whether it succeeded.
pub(crate) async fn drive<F, Fut>(clients: usize, duration: Duration, op: F) -> anyhow::Result<Run>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (op, stop, errors) = (Arc::clone(&op), Arc::clone(&stop), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let mut latencies = histogram()?;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                if op(client, i).await {
                    latencies.record(sent.elapsed().as_micros().max(1) as u64)?;
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    // The measured window itself, not synchronisation: clients run until it ends.
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = histogram()?;
    for task in tasks {
        latencies.add(task.await??)?;
    }
    Ok(Run { latencies, errors: errors.load(Ordering::Relaxed), elapsed: started.elapsed() })
}
