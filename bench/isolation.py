#!/usr/bin/env python3
"""Script isolation benchmark: what a busy or hostile Lua script costs the
rest of the server, what a freshly loaded instance per connection costs, and
what a caught error costs inside the sandbox. Starts its own `rumble serve`
(loopback, free ports, a temporary folder removed afterwards) and prints
three tables. Not a test: no pass/fail; figures and ratios from one run.

    python3 bench/isolation.py             # after `cargo build --release`
    python3 bench/isolation.py --quick     # smaller N, for a first look
    python3 bench/isolation.py --only smtp,fresh,pcall

1. SMTP isolation: smtplib transactions (connect, EHLO, MAIL, RCPT to a
   local mailbox, DATA of ~1 KB, QUIT), sequential and 4 parallel clients,
   and line round trips to a second script's echo service (bench/lua/echo.lua),
   first with no script load, then while 8 clients keep bench/lua/spin.lua
   busy (`while true do end` until its CPU budget stops it, reconnecting in
   a loop, each client from its own 127.0.0.x since script services take
   at most half their sessions from one IP). Same server, same run; ratio
   loaded/unloaded (goal: p99 <= 1.25x).
2. Fresh state per connection: connect + one line + reply round trips to
   bench/lua/reply.lua and bench/lua/reply_table.lua (whose top level builds
   a 1000-entry table) with `ScriptLimit <name> calls 1` (a freshly loaded
   instance per connection) and `calls 1000000` (instances reused),
   interleaved, each with `share 2` so the CPU share does not throttle it.
   Builds without the `calls` limit print n/a for it.
3. pcall: `pcall(error, "x")` in a loop inside the guest
   (`rumble script run bench/lua/pcall.lua`) vs native `lua5.4`, at depth 0
   and under 190 nested pcalls, guest without and with RUST_BACKTRACE=1.
"""

import argparse
import datetime
import os
import pathlib
import re
import resource
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
LUA_DIR = ROOT / "bench" / "lua"
DOMAIN = "bench.test"
SENDER = "alice@example.net"
RECIPIENT = "bob@bench.test"
SPIN_CLIENTS = 8
SPIN_CPU = "1s"
P99_GOAL = 1.25
PCALL_GOAL = 10.0


# ---------------------------------------------------------------- helpers

