//! Randomised fault schedules against a three-node `metad` cluster in Docker: partitions of the
//! leader (or a follower), loss of the quorum (two nodes cut off at once), `kill -9`, `docker pause` of the leader, restarts and rolling
//! restarts, all under load. Every schedule's history must be linearizable, keep every
//! acknowledged write, show no answer from a node cut off from its peers, and end with every
//! replica holding what linearizable reads return.
//!
//! It builds the image `metad:fault-suite` from the debug binaries (`cargo build --workspace
//! --bins`, which `make test` runs first) with `deploy/build-image.sh`, then runs 20 schedules
//! (about five minutes on two cores). Environment:
//!
//! - `FAULT_SCHEDULES=200 cargo test -p scenarios --test docker_faults -- --nocapture`: a longer series;
//! - `FAULT_SEED=0x... cargo test -p scenarios --test docker_faults -- --nocapture`: replays one schedule (every
//!   failure prints its seed and this command);
//! - `FAULT_BASE_SEED=0x...`: the seeds of a whole series; `FAULT_LOAD_SECS`: load per schedule
//!   (default 10).
//!
//! Without Docker the test says so loudly and passes, unless `CI=true`, where it fails.

use std::time::{Duration, Instant};

use fault_suite::{run_schedule, say, RunConfig, Schedule};

/// The image the suite builds from this workspace's debug binaries.
const IMAGE: &str = "metad:fault-suite";
/// Load per schedule unless `FAULT_LOAD_SECS` says otherwise.
const DEFAULT_LOAD: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_fault_schedules_keep_the_history_linearizable() {
    if !fault_suite::prepare("the Docker fault suite", IMAGE).await.expect("prepare the Docker test") {
        return;
    }
    let started = Instant::now();

    let (seeds, origin) = fault_suite::seeds_from_env().expect("valid FAULT_* variables");
    let load = std::env::var("FAULT_LOAD_SECS")
        .ok()
        .map(|s| Duration::from_secs(s.trim().parse().expect("FAULT_LOAD_SECS is a number of seconds")))
        .unwrap_or(DEFAULT_LOAD);
    let config = RunConfig::new(IMAGE);
    say!(
        "--- {origin}: {} clients on {} names, {:?} request timeout",
        config.load.clients,
        config.load.keys.len(),
        config.load.timeout
    );

    let mut failed = Vec::new();
    for (index, seed) in seeds.iter().enumerate() {
        let schedule = Schedule::generate(*seed, load);
        say!("--- schedule {}/{}: {schedule}", index + 1, seeds.len());
        let report = run_schedule(&config, &schedule).await;
        say!("{report}");
        if !report.passed() {
            say!("{}", report.logs);
            failed.push(format!("{:#x}: {}", schedule.seed, report.failures.join("; ")));
        }
    }
    // The failures are repeated here, after the nodes' logs, so that the end of the output
    // (often all a CI log keeps) says what went wrong, not only which seed.
    say!(
        "--- {} schedules in {:.0}s, {} failed{}",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        failed.len(),
        failed.iter().map(|f| format!("\n    seed {f}")).collect::<String>()
    );
    assert!(
        failed.is_empty(),
        "fault schedules failed:\n{}\nreplay one with FAULT_SEED=<seed> cargo test -p scenarios --test docker_faults -- --nocapture",
        failed.join("\n")
    );
}
