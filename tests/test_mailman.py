"""The mailman against a fake internet (FakeDNS + an aiosmtpd sink): MX
preference and fallback, IgnoreMX, relay accounts, aliases (with loops),
4xx retries until DeliveryAttempts, 5xx bounces as RFC 3464 reports, no
bounce to the null sender, and no double delivery across restarts."""

import email
import email.policy
import smtplib
import subprocess

import pytest

from conftest import Server, free_port, rumble_bin, write_config
from fakes import HAVE_OPENSSL, FakeDNS, SmtpSink, make_self_signed
from mailstore import letter_bytes, letters, queue, spool_files, wait_letters, wait_until


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    cert, key = make_self_signed(tmp_path_factory.mktemp("sink-tls")) if HAVE_OPENSSL else (None, None)
    sink = SmtpSink(tls_cert=cert, tls_key=key,
                    rules={"temp*": "451 4.3.0 Try again later", "nouser@far.test": "550 5.1.1 No such user"})
    records = {
        # the preferred MX (5) refuses connections; the next one (10) is the sink
        "far.test": {"MX": [(10, "mx1.far.test"), (5, "mx0.far.test")]},
        "mx0.far.test": {"A": ["127.0.0.3"]},
        "mx1.far.test": {"A": ["127.0.0.1"]},
        "plain.test": {"A": ["127.0.0.1"]},  # no MX: the A record is the host
        "ignored.test": {"MX": [(10, "mx.bogus.test")]},
        "mx.bogus.test": {"A": ["127.0.0.1"]},
        "nullmx.test": {"MX": [(0, ".")]},
    }
    with sink, FakeDNS(records, ttl=0) as dns:
        yield sink, dns


class Mailer:
    def __init__(self, folder, net, extra=""):
        sink, dns = net
        self.folder, self.sink, self.dns = folder, sink, dns
        self.port = free_port()
        self.config = (
            f"ServerName mx.example.org\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
            f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {self.port}\nEnableSubmission 0\nEnableSMTPS 0\n"
            f"DNSServer {dns.address}\nOutgoingSMTPPort {sink.port}\nRetryInterval 1\nDeliveryAttempts 3\n"
            f"IgnoreMX mx.bogus.test\nAllowPlaintextAuth 1\n" + extra)
        write_config(folder / "rumble.conf", self.config)
        self.server = None

    def admin(self, *args):
        cmd = [str(rumble_bin()), "--config", str(self.folder / "rumble.conf"), *args]
        subprocess.run(cmd, check=True, capture_output=True)

    def start(self):
        self.server = Server(self.folder, self.config)
        return self

    def send(self, sender, rcpts, body, login=True):
        """Submit as ann (authenticated, so other domains are relayed)."""
        with smtplib.SMTP("127.0.0.1", self.port) as s:
            if login:
                s.login("ann@example.org", "pw")
            return s.sendmail(sender, rcpts, body)


@pytest.fixture(scope="module")
def mailer(tmp_path_factory, net):
    m = Mailer(tmp_path_factory.mktemp("mailman"), net)
    m.admin("domain", "add", "example.org")
    m.admin("account", "add", "ann@example.org", "--password", "pw")
    m.admin("account", "add", "bob@example.org", "--password", "pw")
    m.admin("account", "add", "team@example.org", "--type", "alias", "--arg", "ann@example.org, bob@example.org friend@far.test")
    m.admin("account", "add", "ping@example.org", "--type", "alias", "--arg", "pong@example.org")
    m.admin("account", "add", "pong@example.org", "--type", "alias", "--arg", "ping@example.org")
    m.admin("account", "add", "out@example.org", "--type", "relay", "--arg", f"127.0.0.1:{net[0].port}")
    m.start()
    yield m
    m.server.stop()


def from_sink(sink, rcpt, count=1):
    def enough():
        got = [m for m in sink.messages if rcpt in m["rcpt_tos"]]
        return got if len(got) >= count else None
    return wait_until(enough, what=f"{count} message(s) for {rcpt} at the sink")


