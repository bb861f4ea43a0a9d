"""Script hooks on SMTP, end to end: `Rumble.setHook` at accept, before and
after commands (every verb, lines that do not parse), on the received
message and at close, each return value observed with smtplib or a raw
socket; hostile hooks under `onerror continue` and `tempfail`; and
registration errors and denials."""

import shutil
import smtplib
import socket
import subprocess

import pytest

from conftest import LUA, Server, free_port, rumble_bin, write_config
from mailstore import letter_bytes, letters, wait_letters, wait_until

HERE = LUA / "hooks"
DOMAIN = "hooks.test"


def base_config(folder, port, body=""):
    return (f"ServerName {DOMAIN}\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
            f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {port}\nEnableSubmission 0\nEnableSMTPS 0\n"
            f"AllowPlaintextAuth 1\n" + body)


def setup_domain(folder, config_text, accounts=("ann", "bob")):
    write_config(folder / "rumble.conf", config_text)
    admin = [str(rumble_bin()), "--config", str(folder / "rumble.conf")]
    commands = [["domain", "add", DOMAIN]] + [["account", "add", f"{a}@{DOMAIN}", "--password", "pw"] for a in accounts]
    for args in commands:
        r = subprocess.run(admin + args, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    """One server with the guard, after, message and accept scripts, and the
    hostile one twice (onerror continue, onerror tempfail)."""
    folder = tmp_path_factory.mktemp("hooks")
    for tag in "ct":
        shutil.copy(HERE / "hostile.lua", folder / f"hostile_{tag}.lua")
    port = free_port()
    scripts = ""
    for name in ("accept", "guard", "after", "message"):
        scripts += f"LoadScript {HERE}/{name}.lua\nGrant {name} hook smtp\n"
    for tag, mode in (("c", "continue"), ("t", "tempfail")):
        scripts += (f"LoadScript {folder}/hostile_{tag}.lua\nGrant hostile_{tag} hook smtp\n"
                    f"ScriptLimit hostile_{tag} onerror {mode}\nScriptLimit hostile_{tag} cpu 300ms\n"
                    f"ScriptLimit hostile_{tag} memory 16M\n")
    text = base_config(folder, port, scripts)
    setup_domain(folder, text)
    server = Server(folder, text)
    yield server, port, folder
    server.stop()


def smtp(port, source=None):
    s = smtplib.SMTP(timeout=30, source_address=(source, 0) if source else None)
    s.connect("127.0.0.1", port)
    return s


def test_rcpt_command_hook_answers_instead_of_the_command(hooked):
    _, port, folder = hooked
    with smtp(port) as s:
        s.ehlo("client.example.net")
        assert s.mail("someone@example.net")[0] == 250
        code, text = s.rcpt(f"reject-x@{DOMAIN}")
        assert (code, text) == (550, f"5.7.1 no thanks reject-x@{DOMAIN}".encode())
        code, text = s.rcpt(f"bare-x@{DOMAIN}")
        assert code == 550 and text.startswith(b"5.7.1 Requested action not taken")
        assert s.rcpt(f"temp-x@{DOMAIN}") == (451, b"4.7.1 later")
        code, text = s.rcpt(f"ignore-x@{DOMAIN}")
        assert (code, text) == (250, b"2.1.5 said by the script")
        # A refused or ignored recipient is not taken: only ann gets it.
        assert s.rcpt(f"ann@{DOMAIN}")[0] == 250
        code, text = s.rcpt(f"facts-x@{DOMAIN}", options=["NOTIFY=NEVER"])
        assert text == b"5.0.0 facts smtp 127.0.0.1 client.example.net someone@example.net 1 NEVER rcpt", text
        assert s.data(b"Subject: plain\r\n\r\nhello\r\n")[0] == 250
    got = wait_letters(folder, f"ann@{DOMAIN}", 1)
    assert len(letters(folder)) == len(got)  # nobody else got one


def test_failure_closes_with_421(hooked):
    _, port, _ = hooked
    with smtp(port) as s:
        s.ehlo("client.example.net")
        s.mail("someone@example.net")
        code, text = s.rcpt(f"close-x@{DOMAIN}")
        assert code == 421 and b"closing connection" in text
        with pytest.raises(smtplib.SMTPServerDisconnected):
            s.noop()


def test_unknown_lines_pass_the_same_hooks(hooked):
    _, port, _ = hooked
    with smtp(port) as s:
        s.ehlo("client.example.net")
        assert s.docmd("XYZZY plugh now") == (502, b"5.5.1 hook saw unknown [XYZZY plugh now]")


def test_after_hooks_see_the_reply_and_can_take_it_back(hooked):
    _, port, folder = hooked
    before = len(letters(folder, f"bob@{DOMAIN}"))
    ann = len(letters(folder, f"ann@{DOMAIN}"))
    with smtp(port) as s:
        s.ehlo("client.example.net")
        assert s.mail("afterdeny@example.net")[0] == 250
        assert s.rcpt(f"ann@{DOMAIN}")[0] == 250
        assert s.rcpt(f"bob@{DOMAIN}") == (550, b"5.7.1 bob refused after 250")
        code, text = s.noop()
        # The after-* hook logged each verb with its code, except bob's RCPT:
        # the refusal before it in LoadScript order ended that chain.
        assert text == b"2.0.0 verbs ehlo:250 mail:250 rcpt:250", text
        assert s.data(b"Subject: after\r\n\r\nhello\r\n")[0] == 250
    got = wait_letters(folder, f"ann@{DOMAIN}", ann + 1)
    assert b"Subject: after" in letter_bytes(folder, got[-1])
    assert len(letters(folder, f"bob@{DOMAIN}")) == before


def test_after_auth_guard_closes_after_two_failures(hooked):
    _, port, _ = hooked
    with smtp(port) as s:
        s.ehlo("client.example.net")
        # One AUTH at a time (smtplib.login would try a second mechanism).
        code, text = s.docmd("AUTH", "PLAIN AGFubkBob29rcy50ZXN0AHdyb25n")
        assert code == 535, (code, text)
        # The second failure: the guard's failure replaces the 535.
        code, text = s.docmd("AUTH", "PLAIN AGFubkBob29rcy50ZXN0AHdyb25n")
        assert (code, text) == (421, f"4.7.0 {DOMAIN} closing connection".encode())
        with pytest.raises(smtplib.SMTPServerDisconnected):
            s.noop()
    # A good login in a new connection is unaffected (values are per connection).
    with smtp(port) as s:
        s.ehlo("client.example.net")
        assert s.login(f"ann@{DOMAIN}", "pw")[0] == 235


def test_message_hook_reads_adds_and_refuses(hooked):
    server, port, folder = hooked
    with smtp(port) as s:
        s.ehlo("client.example.net")
        s.mail("someone@example.net")
        s.rcpt(f"bob@{DOMAIN}")
        code, text = s.data("Subject: =?utf-8?q?caf=C3=A9_reject?=\r\n\r\nno\r\n".encode())
        assert (code, text) == (554, b"5.7.1 subject refused")
        s.mail("someone@example.net")
        s.rcpt(f"bob@{DOMAIN}")
        code, text = s.data(b"Subject: count headers\r\nX-One: 1\r\n\r\nhello\r\n")
        assert (code, text) == (250, b"2.0.0 headers Received,Subject,X-One"), text
        s.mail("someone@example.net")
        s.rcpt(f"bob@{DOMAIN}")
        # Bigger than the 64 KiB steps the added fields are put in front in.
        lines = b"".join(b"line %06d of a long body\r\n" % i for i in range(9000))
        body = b"Subject: body\r\n\r\n" + lines
        code, text = s.data(body)
        assert code == 250 and text.startswith(b"2.0.0 body 10 "), text
    got = wait_letters(folder, f"bob@{DOMAIN}", 2)
    stored = letter_bytes(folder, got[-2])
    top = stored.split(b"\r\n\r\n")[0]
    # on top of our Received header (delivery puts Return-Path above all)
    assert top.index(b"\r\nX-Hooked: yes size=") < top.index(b"\r\nReceived: ")
    assert b"rcpts=1" in top and b"X-Injection: refused\r\n" in top
    assert b"Bcc" not in stored and b"X-Bad" not in stored
    # The long one: the fields on top, every byte of the message after them.
    big = letter_bytes(folder, got[-1])
    head, rest = big.split(b"\r\nReceived: ", 1)
    assert b"\r\nX-Hooked: yes size=" in head and b"X-Injection: refused" in head
    assert rest.endswith(b"\r\n" + body), len(big)
    assert server.proc.poll() is None


def test_accept_hook_refuses_and_greets(hooked):
    server, port, _ = hooked
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0)) as c:
        data = c.makefile("rb").read()
    assert data == b"554 5.7.1 You're blacklisted!\r\n421 4.7.0 hooks.test closing connection\r\n", data
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.3", 0)) as c:
        f = c.makefile("rb")
        assert f.readline() == b"220 hooks.test ESMTP greeted by a script\r\n"
        c.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"221 ")
    server.wait_for_log(r"accept: closed 127\.0\.0\.3 nil")


