"""The hook matrix: each `when` on SMTP, POP3 and IMAP with each return
value, observed with smtplib, poplib and imaplib (their raw line access
where the exact line matters), and the hook limits end to end.

One server runs matrix.lua (tests/lua/hooks/matrix.lua), whose hooks answer
as the client asks: `XMATRIX mode <point> <mode>` picks the answer of the
next hook at <point> (accept: the client's address 127.0.1.N), then the
test runs one command there (the probe) and checks the exact reply and
whether the command took effect. matrix_err.lua, loaded as matrix_c
(`onerror continue`) and matrix_t (`onerror tempfail`), raises at the point
asked for; matrix_limits.lua breaks the limits. Expected lines are
docs/lua/hooks.md's "In each protocol's words" table."""

import contextlib
import imaplib
import poplib
import re
import shutil
import smtplib
import socket
import time
import uuid

import pytest

from conftest import LUA, Server, free_port
from mailstore import letter_bytes, letters, queue, wait_letters, wait_until
from test_lua_hooks import base_config, setup_domain

HERE = LUA / "hooks"
DOMAIN = "hooks.test"
HOST = "127.0.0.1"

# The modes matrix.lua knows (MODES there, in this order: accept addresses
# are 127.0.1.N for MODES[N]), then matrix_err.lua's two.
MODES = ["nil", "true", "okay", "one", "false", "failure", "two", "ignore", "three",
         "num5", "num4", "num2", "text5", "text4", "text2"]
ALL_MODES = MODES + ["error_c", "error_t"]

# What each mode is (docs/lua/hooks.md, "What a hook answers").
PROCEED = {"nil", "true", "okay", "one", "error_c"}    # go on (error_c: onerror continue)
CLOSE = {"false", "failure", "two"}                     # the protocol's closing reply
IGNORE = {"ignore", "three"}                            # the script's own line only
REFUSE = {"num5", "num4", "text5", "text4", "error_t"}  # 4xx/5xx (error_t: onerror tempfail)
REPLY2 = {"num2", "text2"}                              # a status below 400
assert PROCEED | CLOSE | IGNORE | REFUSE | REPLY2 == set(ALL_MODES)

def took(point, mode):
    """Whether the probe's command took effect: a command hook's answer
    other than "go on" skips the command; an after-hook's refusal (4xx/5xx)
    gives back what the command took, its other answers only replace the
    reply."""
    if point.startswith("cmd"):
        return mode in PROCEED
    return mode in PROCEED | IGNORE | REPLY2


def source(mode):
    """The client address whose accept hooks answer as `mode`."""
    if mode.startswith("error_"):
        return "127.0.2.1" if mode == "error_c" else "127.0.2.2"
    return f"127.0.1.{MODES.index(mode) + 1}"


# The line a client gets instead of the command's own reply when a hook at
# `point` (command or after) answers as `mode` (not for PROCEED). An after
# hook's failure too: "From an `after` hook, an answer other than "go on"
# replaces the reply the server decided while it is unsent". The standard
# texts of a bare status: RFC 5321's for SMTP, as the docs say; POP3's and
# IMAP's are the server's (the docs promise only that there is one).
def smtp_expected(point, mode):
    return {
        "false": f"421 4.7.0 {DOMAIN} closing connection",
        "failure": f"421 4.7.0 {DOMAIN} closing connection",
        "two": f"421 4.7.0 {DOMAIN} closing connection",
        "ignore": f"250 2.0.0 matrix ignored {point}",
        "three": f"250 2.0.0 matrix ignored {point}",
        "num5": "550 5.7.1 Requested action not taken: mailbox unavailable",
        "num4": "451 4.3.0 Requested action aborted: local error in processing",
        "num2": "250 2.0.0 OK",
        "text5": f"554 5.0.0 matrix says no at {point}",
        "text4": f"451 4.0.0 matrix says later at {point}",
        "text2": f"250 2.0.0 matrix says fine at {point}",
        "error_t": "451 4.3.0 Temporary failure, try again later",
    }[mode]


def pop_expected(point, mode):
    return {
        "false": "-ERR closing connection",
        "failure": "-ERR closing connection",
        "two": "-ERR closing connection",
        "ignore": f"+OK matrix ignored {point}",
        "three": f"+OK matrix ignored {point}",
        "num5": "-ERR refused",
        "num4": "-ERR [SYS/TEMP] temporary failure",
        "num2": "+OK",
        "text5": f"-ERR matrix says no at {point}",
        "text4": f"-ERR [SYS/TEMP] matrix says later at {point}",
        "text2": f"+OK matrix says fine at {point}",
        "error_t": "-ERR [SYS/TEMP] temporary failure, try again later",
    }[mode]


