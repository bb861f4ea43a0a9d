//! The `control` WIT interface (see `wit/control.wit`): `Rumble.*` service
//! control and status. A call on one service needs `services.control` naming
//! it (or `*`): stopping a service is operator power. listModules and
//! reloadConfiguration need `services.control *`: they show every script's
//! grants and change the whole server.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use wasmtime::Result;

use super::bindings::HostError;
use super::bindings::rumble::plugin::control::{self, Action, ModuleInfo, ServiceStatus, TrafficHour};
use super::host::HostState;
use super::script::ServerEnv;
use crate::config::grants::{ALL_SERVICES, GrantSet};
use crate::config::{RawConfig, Settings, settings::directive_name};
use crate::services::{Service, ServiceError, ServiceManager};

impl HostState {
    /// Ok when the script may control `service`; else the logged denial.
    /// Asked before the service is looked up, so a script cannot learn which
    /// services exist beyond those it was granted.
    fn check_service(&self, service: &str) -> Result<(), HostError> {
        let service = service.to_ascii_lowercase();
        if self.info.spec.grants.allows_services_control(&service) {
            return Ok(());
        }
        Err(self.deny(format!("services.control {service}")))
    }

    /// The server-wide calls need `services.control *`.
    fn check_all_services(&self) -> Result<(), HostError> {
        if self.info.spec.grants.allows_all_services() {
            return Ok(());
        }
        Err(self.deny(format!("services.control {ALL_SERVICES}")))
    }
}

/// Lists only the services the script may control: the others are none of its business.
fn unknown_service(services: &ServiceManager, name: &str, grants: &GrantSet) -> HostError {
    let mut known = services.names();
    known.retain(|n| grants.allows_services_control(n));
    HostError::NotFound(format!("no service named \"{name}\" (known: {})", known.join(", ")))
}

fn apply(services: &ServiceManager, name: &str, action: Action) -> Result<(), ServiceError> {
    match action {
        Action::Start => services.start(name),
        Action::Stop => services.stop(name),
        Action::Suspend => services.suspend(name),
        Action::Resume => services.resume(name),
    }
}

fn service_info(service: &Service, settings: Option<&Settings>) -> ServiceStatus {
    let stats = &service.stats;
    let busy = stats.busy.load(Ordering::Relaxed);
    ServiceStatus {
        workers: service.threads,
        busy,
        idle: u64::from(service.threads).saturating_sub(busy),
        enabled: service.state().enabled(),
        sessions: stats.sessions.load(Ordering::Relaxed),
        sent: stats.sent.load(Ordering::Relaxed),
        received: stats.received.load(Ordering::Relaxed),
        rejected: stats.rejected.load(Ordering::Relaxed),
        capabilities: capabilities(&service.name, settings),
    }
}

/// What a protocol service offers before login, each followed by a space as
/// Rumble wrote them. A summary for status pages: the sessions decide the
/// exact list per connection (STARTTLS only before TLS, AUTH only where
/// plain text logins are allowed). Script services and the mailman offer none.
fn capabilities(service: &str, settings: Option<&Settings>) -> String {
    let tls = settings.is_some_and(|s| s.tls_certificate.is_some());
    let auth = settings.is_some_and(|s| s.allow_plaintext_auth) || tls;
    let (base, starttls, login): (&[&str], &str, &[&str]) = match service {
        "smtp" | "submission" | "smtps" => (
            &["PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"],
            "STARTTLS",
            &["AUTH PLAIN LOGIN"],
        ),
        "pop3" | "pop3s" => (&["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"], "STLS", &["USER", "SASL PLAIN LOGIN"]),
        "imap4" | "imaps" => (&["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE"], "STARTTLS", &["AUTH=PLAIN"]),
        _ => return String::new(),
    };
    let implicit_tls = matches!(service, "smtps" | "pop3s" | "imaps");
    let mut caps: Vec<&str> = base.to_vec();
    if tls && !implicit_tls {
        caps.push(starttls);
    }
    if auth {
        caps.extend_from_slice(login);
    }
    caps.iter().map(|c| format!("{c} ")).collect()
}

fn module_info(script: &super::Script) -> ModuleInfo {
    let spec = &script.info.spec;
    ModuleInfo {
        name: spec.name.clone(),
        file: spec.path_written.clone(),
        grants: spec.grants.caps.iter().map(ToString::to_string).collect(),
        registered: script.registered.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        calls: script.stats.calls.load(Ordering::Relaxed),
        errors: script.stats.errors.load(Ordering::Relaxed),
        stops: script.stats.stops.load(Ordering::Relaxed),
    }
}

/// The config the last successful reload read, to report each change once
/// (the first reload compares with the one the server started with).
static LAST_RELOAD: Mutex<Option<Arc<RawConfig>>> = Mutex::new(None);

