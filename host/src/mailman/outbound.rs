//! One SMTP client transaction to one host (RFC 5321), with opportunistic
//! STARTTLS (RFC 3207), PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME
//! (RFC 6152) and SMTPUTF8 (RFC 6531).
//!
//! [`deliver`] never fails as a function: it reports either a verdict per
//! recipient ([`Attempt::Done`]) or that this host could not be used at all
//! ([`Attempt::HostFailed`]), so the caller can simply try the next MX.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use super::wire_format::WireFormatter;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

/// Longest reply line we accept (RFC 5321 §4.5.3.1.5 says 512; servers
/// exceed it, so allow some slack but stay bounded).
const MAX_LINE: usize = 4096;
/// Most lines in one reply; more is a broken or hostile server.
const MAX_LINES: usize = 100;
/// Size of the buffer the message is streamed through.
const CHUNK: usize = 64 * 1024;

/// How the client behaves; one per process is typical.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Our name in EHLO/HELO (the server's ServerName).
    pub helo_name: String,
    pub connect_timeout: Duration,
    /// Limit for every command reply and every write.
    pub command_timeout: Duration,
    /// Limit for the reply after the final "." (servers scan mail then).
    pub data_timeout: Duration,
    /// Local address to connect from; ignored for the other address family.
    pub bind_address: Option<IpAddr>,
    /// With Some, STARTTLS is used whenever the server offers it.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// The SMTP envelope of one message.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// Reverse path; "" is the null sender (bounces).
    pub sender: &'a str,
    pub recipients: &'a [String],
    /// Message size in bytes, announced with SIZE.
    pub size: u64,
    /// The body has 8-bit data (BODY=8BITMIME when offered).
    pub eight_bit: bool,
    /// Addresses or headers need SMTPUTF8.
    pub smtputf8: bool,
}

/// The fate of one recipient. The text is the server's reply (multi-line
/// replies joined with spaces) or a local explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptOutcome {
    Delivered(String),
    Temporary(String),
    Permanent(String),
}

/// The result of one session with one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// One outcome per recipient, in envelope order.
    Done(Vec<RcptOutcome>),
    /// No transaction was completed with this host (connect failure,
    /// timeout, 4xx at greeting/EHLO/MAIL, broken TLS, lost connection):
    /// the caller should try the next host. A TLS handshake failure lands
    /// here too; a caller may retry that host later without TLS.
    HostFailed(String),
}

/// Why a session with a host was abandoned (becomes `HostFailed`).
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("connection lost during {0}: {1}")]
    Lost(&'static str, String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("{0} rejected: {1}")]
    Rejected(&'static str, String),
}

/// How a transaction stops early: a host failure, or verdicts already known.
enum Stop {
    Failed(SessionError),
    Done(Vec<RcptOutcome>),
}

impl From<SessionError> for Stop {
    fn from(e: SessionError) -> Self {
        Stop::Failed(e)
    }
}

/// Builds a rustls config for opportunistic STARTTLS, like Postfix's `may`
/// level: any certificate is accepted (MX certificates are routinely
/// self-signed or name the wrong host, and refusing them would only push
/// mail to plaintext), but handshake signatures are still verified so the
/// session really is encrypted to whoever holds the presented key. This
/// protects against passive eavesdropping only, not an active attacker.
pub fn opportunistic_tls() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCertificate(provider.signature_verification_algorithms));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts any certificate chain and name; checks handshake signatures.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Runs one SMTP transaction with the host at `addr`. `server_name` is the
/// MX host name, used for TLS SNI (the IP address is used when it is not a
/// valid DNS name). `message` is streamed, never loaded whole.
pub async fn deliver(
    addr: SocketAddr,
    server_name: &str,
    cfg: &ClientConfig,
    env: &Envelope<'_>,
    message: impl AsyncRead + Unpin,
) -> Attempt {
    if env.recipients.is_empty() {
        return Attempt::Done(Vec::new());
    }
    let mut conn = match connect(addr, cfg).await {
        Ok(conn) => conn,
        Err(e) => return Attempt::HostFailed(e.to_string()),
    };
    let result = transaction(&mut conn, addr, server_name, cfg, env, message).await;
    conn.quit().await;
    match result {
        Ok(outcomes) | Err(Stop::Done(outcomes)) => Attempt::Done(outcomes),
        Err(Stop::Failed(e)) => {
            tracing::debug!(%addr, "delivery attempt failed: {e}");
            Attempt::HostFailed(e.to_string())
        }
    }
}

