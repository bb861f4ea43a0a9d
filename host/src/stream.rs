//! The byte stream a protocol session talks over: plain TCP first, TLS after
//! STARTTLS or on an implicit-TLS port. Sessions hold a boxed stream so the
//! upgrade can swap what is underneath without changing the session's type,
//! every stream is counted for the service's bytes in/out, and every write
//! has a deadline (`WriteDeadline`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;

use crate::services::{Handler, ServiceStats, WhenFull};

pub trait SessionStream: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {
    /// The concrete stream, so [`tls_summary`] can see a TLS one.
    fn as_any(&self) -> &dyn std::any::Any;
}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static> SessionStream for T {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub type BoxStream = Box<dyn SessionStream>;

/// A stream that adds what passes through it to a service's counters.
pub struct Counted<S> {
    inner: S,
    stats: Arc<ServiceStats>,
}

impl<S> Counted<S> {
    pub fn new(inner: S, stats: Arc<ServiceStats>) -> Self {
        Counted { inner, stats }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.stats.add_received(buf.filled().len() - before);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = polled {
            self.stats.add_sent(n);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A stream whose writes and flushes fail with `TimedOut` once they have
/// made no progress for `limit`: a client that stops reading cannot hold
/// its session, and the replies queued for it, forever. Reads pass through
/// untouched (each protocol times them itself). It sits under TLS, so the
/// encrypted writes of STARTTLS and implicit-TLS sessions are covered too.
pub struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    /// Runs while a write waits; made on the first wait, re-armed on the next.
    stall: Option<Pin<Box<Sleep>>>,
    waiting: bool,
    /// Once it ran out every later write fails at once.
    expired: bool,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        WriteDeadline { inner, limit, stall: None, waiting: false, expired: false }
    }

    fn timed_out(&self) -> io::Error {
        let secs = self.limit.as_secs_f64();
        io::Error::new(io::ErrorKind::TimedOut, format!("client stopped reading: no write progress for {secs}s"))
    }

    /// Pass a ready result through (progress: the clock stops); on a wait,
    /// start the clock if it is not running and fail once it ran out.
    fn watch<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.waiting = false;
            return polled;
        }
        let deadline = Instant::now() + self.limit;
        let stall = self.stall.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.waiting {
            stall.as_mut().reset(deadline);
            self.waiting = true;
        }
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.expired = true;
                Poll::Ready(Err(self.timed_out()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if self.expired {
            return Poll::Ready(Err(self.timed_out()));
        }
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        self.watch(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.expired {
            return Poll::Ready(Err(self.timed_out()));
        }
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.expired {
            return Poll::Ready(Err(self.timed_out()));
        }
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, polled)
    }
}

/// A placeholder left in a session while its real stream is being upgraded.
fn detached() -> BoxStream {
    Box::new(tokio::io::duplex(1).0)
}

/// STARTTLS/STLS: put TLS under `io`. What the client sent after the
/// command in clear text sits in `io`'s buffer and is dropped with it, so it
/// cannot be injected into the encrypted session (CVE-2011-0411). On an
/// error (handshake failed or took longer than `timeout`, at most
/// [`HANDSHAKE_TIMEOUT`]: no one is logged in yet) `io` is left detached and
/// the session must end.
pub async fn upgrade(
    io: &mut tokio::io::BufReader<BoxStream>,
    config: Arc<rustls::ServerConfig>,
    timeout: Duration,
) -> io::Result<()> {
    let plain = std::mem::replace(io, tokio::io::BufReader::new(detached())).into_inner();
    let tls = tokio::time::timeout(timeout.min(HANDSHAKE_TIMEOUT), accept_tls(plain, config))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    *io = tokio::io::BufReader::new(tls);
    Ok(())
}

/// How long a client gets to finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// An accepted connection made ready for a protocol session: counted, its
/// writes under `write_limit`, and encrypted from the first byte when
/// `implicit_tls` is given (SMTPS, POP3S, IMAPS).
pub async fn open(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    stats: Arc<ServiceStats>,
    write_limit: Duration,
    implicit_tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<BoxStream, String> {
    let stream: BoxStream = Box::new(WriteDeadline::new(Counted::new(tcp, stats), write_limit));
    let Some(config) = implicit_tls else {
        return Ok(stream);
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept_tls(stream, config)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(format!("{}: TLS handshake failed: {e}", peer.ip())),
        Err(_) => Err(format!("{}: TLS handshake timed out", peer.ip())),
    }
}

/// How a line protocol's listener opens its connections.
pub struct Opening {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (SMTPS, POP3S, IMAPS).
    pub implicit_tls: bool,
    /// Sessions one client address may hold at once (`MaxConnectionsPerIP`,
    /// 0 = no limit): a single host cannot take every session slot.
    pub per_ip: u32,
    /// The protocol's way of saying "too many connections from your
    /// address" (one line).
    pub busy: &'static str,
    /// The protocol's way of saying "every session is taken" (one line),
    /// sent by the accept loop past the service's session cap.
    pub full: String,
    /// How long a write may make no progress (the protocol's timeout).
    pub write_limit: Duration,
}

impl Opening {
    /// What the accept loop does past the session cap: answer `full` and
    /// close. On an implicit-TLS port it just closes: a handshake only to
    /// say "busy" would spend CPU on exactly the flood that filled it.
    pub fn when_full(&self) -> WhenFull {
        WhenFull::Refuse((!self.implicit_tls).then(|| self.full.clone()))
    }
}

/// A service handler for a line protocol: each accepted connection is
/// checked against the per-address limit, opened (counted, writes under a
/// deadline, TLS first on implicit-TLS ports), then handed to `session`
/// with its peer address, whether it is already encrypted, and the
/// service's counters. An implicit-TLS listener without a TLS configuration
/// is refused here.
pub fn protocol_handler<F, Fut>(opening: Opening, session: F) -> io::Result<Handler>
where
    F: Fn(BoxStream, SocketAddr, bool, Arc<ServiceStats>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    if opening.implicit_tls && opening.tls.is_none() {
        return Err(io::Error::other("implicit TLS needs a TLS configuration"));
    }
    let session = Arc::new(session);
    let opening = Arc::new(opening);
    let per_ip = Arc::new(PerIp::default());
    let refusals = Arc::new(std::sync::Mutex::new(crate::log::Throttle::default()));
    Ok(Arc::new(move |tcp, peer, stats| {
        let (opening, session, per_ip, refusals) = (opening.clone(), session.clone(), per_ip.clone(), refusals.clone());
        Box::pin(async move {
            let ip = peer.ip();
            let Some(_slot) = per_ip.take(ip, opening.per_ip) else {
                stats.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(count) = refusals.lock().unwrap_or_else(|e| e.into_inner()).count() {
                    tracing::warn!(target: "svc", "over MaxConnectionsPerIP ({}): refused {count} connection(s) since the last report, the latest from {ip}", opening.per_ip);
                }
                if !opening.implicit_tls {
                    let mut tcp = tcp;
                    let _ = tokio::io::AsyncWriteExt::write_all(&mut tcp, format!("{}\r\n", opening.busy).as_bytes()).await;
                }
                return Ok(());
            };
            let tls = opening.tls.clone().filter(|_| opening.implicit_tls);
            let stream = open(tcp, peer, stats.clone(), opening.write_limit, tls).await?;
            session(stream, peer, opening.implicit_tls, stats).await.map_err(|e| e.to_string())
        })
    }))
}

/// Sessions per client address.
#[derive(Default)]
pub struct PerIp(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, u32>>);

/// One session's place in the count; given back when dropped.
pub struct Slot {
    counts: Arc<PerIp>,
    ip: std::net::IpAddr,
}

impl PerIp {
    /// A place for one more session from `ip`, unless it holds `limit`
    /// already (0 = no limit).
    pub fn take(self: &Arc<Self>, ip: std::net::IpAddr, limit: u32) -> Option<Slot> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if limit > 0 && *n >= limit {
            return None;
        }
        *n += 1;
        Some(Slot { counts: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// What a TLS session negotiated, for a Received header (RFC 8314 §4.3):
/// "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"; None for a plain stream.
pub fn tls_summary(stream: &BoxStream) -> Option<String> {
    // `&**`: the boxed stream itself, not the Box (which is a SessionStream too).
    let tls = (**stream).as_any().downcast_ref::<tokio_rustls::server::TlsStream<BoxStream>>()?;
    let conn = tls.get_ref().1;
    let version = match conn.protocol_version()? {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    };
    let suite = conn.negotiated_cipher_suite()?.suite();
    let name = suite.as_str().map_or_else(|| format!("{suite:?}"), |n| n.replacen("TLS13_", "TLS_", 1));
    Some(format!("{version} with cipher {name}"))
}

/// Run the server side of a TLS handshake on `stream`.
pub async fn accept_tls(stream: BoxStream, config: Arc<rustls::ServerConfig>) -> io::Result<BoxStream> {
    let tls = TlsAcceptor::from(config).accept(stream).await?;
    Ok(Box::new(tls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn per_ip_slots_are_counted_and_given_back() {
        let counts = Arc::new(PerIp::default());
        let ip: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        let a = counts.take(ip, 2).unwrap();
        let _b = counts.take(ip, 2).unwrap();
        assert!(counts.take(ip, 2).is_none());
        assert!(counts.take("192.0.2.2".parse().unwrap(), 2).is_some());
        drop(a);
        assert!(counts.take(ip, 2).is_some());
        assert!(counts.take(ip, 0).is_some(), "0 = no limit");
    }

    #[tokio::test]
    async fn a_write_that_makes_no_progress_times_out_and_stays_failed() {
        let (ours, _theirs) = tokio::io::duplex(16);
        let mut stream = WriteDeadline::new(ours, Duration::from_millis(50));
        let stuck = stream.write_all(&[b'x'; 64]).await.unwrap_err();
        assert_eq!(stuck.kind(), io::ErrorKind::TimedOut);
        assert!(stuck.to_string().contains("client stopped reading"), "{stuck}");
        let again = tokio::time::timeout(Duration::from_millis(10), stream.write_all(b"y")).await;
        assert_eq!(again.expect("fails at once").unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_slow_reader_that_keeps_reading_is_not_cut_off() {
        let (ours, mut theirs) = tokio::io::duplex(16);
        let mut stream = WriteDeadline::new(ours, Duration::from_millis(100));
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while got.len() < 160 {
                tokio::time::sleep(Duration::from_millis(30)).await;
                let n = theirs.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            got.len()
        });
        // Ten buffers' worth takes ~300 ms in all, but each 16 bytes move within 100 ms.
        stream.write_all(&[b'x'; 160]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 160);
    }

    #[test]
    fn a_full_plain_listener_answers_and_an_implicit_tls_one_just_closes() {
        let opening = |implicit_tls| Opening {
            tls: None,
            implicit_tls,
            per_ip: 0,
            busy: "",
            full: "* BYE [UNAVAILABLE] Too many connections".into(),
            write_limit: Duration::from_secs(1),
        };
        assert_eq!(opening(false).when_full(), WhenFull::Refuse(Some("* BYE [UNAVAILABLE] Too many connections".into())));
        assert_eq!(opening(true).when_full(), WhenFull::Refuse(None));
    }

    #[tokio::test]
    async fn counted_streams_add_to_the_service_counters() {
        let stats = Arc::new(ServiceStats::default());
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut counted: BoxStream = Box::new(Counted::new(ours, stats.clone()));
        counted.write_all(b"220 hello\r\n").await.unwrap();
        theirs.write_all(b"EHLO x\r\n").await.unwrap();
        let mut buf = [0u8; 8];
        counted.read_exact(&mut buf).await.unwrap();
        assert_eq!(stats.sent.load(Ordering::Relaxed), 11);
        assert_eq!(stats.received.load(Ordering::Relaxed), 8);
    }
}
