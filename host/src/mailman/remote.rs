//! Delivery over SMTP: to a domain's MX hosts (sorted by preference, with
//! the A/AAAA fallback and `IgnoreMX`, see `route`), or to a relay
//! account's smarthost. The rows of one message for one destination go in
//! one SMTP transaction; each host's addresses are tried in turn until one
//! completes a session.

use std::net::{IpAddr, SocketAddr};

use super::outbound::{self, Attempt, Envelope, RcptOutcome};
use super::outcome::Outcome;
use super::route::{self, RouteError};
use super::wire_format;
use super::Mailman;
use crate::store::queue::QueueItem;
use crate::store::spool;

/// Where a group of rows goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// A domain, through its MX hosts.
    Domain(String),
    /// A relay account's `host[:port]`, used as is (no MX lookup).
    Smarthost(String),
}

impl Mailman {
    /// Deliver `items` (one message, one sender) to `target`.
    pub(super) async fn deliver_remote(&self, target: &Target, items: Vec<QueueItem>) {
        let path = spool::spool_path(&self.cfg.storage, &items[0].fid);
        if let Ok(hops) = tokio::task::spawn_blocking(move || received_headers(&path)).await.unwrap_or(Ok(0))
            && hops > MAX_HOPS
        {
            // RFC 5321 §6.3: a message that has passed this many relays is in a loop.
            let why = format!("mail loop: {hops} Received headers (more than {MAX_HOPS})");
            let outcome = Outcome::permanent("5.4.6", why, None);
            let n = items.len();
            return self.settle(items.into_iter().zip(vec![outcome; n]).collect()).await;
        }
        let outcomes = match self.hosts(target).await {
            Ok((hosts, port)) => self.try_hosts(&hosts, port, &items).await,
            Err(RouteError::Permanent(why)) => {
                let outcome = Outcome::permanent("5.1.2", format!("{}: {why}", target_name(target)), None);
                vec![outcome; items.len()]
            }
            Err(RouteError::Temporary(why)) => {
                vec![Outcome::Temporary(format!("4.4.3 {}: {why}", target_name(target))); items.len()]
            }
        };
        self.settle(items.into_iter().zip(outcomes).collect()).await;
    }

    async fn hosts(&self, target: &Target) -> Result<(Vec<route::Target>, u16), RouteError> {
        match target {
            Target::Domain(domain) => {
                let hosts = route::route(&self.resolver, domain, &self.cfg.ignore_mx, self.cfg.force_ipv4).await?;
                Ok((hosts, self.cfg.outgoing_port))
            }
            Target::Smarthost(spec) => self.smarthost(spec).await,
        }
    }

    /// `host`, `host:port`, `[ip]:port` or `ip`: addresses only, no MX.
    async fn smarthost(&self, spec: &str) -> Result<(Vec<route::Target>, u16), RouteError> {
        let (host, port) = split_host_port(spec).ok_or_else(|| RouteError::Permanent(format!("bad relay host \"{spec}\"")))?;
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let found = self
                    .resolver
                    .lookup_ip(host.as_str())
                    .await
                    .map_err(|e| RouteError::Temporary(format!("cannot resolve relay host {host}: {e}")))?;
                found.iter().filter(|ip| ip.is_ipv4() || !self.cfg.force_ipv4).collect()
            }
        };
        if addrs.is_empty() {
            return Err(RouteError::Temporary(format!("relay host {host} has no address")));
        }
        Ok((vec![route::Target { host, preference: 0, addrs }], port))
    }

    async fn try_hosts(&self, hosts: &[route::Target], port: u16, items: &[QueueItem]) -> Vec<Outcome> {
        let recipients: Vec<String> = items.iter().map(|i| i.recipient.clone()).collect();
        let first = &items[0];
        let path = spool::spool_path(&self.cfg.storage, &first.fid);
        let size = match tokio::fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(e) => return vec![Outcome::Temporary(format!("4.3.0 cannot read the message: {e}")); items.len()],
        };
        let scan_path = path.clone();
        let content = match tokio::task::spawn_blocking(move || wire_format::scan_file(&scan_path)).await {
            Ok(Ok(content)) => content,
            Ok(Err(e)) => return vec![Outcome::Temporary(format!("4.3.0 cannot read the message: {e}")); items.len()],
            Err(e) => return vec![Outcome::Temporary(format!("4.3.0 cannot scan the message: {e}")); items.len()],
        };
        let env = Envelope {
            sender: &first.sender,
            recipients: &recipients,
            size,
            eight_bit: content.eight_bit,
            smtputf8: needs_smtputf8(&first.sender, &recipients, &first.params, content.header_eight_bit),
        };
        let mut last_error = String::from("no host to try");
        for host in hosts {
            for ip in &host.addrs {
                let file = match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    Err(e) => return vec![Outcome::Temporary(format!("4.3.0 cannot read the message: {e}")); items.len()],
                };
                let addr = SocketAddr::new(*ip, port);
                match outbound::deliver(addr, &host.host, &self.client, &env, tokio::io::BufReader::new(file)).await {
                    Attempt::Done(outcomes) => {
                        tracing::info!(target: "mailman", "{}: session with {} [{addr}] done", first.fid, host.host);
                        let mut mapped: Vec<Outcome> = outcomes.into_iter().map(|o| outcome(o, &host.host)).collect();
                        mapped.resize(items.len(), Outcome::Temporary("4.4.2 no reply for this recipient".into()));
                        return mapped;
                    }
                    Attempt::HostFailed(why) => {
                        tracing::info!(target: "mailman", "{}: {} [{addr}]: {why}", first.fid, host.host);
                        last_error = format!("{} [{addr}]: {why}", host.host);
                    }
                }
            }
        }
        vec![Outcome::Temporary(format!("4.4.1 {last_error}")); items.len()]
    }
}