def imap_expected(point, mode, tag):
    return {
        "false": f"* BYE {DOMAIN} closing connection",
        "failure": f"* BYE {DOMAIN} closing connection",
        "two": f"* BYE {DOMAIN} closing connection",
        "ignore": f"{tag} OK matrix ignored {point}",
        "three": f"{tag} OK matrix ignored {point}",
        "num5": f"{tag} NO refused",
        "num4": f"{tag} NO [UNAVAILABLE] try again later",
        "num2": f"{tag} OK completed",
        "text5": f"{tag} NO matrix says no at {point}",
        "text4": f"{tag} NO [UNAVAILABLE] matrix says later at {point}",
        "text2": f"{tag} OK matrix says fine at {point}",
        "error_t": f"{tag} NO [UNAVAILABLE] temporary failure, try again later",
    }[mode]


def check_failure_logged(server, mode, service, point, verb):
    """For error_c/error_t: the failed hook was logged with its point and
    the fail-safe it took."""
    if not mode.startswith("error_"):
        return
    letter = mode[-1]
    when = "command" if point.startswith("cmd") else "after"
    action = "continuing" if letter == "c" else "answering with a temporary failure"
    server.wait_for_log(rf"matrix_{letter}: hook {service} {when} {verb} failed: "
                        rf".*matrix hook error at {point}.*; {action} \(onerror\)")


# ---------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("matrix")
    for tag in "ct":
        shutil.copy(HERE / "matrix_err.lua", folder / f"matrix_{tag}.lua")
    smtp_port, pop_port, imap_port = free_port(), free_port(), free_port()
    scripts = (f"LoadScript {HERE}/matrix.lua\nGrant matrix hook smtp pop3 imap4\n"
               f"LoadScript {folder}/matrix_c.lua\nGrant matrix_c hook smtp pop3 imap4\n"
               f"ScriptLimit matrix_c onerror continue\n"
               f"LoadScript {folder}/matrix_t.lua\nGrant matrix_t hook smtp pop3 imap4\n"
               f"ScriptLimit matrix_t onerror tempfail\n"
               f"LoadScript {HERE}/matrix_limits.lua\nGrant matrix_limits hook smtp mailman\n"
               f"ScriptLimit matrix_limits onerror tempfail\n")
    text = base_config(folder, smtp_port,
                       f"EnablePOP3 1\nPOP3Port {pop_port}\nEnablePOP3S 0\nEnableIMAP4 1\nIMAP4Port {imap_port}\n"
                       f"EnableIMAPS 0\nScriptLogRate 10000\n{scripts}")
    setup_domain(folder, text, accounts=("ann", "bob", "pop", "imap", "lim"))
    server = Server(folder, text)
    with smtplib.SMTP(HOST, smtp_port, timeout=30) as s:
        for who in ("pop", "imap"):
            for n in (1, 2):
                s.sendmail("someone@example.net", [f"{who}@{DOMAIN}"],
                           f"Subject: seed {n}\r\n\r\nmatrix seed {n}\r\n".encode())
    for who in ("pop", "imap"):
        wait_letters(folder, f"{who}@{DOMAIN}", 2)
    server.ports = {"smtp": smtp_port, "pop3": pop_port, "imap4": imap_port}
    server.folder = folder
    yield server
    server.stop()


def read_to_eof(sock, f, timeout=5.0):
    """What the server still sends on `sock` (read through its file `f`)
    before it closes: b"" when it closed right away; a timeout when it does
    not close."""
    sock.settimeout(timeout)
    return f.read()


def accept_lines(server, service, mode):
    """Connect from `mode`'s address: (the first line, the socket file)."""
    c = socket.create_connection((HOST, server.ports[service]), timeout=10, source_address=(source(mode), 0))
    f = c.makefile("rb")
    return c, f, f.readline().decode().rstrip("\r\n")


def ask(c, f, line):
    c.sendall(line.encode() + b"\r\n")
    return f.readline().decode().rstrip("\r\n")


# ---------------------------------------------------------------- accept

