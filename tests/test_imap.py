"""IMAP4rev1 with Python's imaplib against the real server: every command of
RFC 3501 and the advertised extensions (LITERAL+, SASL-IR, IDLE, UIDPLUS,
MOVE, NAMESPACE, ID, ENABLE, UNSELECT, SPECIAL-USE, CONDSTORE), updates
reaching other sessions (also in IDLE), literal limits, bad input."""

import base64
import imaplib
import re
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import Server, free_port, rumble_bin, write_config
from mailstore import deliver, tls_context, letters, wait_letters

MULTIPART = (
    b"From: =?UTF-8?B?SsO2cmc=?= <jorg@example.net>\r\n"
    b"To: ann@example.org, Team: bob@example.org;\r\n"
    b"Subject: =?ISO-8859-1?Q?Caf=E9?= report\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
    b"Message-ID: <report@example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=C3=A9 numbers attached.\r\n"
    b"--XX\r\n"
    b"Content-Type: application/pdf; name=\"r.pdf\"\r\n"
    b"Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--XX--\r\n"
)




@pytest.fixture(scope="module")
def imap(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imap")
    ports = {"smtp": free_port(), "imap": free_port(), "imaps": free_port()}
    config = (
        f"ServerName mail.example.org\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
        f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {ports['smtp']}\nEnableSubmission 0\nEnableSMTPS 0\n"
        f"EnableIMAP4 1\nIMAP4Port {ports['imap']}\nEnableIMAPS 1\nIMAPSPort {ports['imaps']}\n"
        f"MessageSizeLimit 200000\n"
    )
    write_config(folder / "rumble.conf", config)
    admin = [str(rumble_bin()), "--config", str(folder / "rumble.conf")]
    for user in ("ann", "bob", "cat", "dan"):
        subprocess.run(admin + ["domain", "add", "example.org"], capture_output=True)
        subprocess.run(admin + ["account", "add", f"{user}@example.org", "--password", "pw"], check=True, capture_output=True)
    server = Server(folder, config)
    yield server, ports, folder
    server.stop()


def login(ports, user="ann"):
    m = imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=tls_context())
    m.login(f"{user}@example.org", "pw")
    return m




def test_capability_starttls_and_login_rules(imap):
    _, ports, _ = imap
    m = imaplib.IMAP4("127.0.0.1", ports["imap"])
    assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        m.login("ann@example.org", "pw")  # no plaintext login
    m.starttls(ssl_context=tls_context())
    caps = m.capability()[1][0].decode().split()
    assert "AUTH=PLAIN" in caps and "STARTTLS" not in caps and "LOGINDISABLED" not in caps
    for cap in ("IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "ID", "ENABLE", "UNSELECT", "SPECIAL-USE", "LITERAL+", "CONDSTORE"):
        assert cap in caps, cap
    with pytest.raises(imaplib.IMAP4.error):
        m.login("ann@example.org", "wrong")
    m.login("ann@example.org", "pw")
    m.logout()


def test_authenticate_plain_with_sasl_ir(imap):
    _, ports, _ = imap
    m = imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=tls_context())
    typ, data = m.authenticate("PLAIN", lambda _: b"\0bob@example.org\0pw")
    assert typ == "OK"
    assert m.namespace()[1][0] == b'(("" "/")) NIL NIL'
    typ, data = m.xatom("ID", '("name" "pytest")')
    assert typ == "OK" and b"Rumble" in m.untagged_responses.get("ID", [b""])[0]
    m.logout()