@pytest.mark.parametrize("kind", ["loop", "bomb", "error"])
def test_hostile_rcpt_hook_takes_its_fail_safe(hooked, kind):
    server, port, folder = hooked
    before = len(letters(folder, f"ann@{DOMAIN}"))
    with smtp(port) as s:
        s.ehlo("client.example.net")
        # onerror continue: the hook fails, mail keeps flowing
        assert s.mail(f"c-{kind}@example.net")[0] == 250
        assert s.rcpt(f"ann@{DOMAIN}")[0] == 250
        assert s.data(b"Subject: continue\r\n\r\nhello\r\n")[0] == 250
        # onerror tempfail: the client hears 451 4.3.0 and may retry
        assert s.mail(f"t-{kind}@example.net")[0] == 250
        assert s.rcpt(f"ann@{DOMAIN}") == (451, b"4.3.0 Temporary failure, try again later")
        s.rset()
        # other hooks still answer in the same session
        assert s.mail("someone@example.net")[0] == 250
        assert s.rcpt(f"reject-y@{DOMAIN}")[0] == 550
    wait_letters(folder, f"ann@{DOMAIN}", before + 1)
    reason = {"loop": "CPU budget", "bomb": "memory", "error": "hostile hook error"}[kind]
    server.wait_for_log(rf"hostile_t: hook smtp command rcpt failed: .*{reason}.*temporary failure")
    server.wait_for_log(rf"hostile_c: hook smtp command rcpt failed: .*{reason}.*continuing")