ACCEPT_SMTP = {
    "proceed": f"220 {DOMAIN} ESMTP Rumble ready",
    "ignore": f"220 {DOMAIN} matrix ignored accept",
    "num2": "250 2.0.0 OK",
    "text2": "250 2.0.0 matrix says fine at accept",
    # "At accept, SMTP and POP3 send a 4xx/5xx status and close"
    "num5": "550 5.7.1 Requested action not taken: mailbox unavailable",
    "num4": "451 4.3.0 Requested action aborted: local error in processing",
    "text5": "554 5.0.0 matrix says no at accept",
    "text4": "451 4.0.0 matrix says later at accept",
    # closing, so 421 (RFC 5321 §3.8), as docs/lua/hooks.md says
    "error_t": "421 4.3.0 Temporary failure, try again later",
    "close": f"421 4.7.0 {DOMAIN} closing connection",
}
ACCEPT_POP = {
    "proceed": f"+OK {DOMAIN} Rumble POP3 ready",
    "ignore": "+OK matrix ignored accept",
    "num2": "+OK",
    "text2": "+OK matrix says fine at accept",
    "num5": "-ERR refused",
    "num4": "-ERR [SYS/TEMP] temporary failure",
    "text5": "-ERR matrix says no at accept",
    "text4": "-ERR [SYS/TEMP] matrix says later at accept",
    "error_t": "-ERR [SYS/TEMP] temporary failure, try again later",
    "close": "-ERR closing connection",
}
# IMAP: "* OK <text> for a status below 400 (as the greeting) and * BYE <text> otherwise"
ACCEPT_IMAP = {
    "proceed": re.compile(rf"\* OK \[CAPABILITY IMAP4rev1 [^\]]*\] {re.escape(DOMAIN)} Rumble IMAP4rev1 ready"),
    "ignore": "* OK matrix ignored accept",
    "num2": "* OK ready",
    "text2": "* OK matrix says fine at accept",
    "num5": "* BYE refused",
    "num4": "* BYE refused",
    "text5": "* BYE matrix says no at accept",
    "text4": "* BYE matrix says later at accept",
    "error_t": "* BYE [UNAVAILABLE] temporary failure, try again later",
    "close": f"* BYE {DOMAIN} closing connection",
}
ACCEPT = {"smtp": ACCEPT_SMTP, "pop3": ACCEPT_POP, "imap4": ACCEPT_IMAP}
# The answer to "XMATRIX state" once the session goes on: proves the hook ran.
STATE = {"smtp": "250 2.0.0 log=[{log}] user=nil sender=nil rcpts=[]",
         "pop3": "+OK log=[{log}] user=nil sender=nil rcpts=[]",
         "imap4": "S1 OK log=[{log}] user=nil sender=nil rcpts=[]"}


@pytest.mark.parametrize("service", ["smtp", "pop3", "imap4"])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_accept(matrix, service, mode):
    c, f, first = accept_lines(matrix, service, mode)
    with c:
        key = "proceed" if mode in PROCEED else "ignore" if mode in IGNORE else "close" if mode in CLOSE else mode
        want = ACCEPT[service][key]
        if isinstance(want, re.Pattern):
            assert want.fullmatch(first), first
        else:
            assert first == want
        if mode in CLOSE or mode in REFUSE:
            assert read_to_eof(c, f) == b""  # closed, nothing more
            return
        # the session goes on, and the hook that answered was this one
        line = "S1 XMATRIX state" if service == "imap4" else "XMATRIX state"
        assert ask(c, f, line) == STATE[service].format(log=f"accept:-:{mode};")
    if mode.startswith("error_"):
        matrix.wait_for_log(rf"matrix_{mode[-1]}: hook {service} accept failed: .*matrix hook error at accept")


# ---------------------------------------------------------------- SMTP

# Letters sent in the SMTP tests: subject -> whether ann should get it (bob
# gets every one); checked once all are delivered.
SENT_TO_ANN = {}


@contextlib.contextmanager
def smtp(server):
    """An SMTP session, closed without QUIT at the end (smtplib's own
    `with` would answer a pending 421 with an error of its own)."""
    s = smtplib.SMTP(HOST, server.ports["smtp"], timeout=15)
    try:
        yield s
    finally:
        s.close()


def smtp_cmd(s, line):
    code, text = s.docmd(line)
    return f"{code} {text.decode()}"


def smtp_closed(s):
    assert read_to_eof(s.sock, s.file) == b""


def set_mode(ask_line, point, mode, ok):
    assert ask_line(f"XMATRIX mode {point} {mode}") == ok.format(f"mode {point}={mode}")


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("point", ["cmdverb", "afterverb"])
def test_smtp_rcpt(matrix, point, mode):
    """`command`/`after` hooks on RCPT: the reply, and whether ann was taken
    (the session's recipients, and later whether she got the letter)."""
    with smtp(matrix) as s:
        s.ehlo("client.example.net")
        assert s.mail("someone@example.net") == (250, b"2.1.0 Sender OK")
        set_mode(lambda l: smtp_cmd(s, l), point, mode, "250 2.0.0 {}")
        reply = smtp_cmd(s, f"RCPT TO:<ann@{DOMAIN}>")
        if mode in CLOSE:
            assert reply == smtp_expected(point, mode)
            smtp_closed(s)
            return
        assert reply == ("250 2.1.5 Recipient OK" if mode in PROCEED else smtp_expected(point, mode))
        rcpts = f"ann@{DOMAIN}" if took(point, mode) else ""
        assert smtp_cmd(s, "XMATRIX state") == (
            f"250 2.0.0 log=[{point}:rcpt:{mode};] user=nil sender=someone@example.net rcpts=[{rcpts}]")
        # the letter goes to bob, and to ann only if she was taken
        assert s.rcpt(f"bob@{DOMAIN}")[0] == 250
        subject = f"matrix smtp {point} {mode}"
        assert s.data(f"Subject: {subject}\r\n\r\nhello\r\n".encode())[0] == 250
        SENT_TO_ANN[subject] = took(point, mode)
    check_failure_logged(matrix, mode, "smtp", point, "rcpt")


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("point", ["cmdstar", "afterstar"])
def test_smtp_star(matrix, point, mode):
    """`command`/`after` hooks on "*", probed with MAIL: the reply, and
    whether the sender was taken (a RCPT without it is out of sequence)."""
    with smtp(matrix) as s:
        s.ehlo("client.example.net")
        set_mode(lambda l: smtp_cmd(s, l), point, mode, "250 2.0.0 {}")
        reply = smtp_cmd(s, "MAIL FROM:<someone@example.net>")
        if mode in CLOSE:
            assert reply == smtp_expected(point, mode)
            smtp_closed(s)
            return
        assert reply == ("250 2.1.0 Sender OK" if mode in PROCEED else smtp_expected(point, mode))
        sender = "someone@example.net" if took(point, mode) else "nil"
        assert smtp_cmd(s, "XMATRIX state") == f"250 2.0.0 log=[{point}:mail:{mode};] user=nil sender={sender} rcpts=[]"
        want = "250 2.1.5 Recipient OK" if took(point, mode) else "503 5.5.1 Send MAIL first"
        assert smtp_cmd(s, f"RCPT TO:<bob@{DOMAIN}>") == want
    check_failure_logged(matrix, mode, "smtp", point, "mail")


