"""POP3 with real clients (poplib, curl, raw sockets): USER/PASS and AUTH
only under TLS (STLS or POP3S), CAPA, STAT, LIST, UIDL, RETR, TOP, DELE,
RSET, NOOP, QUIT with deletions only in the UPDATE state, the maildrop
lock, bad input."""

import poplib
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import Server, free_port, rumble_bin, write_config
from mailstore import deliver, tls_context, letters, wait_letters, wait_until




@pytest.fixture(scope="module")
def pop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pop3")
    ports = {"smtp": free_port(), "pop3": free_port(), "pop3s": free_port()}
    config = (
        f"ServerName mail.example.org\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
        f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {ports['smtp']}\nEnableSubmission 0\nEnableSMTPS 0\n"
        f"EnablePOP3 1\nPOP3Port {ports['pop3']}\nEnablePOP3S 1\nPOP3SPort {ports['pop3s']}\n"
    )
    write_config(folder / "rumble.conf", config)
    admin = [str(rumble_bin()), "--config", str(folder / "rumble.conf")]
    for args in (["domain", "add", "example.org"], ["account", "add", "ann@example.org", "--password", "pw one"],
                 ["account", "add", "bob@example.org", "--password", "pw"]):
        subprocess.run(admin + args, check=True, capture_output=True)
    server = Server(folder, config)
    yield server, ports, folder
    server.stop()




def login(ports, user="ann@example.org", password="pw one"):
    p = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=tls_context())
    p.user(user)
    p.pass_(password)
    return p


def login_when_released(ports):
    """Log in once the server has noticed an earlier session went away."""
    def attempt():
        try:
            return login(ports)
        except poplib.error_proto as e:
            if b"[IN-USE]" in e.args[0]:
                return None
            raise
    return wait_until(attempt, what="the maildrop lock to be released")


def test_capa_and_plaintext_refused(pop):
    _, ports, _ = pop
    p = poplib.POP3("127.0.0.1", ports["pop3"])
    caps = p.capa()
    assert "STLS" in caps and "UIDL" in caps and "TOP" in caps
    assert "USER" not in caps and "SASL" not in caps  # not before TLS
    with pytest.raises(poplib.error_proto) as e:
        p.user("ann@example.org")
    assert b"[AUTH]" in e.value.args[0]
    p.stls(context=tls_context())
    caps = p.capa()
    assert "USER" in caps and caps["SASL"] == ["PLAIN", "LOGIN"] and "STLS" not in caps
    p.user("ann@example.org")
    assert p.pass_("pw one").startswith(b"+OK")
    p.quit()


def test_retrieve_top_uidl_and_dot_stuffing(pop):
    _, ports, folder = pop
    body = "Subject: one\r\n\r\nline 1\r\n.dot line\r\nline 3\r\n"
    deliver(ports["smtp"], folder, "bob@example.org", [body, "Subject: two\r\n\r\nsecond\r\n"])
    p = login(ports, "bob@example.org", "pw")
    count, size = p.stat()
    assert count == 2
    listing = p.list()[1]
    assert len(listing) == 2 and sum(int(l.split()[1]) for l in listing) == size
    uids = p.uidl()[1]
    uid1 = uids[0].split()[1]
    assert len(uid1) == 16 and p.uidl(1).split()[2] == uid1
    resp, lines, octets = p.retr(1)
    assert lines[-3:] == [b"line 1", b".dot line", b"line 3"]  # poplib un-stuffs ".." back to "."
    assert lines[0].startswith(b"Return-Path: <x@example.net>")
    top = p.top(1, 1)[1]
    assert top[-1] == b"line 1" and b"Subject: one" in top
    with pytest.raises(poplib.error_proto):
        p.retr(3)
    p.quit()
    # the same UIDs next time (they must persist across sessions)
    p = login(ports, "bob@example.org", "pw")
    assert p.uidl()[1] == uids
    p.quit()


def test_deletions_happen_only_at_quit(pop):
    _, ports, folder = pop
    deliver(ports["smtp"], folder, "ann@example.org", ["Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n", "Subject: c\r\n\r\nc\r\n"])
    n = len(letters(folder, "ann@example.org"))
    p = login(ports)
    p.dele(1)
    with pytest.raises(poplib.error_proto):
        p.retr(1)  # deleted in this session
    assert p.stat()[0] == n - 1
    p.rset()
    assert p.stat()[0] == n
    p.dele(1)
    p.dele(2)
    # the connection drops without QUIT: nothing is deleted
    p.file.close()
    p.sock.close()
    p = login_when_released(ports)
    assert p.stat()[0] == n
    p.dele(1)
    p.dele(2)
    p.quit()
    assert len(letters(folder, "ann@example.org")) == n - 2
    # retrieved messages are marked seen
    p = login(ports)
    p.retr(1)
    p.quit()
    assert letters(folder, "ann@example.org")[0]["flags"] & 0x20


def test_maildrop_lock(pop):
    _, ports, _ = pop
    first = login(ports)
    with pytest.raises(poplib.error_proto) as e:
        login(ports)
    assert b"[IN-USE]" in e.value.args[0]
    first.quit()
    login(ports).quit()  # released at QUIT


def test_auth_plain_and_bad_password(pop):
    _, ports, _ = pop
    p = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=tls_context())
    import base64
    resp = p._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0bob@example.org\0pw").decode())
    assert resp.startswith(b"+OK")
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=tls_context())
    p.user("bob@example.org")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert b"[AUTH]" in e.value.args[0]
    p.quit()


def test_bad_input(pop):
    _, ports, _ = pop
    s = socket.create_connection(("127.0.0.1", ports["pop3"]), timeout=10)
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    s.sendall(b"XYZZY\r\nSTAT\r\nRETR x\r\n" + b"NOOP " + b"a" * 2000 + b"\r\nNOOP\r\n")
    lines = [f.readline() for _ in range(5)]
    assert [l[:4] for l in lines] == [b"-ERR", b"-ERR", b"-ERR", b"-ERR", b"+OK\r"], lines
    s.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"+OK")
    s.close()


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
def test_curl_lists_and_retrieves(pop):
    _, ports, folder = pop
    deliver(ports["smtp"], folder, "bob@example.org", ["Subject: for curl\r\n\r\nhello curl\r\n"])
    url = f"pop3s://127.0.0.1:{ports['pop3s']}/"
    out = subprocess.run(["curl", "-sS", "--insecure", "--user", "bob@example.org:pw", url],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    count = len(out.stdout.strip().splitlines())
    out = subprocess.run(["curl", "-sS", "--insecure", "--user", "bob@example.org:pw", f"{url}{count}"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "hello curl" in out.stdout, out.stdout + out.stderr