def report_of(raw):
    """The delivery-status part of a bounce, as a list of header blocks."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts][:2] == ["text/plain", "message/delivery-status"]
    return msg, parts


def test_remote_delivery_follows_mx_preference(mailer):
    mailer.dns.clear_queries()
    body = "Subject: mx\r\n\r\n.a leading dot\r\n..two\r\n.\r\nhi\r\n"
    assert mailer.send("ann@example.org", ["friend@far.test"], body) == {}
    got = from_sink(mailer.sink, "friend@far.test")[-1]
    assert got["mail_from"] == "ann@example.org"
    # dot-stuffed on the way in and on the way out: the sink sees the original lines
    assert got["data"].endswith(b"\r\n.a leading dot\r\n..two\r\n.\r\nhi\r\n"), got["data"]
    if HAVE_OPENSSL:
        assert got["tls"], "the sink offers STARTTLS; delivery should use it"
    asked = [q for q in mailer.dns.queries if q[0].startswith("mx")]
    assert asked and asked[0][0] == "mx0.far.test", mailer.dns.queries  # preference 5 first
    wait_until(lambda: not queue(mailer.folder), what="queue empty")


def test_no_mx_uses_the_address_record(mailer):
    mailer.send("ann@example.org", ["someone@plain.test"], "Subject: a\r\n\r\nx\r\n")
    from_sink(mailer.sink, "someone@plain.test")


def test_alias_expands_to_mailboxes_and_remote(mailer):
    ann = len(letters(mailer.folder, "ann@example.org"))
    bob = len(letters(mailer.folder, "bob@example.org"))
    before = len([m for m in mailer.sink.messages if "friend@far.test" in m["rcpt_tos"]])
    mailer.send("x@far.test", ["team@example.org"], "Subject: team\r\n\r\nall hands\r\n", login=False)
    wait_letters(mailer.folder, "ann@example.org", ann + 1)
    wait_letters(mailer.folder, "bob@example.org", bob + 1)
    from_sink(mailer.sink, "friend@far.test", before + 1)
    wait_until(lambda: not queue(mailer.folder), what="queue empty")


def test_relay_account_goes_to_its_smarthost(mailer):
    mailer.send("x@far.test", ["out@example.org"], "Subject: relay\r\n\r\nvia smarthost\r\n", login=False)
    got = from_sink(mailer.sink, "out@example.org")[-1]
    assert got["data"].endswith(b"via smarthost\r\n")


def test_permanent_failure_bounces_with_a_dsn(mailer):
    ann = len(letters(mailer.folder, "ann@example.org"))
    mailer.send("ann@example.org", ["nouser@far.test"], "Subject: lost\r\nMessage-ID: <lost@example.org>\r\n\r\nx\r\n")
    bounce = wait_letters(mailer.folder, "ann@example.org", ann + 1)[-1]
    raw = letter_bytes(mailer.folder, bounce)
    assert raw.startswith(b"Return-Path: <>\r\n"), raw[:100]
    msg, parts = report_of(raw.split(b"\r\n", 2)[2])
    assert msg["To"] == "<ann@example.org>" or "ann@example.org" in msg["To"]
    assert msg["Auto-Submitted"].startswith("auto-replied")
    status = parts[1].as_string()
    assert "Final-Recipient: rfc822; nouser@far.test" in status
    assert "Action: failed" in status and "Status: 5.1.1" in status
    assert "Diagnostic-Code: smtp; 550 5.1.1 No such user" in status
    assert "Reporting-MTA: dns; mx.example.org" in status
    assert b"Message-ID: <lost@example.org>" in parts[2].as_bytes()


def test_temporary_failures_retry_then_bounce(mailer):
    ann = len(letters(mailer.folder, "ann@example.org"))
    mailer.send("ann@example.org", ["temp1@far.test"], "Subject: later\r\n\r\nx\r\n")
    bounce = wait_letters(mailer.folder, "ann@example.org", ann + 1, timeout=20)[-1]
    assert mailer.sink.attempts.get("temp1@far.test") == 3  # DeliveryAttempts
    _, parts = report_of(letter_bytes(mailer.folder, bounce).split(b"\r\n", 2)[2])
    status = parts[1].as_string()
    assert "Final-Recipient: rfc822; temp1@far.test" in status and "Status: 4.3.0" in status
    wait_until(lambda: not queue(mailer.folder), what="queue empty")


def test_alias_loop_and_null_mx_bounce_locally(mailer):
    ann = len(letters(mailer.folder, "ann@example.org"))
    mailer.send("ann@example.org", ["ping@example.org"], "Subject: loop\r\n\r\nx\r\n")
    mailer.send("ann@example.org", ["a@nullmx.test"], "Subject: nullmx\r\n\r\nx\r\n")
    got = wait_letters(mailer.folder, "ann@example.org", ann + 2)[-2:]
    reports = [report_of(letter_bytes(mailer.folder, g).split(b"\r\n", 2)[2])[1][1].as_string() for g in got]
    assert any("ping@example.org" in r and "Status: 5.4.6" in r for r in reports), reports
    assert any("a@nullmx.test" in r and "Action: failed" in r for r in reports), reports


def test_null_sender_is_never_bounced(mailer):
    wait_until(lambda: not [r for r in queue(mailer.folder) if "ignored" not in r[2]], what="earlier mail settled")
    before = len(letters(mailer.folder))
    with smtplib.SMTP("127.0.0.1", mailer.port) as s:
        s.ehlo()
        s.mail("<>")
        assert s.rcpt("nouser@far.test")[0] == 554  # relaying is still refused
    # a bounce that fails downstream: queued through an alias to a dead address
    mailer.admin("account", "add", "fwd@example.org", "--type", "alias", "--arg", "nouser@far.test")
    mailer.send("", ["fwd@example.org"], "Subject: bounce\r\n\r\nx\r\n")
    wait_until(lambda: "from <> to nouser@far.test failed" in mailer.server.log(), what="failure logged")
    wait_until(lambda: not [r for r in queue(mailer.folder) if "ignored" not in r[2]], what="queue empty")
    assert len(letters(mailer.folder)) == before, "nothing may be sent back to <>"


def test_ignored_mx_defers(mailer):
    mailer.send("ann@example.org", ["z@ignored.test"], "Subject: ignored\r\n\r\nx\r\n")
    rows = wait_until(lambda: [r for r in queue(mailer.folder) if r[2] == "z@ignored.test" and r[4] >= 1],
                      what="a deferred row")
    assert "ignored" in rows[0][5].lower() or "mx" in rows[0][5].lower(), rows


def test_no_double_delivery_across_restarts(tmp_path, net):
    """A row that failed once is retried after a restart (clean or kill -9)
    and delivered exactly once."""
    sink, _ = net
    m = Mailer(tmp_path, net, "")
    m.admin("domain", "add", "example.org")
    m.admin("account", "add", "ann@example.org", "--password", "pw")
    m.start()
    try:
        sink.set_rules({"temp*": "451 4.3.0 Try again later"})
        m.send("ann@example.org", ["tempx@far.test", "once@far.test"], "Subject: restart\r\n\r\nx\r\n")
        from_sink(sink, "once@far.test")
        # SMTP's own window: a crash after the next hop's 250 but before our
        # commit sends the message again (as with Postfix). Kill after it.
        wait_until(lambda: all(r[2] != "once@far.test" for r in queue(tmp_path)), what="once@ settled")
        wait_until(lambda: sink.attempts.get("tempx@far.test", 0) >= 1, what="first attempt")
        m.server.proc.kill()  # kill -9 in the middle of the retries
        m.server.proc.wait()
        sink.set_rules({})
        m.start()
        wait_until(lambda: not queue(tmp_path), timeout=20, what="queue drained after restart")
        got = [x for x in sink.messages if "tempx@far.test" in x["rcpt_tos"]]
        assert len(got) == 1
        assert len([x for x in sink.messages if "once@far.test" in x["rcpt_tos"]]) == 1
        # The spool file goes right after the commit that empties the queue.
        wait_until(lambda: spool_files(tmp_path) == [], timeout=5, what="the spool file removed")
    finally:
        sink.set_rules({"temp*": "451 4.3.0 Try again later", "nouser@far.test": "550 5.1.1 No such user"})
        m.server.stop()


def test_mail_loops_are_cut_by_hop_count(mailer):
    """A message that already passed 50 relays is bounced, not sent on."""
    ann = len(letters(mailer.folder, "ann@example.org"))
    hops = "".join(f"Received: from hop{i}.test by hop{i + 1}.test; Tue, 24 Nov 2026 10:00:00 +0000\r\n" for i in range(50))
    mailer.send("ann@example.org", ["looping@far.test"], hops + "Subject: loop\r\n\r\nround and round\r\n")
    # other tests' bounces (the deferred ignored.test row) may land meanwhile: find ours
    def loop_report():
        for letter in letters(mailer.folder, "ann@example.org")[ann:]:
            raw = letter_bytes(mailer.folder, letter)
            if b"looping@far.test" in raw:
                return report_of(raw.split(b"\r\n", 2)[2])[1][1].as_string()
        return None
    status = wait_until(loop_report, what="the bounce for looping@far.test")
    assert "Status: 5.4.6" in status and "mail loop" in status
    assert not [m for m in mailer.sink.messages if "looping@far.test" in m["rcpt_tos"]]