def test_smtp_refused_recipients_got_no_mail(matrix):
    """After the RCPT cases: bob got every letter, ann exactly those whose
    RCPT she was taken in."""
    if not SENT_TO_ANN:
        pytest.skip("checks the letters of test_smtp_rcpt, which did not run")
    folder = matrix.folder
    subjects = lambda who: [re.search(rb"Subject: (matrix smtp .*)\r\n", letter_bytes(folder, l))
                            for l in letters(folder, f"{who}@{DOMAIN}")]
    wait_until(lambda: not queue(folder) and len([m for m in subjects("bob") if m]) >= len(SENT_TO_ANN),
               timeout=20, what="every matrix letter delivered")
    ann = {m.group(1).decode() for m in subjects("ann") if m}
    assert ann == {s for s, taken in SENT_TO_ANN.items() if taken}


# ---------------------------------------------------------------- POP3


def pop(server):
    return poplib.POP3(HOST, server.ports["pop3"], timeout=15)


def pop_cmd(p, line):
    """One command; its status line as the server wrote it."""
    p._putcmd(line)
    return p._getline()[0].decode()


def pop_login(p, user=f"pop@{DOMAIN}"):
    """USER/PASS: the PASS line (retried while the previous test's session
    still holds the maildrop lock: the after-hooks here leave a failed PASS
    alone)."""
    for _ in range(200):
        assert pop_cmd(p, f"USER {user}") == "+OK send PASS"
        line = pop_cmd(p, "PASS pw")
        if not line.startswith("-ERR [IN-USE]"):
            return line
        time.sleep(0.05)
    raise AssertionError("the maildrop stayed locked")


LOGGED_IN = re.compile(r"\+OK Logged in, 2 messages \(\d+ octets\)")


def pop_closed(p):
    assert read_to_eof(p.sock, p.file) == b""


def pop_count(p):
    """STAT's message count (the session must be logged in)."""
    line = pop_cmd(p, "STAT")
    m = re.fullmatch(r"\+OK (\d+) \d+", line)
    assert m, line
    return int(m.group(1))


def pop_state(p, log, user):
    assert pop_cmd(p, "XMATRIX state") == f"+OK log=[{log}] user={user} sender=nil rcpts=[]"


@pytest.mark.parametrize("mode", ALL_MODES)
def test_pop3_cmdverb_dele(matrix, mode):
    """A `command` hook on DELE (a verb after login): a skipped DELE leaves
    the message there. (No QUIT: the maildrop is never changed.)"""
    p = pop(matrix)
    try:
        assert LOGGED_IN.fullmatch(pop_login(p))
        set_mode(lambda l: pop_cmd(p, l), "cmdverb", mode, "+OK {}")
        reply = pop_cmd(p, "DELE 1")
        if mode in CLOSE:
            assert reply == pop_expected("cmdverb", mode)
            pop_closed(p)
            return
        assert reply == ("+OK message 1 deleted" if mode in PROCEED else pop_expected("cmdverb", mode))
        assert pop_count(p) == (1 if took("cmdverb", mode) else 2)
        pop_state(p, f"cmdverb:dele:{mode};", f"pop@{DOMAIN}")
    finally:
        p.close()
    check_failure_logged(matrix, mode, "pop3", "cmdverb", "dele")