fn outcome(o: RcptOutcome, host: &str) -> Outcome {
    match o {
        RcptOutcome::Delivered(_) => Outcome::Delivered,
        RcptOutcome::Temporary(reply) => Outcome::Temporary(format!("{reply} (from {host})")),
        RcptOutcome::Permanent(reply) => {
            let status = super::dsn::status_from_reply(&reply, true);
            Outcome::permanent(&status, reply, Some(host.to_string()))
        }
    }
}

/// Whether the next hop must support SMTPUTF8 (RFC 6531): an address is
/// not ASCII, or the client asked for SMTPUTF8 and the header has UTF-8.
/// The client's parameter alone does not count: an all-ASCII message goes
/// to any server, as Postfix sends it (`smtputf8_enable` autodetection).
fn needs_smtputf8(sender: &str, recipients: &[String], params: &str, header_eight_bit: bool) -> bool {
    let asked = params.split(' ').any(|p| p == "SMTPUTF8");
    !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii()) || (asked && header_eight_bit)
}

/// Relays a message may have passed before it is taken for a loop
/// (Postfix's hopcount_limit).
const MAX_HOPS: usize = 50;

/// How many Received fields the message's header has.
fn received_headers(path: &std::path::Path) -> std::io::Result<usize> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)?.take(256 * 1024).read_to_end(&mut head)?;
    let header = super::dsn::headers_of(&head);
    Ok(header.split(|&b| b == b'\n').filter(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case(b"received:")).count())
}

fn target_name(t: &Target) -> &str {
    match t {
        Target::Domain(d) => d,
        Target::Smarthost(h) => h,
    }
}

/// Split a smarthost spec; the port defaults to 25.
fn split_host_port(spec: &str) -> Option<(String, u16)> {
    let spec = spec.trim();
    if let Some(rest) = spec.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 25,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    if spec.parse::<IpAddr>().is_ok() {
        return Some((spec.to_string(), 25));
    }
    match spec.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_string(), port.parse().ok()?)),
        Some(_) => None,
        None if !spec.is_empty() => Some((spec.to_string(), 25)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn received_headers_are_counted_in_the_header_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(&path, b"Received: a\r\nreceived: b\r\n\tmore\r\nSubject: x\r\n\r\nReceived: in the body\r\n").unwrap();
        assert_eq!(super::received_headers(&path).unwrap(), 2);
    }

    #[test]
    fn smtputf8_is_needed_only_for_utf8_addresses_or_asked_utf8_headers() {
        use super::needs_smtputf8;
        let ascii = ["bob@far.test".to_string()];
        assert!(!needs_smtputf8("a@b.test", &ascii, "SIZE=9 SMTPUTF8", false), "asked, but nothing needs it");
        assert!(needs_smtputf8("a@b.test", &ascii, "SMTPUTF8", true));
        assert!(!needs_smtputf8("a@b.test", &ascii, "BODY=8BITMIME", true), "legacy 8-bit header, not asked");
        assert!(needs_smtputf8("j\u{f6}rg@b.test", &ascii, "", false));
        assert!(needs_smtputf8("", &["\u{e9}@far.test".to_string()], "SMTPUTF8", false));
    }

    #[test]
    fn smarthost_specs() {
        assert_eq!(split_host_port("mail.example.org"), Some(("mail.example.org".into(), 25)));
        assert_eq!(split_host_port("mail.example.org:2525"), Some(("mail.example.org".into(), 2525)));
        assert_eq!(split_host_port("127.0.0.1:26"), Some(("127.0.0.1".into(), 26)));
        assert_eq!(split_host_port("[::1]:2526"), Some(("::1".into(), 2526)));
        assert_eq!(split_host_port("::1"), Some(("::1".into(), 25)));
        assert_eq!(split_host_port("host:port"), None);
        assert_eq!(split_host_port(""), None);
    }
}