# free_port, smtp_greets and wait_for_port are bench/smtp.py's (same folder).
from smtp import free_port, smtp_greets, wait_for_port  # noqa: E402


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pct(values, q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def server_cpu(pid: int, threads: str = "") -> float:
    """Seconds on CPU of every live thread of `pid` (schedstat, ns
    precision); only those whose name starts with `threads` if given."""
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            if threads and not (task / "comm").read_text().startswith(threads):
                continue
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread ended meanwhile
    return total / 1e9


GUEST_THREADS = "rumble-guest"  # the scripts' own runtime, in builds that have one


def clean_env(**extra):
    """The environment without RUST_BACKTRACE (it changes what a trap
    costs), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "RUST_BACKTRACE"}
    env.update(extra)
    return env


class Rumble:
    """A `rumble serve` from a config in its own folder; the log in a file."""

    def __init__(self, binary: pathlib.Path, folder: pathlib.Path, config: str, accounts=()):
        self.binary = binary
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "rumble.conf"
        self.conf.write_text(config)
        for cli in accounts:
            done = subprocess.run([str(binary), "--config", str(self.conf), *cli], capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL, timeout=60, env=clean_env())
            if done.returncode != 0:
                raise RuntimeError(f"rumble {' '.join(cli)} failed: {done.stdout}{done.stderr}")
        self.log_path = folder / "rumble.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(binary), "--config", str(self.conf), "serve"],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=folder, env=clean_env(RUST_LOG="info"))
        self.start_error = None
        deadline = time.monotonic() + 60
        while not re.search(r"rumble \S+ ready", self.log()):
            if self.proc.poll() is not None:
                self.start_error = f"exited with status {self.proc.returncode}:\n{self.log().strip()}"
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rumble did not start within 60 s:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def problems(self, ignore=()):
        return [line for line in self.log().splitlines()
                if re.search(r"\b(WARN|ERROR)\b", line) and not any(re.search(p, line) for p in ignore)]

    def stop(self) -> list:
        notes = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                notes.append("rumble did not stop within 30 s of SIGTERM; killed")
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return notes


# ---------------------------------------------------------- the clients

def smtp_message(i: int) -> bytes:
    """A ~1 KB message."""
    head = (f"From: Alice <{SENDER}>\r\nTo: Bob <{RECIPIENT}>\r\nSubject: isolation bench {i}\r\n"
            f"Message-ID: <iso-{i}-{time.monotonic_ns()}@example.net>\r\n\r\n")
    line = "The quick brown fox jumps over the lazy dog, message of the bench.\r\n"
    body = line * ((1024 - len(head)) // len(line) + 1)
    return (head + body).encode()[:1024 - 2] + b"\r\n"


def smtp_transaction(port: int, i: int) -> float:
    """One full SMTP transaction; returns its duration in ms."""
    msg = smtp_message(i)
    t = time.perf_counter()
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.net", timeout=60)
    try:
        code, _ = s.ehlo()
        if code != 250:
            raise RuntimeError(f"EHLO: {code}")
        code, text = s.mail(SENDER)
        if code != 250:
            raise RuntimeError(f"MAIL: {code} {text!r}")
        code, text = s.rcpt(RECIPIENT)
        if code != 250:
            raise RuntimeError(f"RCPT: {code} {text!r}")
        code, text = s.data(msg)
        if code != 250:
            raise RuntimeError(f"end of DATA: {code} {text!r}")
        s.quit()
    finally:
        s.close()
    return (time.perf_counter() - t) * 1000


def smtp_parallel(port: int, clients: int, n: int):
    """`clients` threads doing `n` transactions each; all latencies in ms."""
    results, errors = [], []

    def worker(c):
        mine = []
        try:
            for i in range(n):
                mine.append(smtp_transaction(port, c * 100000 + i))
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            errors.append(f"SMTP client {c}: {e!r}")
        results.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def echo_round_trips(port: int, n: int):
    """One connection, `n` lines, each timed from send to its echo (ms)."""
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        for i in range(n):
            line = f"line {i} of the echo bench".encode()
            t = time.perf_counter()
            s.sendall(line + b"\r\n")
            got = f.readline()
            times.append((time.perf_counter() - t) * 1000)
            if got.rstrip(b"\r\n") != line:
                raise RuntimeError(f"echo answered {got!r} to {line!r}")
    return times


class SpinLoad:
    """`clients` threads that each connect to the spin service, send a line
    (the script then spins until its CPU budget stops it and the session is
    closed) and reconnect, until stopped. Each client connects from its own
    loopback address (127.0.0.10, .11, ...): script services take at most
    half their sessions from one IP, and the load is meant to keep all of
    them busy. A session closed within REFUSED_S was refused, not stopped by
    the budget; its client waits a moment before it tries again."""

    REFUSED_S = 0.2

    def __init__(self, port: int, clients: int):
        self.port = port
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.socks = set()
        self.started = 0     # sessions that got their line in
        self.active = 0      # sessions in progress now
        self.stopped = []    # wall seconds of sessions the server ended (budget used up)
        self.refused = 0     # sessions closed at once (a limit, not the budget)
        self.errors = []
        self.sources = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _connect(self, i):
        source = f"127.0.0.{10 + i}"
        try:
            return socket.create_connection(("127.0.0.1", self.port), timeout=60, source_address=(source, 0)), source
        except OSError:
            return socket.create_connection(("127.0.0.1", self.port), timeout=60), "127.0.0.1"

    def _run(self, i):
        while not self.stop_flag.is_set():
            try:
                s, source = self._connect(i)
            except OSError as e:
                with self.lock:
                    self.errors.append(f"connect: {e}")
                time.sleep(0.05)
                continue
            with self.lock:
                self.socks.add(s)
                self.sources.append(source)
                self.active += 1
            t = time.monotonic()
            ended = "closed"
            try:
                s.sendall(b"spin\r\n")
                with self.lock:
                    self.started += 1
                data = s.recv(256)
                if data:
                    ended = f"answered {data[:60]!r}"
            except socket.timeout:
                ended = "no end after 60 s"
            except OSError as e:
                ended = "closed" if e.errno in (104, 32) else f"error {e}"
            finally:
                seconds = time.monotonic() - t
                with self.lock:
                    self.socks.discard(s)
                    self.active -= 1
                s.close()
            if self.stop_flag.is_set():
                break
            with self.lock:
                if ended != "closed":
                    self.errors.append(ended)
                elif seconds < self.REFUSED_S:
                    self.refused += 1
                else:
                    self.stopped.append(seconds)
            if ended != "closed" or seconds < self.REFUSED_S:
                time.sleep(0.05)

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        with self.lock:
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self.threads:
            t.join(timeout=65)


def line_request(port: int) -> float:
    """Connect, send one line, read the reply; µs from connect to reply."""
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"hello\r\n")
        f = s.makefile("rb")
        got = f.readline()
        us = (time.perf_counter() - t) * 1e6
    if not got.startswith(b"ok hello"):
        raise RuntimeError(f"service on port {port} answered {got!r}")
    return us


# --------------------------------------------------- 1. SMTP isolation

ISOLATION_CONF = """\
ServerName {domain}
DataFolder {dir}/db
StorageFolder {dir}/storage
CacheFolder {cache}
BindToAddress 127.0.0.1
EnableSMTP 1
SMTPPort {smtp}
EnablePOP3 0
EnableIMAP4 0
EnableSubmission 0
EnableSMTPS 0
MessageSizeLimit 10485760
EchoPort {echo}
SpinPort {spin}

LoadScript {lua}/echo.lua
Grant echo listen {echo}
Grant echo config.read echoport

LoadScript {lua}/spin.lua
Grant spin listen {spin}
Grant spin config.read spinport
ScriptLimit spin cpu {spin_cpu}
"""


def run_isolation(args, binary, work, cache):
    smtp_port, echo_port, spin_port = free_port(), free_port(), free_port()
    folder = work / "isolation"
    config = ISOLATION_CONF.format(domain=DOMAIN, dir=folder, cache=cache, smtp=smtp_port, echo=echo_port,
                                   spin=spin_port, lua=LUA_DIR, spin_cpu=SPIN_CPU)
    server = Rumble(binary, folder, config,
                    accounts=(["domain", "add", DOMAIN], ["account", "add", RECIPIENT, "--password", "secret"]))
    if server.start_error:
        raise RuntimeError(f"rumble did not start: {server.start_error}")
    notes = []
    phases = {}
    try:
        wait_for_port(smtp_port, 30, server.alive)
        for p in (echo_port, spin_port):
            wait_for_port(p, 30, server.alive, check=listening)
        # Warm-up: first sessions, the echo script's first instances.
        for i in range(10):
            smtp_transaction(smtp_port, -1 - i)
        echo_round_trips(echo_port, 20)

        def measure(phase):
            pid = server.proc.pid
            cpu0, guest0, t0 = server_cpu(pid), server_cpu(pid, GUEST_THREADS), time.monotonic()
            seq = [smtp_transaction(smtp_port, i) for i in range(args.smtp_n)]
            par, errs = smtp_parallel(smtp_port, 4, args.smtp_n)
            echo = echo_round_trips(echo_port, args.echo_n)
            seconds = time.monotonic() - t0
            cores = (server_cpu(pid) - cpu0) / seconds
            guest = (server_cpu(pid, GUEST_THREADS) - guest0) / seconds
            notes.extend(f"{phase}: {e}" for e in errs)
            phases[phase] = {"seq": seq, "par": par, "echo": echo, "cores": cores, "guest": guest,
                             "seconds": seconds}

        print("SMTP isolation: unloaded phase ...", file=sys.stderr, flush=True)
        measure("unloaded")

        print(f"SMTP isolation: loaded phase ({SPIN_CLIENTS} spin clients) ...", file=sys.stderr, flush=True)
        load = SpinLoad(spin_port, SPIN_CLIENTS)
        load.start()
        deadline = time.monotonic() + 10
        while load.active < SPIN_CLIENTS and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # every spinner inside its loop
        with load.lock:
            before = (len(load.stopped), load.refused)
        log_stops_before = len(re.findall(r'script "spin" stopped', server.log()))
        active = []
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.1):
                active.append(load.active)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            measure("loaded")
        finally:
            sampling.set()
            sampler.join()
            with load.lock:
                stopped = load.stopped[before[0]:]
                refused = load.refused - before[1]
            log_stops = len(re.findall(r'script "spin" stopped', server.log())) - log_stops_before
            load.stop()
        phases["loaded"].update(spin_stops=len(stopped), spin_refused=refused, spin_log_stops=log_stops,
                                spin_wall=(sorted(stopped)[len(stopped) // 2] if stopped else None),
                                spin_active=(sum(active) / len(active) if active else 0.0),
                                spin_sources=len(set(load.sources)))
        if load.errors:
            notes.append(f"spin clients: {len(load.errors)} error(s), first: " + " | ".join(load.errors[:3]))
        if not server.alive():
            notes.append(f"rumble exited during the run with status {server.proc.returncode}")
    finally:
        notes += server.stop()
    # The spin script is stopped by design, many times: those lines are expected.
    expected = (r'script "spin" stopped', r"service spin\b.*session with", r"self-signed certificate",
                r"shutdown: sessions still running",  # spinners still in their loop at SIGTERM
                r"unknown directive.*(EchoPort|SpinPort)", r"(EchoPort|SpinPort).*unknown")
    problems = server.problems(ignore=expected)
    problems = [p for p in problems if not re.search(r"unknown directive \"(echoport|spinport)\"", p, re.I)]
    if problems:
        notes.append(f"rumble log: {len(problems)} other WARN/ERROR line(s), first: " + " | ".join(problems[:3]))
    return phases, notes


def print_isolation(args, phases):
    u, l = phases["unloaded"], phases["loaded"]
    print(f"SMTP isolation: latency without and with a busy script ({os.cpu_count()} cores, loopback, same server)")
    print("SMTP = smtplib connect, EHLO, MAIL, RCPT (local mailbox), DATA ~1 KB, QUIT; "
          "echo = one line to bench/lua/echo.lua and back (one connection)")
    print(f"load = {SPIN_CLIENTS} clients keeping bench/lua/spin.lua in `while true do end` "
          f"(stopped by its {SPIN_CPU} CPU budget, reconnecting)")
    print(f"{'ms':<22} {'n':>5}  {'unloaded p50':>12} {'p99':>7}  {'loaded p50':>10} {'p99':>7}"
          f"  {'ratio p50':>9} {'p99':>6}")
    rows = (("SMTP sequential", "seq", f"{args.smtp_n}"),
            ("SMTP 4 parallel", "par", f"4x{args.smtp_n}"),
            ("echo line (2nd script)", "echo", f"{args.echo_n}"))
    for label, key, n in rows:
        a, b = u[key], l[key]
        a50, a99, b50, b99 = pct(a, 50), pct(a, 99), pct(b, 50), pct(b, 99)
        print(f"{label:<22} {n:>5}  {a50:>12.2f} {a99:>7.2f}  {b50:>10.2f} {b99:>7.2f}"
              f"  {b50 / a50:>8.2f}x {b99 / a99:>5.2f}x")
    for label, key in (("SMTP sequential", "seq"), ("SMTP 4 parallel", "par"), ("echo", "echo")):
        r99 = pct(l[key], 99) / pct(u[key], 99)
        verdict = "met" if r99 <= P99_GOAL else "NOT met"
        print(f"{label} p99 ratio loaded/unloaded: {r99:.2f}x (goal <= {P99_GOAL:.2f}x: {verdict})")
    guest = (lambda p: f" ({GUEST_THREADS} threads {p['guest']:.2f})") if l["guest"] > 0 else (lambda p: "")
    print(f"server CPU (cores busy): unloaded {u['cores']:.2f}{guest(u)}, loaded {l['cores']:.2f}{guest(l)}; "
          f"loaded phase {l['seconds']:.1f} s: spin sessions in progress {l['spin_active']:.1f} on average "
          f"(from {l['spin_sources']} client address(es))")
    wall = f", median {l['spin_wall']:.1f} s wall each" if l["spin_wall"] else ""
    print(f"spin sessions ended by the budget during it: {l['spin_stops']}{wall} "
          f"(log: {l['spin_log_stops']}); closed at once (refused): {l['spin_refused']}")


# ------------------------------------- 2. fresh state per connection

FRESH_CONF = """\
ServerName {domain}
DataFolder {dir}/db
StorageFolder {dir}/storage
CacheFolder {cache}
BindToAddress 127.0.0.1
EnableSMTP 0
EnablePOP3 0
EnableIMAP4 0
EnableSubmission 0
EnableSMTPS 0
"""

# (script stem in the temp folder, source in bench/lua, what, calls limit)
FRESH_SCRIPTS = (
    ("replyfresh", "reply.lua", "trivial", 1),
    ("replyreused", "reply.lua", "trivial", 1000000),
    ("tablefresh", "reply_table.lua", "1000-entry table", 1),
    ("tablereused", "reply_table.lua", "1000-entry table", 1000000),
)


def fresh_config(folder, cache, scripts, calls: bool, share: bool):
    """The config and ports; `calls`: write the `calls` limits; `share`: lift
    each script's CPU share to 2 cores, so that the share (0.5 core by
    default in builds that have it) does not throttle what is measured."""
    ports = {}
    text = FRESH_CONF.format(domain=DOMAIN, dir=folder, cache=cache)
    for stem, source, _, n in scripts:
        port = free_port()
        ports[stem] = port
        shutil.copy(LUA_DIR / source, folder / "lua" / f"{stem}.lua")
        text += (f"\n{stem}Port {port}\nLoadScript lua/{stem}.lua\nGrant {stem} listen {port}\n"
                 f"Grant {stem} config.read {stem}port\n")
        if calls:
            text += f"ScriptLimit {stem} calls {n}\n"
        if share:
            text += f"ScriptLimit {stem} share 2\n"
    return text, ports


def refused_limit(server) -> tuple:
    """(limit word, the server's words) for a `ScriptLimit` this build does
    not know, from a failed start or a warning; ("", "") if it took them."""
    text = server.start_error or "\n".join(
        line for line in server.log().splitlines() if re.search(r"\b(WARN|ERROR)\b", line))
    for word in ("calls", "share"):
        for line in text.splitlines():
            if re.search(rf"\b{word}\b", line):
                return word, line.strip()
    if server.start_error:
        raise RuntimeError(f"rumble did not start: {server.start_error}")
    return "", ""


def run_fresh(args, binary, work, cache):
    folder = work / "fresh"
    notes = []
    calls = share = True
    scripts = FRESH_SCRIPTS
    while True:
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "lua").mkdir(parents=True)
        text, ports = fresh_config(folder, cache, scripts, calls, share)
        server = Rumble(binary, folder, text)
        word, why = refused_limit(server)
        if not word:
            break
        server.stop()
        notes.append(f"`ScriptLimit ... {word}` refused by this build: {why[:300]}")
        if word == "calls":
            # Measure what this build does without the limit: instances reused.
            calls = False
            scripts = tuple(s for s in FRESH_SCRIPTS if s[3] != 1)
        else:
            share = False
    unsupported = not calls
    times = {s[0]: [] for s in scripts}
    cpu = {s[0]: 0.0 for s in scripts}
    failed = {s[0]: [] for s in scripts}
    try:
        for stem in times:
            wait_for_port(ports[stem], 30, server.alive, check=listening)
        for stem in times:  # warm-up: each pool's first instances
            for _ in range(20):
                line_request(ports[stem])
        rounds = 5
        per_round = max(1, args.fresh_n // rounds)
        stems = list(times)
        for r in range(rounds):  # interleaved, the order rotated each round
            order = stems[r % len(stems):] + stems[:r % len(stems)]
            for stem in order:
                c0 = server_cpu(server.proc.pid)
                for _ in range(per_round):
                    try:
                        times[stem].append(line_request(ports[stem]))
                    except (OSError, RuntimeError) as e:
                        failed[stem].append(repr(e))
                cpu[stem] += server_cpu(server.proc.pid) - c0
        if not server.alive():
            notes.append(f"rumble exited during the run with status {server.proc.returncode}")
    finally:
        notes += server.stop()
    for stem, errs in failed.items():
        if errs:
            notes.append(f"fresh state, {stem}: {len(errs)} of {args.fresh_n} connections failed "
                         f"(not counted), first: {errs[0]}")
    problems = server.problems(ignore=(r"self-signed certificate", r"unknown directive \"\w+port\""))
    if problems:
        notes.append(f"rumble log (fresh state): {len(problems)} WARN/ERROR line(s), first: "
                     + " | ".join(problems[:3]))
    result = {stem: {"n": len(v), "mean": sum(v) / len(v), "p50": pct(v, 50),
                     "cpu": cpu[stem] * 1e6 / (len(v) + len(failed[stem]))} for stem, v in times.items() if v}
    return result, unsupported, share, notes


def print_fresh(args, result, unsupported, share):
    print(f"Fresh state per connection: connect + one line + reply, {args.fresh_n} sequential per service "
          f"(interleaved in 5 rounds), µs per connection")
    print("bench/lua/reply.lua (trivial top level) and bench/lua/reply_table.lua (top level builds a "
          "1000-entry table)" + (", each with `ScriptLimit <name> share 2`" if share else ""))
    print(f"{'script top level':<18} {'calls 1 (fresh) mean':>21} {'p50':>7} {'CPU':>7}"
          f"  {'calls 1000000 (reused) mean':>27} {'p50':>7} {'CPU':>7}")
    na = "n/a (this build has no `calls` limit)"
    costs = []
    for what, fresh, reused in (("trivial", "replyfresh", "replyreused"),
                                ("1000-entry table", "tablefresh", "tablereused")):
        if reused not in result or (not unsupported and fresh not in result):
            print(f"{what:<18} (every connection failed, see the notes)")
            continue
        r = result[reused]
        if unsupported:
            left = f"{'n/a':>21} {'':>7} {'':>7}"
            costs.append(f"{what}: {na}")
        else:
            f = result[fresh]
            left = f"{f['mean']:>21.1f} {f['p50']:>7.1f} {f['cpu']:>7.1f}"
            costs.append(f"{what}: {f['mean'] - r['mean']:.1f} µs wall, "
                         f"{f['cpu'] - r['cpu']:.1f} µs server CPU")
        print(f"{what:<18} {left}  {r['mean']:>27.1f} {r['p50']:>7.1f} {r['cpu']:>7.1f}")
    print("(CPU = the server's CPU time per connection, all threads)")
    if unsupported:
        print("(calls 1000000 column: no `calls` line, this build's default, which reuses instances)")
    print("fresh-state cost per connection: " + "; ".join(costs))


# ------------------------------------------------------------ 3. pcall

def pcall_run(cmd, env, timeout):
    """Run pcall.lua; returns (µs per op from the script, CPU seconds the
    process used, error text)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, None, f"timed out after {timeout:.0f} s"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    m = re.search(r"us_per_op=([\d.]+)", done.stdout)
    if done.returncode != 0 or not m:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:]
        return None, None, (last[0] if last else f"exit status {done.returncode}")
    return float(m.group(1)), cpu, ""


