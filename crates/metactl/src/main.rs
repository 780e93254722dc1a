//! `metactl`: parse, run, print; errors as one line on stderr with exit status 1.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = metactl::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("metactl: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(metactl::run(cli)) {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("metactl: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
