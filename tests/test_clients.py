"""Real mail clients, unmodified, against the real server: IMAPClient's live
test suite, mbsync (two-way sync, then a sync that changes nothing),
fetchmail and getmail over POP3 and IMAP, curl for IMAP; a MIME corpus
appended and fetched back byte-identical."""

import imaplib
import importlib.util
import os
import pathlib
import re
import shutil
import smtplib
import ssl
import subprocess
import sys

import pytest

from conftest import Server, free_port, rumble_bin, write_config
from mailstore import deliver, tls_context, db, letters, wait_letters

# Failures IMAPClient's livetest also shows against stock Dovecot (see
# ../shared/reference/test-tools.md): its Envelope is not a sequence, loopback
# connects and answers faster than its tiny timeouts, and imaplib has no MOVE.
LIVETEST_QUIRKS = {"test_fetch", "test_small_connection_timeout_fail", "test_small_read_timeout_fail", "test_move"}
# Skips allowed: extensions we do not advertise.
LIVETEST_SKIPS = ("ACL", "Gmail", "SORT", "THREAD", "XLIST", "labels", "UID operations")




@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clients")
    ports = {k: free_port() for k in ("smtp", "imap", "imaps", "pop3", "pop3s")}
    config = (
        f"ServerName mail.example.org\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
        f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {ports['smtp']}\nEnableSubmission 0\nEnableSMTPS 0\n"
        f"EnableIMAP4 1\nIMAP4Port {ports['imap']}\nEnableIMAPS 1\nIMAPSPort {ports['imaps']}\n"
        f"EnablePOP3 1\nPOP3Port {ports['pop3']}\nEnablePOP3S 1\nPOP3SPort {ports['pop3s']}\n"
        # the clients below speak plain IMAP/POP3 on loopback
        f"AllowPlaintextAuth 1\n"
    )
    write_config(folder / "rumble.conf", config)
    admin = [str(rumble_bin()), "--config", str(folder / "rumble.conf")]
    subprocess.run(admin + ["domain", "add", "example.org"], check=True, capture_output=True)
    for user in ("lt", "sync", "fetch", "get", "curl", "corpus"):
        subprocess.run(admin + ["account", "add", f"{user}@example.org", "--password", "secret"], check=True, capture_output=True)
    server = Server(folder, config)
    yield server, ports, folder
    server.stop()




@pytest.mark.skipif(importlib.util.find_spec("imapclient") is None, reason="imapclient not installed")
def test_imapclient_livetest(srv, tmp_path):
    _, ports, _ = srv
    ini = tmp_path / "livetest.ini"
    ini.write_text(f"[DEFAULT]\nhost=127.0.0.1\nport={ports['imap']}\nssl=false\nusername=lt@example.org\npassword=secret\n")
    out = subprocess.run([sys.executable, "-m", "imapclient.livetest", str(ini), "-v"], capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    ran = re.search(r"Ran (\d+) tests", text)
    assert ran and int(ran.group(1)) >= 50, text[-3000:]
    failed = set(re.findall(r"^(?:FAIL|ERROR): (\w+)", text, re.M))
    assert failed <= LIVETEST_QUIRKS, f"unexpected failures {failed - LIVETEST_QUIRKS}:\n{text[-5000:]}"
    for reason in re.findall(r"skipped '([^']*)'", text):
        assert any(s in reason for s in LIVETEST_SKIPS), reason
    print(re.findall(r"^(?:Ran .*|FAILED .*|OK.*)$", text, re.M))


@pytest.mark.skipif(not shutil.which("mbsync"), reason="isync not installed")
def test_mbsync_two_way(srv, tmp_path):
    server, ports, folder = srv
    deliver(ports["smtp"], folder, "sync@example.org", [b"Subject: one\r\n\r\n1\r\n", b"Subject: two\r\n\r\n2\r\n"])
    maildir = tmp_path / "mail"
    maildir.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        f"IMAPAccount t\nHost 127.0.0.1\nPort {ports['imaps']}\nUser sync@example.org\nPass secret\n"
        f"SSLType IMAPS\nCertificateFile {folder}/data/tls/selfsigned.crt\nAuthMechs PLAIN\n\n"
        f"IMAPStore remote\nAccount t\n\n"
        f"MaildirStore local\nPath {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n\n"
        f"Channel c\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n"
    )

    def sync():
        r = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout + r.stderr

    sync()
    inbox = maildir / "INBOX"
    cur = lambda: sorted((inbox / "cur").iterdir()) + sorted((inbox / "new").iterdir())
    assert len(cur()) == 2
    for special in ("Sent", "Trash", "Drafts", "Junk"):
        assert (maildir / special).is_dir(), special
    # local changes: flag one as seen+flagged, delete the other, a new folder with a message
    first, second = cur()
    os.rename(first, str(inbox / "cur" / first.name.split(":")[0]) + ":2,FS")
    os.rename(second, str(inbox / "cur" / second.name.split(":")[0]) + ":2,T")
    (maildir / "Projects" / "cur").mkdir(parents=True)
    (maildir / "Projects" / "new").mkdir()
    (maildir / "Projects" / "tmp").mkdir()
    (maildir / "Projects" / "new" / "1.local").write_bytes(b"Subject: local\r\n\r\nmade here\r\n")
    sync()
    m = imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=tls_context())
    m.login("sync@example.org", "secret")
    m.select("INBOX")
    flags = m.fetch("1:*", "(FLAGS)")[1]
    assert len(flags) == 1 and b"\\Seen" in flags[0] and b"\\Flagged" in flags[0], flags
    assert m.select("Projects")[1][0] == b"1"
    m.logout()
    # a remote change comes down; then a sync that changes nothing
    deliver(ports["smtp"], folder, "sync@example.org", [b"Subject: three\r\n\r\n3\r\n"])
    sync()
    assert len(cur()) == 2
    def state():
        local = sorted(str(p.relative_to(maildir)) for p in maildir.rglob("*") if p.is_file() and ".mbsync" not in p.name)
        with db(folder) as c:
            remote = c.execute("SELECT f.name, f.highestmodseq, f.uidnext FROM folders f JOIN accounts a ON f.account = a.id "
                               "WHERE a.\"user\" = 'sync' ORDER BY f.name").fetchall()
        return local, remote
    before = state()
    sync()
    assert state() == before, "a second sync changed something"


