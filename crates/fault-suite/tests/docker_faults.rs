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
//! - `FAULT_SCHEDULES=200 cargo test -p fault-suite -- --nocapture`: a longer series;
//! - `FAULT_SEED=0x... cargo test -p fault-suite -- --nocapture`: replays one schedule (every
//!   failure prints its seed and this command);
//! - `FAULT_BASE_SEED=0x...`: the seeds of a whole series; `FAULT_LOAD_SECS`: load per schedule
//!   (default 10).
//!
//! Without Docker the test says so loudly and passes, unless `CI=true`, where it fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fault_suite::{run_schedule, RunConfig, Schedule};

/// The image the suite builds from this workspace's debug binaries.
const IMAGE: &str = "metad:fault-suite";
/// Load per schedule unless `FAULT_LOAD_SECS` says otherwise.
const DEFAULT_LOAD: Duration = Duration::from_secs(10);

/// `$CARGO_TARGET_DIR` of this build: this test binary is `<target>/debug/deps/<name>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target = exe.ancestors().nth(3).expect("<target>/debug/deps/<test>");
    for binary in ["metad", "metactl", "datad"] {
        let path = target.join("debug").join(binary);
        assert!(
            path.exists(),
            "{} is not built: run `cargo build --workspace --bins` (make test does)",
            path.display()
        );
    }
    target.to_owned()
}

/// `eprintln!` straight to the stderr stream: the test harness captures `eprintln!` of a passing
/// test, and a five-minute suite should show its progress and findings as it goes.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_fault_schedules_keep_the_history_linearizable() {
    if let Err(why) = fault_suite::available().await {
        assert!(!ci(), "CI=true and Docker is not available, so the fault suite cannot run: {why}");
        let rule = "!".repeat(100);
        say!("{rule}\nSKIPPED: Docker is not available ({why})\n  the Docker fault suite did not run\n{rule}");
        return;
    }
    let started = Instant::now();
    say!("--- build the image {IMAGE} from the debug binaries");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/build-image.sh");
    let built = fault_suite::build_image(&script, &target_dir(), IMAGE).await.expect("build the image");
    say!("{built}");
    fault_suite::remove_leftovers().await.expect("remove what dead runs left");

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
            failed.push(format!("{:#x}", schedule.seed));
        }
    }
    say!(
        "--- {} schedules in {:.0}s, {} failed{}",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        failed.len(),
        if failed.is_empty() { String::new() } else { format!(": seeds {}", failed.join(", ")) }
    );
    assert!(
        failed.is_empty(),
        "fault schedules failed (seeds {}); replay one with FAULT_SEED=<seed> cargo test -p fault-suite -- --nocapture",
        failed.join(", ")
    );
}