/// Opens the TCP connection, from `bind_address` when it matches the family.
async fn connect(addr: SocketAddr, cfg: &ClientConfig) -> Result<Conn, SessionError> {
    let fail = |e: io::Error| SessionError::Connect(format!("{addr}: {e}"));
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    };
    let socket = socket.map_err(fail)?;
    if let Some(ip) = cfg.bind_address.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
        socket.bind(SocketAddr::new(ip, 0)).map_err(fail)?;
    }
    let tcp = timeout(cfg.connect_timeout, socket.connect(addr))
        .await
        .map_err(|_| SessionError::Timeout("connect"))?
        .map_err(fail)?;
    Ok(Conn::new(Box::new(tcp), cfg.command_timeout))
}

/// Everything from the greeting to the reply after DATA.
async fn transaction(
    conn: &mut Conn,
    addr: SocketAddr,
    server_name: &str,
    cfg: &ClientConfig,
    env: &Envelope<'_>,
    message: impl AsyncRead + Unpin,
) -> Result<Vec<RcptOutcome>, Stop> {
    let count = env.recipients.len();
    let greeting = conn.reply("greeting").await?;
    check(&greeting, "greeting", count)?;
    let mut caps = hello(conn, cfg, count).await?;
    if let (true, Some(tls)) = (caps.starttls, &cfg.tls) {
        caps = starttls(conn, tls, server_name, addr.ip(), cfg, count).await?;
    }
    if env.smtputf8 && !caps.smtputf8 {
        let text = format!("5.6.7 {server_name} does not support SMTPUTF8");
        return Err(Stop::Done(vec![RcptOutcome::Permanent(text); count]));
    }
    let (rcpt_replies, data_reply) = envelope(conn, &caps, env).await?;
    let mut outcomes: Vec<RcptOutcome> = rcpt_replies.iter().map(outcome).collect();
    let any_accepted = rcpt_replies.iter().any(|r| r.class() == 2);
    let Some(data_reply) = data_reply.filter(|_| any_accepted) else {
        return Ok(outcomes);
    };
    let verdict = data(conn, cfg, &data_reply, message).await?;
    for (slot, reply) in outcomes.iter_mut().zip(&rcpt_replies) {
        if reply.class() == 2 {
            *slot = verdict.clone();
        }
    }
    Ok(outcomes)
}

/// Maps a non-2xx reply at a session stage: 5xx fails every recipient,
/// anything else (4xx, stray codes) gives up on this host.
fn check(reply: &Reply, stage: &'static str, count: usize) -> Result<(), Stop> {
    match reply.class() {
        2 => Ok(()),
        5 => Err(Stop::Done(vec![
            RcptOutcome::Permanent(reply.text());
            count
        ])),
        _ => Err(SessionError::Rejected(stage, reply.text()).into()),
    }
}

/// EHLO, falling back to HELO (no extensions) when EHLO gets a 5xx.
async fn hello(conn: &mut Conn, cfg: &ClientConfig, count: usize) -> Result<Caps, Stop> {
    conn.send(&format!("EHLO {}\r\n", cfg.helo_name), "EHLO")
        .await?;
    let reply = conn.reply("EHLO").await?;
    if reply.class() != 5 {
        check(&reply, "EHLO", count)?;
        return Ok(Caps::parse(&reply));
    }
    conn.send(&format!("HELO {}\r\n", cfg.helo_name), "HELO")
        .await?;
    let reply = conn.reply("HELO").await?;
    check(&reply, "HELO", count)?;
    Ok(Caps::default())
}

/// STARTTLS and a fresh EHLO. A refused STARTTLS continues in plaintext
/// (opportunistic); a failed handshake gives up on the host.
async fn starttls(
    conn: &mut Conn,
    tls: &Arc<rustls::ClientConfig>,
    server_name: &str,
    ip: IpAddr,
    cfg: &ClientConfig,
    count: usize,
) -> Result<Caps, Stop> {
    conn.send("STARTTLS\r\n", "STARTTLS").await?;
    let reply = conn.reply("STARTTLS").await?;
    if reply.class() != 2 {
        tracing::debug!(
            "STARTTLS refused ({}); continuing without TLS",
            reply.text()
        );
        return hello(conn, cfg, count).await;
    }
    let name = ServerName::try_from(server_name.to_string())
        .unwrap_or_else(|_| ServerName::IpAddress(ip.into()));
    conn.upgrade(TlsConnector::from(Arc::clone(tls)), name)
        .await?;
    hello(conn, cfg, count).await
}

