//! `rumble check-config FILE`: validate and show what each script may do,
//! so an operator can audit grants before starting the server.

use std::path::Path;
use std::process::ExitCode;

use crate::config;

pub fn run(file: &Path) -> anyhow::Result<ExitCode> {
    let loaded = match config::load(file, &super::exec_dir()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    println!("{}: OK", file.display());
    for spec in &loaded.settings.scripts {
        let l = &spec.limits;
        println!(
            "script {} ({}): cpu {} ms, memory {} MiB, instances {}, share {:.2} cores, calls {}, files {}, \
             timeout {} ms, first-read {} ms, log-rate {}/s",
            spec.name,
            spec.path_written,
            l.cpu.as_millis(),
            l.memory >> 20,
            l.instances,
            f64::from(l.cpu_share_permille) / 1000.0,
            l.calls,
            l.open_files,
            l.session_timeout.as_millis(),
            l.first_read.as_millis(),
            l.log_rate
        );
        if spec.grants.caps.is_empty() {
            println!("  grants: none (compute and log only)");
        }
        for cap in &spec.grants.caps {
            println!("  grant {cap}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
