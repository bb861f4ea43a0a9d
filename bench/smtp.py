#!/usr/bin/env python3
"""SMTP acceptance benchmark: Postfix's `smtp-source` against Rumble's MX
port and against a private Postfix instance that takes the same mail into a
mailbox, same run, same machine. Prints messages/s for each and the ratio.
Not a test: no pass/fail (the goal is ratio >= 1.0x).

    python3 bench/smtp.py                  # after `cargo build --release`
    python3 bench/smtp.py --install        # first install postfix (apt-get)
    python3 bench/smtp.py --rounds 2 -m 500
    python3 bench/smtp.py --store sqlite,postgresql,postgresql-2nodes

`--store` runs rumble once per store engine (default: sqlite only): on a
private PostgreSQL (tests/pg.py's PgServer, started here with fsync on; see
bench/pgstore.py), with one node or with two nodes sharing the database and
the StorageFolder, smtp-source's sessions and messages split between them.

Needs root (Postfix's master runs as root and drops to `postfix`) and the
Debian package postfix (smtp-source, postfix, postconf); see
bench/postfix_setup.sh. Every server run gets a fresh temporary folder
(store, spool, queue, mailbox), removed afterwards; no system Postfix is
touched.
"""

import argparse
import os
import pathlib
import pty
import pwd
import re
import select
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import pgstore

ROOT = pathlib.Path(__file__).resolve().parent.parent
SETUP = ROOT / "bench" / "postfix_setup.sh"
SMTP_SOURCE = "/usr/sbin/smtp-source"
POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
DOMAIN = "bench.test"
SENDER = "alice@bench.test"
RECIPIENT = "bob@bench.test"
INSTALL_HELP = f"""\
smtp-source and postfix are needed (Debian package postfix). Install them with
    python3 bench/smtp.py --install        (as root)
or, by hand, as root:
    printf '%s\\n' 'postfix postfix/main_mailer_type select No configuration' \\
        'postfix postfix/mailname string bench.test' | debconf-set-selections
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix
(the same commands are in {SETUP.relative_to(ROOT)})"""


# ---------------------------------------------------------------- helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def smtp_greets(port: int) -> bool:
    """Connect, read the greeting, QUIT: a polite check that does not make
    the server log a client that vanished before its banner."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            f = s.makefile("rb")
            if not f.readline().startswith(b"220"):
                return False
            s.sendall(b"QUIT\r\n")
            f.readline()
            return True
    except OSError:
        return False


def wait_for_port(port: int, timeout: float, alive=lambda: True, check=smtp_greets) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(port):
            return
        if not alive():
            raise RuntimeError(f"server exited before listening on port {port}")
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def run_tty(cmd, timeout=120.0):
    """Run a Postfix admin command with a terminal as stdout/stderr: Postfix
    logs to syslog only (absent here) unless stderr is a tty, so this is the
    only way to see why `postfix check/start` failed. Returns (rc, text)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer has closed the terminal
                    chunk = b""
                if chunk:
                    out += chunk
                    continue
            if proc.poll() is not None and (not ready or not chunk):
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return 124, out.decode(errors="replace") + f"\n(timed out after {timeout:.0f} s)"
    finally:
        os.close(master)
    return proc.wait(), out.decode(errors="replace").replace("\r\n", "\n").strip()


def count_files(*dirs: pathlib.Path) -> int:
    n = 0
    for d in dirs:
        for _, _, files in os.walk(d):
            n += len(files)
    return n


class Result:
    def __init__(self, server, messages, seconds, stored, probe_ms, notes, where=""):
        self.server = server  # label: rumble (SQLite), rumble-pg, rumble-pg-2n, postfix
        self.where = where  # where the stored messages are, e.g. "queue 0, Maildir 5000"
        self.messages = messages
        self.seconds = seconds
        self.stored = stored
        self.probe_ms = probe_ms  # {"MAIL": ms, ...} median reply times, one session
        self.notes = notes
        self.drained = None     # seconds from smtp-source's start until nothing was queued
        self.cpu = None         # server CPU s over the same span (all nodes; the database apart)
        self.node_cpu = []      # per rumble node
        self.db_cpu = None      # PostgreSQL's CPU s, same span
        self.db_stmts = None    # pgstore.BenchPg.statements() over the same span

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


