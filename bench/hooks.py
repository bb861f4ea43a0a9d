#!/usr/bin/env python3
"""Cost of Lua script hooks on SMTP, in one run, on one machine.

    python3 bench/hooks.py                    # after `cargo build --release`
    python3 bench/hooks.py --seconds 10 --clients 8 --rounds 2

Two rumble servers run side by side from fresh temporary folders (SQLite,
MessageStore folder, the config of bench/smtp.py): "plain", with no script
loaded, and "hooks", with three scripts, each a hook doing real work:

- accept.lua: looks the client address up in a Lua table of 1000 entries
  (127.0.0.2 is in it and is refused with 554);
- rcpt.lua: a RCPT command hook that splits cmd.address and calls
  Mailman.addressExists(domain, user) (a miss is refused with 550);
- message.lua: msg:addHeader("X-Checked", "yes").

plus noop.lua (a NOOP command hook returning 250, for the per-call cost) and
acct.lua (a Rumble.createService service that loops over
Mailman.accountExists and answers the elapsed os.clock() time).

1. SMTP load: `--clients` smtplib clients, each sending the same message
   (`--length` bytes) to bob@bench.test for `--seconds`, a new connection
   every `--per-connection` messages (default 1, as smtp-source does, so
   the accept hook runs for every message); plain and hooks alternate
   (ABBA order over `--rounds`). msg/s, p50/p99 per message (connect or
   MAIL to the 250 after DATA), the server's CPU per message, and the
   ratio hooks/plain against the goal "overhead under 10%".
2. Per-call cost, one command at a time: NOOP without hooks vs NOOP
   answered by a hook (`--noops`), RCPT without vs with the addressExists
   hook, connect-to-greeting without vs with the accept hook
   (`--connects`), and whole messages on one connection (`--sequential`);
   the client's round trip and the server's CPU per call, each side.
3. Mailman.accountExists (and addressExists) calls/s from a script.

Checks that the hooks really ran: every message the hooks server stored
has X-Checked (and none on plain), a client from 127.0.0.2 is refused by
the accept hook, RCPT to an unknown user is refused with the hook's text,
the NOOP reply is the hook's, and the service's loop found exactly the
accounts that exist. A failed check is printed under "Checks" and the
exit status is 1.

Helpers (free_port, wait_for_port, RUMBLE_CONF, CPU from /proc) are
imported from bench/smtp.py and bench/pgstore.py. The rumble binary is
copied first, so a rebuild of target/ during the run cannot swap it.
"""

import argparse
import os
import pathlib
import re
import shutil
import signal
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pgstore
from smtp import DOMAIN, RUMBLE_CONF, SENDER, RECIPIENT, free_port, wait_for_port

ROOT = pathlib.Path(__file__).resolve().parent.parent

ACCEPT_LUA = """\
-- accept: look the client address up in a table of 1000 entries.
local blocked = {}
for i = 1, 999 do
  blocked[string.format("10.%d.%d.%d", i // 65536, (i // 256) % 256, i % 256)] = true
end
blocked["127.0.0.2"] = true
Rumble.setHook(function(session)
  if blocked[session.address] then
    session:send("554 5.7.1 hook: client blocked\\r\\n")
    return "failure"
  end
end, "smtp", "accept")
"""

RCPT_LUA = """\
-- RCPT: does the recipient exist? (Mailman.addressExists, a host call)
Rumble.setHook(function(session, cmd)
  local user, domain = (cmd.address or ""):match("^(.*)@([^@]+)$")
  if not user or not Mailman.addressExists(domain, user) then
    return 550, "5.1.1 hook: no such user"
  end
end, "smtp", "command", "rcpt")
"""

MESSAGE_LUA = """\
-- message: add a header.
Rumble.setHook(function(session, msg)
  msg:addHeader("X-Checked", "yes")
end, "smtp", "message")
"""

NOOP_LUA = """\
-- NOOP answered by a hook: the bare cost of a hook call.
Rumble.setHook(function(session, cmd)
  return 250, "2.0.0 hook noop"
end, "smtp", "command", "noop")
"""