def start_with_script(tmp_path, source, grants="hook smtp"):
    port = free_port()
    (tmp_path / "s.lua").write_text(source)
    grant = f"Grant s {grants}\n" if grants else ""
    text = base_config(tmp_path, port, f"LoadScript {tmp_path}/s.lua\n{grant}")
    write_config(tmp_path / "rumble.conf", text)
    return Server(tmp_path, text)


@pytest.mark.parametrize("call, message", [
    ('Rumble.setHook(f, "smtpx", "accept")', r'"smtpx" isn\'t a known service - choices are: smtp, submission, smtps, pop3'),
    ('Rumble.setHook(f, "smtp", "feed")', r'"feed" isn\'t a known hooking location for smtp - choices are: accept, command, after, message, close'),
    ('Rumble.setHook(f, "mailman", "accept")', r'"accept" isn\'t a known hooking location for mailman - choices are: deliver'),
    ('Rumble.setHook(f, "pop3", "message")', r'"message" isn\'t a known hooking location for pop3'),
    ('Rumble.setHook(f, "smtp", "command", "retr")', r'"retr" isn\'t a smtp command - choices are: \*, helo, ehlo'),
    ('Rumble.setHook(f, "smtp", "accept", "rcpt")', r"a command is named only for command and after hooks"),
    ('Rumble.setHook("f", "smtp", "accept")', r"bad argument #1 to 'setHook' \(function expected, got string\)"),
    ('Rumble.setHook(f, "imap4", "command", "login")', r'permission denied: hook imap4 \(script "s"\)'),
])
def test_bad_registrations_are_lua_errors(tmp_path, call, message):
    server = start_with_script(tmp_path, f"local function f() end\n{call}\n")
    try:
        server.wait_for_log(r'script "s" .* failed to load: .*' + message)
    finally:
        server.stop()


