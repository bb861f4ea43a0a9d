//! Where to deliver a domain's mail: MX lookup per RFC 5321 §5.1, null MX
//! per RFC 7505, domain literals per RFC 5321 §4.1.3.
//!
//! The result is an ordered list of [`Target`]s the caller tries in turn.
//! Errors are split into [`RouteError::Permanent`] (bounce now) and
//! [`RouteError::Temporary`] (keep the message queued and retry later),
//! because that split is the only thing the queue needs to decide.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::{Name, ResolveError, ResolveErrorKind};

/// The DNS resolver type routing works with.
pub type Resolver = hickory_resolver::TokioResolver;

/// One host to try, with the addresses to connect to (in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// MX host name in ASCII (punycode), lower-case, no trailing dot; or the
    /// address text for a literal.
    /// Used as the TLS server name and in DSNs (Remote-MTA).
    pub host: String,
    pub preference: u16,
    pub addrs: Vec<IpAddr>,
}

/// Why no route could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The domain cannot receive mail; retrying will not help.
    #[error("{0}")]
    Permanent(String),
    /// DNS trouble or an unusable MX set; try again later.
    #[error("{0}")]
    Temporary(String),
}

/// What one DNS query told us, once errors are sorted by meaning.
enum Answer<T> {
    Found(Vec<T>),
    /// NOERROR with no records of the asked type.
    NoData,
    /// The name does not exist at all.
    NxDomain,
}

/// Builds a resolver. With `nameserver`, only that server is asked (UDP,
/// then TCP on the same port), which is what tests and operators with a
/// local validating resolver want. Without, `/etc/resolv.conf` is used,
/// falling back to hickory's default servers when it cannot be read so
/// that a broken resolv.conf degrades instead of stopping delivery.
pub fn resolver(nameserver: Option<SocketAddr>) -> Result<Resolver, RouteError> {
    let provider = TokioConnectionProvider::default();
    let Some(addr) = nameserver else {
        let builder = match Resolver::builder_tokio() {
            Ok(builder) => builder,
            Err(e) => {
                tracing::warn!("cannot read system DNS configuration ({e}); using defaults");
                Resolver::builder_with_config(ResolverConfig::default(), provider)
            }
        };
        return Ok(builder.build());
    };
    let group = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
    let config = ResolverConfig::from_parts(None, vec![], group);
    let mut builder = Resolver::builder_with_config(config, provider);
    let opts = builder.options_mut();
    // Short and few: a slow DNS server should defer mail, not stall a worker.
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 2;
    // A small cache keeps answers fresh when tests or operators change zones.
    opts.cache_size = 32;
    opts.use_hosts_file = ResolveHosts::Never;
    Ok(builder.build())
}

/// Finds the hosts that accept mail for `domain`, best first.
///
/// `ignore_mx` lists MX host names never to use (e.g. known-broken hosts);
/// `force_ipv4` skips AAAA lookups for hosts without IPv6 connectivity.
///
/// When MX records exist but every host is ignored or resolves to nothing,
/// the error is *Temporary*: an operator's ignore list or a passing DNS
/// glitch for the MX hosts should delay mail, not bounce it instantly.
pub async fn route(
    resolver: &Resolver,
    domain: &str,
    ignore_mx: &[String],
    force_ipv4: bool,
) -> Result<Vec<Target>, RouteError> {
    if let Some(literal) = parse_literal(domain) {
        let ip = literal?;
        let host = ip.to_string();
        return Ok(vec![Target {
            host,
            preference: 0,
            addrs: vec![ip],
        }]);
    }
    let name = fqdn(domain)?;
    match mx_records(resolver, &name, domain).await? {
        Answer::NxDomain => Err(RouteError::Permanent(format!("no such domain {domain}"))),
        Answer::NoData => implicit_mx(resolver, &name, domain, force_ipv4).await,
        Answer::Found(mx) => mx_targets(resolver, mx, domain, ignore_mx, force_ipv4).await,
    }
}