/// Sends MAIL, RCPTs and DATA (pipelined when offered) and collects the
/// replies. DATA is only sent when a recipient was accepted (or, when
/// pipelining, always, as RFC 2920 intends); its reply is None otherwise.
async fn envelope(
    conn: &mut Conn,
    caps: &Caps,
    env: &Envelope<'_>,
) -> Result<(Vec<Reply>, Option<Reply>), Stop> {
    let count = env.recipients.len();
    let mail = caps.mail_command(env);
    let rcpts: Vec<String> = env
        .recipients
        .iter()
        .map(|r| format!("RCPT TO:<{r}>\r\n"))
        .collect();
    if caps.pipelining {
        conn.send(&format!("{mail}{}DATA\r\n", rcpts.concat()), "MAIL FROM")
            .await?;
        let reply = conn.reply("MAIL FROM").await?;
        if reply.class() != 2 {
            conn.drain(count + 1).await;
        }
        check(&reply, "MAIL FROM", count)?;
        let mut replies = Vec::with_capacity(count);
        for _ in 0..count {
            replies.push(conn.reply("RCPT TO").await?);
        }
        let data = conn.reply("DATA").await?;
        if data.code == 354 && !replies.iter().any(|r| r.class() == 2) {
            // Never send "." for nobody: dropping the line aborts safely.
            conn.usable = false;
        }
        return Ok((replies, Some(data)));
    }
    conn.send(&mail, "MAIL FROM").await?;
    check(&conn.reply("MAIL FROM").await?, "MAIL FROM", count)?;
    let mut replies = Vec::with_capacity(count);
    for rcpt in &rcpts {
        conn.send(rcpt, "RCPT TO").await?;
        replies.push(conn.reply("RCPT TO").await?);
    }
    if !replies.iter().any(|r| r.class() == 2) {
        conn.reset().await;
        return Ok((replies, None));
    }
    conn.send("DATA\r\n", "DATA").await?;
    Ok((replies, Some(conn.reply("DATA").await?)))
}

/// Sends the message after DATA's reply and returns the verdict for every
/// accepted recipient.
async fn data(
    conn: &mut Conn,
    cfg: &ClientConfig,
    data_reply: &Reply,
    message: impl AsyncRead + Unpin,
) -> Result<RcptOutcome, Stop> {
    match data_reply.code {
        354 => {}
        _ if data_reply.class() >= 4 => return Ok(outcome(data_reply)),
        _ => return Err(SessionError::Protocol(format!("DATA got {}", data_reply.text())).into()),
    }
    if let Err(e) = send_message(conn, message).await {
        return match e {
            DataError::Local(e) => {
                // Never send "." after a partial message: drop the line.
                conn.usable = false;
                Ok(RcptOutcome::Temporary(format!(
                    "4.3.0 cannot read queued message: {e}"
                )))
            }
            DataError::Remote(e) => Err(e.into()),
        };
    }
    match conn
        .reply_within(cfg.data_timeout, "reply to end of data")
        .await
    {
        Ok(reply) => Ok(outcome(&reply)),
        // The server may have taken the message before the line died, so a
        // retry can duplicate it (RFC 1047); retrying is still the safe side.
        Err(e) => Ok(RcptOutcome::Temporary(format!(
            "4.4.2 {e}; the message may have been delivered"
        ))),
    }
}

/// Why streaming the message stopped.
enum DataError {
    /// Reading the queued message failed: our problem, not the host's.
    Local(io::Error),
    Remote(SessionError),
}

/// Streams the message through [`WireFormatter`] (CRLF line ends, lines
/// of at most 998 octets, dot-stuffing) and ends it with ".".
async fn send_message(
    conn: &mut Conn,
    mut message: impl AsyncRead + Unpin,
) -> Result<(), DataError> {
    let mut input = vec![0u8; CHUNK];
    let mut output = Vec::with_capacity(CHUNK + CHUNK / 2);
    let mut stuffer = WireFormatter::default();
    loop {
        let n = message.read(&mut input).await.map_err(DataError::Local)?;
        output.clear();
        if n == 0 {
            stuffer.finish(&mut output);
            output.extend_from_slice(b".\r\n");
            return conn
                .send_bytes(&output, "message data")
                .await
                .map_err(DataError::Remote);
        }
        stuffer.feed(&input[..n], &mut output);
        conn.send_bytes(&output, "message data")
            .await
            .map_err(DataError::Remote)?;
    }
}