@pytest.mark.parametrize("mode", ALL_MODES)
def test_pop3_afterverb_pass(matrix, mode):
    """An `after` hook on PASS replaces a successful login's reply; a
    refusal undoes the login (the next command needing it fails)."""
    p = pop(matrix)
    try:
        set_mode(lambda l: pop_cmd(p, l), "afterverb", mode, "+OK {}")
        reply = pop_login(p)
        if mode in CLOSE:
            assert reply == pop_expected("afterverb", mode)
            pop_closed(p)
            return
        if mode in PROCEED:
            assert LOGGED_IN.fullmatch(reply), reply
        else:
            assert reply == pop_expected("afterverb", mode)
        if took("afterverb", mode):
            assert pop_count(p) == 2
            pop_state(p, f"afterverb:pass:{mode};", f"pop@{DOMAIN}")
        else:
            assert pop_cmd(p, "STAT") == "-ERR not allowed before login"
            pop_state(p, f"afterverb:pass:{mode};", "nil")
            # the maildrop lock went with the login: it can log in again
            assert LOGGED_IN.fullmatch(pop_login(p))
    finally:
        p.close()
    check_failure_logged(matrix, mode, "pop3", "afterverb", "pass")


@pytest.mark.parametrize("mode", ALL_MODES)
def test_pop3_cmdstar_retr(matrix, mode):
    """A `command` hook on "*", probed with RETR: a skipped RETR sends no
    message (the next line the client reads is STAT's)."""
    p = pop(matrix)
    try:
        assert LOGGED_IN.fullmatch(pop_login(p))
        set_mode(lambda l: pop_cmd(p, l), "cmdstar", mode, "+OK {}")
        reply = pop_cmd(p, "RETR 1")
        if mode in CLOSE:
            assert reply == pop_expected("cmdstar", mode)
            pop_closed(p)
            return
        if mode in PROCEED:
            assert re.fullmatch(r"\+OK \d+ octets", reply), reply
            lines = []
            while (line := p._getline()[0]) != b".":
                lines.append(line)
            # Message 1 is whichever seed the mailman stored first (on
            # PostgreSQL the two deliveries may finish in either order).
            assert b"matrix seed 1" in lines or b"matrix seed 2" in lines, lines
        else:
            assert reply == pop_expected("cmdstar", mode)
        assert pop_count(p) == 2
        pop_state(p, f"cmdstar:retr:{mode};", f"pop@{DOMAIN}")
    finally:
        p.close()
    check_failure_logged(matrix, mode, "pop3", "cmdstar", "retr")


@pytest.mark.parametrize("mode", ALL_MODES)
def test_pop3_afterstar_dele(matrix, mode):
    """An `after` hook on "*", probed with DELE: the reply is replaced, but
    DELE has already acted ("Other commands have already acted")."""
    p = pop(matrix)
    try:
        assert LOGGED_IN.fullmatch(pop_login(p))
        set_mode(lambda l: pop_cmd(p, l), "afterstar", mode, "+OK {}")
        reply = pop_cmd(p, "DELE 1")
        if mode in CLOSE:
            assert reply == pop_expected("afterstar", mode)
            pop_closed(p)
            return
        assert reply == ("+OK message 1 deleted" if mode in PROCEED else pop_expected("afterstar", mode))
        assert pop_count(p) == 1
        pop_state(p, f"afterstar:dele:{mode};", f"pop@{DOMAIN}")
    finally:
        p.close()
    check_failure_logged(matrix, mode, "pop3", "afterstar", "dele")


# ---------------------------------------------------------------- IMAP


def imap(server):
    return imaplib.IMAP4(HOST, server.ports["imap4"], timeout=15)


def imap_cmd(m, tag, line):
    """One command sent as is: (its untagged lines, its tagged line or None
    when the server closed first)."""
    m.send(f"{tag} {line}\r\n".encode())
    untagged = []
    while True:
        data = m.readline()
        if not data:
            return untagged, None
        text = data.decode().rstrip("\r\n")
        if text.startswith(tag + " "):
            return untagged, text
        untagged.append(text)


def imap_ask(m, line):
    untagged, tagged = imap_cmd(m, "M1", line)
    assert untagged == [], untagged
    return tagged


def imap_closing(m, untagged, tagged, point, mode):
    """A failure: `* BYE ... closing connection` instead of the reply, then
    the end of the connection."""
    assert tagged is None, f"a tagged reply before the BYE: {tagged!r}"
    assert untagged[-1:] == [imap_expected(point, mode, "P1")], untagged
    assert read_to_eof(m.sock, m.file) == b""


def imap_state(m, log, user):
    assert imap_ask(m, "XMATRIX state") == f"M1 OK log=[{log}] user={user} sender=nil rcpts=[]"


SELECTED = "P1 OK [READ-WRITE] SELECT completed"
NOT_SELECTED = "F1 BAD No mailbox selected"


