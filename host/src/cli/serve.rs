//! `rumble serve`: load rumble.conf, start the plugin runtime and the
//! scripts, serve until SIGINT/SIGTERM, then shut down gracefully.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::{self, Loaded};
use crate::plugins::{Runtime, Script, ScriptInfo, ServerEnv};
use crate::services::ServiceManager;
use crate::smtp::{self, SmtpContext};
use crate::store::Store;

/// How long sessions in progress get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub async fn run(config: Option<PathBuf>) -> Result<ExitCode> {
    let path = super::find_config(config)?;
    let loaded = config::load(&path, &super::exec_dir()).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::log::init(loaded.settings.log_lines, "info");
    report_config(&loaded);
    let server = start(&path, loaded).await?;
    tracing::info!(
        target: "core",
        "rumble {} ready: {} script(s) loaded, {} service(s), store {}",
        crate::rumble_version(),
        server.scripts.len(),
        server.services.list().len(),
        server.store.path().display()
    );
    wait_for_shutdown_signal().await;
    tracing::info!(target: "core", "shutting down");
    server.services.shutdown(SHUTDOWN_GRACE).await;
    Ok(ExitCode::SUCCESS)
}

/// What `serve` keeps alive.
pub struct Server {
    pub store: Store,
    pub services: Arc<ServiceManager>,
    pub scripts: Vec<Arc<Script>>,
}

/// Start the plugin runtime and every LoadScript, in order. A script that
/// fails to load is logged with its file and line; the server carries on.
pub async fn start(path: &Path, loaded: Loaded) -> Result<Server> {
    let settings = &loaded.settings;
    let store = Store::open(&settings.data_folder)?;
    let runtime = Runtime::new(Some(&settings.cache_folder)).context("cannot start the plugin runtime")?;
    let services = ServiceManager::new(settings.bind_to_address);
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let env = Arc::new(ServerEnv {
        config: Some(Arc::new(loaded.raw.clone())),
        base_dir: std::path::absolute(&base_dir).unwrap_or(base_dir),
        started: Instant::now(),
        services: services.clone(),
        print_to_stdout: false,
    });
    if settings.smtp.enabled {
        let ctx = Arc::new(SmtpContext {
            server_name: settings.server_name.clone(),
            max_size: settings.message_size_limit,
            enforce_fqdn: settings.enforce_fqdn,
            store: store.clone(),
            storage: settings.storage_folder.clone(),
            max_recipients: 100,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            max_errors: 10,
        });
        smtp::start(ctx, &services, settings.smtp.port)
            .await
            .with_context(|| format!("cannot start SMTP on port {}", settings.smtp.port))?;
    }
    let mut scripts = Vec::new();
    for spec in &settings.scripts {
        let started = Instant::now();
        let info = ScriptInfo { spec: spec.clone(), env: env.clone(), args: Vec::new() };
        match Script::load(runtime.clone(), info).await {
            Ok(script) => {
                tracing::info!(target: "lua", "loaded script \"{}\" ({}) in {:?}", spec.name, spec.path_written, started.elapsed());
                scripts.push(script);
            }
            Err(e) => tracing::error!(
                target: "lua",
                "script \"{}\" ({}, LoadScript at {}:{}) failed to load: {e}",
                spec.name,
                spec.path_written,
                path.display(),
                spec.line
            ),
        }
    }
    Ok(Server { store, services, scripts })
}

fn report_config(loaded: &Loaded) {
    for w in &loaded.warnings {
        tracing::warn!(target: "config", "{w}");
    }
    for (line, text) in &loaded.raw.comments {
        tracing::info!(target: "config", "line {line}: {text}");
    }
    let s = &loaded.settings;
    let pending: Vec<&str> = [
        (s.submission.enabled, "submission"),
        (s.smtps.enabled, "SMTPS"),
        (s.pop3.enabled, "POP3"),
        (s.imap4.enabled, "IMAP4"),
    ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    if !pending.is_empty() {
        tracing::warn!(
            target: "core",
            "{} enabled in the config, but this build has no {} service yet; not started",
            pending.join(", "),
            pending.join("/")
        );
    }
}

async fn wait_for_shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