# ------------------------------------------------------------ the clients

def smtp_source(args, ports):
    """Run smtp-source once per port, all at once, the sessions and messages
    split between them; returns (seconds until the last one ended, rc,
    notes). One port is the plain `smtp-source -s S -m M`."""
    n = len(ports)
    procs = []
    start = time.monotonic()
    for k, port in enumerate(ports):
        sessions = args.sessions // n + (k < args.sessions % n)
        messages = args.messages // n + (k < args.messages % n)
        cmd = [SMTP_SOURCE, "-s", str(max(1, sessions)), "-m", str(messages), "-l", str(args.length),
               "-f", SENDER, "-t", RECIPIENT, f"127.0.0.1:{port}"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    notes, rc = [], 0
    for k, proc in enumerate(procs):
        try:
            output, _ = proc.communicate(timeout=max(1.0, args.timeout - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            notes.append(f"smtp-source{f' (port {k + 1} of {n})' if n > 1 else ''} killed after {args.timeout:.0f} s")
        output = output.strip()
        which = f" (node {k + 1} of {n})" if n > 1 else ""
        if proc.returncode != 0:
            rc = rc or proc.returncode
            notes.append(f"smtp-source{which} exited {proc.returncode}: {output[:600]}")
        elif output:
            notes.append(f"smtp-source{which} said: {output[:600]}")
    seconds = time.monotonic() - start
    return seconds, rc, notes


def probe(port, rounds=5):
    """One session, `rounds` messages: the median time from sending each
    command to its reply, in ms. Shows per-reply latency that the
    throughput figure hides (e.g. Nagle + delayed-ACK stalls). Returns
    (medians, messages accepted)."""
    times = {"MAIL": [], "RCPT": [], "DATA": [], "end of data": []}
    accepted = 0
    body = (b"Subject: probe\r\nFrom: <" + SENDER.encode() + b">\r\n\r\n"
            + b"probe line of the bench.\r\n" * 150 + b".\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                if not line:
                    raise RuntimeError("connection closed")
                if line[3:4] != b"-":
                    return line.decode(errors="replace").strip()

        def ask(what, data):
            t = time.perf_counter()
            s.sendall(data)
            line = reply()
            times[what].append((time.perf_counter() - t) * 1000)
            return line

        reply()  # greeting
        s.sendall(b"EHLO probe.bench.test\r\n")
        reply()
        for _ in range(rounds):
            ask("MAIL", f"MAIL FROM:<{SENDER}>\r\n".encode())
            ask("RCPT", f"RCPT TO:<{RECIPIENT}>\r\n".encode())
            ask("DATA", b"DATA\r\n")
            if ask("end of data", body).startswith("250"):
                accepted += 1
        s.sendall(b"QUIT\r\n")
        reply()
    return {k: statistics.median(v) for k, v in times.items()}, accepted


# ------------------------------------------------------------------ rumble

RUMBLE_CONF = """\
ServerName {domain}
DataFolder {dir}/{data}
StorageFolder {dir}/{storage}
CacheFolder {dir}/{cache}
BindToAddress 127.0.0.1
EnableSMTP 1
SMTPPort {port}
EnablePOP3 0
EnableIMAP4 0
EnableSubmission 0
EnableSMTPS 0
MessageSizeLimit 104857600
"""


class RumbleStore:
    """Where a rumble run keeps its rows: the SQLite file in the (first)
    DataFolder, or a fresh PostgreSQL database shared by all nodes."""

    def __init__(self, store, tmp: pathlib.Path, pgserver, args):
        self.store, self.pg = store, pgserver
        self.sqlite_path = tmp / "db" / "rumble.sqlite"
        self.db, self.directives = (None, "")
        self.message_store = "folder" if store == "sqlite" else args.message_store
        if store != "sqlite":
            self.db, self.directives = pgserver.directives(tmp / "db", args.pg_connections, args.message_store)

    def count(self, table) -> int:
        if self.pg is None:
            db = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)
            try:
                return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            finally:
                db.close()
        return self.pg.query(self.db, f"SELECT count(*) FROM {table}")


def run_rumble(args, binary: pathlib.Path, tmp: pathlib.Path, store="sqlite", pgserver=None) -> Result:
    label = pgstore.LABELS[store]
    nodes = pgstore.NODES[store]
    ports = [(args.rumble_port if k == 0 and args.rumble_port else free_port()) for k in range(nodes)]
    rows = RumbleStore(store, tmp, pgserver if store != "sqlite" else None, args)
    confs = []
    for k, port in enumerate(ports):
        # One node keeps the historical folder names; node k of several has
        # its own DataFolder and CacheFolder; the StorageFolder is shared
        # with MessageStore folder, the node's own with database.
        suffix = "" if nodes == 1 else str(k + 1)
        conf = tmp / f"rumble{suffix}.conf"
        conf.write_text(RUMBLE_CONF.format(domain=DOMAIN, dir=tmp, port=port, data=f"db{suffix}",
                                           cache=f"cache{suffix}",
                                           storage=pgstore.storage_folder(rows.message_store, nodes, k))
                        + rows.directives)
        confs.append(conf)
    for cli in (["domain", "add", DOMAIN], ["account", "add", RECIPIENT, "--password", "secret"]):
        done = subprocess.run([str(binary), "--config", str(confs[0]), *cli], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"rumble {' '.join(cli)} failed: {done.stdout}{done.stderr}")
    notes = []
    procs, logs, log_paths = [], [], []
    try:
        for k, conf in enumerate(confs):
            log_path = tmp / f"{conf.stem}.log"
            log = open(log_path, "w")
            logs.append(log)
            log_paths.append(log_path)
            procs.append(subprocess.Popen([str(binary), "--config", str(conf), "serve"], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT, cwd=tmp))
        for proc, port, log_path in zip(procs, ports, log_paths):
            deadline = time.monotonic() + 60
            while not re.search(r"rumble \S+ ready", log_path.read_text()):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rumble did not start:\n{log_path.read_text()}")
                time.sleep(0.05)
            wait_for_port(port, 30, lambda: proc.poll() is None)
        probe_ms, probed = probe(ports[0]) if args.probe else ({}, 0)
        if pgserver and store != "sqlite":
            pgserver.checkpoint()
            pgserver.reset_statements()
        cpu0 = [pgstore.proc_cpu(p.pid) for p in procs]
        db0 = pgserver.cpu() if pgserver and store != "sqlite" else None
        t0 = time.monotonic()
        seconds, rc, n = smtp_source(args, ports)
        notes += n
        # The mailman delivers during the run and after it: wait until the
        # queue is empty, so the CPU and database figures cover accepting
        # and delivering every message.
        deadline = time.monotonic() + args.drain_timeout
        while rows.count("queue") and time.monotonic() < deadline:
            time.sleep(0.1)
        drained = time.monotonic() - t0
        cpu1 = [pgstore.proc_cpu(p.pid) for p in procs]
        db1 = pgserver.cpu() if db0 is not None else None
        stmts = pgserver.statements(rows.db) if rows.db else None
        for k, proc in enumerate(procs):
            if proc.poll() is not None:
                notes.append(f"{label}: node {k + 1} exited during the run with status {proc.returncode}")
    finally:
        for k, proc in enumerate(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for k, proc in enumerate(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                notes.append(f"{label}: node {k + 1} did not stop within 30 s of SIGTERM; killed")
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    # What is durable: queue rows (one per recipient, here one per message)
    # plus letters already delivered to mailboxes.
    queued = rows.count("queue")
    delivered = rows.count("messages")
    stored = queued + delivered - probed
    if rows.message_store == "folder":
        spool = tmp / "storage"
        spool_files = sum(1 for p in spool.iterdir() if p.is_file()) if spool.exists() else 0
        if spool_files != queued + delivered:
            notes.append(f"{label}: {spool_files} files in StorageFolder for {queued} queue rows + {delivered} letters")
    else:
        blobs = rows.count("blobs")
        if blobs != queued + delivered:
            notes.append(f"{label}: {blobs} bodies in the blobs table for {queued} queue rows + {delivered} letters")
    for k, log_path in enumerate(log_paths):
        # The config sets no certificate, so the self-signed one's WARN is expected.
        problems = [line for line in log_path.read_text().splitlines()
                    if re.search(r"\b(WARN|ERROR)\b", line) and "self-signed certificate" not in line]
        if problems:
            who = label if nodes == 1 else f"{label} node {k + 1}"
            notes.append(f"{who} log: {len(problems)} WARN/ERROR line(s), first: " + " | ".join(problems[:5]))
    if rc != 0 or stored != args.messages:
        notes.append(f"{label}: {stored} of {args.messages} messages stored (queue {queued}, mailboxes {delivered})")
    if queued:
        notes.append(f"{label}: {queued} message(s) still queued after {args.drain_timeout:.0f} s")
    where = f"queue {queued}, mailboxes {delivered}"
    res = Result(label, args.messages, seconds, stored, probe_ms, notes, where)
    res.drained = drained
    if None not in cpu0 and None not in cpu1:
        res.node_cpu = [b - a for a, b in zip(cpu0, cpu1)]
        res.cpu = sum(res.node_cpu)
    if db0 is not None and db1 is not None:
        res.db_cpu = db1 - db0
    res.db_stmts = stmts
    return res


# ----------------------------------------------------------------- postfix

MAIN_CF = """\
# Private instance for bench/smtp.py; nothing here touches /etc/postfix.
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.{domain}
mydomain = {domain}
myorigin = {domain}
# bench.test is a virtual mailbox domain (below), so not in mydestination.
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
# Delivery: virtual(8) into a Maildir {dir}/mail/{domain}/bob/ (fsync'd).
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {dir}/mail
virtual_mailbox_maps = texthash:{dir}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_mailbox_limit = 0
mailbox_size_limit = 0
message_size_limit = 104857600
# No DNS, no client checks, no rate limits.
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_peername_lookup = no
smtp_host_lookup = native
smtp_dns_support_level = disabled
default_process_limit = 100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
biff = no
maillog_file_prefixes = {dir}
maillog_file = {dir}/maillog
"""

# No chroot (the queue folder is temporary and holds no /etc copies).
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


def master_pid(tmp: pathlib.Path):
    try:
        return int((tmp / "spool" / "pid" / "master.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def maillog_tail(tmp: pathlib.Path, lines=20) -> str:
    try:
        return "maillog:\n" + "\n".join((tmp / "maillog").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no maillog)"


def postfix_log_problems(tmp: pathlib.Path):
    try:
        text = (tmp / "maillog").read_text(errors="replace")
    except OSError:
        return []
    return [l for l in text.splitlines()
            if re.search(r"\b(warning|fatal|panic|error|reject|status=(deferred|bounced))\b", l)]


def run_postfix(args, tmp: pathlib.Path) -> Result:
    port = args.postfix_port or free_port()
    etc = tmp / "etc"
    for d in ("etc", "spool", "data", "mail"):
        (tmp / d).mkdir()
    os.chmod(tmp, 0o755)  # daemons run as postfix / nobody and must get through
    vmail = pwd.getpwnam("nobody")
    os.chown(tmp / "data", pwd.getpwnam("postfix").pw_uid, -1)
    os.chown(tmp / "mail", vmail.pw_uid, vmail.pw_gid)
    (etc / "main.cf").write_text(MAIN_CF.format(dir=tmp, domain=DOMAIN, uid=vmail.pw_uid, gid=vmail.pw_gid))
    (etc / "master.cf").write_text(MASTER_CF.format(port=port))
    (etc / "vmailbox").write_text(f"{RECIPIENT} {DOMAIN}/bob/\n")
    maildir = tmp / "mail" / DOMAIN / "bob"
    notes = []
    rc, out = run_tty([POSTFIX, "-c", str(etc), "check"])
    if rc != 0:
        raise RuntimeError(f"postfix check failed ({rc}): {out}")
    try:
        rc, out = run_tty([POSTFIX, "-c", str(etc), "start"])
        if rc != 0:
            raise RuntimeError(f"postfix start failed ({rc}): {out}\n{maillog_tail(tmp)}")
        wait_for_port(port, 30)
        probe_ms, probed = probe(port) if args.probe else ({}, 0)
        cpu0 = pgstore.proc_cpu(master_pid(tmp) or 0)
        t0 = time.monotonic()
        seconds, rc, n = smtp_source(args, [port])
        notes += n
        # Accepted mail is in the queue or, once virtual(8) ran, in the
        # Maildir. Wait for the queue to drain so nothing is counted twice.
        deadline = time.monotonic() + args.drain_timeout
        while count_files(*(tmp / "spool" / q for q in QUEUES)) and time.monotonic() < deadline:
            time.sleep(0.1)
        drained = time.monotonic() - t0
        cpu1 = pgstore.proc_cpu(master_pid(tmp) or 0)
        queued = count_files(*(tmp / "spool" / q for q in QUEUES))
        delivered = count_files(maildir / "new", maildir / "cur")
    finally:
        pid = master_pid(tmp)
        rc_stop, out_stop = run_tty([POSTFIX, "-c", str(etc), "stop"])
        deadline = time.monotonic() + 15
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            notes.append(f"postfix master {pid} did not stop ({out_stop}); killed")
    stored = queued + delivered - probed
    if queued:
        notes.append(f"postfix: {queued} message(s) still queued after {args.drain_timeout:.0f} s")
    problems = postfix_log_problems(tmp)
    if problems:
        notes.append(f"postfix log: {len(problems)} problem line(s), first: " + " | ".join(problems[:5]))
    if rc != 0 or stored != args.messages:
        notes.append(f"postfix: {stored} of {args.messages} messages stored (queue {queued}, Maildir {delivered})")
    where = f"queue {queued}, Maildir {delivered}"
    res = Result("postfix", args.messages, seconds, stored, probe_ms, notes, where)
    res.drained = drained
    if cpu0 is not None and cpu1 is not None:
        res.cpu = cpu1 - cpu0  # master and every daemon it runs (reaped ones included)
    return res


# -------------------------------------------------------------------- main

def check_tools(args) -> None:
    missing = [p for p in (SMTP_SOURCE, POSTFIX, POSTCONF) if not os.access(p, os.X_OK)]
    if missing and args.install:
        print(f"installing postfix with {SETUP.relative_to(ROOT)} ...", flush=True)
        subprocess.run(["sh", str(SETUP)], check=True)
        missing = [p for p in (SMTP_SOURCE, POSTFIX, POSTCONF) if not os.access(p, os.X_OK)]
    if missing:
        sys.exit(f"missing: {', '.join(missing)}\n{INSTALL_HELP}")
    if os.geteuid() != 0:
        sys.exit("run as root: the private Postfix instance's master runs as root (e.g. sudo python3 bench/smtp.py)")
    for name in ("postfix", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            sys.exit(f"user {name!r} is missing (the postfix package creates 'postfix')\n{INSTALL_HELP}")


def ms(x):
    return f"{x * 1000:.3f}" if x is not None else "-"


def report(args, results, rumble):
    stores = args.stores
    labels = [pgstore.LABELS[st] for st in stores] + ["postfix"]
    multi = args.rounds > 1
    print(f"SMTP acceptance: smtp-source -s {args.sessions} -m {args.messages} -l {args.length} "
          f"({os.cpu_count()} cores, loopback)")
    if stores != ["sqlite"]:
        print(f"({pgstore.LEGEND})")
    w = max(13, max(len(l) for l in labels) + (4 if multi else 0))
    print(f"{'server':<{w}} {'messages':>8} {'seconds':>9} {'msg/s':>9} {'stored':>8} {'drained s':>10}")
    for res in results:
        label = res.server if not multi else f"{res.server} ({res.round})"
        drained = f"{res.drained:.1f}" if res.drained is not None else "-"
        print(f"{label:<{w}} {res.messages:>8} {res.seconds:>9.1f} {res.rate:>9.1f} {res.stored:>8} {drained:>10}")
    best = {name: max(r.rate for r in results if r.server == name) for name in labels
            if any(r.server == name for r in results)}
    how = "" if not multi else f" (best of {args.rounds} rounds each)"
    for name in labels[:-1]:
        if name in best and "postfix" in best:
            print(f"ratio {name}/postfix: {best[name] / best['postfix']:.2f}x{how} (goal >= 1.0x)")
    base = pgstore.LABELS["sqlite"]
    for st in stores:
        name = pgstore.LABELS[st]
        if st != "sqlite" and name in best and base in best:
            goal = " (goal: PostgreSQL within 1.5x of SQLite, >= 0.67x)" if st == "postgresql" else \
                " (two nodes share the same 2 cores: reported, not judged)"
            print(f"ratio {name}/{base} (msg/s, PostgreSQL/SQLite): {best[name] / best[base]:.2f}x{how}{goal}")
    print("drained s = from smtp-source's start until the server's queue was empty (every message delivered "
          "into the mailbox)")
    last = {r.server: r for r in results}
    probe_note = ", with the probe's 5" if args.probe else ""
    print("where the mail is (last round" + probe_note + "): "
          + "; ".join(f"{n}: {r.where}" for n, r in last.items()))

    print()
    print("CPU and database work per message, from smtp-source's start until the queue was empty "
          f"(last round; CPU from /proc/PID/stat utime+stime)")
    print(f"{'server':<{w}} {'server CPU s':>12} {'ms/msg':>8} {'per node ms/msg':>16} {'DB CPU s':>9} "
          f"{'ms/msg':>8} {'DB stmts/msg':>13} {'txns/msg':>9}")
    for name in labels:
        if name not in last:
            continue
        r = last[name]
        per = lambda x: x / r.messages if x is not None else None
        nodes = "/".join(ms(per(c)) for c in r.node_cpu) if len(r.node_cpu) > 1 else "-"
        cpu = f"{r.cpu:.2f}" if r.cpu is not None else "-"
        dbc = f"{r.db_cpu:.2f}" if r.db_cpu is not None else "-"
        stm = f"{r.db_stmts['all'] / r.messages:.2f}" if r.db_stmts else "-"
        txn = f"{r.db_stmts['commit'] / r.messages:.2f}" if r.db_stmts else "-"
        print(f"{name:<{w}} {cpu:>12} {ms(per(r.cpu)):>8} {nodes:>16} {dbc:>9} {ms(per(r.db_cpu)):>8} "
              f"{stm:>13} {txn:>9}")
    if any(r.db_stmts for r in last.values()):
        print("DB stmts = statement executions by rumble's role (pg_stat_statements calls, BEGIN and COMMIT "
              "included), each one round trip; txns = COMMITs; the probe's 5 messages are outside the window")
        for name in labels:
            r = last.get(name)
            if r and r.db_stmts:
                print(f"{name}: statements per message, most executed first:")
                for line in pgstore.top_statements(r.db_stmts, r.messages):
                    print(f"  {line}")

    if args.probe:
        print()
        print("One session, 5 messages: median ms from command to reply (last round)")
        steps = ("MAIL", "RCPT", "DATA", "end of data")
        print(f"{'server':<{w}}" + "".join(f"{s:>13}" for s in steps))
        for name in labels:
            if name in last:
                print(f"{name:<{w}}" + "".join(f"{last[name].probe_ms[s]:>13.2f}" for s in steps))

    notes = [n for r in results for n in r.notes]
    notes.append(f"rumble binary: {rumble.resolve()} (modified {args.built}, when the run began)")
    if args.pg_info:
        notes.append(f"{args.pg_info}; {pgstore.describe_run(args)}")
    notes.append("load average (1 min) before/after the run: {:.2f} / {:.2f} (other work on the machine "
                 "shows here)".format(args.load_before, os.getloadavg()[0]))
    if notes:
        print()
        print("Notes:")
        for n in notes:
            print(f"- {n}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rumble", default=str(ROOT / "target" / "release" / "rumble"),
                    help="rumble binary (default: target/release/rumble of this repo)")
    ap.add_argument("--install", action="store_true", help="install postfix first if missing (apt-get, as root)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds; each runs rumble (every --store), then postfix")
    pgstore.add_arguments(ap, "in order")
    ap.add_argument("-s", dest="sessions", type=int, default=20, help="smtp-source -s: parallel sessions")
    ap.add_argument("-m", dest="messages", type=int, default=5000, help="smtp-source -m: messages")
    ap.add_argument("-l", dest="length", type=int, default=4096, help="smtp-source -l: message length")
    ap.add_argument("--rumble-port", type=int, default=0, help="MX port for rumble (default: a free one)")
    ap.add_argument("--postfix-port", type=int, default=0, help="smtpd port for postfix (default: a free one)")
    ap.add_argument("--no-probe", dest="probe", action="store_false",
                    help="skip the one-session reply latency probe")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one smtp-source run may take")
    ap.add_argument("--drain-timeout", type=float, default=120,
                    help="seconds to wait for a server to deliver its queue into the mailbox")
    args = ap.parse_args()
    args.load_before = os.getloadavg()[0]
    args.stores = pgstore.parse_stores(args.store)
    args.pg_info = ""

    check_tools(args)
    rumble = pathlib.Path(args.rumble)
    if not rumble.is_absolute() and not rumble.exists():
        rumble = ROOT / rumble  # relative to the repo root unless it names a file from here
    if not rumble.exists():
        sys.exit(f"{rumble} missing: run `cargo build --release` (or pass --rumble PATH)")
    for p in (args.rumble_port, args.postfix_port):
        if p and port_in_use(p):
            sys.exit(f"port {p} is already in use")

    work = pathlib.Path(tempfile.mkdtemp(prefix="rumble-smtp-bench-"))
    os.chmod(work, 0o755)  # Postfix's daemons (users postfix, nobody) must get through
    results = []
    pgserver = None
    try:
        if any(st != "sqlite" for st in args.stores):
            print("starting a private PostgreSQL (fsync on) ...", file=sys.stderr, flush=True)
            pgserver = pgstore.start_pg()
            args.pg_info = pgserver.describe()
        # A private copy, so a rebuild of target/ during the run cannot swap
        # the binary under the benchmark.
        binary = work / "rumble"
        args.built = time.strftime("%Y-%m-%d %H:%M", time.localtime(rumble.stat().st_mtime))
        shutil.copy2(rumble, binary)
        for r in range(args.rounds):
            runs = [(pgstore.LABELS[st], lambda t, st=st: run_rumble(args, binary, t, st, pgserver))
                    for st in args.stores]
            runs.append(("postfix", lambda t: run_postfix(args, t)))
            for name, run in runs:
                tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{name}-{r + 1}-", dir=work))
                print(f"round {r + 1}/{args.rounds}: {name} ...", file=sys.stderr, flush=True)
                try:
                    res = run(tmp)
                    res.round = r + 1
                    results.append(res)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if pgserver:
            pgserver.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(args, results, rumble)


if __name__ == "__main__":
    main()
