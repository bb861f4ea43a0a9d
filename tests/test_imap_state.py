"""IMAP state shared between sessions, as an IMAP conformance suite and a
loaded server found it: expunges held back during FETCH/STORE/SEARCH and
told at the next command that allows them, FETCH of a message another
session expunged, UIDVALIDITY never repeating, keywords announced in FLAGS,
LSUB's \\Noselect parents, SEARCH on addresses with comments, IDLE's DONE
split across packets, the cost of a session on a big folder, modified UTF-7
names, and a UTF-8 user name sent bare to LOGIN. Two sessions interleave on
raw sockets so every untagged line can be checked."""

import re
import socket
import subprocess
import time

import pytest

from conftest import Server, free_port, rumble_bin, write_config
from mailstore import db


class Imap:
    """A raw IMAP session: `run` sends one command and returns every line
    up to and including its tagged answer (literals folded in)."""

    def __init__(self, port, user=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")
        self.n = 0
        assert self.readline().startswith("* OK")
        if user:
            assert self.run(f"LOGIN {user}@example.org pw")[-1].split()[1] == "OK"

    def readline(self):
        line = self.file.readline()
        assert line, "connection closed"
        text = line.decode("utf-8", "replace")
        m = re.search(r"\{(\d+)\}\r\n$", text)
        while m:
            text += self.file.read(int(m.group(1))).decode("utf-8", "replace")
            more = self.file.readline().decode("utf-8", "replace")
            text += more
            m = re.search(r"\{(\d+)\}\r\n$", more)
        return text.rstrip("\r\n")

    def send(self, data: bytes):
        self.sock.sendall(data)

    def run(self, command):
        self.n += 1
        tag = f"t{self.n}"
        self.send(f"{tag} {command}\r\n".encode())
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def append(self, folder, message: bytes, flags=""):
        self.n += 1
        tag = f"t{self.n}"
        self.send(f"{tag} APPEND {folder} {flags}{{{len(message)}+}}\r\n".encode() + message + b"\r\n")
        while True:
            line = self.readline()
            if line.startswith(tag + " "):
                assert " OK " in line, line
                return line

    def close(self):
        self.sock.close()


def message(n, sender="ann@example.org"):
    return (f"From: {sender}\r\nTo: bob@example.org\r\nSubject: note {n}\r\n"
            f"Message-ID: <{n}@example.org>\r\n\r\nbody {n}\r\n").encode()


def tagged(lines):
    return lines[-1].split(" ", 2)[1:]


@pytest.fixture
def imap(tmp_path):
    port = free_port()
    config = (
        f"ServerName mail.example.org\nDataFolder {tmp_path}/data\nStorageFolder {tmp_path}/storage\n"
        f"BindToAddress 127.0.0.1\nEnableSMTP 0\nEnableSubmission 0\nEnableSMTPS 0\nEnableIMAPS 0\n"
        f"EnableIMAP4 1\nIMAP4Port {port}\nAllowPlaintextAuth 1\nMaxConnectionsPerIP 0\n"
    )
    write_config(tmp_path / "rumble.conf", config)
    admin = [str(rumble_bin()), "--config", str(tmp_path / "rumble.conf")]
    subprocess.run(admin + ["domain", "add", "example.org"], check=True, capture_output=True)
    for user in ("ann", "jörg"):
        subprocess.run(admin + ["account", "add", f"{user}@example.org", "--password", "pw"], check=True, capture_output=True)
    server = Server(tmp_path, config)
    yield server, port, tmp_path
    server.stop()


def two_sessions_on_inbox(port, letters=3):
    a, b = Imap(port, "ann"), Imap(port, "ann")
    for n in range(1, letters + 1):
        a.append("INBOX", message(n))
    a.run("SELECT INBOX")
    b.run("SELECT INBOX")
    return a, b


def test_expunge_held_back_during_fetch_is_told_at_the_next_noop(imap):
    _, port, _ = imap
    a, b = two_sessions_on_inbox(port)
    a.run("STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert "* 1 EXPUNGE" in a.run("EXPUNGE")
    expunge = re.compile(r"^\* \d+ EXPUNGE$")
    fetched = b.run("FETCH 1:* (FLAGS)")
    assert not any(expunge.match(line) for line in fetched), "no EXPUNGE during FETCH (RFC 3501 §7.4.1)"
    for command in ("STORE 3 +FLAGS (\\Flagged)", "SEARCH ALL"):
        assert not any(expunge.match(line) for line in b.run(command)), command
    told = b.run("NOOP")
    assert "* 1 EXPUNGE" in told, told
    assert not any(expunge.match(line) for line in b.run("NOOP")), "told once"
    listed = b.run("UID FETCH 1:* (UID)")
    assert re.findall(r"UID (\d+)", " ".join(listed[:-1])) == ["2", "3"], listed
    # Sequence number 1 is now UID 2: a STORE lands there, not on the expunged one.
    b.run("STORE 1 FLAGS (\\Answered)")
    assert any("UID 2" in line and "\\Answered" in line for line in b.run("UID FETCH 2 (FLAGS)"))
    a.close(), b.close()


def test_fetch_of_a_message_expunged_elsewhere_is_nil_with_expungeissued(imap):
    server, port, _ = imap
    a, b = two_sessions_on_inbox(port)
    a.run("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.run("EXPUNGE")
    lines = b.run("FETCH 1:3 (UID BODY.PEEK[] ENVELOPE)")
    assert tagged(lines) == ["OK", "[EXPUNGEISSUED] Some messages were expunged"], lines
    text = "\n".join(lines)
    assert "* 2 FETCH (UID 2 BODY[] NIL)" in text, text
    assert "{0}" not in text, "never empty content a client could cache"
    assert "body 1" in text and "body 3" in text
    assert "unreadable" not in server.log()
    a.close(), b.close()


def test_uidvalidity_never_repeats_for_a_recreated_folder(imap):
    _, port, _ = imap
    a = Imap(port, "ann")
    seen = []
    for _ in range(3):  # all within one second
        assert tagged(a.run("CREATE Again"))[0] == "OK"
        status = a.run("STATUS Again (UIDVALIDITY)")
        seen.append(int(re.search(r"UIDVALIDITY (\d+)", status[0]).group(1)))
        appended = a.append("Again", message(1))
        assert re.search(r"APPENDUID (\d+) 1\]", appended).group(1) == str(seen[-1])
        assert tagged(a.run("DELETE Again"))[0] == "OK"
    assert seen == sorted(set(seen)), f"UIDVALIDITY repeated: {seen}"
    a.close()


def test_a_new_keyword_is_announced_before_it_is_shown(imap):
    _, port, _ = imap
    a, b = two_sessions_on_inbox(port)
    mine = a.run("STORE 1 +FLAGS ($keyword1)")
    flags_at = next(i for i, l in enumerate(mine) if l.startswith("* FLAGS"))
    fetch_at = next(i for i, l in enumerate(mine) if "FETCH" in l)
    assert flags_at < fetch_at and "$keyword1" in mine[flags_at], mine
    assert any(l.startswith("* OK [PERMANENTFLAGS") and "$keyword1" in l and "\\*" in l for l in mine), mine
    theirs = b.run("NOOP")
    flags_at = next(i for i, l in enumerate(theirs) if l.startswith("* FLAGS"))
    fetch_at = next(i for i, l in enumerate(theirs) if "FETCH" in l and "$keyword1" in l)
    assert flags_at < fetch_at and "$keyword1" in theirs[flags_at], theirs
    # A session selecting later is told at SELECT.
    c = Imap(port, "ann")
    assert any(l.startswith("* FLAGS") and "$keyword1" in l for l in c.run("SELECT INBOX"))
    a.close(), b.close(), c.close()


def test_lsub_percent_shows_unsubscribed_parent_as_noselect(imap):
    _, port, _ = imap
    a = Imap(port, "ann")
    assert tagged(a.run("CREATE x/a/b"))[0] == "OK"
    assert tagged(a.run("SUBSCRIBE x/a/b"))[0] == "OK"
    lines = a.run('LSUB "" "x/%"')
    assert lines[:-1] == ['* LSUB (\\Noselect) "/" "x/a"'], lines
    lines = a.run('LSUB "" "x/*"')
    assert [l for l in lines[:-1]] == ['* LSUB (\\HasNoChildren) "/" "x/a/b"'], lines
    a.close()


def test_search_from_matches_addresses_written_with_comments(imap):
    _, port, _ = imap
    a = Imap(port, "ann")
    a.append("INBOX", message(1, sender="<user-from (comment)@ (comment) domain.org>"))
    a.append("INBOX", message(2, sender="other@domain.org"))
    a.run("SELECT INBOX")
    assert a.run("SEARCH FROM user-from@domain.org")[0] == "* SEARCH 1"
    assert a.run("SEARCH FROM comment")[0] == "* SEARCH 1", "the text as written still matches"
    a.close()


def test_idle_done_split_across_packets(imap):
    _, port, _ = imap
    a, b = two_sessions_on_inbox(port)
    b.n += 1
    b.send(b"t99 IDLE\r\n")
    assert b.readline().startswith("+")
    b.send(b"DO")
    time.sleep(0.3)
    a.append("INBOX", message(4))
    assert b.readline() == "* 4 EXISTS"
    b.send(b"NE\r\n")
    lines = []
    while not lines or not lines[-1].startswith("t99 "):
        lines.append(b.readline())
    assert lines[-1] == "t99 OK IDLE terminated", lines
    a.close(), b.close()


def fill_inbox(folder, count):
    """`count` letters in ann's INBOX, written straight into the store (all
    sharing one file) so that a big folder costs no time to make."""
    (folder / "storage").mkdir(exist_ok=True)
    (folder / "storage" / "bulk.msg").write_bytes(message(0))
    with db(folder) as c:
        (inbox,) = c.execute("SELECT f.id FROM folders f JOIN accounts a ON f.account = a.id "
                             "WHERE a.\"user\" = 'ann' AND f.name = 'INBOX'").fetchone()
        c.executemany("INSERT INTO messages (folder, uid, fid, size, internaldate, flags, modseq) "
                      "VALUES (?, ?, 'bulk', 60, 1795000000, 32, ?)",
                      [(inbox, uid, uid + 1) for uid in range(1, count + 1)])
        c.execute("UPDATE folders SET uidnext = ?, highestmodseq = ? WHERE id = ?", (count + 1, count + 1, inbox))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_sessions_on_a_big_folder_hold_little_and_catch_up_on_the_change(imap):
    """Each session on a 5,000-letter INBOX used to hold every letter's row
    (~136 bytes each, 678 KiB a session) and re-read the whole folder on
    every change. Now a session keeps its UIDs as runs and reads only what
    changed. RSS per session is measured over 100 sessions; a new letter
    reaches every one of them."""
    server, port, folder = imap
    fill_inbox(folder, 5000)
    warm = Imap(port, "ann")
    warm.run("SELECT INBOX")
    sessions = []

    def open_sessions(n):
        for _ in range(n):
            s = Imap(port, "ann")
            assert "* 5000 EXISTS" in s.run("SELECT INBOX")
            sessions.append(s)

    open_sessions(20)  # the allocator's pools warmed up by SELECT's passing work
    time.sleep(0.5)
    before = rss_kib(server.proc.pid)
    open_sessions(100)
    time.sleep(0.5)
    per_session = (rss_kib(server.proc.pid) - before) / 100
    print(f"{per_session:.1f} KiB per session")
    assert per_session < 60, f"{per_session:.0f} KiB per session on a 5,000-letter folder"
    for s in sessions:
        s.n += 1
        s.send(f"t{s.n} IDLE\r\n".encode())
        assert s.readline().startswith("+")
    warm.append("INBOX", message(1))
    for s in sessions:
        assert s.readline() == "* 5001 EXISTS"
        s.send(b"DONE\r\n")
        lines = [s.readline()]
        while not lines[-1].startswith(f"t{s.n} "):
            lines.append(s.readline())
        assert lines[-1] == f"t{s.n} OK IDLE terminated", lines
    for s in sessions:
        s.close()
    warm.close()


def test_invalid_modified_utf7_and_path_like_names_are_refused(imap):
    _, port, _ = imap
    a = Imap(port, "ann")
    for name in ('"&-&"', '"&AGE-&"', '"a&Zm9v"', '"a/../b"', '"a//b"', '".."'):
        lines = a.run(f"CREATE {name}")
        assert tagged(lines)[0] in ("NO", "BAD"), (name, lines)
    for name in ('"Entw&APw-rfe"', '"Tom &- Jerry"', '"&ZeVnLIqe-/x"'):
        assert tagged(a.run(f"CREATE {name}"))[0] == "OK", name
    assert tagged(a.run('RENAME "Entw&APw-rfe" "&AGE-"'))[0] == "NO"
    listed = "\n".join(a.run('LIST "" "*"'))
    assert "Entw&APw-rfe" in listed and "&AGE-" not in listed and ".." not in listed
    a.close()


def test_login_with_a_utf8_user_name_sent_bare(imap):
    _, port, _ = imap
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall("a LOGIN jörg@example.org pw\r\n".encode())
    line = f.readline().decode()
    while line.startswith("*"):
        line = f.readline().decode()
    assert line.startswith("a OK"), line
    s.close()
