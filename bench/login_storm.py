#!/usr/bin/env python3
"""Failed-login storm: C connections (default 200) at once, each sending
`LOGIN ann@bench.test wrongN` K times (default 3) in a row, against Rumble
and against a private Dovecot (Debian's dovecot-imapd, passwd-file users,
loopback) in the same run. The server's memory is sampled every 50 ms
before, during and after the storm. Meanwhile two correct logins come from
another address: `ann` (who logged in once before the storm, so a server
with an auth cache has her) and `bob` (never logged in before: his
password must be checked during the storm).
Not a test: no pass/fail. The issue's goal: peak RSS under 200 MB above
idle.

    python3 bench/login_storm.py                      # rumble and dovecot
    python3 bench/login_storm.py --servers rumble --connections 200 --attempts 3

Both servers check the same kind of hash: Rumble stores argon2id
(m=19 MiB, t=2, p=1, the argon2 crate's default) and Dovecot gets the very
same hash strings, copied from Rumble's store, as `{ARGON2ID}` passwd-file
entries (`--dovecot-scheme plain` gives it `{PLAIN}` passwords instead).

Client addresses: the storm comes from 127.0.0.2-127.0.0.5 (a quarter of
the connections each, so Rumble's default MaxConnectionsPerIP of 50 lets
200 in), the correct logins from 127.0.0.1.
"""

import argparse
import asyncio
import os
import pathlib
import pwd
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import imap as ib  # noqa: E402  bench/imap.py: servers, client, helpers
from idle import memory_kib, raise_nofile, tree_pids  # noqa: E402

ROOT = ib.ROOT
ANN, BOB = f"ann@{ib.DOMAIN}", f"bob@{ib.DOMAIN}"
MIB = 1024.0


class Rumble(ib.RumbleServer):
    def pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def hashes(self):
        db = sqlite3.connect(self.tmp / "data" / "rumble.sqlite", timeout=30)
        try:
            return {f"{u}@{d}": pw for u, d, pw in db.execute("SELECT user, domain, password FROM accounts")}
        finally:
            db.close()


class Dovecot(ib.DovecotServer):
    """bench/imap.py's Dovecot; process limits raised so that every storm
    connection gets its imap-login process at once (default 100)."""

    connections = 200
    passwords = None  # user -> passwd-file password field, e.g. {ARGON2ID}$argon2id$...

    def start(self):
        n = self.connections + 100
        saved = ib.DOVECOT_CONF
        ib.DOVECOT_CONF = saved + f"default_process_limit = {n}\ndefault_client_limit = {4 * n + 1000}\n"
        try:
            super().start()
        finally:
            ib.DOVECOT_CONF = saved
        if self.passwords:
            # passwd-file is read again when its mtime changes.
            nobody = pwd.getpwnam("nobody")
            lines = [f"{u}:{self.passwords[u]}:{nobody.pw_uid}:{nobody.pw_gid}::{self.tmp / 'mail' / u}"
                     for u in self.users]
            (self.tmp / "passwd").write_text("\n".join(lines) + "\n")

    def pids(self):
        return tree_pids(self.proc.pid) if self.proc and self.proc.poll() is None else []


class Sampler(threading.Thread):
    """Server memory (RSS and PSS summed over its processes) every `every` s."""

    def __init__(self, server, every):
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples = []  # (monotonic, rss KiB, pss KiB, processes)
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            t = time.monotonic()
            pids = self.server.pids()
            rss, pss = memory_kib(pids)
            self.samples.append((t, rss, pss, len(pids)))
            self.stop_flag.wait(max(0.0, self.every - (time.monotonic() - t)))

    def between(self, t0, t1):
        return [s for s in self.samples if t0 <= s[0] <= t1]


def classify(line: bytes) -> str:
    words = line.split(b" ", 2)
    status = words[1].upper() if len(words) > 1 else b"?"
    if status == b"NO":
        m = re.search(rb"\[([A-Z-]+)", line)
        return f"NO [{m.group(1).decode()}]" if m else "NO (no code)"
    return status.decode(errors="replace")