def test_set_hook_only_while_loading(tmp_path):
    port = free_port()
    source = (f"Rumble.createService(function(s) local ok, e = pcall(Rumble.setHook, function() end, 'smtp', 'accept')\n"
              f"s:send(tostring(ok) .. ' ' .. tostring(e) .. '\\r\\n') end, {port}, 2)\n")
    server = start_with_script(tmp_path, source, grants=f"hook smtp\nGrant s listen {port}")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            line = c.makefile("rb").readline()
        assert b"false" in line and b"only while the script loads" in line, line
    finally:
        server.stop()


# ---------------------------------------------------------------- POP3 and IMAP

import imaplib
import poplib


@pytest.fixture(scope="module")
def mailhooked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mailhooks")
    smtp_port, pop_port, imap_port = free_port(), free_port(), free_port()
    text = base_config(folder, smtp_port,
                       f"EnablePOP3 1\nPOP3Port {pop_port}\nEnablePOP3S 0\nEnableIMAP4 1\nIMAP4Port {imap_port}\n"
                       f"EnableIMAPS 0\nLoadScript {HERE}/mailhooks.lua\nGrant mailhooks hook pop3 imap4\n")
    setup_domain(folder, text, accounts=("ann", "bob", "carol"))
    server = Server(folder, text)
    for who in ("ann", "bob"):
        with smtp(smtp_port) as s:
            s.sendmail("someone@example.net", [f"{who}@{DOMAIN}"], b"Subject: hi\r\n\r\nhello\r\n")
        wait_letters(folder, f"{who}@{DOMAIN}", 1)
    yield server, pop_port, imap_port
    server.stop()


def test_pop3_hooks(mailhooked):
    _, pop_port, _ = mailhooked
    p = poplib.POP3("127.0.0.1", pop_port, timeout=30)
    assert p.user(f"bob@{DOMAIN}").startswith(b"+OK")
    p.pass_("pw")
    with pytest.raises(poplib.error_proto) as e:
        p.retr(1)
    assert e.value.args[0] == f"-ERR no RETR for bob@{DOMAIN} 1".encode()
    assert p.list()[0].startswith(b"+OK")
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("XYZZY a b")
    assert e.value.args[0] == b"-ERR hook saw unknown XYZZY a b"
    p.quit()
    # ann is not refused; her message is there
    p = poplib.POP3("127.0.0.1", pop_port, timeout=30)
    p.user(f"ann@{DOMAIN}")
    p.pass_("pw")
    assert b"hello" in b"\n".join(p.retr(1)[1])
    p.quit()