/// Recognises `[1.2.3.4]` and `[IPv6:...]` (RFC 5321 §4.1.3). Returns None
/// when `domain` is not a literal, so the caller goes on to DNS.
fn parse_literal(domain: &str) -> Option<Result<IpAddr, RouteError>> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    let bad = || RouteError::Permanent(format!("invalid address literal {domain}"));
    let parsed = match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner[5..]
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| bad()),
        _ => inner.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| bad()),
    };
    Some(parsed)
}

/// A fully qualified name, so resolv.conf search domains never apply to
/// mail domains.
fn fqdn(domain: &str) -> Result<Name, RouteError> {
    let trimmed = domain.trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(RouteError::Permanent("empty domain".into()));
    }
    Name::from_utf8(format!("{trimmed}."))
        .map_err(|e| RouteError::Permanent(format!("invalid domain {domain}: {e}")))
}

/// Host names as compared with the ignore list: lower-case, no final dot.
fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// An ignore-list entry in the form MX names are compared in: ASCII
/// (punycode for IDNs), lower-case, no final dot.
fn ignore_key(host: &str) -> String {
    match fqdn(host) {
        Ok(name) => normalise_host(&name.to_ascii()),
        Err(_) => normalise_host(host),
    }
}

/// Sorts DNS errors into "does not exist", "exists but empty" and
/// "could not find out" (the last becomes a Temporary error).
fn classify<T>(result: Result<Vec<T>, ResolveError>, name: &str) -> Result<Answer<T>, RouteError> {
    let err = match result {
        Ok(found) if found.is_empty() => return Ok(Answer::NoData),
        Ok(found) => return Ok(Answer::Found(found)),
        Err(err) => err,
    };
    let ResolveErrorKind::Proto(proto) = err.kind() else {
        return Err(RouteError::Temporary(format!(
            "DNS lookup for {name} failed: {err}"
        )));
    };
    match proto.kind() {
        ProtoErrorKind::NoRecordsFound {
            response_code: ResponseCode::NXDomain,
            ..
        } => Ok(Answer::NxDomain),
        ProtoErrorKind::NoRecordsFound {
            response_code: ResponseCode::NoError,
            ..
        } => Ok(Answer::NoData),
        ProtoErrorKind::NoRecordsFound { response_code, .. } => Err(RouteError::Temporary(
            format!("DNS lookup for {name} failed: server answered {response_code}"),
        )),
        ProtoErrorKind::Timeout => Err(RouteError::Temporary(format!(
            "DNS lookup for {name} timed out"
        ))),
        _ => Err(RouteError::Temporary(format!(
            "DNS lookup for {name} failed: {err}"
        ))),
    }
}

/// MX records as (preference, host without trailing dot); the root name
/// "." is kept as "" so null MX can be recognised.
async fn mx_records(
    resolver: &Resolver,
    name: &Name,
    domain: &str,
) -> Result<Answer<(u16, String)>, RouteError> {
    let result = resolver.mx_lookup(name.clone()).await.map(|lookup| {
        lookup
            .iter()
            .map(|mx| (mx.preference(), normalise_host(&mx.exchange().to_ascii())))
            .collect::<Vec<_>>()
    });
    classify(result, domain)
}

/// Turns MX records into targets: null MX check, stable sort by
/// preference (ties keep answer order, which DNS servers already rotate),
/// ignore list, address lookup.
async fn mx_targets(
    resolver: &Resolver,
    mut mx: Vec<(u16, String)>,
    domain: &str,
    ignore_mx: &[String],
    force_ipv4: bool,
) -> Result<Vec<Target>, RouteError> {
    if mx.len() == 1 && mx[0].1.is_empty() {
        return Err(RouteError::Permanent(
            "domain does not accept mail (null MX)".into(),
        ));
    }
    mx.sort_by_key(|(preference, _)| *preference);
    let ignored: Vec<String> = ignore_mx.iter().map(|h| ignore_key(h)).collect();
    let mut targets = Vec::new();
    for (preference, host) in mx {
        // A stray "." among real MX records is unusable; skip it (RFC 7505 §3).
        if host.is_empty() || ignored.contains(&host) {
            continue;
        }
        let addrs = addresses(resolver, &host, force_ipv4).await;
        if addrs.is_empty() {
            tracing::debug!("MX host {host} for {domain} has no usable address");
            continue;
        }
        targets.push(Target {
            host,
            preference,
            addrs,
        });
    }
    if targets.is_empty() {
        return Err(RouteError::Temporary(format!(
            "no usable MX host for {domain} (all ignored or without addresses)"
        )));
    }
    Ok(targets)
}

