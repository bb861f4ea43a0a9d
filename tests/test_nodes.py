"""Two `rumble serve` nodes on one PostgreSQL database, each with folders of
its own (message bodies in the database: no shared file system), and once
with one shared StorageFolder: mail accepted by one is seen by IMAP IDLE on the other, the
POP3 maildrop lock holds across them, UIDs stay unique and increasing under
concurrent APPEND from both, and the queue is worked by both without a
message lost or delivered twice, even when one node is killed mid-delivery.

These tests need the session's PostgreSQL, so they run in the
RUMBLE_TEST_STORE=postgresql pass of the suite."""

import email
import imaplib
import poplib
import re
import smtplib
import socket
import subprocess
import threading
import time

import pytest

import pg
from conftest import Server, free_port, rumble_bin
from fakes import FakeDNS, SmtpSink
import mailstore

pytestmark = pytest.mark.skipif(pg.STORE != "postgresql", reason="two nodes need PostgreSQL (RUMBLE_TEST_STORE=postgresql)")


class Cluster:
    """Node configs that share one database; each node has its own
    DataFolder (node name, TLS key, caches), ports and, unless
    `shared_folder`, StorageFolder (bodies are then kept in the database)."""

    def __init__(self, folder, shared_folder=False):
        self.folder = folder
        self.store = pg.store_directives(folder / "shared-db")
        self.shared_folder = shared_folder
        self.extra = "MessageStore folder\n" if shared_folder else ""
        self.nodes = []

    def config(self, name, extra=""):
        ports = {p: free_port() for p in ("smtp", "pop3", "imap")}
        storage = self.folder / "storage" if self.shared_folder else self.folder / name / "storage"
        text = (f"ServerName {name}.example.org\nDataFolder {self.folder}/{name}\nStorageFolder {storage}\n"
                f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {ports['smtp']}\nEnableSubmission 0\n"
                f"EnableSMTPS 0\nEnablePOP3 1\nPOP3Port {ports['pop3']}\nEnablePOP3S 0\nEnableIMAP4 1\n"
                f"IMAP4Port {ports['imap']}\nEnableIMAPS 0\nAllowPlaintextAuth 1\n{self.store}{self.extra}{extra}")
        return text, ports

    def start(self, name, extra=""):
        text, ports = self.config(name, extra)
        (self.folder / name).mkdir(exist_ok=True)
        server = Server(self.folder / name, text)
        server.ports = ports
        self.nodes.append(server)
        return server

    def admin(self, *args):
        text, _ = self.config("admin")
        conf = self.folder / "admin.conf"
        conf.write_text(text)
        subprocess.run([str(rumble_bin()), "--config", str(conf), *args], check=True, capture_output=True)

    def stop(self):
        for node in self.nodes:
            if node.proc.poll() is None:
                node.stop()


@pytest.fixture(params=["own-folders", "shared-folder"])
def cluster(tmp_path, request):
    c = Cluster(tmp_path, shared_folder=request.param == "shared-folder")
    c.admin("domain", "add", "example.org")
    c.admin("account", "add", "ann@example.org", "--password", "pw")
    yield c
    c.stop()


def imap(node):
    client = imaplib.IMAP4("127.0.0.1", node.ports["imap"])
    client.login("ann@example.org", "pw")
    return client


def send(node, n=1, rcpt="ann@example.org", subject="hello"):
    with smtplib.SMTP("127.0.0.1", node.ports["smtp"]) as s:
        for i in range(n):
            s.sendmail("x@remote.test", [rcpt], f"Subject: {subject} {i}\r\n\r\nbody {i}\r\n".encode())


def test_mail_accepted_by_one_node_reaches_idle_on_the_other(cluster):
    a, b = cluster.start("a"), cluster.start("b")
    watcher = imap(b)
    watcher.select("INBOX")
    watcher.send(b"t1 IDLE\r\n")
    assert watcher.readline().startswith(b"+")
    watcher.sock.settimeout(10)
    started = time.monotonic()
    send(a)
    line = watcher.readline()
    waited = time.monotonic() - started
    assert line.strip() == b"* 1 EXISTS", line
    print(f"node B's IDLE told of node A's delivery after {waited * 1000:.0f} ms")
    watcher.send(b"DONE\r\n")
    while not watcher.readline().startswith(b"t1 OK"):
        pass
    watcher.logout()
    assert "following the other nodes' folder changes" in b.log()


