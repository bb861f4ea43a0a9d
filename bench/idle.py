#!/usr/bin/env python3
"""IDLE fan-out benchmark: S sessions (default 500) sit in IDLE on one
user's INBOX of N letters (default 5000, then 50), another session APPENDs
a letter D times (default 5, 2 s apart), and every IDLE session's time from
the APPEND being sent to its `* n EXISTS` is recorded. For Rumble and for a
private Dovecot (Debian's dovecot-imapd, passwd-file user, Maildir,
loopback) in the same run. Prints notification latency min/median/p99/max,
how many sessions were told within 1 s, server CPU-seconds per delivery and
server memory per session, side by side with the ratio.
Not a test: no pass/fail. The issue's goal: median under 100 ms, every
client within 1 s, per-session memory independent of folder size.

    python3 bench/idle.py                          # rumble and dovecot, 5000 then 50 letters
    python3 bench/idle.py --servers rumble --letters 5000
    python3 bench/idle.py --sessions 200 --deliveries 10 --spacing 3

Needs root for Dovecot (see bench/imap.py); `--servers rumble` alone does
not. Reuses bench/imap.py's servers, IMAP client and process helpers.

How the INBOX is filled (both fast, neither goes through the protocol):
Rumble's letters are rows inserted straight into its SQLite store, all
pointing at one letter file (as tests/test_imap_state.py's fill_inbox
does); Dovecot's are N small files written into the user's Maildir/cur.
One warm-up session then SELECTs the INBOX (Dovecot builds its index here)
before memory is measured.
"""

import argparse
import asyncio
import os
import pathlib
import pwd
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import imap as ib  # noqa: E402  bench/imap.py: servers, client, helpers

ROOT = ib.ROOT
USER = f"idle@{ib.DOMAIN}"
EXISTS_RE = re.compile(rb"^\* (\d+) EXISTS")


