"""SMTP reception on the MX port with real clients (smtplib, raw sockets):
local delivery into the queue, no relaying, size limits, dot-unstuffing,
null sender, pipelining, SMTP smuggling refused, bad input."""

import os
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import Server, free_port, rumble_bin, write_config


@pytest.fixture(scope="module")
def mx(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smtp")
    port = free_port()
    config = (
        f"ServerName mx.example.org\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
        f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {port}\nMessageSizeLimit 10000\nSMTPTimeout 2\n"
    )
    write_config(folder / "rumble.conf", config)
    admin = [str(rumble_bin()), "--config", str(folder / "rumble.conf")]
    for args in (["domain", "add", "example.org"], ["account", "add", "ann@example.org", "--password", "pw"],
                 ["account", "add", "sales-*@example.org", "--password", "pw"],
                 ["account", "add", "postmaster@example.org", "--password", "pw"]):
        subprocess.run(admin + args, check=True, capture_output=True)
    server = Server(folder, config)
    yield server, port, folder
    server.stop()


from mailstore import new_spool_files, accepted, letter_bytes, letters, spool_files, wait_letters, wait_until


def raw(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220 mx.example.org ESMTP")
    return s, f


def replies(f, n):
    return [f.readline().decode().rstrip("\r\n") for _ in range(n)]


def test_ehlo_advertises_what_is_implemented(mx):
    _, port, _ = mx
    with smtplib.SMTP("127.0.0.1", port) as s:
        code, _ = s.ehlo("client.example.net")
        assert code == 250
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8"):
            assert s.has_extn(ext), ext
        assert s.esmtp_features["size"] == "10000"
        assert s.has_extn("starttls") and s.has_extn("chunking")
        # AUTH only under TLS (AllowPlaintextAuth is off)
        assert not s.has_extn("auth")


def test_local_delivery_reaches_the_mailboxes(mx):
    _, port, folder = mx
    ann, sales = len(wait_letters(folder, "ann@example.org", 0)), len(wait_letters(folder, "sales-*@example.org", 0))
    body = "Subject: hello\r\n\r\nfirst line\r\n.leading dot survives\r\n..two dots\r\nlast\r\n"
    with smtplib.SMTP("127.0.0.1", port) as s:
        assert s.sendmail("sender@example.net", ["Ann@Example.org", "sales-eu@example.org"], body) == {}
    got = wait_letters(folder, "ann@example.org", ann + 1)[-1]
    assert got["folder"] == "INBOX" and got["uid"] == ann + 1
    wait_letters(folder, "sales-*@example.org", sales + 1)
    text = letter_bytes(folder, got)
    assert got["size"] == len(text)
    assert text.startswith(b"Return-Path: <sender@example.net>\r\nDelivered-To: ann@example.org\r\nReceived: from ")
    assert b"by mx.example.org (Rumble) with ESMTP id " in text
    assert text.endswith(body.encode()), text


def test_null_sender_is_accepted(mx):
    _, port, folder = mx
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo()
        assert s.mail("<>") == (250, b"2.1.0 Sender OK")
        assert s.rcpt("ann@example.org")[0] == 250
        assert s.data(b"Subject: null sender\r\n\r\nx\r\n")[0] == 250
    wait_until(lambda: any(letter_bytes(folder, l).startswith(b"Return-Path: <>\r\n") for l in letters(folder)),
               what="the null-sender letter")


@pytest.mark.parametrize("rcpt,code,status", [
    ("nobody@example.org", 550, b"5.1.1"),
    ("bob@other.net", 554, b"5.7.1"),
    ("<@example.org:bob@other.net>", 554, b"5.7.1"),  # source route: the route is dropped
    ('"bob@other.net"@example.org', 550, b"5.1.1"),  # quoted local part stays local
    ("bob%other.net@example.org", 550, b"5.1.1"),  # the % hack is just a local part
    ("bob@other.net@example.org", 501, b"5.1.3"),
])
def test_relay_attempts_and_unknown_users_are_refused(mx, rcpt, code, status):
    _, port, folder = mx
    before = accepted(folder)
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo()
        s.mail("spammer@example.net")
        got = s.rcpt(rcpt if rcpt.startswith("<") else rcpt)
        assert got[0] == code and got[1].startswith(status), got
    assert accepted(folder) == before


def test_size_limits_declared_and_actual(mx):
    _, port, folder = mx
    before = accepted(folder)
    files = spool_files(folder)
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo()
        assert s.mail("a@example.net", ["SIZE=20000"])[0] == 552
        assert s.mail("a@example.net")[0] == 250
        assert s.rcpt("ann@example.org")[0] == 250
        code, msg = s.data(b"Subject: big\r\n\r\n" + b"x" * 76 + b"\r\n" * 0 + (b"y" * 70 + b"\r\n") * 200)
        assert code == 552 and msg.startswith(b"5.3.4"), (code, msg)
        # the session is still in step after the refusal
        assert s.noop()[0] == 250
    assert accepted(folder) == before
    assert new_spool_files(folder, files) == [], "a refused message left its spool file"


def test_pipelined_transaction(mx):
    _, port, folder = mx
    before = accepted(folder)
    s, f = raw(port)
    s.sendall(b"EHLO pipe.example.net\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    s.sendall(b"MAIL FROM:<p@example.net>\r\nRCPT TO:<ann@example.org>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n")
    assert [r[:3] for r in replies(f, 4)] == ["250", "250", "550", "354"]
    s.sendall(b"Subject: pipelined\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    got = replies(f, 2)
    assert got[0].startswith("250 2.0.0 OK queued as ")
    assert got[1].startswith("221")
    s.close()
    assert accepted(folder) == before + 1


@pytest.mark.parametrize("ending", [b"\n.\n", b"\r\n.\n", b"\n.\r\n"])
def test_smtp_smuggling_is_refused(mx, ending):
    """A bare LF around the end marker could hide a second message
    (CVE-2023-51764): refused, and the smuggled commands never run."""
    _, port, folder = mx
    before = accepted(folder)
    files = spool_files(folder)
    s, f = raw(port)
    s.sendall(b"EHLO smuggler.example.net\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    s.sendall(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n")
    assert [r[:3] for r in replies(f, 3)] == ["250", "250", "354"]
    s.sendall(b"Subject: one\r\n\r\nhello" + ending +
              b"MAIL FROM:<admin@example.org>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\nSubject: forged\r\n\r\nx\r\n.\r\n")
    reply = f.readline().decode()
    assert reply.startswith("554 5.5.2"), reply
    try:
        rest = f.readline()
    except ConnectionResetError:  # closed with the smuggled bytes unread
        rest = b""
    assert rest == b"", "connection should be closed"
    s.close()
    assert accepted(folder) == before
    assert new_spool_files(folder, files) == []


def test_disconnect_mid_message_keeps_nothing(mx):
    server, port, folder = mx
    before = accepted(folder)
    files = spool_files(folder)
    s, f = raw(port)
    s.sendall(b"EHLO gone.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n")
    while not f.readline().startswith(b"354"):
        pass
    s.sendall(b"Subject: half\r\n\r\nthe client dies here")
    s.shutdown(socket.SHUT_RDWR)  # (makefile() would keep the fd open past close())
    f.close()
    s.close()
    # Only this message's file counts: on PostgreSQL the mailman may write
    # a working copy of an earlier test's message meanwhile.
    def holds_it(name):
        try:
            # Our Received header names the client's EHLO, written first.
            return b"gone.example.net" in (folder / "storage" / name).read_bytes()
        except FileNotFoundError:  # delivered and removed meanwhile
            return False

    def left():
        return [n for n in new_spool_files(folder, files) if holds_it(n)]
    deadline = time.monotonic() + 5
    while left() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left() == [], "an unfinished message left its spool file"
    assert accepted(folder) == before


def test_bad_input(mx):
    _, port, _ = mx
    s, f = raw(port)
    s.sendall(b"FOO bar\r\n")
    assert replies(f, 1)[0].startswith("500 5.5.1")
    s.sendall(b"MAIL FROM:<a@example.net>\r\n")
    assert replies(f, 1)[0].startswith("503 5.5.1")  # no EHLO yet
    s.sendall(b"EHLO x\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    s.sendall(b"RCPT TO:<ann@example.org>\r\n")
    assert replies(f, 1)[0].startswith("503 5.5.1")  # no MAIL yet
    s.sendall(b"NOOP " + b"x" * 5000 + b"\r\n")
    assert replies(f, 1)[0].startswith("500 5.5.2")  # line too long
    s.sendall(b"VRFY ann\r\n")
    assert replies(f, 1)[0].startswith("252")  # no account enumeration
    # four errors so far; the tenth closes the session (send no more than
    # that, so the close is a clean FIN rather than a reset over unread input)
    for _ in range(6):
        s.sendall(b"BOGUS\r\n")
    lines = replies(f, 8)
    assert [l[:3] for l in lines] == ["500"] * 6 + ["421", ""], lines
    assert lines[6].startswith("421 4.7.0")
    s.close()


def test_bare_postmaster_is_always_accepted(mx):
    """RFC 5321 §4.5.1: <Postmaster> needs no domain; ServerName is not one of
    ours here, so the first domain with a postmaster gets it."""
    _, port, folder = mx
    n = len(letters(folder, "postmaster@example.org"))
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo()
        s.mail("someone@example.net")
        assert s.rcpt("<Postmaster>")[0] == 250
        assert s.data(b"Subject: abuse report\r\n\r\nx\r\n")[0] == 250
    wait_letters(folder, "postmaster@example.org", n + 1)


def test_idle_and_slow_clients_time_out(mx):
    """SMTPTimeout (2 s here): silence, a command dribbled out byte by byte,
    and a stalled message all end with 421, and nothing is kept."""
    server, port, folder = mx
    files = spool_files(folder)
    s, f = raw(port)
    t0 = time.monotonic()
    assert f.readline().startswith(b"421 4.4.2")
    assert 1.5 < time.monotonic() - t0 < 10
    s.close()
    s, f = raw(port)
    for ch in b"NOOP\r\n":  # 6 bytes over 3 s: the whole line must come in time
        try:
            s.sendall(bytes([ch]))
        except OSError:
            break
        time.sleep(0.5)
    assert f.readline().startswith(b"421 4.4.2")
    s.close()
    s, f = raw(port)
    s.sendall(b"EHLO slow.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n")
    while not f.readline().startswith(b"354"):
        pass
    s.sendall(b"Subject: stalled\r\n\r\nand then nothing")
    assert f.readline().startswith(b"421 4.4.2")
    s.close()
    wait_until(lambda: new_spool_files(folder, files) == [], what="the stalled message removed")


def test_junk_command_limit(mx):
    _, port, _ = mx
    s, f = raw(port)
    s.sendall(b"NOOP\r\n" * 101)
    lines = replies(f, 101)
    assert all(l.startswith("250") for l in lines[:100])
    assert lines[100].startswith("421 4.7.0"), lines[100]
    s.close()


def test_enforce_fqdn(tmp_path):
    port = free_port()
    config = (f"ServerName mx.example.org\nDataFolder {tmp_path}/data\nStorageFolder {tmp_path}/storage\n"
              f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {port}\nEnforceFQDN 1\n")
    server = Server(tmp_path, config)
    try:
        with smtplib.SMTP("127.0.0.1", port) as s:
            code, msg = s.ehlo("localhost")
            assert code == 504 and msg.startswith(b"5.5.2"), (code, msg)
            assert s.ehlo("client.example.net")[0] == 250
            assert s.helo("[192.0.2.1]")[0] == 250  # address literals are fine
    finally:
        server.stop()


def test_one_address_cannot_take_every_session(tmp_path):
    """MaxConnectionsPerIP: the next connection from the same address is
    told so in each protocol's words, and a slot comes back when a session
    ends."""
    ports = {k: free_port() for k in ("smtp", "pop3", "imap")}
    config = (f"ServerName mx.example.org\nDataFolder {tmp_path}/data\nStorageFolder {tmp_path}/storage\n"
              f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {ports['smtp']}\nEnableSubmission 0\nEnableSMTPS 0\n"
              f"EnablePOP3 1\nPOP3Port {ports['pop3']}\nEnableIMAP4 1\nIMAP4Port {ports['imap']}\n"
              f"MaxConnectionsPerIP 2\n")
    server = Server(tmp_path, config)
    try:
        for name, ok, busy in (("smtp", b"220 ", b"421 4.7.0 Too many connections"),
                               ("pop3", b"+OK", b"-ERR [SYS/TEMP] Too many connections"),
                               ("imap", b"* OK", b"* BYE Too many connections")):
            held = [socket.create_connection(("127.0.0.1", ports[name]), timeout=10) for _ in range(2)]
            for h in held:
                assert h.makefile("rb").readline().startswith(ok)
            extra = socket.create_connection(("127.0.0.1", ports[name]), timeout=10)
            assert extra.makefile("rb").readline().startswith(busy), name
            extra.close()
            held[0].close()
            again = wait_until(lambda: (lambda s: s if s.makefile("rb").readline().startswith(ok) else s.close())(
                socket.create_connection(("127.0.0.1", ports[name]), timeout=10)), what=f"a free {name} slot")
            again.close()
            held[1].close()
        assert "over MaxConnectionsPerIP (2): refused 1 connection(s)" in server.log()
        # A flood of refused connections is counted, not logged one by one.
        held = [socket.create_connection(("127.0.0.1", ports["smtp"]), timeout=10) for _ in range(2)]
        for h in held:
            h.makefile("rb").readline()
        for _ in range(100):
            extra = socket.create_connection(("127.0.0.1", ports["smtp"]), timeout=10)
            extra.makefile("rb").readline()
            extra.close()
        assert server.log().count("over MaxConnectionsPerIP") <= 3 + 1, "one line per 10 s per listener"
        for h in held:
            h.close()
    finally:
        server.stop()