/// The extensions we care about from an EHLO reply.
#[derive(Debug, Default)]
struct Caps {
    pipelining: bool,
    starttls: bool,
    size: bool,
    eight_bit_mime: bool,
    smtputf8: bool,
}

impl Caps {
    /// Reads keywords from every line after the first (the greeting).
    fn parse(reply: &Reply) -> Caps {
        let mut caps = Caps::default();
        for line in reply.lines.iter().skip(1) {
            let keyword = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => caps.pipelining = true,
                "STARTTLS" => caps.starttls = true,
                "SIZE" => caps.size = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                _ => {}
            }
        }
        caps
    }

    /// MAIL FROM with the parameters this server understands.
    fn mail_command(&self, env: &Envelope<'_>) -> String {
        let mut cmd = format!("MAIL FROM:<{}>", env.sender);
        if self.size {
            cmd.push_str(&format!(" SIZE={}", env.size));
        }
        if env.eight_bit && self.eight_bit_mime {
            cmd.push_str(" BODY=8BITMIME");
        }
        if env.smtputf8 && self.smtputf8 {
            cmd.push_str(" SMTPUTF8");
        }
        cmd.push_str("\r\n");
        cmd
    }
}

/// A complete server reply.
#[derive(Debug, Clone)]
struct Reply {
    code: u16,
    /// Text of each line, without the code and separator.
    lines: Vec<String>,
}

impl Reply {
    fn class(&self) -> u16 {
        self.code / 100
    }

    /// "550 5.1.1 No such user", lines joined with spaces.
    fn text(&self) -> String {
        let mut text = self.code.to_string();
        for line in self
            .lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
        {
            text.push(' ');
            text.push_str(line);
        }
        text
    }
}

/// A recipient's fate from a reply's class.
fn outcome(reply: &Reply) -> RcptOutcome {
    match reply.class() {
        2 => RcptOutcome::Delivered(reply.text()),
        5 => RcptOutcome::Permanent(reply.text()),
        _ => RcptOutcome::Temporary(reply.text()),
    }
}

/// Splits "250-text" / "250 text" / "250" into (code, is_last, text).
fn parse_line(line: &str) -> Result<(u16, bool, String), SessionError> {
    let bad = || SessionError::Protocol(format!("malformed reply line {:?}", truncate(line)));
    let code = line
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(bad)?;
    let code: u16 = code.parse().map_err(|_| bad())?;
    if !(200..600).contains(&code) {
        return Err(bad());
    }
    let last = match line.as_bytes().get(3) {
        None | Some(b' ') => true,
        Some(b'-') => false,
        Some(_) => return Err(bad()),
    };
    Ok((code, last, line.get(4..).unwrap_or("").to_string()))
}

/// Shortens hostile input before it goes into an error message.
fn truncate(s: &str) -> &str {
    s.char_indices().nth(80).map_or(s, |(i, _)| &s[..i])
}

/// The connection, plain or TLS, read through one buffer.
struct Conn {
    io: BufReader<Stream>,
    wait: Duration,
    /// False once the connection is broken or mid-DATA: no QUIT then.
    usable: bool,
}

impl Conn {
    fn new(stream: Stream, wait: Duration) -> Conn {
        Conn {
            io: BufReader::new(stream),
            wait,
            usable: true,
        }
    }

    async fn send(&mut self, cmd: &str, what: &'static str) -> Result<(), SessionError> {
        self.send_bytes(cmd.as_bytes(), what).await
    }

    async fn send_bytes(&mut self, bytes: &[u8], what: &'static str) -> Result<(), SessionError> {
        let io = self.io.get_mut();
        let result = timeout(self.wait, async {
            io.write_all(bytes).await?;
            io.flush().await
        })
        .await;
        self.check_io(result, what)
    }

    async fn reply(&mut self, what: &'static str) -> Result<Reply, SessionError> {
        self.reply_within(self.wait, what).await
    }

    async fn reply_within(
        &mut self,
        wait: Duration,
        what: &'static str,
    ) -> Result<Reply, SessionError> {
        let result = timeout(wait, read_reply(&mut self.io, what)).await;
        let result = result.unwrap_or(Err(SessionError::Timeout(what)));
        if result.is_err() {
            self.usable = false;
        }
        result
    }

