//! `rumble`: serve mail, check a config, or try a script in the sandbox.

use clap::Parser;

fn main() -> std::process::ExitCode {
    rumble::process::quiet_library_backtraces();
    rumble::process::raise_descriptor_limit();
    let cli = rumble::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rumble: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rumble::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rumble: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