@pytest.mark.parametrize("mode", ALL_MODES)
def test_imap_cmdverb_select(matrix, mode):
    """A `command` hook on SELECT (after login): a skipped SELECT selects
    nothing."""
    m = imap(matrix)
    try:
        m.login(f"imap@{DOMAIN}", "pw")
        set_mode(lambda l: imap_ask(m, l), "cmdverb", mode, "M1 OK {}")
        untagged, tagged = imap_cmd(m, "P1", "SELECT INBOX")
        if mode in CLOSE:
            return imap_closing(m, untagged, tagged, "cmdverb", mode)
        if mode in PROCEED:
            assert tagged == SELECTED and "* 2 EXISTS" in untagged, (untagged, tagged)
        else:
            assert (untagged, tagged) == ([], imap_expected("cmdverb", mode, "P1"))
        _, fetched = imap_cmd(m, "F1", "FETCH 1 (FLAGS)")
        assert fetched == ("F1 OK FETCH completed" if took("cmdverb", mode) else NOT_SELECTED)
        imap_state(m, f"cmdverb:select:{mode};", f"imap@{DOMAIN}")
    finally:
        m.shutdown()
    check_failure_logged(matrix, mode, "imap4", "cmdverb", "select")


@pytest.mark.parametrize("mode", ALL_MODES)
def test_imap_afterverb_login(matrix, mode):
    """An `after` hook on LOGIN replaces a successful login's reply; a
    refusal logs the session out again."""
    m = imap(matrix)
    try:
        set_mode(lambda l: imap_ask(m, l), "afterverb", mode, "M1 OK {}")
        untagged, tagged = imap_cmd(m, "P1", f"LOGIN imap@{DOMAIN} pw")
        if mode in CLOSE:
            return imap_closing(m, untagged, tagged, "afterverb", mode)
        assert untagged == []
        if mode in PROCEED:
            assert re.fullmatch(r"P1 OK \[CAPABILITY [^\]]*\] Logged in", tagged), tagged
        else:
            assert tagged == imap_expected("afterverb", mode, "P1")
        _, selected = imap_cmd(m, "S1", "SELECT INBOX")
        if took("afterverb", mode):
            assert selected == "S1 OK [READ-WRITE] SELECT completed"
            imap_state(m, f"afterverb:login:{mode};", f"imap@{DOMAIN}")
        else:
            assert selected == "S1 BAD Log in first"
            imap_state(m, f"afterverb:login:{mode};", "nil")
    finally:
        m.shutdown()
    check_failure_logged(matrix, mode, "imap4", "afterverb", "login")


def flags_of_first(m):
    untagged, tagged = imap_cmd(m, "F1", "FETCH 1 (FLAGS)")
    assert tagged == "F1 OK FETCH completed", (untagged, tagged)
    return untagged[0]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_imap_cmdstar_store(matrix, mode):
    """A `command` hook on "*", probed with STORE: a skipped STORE sets no
    flag."""
    m = imap(matrix)
    try:
        m.login(f"imap@{DOMAIN}", "pw")
        assert m.select("INBOX")[0] == "OK"
        assert imap_cmd(m, "R1", "STORE 1 -FLAGS.SILENT (\\Flagged)")[1] == "R1 OK STORE completed"
        set_mode(lambda l: imap_ask(m, l), "cmdstar", mode, "M1 OK {}")
        untagged, tagged = imap_cmd(m, "P1", "STORE 1 +FLAGS (\\Flagged)")
        if mode in CLOSE:
            return imap_closing(m, untagged, tagged, "cmdstar", mode)
        if mode in PROCEED:
            assert tagged == "P1 OK STORE completed" and "\\Flagged" in untagged[0], (untagged, tagged)
        else:
            assert (untagged, tagged) == ([], imap_expected("cmdstar", mode, "P1"))
        assert ("\\Flagged" in flags_of_first(m)) == took("cmdstar", mode)
        imap_state(m, f"cmdstar:store:{mode};", f"imap@{DOMAIN}")
    finally:
        m.shutdown()
    check_failure_logged(matrix, mode, "imap4", "cmdstar", "store")


@pytest.mark.parametrize("mode", ALL_MODES)
def test_imap_afterstar_select(matrix, mode):
    """An `after` hook on "*", probed with SELECT: a refusal deselects."""
    m = imap(matrix)
    try:
        m.login(f"imap@{DOMAIN}", "pw")
        set_mode(lambda l: imap_ask(m, l), "afterstar", mode, "M1 OK {}")
        untagged, tagged = imap_cmd(m, "P1", "SELECT INBOX")
        if mode in CLOSE:
            return imap_closing(m, untagged, tagged, "afterstar", mode)
        # SELECT ran: its untagged data went out; the tagged line is the hook's
        assert "* 2 EXISTS" in untagged, untagged
        assert tagged == (SELECTED if mode in PROCEED else imap_expected("afterstar", mode, "P1"))
        _, fetched = imap_cmd(m, "F1", "FETCH 1 (FLAGS)")
        assert fetched == ("F1 OK FETCH completed" if took("afterstar", mode) else NOT_SELECTED)
        imap_state(m, f"afterstar:select:{mode};", f"imap@{DOMAIN}")
    finally:
        m.shutdown()
    check_failure_logged(matrix, mode, "imap4", "afterstar", "select")


