"""Submission with real clients (smtplib, swaks, raw sockets): STARTTLS on the
MX and submission ports, implicit TLS (SMTPS), AUTH PLAIN/LOGIN only under
TLS, relaying only for authenticated users (BlockOutgoingMail and the
domain no-relay flag honoured), BDAT/CHUNKING, RSET keeping AUTH."""

import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import Server, free_port, rumble_bin, write_config
from fakes import FakeDNS, SmtpSink
from mailstore import deliver, tls_context, new_spool_files, letter_bytes, queued_count, spool_files, wait_letters, wait_until




@pytest.fixture(scope="module")
def outside():
    """The rest of the internet: far.test's MX is a local sink."""
    with SmtpSink() as sink, FakeDNS({"far.test": {"MX": [(10, "mx.far.test")]},
                                      "mx.far.test": {"A": ["127.0.0.1"]}}) as dns:
        yield sink, dns


def make_server(folder, outside, extra=""):
    sink, dns = outside
    ports = {"mx": free_port(), "sub": free_port(), "smtps": free_port()}
    config = (
        f"ServerName mx.example.org\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
        f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {ports['mx']}\n"
        f"EnableSubmission 1\nSubmissionPort {ports['sub']}\nEnableSMTPS 1\nSMTPSPort {ports['smtps']}\n"
        f"MessageSizeLimit 100000\nDNSServer {dns.address}\nOutgoingSMTPPort {sink.port}\nRetryInterval 1\n"
        + extra
    )
    write_config(folder / "rumble.conf", config)
    admin = [str(rumble_bin()), "--config", str(folder / "rumble.conf")]
    for args in (["domain", "add", "example.org"], ["domain", "add", "quiet.example", "--no-relay"],
                 ["account", "add", "ann@example.org", "--password", "ann's secret"],
                 ["account", "add", "bob@example.org", "--password", "pw"],
                 ["account", "add", "q@quiet.example", "--password", "pw"],
                 ["account", "add", "sales@example.org", "--type", "alias", "--arg", "bob@example.org"]):
        subprocess.run(admin + args, check=True, capture_output=True)
    server = Server(folder, config)
    wait_until(lambda: "service smtps listening" in server.log(), what="smtps listening")
    return server, ports


@pytest.fixture(scope="module")
def srv(tmp_path_factory, outside):
    folder = tmp_path_factory.mktemp("submission")
    server, ports = make_server(folder, outside)
    yield server, ports, folder
    server.stop()


def test_starttls_then_auth_plain_and_relay(srv, outside):
    server, ports, folder = srv
    sink, _ = outside
    with smtplib.SMTP("127.0.0.1", ports["sub"]) as s:
        s.ehlo("client.example.net")
        assert s.has_extn("starttls") and not s.has_extn("auth")
        # AUTH before TLS: refused with 538
        code, msg = s.docmd("AUTH", "PLAIN AGFubgBwdw==")
        assert code == 538 and msg.startswith(b"5.7.11"), (code, msg)
        # MAIL before AUTH on the submission port: 530
        assert s.mail("ann@example.org")[0] == 530
        s.starttls(context=tls_context())
        s.ehlo("client.example.net")
        assert "PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"]
        assert not s.has_extn("starttls")
        s.login("ann@example.org", "ann's secret")
        refused = s.sendmail("ann@example.org", ["friend@far.test"], b"Subject: out\r\n\r\nto the world\r\n")
        assert refused == {}
    got = sink.wait_for(1)[-1]
    assert got["rcpt_tos"] == ["friend@far.test"] and got["mail_from"] == "ann@example.org"
    assert b"with ESMTPSA id" in got["data"], got["data"][:300]
    assert got["data"].endswith(b"to the world\r\n")
    assert "authenticated as ann@example.org" in server.log()
    assert "ann's secret" not in server.log()


def test_auth_login_and_bad_password(srv):
    _, ports, _ = srv
    with smtplib.SMTP("127.0.0.1", ports["sub"]) as s:
        s.starttls(context=tls_context())
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("ann@example.org", "wrong")
        assert e.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("nobody@example.org", "pw")
        s.user, s.password = "bob@example.org", "pw"
        code, msg = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235, msg
        # authentication survives RSET
        assert s.rset()[0] == 250
        assert s.mail("bob@example.org")[0] == 250
        assert s.docmd("AUTH", "PLAIN")[0] == 503  # not during a transaction
        s.rset()
        assert s.docmd("AUTH", "PLAIN")[0] == 503  # already authenticated