def letter(n: int) -> bytes:
    return (f"From: Alice Martin <alice.martin@example.com>\r\nTo: {USER}\r\n"
            f"Subject: letter {n}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
            f"Message-ID: <{n}.idle@example.com>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            + "A letter of the IDLE benchmark, a few lines long.\r\n" * 8).encode()


# ------------------------------------------------------------- servers

class Rumble(ib.RumbleServer):
    """bench/imap.py's rumble, plus MaxConnectionsPerIP 0 (all sessions come
    from 127.0.0.1) and an INBOX filled through the store."""

    deliver_over = "imaps"

    def start(self):
        saved = ib.RUMBLE_CONF
        extra = "MaxConnectionsPerIP 0\n"
        if self.deliver_over == "imaps":
            # Rumble's IMAP listener serves at most 500 sessions at once
            # (imap::MAX_SESSIONS, not configurable): with 500 in IDLE the
            # delivering session comes in through the IMAPS listener.
            self.deliver_port, self.deliver_tls = ib.free_port(), True
            extra += f"EnableIMAPS 1\nIMAPSPort {self.deliver_port}\n"
        else:
            self.deliver_port, self.deliver_tls = self.port, False
            extra += "EnableIMAPS 0\n"
        ib.RUMBLE_CONF = saved + extra
        try:
            super().start()
        finally:
            ib.RUMBLE_CONF = saved

    def fill(self, count):
        user, domain = USER.split("@")
        body = letter(0)
        (self.tmp / "storage").mkdir(exist_ok=True)
        db = sqlite3.connect(self.tmp / "data" / "rumble.sqlite", timeout=30)
        try:
            with db:
                (storage_path,) = db.execute("SELECT storagepath FROM domains WHERE domain = ?", (domain,)).fetchone()
                folder = pathlib.Path(storage_path) if storage_path else self.tmp / "storage"
                (folder / "idlebulk.msg").write_bytes(body)
                (inbox,) = db.execute(
                    "SELECT f.id FROM folders f JOIN accounts a ON f.account = a.id "
                    "WHERE a.user = ? AND a.domain = ? AND f.name = 'INBOX'", (user, domain)).fetchone()
                db.executemany(
                    "INSERT INTO messages (folder, uid, fid, size, internaldate, flags, modseq) "
                    "VALUES (?, ?, 'idlebulk', ?, 1795000000, 32, ?)",
                    [(inbox, uid, len(body), uid + 1) for uid in range(1, count + 1)])
                db.execute("UPDATE folders SET uidnext = ?, highestmodseq = ? WHERE id = ?",
                           (count + 1, count + 1, inbox))
        finally:
            db.close()

    def pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []


class Dovecot(ib.DovecotServer):
    """bench/imap.py's Dovecot with limits raised for S sessions (by default
    100 imap processes at most, and 1000 clients per service)."""

    sessions = 500

    @property
    def deliver_port(self):
        return self.port

    deliver_tls = False

    def start(self):
        n = self.sessions + 50
        extra = (f"default_process_limit = {n}\n"
                 f"default_client_limit = {2 * n + 1000}\n"
                 f"service imap {{{{\n  process_limit = {n}\n}}}}\n"
                 f"service anvil {{{{\n  client_limit = {2 * n + 1000}\n}}}}\n")
        saved = ib.DOVECOT_CONF
        ib.DOVECOT_CONF = saved + extra
        try:
            super().start()
        finally:
            ib.DOVECOT_CONF = saved

    def fill(self, count):
        nobody = pwd.getpwnam("nobody")
        maildir = self.tmp / "mail" / USER / "Maildir"
        for sub in ("", "cur", "new", "tmp"):
            (maildir / sub).mkdir(exist_ok=True)
            os.chown(maildir / sub, nobody.pw_uid, nobody.pw_gid)
        body = letter(0).replace(b"\r\n", b"\n")
        vsize = len(letter(0))
        for i in range(1, count + 1):
            path = maildir / "cur" / f"{1795000000 + i}.M{i}P1.idlebench,S={len(body)},W={vsize}:2,S"
            path.write_bytes(body)
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
            os.utime(path, (1795000000 + i, 1795000000 + i))

    def pids(self):
        return tree_pids(self.proc.pid) if self.proc and self.proc.poll() is None else []


tree_pids = ib.tree_pids


def memory_kib(pids):
    """(sum of VmRSS, sum of Pss) in KiB over the processes. RSS counts a
    page shared by several processes once per process; PSS divides it
    among them, so for a tree of processes PSS is the fairer sum."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                m = re.search(r"VmRSS:\s+(\d+)", f.read())
            rss += int(m.group(1)) if m else 0
            with open(f"/proc/{p}/smaps_rollup") as f:
                m = re.search(r"^Pss:\s+(\d+)", f.read(), re.M)
            pss += int(m.group(1)) if m else 0
        except OSError:
            pass
    return rss, pss


# ------------------------------------------------------------- measuring

class Row:
    def __init__(self, server, letters, sessions):
        self.server, self.letters, self.sessions = server, letters, sessions
        self.lat = []             # ms, all deliveries pooled
        self.per_delivery = []    # [(p50, max, notified, append_ms, cpu_s)]
        self.cpu = []             # server CPU s per delivery window
        self.idle_cpu = None      # server CPU s over one window without delivery
        self.rss0 = self.rss1 = self.pss0 = self.pss1 = 0
        self.procs0 = self.procs1 = 0
        self.open_s = 0.0
        self.fill_s = 0.0
        self.client_cpu = 0.0
        self.expected = 0
        self.missed = 0
        self.opened = 0
        self.notes = []
        self.anomalies = {}

    def anomaly(self, kind, example):
        e = self.anomalies.setdefault(kind, [0, example])
        e[0] += 1


class Idler:
    def __init__(self, idx, row):
        self.idx, self.row = idx, row
        self.conn = None
        self.tag = None
        self.got = {}        # delivery number -> perf_counter when EXISTS came
        self.ended = None    # the tagged line after DONE
        self.task = None
        self.stage = "not started"

    async def open(self, port, letters, timeout):
        self.stage = "connect and greeting"
        self.conn = await ib.Conn.open(port, timeout)
        self.stage = "CAPABILITY and LOGIN"
        await asyncio.wait_for(self.conn.login(USER), timeout)
        self.stage = "SELECT INBOX"
        r = await asyncio.wait_for(self.conn.command("SELECT INBOX"), timeout)
        if r.status != "OK":
            raise ib.ImapError(f"SELECT INBOX: {ib.short(r.tagged)}")
        exists = [int(m.group(1)) for l, _ in r.untagged for m in [EXISTS_RE.match(l)] if m]
        if exists != [letters]:
            self.row.anomaly("SELECT did not answer the filled count", f"{exists} for {letters}")
        self.stage = "IDLE (waiting for +)"
        self.tag = self.conn.next_tag()
        self.conn.w.write(f"{self.tag} IDLE\r\n".encode())
        while True:
            line, _ = await asyncio.wait_for(self.conn.read_response(), timeout)
            if line.startswith(b"+"):
                break
            if line.startswith(self.tag.encode() + b" "):
                raise ib.ImapError(f"IDLE refused: {ib.short(line)}")

    async def listen(self, letters):
        btag = self.tag.encode() + b" "
        while True:
            try:
                line, _ = await self.conn.read_response()
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
                self.row.anomaly("IDLE session lost", f"session {self.idx}: {type(e).__name__}: {e}")
                return
            now = time.perf_counter()
            m = EXISTS_RE.match(line)
            if m:
                n = int(m.group(1)) - letters
                for d in range(1, n + 1):
                    self.got.setdefault(d, now)
            elif line.startswith(btag):
                self.ended = line
                return
            elif re.match(rb"^\* \d+ RECENT", line) or line.startswith(b"* OK Still here"):
                pass
            else:
                self.row.anomaly("unexpected line in IDLE", ib.short(line))


async def open_conn(port, tls, timeout):
    if not tls:
        return await ib.Conn.open(port, timeout)
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the benchmark's server has a self-signed certificate
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, limit=1 << 22), timeout)
    c = ib.Conn(reader, writer)
    greeting, _ = await asyncio.wait_for(c.read_response(), timeout)
    if not greeting.startswith(b"* OK"):
        raise ib.ImapError(f"greeting: {ib.short(greeting)}")
    return c


async def measure(server, row, args):
    port, letters = server.port, row.letters
    loop_cpu0 = time.process_time()
    deliverer = await open_conn(server.deliver_port, server.deliver_tls, args.timeout)
    await deliverer.login(USER)
    t = time.monotonic()
    r = await deliverer.command("SELECT INBOX")
    warm_ms = (time.monotonic() - t) * 1000
    exists = [int(m.group(1)) for l, _ in r.untagged for m in [EXISTS_RE.match(l)] if m]
    if exists != [letters]:
        raise ib.ImapError(f"warm-up SELECT: EXISTS {exists}, filled {letters}")
    await deliverer.command("CLOSE")
    row.notes.append(f"first SELECT of the filled INBOX (warm-up session) took {warm_ms:.0f} ms; deliveries over "
                     f"{'IMAPS (port ' + str(server.deliver_port) + ')' if server.deliver_tls else 'IMAP'}")
    await asyncio.sleep(1.0)
    pids = server.pids()
    row.procs0 = len(pids)
    row.rss0, row.pss0 = memory_kib(pids)

    idlers = [Idler(i, row) for i in range(args.sessions)]
    gate = asyncio.Semaphore(args.open_concurrency)

    async def open_one(s):
        async with gate:
            try:
                await s.open(port, letters, args.timeout)
                return True
            except Exception as e:
                row.anomaly("session could not open", f"{type(e).__name__} {e} at {s.stage} "
                            f"({time.monotonic() - t:.1f} s after opening began)")
                if s.conn:
                    s.conn.close()
                s.conn = None
                return False

    t = time.monotonic()
    ok = await asyncio.gather(*(open_one(s) for s in idlers))
    row.open_s = time.monotonic() - t
    idlers = [s for s, good in zip(idlers, ok) if good]
    row.opened = len(idlers)
    for s in idlers:
        s.task = asyncio.ensure_future(s.listen(letters))
    await asyncio.sleep(args.settle)
    pids = server.pids()
    row.procs1 = len(pids)
    row.rss1, row.pss1 = memory_kib(pids)

    # The server's CPU over one window with nothing delivered: the cost of
    # merely holding S idle sessions (Dovecot's imap processes, Rumble's timers).
    c0 = server.cpu()
    await asyncio.sleep(args.spacing)
    c1 = server.cpu()
    row.idle_cpu = c1 - c0 if c0 is not None and c1 is not None else None

    for d in range(1, args.deliveries + 1):
        msg = letter(100000 + d)
        c0 = server.cpu()
        t0 = time.perf_counter()
        r = await asyncio.wait_for(deliverer.command("APPEND INBOX", msg), args.timeout)
        append_ms = (time.perf_counter() - t0) * 1000
        if r.status != "OK":
            row.anomaly("delivery APPEND failed", ib.short(r.tagged))
        deadline = t0 + args.wait
        while time.perf_counter() < deadline and not all(d in s.got for s in idlers):
            await asyncio.sleep(0.005)
        rest = t0 + args.spacing - time.perf_counter()
        if rest > 0:
            await asyncio.sleep(rest)
        c1 = server.cpu()
        lat = sorted((s.got[d] - t0) * 1000 for s in idlers if d in s.got)
        row.expected += len(idlers)
        row.missed += len(idlers) - len(lat)
        row.lat += lat
        cpu = c1 - c0 if c0 is not None and c1 is not None else float("nan")
        row.cpu.append(cpu)
        row.per_delivery.append((ib.pct(lat, 50), lat[-1] if lat else float("nan"), len(lat), append_ms, cpu))
        print(f"  {row.server} {letters} letters, delivery {d}: {len(lat)}/{len(idlers)} told, "
              f"p50 {ib.pct(lat, 50):.1f} ms, max {lat[-1] if lat else float('nan'):.1f} ms, "
              f"APPEND {append_ms:.1f} ms, server CPU {cpu:.2f} s", file=sys.stderr, flush=True)

    row.lat.sort()
    for s in idlers:
        s.conn.w.write(b"DONE\r\n")
    done, pending = await asyncio.wait([s.task for s in idlers], timeout=args.timeout)
    for p in pending:
        p.cancel()
    bad_end = [s for s in idlers if s.ended is None or s.ended.split(b" ")[1:2] != [b"OK"]]
    if bad_end:
        s = bad_end[0]
        row.anomaly("DONE not answered with OK", f"{len(bad_end)} session(s), e.g. {ib.short(s.ended or b'(nothing)')}")
    for s in idlers:
        s.conn.close()
    await deliverer.logout()
    row.client_cpu = time.process_time() - loop_cpu0


def run_one(name, letters, args, work, binary):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{name}-{letters}-", dir=work))
    notes = []
    row = Row(name, letters, args.sessions)
    server = Rumble(binary, tmp, [USER], notes) if name == "rumble" else Dovecot(tmp, [USER], notes)
    try:
        server.start()
        t = time.monotonic()
        server.fill(letters)
        row.fill_s = time.monotonic() - t
        asyncio.run(measure(server, row, args))
    finally:
        server.stop()
        row.notes += notes
        shutil.rmtree(tmp, ignore_errors=True)
    return row


# ------------------------------------------------------------- report

def report(args, rows, binary_info, failures):
    print(f"IDLE fan-out: {args.sessions} sessions in IDLE on one INBOX, {args.deliveries} deliveries "
          f"(APPEND from another session, {args.spacing:g} s apart)")
    print(f"({os.cpu_count()} cores shared by the client and the server, loopback; latency = APPEND sent "
          f"-> `* n EXISTS` read by the session, all deliveries pooled; told = within {args.wait:g} s, "
          f"others count as >{args.wait * 1000:.0f} ms)")
    print(f"{'server':<8} {'letters':>7} {'told':>10} {'<=1s':>6} {'min ms':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'CPU s/dlv':>9} {'RSS/sess KiB':>12} {'PSS/sess KiB':>12}")
    for r in rows:
        # Sessions not told within --wait count as slower than everything told.
        lat = r.lat + [float("inf")] * r.missed
        within = sum(1 for v in lat if v <= 1000)
        n = r.opened or 1
        cpu = mean(r.cpu)
        print(f"{r.server:<8} {r.letters:>7} {f'{len(r.lat)}/{r.expected}':>10} {within:>6} "
              f"{ms(lat[0] if lat else float('nan'))} {ms(ib.pct(lat, 50))} {ms(ib.pct(lat, 99))} "
              f"{ms(lat[-1] if lat else float('nan'))} {cpu:>9.3f} "
              f"{(r.rss1 - r.rss0) / n:>12.0f} {(r.pss1 - r.pss0) / n:>12.0f}")
    by = {(r.server, r.letters): r for r in rows}
    for letters in dict.fromkeys(r.letters for r in rows):
        a, b = by.get(("rumble", letters)), by.get(("dovecot", letters))
        if a and b and a.lat and b.lat and not a.missed and not b.missed:
            na, nb = a.opened or 1, b.opened or 1
            print(f"ratio rumble/dovecot, {letters} letters: p50 {ib.pct(a.lat, 50) / ib.pct(b.lat, 50):.2f}x, "
                  f"max {a.lat[-1] / b.lat[-1]:.2f}x, CPU/delivery {ratio(mean(a.cpu), mean(b.cpu))}, "
                  f"RSS/session {((a.rss1 - a.rss0) / na) / max((b.rss1 - b.rss0) / nb, 1e-9):.2f}x, "
                  f"PSS/session {((a.pss1 - a.pss0) / na) / max((b.pss1 - b.pss0) / nb, 1e-9):.2f}x")
        elif a and b and a.opened and b.opened:
            na, nb = a.opened, b.opened
            print(f"ratio rumble/dovecot, {letters} letters: latency n/a (not every session was told), CPU/delivery "
                  f"{ratio(mean(a.cpu), mean(b.cpu))}, RSS/session "
                  f"{ratio((a.rss1 - a.rss0) / na, (b.rss1 - b.rss0) / nb)}, PSS/session "
                  f"{ratio((a.pss1 - a.pss0) / na, (b.pss1 - b.pss0) / nb)}")
    for r in rows:
        if r.server != "rumble" or not r.lat:
            continue
        p50 = ib.pct(r.lat, 50)
        all1 = r.missed == 0 and r.lat[-1] <= 1000
        print(f"goal (rumble, {r.letters} letters): median < 100 ms: {'met' if p50 < 100 else 'NOT met'} "
              f"({p50:.1f}); every client within 1 s: {'met' if all1 else 'NOT met'}")
    rr = [r for r in rows if r.server == "rumble" and r.opened]
    if len(rr) >= 2:
        per = ", ".join(f"{r.letters} letters {(r.rss1 - r.rss0) / r.opened:.0f} KiB" for r in rr)
        print(f"rumble RSS per session by folder size: {per}")

    print()
    print("per delivery: sessions told, p50 / max ms, the APPEND's own reply ms, server CPU s in the window")
    for r in rows:
        cells = "  ".join(f"{n} {p50:.0f}/{mx:.0f} ({ap:.0f}, {cpu:.2f})" for p50, mx, n, ap, cpu in r.per_delivery)
        print(f"{r.server:<8} {r.letters:>5}: {cells}")
    print()
    print("setup and memory (KiB, summed over the server's processes)")
    for r in rows:
        idle = f"{r.idle_cpu:.2f}" if r.idle_cpu is not None else "?"
        print(f"{r.server:<8} {r.letters:>5}: fill {r.fill_s:.1f} s, {r.opened}/{r.sessions} sessions opened in "
              f"{r.open_s:.1f} s; RSS {r.rss0} -> {r.rss1}, PSS {r.pss0} -> {r.pss1}, processes "
              f"{r.procs0} -> {r.procs1}; server CPU over a {args.spacing:g} s window without delivery {idle} s; "
              f"client CPU {r.client_cpu:.1f} s")
    notes = []
    for r in rows:
        for kind, (n, ex) in r.anomalies.items():
            notes.append(f"{r.server} {r.letters}: {kind}: {n}x, e.g. {ex}")
        if r.missed:
            notes.append(f"{r.server} {r.letters}: {r.missed} of {r.expected} notifications did not come "
                         f"within {args.wait:g} s")
        notes += [f"{r.server} {r.letters}: {n}" for n in r.notes]
    notes += list(failures) + INOTIFY_NOTE
    try:
        dv = subprocess.run([ib.DOVECOT, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        dv = "?"
    notes.append(binary_info + (f"dovecot {dv}" if any(r.server == "dovecot" for r in rows) else ""))
    notes.append(f"load average (1 min) before/after the run: {LOAD_BEFORE:.2f} / {os.getloadavg()[0]:.2f} "
                 "(other work on the machine shows here)")
    print()
    print("Notes:")
    for n in notes:
        print(f"- {n}")


LOAD_BEFORE = 0.0
INOTIFY_NOTE = []
WAIT = 10.0


def ms(v):
    """A latency cell: '>WAIT' for a session that was not told in time."""
    return f"{'>' + format(WAIT * 1000, '.0f'):>8}" if v == float("inf") else f"{v:>8.1f}"


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def ratio(a, b):
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, need)
    if hard != resource.RLIM_INFINITY and want > hard:
        if os.geteuid() == 0:
            hard = want
        else:
            want = hard
    if want != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    global LOAD_BEFORE
    LOAD_BEFORE = os.getloadavg()[0]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rumble", default="target/release/rumble", help="rumble binary (copied before use)")
    ap.add_argument("--servers", default=None,
                    help="comma list of rumble, dovecot (default: both if Dovecot is installed, else rumble)")
    ap.add_argument("--sessions", type=int, default=500, help="IDLE sessions (default 500)")
    ap.add_argument("--letters", default="5000,50",
                    help="letters in the INBOX; a comma list runs each size (default 5000,50)")
    ap.add_argument("--deliveries", type=int, default=5, help="deliveries per server run (default 5)")
    ap.add_argument("--spacing", type=float, default=2.0, help="seconds from one delivery to the next (default 2)")
    ap.add_argument("--wait", type=float, default=10.0,
                    help="seconds a delivery waits for every session's EXISTS (default 10; later ones are missed)")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds after opening sessions before measuring memory")
    ap.add_argument("--open-concurrency", type=int, default=20, help="sessions being opened at once (default 20)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds for one command")
    ap.add_argument("--rumble-deliver", choices=("imaps", "imap"), default="imaps",
                    help="the listener rumble's delivering session uses (default imaps: the IMAP listener "
                         "holds at most 500 sessions, all of them IDLE ones at the default --sessions)")
    ap.add_argument("--keep-inotify", action="store_true",
                    help="do not raise fs.inotify.max_user_instances for Dovecot (its imap processes all run "
                         "as nobody, one inotify instance each; past the limit they poll every 30 s)")
    args = ap.parse_args()
    global WAIT
    WAIT = args.wait
    try:
        sizes = [int(x) for x in args.letters.split(",") if x.strip()]
    except ValueError:
        sys.exit("--letters: numbers, comma-separated")
    if not sizes or min(sizes) < 1 or args.sessions < 1 or args.deliveries < 1:
        sys.exit("--letters, --sessions and --deliveries must be >= 1")
    have_dovecot = all(os.access(p, os.X_OK) for p in (ib.DOVECOT, ib.DOVECONF))
    order = [s.strip() for s in (args.servers or ("rumble,dovecot" if have_dovecot else "rumble")).split(",")
             if s.strip()]
    if not order or any(s not in ("rumble", "dovecot") for s in order):
        sys.exit("--servers: a comma-separated list of rumble, dovecot")
    if "dovecot" in order:
        args.install = False
        ib.check_dovecot(args)
    Dovecot.sessions = args.sessions
    Rumble.deliver_over = args.rumble_deliver
    limit = raise_nofile(args.sessions * 2 + 200)
    if limit < args.sessions + 100:
        sys.exit(f"open files limit {limit} is too low for {args.sessions} sessions")
    rumble = pathlib.Path(args.rumble)
    if not rumble.is_absolute() and not rumble.exists():
        rumble = ROOT / rumble
    if "rumble" in order and not rumble.exists():
        sys.exit(f"{rumble} missing: run `cargo build --release` (or pass --rumble PATH)")

    inotify = pathlib.Path("/proc/sys/fs/inotify/max_user_instances")
    inotify_saved = None
    if "dovecot" in order and not args.keep_inotify:
        try:
            current = int(inotify.read_text())
            need = 4 * args.sessions + 256
            if current < need:
                inotify.write_text(f"{need}\n")
                inotify_saved = current
                INOTIFY_NOTE.append(f"fs.inotify.max_user_instances raised from {current} to {need} for the run "
                                    f"(restored afterwards): Dovecot's imap processes all run as nobody and each takes inotify instances")
        except OSError as e:
            INOTIFY_NOTE.append(f"could not raise fs.inotify.max_user_instances ({e}): Dovecot sessions past the "
                                f"limit poll every 30 s instead of being woken")
    work = pathlib.Path(tempfile.mkdtemp(prefix="rumble-idle-bench-"))
    os.chmod(work, 0o755)
    rows, failures, binary_info = [], [], ""
    try:
        binary = work / "rumble"
        if "rumble" in order:
            rumble = rumble.resolve()
            built = time.strftime("%Y-%m-%d %H:%M", time.localtime(rumble.stat().st_mtime))
            binary_info = f"rumble binary: {rumble} (modified {built}); "
            shutil.copy2(rumble, binary)
        for letters in sizes:
            for name in order:
                print(f"{name}: {letters} letters, {args.sessions} IDLE sessions, {args.deliveries} deliveries ...",
                      file=sys.stderr, flush=True)
                try:
                    rows.append(run_one(name, letters, args, work, binary))
                except Exception as e:
                    print(f"{name} {letters} failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                    failures.append(f"{name} ({letters} letters) failed: {type(e).__name__}: {str(e)[:800]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if inotify_saved is not None:
            inotify.write_text(f"{inotify_saved}\n")
    if not rows:
        sys.exit("no server run completed:\n" + "\n".join(failures))
    report(args, rows, binary_info, failures)


if __name__ == "__main__":
    main()