def test_imap_after_refusal_of_store_has_already_acted(matrix):
    """Only logins and SELECT/EXAMINE are undone: a refused STORE's flag
    stays set."""
    m = imap(matrix)
    try:
        m.login(f"imap@{DOMAIN}", "pw")
        assert m.select("INBOX")[0] == "OK"
        assert imap_cmd(m, "R1", "STORE 2 -FLAGS.SILENT (\\Answered)")[1] == "R1 OK STORE completed"
        set_mode(lambda l: imap_ask(m, l), "afterstar", "text5", "M1 OK {}")
        untagged, tagged = imap_cmd(m, "P1", "STORE 2 +FLAGS (\\Answered)")
        assert tagged == "P1 NO matrix says no at afterstar"
        untagged, tagged = imap_cmd(m, "F1", "FETCH 2 (FLAGS)")
        assert tagged == "F1 OK FETCH completed" and "\\Answered" in untagged[0], untagged
    finally:
        m.shutdown()


# ---------------------------------------------------------------- close

CLOSE_MODES = ["nil", "true", "false", "failure", "two", "ignore", "num5", "text2"]


def closing_session(server, service, modes):
    """A session that sets `modes` ({point: mode}) and a fresh closeid,
    then ends politely; returns the closeid."""
    closeid = f"{service}-{uuid.uuid4().hex[:12]}"
    lines = [f"XMATRIX mode {point} {mode}" for point, mode in modes.items()] + [f"XMATRIX mode closeid {closeid}"]
    if service == "smtp":
        with smtp(server) as s:
            for l in lines:
                assert smtp_cmd(s, l).startswith("250 2.0.0 mode ")
            assert s.quit()[0] == 221
    elif service == "pop3":
        p = pop(server)
        for l in lines:
            assert pop_cmd(p, l).startswith("+OK mode ")
        assert p.quit().startswith(b"+OK")
    else:
        m = imap(server)
        for l in lines:
            assert imap_ask(m, l).startswith("M1 OK mode ")
        assert m.logout()[0] == "BYE"
    return closeid


def closed_entry(server, service, closeid):
    """What the close hook of session `closeid` wrote to kv, read by a
    later connection (polled: close hooks run after the client saw EOF)."""
    def read():
        line = f"XMATRIX closed {closeid}"
        if service == "smtp":
            with smtp(server) as s:
                got = smtp_cmd(s, line).removeprefix("250 2.0.0 ")
        elif service == "pop3":
            p = pop(server)
            got = pop_cmd(p, line).removeprefix("+OK ")
            p.quit()
        else:
            m = imap(server)
            got = imap_ask(m, line).removeprefix("M1 OK ")
            m.logout()
        return None if got == "closed none" else got
    return wait_until(read, timeout=10, what=f"the close hook of {closeid}", interval=0.1)


@pytest.mark.parametrize("service", ["smtp", "pop3", "imap4"])
@pytest.mark.parametrize("mode", CLOSE_MODES)
def test_close_hooks_run_and_their_answer_is_ignored(matrix, service, mode):
    closeid = closing_session(matrix, service, {"close": mode})
    assert closed_entry(matrix, service, closeid) == f"closed {service} log=[close:-:{mode};] user=nil"
    assert matrix.proc.poll() is None


@pytest.mark.parametrize("service", ["smtp", "pop3", "imap4"])
@pytest.mark.parametrize("letter", ["c", "t"])
def test_close_hooks_all_run_and_may_fail(matrix, service, letter):
    """matrix.lua's close hook answers false; matrix_<letter>.lua's still
    runs after it, fails, and the failure is only logged."""
    closeid = closing_session(matrix, service, {"close": "false", "closeerr": f"error_{letter}"})
    assert closed_entry(matrix, service, closeid) == f"closed {service} log=[close:-:false;] user=nil"
    matrix.wait_for_log(rf"(?m)matrix_{letter}: close {service} {closeid}$")
    action = "continuing" if letter == "c" else "answering with a temporary failure"
    matrix.wait_for_log(rf"matrix_{letter}: hook {service} close failed: .*matrix hook error at close.*; {action} \(onerror\)")


# ---------------------------------------------------------------- limits