@pytest.mark.skipif(not shutil.which("fetchmail"), reason="fetchmail not installed")
@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_fetchmail(srv, tmp_path, protocol):
    _, ports, folder = srv
    deliver(ports["smtp"], folder, "fetch@example.org", [b"Subject: fm %d\r\n\r\nbody\r\n" % i for i in range(3)])
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f'poll 127.0.0.1 service {ports[protocol]} protocol {protocol} user "fetch@example.org" '
                  f'password "secret" sslproto "" keep\n')
    rc.chmod(0o600)
    out_file = tmp_path / "out.mbox"
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog", "-a", "-k", "-v", "--mda", f"cat >> {out_file}"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    got = out_file.read_bytes()
    assert got.count(b"Subject: fm ") >= 3


@pytest.mark.skipif(not shutil.which("getmail"), reason="getmail6 not installed")
@pytest.mark.parametrize("retriever,port", [("SimplePOP3SSLRetriever", "pop3s"), ("SimpleIMAPSSLRetriever", "imaps")])
def test_getmail(srv, tmp_path, retriever, port):
    _, ports, folder = srv
    deliver(ports["smtp"], folder, "get@example.org", [b"Subject: gm\r\n\r\nbody\r\n"])
    # getmail refuses to deliver as root; as nobody it needs a folder it can reach
    import tempfile
    maildir = pathlib.Path(tempfile.mkdtemp(prefix="getmail-")) / "Maildir"
    maildir.parent.chmod(0o755)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    rc = tmp_path / "getmailrc"
    mailboxes = '\nmailboxes = ("INBOX",)' if "IMAP" in retriever else ""
    rc.write_text(f"[retriever]\ntype = {retriever}\nserver = 127.0.0.1\nport = {ports[port]}\n"
                  f"username = get@example.org\npassword = secret{mailboxes}\n\n"
                  f"[destination]\ntype = Maildir\npath = {maildir}/\nuser = {os.environ.get('USER', 'root')}\n\n"
                  f"[options]\nread_all = true\ndelete = false\n")
    if os.geteuid() == 0:
        shutil.chown(maildir, "nobody")
        for sub in ("cur", "new", "tmp"):
            shutil.chown(maildir / sub, "nobody")
        rc.write_text(rc.read_text().replace(f"user = {os.environ.get('USER', 'root')}", "user = nobody"))
    r = subprocess.run(["getmail", f"--getmaildir={tmp_path}", f"--rcfile={rc}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"\d+ messages? \(\d+ bytes\) retrieved", r.stdout + r.stderr), r.stdout + r.stderr
    assert any((maildir / "new").iterdir())
    shutil.rmtree(maildir.parent, ignore_errors=True)


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
def test_curl_imap(srv):
    _, ports, folder = srv
    deliver(ports["smtp"], folder, "curl@example.org", [b"Subject: for curl\r\n\r\nhello from imap\r\n"])
    base = f"imaps://127.0.0.1:{ports['imaps']}"
    run = lambda url, *extra: subprocess.run(["curl", "-sS", "--insecure", "--user", "curl@example.org:secret", *extra, url],
                                             capture_output=True, text=True, timeout=30)
    listing = run(base + "/")
    assert listing.returncode == 0 and '"INBOX"' in listing.stdout and "\\Sent" in listing.stdout, listing.stdout + listing.stderr
    got = run(base + "/INBOX;UID=1")
    assert got.returncode == 0 and "hello from imap" in got.stdout, got.stdout + got.stderr
    found = run(base + "/INBOX", "-X", "SEARCH SUBJECT curl")
    assert "SEARCH 1" in found.stdout, found.stdout


CORPUS = [
    b"Subject: plain\r\n\r\njust text\r\n",
    b"From: a@b.c\r\nSubject: alternative\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b1--\r\n",
    b"Subject: nested\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
    b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\ninner body\r\n--o--\r\n",
    b"Subject: =?UTF-8?Q?8-bit_=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    + "déjà vu, ½ ✓\r\n".encode(),
    b"Subject: malformed\r\nContent-Type: multipart/mixed; boundary=never\r\n\r\nno boundary ever appears\r\n",
    b"Subject: binary-ish\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
]


def test_mime_corpus_round_trips_byte_identical(srv):
    _, ports, _ = srv
    m = imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=tls_context())
    m.login("corpus@example.org", "secret")
    for msg in CORPUS:
        assert m.append("INBOX", None, None, msg)[0] == "OK"
    m.select("INBOX")
    for i, msg in enumerate(CORPUS, start=1):
        typ, data = m.fetch(str(i), "(BODY.PEEK[] BODYSTRUCTURE)")
        assert data[0][1] == msg, (i, data[0][1][:200])
        assert f"RFC822.SIZE {len(msg)}".encode() in m.fetch(str(i), "(RFC822.SIZE)")[1][0]
    m.logout()