def test_special_use_folders_and_hierarchy(imap):
    _, ports, _ = imap
    m = login(ports, "cat")
    boxes = [b.decode() for b in m.list()[1]]
    assert '(\\HasNoChildren \\Sent) "/" "Sent"' in boxes and '(\\HasNoChildren \\Trash) "/" "Trash"' in boxes
    assert m.create("Work/2026")[0] == "OK"  # the parent comes too
    assert any('(\\HasChildren) "/" "Work"' == b.decode() for b in m.list()[1])
    assert [b.decode() for b in m.list('""', "Work/%")[1]] == ['(\\HasNoChildren) "/" "Work/2026"']
    assert m.list('""', '""')[1][0] == b'(\\Noselect) "/" ""'
    assert m.create("Work")[0] == "NO"
    assert m.rename("Work", "Archive")[0] == "OK"
    assert [b.decode() for b in m.list('""', "Archive*")[1]] == ['(\\HasChildren) "/" "Archive"', '(\\HasNoChildren) "/" "Archive/2026"']
    assert m.unsubscribe("Archive/2026")[0] == "OK"
    assert b"Archive/2026" not in b"".join(m.lsub()[1])
    assert m.subscribe("Archive/2026")[0] == "OK"
    assert m.delete("Archive/2026")[0] == "OK"
    assert m.delete("INBOX")[0] == "NO"
    assert m.select("Nope")[0] == "NO"
    m.logout()