/// Addresses of an MX host, IPv4 first (a host with broken IPv6 routing
/// then costs no connect timeout). Lookup failures count as "no address":
/// the caller decides what an empty list means.
async fn addresses(resolver: &Resolver, host: &str, force_ipv4: bool) -> Vec<IpAddr> {
    let Ok(name) = fqdn(host) else {
        return Vec::new();
    };
    match lookup_addrs(resolver, &name, host, force_ipv4).await {
        Ok(Answer::Found(addrs)) => addrs,
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::debug!("address lookup for MX host {host}: {e}");
            Vec::new()
        }
    }
}

/// A and (unless `force_ipv4`) AAAA lookups, merged. NXDOMAIN only when
/// both agree; a temporary error wins only when nothing was found.
async fn lookup_addrs(
    resolver: &Resolver,
    name: &Name,
    host: &str,
    force_ipv4: bool,
) -> Result<Answer<IpAddr>, RouteError> {
    let v4 = async {
        let result = resolver.ipv4_lookup(name.clone()).await;
        classify(
            result.map(|l| l.iter().map(|a| IpAddr::V4(a.0)).collect()),
            host,
        )
    };
    let v6 = async {
        if force_ipv4 {
            return Ok(Answer::NoData);
        }
        let result = resolver.ipv6_lookup(name.clone()).await;
        classify(
            result.map(|l| l.iter().map(|a| IpAddr::V6(a.0)).collect()),
            host,
        )
    };
    let (v4, v6) = tokio::join!(v4, v6);
    merge_answers(v4, v6)
}

/// Combines the A and AAAA answers of one name.
fn merge_answers(
    v4: Result<Answer<IpAddr>, RouteError>,
    v6: Result<Answer<IpAddr>, RouteError>,
) -> Result<Answer<IpAddr>, RouteError> {
    let mut addrs = Vec::new();
    let mut nx = 0;
    let mut error = None;
    for answer in [v4, v6] {
        match answer {
            Ok(Answer::Found(found)) => addrs.extend(found),
            Ok(Answer::NxDomain) => nx += 1,
            Ok(Answer::NoData) => {}
            Err(e) => error = Some(e),
        }
    }
    match (addrs.is_empty(), error) {
        (false, _) => Ok(Answer::Found(addrs)),
        (true, Some(e)) => Err(e),
        (true, None) if nx > 0 => Ok(Answer::NxDomain),
        (true, None) => Ok(Answer::NoData),
    }
}