def test_implicit_tls_port(srv, outside):
    _, ports, folder = srv
    sink, _ = outside
    before = len(sink.messages)
    with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], context=tls_context()) as s:
        s.ehlo()
        assert not s.has_extn("starttls")
        assert s.mail("bob@example.org")[0] == 530
        s.rset()
        s.login("bob@example.org", "pw")
        assert s.sendmail("bob@example.org", ["ann@example.org", "x@far.test"], "Subject: both\r\n\r\nhi\r\n") == {}
    sink.wait_for(before + 1)
    letter = wait_letters(folder, "ann@example.org", 1)[-1]
    assert b"with ESMTPSA" in letter_bytes(folder, letter)


def test_open_relay_attempts_on_the_mx_port(srv):
    """Unauthenticated mail for other domains is refused however the address
    is dressed up; mail for our own users is fine without AUTH."""
    server, ports, folder = srv
    before = queued_count(server)
    tricks = ["friend@far.test", "<@example.org:friend@far.test>", "friend%far.test@example.org",
              '"friend@far.test"@example.org', "friend@far.test@example.org", "friend@[127.0.0.1]",
              "<friend@far.test.>"]
    with smtplib.SMTP("127.0.0.1", ports["mx"]) as s:
        s.ehlo("relay.tester")
        assert s.mail("ann@example.org")[0] == 250  # even with our own domain as sender
        for rcpt in tricks:
            code, msg = s.rcpt(rcpt)
            assert code >= 500, (rcpt, code, msg)
        s.rset()
        s.starttls(context=tls_context())
        s.ehlo("relay.tester")
        s.mail("ann@example.org")
        assert s.rcpt("friend@far.test")[0] == 554, "TLS alone does not allow relaying"
    assert queued_count(server) == before


def test_no_relay_domain_flag(srv):
    _, ports, _ = srv
    with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], context=tls_context()) as s:
        s.login("q@quiet.example", "pw")
        s.mail("q@quiet.example")
        code, msg = s.rcpt("friend@far.test")
        assert code == 550 and b"quiet.example" in msg
        assert s.rcpt("ann@example.org")[0] == 250  # local mail still flows


def test_block_outgoing_mail(tmp_path, outside):
    server, ports = make_server(tmp_path, outside, "BlockOutgoingMail 1\n")
    try:
        with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], context=tls_context()) as s:
            s.login("ann@example.org", "ann's secret")
            s.mail("ann@example.org")
            code, msg = s.rcpt("friend@far.test")
            assert code == 550 and msg.startswith(b"5.7.1"), msg
            assert s.rcpt("bob@example.org")[0] == 250
    finally:
        server.stop()


