"""Fake network peers for testing the server's *outbound* side.

`FakeDNS` lets a test decide exactly what MX/A/AAAA/TXT lookups return (and
make a name fail temporarily) without touching real DNS; `SmtpSink` plays the
remote mail server a delivery goes to, records what arrived, and can refuse
recipients or data so retries and bounces can be exercised.

Both listen on 127.0.0.1 on a free port, run in daemon threads, stop quickly,
and work as context managers. FakeDNS uses only the standard library;
SmtpSink needs `aiosmtpd` (pip install aiosmtpd==1.4.6).
"""

import fnmatch
import ipaddress
import selectors
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

__all__ = ["FakeDNS", "SmtpSink", "make_self_signed", "HAVE_OPENSSL"]


# ---------------------------------------------------------------------------
# DNS
# ---------------------------------------------------------------------------

TYPE_CODES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
    "AAAA": 28, "SRV": 33, "OPT": 41, "HTTPS": 65, "ANY": 255, "CAA": 257,
}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}

# The record types FakeDNS can serve; anything else asked of an existing name
# is answered NODATA.
SERVED_TYPES = ("A", "AAAA", "MX", "TXT")

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
CLASS_IN = 1


class DnsParseError(ValueError):
    """A query is malformed; the server answers FORMERR (or drops it)."""


def normalize_name(name: str) -> str:
    """DNS names compare case-insensitively and the trailing dot is optional,
    so records and queries are keyed by the lower-case name without it."""
    return name.strip().rstrip(".").lower()


def encode_name(name: str) -> bytes:
    """Uncompressed wire form of `name`; "." (or "") is the root, as used by
    a null MX (RFC 7505)."""
    name = name.strip().rstrip(".")
    out = bytearray()
    if name:
        for label in name.split("."):
            raw = label.encode("idna") if not label.isascii() else label.encode()
            if not 0 < len(raw) <= 63:
                raise ValueError(f"bad DNS label {label!r} in {name!r}")
            out += bytes([len(raw)]) + raw
    out += b"\x00"
    if len(out) > 255:
        raise ValueError(f"DNS name too long: {name!r}")
    return bytes(out)