    fn check_io<T>(
        &mut self,
        result: Result<io::Result<T>, tokio::time::error::Elapsed>,
        what: &'static str,
    ) -> Result<T, SessionError> {
        let result = match result {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => SessionError::Lost(what, e.to_string()),
            Err(_) => SessionError::Timeout(what),
        };
        self.usable = false;
        Err(result)
    }

    /// Reads and discards up to `n` pipelined replies after a failure.
    async fn drain(&mut self, n: usize) {
        for _ in 0..n {
            match self.reply("pipelined reply").await {
                Ok(reply) if reply.code == 354 => self.usable = false,
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }

    async fn reset(&mut self) {
        if self.send("RSET\r\n", "RSET").await.is_ok() {
            let _ = self.reply("RSET").await;
        }
    }

    /// Polite goodbye; the reply does not matter.
    async fn quit(&mut self) {
        if self.usable && self.send("QUIT\r\n", "QUIT").await.is_ok() {
            let _ = self.reply("QUIT").await;
        }
        let _ = timeout(self.wait, self.io.get_mut().shutdown()).await;
    }

    /// Replaces the plain stream with TLS. Bytes already buffered after the
    /// STARTTLS reply would be plaintext injected before the handshake
    /// (CVE-2011-0411 style), so they end the session.
    async fn upgrade(
        &mut self,
        connector: TlsConnector,
        name: ServerName<'static>,
    ) -> Result<(), SessionError> {
        // Until the handshake succeeds nothing more may be said in plaintext.
        self.usable = false;
        if !self.io.buffer().is_empty() {
            return Err(SessionError::Protocol(
                "data sent before TLS handshake".into(),
            ));
        }
        let placeholder: Stream = Box::new(tokio::io::empty());
        let plain = std::mem::replace(&mut self.io, BufReader::new(placeholder)).into_inner();
        let tls = match timeout(self.wait, connector.connect(name, plain)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return Err(SessionError::Tls(e.to_string())),
            Err(_) => return Err(SessionError::Timeout("TLS handshake")),
        };
        self.io = BufReader::new(Box::new(tls));
        self.usable = true;
        Ok(())
    }
}

/// Reads one (possibly multi-line) reply with the line and count limits.
async fn read_reply(io: &mut BufReader<Stream>, what: &'static str) -> Result<Reply, SessionError> {
    let mut lines = Vec::new();
    let mut code = None;
    while lines.len() < MAX_LINES {
        let line = read_line(io, what).await?;
        let (this, last, text) = parse_line(&line)?;
        if code.is_some_and(|c| c != this) {
            return Err(SessionError::Protocol(format!(
                "reply codes differ in {what}"
            )));
        }
        code = Some(this);
        lines.push(text);
        if last {
            return Ok(Reply { code: this, lines });
        }
    }
    Err(SessionError::Protocol(format!(
        "reply to {what} has more than {MAX_LINES} lines"
    )))
}

/// One CRLF- (or LF-) terminated line, at most MAX_LINE bytes.
async fn read_line(io: &mut BufReader<Stream>, what: &'static str) -> Result<String, SessionError> {
    let mut buf = Vec::new();
    let limit = (MAX_LINE + 2) as u64;
    let n = io.take(limit).read_until(b'\n', &mut buf).await;
    let n = n.map_err(|e| SessionError::Lost(what, e.to_string()))?;
    if !buf.ends_with(b"\n") {
        return Err(match n as u64 {
            0 => SessionError::Lost(what, "connection closed by server".into()),
            n if n == limit => {
                SessionError::Protocol(format!("reply line longer than {MAX_LINE} bytes"))
            }
            _ => SessionError::Lost(what, "connection closed mid-reply".into()),
        });
    }
    let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    Ok(String::from_utf8_lossy(text).into_owned())
}

/// Plain TCP or TLS behind one type, so the session code is written once.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}
type Stream = Box<dyn Transport>;

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;
    use tokio_rustls::TlsAcceptor;

    /// What the fake server answers.
    struct Script {
        greeting: &'static str,
        caps: &'static [&'static str],
        ehlo: Option<&'static str>,
        mail: &'static str,
        rcpts: &'static [&'static str],
        /// None: drop the connection after the final ".".
        end_of_data: Option<&'static str>,
        tls: Option<Arc<rustls::ServerConfig>>,
    }

    impl Default for Script {
        fn default() -> Self {
            Script {
                greeting: "220 fake.test ESMTP",
                caps: &["PIPELINING", "SIZE 1000000", "8BITMIME"],
                ehlo: None,
                mail: "250 2.1.0 OK",
                rcpts: &[],
                end_of_data: Some("250 2.0.0 queued as 42"),
                tls: None,
            }
        }
    }

    /// What the fake server saw.
    #[derive(Debug, Default)]
    struct Log {
        commands: Vec<String>,
        data: Vec<u8>,
        data_over_tls: bool,
        pipelined: bool,
    }

    async fn say<S: AsyncWrite + Unpin>(io: &mut S, text: &str) {
        io.write_all(format!("{text}\r\n").as_bytes())
            .await
            .unwrap();
        io.flush().await.unwrap();
    }

    async fn server(script: Script) -> (SocketAddr, JoinHandle<Log>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut log = Log::default();
            let mut io = BufReader::new(tcp);
            say(&mut io, script.greeting).await;
            if script.greeting.starts_with('2') && serve(&mut io, &script, &mut log, false).await {
                let acceptor = TlsAcceptor::from(script.tls.clone().unwrap());
                let tls = acceptor.accept(io.into_inner()).await.unwrap();
                serve(&mut BufReader::new(tls), &script, &mut log, true).await;
            }
            log
        });
        (addr, handle)
    }

    /// A scripted SMTP server loop; true when the client asked for TLS.
    async fn serve<S>(io: &mut BufReader<S>, s: &Script, log: &mut Log, tls: bool) -> bool
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (mut mail_ok, mut rcpt_index, mut accepted) = (false, 0, 0);
        loop {
            let mut line = String::new();
            if io.read_line(&mut line).await.unwrap_or(0) == 0 {
                return false;
            }
            let cmd = line.trim_end().to_string();
            log.commands.push(cmd.clone());
            let verb = cmd
                .split([' ', ':'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" => s.ehlo.map(String::from).unwrap_or_else(|| ehlo(s, tls)),
                "HELO" => "250 fake.test".into(),
                "STARTTLS" => {
                    say(io, "220 2.0.0 go ahead").await;
                    return true;
                }
                "MAIL" => {
                    log.pipelined |= !io.buffer().is_empty();
                    mail_ok = s.mail.starts_with('2');
                    s.mail.into()
                }
                "RCPT" if !mail_ok => "503 5.5.1 MAIL first".into(),
                "RCPT" => {
                    let reply = s.rcpts.get(rcpt_index).copied().unwrap_or("250 2.1.5 OK");
                    rcpt_index += 1;
                    accepted += usize::from(reply.starts_with('2'));
                    reply.into()
                }
                "DATA" if accepted == 0 => "554 5.5.1 no valid recipients".into(),
                "DATA" => {
                    say(io, "354 go ahead").await;
                    log.data = read_data(io).await;
                    log.data_over_tls = tls;
                    match s.end_of_data {
                        Some(reply) => reply.into(),
                        None => return false,
                    }
                }
                "RSET" => "250 2.0.0 OK".into(),
                "QUIT" => {
                    say(io, "221 2.0.0 bye").await;
                    return false;
                }
                _ => "500 5.5.2 what?".into(),
            };
            say(io, &reply).await;
        }
    }

    fn ehlo(s: &Script, tls: bool) -> String {
        let mut caps: Vec<&str> = s.caps.to_vec();
        if s.tls.is_some() && !tls {
            caps.push("STARTTLS");
        }
        let mut reply = String::from("250-fake.test hello");
        for cap in caps {
            reply.push_str(&format!("\r\n250-{cap}"));
        }
        reply.push_str("\r\n250 HELP");
        reply
    }

    /// Raw bytes up to (not including) the ".\r\n" terminator.
    async fn read_data<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> Vec<u8> {
        let mut data = Vec::new();
        loop {
            let mut line = Vec::new();
            if io.read_until(b'\n', &mut line).await.unwrap() == 0 || line == b".\r\n" {
                return data;
            }
            data.extend_from_slice(&line);
        }
    }

    fn config(tls: bool) -> ClientConfig {
        ClientConfig {
            helo_name: "client.test".into(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
            data_timeout: Duration::from_secs(5),
            bind_address: None,
            tls: tls.then(|| opportunistic_tls().unwrap()),
        }
    }

    fn rcpts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("user{i}@dest.test")).collect()
    }

    fn envelope(recipients: &[String]) -> Envelope<'_> {
        Envelope {
            sender: "sender@src.test",
            recipients,
            size: 20,
            eight_bit: true,
            smtputf8: false,
        }
    }

    async fn run(script: Script, tls: bool, env: &Envelope<'_>, msg: &[u8]) -> (Attempt, Log) {
        let (addr, handle) = server(script).await;
        let attempt = deliver(addr, "mx.test", &config(tls), env, msg).await;
        (attempt, handle.await.unwrap())
    }

    fn delivered(n: usize) -> Attempt {
        Attempt::Done(vec![
            RcptOutcome::Delivered("250 2.0.0 queued as 42".into());
            n
        ])
    }

    #[tokio::test]
    async fn pipelined_success() {
        let r = rcpts(2);
        let (attempt, log) = run(
            Script::default(),
            false,
            &envelope(&r),
            b"Subject: hi\r\n\r\nbody\r\n",
        )
        .await;
        assert_eq!(attempt, delivered(2));
        assert!(log.pipelined, "{log:?}");
        assert_eq!(
            log.commands[1],
            "MAIL FROM:<sender@src.test> SIZE=20 BODY=8BITMIME"
        );
        assert_eq!(log.commands[2], "RCPT TO:<user1@dest.test>");
        assert_eq!(log.data, b"Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(log.commands.last().unwrap(), "QUIT");
    }

    #[tokio::test]
    async fn per_recipient_replies() {
        let script = Script {
            caps: &[],
            rcpts: &[
                "250 2.1.5 OK",
                "451 4.2.1 try later",
                "550-5.1.1 No such\r\n550 5.1.1 user",
            ],
            ..Script::default()
        };
        let r = rcpts(3);
        let (attempt, log) = run(script, false, &envelope(&r), b"x\r\n").await;
        assert_eq!(
            attempt,
            Attempt::Done(vec![
                RcptOutcome::Delivered("250 2.0.0 queued as 42".into()),
                RcptOutcome::Temporary("451 4.2.1 try later".into()),
                RcptOutcome::Permanent("550 5.1.1 No such 5.1.1 user".into()),
            ])
        );
        assert!(!log.pipelined);
        assert_eq!(log.commands[1], "MAIL FROM:<sender@src.test>");
    }

    #[tokio::test]
    async fn no_recipient_accepted() {
        let script = Script {
            caps: &[],
            rcpts: &["550 5.1.1 nope"],
            ..Script::default()
        };
        let r = rcpts(1);
        let (attempt, log) = run(script, false, &envelope(&r), b"x\r\n").await;
        assert_eq!(
            attempt,
            Attempt::Done(vec![RcptOutcome::Permanent("550 5.1.1 nope".into())])
        );
        assert_eq!(log.commands[3..], ["RSET", "QUIT"]);
    }

    #[tokio::test]
    async fn permanent_at_mail() {
        let script = Script {
            mail: "550 5.7.1 sender rejected",
            ..Script::default()
        };
        let r = rcpts(2);
        let (attempt, _) = run(script, false, &envelope(&r), b"x\r\n").await;
        let bounce = RcptOutcome::Permanent("550 5.7.1 sender rejected".into());
        assert_eq!(attempt, Attempt::Done(vec![bounce; 2]));
    }

    #[tokio::test]
    async fn temporary_at_mail_fails_host() {
        let script = Script {
            mail: "451 4.3.0 busy",
            ..Script::default()
        };
        let r = rcpts(1);
        let (attempt, _) = run(script, false, &envelope(&r), b"x\r\n").await;
        assert_eq!(
            attempt,
            Attempt::HostFailed("MAIL FROM rejected: 451 4.3.0 busy".into())
        );
    }

    #[tokio::test]
    async fn greeting_421_fails_host() {
        let script = Script {
            greeting: "421 4.3.2 too busy",
            ..Script::default()
        };
        let r = rcpts(1);
        let (attempt, _) = run(script, false, &envelope(&r), b"x\r\n").await;
        assert_eq!(
            attempt,
            Attempt::HostFailed("greeting rejected: 421 4.3.2 too busy".into())
        );
    }

    #[tokio::test]
    async fn helo_fallback() {
        let script = Script {
            ehlo: Some("502 5.5.1 no EHLO"),
            ..Script::default()
        };
        let r = rcpts(1);
        let (attempt, log) = run(script, false, &envelope(&r), b"x\r\n").await;
        assert_eq!(attempt, delivered(1));
        assert_eq!(log.commands[1], "HELO client.test");
        assert_eq!(log.commands[2], "MAIL FROM:<sender@src.test>");
    }

    #[tokio::test]
    async fn dot_stuffing_on_the_wire() {
        let r = rcpts(1);
        let msg = b".\n..x\r\nbare\nmid.dot\n.end";
        let (attempt, log) = run(Script::default(), false, &envelope(&r), msg).await;
        assert_eq!(attempt, delivered(1));
        assert_eq!(log.data, b"..\r\n...x\r\nbare\r\nmid.dot\r\n..end\r\n");
    }

    #[test]
    fn dot_stuffing_across_chunks() {
        use crate::smtp::data::DotStuffer;
        let msg = b".a\r\n.\n\r\n..\rx\n.";
        let mut whole = Vec::new();
        let mut s = DotStuffer::default();
        s.feed(msg, &mut whole);
        s.finish(&mut whole);
        let mut bytewise = Vec::new();
        let mut s = DotStuffer::default();
        for b in msg {
            s.feed(std::slice::from_ref(b), &mut bytewise);
        }
        s.finish(&mut bytewise);
        assert_eq!(whole, b"..a\r\n..\r\n\r\n...\rx\r\n..\r\n");
        assert_eq!(whole, bytewise);
        let mut empty = Vec::new();
        DotStuffer::default().finish(&mut empty);
        assert!(empty.is_empty());
    }

    fn tls_server_config() -> Arc<rustls::ServerConfig> {
        let cert = rcgen::generate_simple_self_signed(vec!["mx.test".to_string()]).unwrap();
        let key = PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key.into())
            .unwrap();
        Arc::new(config)
    }

    #[tokio::test]
    async fn starttls_with_self_signed_certificate() {
        let script = Script {
            tls: Some(tls_server_config()),
            ..Script::default()
        };
        let r = rcpts(1);
        let (attempt, log) = run(script, true, &envelope(&r), b"secret\r\n").await;
        assert_eq!(attempt, delivered(1));
        assert!(log.data_over_tls);
        assert_eq!(log.data, b"secret\r\n");
        assert_eq!(
            log.commands
                .iter()
                .filter(|c| c.starts_with("EHLO"))
                .count(),
            2
        );
    }

    #[tokio::test]
    async fn starttls_ignored_without_tls_config() {
        let script = Script {
            tls: Some(tls_server_config()),
            ..Script::default()
        };
        let r = rcpts(1);
        let (attempt, log) = run(script, false, &envelope(&r), b"plain\r\n").await;
        assert_eq!(attempt, delivered(1));
        assert!(!log.data_over_tls);
    }

    #[tokio::test]
    async fn smtputf8_not_offered() {
        let r = rcpts(2);
        let env = Envelope {
            smtputf8: true,
            ..envelope(&r)
        };
        let (attempt, log) = run(Script::default(), false, &env, b"x\r\n").await;
        let Attempt::Done(outcomes) = attempt else {
            panic!("{attempt:?}")
        };
        assert_eq!(outcomes.len(), 2);
        for o in outcomes {
            assert!(
                matches!(&o, RcptOutcome::Permanent(t) if t.starts_with("5.6.7")),
                "{o:?}"
            );
        }
        assert!(!log.commands.iter().any(|c| c.starts_with("MAIL")));
    }

    #[tokio::test]
    async fn connection_lost_after_dot_is_temporary() {
        let script = Script {
            end_of_data: None,
            ..Script::default()
        };
        let r = rcpts(1);
        let (attempt, _) = run(script, false, &envelope(&r), b"x\r\n").await;
        assert!(
            matches!(&attempt, Attempt::Done(o) if matches!(o[0], RcptOutcome::Temporary(_))),
            "{attempt:?}"
        );
    }

    #[tokio::test]
    async fn connect_refused_fails_host() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let r = rcpts(1);
        let attempt = deliver(addr, "mx.test", &config(false), &envelope(&r), &b"x"[..]).await;
        assert!(matches!(attempt, Attempt::HostFailed(_)), "{attempt:?}");
    }

    #[test]
    fn deliver_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let r = rcpts(1);
        let (cfg, env) = (config(false), envelope(&r));
        let future = deliver(
            "127.0.0.1:25".parse().unwrap(),
            "mx.test",
            &cfg,
            &env,
            &b""[..],
        );
        assert_send(&future);
    }

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_line("250-PIPELINING").unwrap(),
            (250, false, "PIPELINING".into())
        );
        assert_eq!(parse_line("221").unwrap(), (221, true, String::new()));
        assert!(parse_line("25").is_err());
        assert!(parse_line("250x").is_err());
        assert!(parse_line("999 no").is_err());
    }
}