def bdat_session(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    s.sendall(b"EHLO chunky.example.net\r\n")
    lines = []
    while True:
        line = f.readline()
        lines.append(line)
        if line.startswith(b"250 "):
            break
    assert b"250-CHUNKING\r\n" in lines
    return s, f


def test_bdat_chunks(srv):
    _, ports, folder = srv
    n = len(wait_letters(folder, "bob@example.org", 0))
    s, f = bdat_session(ports["mx"])
    first = b"Subject: chunks\r\n\r\n.a line with a dot stays as is\r\n"
    second = b"binary-ish \x00\xff bytes and a final line\r\n"
    s.sendall(b"MAIL FROM:<c@example.net>\r\nRCPT TO:<bob@example.org>\r\n"
              b"BDAT %d\r\n" % len(first) + first + b"BDAT %d LAST\r\n" % len(second) + second)
    replies = [f.readline() for _ in range(4)]
    assert [r[:3] for r in replies] == [b"250"] * 4, replies
    assert replies[2].startswith(b"250 2.0.0 %d octets" % len(first))
    assert replies[3].startswith(b"250 2.0.0 OK queued as ")
    # BDAT outside a transaction: its bytes are still read, then refused
    s.sendall(b"BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n")
    assert f.readline().startswith(b"503 5.5.1")
    assert f.readline().startswith(b"250 2.0.0")  # "QUIT\r\n" was chunk data; NOOP answers
    s.close()
    letter = wait_letters(folder, "bob@example.org", n + 1)[-1]
    assert letter_bytes(folder, letter).endswith(first + second)


def test_bdat_size_limit_and_mixing(srv):
    server, ports, folder = srv
    files = spool_files(folder)
    before = queued_count(server)
    s, f = bdat_session(ports["mx"])
    big = b"x" * 60000
    s.sendall(b"MAIL FROM:<c@example.net>\r\nRCPT TO:<bob@example.org>\r\n"
              b"BDAT 60000\r\n" + big + b"BDAT 60000 LAST\r\n" + big)
    replies = [f.readline() for _ in range(4)]
    assert replies[2].startswith(b"250")
    assert replies[3].startswith(b"552 5.3.4"), replies
    s.sendall(b"MAIL FROM:<c@example.net>\r\nRCPT TO:<bob@example.org>\r\nBDAT 3\r\nabcDATA\r\n")
    replies = [f.readline() for _ in range(4)]
    assert replies[3].startswith(b"503 5.5.1"), replies  # no DATA after BDAT
    s.sendall(b"RSET\r\nQUIT\r\n")
    assert f.readline().startswith(b"250")
    s.close()
    wait_until(lambda: new_spool_files(folder, files) == [], what="refused chunks removed")
    assert queued_count(server) == before


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks not installed")
def test_swaks_starttls_auth_pipelining(srv):
    _, ports, folder = srv
    n = len(wait_letters(folder, "bob@example.org", 0))
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{ports['sub']}", "--tls", "--auth", "PLAIN",
         "--auth-user", "ann@example.org", "--auth-password", "ann's secret", "--pipeline",
         "--from", "ann@example.org", "--to", "bob@example.org", "--header", "Subject: swaks",
         "--body", "8-bit body: d\u00e9j\u00e0 vu"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "TLS started" in out.stdout and "235 2.7.0" in out.stdout
    letter = wait_letters(folder, "bob@example.org", n + 1)[-1]
    assert "déjà vu".encode() in letter_bytes(folder, letter)


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks not installed")
def test_swaks_auth_login_on_smtps_and_smtputf8(srv, outside):
    _, ports, folder = srv
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{ports['smtps']}", "--tlsc", "--auth", "LOGIN",
         "--auth-user", "bob@example.org", "--auth-password", "pw",
         "--from", "bob@example.org", "--to", "ann@example.org", "--header", "Subject: login"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "334 VXNlcm5hbWU6" in out.stdout
    # an SMTPUTF8 address on a UTF-8 transaction, relayed to the sink
    sink, _ = outside
    before = len(sink.messages)
    with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], context=tls_context()) as s:
        s.login("bob@example.org", "pw")
        s.ehlo()
        assert s.sendmail("bob@example.org", ["jos\u00e9@far.test"], "Subject: utf8\r\n\r\nol\u00e1\r\n".encode(),
                          mail_options=["SMTPUTF8", "BODY=8BITMIME"]) == {}
    got = sink.wait_for(before + 1)[-1]
    assert got["rcpt_tos"] == ["jos\u00e9@far.test"]
    assert "SMTPUTF8" in got["mail_options"]



@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
@pytest.mark.parametrize("url,tls_flag", [("smtp://127.0.0.1:{sub}", "--ssl-reqd"), ("smtps://127.0.0.1:{smtps}", None)])
def test_curl_submits_over_tls_with_auth(srv, tmp_path, url, tls_flag):
    _, ports, folder = srv
    n = len(wait_letters(folder, "bob@example.org", 0))
    message = tmp_path / "msg.eml"
    message.write_bytes(b"From: ann@example.org\r\nTo: bob@example.org\r\nSubject: curl\r\n\r\nsent by curl\r\n")
    cmd = ["curl", "-sS", "--insecure", "--url", url.format(**ports), "--mail-from", "ann@example.org",
           "--mail-rcpt", "bob@example.org", "--user", "ann@example.org:ann's secret", "--upload-file", str(message)]
    if tls_flag:
        cmd.append(tls_flag)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    letter = wait_letters(folder, "bob@example.org", n + 1)[-1]
    assert letter_bytes(folder, letter).endswith(b"sent by curl\r\n")


def test_authenticated_senders_only_send_as_themselves(srv, outside):
    """EnforceSenderLogin (on by default): a tenant cannot send as another."""
    server, ports, _ = srv
    with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], context=tls_context()) as s:
        s.login("bob@example.org", "pw")
        code, msg = s.mail("ann@example.org")
        assert code == 553 and msg.startswith(b"5.7.1"), (code, msg)
        assert s.mail("q@quiet.example")[0] == 553
        assert s.mail("sales@example.org")[0] == 250  # an alias that reaches bob
        s.rset()
        assert s.mail("Bob@Example.org")[0] == 250
        s.rset()
        assert s.mail("<>")[0] == 250
    assert "bob@example.org tried to send as <ann@example.org>" in server.log()