async def open_from(port, source, timeout):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0), limit=1 << 20), timeout)
    c = ib.Conn(reader, writer)
    greeting, _ = await asyncio.wait_for(c.read_response(), timeout)
    if not greeting.startswith(b"* OK"):
        raise ib.ImapError(f"greeting: {ib.short(greeting)}")
    return c


class Result:
    def __init__(self, server):
        self.server = server
        self.replies = {}      # class -> [latency ms]
        self.examples = {}     # class -> first line
        self.failures = {}     # what went wrong -> [count, example]
        self.connect_ms = []
        self.storm_s = 0.0
        self.idle = self.peak = self.after = None  # (rss, pss) KiB
        self.peak_at = 0.0
        self.samples = 0
        self.sample_gap_ms = 0.0
        self.good = {}         # user -> (outcome, ms of the successful try or total, tries, first reply)
        self.notes = []

    def fail(self, kind, example):
        e = self.failures.setdefault(kind, [0, example])
        e[0] += 1


async def storm(server, args, res):
    port = server.port
    sources = [f"127.0.0.{2 + i % 4}" for i in range(args.connections)]
    start = asyncio.Event()

    async def attacker(i):
        await start.wait()
        t = time.perf_counter()
        try:
            c = await open_from(port, sources[i], args.timeout)
        except Exception as e:
            res.fail("connection failed", f"{type(e).__name__}: {e}")
            return
        res.connect_ms.append((time.perf_counter() - t) * 1000)
        try:
            for k in range(args.attempts):
                t = time.perf_counter()
                r = await asyncio.wait_for(c.command(f'LOGIN "{ANN}" "wrong{i}-{k}"'), args.timeout)
                ms = (time.perf_counter() - t) * 1000
                cls = classify(r.tagged)
                res.replies.setdefault(cls, []).append(ms)
                res.examples.setdefault(cls, ib.short(r.tagged))
                if cls == "OK":
                    break
        except asyncio.TimeoutError:
            res.fail("no reply to LOGIN", f"within {args.timeout:g} s")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            res.fail("connection closed during the storm", f"{type(e).__name__}: {e}")
        finally:
            await c.logout()

    async def good(user, delay):
        await start.wait()
        await asyncio.sleep(delay)
        t = time.perf_counter()
        first = None
        for attempt in range(1, args.good_tries + 1):
            try:
                c = await open_from(port, "127.0.0.1", args.timeout)
                await c.command("CAPABILITY")
                t1 = time.perf_counter()
                r = await asyncio.wait_for(c.command(f'LOGIN "{user}" "{ib.PASSWORD}"'), args.timeout)
                login_ms = (time.perf_counter() - t1) * 1000
                await c.logout()
            except Exception as e:
                res.good[user] = (f"failed: {type(e).__name__}: {e}", (time.perf_counter() - t) * 1000, attempt, first)
                return
            first = first or f"{ib.short(r.tagged)} ({login_ms:.0f} ms)"
            if r.status == "OK":
                res.good[user] = ("OK", login_ms, attempt, first, (time.perf_counter() - t) * 1000)
                return
            await asyncio.sleep(0.5)
        res.good[user] = (f"no success in {args.good_tries} tries", (time.perf_counter() - t) * 1000,
                          args.good_tries, first, None)

    tasks = [asyncio.ensure_future(attacker(i)) for i in range(args.connections)]
    goods = [asyncio.ensure_future(good(ANN, args.good_delay)), asyncio.ensure_future(good(BOB, args.good_delay))]
    t0 = time.monotonic()
    start.set()
    await asyncio.gather(*tasks)
    t1 = time.monotonic()
    await asyncio.gather(*goods)
    return t0, t1


