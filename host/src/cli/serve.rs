//! `rumble serve`: load rumble.conf, start the plugin runtime and the
//! scripts, serve until SIGINT/SIGTERM, then shut down gracefully.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::{self, Loaded, Settings};
use crate::mailman::{Mailman, MailmanConfig};
use crate::plugins::folders::{self, Secret};
use crate::plugins::{Runtime, Script, ScriptInfo, ServerEnv};
use crate::live::Live;
use crate::services::ServiceManager;
use crate::imap::{self, ImapContext};
use crate::pop3::{self, Pop3Context};
use crate::smtp::{self, SmtpContext};
use crate::store::Store;
use crate::tls::CertSource;
use tokio::sync::Notify;

/// How long sessions in progress get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub async fn run(config: Option<PathBuf>) -> Result<ExitCode> {
    // Absolute from here on: scripts see its folder as serverInfo().path and
    // check their paths against it.
    let path = super::find_config(config)?;
    let path = std::path::absolute(&path).with_context(|| format!("cannot resolve {}", path.display()))?;
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
        server.store.describe()
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
    let store = super::open_store(settings).await?;
    let runtime = Runtime::new(Some(&settings.cache_folder)).context("cannot start the plugin runtime")?;
    let services = ServiceManager::new(settings.bind_to_address);
    services.set_max_per_ip(settings.max_connections_per_ip);
    services.roll_hourly();
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let env = Arc::new(ServerEnv {
        config: Some(Arc::new(loaded.raw.clone())),
        settings: Some(Arc::new(settings.clone())),
        config_path: Some(path.to_path_buf()),
        store: Some(store.clone()),
        ..ServerEnv::new(std::path::absolute(&base_dir).unwrap_or(base_dir), services.clone(), false)
    });
    // The store's: scripts queue through the store too (Mailman.sendMail).
    let queued = store.queue_notifier();
    let tls = load_tls(settings)?;
    start_smtp(settings, &store, &services, tls.clone(), queued.clone(), &env).await?;
    start_pop3(settings, &store, &services, tls.clone(), &env).await?;
    start_imap(settings, &store, &services, tls.clone(), &env).await?;
    let mailman = MailmanConfig {
        server_name: settings.server_name.clone(),
        storage: settings.storage_folder.clone(),
        delivery_attempts: settings.delivery_attempts,
        retry_interval: settings.retry_interval,
        maximal_queue_lifetime: settings.maximal_queue_lifetime,
        queue_lease_time: settings.queue_lease_time,
        ignore_mx: settings.ignore_mx.clone(),
        force_ipv4: settings.force_ipv4,
        dns_server: settings.dns_server,
        outgoing_port: settings.outgoing_smtp_port,
        bind_address: settings.outgoing_bind_to_address,
    };
    Mailman::start(mailman, store.clone(), &services, queued.clone(), env.hooks.clone()).context("cannot start the mailman")?;
    crate::services::keep_reserve();
    check_descriptor_budget(settings);
    let secrets = script_secrets(settings, path, &store).await?;
    let mut scripts = Vec::new();
    for spec in &settings.scripts {
        let started = Instant::now();
        let folder = folders::folder_access(spec, &settings.scripts, &secrets);
        let info = ScriptInfo { spec: spec.clone(), env: env.clone(), args: Vec::new(), folder };
        match Script::load(runtime.clone(), info).await {
            Ok(script) => {
                tracing::info!(target: "lua", "loaded script \"{}\" ({}) in {:?}", spec.name, spec.path_written, started.elapsed());
                env.scripts.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(&script));
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
    // As Rumble: after every listener is bound and every script loaded.
    switch_user(settings, &store)?;
    Ok(Server { store, services, scripts })
}

/// `RunAsGroup`, then `RunAs`; then check that the new user can write
/// what the server writes, or stop with the command that fixes it.
fn switch_user(settings: &Settings, store: &Store) -> Result<()> {
    let (user, group) = (settings.run_as.as_deref(), settings.run_as_group.as_deref());
    let Some(ids) = crate::process::switch_user(user, group)? else { return Ok(()) };
    tracing::info!(target: "core", "running as uid {} gid {} (RunAs {}, RunAsGroup {})", ids.0, ids.1, user.unwrap_or("-"), group.unwrap_or("-"));
    // The cache only saves compile time: unwritable, scripts compile each start.
    if let Err(e) = crate::process::check_writable(&settings.cache_folder) {
        tracing::warn!(target: "core", "RunAs: cannot write CacheFolder {} ({e}); compiled scripts will not be cached", settings.cache_folder.display());
    }
    let writable = [Some(settings.data_folder.as_path()), store.file(), Some(settings.storage_folder.as_path())];
    for path in writable.into_iter().flatten().filter(|p| p.exists()) {
        if let Err(e) = crate::process::check_writable(path) {
            anyhow::bail!(
                "RunAs {}: cannot write {} ({e}); give it to that user, e.g. `chown -R {}{} {}`",
                user.unwrap_or("root"),
                path.display(),
                user.unwrap_or("root"),
                group.map(|g| format!(":{g}")).unwrap_or_default(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Scripts may hold at most `instances x open files` descriptors each; warn
/// when that could take more than half of the process's limit, which the
/// server needs for sessions, spool files and the store.
fn check_descriptor_budget(settings: &Settings) {
    let limit = crate::process::descriptor_limit();
    let scripts: u64 = settings
        .scripts
        .iter()
        .map(|s| u64::from(s.limits.instances) * (u64::from(s.limits.open_files) + 4))
        .sum();
    if limit > 0 && scripts > limit / 2 {
        tracing::warn!(
            target: "lua",
            "scripts may hold up to {scripts} open files, more than half of the descriptor limit ({limit}); \
             lower ScriptOpenFiles or ScriptInstances, or raise the limit"
        );
    }
}

/// What no script may read through its own folder (see `plugins::folders`).
async fn script_secrets(settings: &Settings, config_file: &Path, store: &Store) -> Result<Vec<Secret>> {
    let domains = store.list_domains().await?;
    let base = config_file.parent().unwrap_or(Path::new("/"));
    let domain_folders: Vec<PathBuf> =
        domains.iter().filter(|d| !d.storage_path.is_empty()).map(|d| base.join(&d.storage_path)).collect();
    Ok(folders::secrets(settings, config_file, &domain_folders))
}

/// The server's TLS setup, loaded (or a self-signed certificate made) only
/// when an enabled service can use it.
fn load_tls(s: &Settings) -> Result<Option<Arc<rustls::ServerConfig>>> {
    let users = [&s.smtp, &s.submission, &s.smtps, &s.pop3, &s.pop3s, &s.imap4, &s.imaps];
    if !users.iter().any(|l| l.enabled) {
        return Ok(None);
    }
    let tls = crate::tls::load(s.tls_certificate.as_deref(), s.tls_key.as_deref(), &s.data_folder, &s.server_name)
        .context("cannot set up TLS")?;
    match &tls.source {
        CertSource::Configured { cert } => tracing::info!(target: "core", "TLS certificate {}", cert.display()),
        CertSource::SelfSigned { cert, created } => tracing::warn!(
            target: "core",
            "TLS uses a self-signed certificate{} {}: clients will not trust it; set TLSCertificate and TLSKey to a certificate they trust",
            if *created { " created at" } else { "" },
            cert.display()
        ),
    }
    Ok(Some(tls.config))
}

/// The enabled SMTP listeners, sharing one context.
async fn start_smtp(
    s: &Settings,
    store: &Store,
    services: &ServiceManager,
    tls: Option<Arc<rustls::ServerConfig>>,
    queued: Arc<Notify>,
    env: &ServerEnv,
) -> Result<()> {
    let ctx = Live::new(SmtpContext {
        server_name: s.server_name.clone(),
        max_size: s.message_size_limit,
        enforce_fqdn: s.enforce_fqdn,
        store: store.clone(),
        storage: s.storage_folder.clone(),
        max_recipients: 100,
        command_timeout: s.smtp_timeout,
        pre_login_timeout: s.pre_login_timeout.min(s.smtp_timeout),
        data_timeout: s.smtp_timeout,
        max_errors: 10,
        tls,
        allow_plaintext_auth: s.allow_plaintext_auth,
        block_outgoing: s.block_outgoing_mail,
        enforce_sender_login: s.enforce_sender_login,
        queued,
        max_per_ip: s.max_connections_per_ip,
        hooks: env.hooks.clone(),
    });
    let _ = env.live.smtp.set(ctx.clone());
    let listeners = [("smtp", &s.smtp, smtp::MX), ("submission", &s.submission, smtp::SUBMISSION), ("smtps", &s.smtps, smtp::SMTPS)];
    for (name, listener, kind) in listeners {
        if listener.enabled {
            smtp::start(ctx.clone(), services, name, listener.port, kind, s.max_smtp_sessions)
                .await
                .with_context(|| format!("cannot start {name} on port {}", listener.port))?;
        }
    }
    Ok(())
}

/// The enabled POP3 listeners, sharing one context (and its maildrop locks).
async fn start_pop3(
    s: &Settings,
    store: &Store,
    services: &ServiceManager,
    tls: Option<Arc<rustls::ServerConfig>>,
    env: &ServerEnv,
) -> Result<()> {
    let ctx = Live::new(Pop3Context {
        server_name: s.server_name.clone(),
        store: store.clone(),
        tls,
        allow_plaintext_auth: s.allow_plaintext_auth,
        timeout: s.pop3_timeout,
        pre_login_timeout: s.pre_login_timeout.min(s.pop3_timeout),
        max_per_ip: s.max_connections_per_ip,
        hooks: env.hooks.clone(),
    });
    let _ = env.live.pop3.set(ctx.clone());
    for (name, listener, implicit) in [("pop3", &s.pop3, false), ("pop3s", &s.pop3s, true)] {
        if listener.enabled {
            pop3::start(ctx.clone(), services, name, listener.port, implicit, s.max_pop3_sessions)
                .await
                .with_context(|| format!("cannot start {name} on port {}", listener.port))?;
        }
    }
    Ok(())
}

/// The enabled IMAP listeners, sharing one context.
async fn start_imap(
    s: &Settings,
    store: &Store,
    services: &ServiceManager,
    tls: Option<Arc<rustls::ServerConfig>>,
    env: &ServerEnv,
) -> Result<()> {
    let ctx = Live::new(ImapContext {
        server_name: s.server_name.clone(),
        store: store.clone(),
        tls,
        allow_plaintext_auth: s.allow_plaintext_auth,
        timeout: s.imap_timeout,
        pre_login_timeout: s.pre_login_timeout.min(s.imap_timeout),
        max_message: s.message_size_limit,
        cache: Arc::new(imap::MessageCache::new(64 * 1024 * 1024)),
        max_per_ip: s.max_connections_per_ip,
        hooks: env.hooks.clone(),
    });
    let _ = env.live.imap.set(ctx.clone());
    for (name, listener, implicit) in [("imap4", &s.imap4, false), ("imaps", &s.imaps, true)] {
        if listener.enabled {
            imap::start(ctx.clone(), services, name, listener.port, implicit, s.max_imap_sessions)
                .await
                .with_context(|| format!("cannot start {name} on port {}", listener.port))?;
        }
    }
    Ok(())
}

fn report_config(loaded: &Loaded) {
    for w in &loaded.warnings {
        tracing::warn!(target: "config", "{w}");
    }
    for (line, text) in &loaded.raw.comments {
        tracing::info!(target: "config", "line {line}: {text}");
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