def test_a_lost_listen_connection_comes_back_and_sessions_look_again(cluster):
    a, b = cluster.start("a"), cluster.start("b")
    watcher = imap(b)
    watcher.select("INBOX")
    b.wait_for_log("following the other nodes' folder changes")
    watcher.noop()  # the look every (re)connection asks for, done
    watcher.response("EXISTS")  # SELECT's "0"
    # The database drops node B's LISTEN connection (a restart, a failover).
    pg._server.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE application_name = 'rumble' AND query LIKE 'LISTEN%'")
    b.wait_for_log(r"LISTEN connection closed|cannot follow the other nodes")
    # APPEND on node A (SMTP mail could be delivered by B's own mailman),
    # maybe while B is not listening: B looks again once back.
    writer = imap(a)
    writer.append("INBOX", None, None, b"Subject: while away\r\n\r\nx\r\n")
    deadline = time.monotonic() + 10
    while True:
        watcher.noop()
        if any(n and int(n) > 0 for n in watcher.response("EXISTS")[1]):
            break
        assert time.monotonic() < deadline, "node B's session never heard of the new mail"
        time.sleep(0.2)
    assert len(re.findall("following the other nodes. folder changes", b.log())) >= 2
    watcher.send(b"t1 IDLE\r\n")
    assert watcher.readline().startswith(b"+")
    watcher.sock.settimeout(10)
    writer.append("INBOX", None, None, b"Subject: after\r\n\r\nx\r\n")
    assert watcher.readline().strip() == b"* 2 EXISTS"
    writer.logout()


def test_pop3_maildrop_lock_holds_across_nodes(cluster):
    a, b = cluster.start("a"), cluster.start("b")
    send(a)
    first = poplib.POP3("127.0.0.1", a.ports["pop3"])
    first.user("ann@example.org")
    first.pass_("pw")
    second = poplib.POP3("127.0.0.1", b.ports["pop3"])
    second.user("ann@example.org")
    with pytest.raises(poplib.error_proto, match="IN-USE"):
        second.pass_("pw")
    second.quit()
    first.quit()
    # Released at QUIT: the other node may take it now.
    deadline = time.monotonic() + 5
    while True:
        again = poplib.POP3("127.0.0.1", b.ports["pop3"])
        again.user("ann@example.org")
        try:
            again.pass_("pw")
            break
        except poplib.error_proto:
            again.quit()
            assert time.monotonic() < deadline, "the lock was not released"
            time.sleep(0.2)
    assert again.stat()[0] == 1
    again.quit()


def test_concurrent_appends_on_both_nodes_get_unique_increasing_uids(cluster):
    a, b = cluster.start("a"), cluster.start("b")
    per_client, errors = 25, []

    def append_many(node, tag):
        try:
            client = imap(node)
            for i in range(per_client):
                client.append("INBOX", None, None, f"Subject: {tag} {i}\r\n\r\nx\r\n".encode())
            client.logout()
        except Exception as e:  # reported below: a thread's assert would be lost
            errors.append(e)

    threads = [threading.Thread(target=append_many, args=(node, f"{node.folder.name}{k}")) for node in (a, b) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    views = []
    for node in (a, b):
        client = imap(node)
        typ, data = client.select("INBOX")
        assert int(data[0]) == 4 * per_client
        validity = client.response("UIDVALIDITY")[1][0]
        typ, data = client.uid("SEARCH", None, "ALL")
        uids = [int(u) for u in data[0].split()]
        client.logout()
        views.append((validity, uids))
    assert views[0] == views[1], "the nodes disagree on UIDVALIDITY or UIDs"
    uids = views[0][1]
    assert uids == sorted(set(uids)) and len(uids) == 4 * per_client


class Staller:
    """A 'remote server' that accepts connections and never says a word:
    a delivery to it hangs until its node dies."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for c in self.accepted:
            c.close()


def test_the_queue_is_worked_by_both_nodes_and_survives_kill_9(cluster):
    """Node A takes relayed mail and starts delivering it to a server that
    hangs; A is killed (-9). Node B, whose route reaches the real server,
    takes the rows over once A's leases run out and delivers every message
    once. Mail sent meanwhile through both nodes is delivered once too."""
    staller = Staller()
    with SmtpSink() as sink, FakeDNS({"far.test": {"A": ["127.0.0.1"]}}, ttl=0) as dns:
        common = f"DNSServer {dns.address}\nRetryInterval 1\nQueueLeaseTime 10\n"
        a = cluster.start("a", f"{common}OutgoingSMTPPort {staller.port}\n")
        cluster.admin("account", "add", "bob@example.org", "--password", "pw")
        with smtplib.SMTP("127.0.0.1", a.ports["smtp"]) as s:
            s.login("ann@example.org", "pw")
            for i in range(5):
                s.sendmail("ann@example.org", [f"r{i}@far.test"], f"Subject: stuck {i}\r\n\r\nbody\r\n".encode())
        deadline = time.monotonic() + 10
        while len(staller.accepted) == 0:
            assert time.monotonic() < deadline, "node A never tried to deliver"
            time.sleep(0.1)
        a.proc.kill()
        a.proc.wait()
        b = cluster.start("b", f"{common}OutgoingSMTPPort {sink.port}\n")
        # Both ways in work meanwhile: local mail through B is stored once.
        send(b, 3, rcpt="bob@example.org")
        sink.wait_for(5, timeout=60)
        time.sleep(2)  # a second delivery would arrive now
        subjects = sorted(email.message_from_bytes(m["data"])["Subject"] for m in sink.messages)
        assert subjects == [f"stuck {i}" for i in range(5)], subjects
        assert len(mailstore.letters(cluster.folder / "b", "bob@example.org")) == 3
        assert mailstore.queue(cluster.folder / "b") == []
    staller.close()