/// `Rumble.reloadConfiguration()`: read rumble.conf again; on an error
/// change nothing. Applied live: `MaxConnectionsPerIP` for script services,
/// and the protocol settings of `live::LIVE_KEYS` for sessions that start
/// after the reload. Every other changed directive is logged as needing a
/// restart.
fn reload(env: &ServerEnv, by: &str) -> Result<Vec<String>, HostError> {
    let path = env
        .config_path
        .as_deref()
        .ok_or_else(|| HostError::Failed("no rumble.conf to reload (rumble script run without --config)".into()))?;
    let loaded = crate::config::load(path, &exec_dir()).map_err(|e| HostError::Failed(e.to_string()))?;
    let mut last = LAST_RELOAD.lock().unwrap_or_else(|e| e.into_inner());
    let before = last.clone().or_else(|| env.config.clone());
    let notes = changes(before.as_deref(), &loaded.raw)
        .into_iter()
        .map(|key| apply_change(env, &key, &loaded.settings))
        .collect::<Vec<_>>();
    for note in &notes {
        tracing::warn!(target: "core", "reloadConfiguration (script \"{by}\"): {note}");
    }
    tracing::info!(target: "core", "reloadConfiguration (script \"{by}\"): {} read, {} change(s)", path.display(), notes.len());
    *last = Some(Arc::new(loaded.raw));
    Ok(notes)
}

/// The (lower-case) keys whose values differ, in file order.
fn changes(before: Option<&RawConfig>, after: &RawConfig) -> Vec<String> {
    let values = |raw: Option<&RawConfig>, key: &str| -> Vec<String> {
        raw.map(|r| r.get_all(key).map(|e| e.value.clone()).collect()).unwrap_or_default()
    };
    let mut keys: Vec<String> = Vec::new();
    let all = before.into_iter().flat_map(|r| r.entries.iter()).chain(after.entries.iter());
    for e in all {
        if !keys.contains(&e.key) && values(before, &e.key) != values(Some(after), &e.key) {
            keys.push(e.key.clone());
        }
    }
    keys
}

fn apply_change(env: &ServerEnv, key: &str, settings: &Settings) -> String {
    let name = directive_name(key).unwrap_or(key);
    if key == "maxconnectionsperip" {
        env.services.set_max_per_ip(settings.max_connections_per_ip);
        return format!("{name} {} applied to script services (protocol listeners need a restart)", settings.max_connections_per_ip);
    }
    if env.live.apply(key, settings) {
        return format!("{name} applied to sessions that start from now on");
    }
    format!("{name} changed; it takes effect at the next restart")
}

/// The folder of the running executable (the config's `execpath` key).
fn exec_dir() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("."))
}

impl control::Host for HostState {
    async fn control_service(&mut self, name: String, action: Action) -> Result<Result<(), HostError>> {
        if let Err(e) = self.check_service(&name) {
            return Ok(Err(e));
        }
        let services = &self.info.env.services;
        let result = match apply(services, &name, action) {
            Ok(()) => {
                tracing::info!(target: "svc", "script \"{}\": {action:?} service {name}", self.info.spec.name);
                Ok(())
            }
            Err(ServiceError::Unknown(_)) => Err(unknown_service(services, &name, &self.info.spec.grants)),
            Err(e) => Err(HostError::Failed(e.to_string())),
        };
        Ok(result)
    }

    async fn service_info(&mut self, name: String) -> Result<Result<Option<ServiceStatus>, HostError>> {
        if let Err(e) = self.check_service(&name) {
            return Ok(Err(e));
        }
        let env = &self.info.env;
        Ok(Ok(env.services.find(&name).map(|s| service_info(&s, env.settings.as_deref()))))
    }

    async fn traffic_info(&mut self, name: String) -> Result<Result<Option<Vec<TrafficHour>>, HostError>> {
        if let Err(e) = self.check_service(&name) {
            return Ok(Err(e));
        }
        let hours = self.info.env.services.find(&name).map(|s| {
            s.stats
                .traffic()
                .into_iter()
                .map(|t| TrafficHour { hits: t.hits, bytes: t.bytes, rejections: t.rejections })
                .collect()
        });
        Ok(Ok(hours))
    }

    async fn list_modules(&mut self) -> Result<Result<Vec<ModuleInfo>, HostError>> {
        if let Err(e) = self.check_all_services() {
            return Ok(Err(e));
        }
        let scripts = self.info.env.scripts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(Ok(scripts.iter().filter_map(|w| w.upgrade()).map(|s| module_info(&s)).collect()))
    }

    async fn reload_configuration(&mut self) -> Result<Result<Vec<String>, HostError>> {
        if let Err(e) = self.check_all_services() {
            return Ok(Err(e));
        }
        let env = self.info.env.clone();
        let by = self.info.spec.name.clone();
        // Reading and parsing the file blocks; keep it off the guest threads' async work.
        self.budget.pause();
        let result = tokio::task::spawn_blocking(move || reload(&env, &by)).await;
        self.budget.resume();
        Ok(result.unwrap_or_else(|e| Err(HostError::Failed(format!("reload failed: {e}")))))
    }
}
