//! `metad`: parses flags, installs logging, runs a meta node until SIGINT/SIGTERM.

use clap::Parser;

/// mimalloc rather than glibc's malloc: the memory a restore or a snapshot install frees (a
/// million shards decoded, indexed and checked) goes back to the system instead of staying in
/// glibc's per-thread arenas (a node held 458-751 MB after a 1M-shard restore with glibc, see
/// docs/PERFORMANCE.md), and small allocations (requests, commands) cost less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = metad::Cli::parse();
    daemon::init_logging(cli.log_json);
    let dev = cli.dev;
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("metad: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    if dev {
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        println!(
            "metad dev node {} serving {scheme}://{} (data in {})\n  try: curl -s {scheme}://{}/v1/status",
            config.node_id,
            config.advertise,
            config.data_dir.display(),
            config.advertise
        );
    }
    daemon::block_on("metad", metad::run(config, daemon::shutdown_signal()))
}
