#!/usr/bin/env python3
"""IMAP load benchmark: N concurrent IMAP clients (our own asyncio load
generator, raw IMAP over sockets) run a mix of SELECT / UID FETCH / UID STORE
/ UID SEARCH / APPEND / IDLE against Rumble and against a private Dovecot
(Debian's dovecot-imapd, passwd-file users, maildir) on loopback, in the same
run, with the same data and the same operation sequence. Prints operations/s,
p50/p99 latency, errors, the ratio rumble/dovecot and a per-operation table.
Not a test: no pass/fail (the goal is to be ahead of Dovecot).

    python3 bench/imap.py                  # after `cargo build --release`
    python3 bench/imap.py --install        # first install dovecot-imapd (apt-get, as root)
    python3 bench/imap.py --clients 8 --seconds 20 --rounds 2
    python3 bench/imap.py --mix SELECT=2,FETCH-ENV=25,FETCH-BODY=20,STORE=20,SEARCH=15,APPEND=10,IDLE=8
    python3 bench/imap.py --store sqlite,postgresql,postgresql-2nodes

`--store` runs rumble once per store engine (default: sqlite only), in
place of `rumble` in --servers: on a private PostgreSQL (tests/pg.py's
PgServer, started here with fsync on; see bench/pgstore.py), with one node
or with two nodes sharing the database and the StorageFolder (client i
talks to node i mod 2, so the two sessions of a user are on different
nodes).

Needs root for Dovecot (its master runs as root and the mail processes as
`nobody`); `--servers rumble` runs our server alone. Every server run gets a
fresh temporary folder, removed afterwards; no system Dovecot is touched.
"""

import argparse
import asyncio
import bisect
import hashlib
import os
import pathlib
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pgstore

ROOT = pathlib.Path(__file__).resolve().parent.parent
SETUP = ROOT / "bench" / "dovecot_setup.sh"
DOVECOT = "/usr/sbin/dovecot"
DOVECONF = "/usr/bin/doveconf"
DOMAIN = "bench.test"
PASSWORD = "secret"
OPS = ("SELECT", "FETCH-ENV", "FETCH-BODY", "STORE", "SEARCH", "APPEND", "IDLE")
DEFAULT_MIX = "SELECT=2,FETCH-ENV=25,FETCH-BODY=20,STORE=20,SEARCH=15,APPEND=10,IDLE=8"
INSTALL_HELP = f"""\
Dovecot is needed (Debian package dovecot-imapd). Install it with
    python3 bench/imap.py --install        (as root)
or, by hand, as root:
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dovecot-imapd
(the same commands are in {SETUP.relative_to(ROOT)})"""


# ------------------------------------------------------------- test data

WORDS = ("quarterly report meeting budget invoice travel release roadmap lunch review schedule "
         "project server backup migration kernel holiday contract design feedback draft agenda "
         "offsite hiring metrics outage patch deploy customer security audit training invoice "
         "shipping warehouse forecast partner launch survey workshop newsletter").split()
SEARCH_WORDS = ("budget", "outage", "roadmap", "invoice", "holiday", "migration")
PEOPLE = [("Alice Martin", "alice.martin@example.com"), ("Bob Schulz", "bob@schulz.example.de"),
          ("Chloé Dubois", "chloe.dubois@example.fr"), ("Dmitri Ivanov", "d.ivanov@example.org"),
          ("Eve Tanaka", "eve.tanaka@example.jp"), ("Farid Haddad", "farid@example.net"),
          ("Grace O'Neil", "grace.oneil@example.ie"), ("Hugo Silva", "hsilva@example.com.br")]
SEARCH_FROM = ("Martin", "Schulz", "Tanaka", "Haddad")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def encode_word(text: str) -> str:
    """An RFC 2047 encoded-word for non-ASCII display names."""
    if text.isascii():
        return f'"{text}"' if "'" in text else text
    import base64
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def text_lines(rng: random.Random, size: int) -> str:
    out, total = [], 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
        line = line[0].upper() + line[1:] + "."
        out.append(line)
        total += len(line) + 2
    return "\r\n".join(out) + "\r\n"