def test_pop3_after_pass_undoes_a_login_and_guards(mailhooked):
    _, pop_port, _ = mailhooked
    p = poplib.POP3("127.0.0.1", pop_port, timeout=30)
    p.user(f"carol@{DOMAIN}")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("pw")
    assert e.value.args[0] == b"-ERR carol is suspended"
    with pytest.raises(poplib.error_proto) as e:
        p.stat()  # the login was undone
    assert b"not allowed before login" in e.value.args[0]
    # two failed passwords close the session
    p.user(f"ann@{DOMAIN}")
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong")
    p.user(f"ann@{DOMAIN}")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert e.value.args[0] == b"-ERR closing connection"
    with pytest.raises((poplib.error_proto, EOFError, ConnectionError, OSError)):
        p.noop()
    # carol's maildrop lock was released with the undone login: ann can log in
    p = poplib.POP3("127.0.0.1", pop_port, timeout=30)
    p.user(f"ann@{DOMAIN}")
    assert p.pass_("pw").startswith(b"+OK")
    p.quit()


def test_pop3_accept_failure(mailhooked):
    _, pop_port, _ = mailhooked
    with socket.create_connection(("127.0.0.1", pop_port), timeout=10, source_address=("127.0.0.4", 0)) as c:
        assert c.makefile("rb").read() == b"-ERR closing connection\r\n"


def test_imap_hooks(mailhooked):
    _, _, imap_port = mailhooked
    m = imaplib.IMAP4("127.0.0.1", imap_port, timeout=30)
    m.login(f"ann@{DOMAIN}", "pw")
    typ, data = m.select("Secret")
    assert (typ, data) == ("NO", [f"no secrets for ann@{DOMAIN}".encode()])
    typ, data = m.select("Later")
    assert typ == "NO" and data[0].startswith(b"[UNAVAILABLE]")
    assert m.select("INBOX")[0] == "OK"
    m.uid("FETCH", "1:*", "(FLAGS)")
    m.uid("FETCH", "1:*", "(UID)")
    m.uid("SEARCH", "ALL")
    assert m.noop() == ("OK", [b"uid fetches 2"])
    typ, data = m.xatom("XYZZY", "plugh")
    assert (typ, data) == ("OK", [b"answered by a script for XYZZY plugh"])
    m.logout()


def test_imap_after_login_undoes_and_guards(mailhooked):
    _, _, imap_port = mailhooked
    m = imaplib.IMAP4("127.0.0.1", imap_port, timeout=30)
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(f"carol@{DOMAIN}", "pw")
    assert "carol is suspended" in str(e.value)
    m.send(b"X1 SELECT INBOX\r\n")  # imaplib itself refuses: it knows it is not logged in
    assert m.readline() == b"X1 BAD Log in first\r\n"
    with pytest.raises(imaplib.IMAP4.error):
        m.login(f"ann@{DOMAIN}", "wrong")
    with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError)):
        m.login(f"ann@{DOMAIN}", "wrong")
    with socket.create_connection(("127.0.0.1", imap_port), timeout=10, source_address=("127.0.0.4", 0)) as c:
        assert c.makefile("rb").read() == b"* BYE go away\r\n"


# ---------------------------------------------------------------- tenants


def tenant_server(tmp_path):
    """tenant.lua loaded as tenant_a (a.test) and tenant_b (b.test)."""
    smtp_port, imap_port = free_port(), free_port()
    scripts = "".join(f"LoadScript {HERE}/tenant.lua tenant_{t}\nGrant tenant_{t} tenant {t}.test\n"
                      f"Grant tenant_{t} hook smtp imap4\n" for t in "ab")
    text = base_config(tmp_path, smtp_port, f"EnableIMAP4 1\nIMAP4Port {imap_port}\nEnableIMAPS 0\nEnablePOP3 0\n"
                       f"EnablePOP3S 0\n{scripts}")
    write_config(tmp_path / "rumble.conf", text)
    admin = [str(rumble_bin()), "--config", str(tmp_path / "rumble.conf")]
    for args in (["domain", "add", "a.test"], ["domain", "add", "b.test"],
                 ["account", "add", "ann@a.test", "--password", "pw"], ["account", "add", "bob@b.test", "--password", "pw"]):
        assert subprocess.run(admin + args, capture_output=True, timeout=60).returncode == 0
    return Server(tmp_path, text), smtp_port, imap_port