ACCT_LUA = """\
-- "N account|address|empty": loop N times, answer "N hits seconds".
local D = "{domain}"
Rumble.createService(function(s)
  while true do
    local line, _, err = s:receive()
    if err or not line then return end
    local n, what = line:match("^(%d+) (%a+)$")
    n = tonumber(n) or 0
    local hits = 0
    local t0 = os.clock()
    if what == "account" then
      for i = 1, n do
        if Mailman.accountExists(D, (i % 2 == 0) and "bob" or "nobody") then hits = hits + 1 end
      end
    elseif what == "address" then
      for i = 1, n do
        if Mailman.addressExists(D, (i % 2 == 0) and "bob" or "nobody") then hits = hits + 1 end
      end
    else
      for i = 1, n do
        if ((i % 2 == 0) and "bob" or "nobody") == "bob" then hits = hits + 1 end
      end
    end
    local dt = os.clock() - t0
    s:send(string.format("%d %d %.6f\\r\\n", n, hits, dt))
  end
end, {port}, 1)
"""


# ------------------------------------------------------------------ servers

class Server:
    """One `rumble serve` in its own folder; `hooks` loads the scripts."""

    def __init__(self, name, binary, work, hooks, args):
        self.name, self.binary, self.hooks = name, binary, hooks
        self.dir = work / name
        self.dir.mkdir()
        self.port = free_port()
        self.svc_port = free_port() if hooks else None
        text = RUMBLE_CONF.format(domain=DOMAIN, dir=self.dir, port=self.port, data="db", cache="cache",
                                  storage="storage")
        if hooks:
            sdir = self.dir / "scripts"
            for name_, src in (("accept", ACCEPT_LUA), ("rcpt", RCPT_LUA), ("message", MESSAGE_LUA),
                               ("noop", NOOP_LUA),
                               ("acct", ACCT_LUA.format(domain=DOMAIN, port=self.svc_port))):
                (sdir / name_).mkdir(parents=True)
                (sdir / name_ / f"{name_}.lua").write_text(src)
                text += f"LoadScript {sdir}/{name_}/{name_}.lua\n"
                if name_ == "acct":
                    text += (f"Grant acct listen {self.svc_port}\nGrant acct mailman.read *\n"
                             f"ScriptLimit acct cpu 120s\nScriptLimit acct share 1\n")
                else:
                    text += f"Grant {name_} hook smtp\n"
                if name_ == "rcpt":
                    text += "Grant rcpt mailman.read *\n"
        self.conf = self.dir / "rumble.conf"
        self.conf.write_text(text)
        for cli in (["domain", "add", DOMAIN], ["account", "add", RECIPIENT, "--password", "secret"]):
            done = subprocess.run([str(binary), "--config", str(self.conf), *cli], capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"{name}: rumble {' '.join(cli)} failed: {done.stdout}{done.stderr}")
        self.log_path = self.dir / "rumble.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(binary), "--config", str(self.conf), "serve"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + 120
        while not re.search(r"rumble \S+ ready", self.log_path.read_text()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name}: rumble did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        wait_for_port(self.port, 60, lambda: self.proc.poll() is None)

    def cpu(self):
        return pgstore.proc_cpu(self.proc.pid)

    def count(self, table):
        db = sqlite3.connect(f"file:{self.dir}/db/rumble.sqlite?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            db.close()

    def drain(self, timeout):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.count("queue") == 0:
                return time.monotonic() - t0
            time.sleep(0.1)
        return None

    def stored_letters(self):
        """(letter files, how many have X-Checked in their header)."""
        files = checked = 0
        for dirpath, _, names in os.walk(self.dir / "storage"):
            for n in names:
                p = pathlib.Path(dirpath) / n
                try:
                    head = p.read_bytes()[:8192].split(b"\r\n\r\n", 1)[0]
                except OSError:
                    continue
                files += 1
                checked += b"\r\nX-Checked: yes\r\n" in head + b"\r\n" or head.startswith(b"X-Checked: yes")
        return files, checked

    def log_problems(self):
        text = self.log_path.read_text(errors="replace")
        return [l for l in text.splitlines() if re.search(r"\b(WARN|ERROR)\b", l) and "self-signed" not in l]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ----------------------------------------------------------------- 1. load

def message_bytes(length):
    head = (f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: hook bench\r\n"
            f"Message-ID: <hookbench@{DOMAIN}>\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, line of the hook bench.\r\n"
    body = (line * (length // len(line) + 1))[:max(0, length - len(head) - 2)]
    return head + body + b"\r\n"


def load_run(server, args, msg):
    """`args.clients` threads for `args.seconds`; returns a dict."""
    stop_at = [0.0]
    lat, errors, lock = [], [], threading.Lock()
    start_evt = threading.Event()

    def client():
        mine, s, sent_here = [], None, 0
        start_evt.wait()
        while time.monotonic() < stop_at[0]:
            try:
                t = time.perf_counter()
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.bench.test", timeout=30)
                    s.ehlo()
                    sent_here = 0
                code, text = s.mail(SENDER)
                if code != 250:
                    raise RuntimeError(f"MAIL {code} {text!r}")
                code, text = s.rcpt(RECIPIENT)
                if code != 250:
                    raise RuntimeError(f"RCPT {code} {text!r}")
                code, text = s.data(msg)
                if code != 250:
                    raise RuntimeError(f"DATA {code} {text!r}")
                mine.append(time.perf_counter() - t)
                sent_here += 1
                if sent_here >= args.per_connection:
                    s.quit()
                    s = None
            except Exception as e:  # noqa: BLE001 - counted and shown
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:200])
                try:
                    if s is not None:
                        s.close()
                except Exception:  # noqa: BLE001
                    pass
                s = None
        if s is not None:
            try:
                s.quit()
            except Exception:  # noqa: BLE001
                pass
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for th in threads:
        th.start()
    cpu0, ccpu0 = server.cpu(), time.process_time()
    t0 = time.monotonic()
    stop_at[0] = t0 + args.seconds
    start_evt.set()
    for th in threads:
        th.join()
    seconds = time.monotonic() - t0
    cpu1, ccpu1 = server.cpu(), time.process_time()
    drained = server.drain(args.drain_timeout)
    cpu2 = server.cpu()
    lat.sort()
    n = len(lat)
    return {
        "server": server.name, "messages": n, "seconds": seconds, "rate": n / seconds if seconds else 0.0,
        "p50": lat[n // 2] * 1000 if n else float("nan"),
        "p99": lat[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        "cpu_window": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None,
        "cpu_all": (cpu2 - cpu0) if cpu0 is not None and cpu2 is not None else None,
        "client_cpu": ccpu1 - ccpu0, "drained": drained, "errors": errors,
    }


# ------------------------------------------------------------- 2. per call

class Raw:
    """A raw SMTP connection: one command, one reply, timed."""

    def __init__(self, port, source=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30,
                                          source_address=(source, 0) if source else None)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("connection closed: " + b"".join(lines).decode(errors="replace"))
            lines.append(line)
            if line[3:4] != b"-":
                return line.decode(errors="replace").strip()

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def time_noops(port, n, per_conn=90):
    """n NOOPs, one at a time; a new connection every `per_conn` (the server
    closes a session after 100 NOOP/RSET/VRFY/HELP, MAX_JUNK_COMMANDS).
    Only the NOOPs are timed."""
    total, done, last = 0.0, 0, ""
    while done < n:
        c = Raw(port)
        c.reply()
        c.cmd("EHLO client.bench.test")
        k = min(per_conn, n - done)
        t = time.perf_counter()
        for _ in range(k):
            last = c.cmd("NOOP")
        total += time.perf_counter() - t
        done += k
        c.cmd("QUIT")
        c.close()
    return total / n, last


def time_rcpts(port, n, per_txn=20, txns_per_conn=80):
    """n RCPTs, one at a time, `per_txn` per transaction (MAIL ... RSET),
    a new connection every `txns_per_conn` transactions (RSET counts
    toward the server's 100 junk commands). Only the RCPTs are timed."""
    total, done, last = 0.0, 0, ""
    c, txns = None, 0
    while done < n:
        if c is None:
            c = Raw(port)
            c.reply()
            c.cmd("EHLO client.bench.test")
            txns = 0
        r = c.cmd(f"MAIL FROM:<{SENDER}>")
        if not r.startswith("250"):
            raise RuntimeError(f"MAIL: {r}")
        for _ in range(per_txn):
            t = time.perf_counter()
            last = c.cmd(f"RCPT TO:<{RECIPIENT}>")
            total += time.perf_counter() - t
            done += 1
        c.cmd("RSET")
        txns += 1
        if txns >= txns_per_conn:
            c.cmd("QUIT")
            c.close()
            c = None
    if c is not None:
        c.cmd("QUIT")
        c.close()
    return total / done, last


def time_connects(port, n):
    """Connect, read the greeting (the accept hook runs before it), QUIT.
    The time is connect to greeting."""
    total, greeting = 0.0, ""
    for _ in range(n):
        t = time.perf_counter()
        c = Raw(port)
        greeting = c.reply()
        total += time.perf_counter() - t
        c.cmd("QUIT")
        c.close()
    return total / n, greeting


def time_messages(port, n, msg):
    """n messages on one connection, one after another: MAIL to the 250
    after DATA (RCPT hook and message hook on the hooks server)."""
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.bench.test", timeout=30)
    s.ehlo()
    total = 0.0
    for _ in range(n):
        t = time.perf_counter()
        s.mail(SENDER)
        s.rcpt(RECIPIENT)
        code, text = s.data(msg)
        total += time.perf_counter() - t
        if code != 250:
            raise RuntimeError(f"DATA {code} {text!r}")
    s.quit()
    return total / n, ""


def per_call(server, fn, *a):
    """(client-side seconds per call, server CPU seconds per call, last reply)
    over fn(port, n, ...), after a warm-up of a tenth of n."""
    n = a[0]
    fn(server.port, max(1, n // 10), *a[1:])
    cpu0 = server.cpu()
    secs, last = fn(server.port, *a)
    cpu1 = server.cpu()
    return secs, (cpu1 - cpu0) / n, last


# ------------------------------------------------------------------- 3. calls

def service_calls(port, what, n):
    c = socket.create_connection(("127.0.0.1", port), timeout=120)
    f = c.makefile("rb")
    c.sendall(f"{min(n, 1000)} {what}\r\n".encode())  # warm up
    f.readline()
    t = time.perf_counter()
    c.sendall(f"{n} {what}\r\n".encode())
    line = f.readline().decode().split()
    wall = time.perf_counter() - t
    c.close()
    count, hits, secs = int(line[0]), int(line[1]), float(line[2])
    return count, hits, secs, wall


# -------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rumble", default=str(ROOT / "target" / "release" / "rumble"),
                    help="rumble binary (default: target/release/rumble; copied before the run)")
    ap.add_argument("--seconds", type=float, default=8.0, help="seconds of load per run (default 8)")
    ap.add_argument("--warmup", type=float, default=4.0,
                    help="seconds of unmeasured load on each server first (default 4): a fresh server's "
                         "first seconds under load were 20-25%% slower, whichever binary")
    ap.add_argument("--clients", type=int, default=8, help="concurrent SMTP clients (default 8)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="load rounds; each runs plain and hooks, alternating ABBA (default 2)")
    ap.add_argument("--per-connection", type=int, default=1,
                    help="messages per connection (default 1, as smtp-source; the accept hook runs per connection)")
    ap.add_argument("--length", type=int, default=4096, help="message size in bytes (default 4096)")
    ap.add_argument("--noops", type=int, default=5000, help="NOOPs (and RCPTs) timed on one connection (default 5000)")
    ap.add_argument("--connects", type=int, default=300, help="connections timed for the accept hook (default 300)")
    ap.add_argument("--sequential", type=int, default=300,
                    help="messages sent one after another on one connection (default 300)")
    ap.add_argument("--calls", type=int, default=20000, help="Mailman calls in the service's loop (default 20000)")
    ap.add_argument("--drain-timeout", type=float, default=60, help="seconds to wait for the queue to empty")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]

    rumble = pathlib.Path(args.rumble)
    if not rumble.exists():
        sys.exit(f"{rumble} missing: run `cargo build --release` (or pass --rumble PATH)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="rumble-hooks-bench-"))
    binary = work / "rumble"
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(rumble.stat().st_mtime))
    shutil.copy2(rumble, binary)
    checks, notes = [], []
    servers = []
    results = []
    try:
        print("starting the plain and the hooks server ...", file=sys.stderr, flush=True)
        plain = Server("plain", binary, work, False, args)
        servers.append(plain)
        hooks = Server("hooks", binary, work, True, args)
        servers.append(hooks)
        msg = message_bytes(args.length)

        # A warm-up message on each (instances, caches, the first fsyncs).
        for srv in (plain, hooks):
            with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
                s.sendmail(SENDER, [RECIPIENT], msg)
            srv.drain(args.drain_timeout)

        # Unmeasured load first: a fresh store is slower for its first
        # seconds (it made the first measured run 20-25% slower).
        warmed = {plain.name: 0, hooks.name: 0}
        if args.warmup > 0:
            for srv in (plain, hooks):
                print(f"warm-up load: {srv.name} ...", file=sys.stderr, flush=True)
                warm = load_run(srv, argparse.Namespace(**{**vars(args), "seconds": args.warmup}), msg)
                warmed[srv.name] = warm["messages"]
                srv.drain(args.drain_timeout)

        # 1. load, ABBA
        order = []
        for r in range(args.rounds):
            order += [plain, hooks] if r % 2 == 0 else [hooks, plain]
        for k, srv in enumerate(order):
            print(f"load run {k + 1}/{len(order)}: {srv.name} ...", file=sys.stderr, flush=True)
            res = load_run(srv, args, msg)
            res["run"] = k + 1
            results.append(res)
            if res["errors"]:
                notes.append(f"run {k + 1} ({srv.name}): {len(res['errors'])} client error(s), first: "
                             f"{res['errors'][0]}")
            if res["drained"] is None:
                notes.append(f"run {k + 1} ({srv.name}): queue not empty after {args.drain_timeout:.0f} s")

        # 2. per call
        print("per-call timings ...", file=sys.stderr, flush=True)
        percall = []
        rows = [("NOOP (hook returns 250)", time_noops, (args.noops,)),
                ("RCPT (hook: addressExists)", time_rcpts, (args.noops,)),
                ("connect to 220 (accept hook)", time_connects, (args.connects,)),
                ("message, 1 connection (RCPT+message hooks)", time_messages, (args.sequential, msg))]
        for what, fn, a in rows:
            p_secs, p_cpu, _ = per_call(plain, fn, *a)
            h_secs, h_cpu, last = per_call(hooks, fn, *a)
            percall.append((what, a[0], p_secs, h_secs, p_cpu, h_cpu))
            if fn is time_noops and "hook noop" not in last:
                checks.append(f"NOOP on the hooks server answered {last!r}, not the hook's text")
            if fn is time_rcpts and not last.startswith("250"):
                checks.append(f"RCPT on the hooks server answered {last!r}")
        for srv in (plain, hooks):
            srv.drain(args.drain_timeout)

        # Did the hooks run?
        try:
            c = Raw(hooks.port, source="127.0.0.2")
            got = c.f.read().decode(errors="replace")
            c.close()
        except OSError as e:
            got = f"error {e}"
        if "hook: client blocked" not in got:
            checks.append(f"accept hook: a client from 127.0.0.2 heard {got!r}")
        c = Raw(hooks.port)
        c.reply()
        c.cmd("EHLO client.bench.test")
        c.cmd(f"MAIL FROM:<{SENDER}>")
        r = c.cmd(f"RCPT TO:<nobody@{DOMAIN}>")
        c.cmd("QUIT")
        c.close()
        if "hook: no such user" not in r:
            checks.append(f"RCPT hook: RCPT to nobody@{DOMAIN} answered {r!r}")

        # 3. Mailman calls from a script
        print("Mailman calls from a script ...", file=sys.stderr, flush=True)
        calls = {}
        for _ in range(2):  # interleaved, best of 2
            for what in ("account", "address", "empty"):
                n, hits, secs, wall = service_calls(hooks.svc_port, what, args.calls)
                if hits != n // 2:
                    checks.append(f"service loop {what}: {hits} hits of {n}, expected {n // 2}")
                if what not in calls or secs < calls[what][2]:
                    calls[what] = (n, hits, secs, wall)

        # Stored letters: every one on hooks has X-Checked, none on plain.
        for srv in (plain, hooks):
            srv.drain(args.drain_timeout)
        seq = args.sequential + max(1, args.sequential // 10)
        expect = {srv.name: 1 + seq + warmed[srv.name] + sum(r["messages"] for r in results if r["server"] == srv.name)
                  for srv in (plain, hooks)}
        stored = {}
        for srv in (plain, hooks):
            letters = srv.count("messages")
            files, checked = srv.stored_letters()
            stored[srv.name] = (letters, files, checked)
            if letters != expect[srv.name]:
                checks.append(f"{srv.name}: {letters} letters in mailboxes, {expect[srv.name]} messages accepted")
            want = letters if srv.hooks else 0
            if checked != want:
                checks.append(f"{srv.name}: {checked} stored files with X-Checked, expected {want} "
                              f"({files} files)")
            for line in srv.log_problems()[:3]:
                notes.append(f"{srv.name} log: {line[:300]}")
    finally:
        for srv in servers:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)

    # ----------------------------------------------------------- report
    print(f"SMTP with and without script hooks ({os.cpu_count()} cores, loopback, SQLite, "
          f"{args.clients} smtplib clients, {args.length}-byte message, {args.per_connection} message(s) "
          f"per connection, {args.seconds:g} s per run)")
    print("hooks = accept (lookup in a 1000-entry table) + RCPT (Mailman.addressExists) + "
          "message (addHeader X-Checked)")
    print(f"{'run':<4} {'server':<7} {'messages':>8} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms/msg':>11} {'+delivery':>10} {'client CPU s':>13}")
    for r in results:
        per = lambda x: f"{x / r['messages'] * 1000:.3f}" if x is not None and r["messages"] else "-"
        print(f"{r['run']:<4} {r['server']:<7} {r['messages']:>8} {r['rate']:>8.1f} {r['p50']:>8.2f} "
              f"{r['p99']:>8.2f} {per(r['cpu_window']):>11} {per(r['cpu_all']):>10} {r['client_cpu']:>13.1f}")

    def agg(name):
        rs = [r for r in results if r["server"] == name]
        n = sum(r["messages"] for r in rs)
        secs = sum(r["seconds"] for r in rs)
        cpu = sum(r["cpu_all"] or 0 for r in rs)
        return max(r["rate"] for r in rs), n / secs, statistics.median(r["p50"] for r in rs), \
            statistics.median(r["p99"] for r in rs), cpu / n * 1000 if n else 0

    bp, tp, p50p, p99p, cpup = agg("plain")
    bh, th, p50h, p99h, cpuh = agg("hooks")
    print(f"ratio hooks/plain msg/s: best {bh / bp:.3f}x, all runs {th / tp:.3f}x "
          f"(overhead {100 * (1 - th / tp):.1f}%; goal: under 10%, i.e. >= 0.90x)")
    print(f"median p50 {p50p:.2f} -> {p50h:.2f} ms, median p99 {p99p:.2f} -> {p99h:.2f} ms; "
          f"server CPU per message incl. delivery {cpup:.3f} -> {cpuh:.3f} ms (+{cpuh - cpup:.3f} ms, "
          f"{100 * (cpuh / cpup - 1):.1f}%)")
    print("CPU ms/msg = server CPU (utime+stime of rumble, scripts included) in the load window / messages; "
          "+delivery = until the queue was empty")

    print()
    print("Per call, one command at a time (client round trip included; server CPU from /proc)")
    print(f"{'what':<44} {'n':>6} {'plain us':>9} {'hooks us':>9} {'+us':>8} "
          f"{'CPU plain us':>13} {'CPU hooks us':>13} {'+CPU us':>8}")
    for what, n, p, h, pc, hc in percall:
        print(f"{what:<44} {n:>6} {p * 1e6:>9.1f} {h * 1e6:>9.1f} {(h - p) * 1e6:>8.1f} "
              f"{pc * 1e6:>13.1f} {hc * 1e6:>13.1f} {(hc - pc) * 1e6:>8.1f}")
    print("NOOP and RCPT: a new connection every 90 NOOPs / 80 transactions of 20 RCPTs (the server's limit "
          "of 100 NOOP/RSET per session); their CPU includes those connects, EHLOs and RSETs")

    print()
    print("Mailman calls from a script (Rumble.createService loop, os.clock() in the guest, best of 2)")
    print(f"{'call':<28} {'calls':>7} {'seconds':>9} {'calls/s':>10} {'us/call':>8} {'wall s':>8}")
    for what in ("account", "address", "empty"):
        n, hits, secs, wall = calls[what]
        label = {"account": "Mailman.accountExists", "address": "Mailman.addressExists",
                 "empty": "empty loop (no call)"}[what]
        rate = f"{n / secs:>10.0f}" if secs > 0 else f"{'-':>10}"
        print(f"{label:<28} {n:>7} {secs:>9.4f} {rate} {secs / n * 1e6:>8.2f} {wall:>8.3f}")
    if not any("service loop" in c for c in checks):
        print("half the names exist (bob), half do not (nobody); each loop found exactly the existing ones")

    print()
    print("Checks (did the hooks run?)")
    pl, ho = stored["plain"], stored["hooks"]
    print(f"- letters in mailboxes: plain {pl[0]}, hooks {ho[0]} (accepted: {expect['plain']}, {expect['hooks']}); "
          f"stored files with X-Checked: plain {pl[2]} of {pl[1]}, hooks {ho[2]} of {ho[1]}")
    print("- accept hook refused 127.0.0.2; RCPT hook refused nobody@; NOOP answered by the hook"
          if not checks else "- FAILED:")
    for c in checks:
        print(f"  - {c}")
    notes.append(f"rumble binary: {rumble.resolve()} (modified {built}, copied when the run began)")
    notes.append("load average (1 min) before/after: {:.2f} / {:.2f}".format(load_before, os.getloadavg()[0]))
    print()
    print("Notes:")
    for n in notes:
        print(f"- {n}")
    sys.exit(1 if checks else 0)


if __name__ == "__main__":
    main()
