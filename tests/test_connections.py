"""Connections against a hostile network (issue 9, items 14, 15 and 18),
against the real binary on loopback: a client that never reads, a full
house of idle clients, strangers idling before login, and probes that
connect and close. Each test shows another client is still served."""

import re
import socket
import ssl
import struct
import subprocess
import time

import pytest

from conftest import free_port, rumble_bin, write_config
from mailstore import wait_until

DOMAIN = "connections.test"
USER = f"ann@{DOMAIN}"
PASSWORD = "right-one"

PROTOCOLS = ("smtp", "pop3", "imap")
# What each protocol says first, and a command whose answer is many bytes.
GREETING = {"smtp": b"220 ", "pop3": b"+OK", "imap": b"* OK"}
CHATTY = {"smtp": b"EHLO client.example.net\r\n", "pop3": b"CAPA\r\n", "imap": b"a CAPABILITY\r\n"}
SERVICE = {"smtp": "smtp", "pop3": "pop3", "imap": "imap4"}


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def serve(tmp_path, start_server, extra="", tls_ports=False):
    """A server with SMTP, POP3 and IMAP (and with `tls_ports` their
    implicit-TLS twins) on free ports, and the account USER; the server and
    its ports by protocol name."""
    ports = {name: free_port() for name in ("smtp", "pop3", "imap", "smtps", "pop3s", "imaps")}
    text = (
        f"ServerName {DOMAIN}\nDataFolder {tmp_path}/data\nStorageFolder {tmp_path}/storage\n"
        f"BindToAddress 127.0.0.1\nAllowPlaintextAuth 1\nEnableSubmission 0\n"
        f"EnableSMTP 1\nSMTPPort {ports['smtp']}\nEnablePOP3 1\nPOP3Port {ports['pop3']}\n"
        f"EnableIMAP4 1\nIMAP4Port {ports['imap']}\n"
        f"EnableSMTPS {int(tls_ports)}\nSMTPSPort {ports['smtps']}\n"
        f"EnablePOP3S {int(tls_ports)}\nPOP3SPort {ports['pop3s']}\n"
        f"EnableIMAPS {int(tls_ports)}\nIMAPSPort {ports['imaps']}\n" + extra
    )
    conf = write_config(tmp_path / "rumble.conf", text)
    for args in (["domain", "add", DOMAIN], ["account", "add", USER, "--password", PASSWORD]):
        r = subprocess.run([str(rumble_bin()), "--config", str(conf), *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    return start_server(text), ports


class Conversation:
    """A raw line client: connect, read the greeting, ask, read lines."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def line(self):
        return self.file.readline()

    def ask(self, command, until):
        """Send `command`; lines up to the first that starts with `until`."""
        self.sock.sendall(command.encode() + b"\r\n")
        lines = []
        while True:
            line = self.file.readline()
            assert line, f"closed after {lines} (asked {command!r})"
            lines.append(line)
            if line.startswith(until):
                return lines

    def close(self):
        self.file.close()
        self.sock.close()


def logged_in(proto, port):
    """A session past HELO/EHLO (SMTP) or login (POP3, IMAP)."""
    c = Conversation(port)
    assert c.line().startswith(GREETING[proto])
    if proto == "smtp":
        c.ask("EHLO client.example.net", b"250 ")
    elif proto == "pop3":
        c.ask(f"USER {USER}", b"+OK")
        assert c.ask(f"PASS {PASSWORD}", b"")[-1].startswith(b"+OK")
    else:
        assert c.ask(f'a LOGIN "{USER}" "{PASSWORD}"', b"a ")[-1].startswith(b"a OK")
    return c


def answers_noop(proto, c):
    """The session answers a NOOP (STAT in POP3) with OK."""
    command, last, ok = {"smtp": ("NOOP", b"", b"250 "), "pop3": ("STAT", b"", b"+OK"), "imap": ("b NOOP", b"b ", b"b OK")}[proto]
    return c.ask(command, last)[-1].startswith(ok)


def still_served(proto, port):
    """A whole short conversation, logged in."""
    c = logged_in(proto, port)
    assert answers_noop(proto, c)
    c.close()


def read_until_closed(sock, timeout, limit=64 << 20):
    """Bytes until the server closes (EOF or reset); None if it is still
    open after `timeout` or sent more than `limit`."""
    sock.settimeout(timeout)
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            return None
        if not chunk:
            return data
        data += chunk
    return None


# ------------------------------------------------ item 14: write timeout


def flood_without_reading(port, command, count=100_000):
    """A socket with a tiny receive buffer that sends `count` commands with
    long answers and never reads: it stops sending once the server stops
    taking them in. The socket, left open."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.settimeout(1.0)
    batch = command * 1000
    try:
        for _ in range(count // 1000):
            s.sendall(batch)
    except socket.timeout:
        pass  # the server stopped reading us: it is stuck writing
    return s


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_client_that_never_reads_is_dropped_after_the_timeout(tmp_path, start_server, proto):
    """A client pipelines commands with long answers and never reads (main
    held such a session forever: SMTPTimeout only covered reads). With a
    2 s timeout the server gives up writing within a few multiples of it,
    logs the peer, closes, and its memory stays flat; another client is
    served all the while."""
    server, ports = serve(tmp_path, start_server, "SMTPTimeout 2\nPOP3Timeout 2\nIMAPTimeout 2\n")
    port = ports[proto]
    idle = rss_mb(server.proc.pid)
    s = flood_without_reading(port, CHATTY[proto])
    stuck_at = time.monotonic()
    local_port = s.getsockname()[1]
    still_served(proto, port)
    line = server.wait_for_log(rf"(WARN|INFO).*{local_port}.*client stopped reading[^\n]*", timeout=30).group(0)
    took = time.monotonic() - stuck_at
    print(f"{proto}: dropped {took:.1f}s after the client stopped reading: {line}")
    assert took < 12, f"dropped after {took:.1f}s with a 2 s timeout"
    assert read_until_closed(s, timeout=10) is not None, "the connection is still open"
    s.close()
    assert rss_mb(server.proc.pid) - idle < 50, "RSS grew by more than 50 MB"
    still_served(proto, port)


# --------------------------------- item 15: session caps, pre-login timeout


BUSY = {
    "smtp": b"421 4.7.0 connections.test Too many connections, try again later",
    "pop3": b"-ERR [SYS/TEMP] Too many connections",
    "imap": b"* BYE [UNAVAILABLE] Too many connections",
}


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_past_the_session_cap_the_next_client_hears_busy_at_once(tmp_path, start_server, proto):
    """MaxSMTPSessions/MaxPOP3Sessions/MaxIMAPSessions 3, filled with idle
    clients: the fourth is told "too many connections" at once and closed
    (main left it hanging without a greeting until a session ended); when
    one session ends, the next client gets in."""
    server, ports = serve(tmp_path, start_server, "MaxSMTPSessions 3\nMaxPOP3Sessions 3\nMaxIMAPSessions 3\n")
    port = ports[proto]
    held = [Conversation(port) for _ in range(3)]
    for c in held:
        assert c.line().startswith(GREETING[proto])
    started = time.monotonic()
    extra = Conversation(port, timeout=5)
    try:
        answer = extra.line()
    except socket.timeout:
        answer = b"(nothing within 5 s)"
    assert answer.rstrip() == BUSY[proto], answer
    assert read_until_closed(extra.sock, timeout=5) is not None, "closed after the answer"
    assert time.monotonic() - started < 5
    extra.close()
    held.pop().close()

    def greeted():
        c = Conversation(port, timeout=5)
        if c.line().startswith(GREETING[proto]):
            return c
        c.close()
        return None

    wait_until(greeted, timeout=10, what=f"a free {proto} session").close()
    assert re.search(rf"service {SERVICE[proto]}: all 3 sessions taken; refused 1 connection", server.log())
    for c in held:
        c.close()


def test_a_full_implicit_tls_port_closes_at_once(tmp_path, start_server):
    """On IMAPS past its cap the next connection is closed at once, no
    handshake (main left it hanging in the backlog)."""
    server, ports = serve(tmp_path, start_server, "MaxIMAPSessions 2\n", tls_ports=True)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    held = []
    for _ in range(2):
        s = context.wrap_socket(socket.create_connection(("127.0.0.1", ports["imaps"]), timeout=10))
        assert s.recv(1000).startswith(b"* OK")
        held.append(s)
    extra = socket.create_connection(("127.0.0.1", ports["imaps"]), timeout=5)
    assert read_until_closed(extra, timeout=5) == b"", "closed at once, without a word"
    extra.close()
    still_served("imap", ports["imap"])
    for s in held:
        s.close()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_strangers_idle_briefly_logged_in_clients_long(tmp_path, start_server, proto):
    """PreLoginTimeout 2: a client that says nothing after the greeting is
    closed after about 2 s (main: the protocol's full timeout, 300 s to 30
    min), while a client past HELO/login idles on and is still served."""
    server, ports = serve(tmp_path, start_server, "PreLoginTimeout 2\n")
    port = ports[proto]
    member = logged_in(proto, port)
    stranger = Conversation(port)
    assert stranger.line().startswith(GREETING[proto])
    started = time.monotonic()
    goodbye = read_until_closed(stranger.sock, timeout=15)
    took = time.monotonic() - started
    assert goodbye is not None, "the stranger is still connected after 15 s"
    print(f"{proto}: stranger closed after {took:.1f}s with {goodbye!r}")
    assert 1 < took < 10
    assert answers_noop(proto, member), "the logged-in client stays"
    member.close()
    stranger.close()


# ------------------------------------------------ item 18: quiet probes


def probe(port, reset):
    """Connect and close without a byte; `reset` closes with an RST (a
    connect scan, some health checks), else with a FIN."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_probes_that_connect_and_close_log_no_warning(tmp_path, start_server):
    """20 probes on each protocol port, plain and implicit TLS, half closed
    with a FIN and half with an RST: main logged a WARN "Transport endpoint
    is not connected" or "tls handshake eof" for most of them. Now none; a
    real client is served after them."""
    server, ports = serve(tmp_path, start_server, tls_ports=True)
    for name, port in ports.items():
        for i in range(20):
            probe(port, reset=i % 2 == 1)
    for proto in PROTOCOLS:
        still_served(proto, ports[proto])
    time.sleep(1)
    warnings = [line for line in server.log().splitlines() if " WARN " in line and "self-signed" not in line]
    assert warnings == [], "\n".join(warnings)


def test_a_session_closed_for_too_many_errors_is_logged(tmp_path, start_server):
    """Each protocol names the client and the count when it gives up on a
    session sending nothing but bad commands."""
    server, ports = serve(tmp_path, start_server)
    for proto, junk in (("smtp", b"BOGUS\r\n"), ("pop3", b"BOGUS\r\n"), ("imap", b"a BOGUS\r\n")):
        with socket.create_connection(("127.0.0.1", ports[proto]), timeout=10) as s:
            s.sendall(junk * 30)
            s.shutdown(socket.SHUT_WR)
            read_until_closed(s, 10)
        server.wait_for_log(rf"WARN {proto}: 127\.0\.0\.1: \d+ bad commands; session closed")