def test_tenant_hooks_see_only_their_domains(tmp_path):
    server, smtp_port, imap_port = tenant_server(tmp_path)
    try:
        with smtp(smtp_port) as s:
            s.sendmail("someone@example.net", ["ann@a.test", "bob@b.test"], b"Subject: both\r\n\r\nhi\r\n")
            s.sendmail("someone@example.net", ["ann@a.test"], b"Subject: ann only\r\n\r\nhi\r\n")
        wait_letters(tmp_path, "ann@a.test", 2)
        m = imaplib.IMAP4("127.0.0.1", imap_port, timeout=30)
        m.login("bob@b.test", "pw")
        m.select("INBOX")
        m.logout()
        server.wait_for_log(r"tenant_b: imap select by bob@b.test")
        log = server.log()
    finally:
        server.stop()
    a = [l.split("tenant_a: ", 1)[1] for l in log.splitlines() if "tenant_a: " in l]
    b = [l.split("tenant_b: ", 1)[1] for l in log.splitlines() if "tenant_b: " in l]
    assert "rcpt ann@a.test seen=" in a and "rcpt ann@a.test seen=" in a
    assert "rcpt bob@b.test seen=" in b
    # the mixed message: each sees only its own recipient, and may not change it
    assert "message to ann@a.test add=false" in a and "message to bob@b.test add=false" in b
    # the message for ann alone: only tenant a sees it, and may add its header
    assert "message to ann@a.test add=true" in a
    assert not any("b.test" in l for l in a if l.startswith(("rcpt", "message", "imap"))), a
    assert not any("a.test" in l for l in b if l.startswith(("rcpt", "message", "imap"))), b
    assert not any(l.startswith("imap") for l in a)  # bob's IMAP session is tenant b's
    for point in ("smtp accept", "smtp command mail", "smtp after *", "imap4 after login"):
        line = next(l for l in a if l.startswith(f"refused {point}:"))
        assert f"true {HERE}/tenant.lua:22: permission denied: hook {point} (a tenant's script" in line, line
        assert line.endswith('(script "tenant_a")'), line
    stored = [letter_bytes(tmp_path, l) for l in letters(tmp_path, "ann@a.test")]
    assert sum(b"X-Tenant: checked" in x for x in stored) == 1


def test_a_tenants_refusal_covers_only_its_recipients(tmp_path):
    server, smtp_port, _ = tenant_server(tmp_path)
    try:
        with smtp(smtp_port) as s:
            # tenant a refuses a message that also goes to b.test: b gets
            # it, the sender gets a bounce for ann alone
            assert s.sendmail("bob@b.test", ["ann@a.test", "bob@b.test"], b"Subject: refuse a.test\r\n\r\nhi\r\n") == {}
            wait_letters(tmp_path, "bob@b.test", 2)
            # every recipient's tenant refuses: the message is refused
            with pytest.raises(smtplib.SMTPDataError) as e:
                s.sendmail("bob@b.test", ["ann@a.test", "bob@b.test"], b"Subject: refuse all\r\n\r\nhi\r\n")
            assert (e.value.smtp_code, e.value.smtp_error) == (550, b"5.7.1 a.test refuses this")
            # a tenant's 451: its recipient waits for the next try
            assert s.sendmail("bob@b.test", ["ann@a.test", "bob@b.test"], b"Subject: defer a.test\r\n\r\nhi\r\n") == {}
        server.wait_for_log(r"to ann@a.test deferred \(attempt 1 of \d+\): 4\.7\.1 a\.test wants it later")
        wait_letters(tmp_path, "bob@b.test", 3)
        bob = sorted(letter_bytes(tmp_path, l) for l in letters(tmp_path, "bob@b.test"))
        bounces = [x for x in bob if b"multipart/report" in x]
        assert len(bounces) == 1, bob
        assert b"ann@a.test" in bounces[0] and b"a.test refuses this" in bounces[0]
        assert b"bob@b.test" not in bounces[0].split(b"message/delivery-status", 1)[1].split(b"\r\n\r\n--", 1)[0]
        plain = [x for x in bob if x not in bounces]
        assert sum(b"Subject: refuse a.test" in x for x in plain) == 1 and sum(b"Subject: defer a.test" in x for x in plain) == 1
        assert letters(tmp_path, "ann@a.test") == []
    finally:
        server.stop()


