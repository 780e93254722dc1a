//! `datad`: parses flags, installs logging, runs a data node until SIGINT/SIGTERM.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = datad::Cli::parse();
    daemon::init_logging(cli.log_json);
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("datad: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    daemon::block_on("datad", datad::run(config, daemon::shutdown_signal()))
}