def raw_smtp(server):
    c = socket.create_connection((HOST, server.ports["smtp"]), timeout=15)
    f = c.makefile("rb")
    assert f.readline().startswith(b"220 ")
    c.sendall(b"EHLO client.example.net\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    return c, f


def test_send_over_64k_in_one_call_is_an_error(matrix):
    c, f = raw_smtp(matrix)
    with c:
        # bare: the hook fails and takes its fail-safe (tempfail); none of
        # the 64 KiB + 1 reaches the client: the next line is NOOP's
        assert ask(c, f, "HELP send 65537") == "451 4.3.0 Temporary failure, try again later"
        assert ask(c, f, "NOOP").startswith("250 ")
        # under pcall: the error the script gets
        line = ask(c, f, "HELP psend 65537")
        assert line.startswith("214 2.0.0 psend false ") and "at most 65536 bytes" in line, line
        assert ask(c, f, "NOOP").startswith("250 ")
        # exactly 64 KiB is allowed and arrives whole, before the hook's reply
        c.sendall(b"HELP send 65536\r\n")
        got = 0
        while True:
            line = f.readline()
            if not line.startswith(b"214-"):
                break
            got += len(line)
        assert (got, line) == (65536, b"214 2.0.0 end of flood\r\n")
    matrix.wait_for_log(r"matrix_limits: hook smtp command help failed: .*at most 65536 bytes.*answering with a temporary failure")


def test_session_values_are_limited_per_connection(matrix):
    c, f = raw_smtp(matrix)
    with c:
        # key and value bytes together: 1 + 65535 is all a connection holds
        assert ask(c, f, "HELP pset a 65535") == "214 2.0.0 pset a true nil"
        line = ask(c, f, "HELP pset b 0")
        assert line.startswith("214 2.0.0 pset b false ") and "limited to 65536 bytes per connection" in line, line
        assert ask(c, f, "HELP set b 0") == "451 4.3.0 Temporary failure, try again later"
        assert ask(c, f, "HELP get a") == "214 2.0.0 get a 65535"
        assert ask(c, f, "HELP get b") == "214 2.0.0 get b nil"
        # smaller values keep working: a shorter a leaves room for b
        assert ask(c, f, "HELP pset a 65000") == "214 2.0.0 pset a true nil"
        assert ask(c, f, "HELP pset b 100") == "214 2.0.0 pset b true nil"
        assert ask(c, f, "HELP get b") == "214 2.0.0 get b 100"
        # removing frees the room
        assert ask(c, f, "HELP pset a nil") == "214 2.0.0 pset a true nil"
        assert ask(c, f, "HELP pset c 60000") == "214 2.0.0 pset c true nil"
    # another connection starts empty
    c, f = raw_smtp(matrix)
    with c:
        assert ask(c, f, "HELP get c") == "214 2.0.0 get c nil"
        assert ask(c, f, "HELP pset a 65535") == "214 2.0.0 pset a true nil"


def lim_letters(folder):
    return [letter_bytes(folder, l) for l in letters(folder, f"lim@{DOMAIN}")]


def test_add_header_beyond_64_is_an_error(matrix):
    folder = matrix.folder
    with smtp(matrix) as s:
        s.ehlo("client.example.net")
        # bare: 65 calls fail the hook: tempfail, the message is dropped
        s.mail("someone@example.net")
        s.rcpt(f"lim@{DOMAIN}")
        assert s.data(b"Subject: limit rawheaders 65\r\n\r\nhello\r\n") == (451, b"4.3.0 Temporary failure, try again later")
        # 64 are allowed
        s.mail("someone@example.net")
        s.rcpt(f"lim@{DOMAIN}")
        assert s.data(b"Subject: limit rawheaders 64\r\n\r\nhello\r\n") == (250, b"2.0.0 added 64")
        # under pcall: the 65th and later fail, the first 64 stay
        s.mail("someone@example.net")
        s.rcpt(f"lim@{DOMAIN}")
        code, text = s.data(b"Subject: limit headers 70\r\n\r\nhello\r\n")
        assert code == 250 and text.startswith(b"2.0.0 added 64 first error: ") and b"at most 64 added headers" in text, text
    wait_until(lambda: len(letters(folder, f"lim@{DOMAIN}")) >= 2 and not queue(folder), what="lim's letters")
    stored = {re.search(rb"Subject: (.*)\r\n", b).group(1): b for b in lim_letters(folder)}
    assert b"limit rawheaders 65" not in stored
    for subject in (b"limit rawheaders 64", b"limit headers 70"):
        head = stored[subject].split(b"\r\n\r\n")[0]
        names = re.findall(rb"\r\nX-Limit-(\d+): yes", head)
        assert sorted(int(n) for n in names) == list(range(1, 65)), (subject, names)
    matrix.wait_for_log(r"matrix_limits: hook smtp message failed: .*at most 64 added headers")


def test_add_flag_beyond_64_is_an_error(matrix):
    folder = matrix.folder
    with smtp(matrix) as s:
        s.sendmail("someone@example.net", [f"lim@{DOMAIN}"], b"Subject: limit flags 70\r\n\r\nhello\r\n")
    line = matrix.wait_for_log(r"matrix_limits: flags for lim@hooks\.test: added (\d+) first error: ([^\n]*)")
    assert line.group(1) == "64" and "at most 64 flags" in line.group(2), line.group(0)
    wait_until(lambda: not queue(folder), what="the flags letter delivered")
    m = imap(matrix)
    try:
        m.login(f"lim@{DOMAIN}", "pw")
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", '"limit flags 70"')
        assert typ == "OK" and data[0], data
        typ, data = m.fetch(data[0].split()[0], "(FLAGS)")
        keywords = re.findall(rb"\$K(\d+)", data[0])
        assert sorted(int(k) for k in keywords) == list(range(1, 65)), data
    finally:
        m.logout()