def decode_name(msg: bytes, offset: int):
    """Read a possibly compressed name at `offset`.

    Returns (labels as bytes, offset just past the name in the original
    position). Pointer loops and out-of-range pointers raise DnsParseError
    rather than hanging or crashing the server thread."""
    labels = []
    end = None
    jumps = 0
    while True:
        if offset >= len(msg):
            raise DnsParseError("name runs past end of message")
        length = msg[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(msg):
                raise DnsParseError("truncated compression pointer")
            pointer = ((length & 0x3F) << 8) | msg[offset + 1]
            if end is None:
                end = offset + 2
            jumps += 1
            if jumps > 64 or pointer >= len(msg):
                raise DnsParseError("bad compression pointer")
            offset = pointer
            continue
        if length & 0xC0:
            raise DnsParseError("unsupported label type")
        offset += 1
        if length == 0:
            break
        if offset + length > len(msg):
            raise DnsParseError("label runs past end of message")
        labels.append(msg[offset:offset + length])
        offset += length
    return labels, (end if end is not None else offset)


def _skip_rr(msg: bytes, offset: int):
    """Skip one resource record; returns (type, class, ttl, rdata, new offset)."""
    _, offset = decode_name(msg, offset)
    if offset + 10 > len(msg):
        raise DnsParseError("truncated resource record")
    rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", msg, offset)
    offset += 10
    if offset + rdlen > len(msg):
        raise DnsParseError("truncated rdata")
    return rtype, rclass, ttl, msg[offset:offset + rdlen], offset + rdlen


def _rdata(rtype: str, value) -> bytes:
    if rtype == "A":
        return ipaddress.IPv4Address(value).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(value).packed
    if rtype == "MX":
        preference, exchange = value
        return struct.pack("!H", int(preference)) + encode_name(exchange)
    if rtype == "TXT":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
        return b"".join(bytes([len(c)]) + c for c in chunks)
    raise ValueError(f"FakeDNS cannot serve {rtype} records")


class FakeDNS:
    """A tiny authoritative DNS server on 127.0.0.1, UDP and TCP on one port.

    Point the server under test's resolver at `dns.address`. Answers come
    from `records` ({name: {"MX": [(pref, host)], "A": [...], "AAAA": [...],
    "TXT": [...]}}): a known name without the asked type gets NODATA, an
    unknown name NXDOMAIN, a name passed to `fail()` SERVFAIL. Every question
    is appended to `queries` so tests can assert what was looked up.

    UDP replies larger than 512 bytes (or the EDNS size the client offered)
    are sent truncated (TC) so the client retries over TCP, like a real server.
    """

    def __init__(self, records=None, port=None, ttl=60):
        self.ttl = ttl
        self._wanted_port = port
        self._lock = threading.Lock()
        self._records = {}
        self._failing = set()
        self._queries = []
        for name, by_type in (records or {}).items():
            for rtype, values in by_type.items():
                self.set(name, rtype, values)
        self.port = None
        self._udp = self._tcp = None
        self._wake_r = self._wake_w = None
        self._thread = None
        self._conns = set()
        self._conn_threads = []
        self._stopping = threading.Event()

    # -- records -----------------------------------------------------------

    def set(self, name, rtype, values):
        """Replace the `rtype` records of `name` (creating the name), effective
        for the next query. `values=None` removes that type; an empty list
        keeps the type empty, so the name answers NODATA."""
        rtype = rtype.upper()
        if rtype not in SERVED_TYPES:
            raise ValueError(f"FakeDNS serves {SERVED_TYPES}, not {rtype}")
        key = normalize_name(name)
        if values is not None:
            values = list(values)
            for value in values:  # fail now, in the test, not later in the server thread
                _rdata(rtype, value)
        with self._lock:
            entry = self._records.setdefault(key, {})
            if values is None:
                entry.pop(rtype, None)
            else:
                entry[rtype] = values

    def remove(self, name):
        """Forget `name` entirely, so it answers NXDOMAIN."""
        with self._lock:
            self._records.pop(normalize_name(name), None)

    def fail(self, name):
        """Make every query for `name` answer SERVFAIL (a temporary failure)
        until `restore(name)`."""
        with self._lock:
            self._failing.add(normalize_name(name))

    def restore(self, name):
        """Undo `fail(name)`; the name answers from its records again."""
        with self._lock:
            self._failing.discard(normalize_name(name))

    @property
    def queries(self):
        """Snapshot list of (name, type) questions seen, e.g. ("example.test", "MX")."""
        with self._lock:
            return list(self._queries)

    def clear_queries(self):
        with self._lock:
            self._queries.clear()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        """Bind UDP and TCP on the same free port and start serving."""
        assert self._thread is None, "FakeDNS already started"
        self._udp, self._tcp = self._bind()
        self.port = self._udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name=f"FakeDNS:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _bind(self):
        # The kernel picks a free UDP port; TCP on that number may be taken,
        # so try again with another port rather than failing the test.
        attempts = 1 if self._wanted_port else 50
        last_error = None
        for _ in range(attempts):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind(("127.0.0.1", self._wanted_port or 0))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
                tcp.listen(16)
                return udp, tcp
            except OSError as error:
                last_error = error
                udp.close()
                tcp.close()
        raise OSError(f"FakeDNS could not bind UDP+TCP on one port: {last_error}")

    def stop(self):
        """Stop serving and close every socket; returns once threads ended."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake_w.send(b"x")
        self._thread.join(5)
        self._thread = None
        with self._lock:
            conns = list(self._conns)
            threads = list(self._conn_threads)
            self._conn_threads.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(5)
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- serving -----------------------------------------------------------

    def _serve(self):
        with selectors.DefaultSelector() as sel:
            sel.register(self._udp, selectors.EVENT_READ, "udp")
            sel.register(self._tcp, selectors.EVENT_READ, "tcp")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.data == "wake":
                        return
                    if key.data == "udp":
                        self._serve_udp()
                    else:
                        self._accept_tcp()

    def _serve_udp(self):
        try:
            query, peer = self._udp.recvfrom(65535)
        except OSError:
            return
        reply = self.answer(query, udp=True)
        if reply:
            try:
                self._udp.sendto(reply, peer)
            except OSError:
                pass

    def _accept_tcp(self):
        try:
            conn, _ = self._tcp.accept()
        except OSError:
            return
        thread = threading.Thread(target=self._serve_tcp, args=(conn,), daemon=True)
        with self._lock:
            self._conns.add(conn)
            self._conn_threads = [t for t in self._conn_threads if t.is_alive()]
            self._conn_threads.append(thread)
        thread.start()

    def _serve_tcp(self, conn):
        """Serve length-prefixed queries until the client closes; clients such
        as hickory may send several queries on one connection."""
        conn.settimeout(10)
        try:
            while not self._stopping.is_set():
                header = _recv_exact(conn, 2)
                if header is None:
                    return
                (length,) = struct.unpack("!H", header)
                query = _recv_exact(conn, length)
                if query is None:
                    return
                reply = self.answer(query, udp=False)
                if reply:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def answer(self, query: bytes, udp: bool = True):
        """Build the reply for one wire-format query (None to drop it).

        Public so a test can exercise the answer logic without sockets."""
        if len(query) < 12:
            return None
        qid, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", query)
        if flags & 0x8000:
            return None  # a response, not a query: never answer those
        opcode = (flags >> 11) & 0xF
        rd = flags & 0x0100

        def reply(rcode, question=b"", answers=(), truncated=False):
            out_flags = 0x8000 | (opcode << 11) | 0x0400 | rd | 0x0080 | rcode
            if truncated:
                out_flags |= 0x0200
                answers = ()
            header = struct.pack("!6H", qid, out_flags, 1 if question else 0, len(answers), 0, 0)
            return header + question + b"".join(answers)

        if opcode != 0:
            return reply(NOTIMP)
        if qdcount != 1:
            return reply(FORMERR)
        try:
            labels, offset = decode_name(query, 12)
            if offset + 4 > len(query):
                raise DnsParseError("truncated question")
            qtype, qclass = struct.unpack_from("!HH", query, offset)
            offset += 4
            # Find an EDNS OPT record to learn the client's UDP payload size;
            # skip answer/authority records to get to the additional section.
            udp_limit = 512
            for index in range(ancount + nscount + arcount):
                rtype, rclass, _, _, offset = _skip_rr(query, offset)
                if index >= ancount + nscount and rtype == TYPE_CODES["OPT"]:
                    udp_limit = max(512, rclass)
        except DnsParseError:
            return reply(FORMERR)

        question = b"".join(bytes([len(l)]) + l for l in labels) + b"\x00" + struct.pack("!HH", qtype, qclass)
        name = normalize_name(b".".join(labels).decode("ascii", errors="replace"))
        type_name = TYPE_NAMES.get(qtype, f"TYPE{qtype}")
        with self._lock:
            self._queries.append((name, type_name))
            failing = name in self._failing
            entry = self._records.get(name)
            values = list(entry.get(type_name, ())) if entry is not None else []

        if failing:
            return reply(SERVFAIL, question)
        if qclass not in (CLASS_IN, 255):
            return reply(REFUSED, question)
        if entry is None:
            return reply(NXDOMAIN, question)
        # The owner name is a pointer to the question name at offset 12.
        answers = [
            struct.pack("!HHHIH", 0xC00C, qtype, CLASS_IN, self.ttl, len(rdata)) + rdata
            for rdata in (_rdata(type_name, v) for v in values)
        ]
        full = reply(NOERROR, question, answers)
        if udp and len(full) > udp_limit:
            return reply(NOERROR, question, truncated=True)
        return full


def _recv_exact(conn, n):
    """Read exactly n bytes, or None if the peer closed first."""
    data = bytearray()
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


# ---------------------------------------------------------------------------
# SMTP
# ---------------------------------------------------------------------------

HAVE_OPENSSL = shutil.which("openssl") is not None


def make_self_signed(dirpath, hostname="localhost"):
    """Write a throwaway self-signed certificate and key into `dirpath` and
    return (cert_path, key_path).

    Uses the openssl command (check HAVE_OPENSSL first; RuntimeError if it is
    missing). The key is EC P-256 because it generates in milliseconds, and
    the certificate names `hostname` and 127.0.0.1 so clients that do verify
    (with this cert as their CA) can."""
    if not HAVE_OPENSSL:
        raise RuntimeError("the openssl command is not installed")
    dirpath = Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    cert, key = dirpath / "cert.pem", dirpath / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "7",
         "-subj", f"/CN={hostname}",
         "-addext", f"subjectAltName=DNS:{hostname},IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    return str(cert), str(key)


def _is_positive(reply):
    return reply.lstrip()[:1] == "2"


class SmtpSink:
    """A recording SMTP server standing in for a remote MX.

    Every accepted message is appended to `messages` as
    {"mail_from", "rcpt_tos", "data" (bytes, un-dot-stuffed, CRLF kept),
    "tls", "helo", "mail_options"}. `rules` map a lower-case address (exact)
    or a pattern ("temp*" matches the local part, "*@remote.test" the whole
    address) to the reply RCPT gets, so one transaction can mix accepted,
    temporarily and permanently refused recipients; `attempts` counts RCPTs
    per address so retries can be asserted. `data_reply` forces the reply
    after DATA; a non-2xx one means the message is not recorded.

    Advertises 8BITMIME, SMTPUTF8 (unless `smtputf8=False`, to play an older
    server), and STARTTLS when given a cert and key.
    """

    def __init__(self, port=None, tls_cert=None, tls_key=None, rules=None,
                 data_reply=None, hostname="sink.test", smtputf8=True):
        self._wanted_port = port
        self.hostname = hostname
        self.smtputf8 = smtputf8
        self.tls_context = None
        if tls_cert or tls_key:
            if not (tls_cert and tls_key):
                raise ValueError("STARTTLS needs both tls_cert and tls_key")
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(tls_cert, tls_key)
        self._cond = threading.Condition()
        self._messages = []
        self._attempts = {}
        self._rules = {}
        self.set_rules(rules or {})
        self.data_reply = data_reply
        self.port = None
        self._controller = None

    # -- configuration ------------------------------------------------------

    def set_rules(self, rules):
        """Replace the RCPT rules; takes effect for the next RCPT command."""
        normalized = {key.lower(): reply for key, reply in rules.items()}
        with self._cond:
            self._rules = normalized

    def set_data_reply(self, reply):
        """Force the reply to the end of DATA (None: the normal 250)."""
        with self._cond:
            self.data_reply = reply

    def rcpt_reply(self, address):
        """The rule reply for `address`, or None to accept it. Exact address
        rules win over patterns; patterns are tried in insertion order."""
        address = address.lower()
        with self._cond:
            rules = self._rules
        if address in rules:
            return rules[address]
        local = address.rsplit("@", 1)[0]
        for pattern, reply in rules.items():
            if not any(c in pattern for c in "*?["):
                continue
            subject = address if "@" in pattern else local
            if fnmatch.fnmatchcase(subject, pattern):
                return reply
        return None

    # -- observations --------------------------------------------------------

    @property
    def messages(self):
        """Snapshot list of the messages accepted so far."""
        with self._cond:
            return list(self._messages)

    @property
    def attempts(self):
        """Snapshot dict: lower-case recipient -> number of RCPT commands seen."""
        with self._cond:
            return dict(self._attempts)

    def wait_for(self, n, timeout=10):
        """Block until at least `n` messages arrived and return them all.

        Raises AssertionError listing what did arrive (and the RCPT attempts)
        so a failing test says what happened instead of just timing out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(m["mail_from"], m["rcpt_tos"]) for m in self._messages]
                    raise AssertionError(
                        f"SmtpSink on port {self.port}: wanted {n} message(s) within {timeout}s, "
                        f"got {len(got)}: {got}; RCPT attempts: {self._attempts}")
                self._cond.wait(left)
            return list(self._messages)

    def clear(self):
        """Forget recorded messages and attempts (rules stay)."""
        with self._cond:
            self._messages.clear()
            self._attempts.clear()

    # -- aiosmtpd handler hooks (run in the controller's event-loop thread) --

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._cond:
            key = address.lower()
            self._attempts[key] = self._attempts.get(key, 0) + 1
        reply = self.rcpt_reply(address)
        if reply is None or _is_positive(reply):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply or "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._cond:
            reply = self.data_reply
        if reply and not _is_positive(reply):
            return reply
        message = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": bytes(envelope.original_content),
            "tls": session.ssl is not None,
            "helo": session.host_name,
            "mail_options": list(envelope.mail_options),
        }
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()
        return reply or "250 OK"

    # -- lifecycle -----------------------------------------------------------

    def start(self):
        """Listen on 127.0.0.1 (the given port, else a free one) and serve."""
        assert self._controller is None, "SmtpSink already started"
        from aiosmtpd.controller import Controller  # imported late: DNS-only users need not install it

        class _BoundController(Controller):
            # Serve a socket bound beforehand, so port 0 can be used and there
            # is no window where another process takes a port we picked.
            def __init__(self, sock, *args, **kwargs):
                self._sock = sock
                super().__init__(*args, **kwargs)

            def _create_server(self):
                return self.loop.create_server(self._factory_invoker, sock=self._sock)

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._wanted_port or 0))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        kwargs = dict(
            hostname="127.0.0.1", port=self.port, server_hostname=self.hostname,
            enable_SMTPUTF8=self.smtputf8, decode_data=False,
        )
        if self.tls_context is not None:
            kwargs["tls_context"] = self.tls_context
        controller = _BoundController(sock, self, **kwargs)
        try:
            controller.start()
        except BaseException:
            try:
                controller.stop(no_assert=True)
            except Exception:
                pass  # its loop may already be gone; the original error matters
            sock.close()
            raise
        self._controller = controller
        return self

    def stop(self):
        if self._controller is None:
            return
        controller, self._controller = self._controller, None
        controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