/// RFC 5321 §5.1: without MX records the domain itself is the mail host.
async fn implicit_mx(
    resolver: &Resolver,
    name: &Name,
    domain: &str,
    force_ipv4: bool,
) -> Result<Vec<Target>, RouteError> {
    match lookup_addrs(resolver, name, domain, force_ipv4).await? {
        Answer::Found(addrs) => {
            let host = normalise_host(&name.to_ascii());
            Ok(vec![Target {
                host,
                preference: 0,
                addrs,
            }])
        }
        Answer::NxDomain => Err(RouteError::Permanent(format!("no such domain {domain}"))),
        Answer::NoData => Err(RouteError::Permanent("no MX or address records".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Arc;
    use tokio::net::UdpSocket;

    #[derive(Clone)]
    enum Rec {
        Mx(u16, &'static str),
        A([u8; 4]),
        Aaaa(Ipv6Addr),
    }

    type Zone = HashMap<&'static str, Vec<Rec>>;

    fn zone() -> Zone {
        let mut z: Zone = HashMap::new();
        z.insert(
            "example.org",
            vec![
                Rec::Mx(20, "mx2.example.org"),
                Rec::Mx(10, "mx1.example.org"),
                Rec::Mx(30, "mx3.example.org"),
            ],
        );
        z.insert(
            "mx1.example.org",
            vec![
                Rec::A([192, 0, 2, 1]),
                Rec::Aaaa("2001:db8::1".parse().unwrap()),
            ],
        );
        z.insert("mx2.example.org", vec![Rec::A([192, 0, 2, 2])]);
        z.insert(
            "mx3.example.org",
            vec![Rec::Aaaa("2001:db8::3".parse().unwrap())],
        );
        z.insert("implicit.example.org", vec![Rec::A([192, 0, 2, 9])]);
        z.insert("nullmx.example.org", vec![Rec::Mx(0, "")]);
        z.insert("empty.example.org", vec![]);
        z.insert(
            "dangling.example.org",
            vec![Rec::Mx(10, "nowhere.example.org")],
        );
        z
    }

    /// Encodes a dotted name as DNS labels ("" is the root).
    fn encode_name(name: &str, out: &mut Vec<u8>) {
        for label in name.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }

    /// Parses the question; returns (lower-case name, qtype, end offset).
    fn question(q: &[u8]) -> Option<(String, u16, usize)> {
        let mut pos = 12;
        let mut labels = Vec::new();
        loop {
            let len = *q.get(pos)? as usize;
            pos += 1;
            if len == 0 {
                break;
            }
            labels.push(String::from_utf8_lossy(q.get(pos..pos + len)?).to_ascii_lowercase());
            pos += len;
        }
        let qtype = u16::from_be_bytes([*q.get(pos)?, *q.get(pos + 1)?]);
        Some((labels.join("."), qtype, pos + 4))
    }

    fn answer_rdata(rec: &Rec, qtype: u16) -> Option<Vec<u8>> {
        match (rec, qtype) {
            (Rec::Mx(pref, host), 15) => {
                let mut v = pref.to_be_bytes().to_vec();
                encode_name(host, &mut v);
                Some(v)
            }
            (Rec::A(ip), 1) => Some(ip.to_vec()),
            (Rec::Aaaa(ip), 28) => Some(ip.octets().to_vec()),
            _ => None,
        }
    }

    fn respond(q: &[u8], zone: &Zone) -> Option<Vec<u8>> {
        let (name, qtype, end) = question(q)?;
        let (rcode, rdatas) = match zone.get(name.as_str()) {
            None => (3u8, vec![]),
            Some(recs) => (
                0,
                recs.iter().filter_map(|r| answer_rdata(r, qtype)).collect(),
            ),
        };
        let mut r = q[..2].to_vec();
        r.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1]);
        r.extend_from_slice(&(rdatas.len() as u16).to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0]);
        r.extend_from_slice(&q[12..end]);
        for rdata in rdatas {
            r.extend_from_slice(&[0xc0, 12]);
            r.extend_from_slice(&qtype.to_be_bytes());
            r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            r.extend_from_slice(&rdata);
        }
        Some(r)
    }

    /// A tiny authoritative-ish DNS server on 127.0.0.1:<random>.
    async fn fake_dns() -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let zone = Arc::new(zone());
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                if let Some(resp) = respond(&buf[..n], &zone) {
                    let _ = sock.send_to(&resp, peer).await;
                }
            }
        });
        addr
    }

    async fn test_resolver() -> Resolver {
        resolver(Some(fake_dns().await)).unwrap()
    }

    #[test]
    fn literals() {
        let v4 = parse_literal("[192.0.2.7]").unwrap().unwrap();
        assert_eq!(v4, IpAddr::from([192, 0, 2, 7]));
        let v6 = parse_literal("[IPv6:2001:db8::5]").unwrap().unwrap();
        assert_eq!(v6, "2001:db8::5".parse::<IpAddr>().unwrap());
        assert_eq!(
            parse_literal("[ipv6:::1]").unwrap().unwrap(),
            "::1".parse::<IpAddr>().unwrap()
        );
        assert!(matches!(
            parse_literal("[::1]"),
            Some(Err(RouteError::Permanent(_)))
        ));
        assert!(matches!(
            parse_literal("[300.1.1.1]"),
            Some(Err(RouteError::Permanent(_)))
        ));
        assert!(parse_literal("example.org").is_none());
    }

    #[tokio::test]
    async fn literal_needs_no_dns() {
        // An unreachable name server proves no query is made.
        let r = resolver(Some("127.0.0.1:9".parse().unwrap())).unwrap();
        let t = route(&r, "[IPv6:::1]", &[], false).await.unwrap();
        assert_eq!(
            t,
            vec![Target {
                host: "::1".into(),
                preference: 0,
                addrs: vec!["::1".parse().unwrap()]
            }]
        );
    }

    #[tokio::test]
    async fn mx_sorted_by_preference() {
        let r = test_resolver().await;
        let t = route(&r, "example.org", &[], false).await.unwrap();
        let hosts: Vec<_> = t.iter().map(|t| (t.host.as_str(), t.preference)).collect();
        assert_eq!(
            hosts,
            [
                ("mx1.example.org", 10),
                ("mx2.example.org", 20),
                ("mx3.example.org", 30)
            ]
        );
        assert_eq!(
            t[0].addrs,
            [
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "2001:db8::1".parse().unwrap()
            ]
        );
    }

    #[tokio::test]
    async fn force_ipv4_drops_v6_only_hosts() {
        let r = test_resolver().await;
        let t = route(&r, "example.org", &[], true).await.unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].addrs, ["192.0.2.1".parse::<IpAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn ignore_list() {
        let r = test_resolver().await;
        let ignore = vec!["MX1.Example.org.".to_string()];
        let t = route(&r, "example.org", &ignore, false).await.unwrap();
        assert_eq!(t[0].host, "mx2.example.org");
        let all: Vec<String> = (1..=3).map(|i| format!("mx{i}.example.org")).collect();
        let err = route(&r, "example.org", &all, false).await.unwrap_err();
        assert!(matches!(err, RouteError::Temporary(_)), "{err:?}");
    }

    #[tokio::test]
    async fn implicit_mx() {
        let r = test_resolver().await;
        let t = route(&r, "implicit.example.org", &[], false).await.unwrap();
        assert_eq!(
            t,
            vec![Target {
                host: "implicit.example.org".into(),
                preference: 0,
                addrs: vec!["192.0.2.9".parse().unwrap()],
            }]
        );
    }

    #[tokio::test]
    async fn nxdomain_is_permanent() {
        let r = test_resolver().await;
        let err = route(&r, "nosuch.example.org", &[], false)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RouteError::Permanent("no such domain nosuch.example.org".into())
        );
    }

    #[tokio::test]
    async fn null_mx_is_permanent() {
        let r = test_resolver().await;
        let err = route(&r, "nullmx.example.org", &[], false)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RouteError::Permanent("domain does not accept mail (null MX)".into())
        );
    }

    #[tokio::test]
    async fn no_records_at_all_is_permanent() {
        let r = test_resolver().await;
        let err = route(&r, "empty.example.org", &[], false)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RouteError::Permanent("no MX or address records".into())
        );
    }

    #[tokio::test]
    async fn unresolvable_mx_is_temporary() {
        let r = test_resolver().await;
        let err = route(&r, "dangling.example.org", &[], false)
            .await
            .unwrap_err();
        assert!(matches!(err, RouteError::Temporary(_)), "{err:?}");
    }

    #[tokio::test]
    async fn dead_server_is_temporary() {
        // A bound but silent socket: queries time out.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let r = resolver(Some(silent.local_addr().unwrap())).unwrap();
        let err = route(&r, "example.org", &[], false).await.unwrap_err();
        assert_eq!(
            err,
            RouteError::Temporary("DNS lookup for example.org timed out".into())
        );
    }
}