async def warm_login(port, user, timeout):
    c = await open_from(port, "127.0.0.1", timeout)
    r = await c.command(f'LOGIN "{user}" "{ib.PASSWORD}"')
    await c.logout()
    if r.status != "OK":
        raise ib.ImapError(f"{user} cannot log in before the storm: {ib.short(r.tagged)}")


def run_one(name, args, work, binary, passwords):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
    notes = []
    res = Result(name)
    if name == "rumble":
        server = Rumble(binary, tmp, [ANN, BOB], notes)
    else:
        server = Dovecot(tmp, [ANN, BOB], notes)
        server.passwords = passwords
    sampler = None
    try:
        server.start()
        if name == "rumble":
            passwords.update({u: "{ARGON2ID}" + h for u, h in server.hashes().items()})
            res.notes.append(f"argon2 parameters of the stored hashes: "
                             f"{re.search(r'm=[^$]*', passwords[ANN]).group(0) if passwords.get(ANN) else '?'}")
        asyncio.run(warm_login(server.port, ANN, args.timeout))
        sampler = Sampler(server, args.sample)
        sampler.start()
        time.sleep(args.idle_seconds)
        t_idle = time.monotonic()
        t0, t1 = asyncio.run(storm(server, args, res))
        time.sleep(args.after)
        t_after = time.monotonic()
        sampler.stop_flag.set()
        sampler.join()
        idle = sampler.between(t_idle - args.idle_seconds, t_idle)
        during = sampler.between(t0, t1 + 1.0)
        res.idle = (sorted(s[1] for s in idle)[len(idle) // 2], sorted(s[2] for s in idle)[len(idle) // 2])
        peak = max(during or idle, key=lambda s: s[1])
        res.peak = (peak[1], max(s[2] for s in (during or idle)))
        res.peak_at = peak[0] - t0
        last = sampler.between(t_after - 0.5, t_after + 1)
        res.after = (last[-1][1], last[-1][2]) if last else (None, None)
        res.storm_s = t1 - t0
        window = sampler.between(t0, t1)
        res.samples = len(window)
        if len(window) > 1:
            res.sample_gap_ms = (window[-1][0] - window[0][0]) / (len(window) - 1) * 1000
        res.procs = (idle[-1][3] if idle else 0, max((s[3] for s in during), default=0))
    finally:
        if sampler and sampler.is_alive():
            sampler.stop_flag.set()
            sampler.join()
        server.stop()
        res.notes += notes
        if name == "rumble":
            try:
                log = (tmp / "rumble.log").read_text(errors="replace")
                res.notes.append(f"rumble log: {len(re.findall(r'login failed', log))} 'login failed' WARN lines, "
                                 f"{len(re.findall(r'login lookup failed', log))} 'login lookup failed' ERROR lines")
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def mib(kib):
    return f"{kib / MIB:.1f}" if kib is not None else "?"


def report(args, results, binary_info, failures):
    print(f"Failed-login storm: {args.connections} connections at once (from 127.0.0.2-5), each "
          f"`LOGIN {ANN} wrongN` x{args.attempts}; memory sampled every {args.sample * 1000:.0f} ms")
    print(f"({os.cpu_count()} cores shared by the client and the server, loopback; RSS and PSS summed over "
          f"the server's processes, MiB; 'after' = {args.after:g} s after the last reply)")
    print(f"{'server':<8} {'idle RSS':>8} {'peak RSS':>8} {'peak-idle':>9} {'after':>7} {'idle PSS':>8} "
          f"{'peak PSS':>8} {'peak-idle':>9} {'after':>7} {'storm s':>7}")
    for r in results:
        print(f"{r.server:<8} {mib(r.idle[0]):>8} {mib(r.peak[0]):>8} {mib(r.peak[0] - r.idle[0]):>9} "
              f"{mib(r.after[0]):>7} {mib(r.idle[1]):>8} {mib(r.peak[1]):>8} {mib(r.peak[1] - r.idle[1]):>9} "
              f"{mib(r.after[1]):>7} {r.storm_s:>7.1f}")
    by = {r.server: r for r in results}
    if "rumble" in by and "dovecot" in by:
        a, b = by["rumble"], by["dovecot"]
        da, db = a.peak[0] - a.idle[0], b.peak[0] - b.idle[0]
        pa, pb = a.peak[1] - a.idle[1], b.peak[1] - b.idle[1]
        print(f"ratio rumble/dovecot, peak minus idle: RSS {da / db:.2f}x, PSS {pa / pb:.2f}x"
              if db > 0 and pb > 0 else "ratio: n/a")
    if "rumble" in by:
        a = by["rumble"]
        d = (a.peak[0] - a.idle[0]) / MIB
        print(f"goal (rumble): peak RSS under 200 MB above idle: {'met' if d * 1.048576 < 200 else 'NOT met'} "
              f"({d:.1f} MiB = {d * 1.048576:.1f} MB)")
    print()
    print("replies to the wrong LOGINs: count, p50 / max ms")
    classes = sorted({c for r in results for c in r.replies})
    for r in results:
        n = sum(len(v) for v in r.replies.values())
        cells = ", ".join(f"{c} {len(r.replies.get(c, []))} ({ib.pct(sorted(r.replies[c]), 50):.0f} / "
                          f"{max(r.replies[c]):.0f})" for c in classes if r.replies.get(c))
        fails = "; ".join(f"{k}: {v[0]} (e.g. {v[1]})" for k, v in r.failures.items())
        print(f"{r.server:<8} {n} of {args.connections * args.attempts}: {cells}" + (f"; {fails}" if fails else ""))
    print()
    print(f"correct logins from 127.0.0.1, {args.good_delay:g} s into the storm (LOGIN to tagged reply; "
          f"a temporary failure is retried after 0.5 s, up to {args.good_tries} tries)")
    print("(rumble remembers a successful login, so ann's needs no hash check; Dovecot's auth cache is off by "
          "default, so both of its logins check the hash)")
    for r in results:
        for user in (ANN, BOB):
            g = r.good.get(user)
            what = "(logged in once before)" if user == ANN else "(first login ever)"
            if not g:
                print(f"{r.server:<8} {user:<18} {what}: not run")
            elif g[0] == "OK":
                extra = f", first reply: {g[3]}" if g[2] > 1 else ""
                print(f"{r.server:<8} {user:<18} {what}: OK in {g[1]:.0f} ms on try {g[2]} "
                      f"({g[4]:.0f} ms from the first try){extra}")
            else:
                print(f"{r.server:<8} {user:<18} {what}: {g[0]} after {g[1]:.0f} ms; first reply: {g[3]}")
    print()
    notes = []
    for r in results:
        for c, ex in r.examples.items():
            notes.append(f"{r.server}: {c}: e.g. {ex}")
        notes.append(f"{r.server}: {r.samples} memory samples during the storm ({r.sample_gap_ms:.0f} ms apart on "
                     f"average), peak {r.peak_at:.1f} s after the storm began; processes {r.procs[0]} idle, "
                     f"{r.procs[1]} at most; connect + greeting p50 {ib.pct(sorted(r.connect_ms), 50):.0f} ms, "
                     f"max {max(r.connect_ms, default=float('nan')):.0f} ms")
        notes += [f"{r.server}: {n}" for n in r.notes]
    notes += list(failures)
    try:
        dv = subprocess.run([ib.DOVECOT, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        dv = "?"
    if "dovecot" in by:
        notes.append(f"dovecot passwords: {args.dovecot_scheme}"
                     + (" (the same argon2id hashes as rumble's store)" if args.dovecot_scheme == "argon2id" else ""))
    notes.append(binary_info + (f"dovecot {dv}" if "dovecot" in by else ""))
    notes.append(f"load average (1 min) before/after the run: {LOAD_BEFORE:.2f} / {os.getloadavg()[0]:.2f} "
                 "(other work on the machine shows here)")
    print("Notes:")
    for n in notes:
        print(f"- {n}")


LOAD_BEFORE = 0.0


def main():
    global LOAD_BEFORE
    LOAD_BEFORE = os.getloadavg()[0]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rumble", default="target/release/rumble", help="rumble binary (copied before use)")
    ap.add_argument("--servers", default=None,
                    help="comma list of rumble, dovecot (default: both if Dovecot is installed, else rumble)")
    ap.add_argument("--connections", type=int, default=200, help="storm connections (default 200)")
    ap.add_argument("--attempts", type=int, default=3, help="wrong LOGINs per connection, in a row (default 3)")
    ap.add_argument("--sample", type=float, default=0.05, help="seconds between memory samples (default 0.05)")
    ap.add_argument("--idle-seconds", type=float, default=2.0, help="seconds of idle sampling before the storm")
    ap.add_argument("--after", type=float, default=5.0, help="seconds after the storm for the 'after' figure")
    ap.add_argument("--good-delay", type=float, default=0.3, help="seconds into the storm for the correct logins")
    ap.add_argument("--good-tries", type=int, default=20, help="tries of a correct login that gets a temporary failure")
    ap.add_argument("--dovecot-scheme", choices=("argon2id", "plain"), default="argon2id",
                    help="Dovecot's passwords: rumble's argon2id hashes (default) or {PLAIN}")
    ap.add_argument("--timeout", type=float, default=120, help="seconds for one reply")
    args = ap.parse_args()
    have_dovecot = all(os.access(p, os.X_OK) for p in (ib.DOVECOT, ib.DOVECONF))
    order = [s.strip() for s in (args.servers or ("rumble,dovecot" if have_dovecot else "rumble")).split(",")
             if s.strip()]
    if not order or any(s not in ("rumble", "dovecot") for s in order):
        sys.exit("--servers: a comma-separated list of rumble, dovecot")
    if "dovecot" in order:
        args.install = False
        ib.check_dovecot(args)
    if "dovecot" in order and args.dovecot_scheme == "argon2id" and "rumble" not in order:
        sys.exit("--dovecot-scheme argon2id copies rumble's hashes: run with --servers rumble,dovecot "
                 "(or pass --dovecot-scheme plain)")
    if order[0] != "rumble" and "rumble" in order and args.dovecot_scheme == "argon2id":
        order = ["rumble"] + [s for s in order if s != "rumble"]
    Dovecot.connections = args.connections
    raise_nofile(args.connections * 2 + 200)
    rumble = pathlib.Path(args.rumble)
    if not rumble.is_absolute() and not rumble.exists():
        rumble = ROOT / rumble
    if "rumble" in order and not rumble.exists():
        sys.exit(f"{rumble} missing: run `cargo build --release` (or pass --rumble PATH)")

    work = pathlib.Path(tempfile.mkdtemp(prefix="rumble-login-storm-"))
    os.chmod(work, 0o755)
    results, failures, binary_info = [], [], ""
    passwords = {}
    try:
        binary = work / "rumble"
        if "rumble" in order:
            rumble = rumble.resolve()
            built = time.strftime("%Y-%m-%d %H:%M", time.localtime(rumble.stat().st_mtime))
            binary_info = f"rumble binary: {rumble} (modified {built}); "
            shutil.copy2(rumble, binary)
        for name in order:
            print(f"{name}: {args.connections} connections x {args.attempts} wrong LOGINs ...", file=sys.stderr, flush=True)
            try:
                pw = passwords if (name == "rumble" or args.dovecot_scheme == "argon2id") else None
                results.append(run_one(name, args, work, binary, pw if pw is not None else {}))
            except Exception as e:
                print(f"{name} failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                failures.append(f"{name} failed: {type(e).__name__}: {str(e)[:800]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not results:
        sys.exit("no server run completed:\n" + "\n".join(failures))
    report(args, results, binary_info, failures)


if __name__ == "__main__":
    main()
