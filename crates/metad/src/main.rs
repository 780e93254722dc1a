//! `metad`: parses flags, installs logging, runs a meta node until SIGINT/SIGTERM.

use clap::Parser;

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
        println!(
            "metad dev node {} serving http://{} (data in {})\n  try: curl -s http://{}/v1/status",
            config.node_id,
            config.advertise,
            config.data_dir.display(),
            config.advertise
        );
    }
    daemon::block_on("metad", metad::run(config, daemon::shutdown_signal()))
}
