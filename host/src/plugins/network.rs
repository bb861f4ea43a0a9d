//! The `network` WIT interface (see `wit/network.wit`): DNS lookups for
//! scripts, through one resolver shared by every script (built on first
//! use from `DNSServer`, else the system's configuration).
//!
//! A lookup that fails for any reason is an empty answer (Rumble's getMX
//! crashed on a failed query); only a bad name or a missing `dns` grant
//! is an error. Each lookup is bounded by [`LOOKUP_TIMEOUT`], and the
//! script's CPU clock is paused while it waits.

use std::future::Future;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::{Name, ResolveError, ResolveErrorKind};
use wasmtime::Result;

use super::bindings::HostError;
use super::bindings::rumble::plugin::network::{self, Mx};
use super::host::HostState;
use crate::mailman::route::{self, Resolver};

/// The longest a script waits for one lookup (the resolver's own retries
/// included).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest DNS name in text form, without the final dot (RFC 1035 §2.3.4).
const MAX_NAME: usize = 253;

/// Rumble's preference for the implicit MX (the domain's own address).
const IMPLICIT_MX_PREFERENCE: u16 = 10;

/// The resolver every script shares; `DNSServer` is read once, at the
/// first lookup (it needs a restart to change, like the mailman's).
fn resolver(dns_server: Option<std::net::SocketAddr>) -> Result<&'static Resolver, HostError> {
    static RESOLVER: OnceLock<Resolver> = OnceLock::new();
    if let Some(r) = RESOLVER.get() {
        return Ok(r);
    }
    let built = route::resolver(dns_server).map_err(|e| HostError::Failed(format!("no DNS resolver: {e}")))?;
    Ok(RESOLVER.get_or_init(|| built))
}

/// What one query said, once failures are told apart from "no records".
enum Outcome<T> {
    Found(T),
    /// The name exists but has no records of the type.
    NoData,
    /// No such name, a server failure, a timeout: nothing to say.
    Failed(String),
}

fn outcome<T>(result: Result<T, ResolveError>) -> Outcome<T> {
    let err = match result {
        Ok(found) => return Outcome::Found(found),
        Err(e) => e,
    };
    if let ResolveErrorKind::Proto(proto) = err.kind()
        && let ProtoErrorKind::NoRecordsFound { response_code: ResponseCode::NoError, .. } = proto.kind()
    {
        return Outcome::NoData;
    }
    Outcome::Failed(err.to_string())
}

/// A name a script passed, checked and made fully qualified (so resolv.conf
/// search domains never apply).
fn checked_name(text: &str) -> Result<Name, HostError> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if trimmed.is_empty() {
        return Err(HostError::Invalid("an empty host name".into()));
    }
    if trimmed.len() > MAX_NAME {
        return Err(HostError::Invalid(format!("a host name of {} bytes (at most {MAX_NAME})", trimmed.len())));
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(HostError::Invalid(format!("host name {trimmed:?} has blanks or control characters")));
    }
    Name::from_utf8(format!("{trimmed}.")).map_err(|e| HostError::Invalid(format!("host name {trimmed:?}: {e}")))
}