def make_message(rng: random.Random, serial: int, to_addr: str) -> bytes:
    """A realistic 3-8 KB message: plain text, multipart/alternative
    (text + HTML) or multipart/mixed (text + base64 attachment)."""
    import base64
    name, addr = rng.choice(PEOPLE)
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5))).capitalize() + f" ({serial})"
    minute = serial * 7 + rng.randint(0, 6)
    day = 1 + (minute // 1440) % 28
    date = (f"{DAYS[(day + 3) % 7]}, {day:02d} {MONTHS[10]} 2026 "
            f"{(minute // 60) % 24:02d}:{minute % 60:02d}:{rng.randint(0, 59):02d} +0100")
    target = rng.randint(3000, 8000)
    head = (f"Return-Path: <{addr}>\r\n"
            f"From: {encode_word(name)} <{addr}>\r\n"
            f"To: {to_addr}\r\n"
            + (f"Cc: {rng.choice(PEOPLE)[1]}\r\n" if rng.random() < 0.3 else "")
            + f"Subject: {subject}\r\n"
            f"Date: {date}\r\n"
            f"Message-ID: <{serial}.{rng.getrandbits(40):x}@{addr.split('@')[1]}>\r\n"
            + (f"In-Reply-To: <{serial - 1}.thread@example.com>\r\n" if rng.random() < 0.3 else "")
            + "MIME-Version: 1.0\r\n"
            "X-Mailer: rumble-bench/1.0\r\n")
    kind = rng.randrange(3)
    if kind == 0:
        body = text_lines(rng, target - len(head) - 80)
        msg = head + "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body
    elif kind == 1:
        half = max(500, (target - len(head) - 400) // 2)
        text = text_lines(rng, half)
        html = "<html><body>\r\n" + "".join(f"<p>{l}</p>\r\n" for l in text_lines(rng, half - 60).splitlines()) \
            + "</body></html>\r\n"
        b = f"alt-{serial}-{rng.getrandbits(32):x}"
        msg = (head + f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
               f"This is a multi-part message in MIME format.\r\n--{b}\r\n"
               "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text
               + f"--{b}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n" + html + f"--{b}--\r\n")
    else:
        blob = base64.encodebytes(rng.randbytes(max(600, (target - len(head)) // 2))).decode().replace("\n", "\r\n")
        text = text_lines(rng, max(400, target - len(head) - len(blob) - 400))
        b = f"mix-{serial}-{rng.getrandbits(32):x}"
        msg = (head + f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n'
               f"--{b}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + text
               + f'--{b}\r\nContent-Type: application/pdf; name="scan-{serial}.pdf"\r\n'
               f'Content-Disposition: attachment; filename="scan-{serial}.pdf"\r\n'
               "Content-Transfer-Encoding: base64\r\n\r\n" + blob + f"--{b}--\r\n")
    return msg.encode()


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=12).digest()


# ----------------------------------------------------------- IMAP client

LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r?\n$")
FETCH_RE = re.compile(rb"^\* (\d+) FETCH \(")
UID_RE = re.compile(rb"\bUID (\d+)")
FLAGS_RE = re.compile(rb"\bFLAGS \(([^)]*)\)")
SIZE_RE = re.compile(rb"\bRFC822\.SIZE (\d+)")
APPENDUID_RE = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


LOAD_BEFORE = 0.0
SYNC_LITERALS = False  # --sync-literals: wait for "+" even if LITERAL+ is offered


class ImapError(Exception):
    pass


class Reply:
    __slots__ = ("status", "tagged", "untagged")

    def __init__(self, status, tagged, untagged):
        self.status = status      # "OK", "NO", "BAD"
        self.tagged = tagged      # the tagged line (bytes)
        self.untagged = untagged  # [(line bytes with literal markers, [literal bytes])]


def short(data: bytes, n=300) -> str:
    text = data.decode(errors="replace").replace("\r\n", "\\r\\n")
    return text if len(text) <= n else text[:n] + f"... ({len(data)} bytes)"


class Conn:
    """A minimal IMAP client: tagged commands, responses with literals."""

    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        self.tagn = 0
        self.caps = set()
        self.literal_plus = False
        self.bad_line_endings = 0

    @classmethod
    async def open(cls, port, timeout=30.0):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=1 << 22), timeout)
        c = cls(reader, writer)
        greeting, _ = await asyncio.wait_for(c.read_response(), timeout)
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {short(greeting)}")
        return c

    async def read_response(self):
        """One response: its lines joined (literal markers kept) and the
        literals' contents."""
        line = await self.r.readline()
        if not line:
            raise ConnectionError("connection closed by the server")
        if not line.endswith(b"\r\n"):
            self.bad_line_endings += 1
        parts, lits = [line], []
        while True:
            m = LITERAL_AT_END.search(line)
            if not m:
                break
            lits.append(await self.r.readexactly(int(m.group(1))))
            line = await self.r.readline()
            if not line:
                raise ConnectionError("connection closed inside a response")
            parts.append(line)
        return b"".join(parts), lits

    def next_tag(self) -> str:
        self.tagn += 1
        return f"a{self.tagn}"

    async def command(self, cmd: str, literal: bytes = None) -> Reply:
        tag = self.next_tag()
        btag = tag.encode() + b" "
        untagged = []
        if literal is None:
            self.w.write(f"{tag} {cmd}\r\n".encode())
        elif self.literal_plus:
            self.w.write(f"{tag} {cmd} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        else:
            self.w.write(f"{tag} {cmd} {{{len(literal)}}}\r\n".encode())
            while True:
                line, lits = await self.read_response()
                if line.startswith(b"+"):
                    break
                if line.startswith(btag):
                    return self._tagged(line, untagged)
                untagged.append((line, lits))
            self.w.write(literal + b"\r\n")
        while True:
            line, lits = await self.read_response()
            if line.startswith(btag):
                return self._tagged(line, untagged)
            untagged.append((line, lits))

    @staticmethod
    def _tagged(line, untagged) -> Reply:
        words = line.split(b" ", 2)
        status = words[1].decode(errors="replace").upper() if len(words) > 1 else "?"
        return Reply(status, line, untagged)

    async def login(self, user):
        r = await self.command("CAPABILITY")
        for line, _ in r.untagged:
            if line.startswith(b"* CAPABILITY"):
                self.caps = set(line.decode().upper().split()[2:])
        self.literal_plus = "LITERAL+" in self.caps and not SYNC_LITERALS
        r = await self.command(f'LOGIN "{user}" "{PASSWORD}"')
        if r.status != "OK":
            raise ImapError(f"LOGIN {user}: {short(r.tagged)}")
        return r

    async def logout(self):
        try:
            await asyncio.wait_for(self.command("LOGOUT"), 5)
        except Exception:
            pass
        self.close()

    def close(self):
        try:
            self.w.close()
        except Exception:
            pass


# -------------------------------------------------------------- statistics

def pct(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


class Stats:
    def __init__(self):
        self.lat = {op: [] for op in OPS}  # ms
        self.errors = {op: 0 for op in OPS}
        self.error_samples = []            # (op, command, response)
        self.anomalies = {}                # kind -> [count, first example]
        self.slowest = []                  # (ms, op, command)
        self.idle_updates = 0
        self.idle_wait = 0.0               # seconds clients spent idling (think time)
        self.reconnects = 0

    def add(self, op, ms, cmd):
        self.lat[op].append(ms)
        if len(self.slowest) < 5 or ms > self.slowest[-1][0]:
            self.slowest.append((ms, op, cmd))
            self.slowest.sort(key=lambda x: -x[0])
            del self.slowest[5:]

    def error(self, op, cmd, response):
        self.errors[op] += 1
        if len(self.error_samples) < 8:
            self.error_samples.append((op, cmd, response))

    def anomaly(self, kind, example):
        entry = self.anomalies.setdefault(kind, [0, example])
        entry[0] += 1

    def merge(self, other):
        for op in OPS:
            self.lat[op] += other.lat[op]
            self.errors[op] += other.errors[op]
        self.error_samples += other.error_samples[: max(0, 8 - len(self.error_samples))]
        for k, (n, ex) in other.anomalies.items():
            e = self.anomalies.setdefault(k, [0, ex])
            e[0] += n
        self.slowest = sorted(self.slowest + other.slowest, key=lambda x: -x[0])[:5]
        self.idle_updates += other.idle_updates
        self.idle_wait += other.idle_wait
        self.reconnects += other.reconnects

    def all_sorted(self):
        return sorted(v for op in OPS for v in self.lat[op])


class Result:
    def __init__(self, server, round_no):
        self.server = server
        self.round = round_no
        self.stats = Stats()
        self.seconds = 0.0
        self.preload_seconds = 0.0
        self.preload_count = 0
        self.login_ms = []
        self.client_cpu = 0.0
        self.server_cpu = None
        self.db_cpu = None    # PostgreSQL's CPU s during the timed part
        self.db_stmts = None  # rumble's statement executions then (pg_stat_statements)
        self.probe = {}  # probe command -> normalized answer
        self.notes = []

    @property
    def ops(self):
        return sum(len(v) for v in self.stats.lat.values())

    @property
    def rate(self):
        return self.ops / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------- workload

class Known:
    """The UIDs one session may use: the user's preloaded messages plus what
    this session appended itself (APPENDUID). Not the other session's
    appends: a session may not see those yet (no EXISTS so far), and a UID
    FETCH of a UID the session does not know answers nothing."""

    def __init__(self, uids=()):
        self.uids = list(uids)


class Client:
    def __init__(self, idx, user, port, args, known: Known, stats: Stats, digests: set):
        self.idx, self.user, self.port, self.args = idx, user, port, args
        self.known, self.stats, self.digests = known, stats, digests
        self.rng = random.Random(f"{args.seed}-client-{idx}")  # same sequence on both servers
        self.conn = None
        self.appended = 0
        ops = [op for op in OPS if args.weights[op] > 0]
        self.ops, self.cum = ops, []
        total = 0
        for op in ops:
            total += args.weights[op]
            self.cum.append(total)
        self.total = total

    async def connect(self):
        t = time.perf_counter()
        self.conn = await Conn.open(self.port, self.args.timeout)
        await asyncio.wait_for(self.conn.login(self.user), self.args.timeout)
        login_ms = (time.perf_counter() - t) * 1000
        r = await asyncio.wait_for(self.conn.command("SELECT INBOX"), self.args.timeout)
        if r.status != "OK":
            raise ImapError(f"SELECT INBOX: {short(r.tagged)}")
        return login_ms

    def pick(self):
        x = self.rng.random() * self.total
        for op, c in zip(self.ops, self.cum):
            if x < c:
                return op
        return self.ops[-1]

    def uid(self):
        return self.rng.choice(self.known.uids)

    async def run(self, deadline):
        while time.monotonic() < deadline:
            op = self.pick()
            try:
                await asyncio.wait_for(getattr(self, "op_" + op.replace("-", "_").lower())(), self.args.timeout)
            except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError, ImapError, OSError) as e:
                what = "timeout" if isinstance(e, asyncio.TimeoutError) else f"{type(e).__name__}: {e}"
                self.stats.error(op, getattr(self, "last_cmd", op), f"({what}: no tagged reply within {self.args.timeout:g} s)"
                                 if isinstance(e, asyncio.TimeoutError) else f"({what})")
                self.conn.close()
                self.stats.reconnects += 1
                if time.monotonic() >= deadline:
                    break
                try:
                    await self.connect()
                except Exception as e2:  # give up on this client
                    self.stats.anomaly("client could not reconnect", f"{self.user}: {e2}")
                    return

    async def timed(self, op, cmd, literal=None):
        self.last_cmd = cmd if literal is None else f"{cmd} {{{len(literal)}{'+' if self.conn.literal_plus else ''}}}"
        t = time.perf_counter()
        r = await self.conn.command(cmd, literal)
        ms = (time.perf_counter() - t) * 1000
        if r.status == "OK":
            self.stats.add(op, ms, self.last_cmd)
        else:
            self.stats.error(op, self.last_cmd, short(r.tagged))
        for line, _ in r.untagged:
            if line.startswith(b"* BYE") or line.startswith(b"* BAD") or line.startswith(b"* NO"):
                self.stats.anomaly(f"untagged {line[2:5].decode()}", f"C: {self.last_cmd}  S: {short(line)}")
        return r

    async def op_select(self):
        r = await self.timed("SELECT", "SELECT INBOX")
        if r.status == "OK" and not any(b"EXISTS" in l for l, _ in r.untagged):
            self.stats.anomaly("SELECT without EXISTS", short(b"".join(l for l, _ in r.untagged)))

    async def op_fetch_env(self):
        uids = self.known.uids
        n = min(self.args.fetch_range, len(uids))
        i = self.rng.randrange(len(uids) - n + 1)
        lo, hi = uids[i], uids[i + n - 1]
        r = await self.timed("FETCH-ENV", f"UID FETCH {lo}:{hi} (FLAGS RFC822.SIZE ENVELOPE)")
        if r.status == "OK":
            got = sum(1 for l, _ in r.untagged if FETCH_RE.match(l) and b"ENVELOPE" in l)
            if got < n:
                self.stats.anomaly("UID FETCH range returned fewer messages than exist",
                                   f"UID FETCH {lo}:{hi}: {got} FETCH responses for {n} UIDs")

    async def op_fetch_body(self):
        u = self.uid()
        r = await self.timed("FETCH-BODY", f"UID FETCH {u} (RFC822.SIZE BODY.PEEK[])")
        if r.status != "OK":
            return
        for line, lits in r.untagged:
            if FETCH_RE.match(line) and b"BODY[]" in line:
                m = SIZE_RE.search(line)
                if not lits:
                    self.stats.anomaly("BODY[] not sent as a literal", short(line))
                elif m and int(m.group(1)) != len(lits[-1]):
                    self.stats.anomaly("RFC822.SIZE differs from the BODY[] literal's size",
                                       f"UID {u}: RFC822.SIZE {m.group(1).decode()}, literal {len(lits[-1])} bytes")
                elif digest(lits[-1]) not in self.digests:
                    self.stats.anomaly("BODY[] is not any message that was appended",
                                       f"UID {u}: {len(lits[-1])} bytes: {short(lits[-1], 200)}")
                return
        self.stats.anomaly("UID FETCH BODY.PEEK[] answered OK without the body",
                           f"UID {u}: {short(b''.join(l for l, _ in r.untagged)) or '(no untagged data)'}")

    async def op_store(self):
        u = self.uid()
        sign = self.rng.choice("+-")
        flag = self.rng.choice(("\\Seen", "\\Flagged"))
        r = await self.timed("STORE", f"UID STORE {u} {sign}FLAGS ({flag})")
        if r.status != "OK":
            return
        # Only a FETCH for this UID is checked: a server need not send one
        # when the flags did not change (Dovecot does not), and FETCHes for
        # other UIDs are the other session's changes.
        for line, _ in r.untagged:
            um = UID_RE.search(line) if FETCH_RE.match(line) else None
            if um and int(um.group(1)) == u:
                fm = FLAGS_RE.search(line)
                if fm and (flag.encode().lower() in fm.group(1).lower().split()) != (sign == "+"):
                    self.stats.anomaly("STORE's FETCH shows the flag unchanged (or another session changed it)",
                                       f"UID STORE {u} {sign}FLAGS ({flag}) -> {short(line)}")
                return

    async def op_search(self):
        kind = self.rng.randrange(3)
        if kind == 0:
            cmd = "UID SEARCH UNSEEN"
        elif kind == 1:
            cmd = f"UID SEARCH SUBJECT {self.rng.choice(SEARCH_WORDS)}"
        else:
            cmd = f'UID SEARCH FROM "{self.rng.choice(SEARCH_FROM)}"'
        r = await self.timed("SEARCH", cmd)
        if r.status == "OK" and not any(l.startswith(b"* SEARCH") for l, _ in r.untagged):
            self.stats.anomaly("SEARCH OK without * SEARCH", cmd)

    async def op_append(self):
        self.appended += 1
        msg = make_message(self.rng, 100000 + self.idx * 10000 + self.appended, self.user)
        self.digests.add(digest(msg))
        r = await self.timed("APPEND", "APPEND INBOX", msg)
        if r.status == "OK":
            m = APPENDUID_RE.search(r.tagged)
            if m:
                bisect.insort(self.known.uids, int(m.group(1)))
            else:
                self.stats.anomaly("APPEND OK without APPENDUID", short(r.tagged))

    async def op_idle(self):
        """IDLE, wait up to --idle-wait for an update, DONE. The latency is
        the server's part only: IDLE to `+`, plus DONE to the tagged OK."""
        c = self.conn
        tag = c.next_tag()
        self.last_cmd = "IDLE"
        t0 = time.perf_counter()
        c.w.write(f"{tag} IDLE\r\n".encode())
        btag = tag.encode() + b" "
        while True:
            line, _ = await c.read_response()
            if line.startswith(b"+"):
                break
            if line.startswith(btag):
                self.stats.error("IDLE", "IDLE", short(line))
                return
        t1 = time.perf_counter()
        pending = asyncio.ensure_future(c.read_response())
        done, _ = await asyncio.wait({pending}, timeout=self.args.idle_wait)
        if done:
            self.stats.idle_updates += 1
        t2 = time.perf_counter()
        self.stats.idle_wait += t2 - t1
        c.w.write(b"DONE\r\n")
        while True:
            line, _ = await pending
            if line.startswith(btag):
                break
            pending = asyncio.ensure_future(c.read_response())
        t3 = time.perf_counter()
        if line.split(b" ")[1:2] != [b"OK"]:
            self.stats.error("IDLE", "IDLE ... DONE", short(line))
        else:
            self.stats.add("IDLE", ((t1 - t0) + (t3 - t2)) * 1000, "IDLE ... DONE")


async def preload(ports, users, args, knowns, digests):
    """APPEND --preload messages into each user's INBOX (same data on both
    servers: the messages depend on the seed and the user only). With
    several nodes, user i is preloaded through node i mod n."""
    async def one(ui, user):
        rng = random.Random(f"{args.seed}-preload-{ui}")
        conn = await Conn.open(ports[ui % len(ports)], args.timeout)
        try:
            await conn.login(user)
            for i in range(args.preload):
                msg = make_message(rng, i + 1, user)
                flags = " (\\Seen)" if rng.random() < 0.6 else ""
                flags = " (\\Seen \\Flagged)" if flags and rng.random() < 0.15 else flags
                digests.add(digest(msg))
                r = await asyncio.wait_for(conn.command(f"APPEND INBOX{flags}", msg), args.timeout)
                if r.status != "OK":
                    raise ImapError(f"preload APPEND for {user} failed: {short(r.tagged)}")
            await conn.command("SELECT INBOX")
            r = await conn.command("UID SEARCH ALL")
            uids = []
            for line, _ in r.untagged:
                if line.startswith(b"* SEARCH"):
                    uids += [int(x) for x in line.split()[2:]]
            if len(uids) != args.preload:
                raise ImapError(f"{user}: UID SEARCH ALL after the preload found {len(uids)} of {args.preload}")
            knowns[user].uids = sorted(uids)
        finally:
            await conn.logout()
    await asyncio.gather(*(one(i, u) for i, u in enumerate(users)))


PROBES = [
    "STATUS INBOX (MESSAGES UNSEEN)",
    "SEARCH UNSEEN", "SEARCH FLAGGED", "SEARCH SUBJECT budget", 'SEARCH FROM "Schulz"',
    "SEARCH TEXT outage", "SEARCH BODY roadmap", "SEARCH LARGER 6000 NOT SEEN", "SEARCH 1:20 UNSEEN",
    "SEARCH OR FROM Tanaka SUBJECT invoice", "SEARCH SENTSINCE 3-Nov-2026 SENTBEFORE 6-Nov-2026",
    "SEARCH HEADER X-Mailer rumble-bench", "SEARCH CC example",
    "FETCH 1:* (FLAGS RFC822.SIZE)", "FETCH 1:6 (ENVELOPE)", "FETCH 1:6 (BODYSTRUCTURE)", "FETCH 1:6 (BODY)",
    "FETCH 2 (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])", "FETCH 2 (BODY.PEEK[HEADER.FIELDS.NOT (RETURN-PATH)])",
    "FETCH 3 (BODY.PEEK[1])", "FETCH 1:6 (BODY.PEEK[1.MIME])", "FETCH 1:6 (BODY.PEEK[2])",
    "FETCH 4 (BODY.PEEK[TEXT]<100.200>)", "FETCH 5 (RFC822.HEADER)",
]


def normalize(untagged) -> str:
    """Untagged data as text, literals shown as quoted strings, so that the
    same data sent as a literal by one server and quoted by the other
    compares equal."""
    out = []
    for line, lits in untagged:
        segs = re.split(rb"\{\d+\+?\}\r\n", line)
        text = segs[0]
        for k, seg in enumerate(segs[1:]):
            lit = lits[k] if k < len(lits) else b""
            text += b'"' + lit.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"' + seg
        t = text.decode(errors="replace").rstrip("\r\n")
        # A mailbox name may be an atom or a quoted string.
        t = re.sub(r'^\* STATUS "([^"\\ ]+)"', r"* STATUS \1", t)
        # Flag order is not significant.
        t = re.sub(r"FLAGS \(([^)]*)\)", lambda m: "FLAGS (" + " ".join(sorted(m.group(1).split())) + ")", t)
        if t.startswith("* ") and not t.startswith("* OK") and "EXISTS" not in t and "RECENT" not in t:
            out.append(t)
    return "\n".join(out)


async def consistency_probe(port, user, args):
    """A few fixed commands on the preloaded INBOX of the first user, before
    the timed run: both servers hold the same messages in the same order, so
    the answers should match (compared after the run, reported in Notes)."""
    conn = await Conn.open(port, args.timeout)
    answers = {}
    try:
        await conn.login(user)
        await conn.command("EXAMINE INBOX")
        for cmd in PROBES:
            r = await asyncio.wait_for(conn.command(cmd), args.timeout)
            answers[cmd] = f"{r.status}\n" + normalize(r.untagged)
    finally:
        await conn.logout()
    return answers


async def load(ports, users, args, knowns, digests, result: Result, server=None):
    """The timed part; client i talks to ports[i mod n] (one port but for
    several rumble nodes)."""
    clients = [Client(i, users[i // args.per_user], ports[i % len(ports)], args,
                      Known(knowns[users[i // args.per_user]].uids), Stats(), digests) for i in range(args.clients)]
    result.login_ms = await asyncio.gather(*(c.connect() for c in clients))
    db = getattr(server, "db_sample", lambda: None)
    cpu0 = time.process_time()
    scpu0 = result.server_cpu_sample()
    db0 = db()
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    await asyncio.gather(*(c.run(deadline) for c in clients))
    result.seconds = time.monotonic() - t0
    result.client_cpu = time.process_time() - cpu0
    scpu1 = result.server_cpu_sample()
    db1 = db()
    if scpu0 is not None and scpu1 is not None:
        result.server_cpu = scpu1 - scpu0
    if db0 is not None and db1 is not None:
        result.db_cpu = db1[0] - db0[0]
        result.db_stmts = {k: v - db0[1].get(k, 0) for k, v in db1[1].items()}
    for c in clients:
        result.stats.merge(c.stats)
        if c.conn and c.conn.bad_line_endings:
            result.stats.anomaly("response lines not ending in CRLF", f"{c.conn.bad_line_endings} lines")
    await asyncio.gather(*(c.conn.logout() for c in clients if c.conn))


# ------------------------------------------------------- process helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_greeting(port, timeout, alive):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.makefile("rb").readline().startswith(b"* OK"):
                    s.sendall(b"z LOGOUT\r\n")
                    return
        except OSError:
            pass
        if not alive():
            raise RuntimeError(f"server exited before greeting on port {port}")
        time.sleep(0.05)
    raise RuntimeError(f"no IMAP greeting on 127.0.0.1:{port} after {timeout:.0f} s")


def clk_tck():
    return os.sysconf("SC_CLK_TCK")


def tree_pids(root):
    """A process and all its descendants, from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_cpu(root_pid) -> float:
    """CPU seconds (user + system) of a process and all its descendants."""
    total = 0.0
    for pid in tree_pids(root_pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += (int(fields[11]) + int(fields[12])) / clk_tck()
    return total


def stop_process(proc, name, notes, grace=15):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            notes.append(f"{name} did not stop within {grace} s of SIGTERM; killed")
            proc.kill()
            proc.wait()


def log_problems(path: pathlib.Path, pattern):
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [l for l in text.splitlines() if re.search(pattern, l)]


# ------------------------------------------------------------------ rumble

RUMBLE_CONF = """\
ServerName {domain}
DataFolder {dir}/{data}
StorageFolder {dir}/{storage}
BindToAddress 127.0.0.1
EnableSMTP 0
EnableSubmission 0
EnableSMTPS 0
EnablePOP3 0
EnableIMAP4 1
IMAP4Port {port}
AllowPlaintextAuth 1
MessageSizeLimit 10485760
"""


class RumbleServer:
    """One rumble node on SQLite (the default), or 1-2 nodes on a fresh
    database of the private PostgreSQL, sharing one StorageFolder."""

    def __init__(self, binary, tmp: pathlib.Path, users, notes, store="sqlite", pgserver=None, connections=20,
                 message_store="database"):
        self.binary, self.tmp, self.users, self.notes = binary, tmp, users, notes
        self.store, self.pg, self.connections = store, (pgserver if store != "sqlite" else None), connections
        self.message_store = message_store if self.pg else "folder"
        self.name = pgstore.LABELS[store]
        self.ports = [free_port() for _ in range(pgstore.NODES[store])]
        self.port = self.ports[0]
        self.procs = []
        self.db = None

    def start(self):
        directives = ""
        if self.pg:
            self.db, directives = self.pg.directives(self.tmp / "data", self.connections, self.message_store)
        n = len(self.ports)
        confs = []
        for k, port in enumerate(self.ports):
            suffix = "" if n == 1 else str(k + 1)
            conf = self.tmp / f"rumble{suffix}.conf"
            storage = pgstore.storage_folder(self.message_store, n, k)
            conf.write_text(RUMBLE_CONF.format(domain=DOMAIN, dir=self.tmp, port=port, data=f"data{suffix}",
                                               storage=storage) + directives)
            confs.append(conf)
        admin = [str(self.binary), "--config", str(confs[0])]
        cmds = [["domain", "add", DOMAIN]] + [["account", "add", u, "--password", PASSWORD] for u in self.users]
        for cli in cmds:
            done = subprocess.run(admin + cli, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"rumble {' '.join(cli)} failed: {done.stdout}{done.stderr}")
        self.log_paths, self._logs = [], []
        for conf in confs:
            log_path = self.tmp / f"{conf.stem}.log"
            self.log_paths.append(log_path)
            self._logs.append(open(log_path, "w"))
            self.procs.append(subprocess.Popen([str(self.binary), "--config", str(conf), "serve"],
                                               stdin=subprocess.DEVNULL, stdout=self._logs[-1],
                                               stderr=subprocess.STDOUT, cwd=self.tmp))
        for proc, port, log_path in zip(self.procs, self.ports, self.log_paths):
            deadline = time.monotonic() + 60
            while not re.search(r"rumble \S+ ready", log_path.read_text(errors="replace")):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rumble did not start:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.05)
            wait_for_greeting(port, 30, lambda: proc.poll() is None)
        if self.pg:
            self.pg.checkpoint()

    def cpu(self):
        """CPU s of all nodes (the database apart: db_sample)."""
        if not self.procs or any(p.poll() is not None for p in self.procs):
            return None
        return sum(tree_cpu(p.pid) for p in self.procs)

    def db_sample(self):
        """(PostgreSQL's CPU s, rumble's statement counts), or None on SQLite."""
        if not self.pg:
            return None
        cpu = self.pg.cpu()
        return None if cpu is None else (cpu, self.pg.statements(self.db))

    def stop(self):
        multi = len(self.procs) > 1
        for k, proc in enumerate(self.procs):
            who = f"{self.name} node {k + 1}" if multi else "rumble"
            stop_process(proc, who, self.notes, 30)
            if proc.returncode not in (0, -signal.SIGTERM):
                self.notes.append(f"{who} exited with status {proc.returncode}")
            self._logs[k].close()
            # The config sets no certificate, so the self-signed one's WARN is expected.
            problems = [l for l in log_problems(self.log_paths[k], r"\b(WARN|ERROR)\b")
                        if "self-signed certificate" not in l]
            if problems:
                self.notes.append(f"{who} log: {len(problems)} WARN/ERROR line(s), first: " + " | ".join(problems[:5]))


# ----------------------------------------------------------------- dovecot

DOVECOT_CONF = """\
# Private instance for bench/imap.py; nothing here touches /etc/dovecot.
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
# Defaults kept: mail_fsync = optimized, fsync_disable = no, maildir_very_dirty_syncs = no.
passdb {{
  driver = passwd-file
  args = scheme=CRYPT username_format=%u {dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/passwd
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# The mail processes (user nobody) report to the stats service's sockets.
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


class DovecotServer:
    name = "dovecot"

    def __init__(self, tmp: pathlib.Path, users, notes):
        self.tmp, self.users, self.notes = tmp, users, notes
        self.port = free_port()
        self.ports = [self.port]
        self.proc = None

    def start(self):
        os.chmod(self.tmp, 0o755)  # the mail processes run as nobody and must get through
        nobody = pwd.getpwnam("nobody")
        mail = self.tmp / "mail"
        mail.mkdir()
        lines = []
        for u in self.users:
            home = mail / u
            home.mkdir()
            os.chown(home, nobody.pw_uid, nobody.pw_gid)
            lines.append(f"{u}:{{PLAIN}}{PASSWORD}:{nobody.pw_uid}:{nobody.pw_gid}::{home}")
        (self.tmp / "passwd").write_text("\n".join(lines) + "\n")
        self.conf = self.tmp / "dovecot.conf"
        self.conf.write_text(DOVECOT_CONF.format(dir=self.tmp, port=self.port))
        check = subprocess.run([DOVECONF, "-c", str(self.conf), "-n"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"doveconf rejects the config: {check.stderr}")
        self.out = open(self.tmp / "dovecot.out", "w")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT, cwd=self.tmp)
        try:
            wait_for_greeting(self.port, 30, lambda: self.proc.poll() is None)
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n{(self.tmp / 'dovecot.out').read_text()}\n"
                               f"{(self.tmp / 'dovecot.log').read_text() if (self.tmp / 'dovecot.log').exists() else ''}")

    def cpu(self):
        return tree_cpu(self.proc.pid) if self.proc and self.proc.poll() is None else None

    def stop(self):
        if self.proc:
            stop_process(self.proc, "dovecot", self.notes, 15)
            self.out.close()
            problems = [l for l in log_problems(self.tmp / "dovecot.log", r"(?i)\b(error|panic|fatal|warning)\b")
                        if "Killed with signal 15" not in l]  # our own SIGTERM at the end
            if problems:
                self.notes.append(f"dovecot log: {len(problems)} problem line(s), first: " + " | ".join(problems[:5]))


# -------------------------------------------------------------------- main

def run_server(server, args, users, round_no) -> Result:
    result = Result(server.name, round_no)
    result.notes = server.notes
    result.server_cpu_sample = server.cpu
    knowns = {u: Known() for u in users}
    digests = set()
    server.start()
    try:
        t = time.monotonic()
        asyncio.run(preload(server.ports, users, args, knowns, digests))
        result.preload_seconds = time.monotonic() - t
        result.preload_count = args.preload * len(users)
        if args.probe:
            result.probe = asyncio.run(consistency_probe(server.ports[0], users[0], args))
        asyncio.run(load(server.ports, users, args, knowns, digests, result, server))
    finally:
        server.stop()
    return result


def parse_mix(text):
    weights = {op: 0 for op in OPS}
    for part in text.split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name = name.strip().upper()
        if name not in weights:
            sys.exit(f"--mix: unknown operation {name!r} (known: {', '.join(OPS)})")
        weights[name] = float(value)
    if sum(weights.values()) <= 0:
        sys.exit("--mix: all weights are zero")
    return weights


def fmt_w(w):
    return f"{w:g}"


def report(args, users, results, binary_info="", failures=()):
    mix = " / ".join(f"{op} {fmt_w(args.weights[op])}" for op in OPS if args.weights[op] > 0)
    servers = list(dict.fromkeys(r.server for r in results))  # in run order
    rumbles = [s for s in servers if s != "dovecot"]
    print(f"IMAP load: {args.clients} clients ({len(users)} users x {args.per_user} sessions each), "
          f"{args.seconds:g} s each, mix {mix}")
    print(f"({os.cpu_count()} cores, loopback; UID FETCH ranges of {args.fetch_range}, IDLE waits up to "
          f"{args.idle_wait * 1000:.0f} ms for an update, IDLE latency excludes that wait; "
          f"{args.preload} preloaded messages per user)")
    if any(s != "rumble" for s in rumbles):
        print(f"({pgstore.LEGEND})")
    multi = args.rounds > 1
    print(f"{'server':<12} {'ops':>7} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
          f" {'CPU client/server s':>20} {'preload msg/s':>14}")
    for r in results:
        label = f"{r.server} ({r.round})" if multi else r.server
        lat = r.stats.all_sorted()
        errs = sum(r.stats.errors.values())
        scpu = f"{r.server_cpu:.1f}" if r.server_cpu is not None else "?"
        pre = r.preload_count / r.preload_seconds if r.preload_seconds else 0
        print(f"{label:<12} {r.ops:>7} {r.rate:>8.1f} {pct(lat, 50):>8.2f} {pct(lat, 99):>8.2f} {errs:>7}"
              f" {r.client_cpu:>11.1f}/{scpu:<8} {pre:>14.1f}")
    best_rate = {s: max(r.rate for r in results if r.server == s) for s in servers}
    best_p99 = {s: min(pct(r.stats.all_sorted(), 99) for r in results if r.server == s) for s in servers}
    how = f" (best of {args.rounds} rounds each)" if multi else ""
    if "dovecot" in servers:
        for s in rumbles:
            print(f"ratio {s}/dovecot: ops/s {best_rate[s] / best_rate['dovecot']:.2f}x, "
                  f"p99 {best_p99[s] / best_p99['dovecot']:.2f}x{how} "
                  f"(goal: ahead of Dovecot: ops/s > 1x, p99 < 1x)")
    if "rumble" in servers:
        for s in rumbles:
            if s == "rumble":
                continue
            goal = ("(goal: PostgreSQL within 1.5x of SQLite: ops/s >= 0.67x, p99 <= 1.5x)" if s == "rumble-pg"
                    else "(two nodes share the same 2 cores: reported, not judged)")
            print(f"ratio {s}/rumble (PostgreSQL/SQLite): ops/s {best_rate[s] / best_rate['rumble']:.2f}x, "
                  f"p99 {best_p99[s] / best_p99['rumble']:.2f}x{how} {goal}")
    if any(r.db_cpu is not None for r in results) or len(rumbles) > 1:
        print()
        print("CPU and database work per operation in the timed part (CPU from /proc/PID/stat utime+stime; "
              "server = all rumble nodes, or Dovecot's processes)")
        print(f"{'server':<12} {'server CPU s':>12} {'ms/op':>7} {'DB CPU s':>9} {'ms/op':>7} {'DB stmts/op':>12}"
              f" {'txns/op':>8}")
        for r in results:
            label = f"{r.server} ({r.round})" if multi else r.server
            per = (lambda x: f"{x / r.ops * 1000:.3f}" if x is not None and r.ops else "-")
            scpu = f"{r.server_cpu:.2f}" if r.server_cpu is not None else "-"
            dcpu = f"{r.db_cpu:.2f}" if r.db_cpu is not None else "-"
            stm = f"{r.db_stmts['all'] / r.ops:.2f}" if r.db_stmts and r.ops else "-"
            txn = f"{r.db_stmts['commit'] / r.ops:.2f}" if r.db_stmts and r.ops else "-"
            print(f"{label:<12} {scpu:>12} {per(r.server_cpu):>7} {dcpu:>9} {per(r.db_cpu):>7} {stm:>12} {txn:>8}")
        if any(r.db_stmts for r in results):
            print("DB stmts = statement executions by rumble's role (pg_stat_statements calls, BEGIN and COMMIT "
                  "included), each one round trip; txns = COMMITs")
            for r in results:
                if r.db_stmts and r.ops:
                    print(f"{r.server}{f' ({r.round})' if multi else ''}: statements per operation, most executed first:")
                    for line in pgstore.top_statements(r.db_stmts, r.ops):
                        print(f"  {line}")

    pooled = {}
    for s in servers:
        st = Stats()
        for r in results:
            if r.server == s:
                st.merge(r.stats)
        pooled[s] = st
    print()
    print("per operation: count, p50 / p99 ms, errors" + (" (all rounds pooled)" if multi else ""))
    head = f"{'op':<11}"
    widths = {s: max(11, len(s) + 2) for s in servers}
    for s in servers:
        head += f" {s + ' n':>{widths[s]}} {'p50':>7} {'p99':>8} {'err':>4}"
    # p99 ratios: the first server against the second when there are two
    # (rumble/dovecot, as always); else each PostgreSQL rumble against SQLite's.
    pairs = [(servers[0], servers[1])] if len(servers) == 2 else \
        [(s, "rumble") for s in servers if s.startswith("rumble-") and "rumble" in servers]
    for a, b in pairs:
        name = "p99 ratio" if len(servers) == 2 else f"{a[len('rumble-'):]}/sqlite"
        head += f" {name:>10}"
    print(head)
    for op in OPS:
        if args.weights[op] <= 0:
            continue
        row = f"{op:<11}"
        p99s = {}
        for s in servers:
            v = sorted(pooled[s].lat[op])
            p99s[s] = pct(v, 99)
            row += f" {len(v):>{widths[s]}} {pct(v, 50):>7.2f} {pct(v, 99):>8.2f} {pooled[s].errors[op]:>4}"
        for a, b in pairs:
            row += f" {p99s[a] / p99s[b]:>9.2f}x" if p99s[b] > 0 else f" {'-':>10}"
        print(row)
    print()
    for s in servers:
        rs = [r for r in results if r.server == s]
        logins = sorted(ms for r in rs for ms in r.login_ms)
        st = pooled[s]
        slow = ", ".join(f"{ms:.0f} ms {cmd}" for ms, _, cmd in st.slowest[:3])
        idles = len(st.lat["IDLE"]) + st.errors["IDLE"]
        client_s = sum(r.seconds for r in rs) * args.clients
        appended = len(st.lat["APPEND"]) // len(rs)
        print(f"{s}: LOGIN (with CAPABILITY) median {pct(logins, 50):.1f} ms (not in the mix); INBOXes grew from "
              f"{args.preload} to ~{args.preload + appended // len(users)} messages")
        if args.weights["IDLE"] > 0:
            print(f"{' ' * len(s)}  IDLE cycles ended by an update: {st.idle_updates} of {idles}; clients spent "
                  f"{st.idle_wait:.1f} of {client_s:.0f} client-seconds waiting in IDLE "
                  f"({100 * st.idle_wait / client_s:.0f}%)")
        print(f"{' ' * len(s)}  slowest: {slow}")

    notes = []
    for s in servers:
        st = pooled[s]
        for op, cmd, resp in st.error_samples:
            notes.append(f"{s}: {op} error: C: {cmd}  S: {resp}")
        if st.reconnects:
            notes.append(f"{s}: {st.reconnects} reconnect(s) after errors/timeouts")
        for kind, (n, ex) in st.anomalies.items():
            notes.append(f"{s}: {kind}: {n}x, e.g. {ex}")
        for r in results:
            if r.server == s:
                notes += [f"{s} ({r.round}): {n}" if multi else f"{s}: {n}" for n in r.notes]
    last = {r.server: r for r in results}
    # Each rumble against Dovecot, or the other rumbles against the first.
    ref = "dovecot" if "dovecot" in last else servers[0]
    for other in (s for s in servers if s != ref and s in last):
        if not args.probe:
            break
        a, b = last[other].probe, last[ref].probe
        for cmd in PROBES:
            if a.get(cmd) != b.get(cmd):
                la, lb = (a.get(cmd) or "(none)").split("\n"), (b.get(cmd) or "(none)").split("\n")
                k = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
                notes.append(f"probe differs on the preloaded INBOX: C: {cmd} (line {k + 1} of {len(la)}/{len(lb)})"
                             f"\n    {other + ':':<9} {clip(la[k] if k < len(la) else '(missing)')}"
                             f"\n    {ref + ':':<9} {clip(lb[k] if k < len(lb) else '(missing)')}")
        same = sum(1 for cmd in PROBES if a.get(cmd) == b.get(cmd))
        both = "by both servers" if {other, ref} == {"rumble", "dovecot"} else f"by {other} and {ref}"
        notes.append(f"consistency probe on the preloaded INBOX: {same} of {len(PROBES)} commands "
                     f"answered identically {both}")
    try:
        dovecot_version = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        dovecot_version = "?"
    notes += list(failures)
    notes.append(binary_info + (f"dovecot {dovecot_version}" if "dovecot" in servers else ""))
    if args.pg_info:
        notes.append(f"{args.pg_info}; {pgstore.describe_run(args)}")
    notes.append("load average (1 min) before/after the run: {:.2f} / {:.2f} (other work on the machine "
                 "shows here)".format(LOAD_BEFORE, os.getloadavg()[0]))
    if notes:
        print()
        print("Notes:")
        for n in notes:
            print(f"- {n}")


def clip(text, n=700):
    if text is None:
        return "(none)"
    text = text.replace("\n", " | ")
    return text if len(text) <= n else text[:n] + "..."


def check_dovecot(args):
    missing = [p for p in (DOVECOT, DOVECONF) if not os.access(p, os.X_OK)]
    if missing and args.install:
        print(f"installing dovecot-imapd with {SETUP.relative_to(ROOT)} ...", file=sys.stderr, flush=True)
        subprocess.run(["sh", str(SETUP)], check=True)
        missing = [p for p in (DOVECOT, DOVECONF) if not os.access(p, os.X_OK)]
    if missing:
        sys.exit(f"missing: {', '.join(missing)}\n{INSTALL_HELP}")
    if os.geteuid() != 0:
        sys.exit("run as root: the private Dovecot's master runs as root and its mail processes as nobody "
                 "(or pass --servers rumble)")
    for name in ("dovecot", "dovenull", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            sys.exit(f"user {name!r} is missing (the dovecot-core package creates dovecot and dovenull)\n{INSTALL_HELP}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rumble", default="target/release/rumble",
                    help="rumble binary (default: target/release/rumble of this repo; copied before use)")
    ap.add_argument("--install", action="store_true", help="install dovecot-imapd first if missing (apt-get, as root)")
    ap.add_argument("--servers", default="rumble,dovecot", help="which servers, in order (default: rumble,dovecot)")
    pgstore.add_arguments(ap, "run in place of `rumble` in --servers, in order")
    ap.add_argument("--rounds", type=int, default=1, help="rounds; each runs rumble (every --store), then dovecot")
    ap.add_argument("--clients", type=int, default=8, help="concurrent IMAP sessions (default 8)")
    ap.add_argument("--per-user", type=int, default=2,
                    help="sessions per user sharing one INBOX (default 2: 8 clients = 4 users)")
    ap.add_argument("--seconds", type=float, default=20, help="timed run per server (default 20)")
    ap.add_argument("--preload", type=int, default=200, help="messages APPENDed to each INBOX before timing")
    ap.add_argument("--mix", default=DEFAULT_MIX, help=f"operation weights (default {DEFAULT_MIX})")
    ap.add_argument("--fetch-range", type=int, default=20, help="UIDs per FETCH-ENV (default 20)")
    ap.add_argument("--idle-wait", type=float, default=0.05, help="seconds IDLE waits for an update (default 0.05)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds one command may take before it counts as an error")
    ap.add_argument("--sync-literals", action="store_true",
                    help="send APPEND's message as a synchronizing literal ({n}, wait for '+') even with LITERAL+")
    ap.add_argument("--seed", default="rumble-imap-bench", help="seed for data and operation sequence")
    ap.add_argument("--no-probe", dest="probe", action="store_false",
                    help="skip comparing a few fixed FETCH/SEARCH answers between the servers")
    args = ap.parse_args()
    global LOAD_BEFORE
    LOAD_BEFORE = os.getloadavg()[0]
    args.weights = parse_mix(args.mix)
    global SYNC_LITERALS
    SYNC_LITERALS = args.sync_literals
    if args.clients < 1 or args.per_user < 1 or args.preload < max(1, args.fetch_range):
        sys.exit("--clients and --per-user must be >= 1, --preload >= --fetch-range")
    order = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not order or any(s not in ("rumble", "dovecot") for s in order):
        sys.exit("--servers: a comma-separated list of rumble, dovecot")
    stores = pgstore.parse_stores(args.store)
    args.pg_info = ""

    rumble = pathlib.Path(args.rumble)
    if not rumble.is_absolute() and not rumble.exists():
        rumble = ROOT / rumble
    if "rumble" in order and not rumble.exists():
        sys.exit(f"{rumble} missing: run `cargo build --release` (or pass --rumble PATH)")
    if "dovecot" in order:
        check_dovecot(args)

    nusers = (args.clients + args.per_user - 1) // args.per_user
    users = [f"user{i + 1}@{DOMAIN}" for i in range(nusers)]
    work = pathlib.Path(tempfile.mkdtemp(prefix="rumble-imap-bench-"))
    os.chmod(work, 0o755)
    results, failures = [], []
    pgserver = None
    try:
        if "rumble" in order and any(st != "sqlite" for st in stores):
            print("starting a private PostgreSQL (fsync on) ...", file=sys.stderr, flush=True)
            pgserver = pgstore.start_pg()
            args.pg_info = pgserver.describe()
        binary = work / "rumble"
        binary_info = ""
        if "rumble" in order:
            rumble = rumble.resolve()
            built = time.strftime("%Y-%m-%d %H:%M", time.localtime(rumble.stat().st_mtime))
            binary_info = f"rumble binary: {rumble} (modified {built}); "
            # A private copy: a rebuild of target/ during the run cannot swap it.
            shutil.copy2(rumble, binary)
        runs = [(pgstore.LABELS[st] if st else "dovecot", st)
                for s in order for st in (stores if s == "rumble" else [None])]
        for rnd in range(1, args.rounds + 1):
            for name, store in runs:
                tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{name}-{rnd}-", dir=work))
                print(f"round {rnd}/{args.rounds}: {name} (preload {args.preload} x {len(users)}, "
                      f"then {args.seconds:g} s) ...", file=sys.stderr, flush=True)
                notes = []
                server = RumbleServer(binary, tmp, users, notes, store, pgserver, args.pg_connections,
                                      args.message_store) if store \
                    else DovecotServer(tmp, users, notes)
                try:
                    results.append(run_server(server, args, users, rnd))
                except Exception as e:  # report the other server's figures anyway
                    print(f"{name} run {rnd} failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                    failures.append(f"{name} (round {rnd}) failed: {type(e).__name__}: {str(e)[:800]}")
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if pgserver:
            pgserver.stop()
        shutil.rmtree(work, ignore_errors=True)
    if not results:
        sys.exit("no server run completed:\n" + "\n".join(failures))
    report(args, users, results, binary_info, failures)


if __name__ == "__main__":
    main()