def test_fetch_envelope_bodystructure_sections(imap):
    _, ports, folder = imap
    deliver(ports["smtp"], folder, "bob@example.org", [MULTIPART])
    m = login(ports, "bob")
    typ, data = m.select("INBOX")
    n = int(data[0])
    typ, data = m.fetch(str(n), "(ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE)")
    text = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
    assert '"=?ISO-8859-1?Q?Caf=E9?= report"' in text
    assert '(("=?UTF-8?B?SsO2cmc=?=" NIL "jorg" "example.net"))' in text
    assert '(NIL NIL "Team" NIL)(NIL NIL "bob" "example.org")(NIL NIL NIL NIL)' in text
    assert '("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable"' in text
    assert '"application" "pdf" ("name" "r.pdf")' in text and '"mixed" ("boundary" "XX")' in text
    assert re.search(r'INTERNALDATE "\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d \+0000"', text)
    typ, data = m.fetch(str(n), "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[]<0.4> BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    parts = {re.search(rb"(BODY\[[^\]]*\](<\d+>)?) \{", d[0]).group(1): d[1] for d in data if isinstance(d, tuple)}
    assert parts[b"BODY[1]"] == b"Caf=C3=A9 numbers attached."
    assert parts[b"BODY[2.MIME]"].startswith(b"Content-Type: application/pdf")
    assert parts[b"BODY[]<0>"] == b"Retu"  # Return-Path, added at delivery
    assert parts[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"] == b"Message-ID: <report@example.net>\r\n\r\n"
    assert b"\\Seen" not in m.fetch(str(n), "(FLAGS)")[1][0]  # PEEK left it unseen
    m.fetch(str(n), "(BODY[TEXT])")
    assert b"\\Seen" in m.fetch(str(n), "(FLAGS)")[1][0]
    full = m.fetch(str(n), "(RFC822)")[1][0][1]
    assert full.endswith(MULTIPART)
    m.logout()


def test_search_keys(imap):
    _, ports, folder = imap
    deliver(ports["smtp"], folder, "dan@example.org", [MULTIPART])
    deliver(ports["smtp"], folder, "dan@example.org", [b"Subject: plain one\r\nFrom: a@b.c\r\n\r\nnothing special\r\n"])
    m = login(ports, "dan")
    m.select("INBOX")
    assert m.search(None, "ALL")[1][0].split() == [b"1", b"2"]
    m.literal = "café".encode()
    assert m.search("UTF-8", "SUBJECT")[1][0] == b"1"  # decoded encoded-word, literal search term
    assert m.search(None, "BODY", "numbers")[1][0] == b"1"
    assert m.search(None, "TEXT", "special")[1][0] == b"2"
    assert m.search(None, "FROM", "jorg")[1][0] == b"1"
    assert m.search(None, "OR", "FROM", "a@b.c", "SUBJECT", "report")[1][0].split() == [b"1", b"2"]
    assert m.search(None, "NOT", "LARGER", "200")[1][0] == b""
    assert m.search(None, "SENTON", "24-Nov-2026")[1][0] == b"1"
    assert m.search(None, "SENTBEFORE", "1-Jan-2000")[1][0] == b""
    assert m.search(None, "SINCE", "1-Jan-2020", "UNSEEN", "RECENT", "NEW")[1][0].split() == [b"1", b"2"]
    m.store("2", "+FLAGS", "(\\Answered $Done)")
    assert m.search(None, "ANSWERED", "KEYWORD", "$Done")[1][0] == b"2"
    assert m.search(None, "UNKEYWORD", "$Done")[1][0] == b"1"
    assert m.uid("SEARCH", "UID", "2:*")[1][0] == b"2"
    assert m.search(None, "HEADER", "Message-ID", "report@")[1][0] == b"1"
    assert m.search(None, "2:*", "UNANSWERED")[1][0] == b""
    typ, data = m.search("KOI8-R", "SUBJECT", "x")
    assert typ == "NO" or b"BADCHARSET" in str(data).encode()
    m.logout()


def test_store_copy_move_expunge_uidplus(imap):
    _, ports, folder = imap
    deliver(ports["smtp"], folder, "ann@example.org", [b"Subject: keep\r\n\r\nx\r\n"] * 3)
    m = login(ports)
    m.select("INBOX")
    count = len(m.search(None, "ALL")[1][0].split())
    uids = m.uid("SEARCH", "ALL")[1][0].split()
    typ, data = m.store("1", "+FLAGS.SILENT", "(\\Flagged)")
    assert typ == "OK" and data == [None]
    typ, data = m.store("1", "-FLAGS", "(\\Flagged)")
    assert b"FLAGS (" in data[0] and b"\\Flagged" not in data[0]
    typ, data = m.copy("1", "Trash")  # imaplib keeps the tagged text for COPY, not for UID COPY
    assert typ == "OK" and re.match(rb"\[COPYUID \d+ %s \d+\]" % uids[0], data[-1]), data
    typ, data = m.uid("MOVE", uids[1], "Junk")
    assert typ == "OK"
    assert any(b"COPYUID" in x for x in m.untagged_responses.get("OK", []))  # RFC 6851: untagged
    assert len(m.search(None, "ALL")[1][0].split()) == count - 1
    m.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = m.uid("EXPUNGE", uids[-1])  # UIDPLUS: only this UID; the \Deleted one stays
    assert typ == "OK"
    assert len(m.search(None, "ALL")[1][0].split()) == count - 1
    typ, data = m.expunge()
    assert data[-1] == b"1"  # (the MOVE's EXPUNGE 2 is still in imaplib's list)
    assert len(m.search(None, "ALL")[1][0].split()) == count - 2
    typ, data = m.append("INBOX", "(\\Seen $Draft)", imaplib.Time2Internaldate(time.time()), b"Subject: appended\n\nbare LF body\n")
    assert typ == "OK" and b"APPENDUID" in data[0]
    typ, data = m.fetch("*", "(FLAGS RFC822.SIZE BODY.PEEK[])")
    assert b"\\Seen" in data[0][0] and data[0][1] == b"Subject: appended\r\n\r\nbare LF body\r\n"
    assert m.status("Junk", "(MESSAGES)")[1][0] == b'"Junk" (MESSAGES 1)'
    assert m.copy("1", "Nowhere")[0] == "NO" and b"TRYCREATE" in m.copy("1", "Nowhere")[1][0]
    m.close()
    m.logout()


def test_examine_is_read_only_and_unselect(imap):
    _, ports, folder = imap
    m = login(ports)
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK"
    assert m.store("1", "+FLAGS", "(\\Seen)")[0] == "NO"
    assert m.xatom("UNSELECT")[0] == "OK"
    with pytest.raises(imaplib.IMAP4.error, match="No mailbox selected"):
        m.fetch("1", "(FLAGS)")
    m.logout()


def test_condstore(imap):
    _, ports, folder = imap
    deliver(ports["smtp"], folder, "ann@example.org", [b"Subject: modseq\r\n\r\nx\r\n"])
    m = login(ports)
    typ, data = m.xatom("ENABLE", "CONDSTORE")
    assert typ == "OK"
    m.select("INBOX")
    assert any(b"HIGHESTMODSEQ" in x for x in m.untagged_responses.get("OK", []))
    typ, data = m.fetch("1", "(MODSEQ FLAGS)")
    modseq = int(re.search(rb"MODSEQ \((\d+)\)", data[0]).group(1))
    tag = m._new_tag()
    m.send(b"%s STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)\r\n" % (tag, modseq))
    line = m.readline()
    while not line.startswith(tag):
        line = m.readline()
    assert line.startswith(tag + b" OK STORE"), line
    tag = m._new_tag()
    m.send(b"%s STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Answered)\r\n" % (tag, modseq))  # stale now
    line = m.readline()
    assert line.startswith(tag + b" OK [MODIFIED 1]"), line
    typ, data = m.fetch("1:*", "(FLAGS) (CHANGEDSINCE %d)" % modseq)
    assert typ == "OK" and data[0] is not None and b"MODSEQ" in data[0]
    assert m.search(None, "MODSEQ", str(modseq + 1))[1][0].split()[0] == b"1"
    m.logout()


def test_other_sessions_see_changes_and_idle(imap):
    _, ports, folder = imap
    watcher = login(ports, "bob")
    watcher.select("INBOX")
    exists = int(watcher.untagged_responses["EXISTS"][-1])
    actor = login(ports, "bob")
    actor.select("INBOX")
    actor.store("1", "+FLAGS", "(\\Flagged)")
    watcher.noop()
    fetches = watcher.untagged_responses.get("FETCH", [])
    assert any(b"\\Flagged" in f for f in fetches), fetches
    # IDLE: new mail arrives while idling
    tag = watcher._new_tag().decode()
    watcher.send(f"{tag} IDLE\r\n".encode())
    assert watcher.readline().startswith(b"+")
    deliver(ports["smtp"], folder, "bob@example.org", [b"Subject: while idle\r\n\r\nx\r\n"])
    watcher.sock.settimeout(10)
    got = b""
    while b"EXISTS" not in got:
        got += watcher.readline()
    assert f"* {exists + 1} EXISTS".encode() in got
    # an expunge by the other session reaches the idler too
    actor.store("1", "+FLAGS", "(\\Deleted)")
    actor.expunge()
    got = b""
    while b"EXPUNGE" not in got:
        got += watcher.readline()
    assert b"* 1 EXPUNGE" in got
    watcher.send(b"DONE\r\n")
    while True:
        line = watcher.readline()
        if line.startswith(tag.encode()):
            assert b"OK" in line
            break
    actor.logout()
    watcher.logout()


def raw(ports):
    sock = tls_context().wrap_socket(socket.create_connection(("127.0.0.1", ports["imaps"]), timeout=10))
    f = sock.makefile("rb")
    assert f.readline().startswith(b"* OK")
    return sock, f


def test_literals_and_limits(imap):
    _, ports, _ = imap
    sock, f = raw(ports)
    sock.sendall(b"a1 LOGIN {15}\r\n")
    assert f.readline().startswith(b"+ ")
    sock.sendall(b"ann@example.org {2+}\r\npw\r\n")  # LITERAL+: no continuation
    assert f.readline().startswith(b"a1 OK")
    sock.sendall(b"a2 APPEND INBOX {900000}\r\n")  # over MessageSizeLimit: refused before the data
    assert f.readline().startswith(b"a2 NO [TOOBIG]")
    sock.sendall(b"a3 NOOP\r\n")
    assert f.readline().startswith(b"a3 OK")
    sock.sendall(b"a4 SEARCH SUBJECT {70000}\r\n")  # small-literal cap outside APPEND
    assert f.readline().startswith(b"a4 NO [TOOBIG]")
    sock.sendall(b"a5 FETCH\r\n* BAD\r\nfoo bar baz\r\n")
    lines = [f.readline() for _ in range(3)]
    assert all(b"BAD" in l for l in lines), lines
    sock.sendall(b"a6 " + b"X" * 70000 + b"\r\na7 LOGOUT\r\n")
    assert f.readline().startswith(b"* BAD")
    assert f.readline().startswith(b"* BYE")
    sock.close()