def run_pcall(args, binary):
    """Per variant two runs of pcall.lua (3 repeats each): a short one with a
    tenth of the loop, then the full loop. The figure is the script's own
    (os.clock: process CPU time natively, but time since the instance
    started in the guest, WASI having no CPU clock), so a busy machine
    counts against the guest only. The second figure divides the difference
    in the process's CPU time (user + system, from the kernel) between the
    two runs by the difference in caught errors: the same clock for both
    sides, and start-up (JIT, loading) cancels out."""
    lua = shutil.which("lua5.4")
    script = str(LUA_DIR / "pcall.lua")
    guest = [str(binary), "script", "run", "--cpu-limit", "10min", script]
    kinds = {
        "native": ([lua, script] if lua else None, clean_env()),
        "guest": (guest, clean_env()),
        "guest RUST_BACKTRACE=1": (guest, clean_env(RUST_BACKTRACE="1")),
    }
    rows, notes = {}, []
    for depth in (0, 190):
        row = {}
        for kind, (cmd, env) in kinds.items():
            if cmd is None:
                row[kind] = (None, None, "lua5.4 not found (scripts/setup.sh)")
                continue
            print(f"pcall: depth {depth}, {kind} ...", file=sys.stderr, flush=True)
            loops = args.pcall_loops
            short = max(1000, loops // 10)
            # The short run first: it also keeps a very slow variant (a
            # backtrace captured per error) from running for many minutes.
            us, cpu_short, err = pcall_run(cmd + [str(short), str(depth), "3"], env, 600)
            if us is not None and us * loops * 3 / 1e6 > args.pcall_budget:
                loops = max(2 * short, int(args.pcall_budget * 1e6 / (us * 3)) // 1000 * 1000)
                notes.append(f"pcall depth {depth}, {kind}: loop shortened to {loops} "
                             f"(short run: {us:.1f} µs/op)")
            cpu_us = None
            if us is not None:
                us, cpu, err = pcall_run(cmd + [str(loops), str(depth), "3"], env, 1800)
                if us is not None:
                    cpu_us = (cpu - cpu_short) * 1e6 / (3 * (loops - short))
            row[kind] = (us, cpu_us, err)
            if err:
                notes.append(f"pcall depth {depth}, {kind}: {err}")
        rows[depth] = row
    return rows, notes


def print_pcall(args, rows):
    print(f"pcall(error, \"x\"): µs per caught error, loop of {args.pcall_loops} (best of 3), "
          f"guest = rumble script run bench/lua/pcall.lua")
    print(f"{'os.clock in the script':<26} {'native lua5.4':>13} {'guest':>9} {'ratio':>7}"
          f"  {'guest RUST_BACKTRACE=1':>22} {'ratio':>8}")

    def fmt(v):
        return f"{v:.3f}" if v is not None else "error"

    def ratio(a, b):
        return f"{a / b:.1f}x" if a is not None and b else "n/a"

    for i, title in ((0, None), (1, "process CPU, two-point")):
        if title:
            print(title)
        for depth, row in rows.items():
            label = "  top level" if depth == 0 else f"  under {depth} nested pcalls"
            n, g, gb = row["native"][i], row["guest"][i], row["guest RUST_BACKTRACE=1"][i]
            print(f"{label:<26} {fmt(n):>13} {fmt(g):>9} {ratio(g, n):>7}  {fmt(gb):>22} {ratio(gb, n):>8}")
    verdicts = []
    for depth, row in rows.items():
        n, g = row["native"][0], row["guest"][0]
        if n and g is not None:
            verdicts.append(f"depth {depth} {'met' if g / n <= PCALL_GOAL else 'NOT met'}")
    print(f"goal: guest within {PCALL_GOAL:.0f}x native (os.clock figures, without RUST_BACKTRACE): "
          + ", ".join(verdicts))
    print("(os.clock is CPU time natively but wall time in the guest; the CPU rows use the kernel's "
          "count for both)")


# -------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rumble", default=str(ROOT / "target" / "release" / "rumble"),
                    help="rumble binary (default: target/release/rumble of this repo)")
    ap.add_argument("--quick", action="store_true", help="smaller N everywhere (a first look, noisier)")
    ap.add_argument("--only", default="smtp,fresh,pcall", help="sections to run: smtp,fresh,pcall")
    ap.add_argument("--pcall-budget", type=float, default=90,
                    help="seconds one pcall variant may take (longer loops are shortened, with a note)")
    args = ap.parse_args()
    args.smtp_n = 50 if args.quick else 200
    args.echo_n = 200 if args.quick else 1000
    args.fresh_n = 100 if args.quick else 500
    args.pcall_loops = 20000 if args.quick else 200000
    sections = set(args.only.split(","))
    unknown = sections - {"smtp", "fresh", "pcall"}
    if unknown:
        sys.exit(f"unknown section(s): {', '.join(sorted(unknown))}")

    rumble = pathlib.Path(args.rumble)
    if not rumble.is_absolute() and not rumble.exists():
        rumble = ROOT / rumble
    if not rumble.exists():
        sys.exit(f"{rumble} missing: run `cargo build --release` (or pass --rumble PATH)")
    built = datetime.datetime.fromtimestamp(rumble.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()[0]

    work = pathlib.Path(tempfile.mkdtemp(prefix="rumble-isolation-bench-"))
    notes = []
    try:
        # A private copy, so a rebuild of target/ during the run cannot swap
        # the binary under the benchmark.
        binary = work / "rumble"
        shutil.copy2(rumble, binary)
        cache = work / "cache"  # the compiled guest, shared by the servers
        if "smtp" in sections:
            iso, n = run_isolation(args, binary, work, cache)
            notes += n
        if "fresh" in sections:
            print("fresh state per connection ...", file=sys.stderr, flush=True)
            fresh, unsupported, share, n = run_fresh(args, binary, work, cache)
            notes += n
        if "pcall" in sections:
            pc, n = run_pcall(args, binary)
            notes += n
    finally:
        shutil.rmtree(work, ignore_errors=True)

    first = True
    for name, show in (("smtp", lambda: print_isolation(args, iso)),
                       ("fresh", lambda: print_fresh(args, fresh, unsupported, share)),
                       ("pcall", lambda: print_pcall(args, pc))):
        if name in sections:
            if not first:
                print()
            show()
            first = False

    print()
    print("Notes:")
    for n in notes:
        print(f"- {n}")
    print(f"- rumble binary: {rumble} (modified {built}){', --quick' if args.quick else ''}")
    print(f"- load average (1 min) before/after the run: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
          "(other work on the machine shows here)")


if __name__ == "__main__":
    main()