def test_original_blacklist_example_runs_unmodified(tmp_path):
    from fakes import FakeDNS
    port = free_port()
    with FakeDNS({"1.0.0.127.bl.example.org": {"A": ["127.0.0.2"]}}, ttl=0) as dns:
        text = base_config(tmp_path, port, f"DNSServer {dns.address}\nLoadScript {HERE}/blacklist.lua\n"
                           f"Grant blacklist hook smtp\nGrant blacklist dns\n")
        write_config(tmp_path / "rumble.conf", text)
        server = Server(tmp_path, text)
        try:
            server.wait_for_log("blacklist: Blacklist hook installed")
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                data = c.makefile("rb").read()
            assert data == b"You're blacklisted!\r\n421 4.7.0 hooks.test closing connection\r\n", data
            # 127.0.0.5 is not listed: greeted as usual
            with smtp(port, source="127.0.0.5") as s:
                assert s.ehlo("client.example.net")[0] == 250
        finally:
            server.stop()


# ---------------------------------------------------------------- deliver


def test_deliver_hooks_file_flag_discard_and_bounce(tmp_path):
    port = free_port()
    text = base_config(tmp_path, port, f"RetryInterval 1\nLoadScript {HERE}/deliver.lua\nGrant deliver hook mailman\n")
    setup_domain(tmp_path, text, accounts=("ann", "sender"))
    server = Server(tmp_path, text)
    try:
        with smtp(port) as s:
            for subject in ("junk offer", "discard me", "facts", "bounce me", "later please"):
                s.sendmail("sender@hooks.test", [f"ann@{DOMAIN}"], f"Subject: {subject}\r\n\r\nhi\r\n".encode())
        got = wait_letters(tmp_path, f"ann@{DOMAIN}", 2)
        by_folder = {l["folder"]: l for l in got}
        assert set(by_folder) == {"Junk", "INBOX"}, got
        # the INBOX letter is "facts"; "discard me" is nowhere
        assert b"Subject: facts" in letter_bytes(tmp_path, by_folder["INBOX"])
        server.wait_for_log(rf"deliver: deliver ann@{DOMAIN} uid=integer from=sender@hooks.test service=mailman rcpts=1")
        # the refusal bounced to the (local) sender with the hook's status
        bounce = letter_bytes(tmp_path, wait_letters(tmp_path, f"sender@{DOMAIN}", 1)[0])
        assert b"Status: 5.2.2" in bounce and b"mailbox full for ann@hooks.test" in bounce, bounce
        # "later" is deferred and retried
        server.wait_for_log(r"deferred \(attempt 2 of \d+\): 4\.7\.1 refused by a deliver hook")
    finally:
        server.stop()
    import imaplib as _imap
    # flags and keywords are there for IMAP clients
    server2 = Server(tmp_path, text.replace("EnableSubmission 0", "EnableSubmission 0\nEnableIMAP4 1\nIMAP4Port %d\nEnableIMAPS 0" % (imap_port := free_port())))
    try:
        m = _imap.IMAP4("127.0.0.1", imap_port, timeout=30)
        m.login(f"ann@{DOMAIN}", "pw")
        m.select("Junk")
        typ, data = m.fetch("1", "(FLAGS)")
        assert b"\\Flagged" in data[0] and b"$Junk" in data[0], data
        m.logout()
    finally:
        server2.stop()