impl HostState {
    /// Check the grant and the name, then run `lookup` with the CPU clock
    /// paused and the time bounded.
    async fn dns<T, F>(&mut self, name: &str, lookup: impl FnOnce(&'static Resolver, Name) -> F) -> Result<T, HostError>
    where
        F: Future<Output = Outcome<T>>,
        T: Default,
    {
        if !self.info.spec.grants.allows_dns() {
            return Err(self.deny_dns());
        }
        let fqdn = checked_name(name)?;
        let dns_server = self.info.env.settings.as_ref().and_then(|s| s.dns_server);
        let resolver = resolver(dns_server)?;
        self.budget.pause();
        let result = tokio::time::timeout(LOOKUP_TIMEOUT, lookup(resolver, fqdn)).await;
        self.budget.resume();
        match result {
            Ok(Outcome::Found(v)) => Ok(v),
            Ok(Outcome::NoData) => Ok(T::default()),
            Ok(Outcome::Failed(why)) => {
                tracing::debug!(target: "lua", "script \"{}\": DNS lookup for {name}: {why}", self.info.spec.name);
                Ok(T::default())
            }
            Err(_) => {
                tracing::debug!(target: "lua", "script \"{}\": DNS lookup for {name} timed out", self.info.spec.name);
                Ok(T::default())
            }
        }
    }

    fn deny_dns(&self) -> HostError {
        self.log.denial("dns");
        HostError::Denied("dns".into())
    }
}

/// Every A, then every AAAA address of `name`.
async fn addresses(resolver: &Resolver, name: Name) -> Outcome<Vec<String>> {
    let (v4, v6) = tokio::join!(resolver.ipv4_lookup(name.clone()), resolver.ipv6_lookup(name));
    let mut found: Vec<String> = Vec::new();
    let mut failure = None;
    match outcome(v4) {
        Outcome::Found(l) => found.extend(l.iter().map(|a| a.0.to_string())),
        Outcome::NoData => {}
        Outcome::Failed(e) => failure = Some(e),
    }
    match outcome(v6) {
        Outcome::Found(l) => found.extend(l.iter().map(|a| a.0.to_string())),
        Outcome::NoData => {}
        Outcome::Failed(e) => failure = failure.or(Some(e)),
    }
    match failure {
        Some(e) if found.is_empty() => Outcome::Failed(e),
        _ => Outcome::Found(found),
    }
}

/// MX records sorted by preference (ties keep the answer's order); no MX
/// records: the domain's first IPv4 address (Rumble's implicit MX); a null
/// MX (RFC 7505) or a failure: nothing.
async fn mx(resolver: &Resolver, name: Name) -> Outcome<Vec<Mx>> {
    let records = match outcome(resolver.mx_lookup(name.clone()).await) {
        Outcome::Found(lookup) => lookup
            .iter()
            .map(|r| Mx { preference: r.preference(), host: r.exchange().to_utf8().trim_end_matches('.').to_string() })
            .collect::<Vec<_>>(),
        Outcome::NoData => return implicit_mx(resolver, name).await,
        Outcome::Failed(e) => return Outcome::Failed(e),
    };
    let mut usable: Vec<Mx> = records.into_iter().filter(|r| !r.host.is_empty()).collect();
    usable.sort_by_key(|r| r.preference);
    Outcome::Found(usable)
}

async fn implicit_mx(resolver: &Resolver, name: Name) -> Outcome<Vec<Mx>> {
    match outcome(resolver.ipv4_lookup(name).await) {
        Outcome::Found(l) => Outcome::Found(
            l.iter().take(1).map(|a| Mx { preference: IMPLICIT_MX_PREFERENCE, host: a.0.to_string() }).collect(),
        ),
        Outcome::NoData => Outcome::NoData,
        Outcome::Failed(e) => Outcome::Failed(e),
    }
}

/// Each TXT record's strings joined into one.
async fn txt(resolver: &Resolver, name: Name) -> Outcome<Vec<Vec<u8>>> {
    match outcome(resolver.txt_lookup(name).await) {
        Outcome::Found(l) => Outcome::Found(l.iter().map(|t| t.txt_data().concat()).collect()),
        Outcome::NoData => Outcome::NoData,
        Outcome::Failed(e) => Outcome::Failed(e),
    }
}

impl network::Host for HostState {
    async fn get_host_by_name(&mut self, host: String) -> Result<Result<Vec<String>, HostError>> {
        // An address is its own answer, as gethostbyname gives it.
        if let Ok(ip) = host.parse::<IpAddr>() {
            if !self.info.spec.grants.allows_dns() {
                return Ok(Err(self.deny_dns()));
            }
            return Ok(Ok(vec![ip.to_string()]));
        }
        Ok(self.dns(&host, addresses).await)
    }

    async fn get_mx(&mut self, domain: String) -> Result<Result<Vec<Mx>, HostError>> {
        Ok(self.dns(&domain, mx).await)
    }

    async fn get_txt(&mut self, name: String) -> Result<Result<Vec<Vec<u8>>, HostError>> {
        Ok(self.dns(&name, txt).await)
    }
}
