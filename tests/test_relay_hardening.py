"""Relaying and local delivery under pressure (issue 9, items 16-22): mail
our own disk could not take stays queued instead of bouncing, relayed text
is made safe for the next hop (CRLF line ends, lines of at most 998
octets), BODY=8BITMIME and SMTPUTF8 follow what the message really holds,
and what the SMTP side says and logs names its subject.

Every test runs the real `rumble` binary; the next hop is an aiosmtpd sink
(tests/fakes.py), bounces reach it through a fake DNS."""

import email
import email.policy
import re
import smtplib
import socket
import subprocess

import pytest

from conftest import Server, free_port, rumble_bin
from fakes import FakeDNS, SmtpSink
from mailstore import letter_bytes, letters, queue, tls_context, wait_letters, wait_until


@pytest.fixture(scope="module")
def net():
    """The next hop (with SMTPUTF8), an older one without it, and DNS that
    sends far.test (where bounces go) to the first."""
    sink, old = SmtpSink(), SmtpSink(smtputf8=False, hostname="old.test")
    with sink, old, FakeDNS({"far.test": {"A": ["127.0.0.1"]}}, ttl=0) as dns:
        yield sink, old, dns


class Rumble:
    """A server in `folder` whose mailman delivers to the sink's port."""

    def __init__(self, folder, net, extra=""):
        sink, _, dns = net
        self.folder, self.port = folder, free_port()
        self.config = (
            f"ServerName mx.example.org\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
            f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {self.port}\nEnableSubmission 0\nEnableSMTPS 0\n"
            f"DNSServer {dns.address}\nOutgoingSMTPPort {sink.port}\nRetryInterval 1\nDeliveryAttempts 2\n" + extra)
        (folder / "rumble.conf").write_text(self.config)
        self.server = None

    def admin(self, *args):
        subprocess.run([str(rumble_bin()), "--config", str(self.folder / "rumble.conf"), *args],
                       check=True, capture_output=True)

    def start(self):
        self.server = Server(self.folder, self.config)
        return self

    def send(self, sender, rcpts, body, **options):
        with smtplib.SMTP("127.0.0.1", self.port) as s:
            return s.sendmail(sender, rcpts, body, **options)

    def log(self):
        return self.server.log()


@pytest.fixture(scope="module")
def relay(tmp_path_factory, net):
    sink, old, _ = net
    r = Rumble(tmp_path_factory.mktemp("relay"), net)
    r.admin("domain", "add", "example.org")
    r.admin("account", "add", "ann@example.org", "--password", "pw")
    r.admin("account", "add", "out@example.org", "--type", "relay", "--arg", f"127.0.0.1:{sink.port}")
    r.admin("account", "add", "old@example.org", "--type", "relay", "--arg", f"127.0.0.1:{old.port}")
    r.start()
    yield r
    r.server.stop()


def raw_session(port, lines):
    """Send `lines` (bytes, CRLF added) and return every reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        s.sendall(b"".join(line + b"\r\n" for line in lines))
        return [l.rstrip(b"\r\n").decode() for l in f]


def at_sink(sink, predicate, what, timeout=20):
    return wait_until(lambda: [m for m in sink.messages if predicate(m)], timeout=timeout, what=what)


def bounces_to(sink, address):
    return [m for m in sink.messages if m["mail_from"] in ("", "<>") and address in m["rcpt_tos"]]


def status_of(bounce):
    """The message/delivery-status part of a bounce, as text."""
    msg = email.message_from_bytes(bounce["data"], policy=email.policy.compat32)
    return msg.get_payload()[1].as_string()


# -- 18: closing a session for errors is logged ----------------------------------

def test_too_many_errors_are_logged(relay):
    got = raw_session(relay.port, [b"BOGUS"] * 10)
    assert got[-1].startswith("421 4.7.0"), got
    relay.server.wait_for_log(r"WARN.*127\.0\.0\.1: 10 bad commands; session closed")


# -- 22: wording, Received with TLS, 550 naming the address ------------------------

def test_self_signed_certificate_warning_reads_well(relay):
    log = relay.log()
    assert "one clients trust" not in log
    assert re.search(r"self-signed certificate.*clients will not trust it; set TLSCertificate and TLSKey", log), log


def test_received_names_the_tls_version_and_cipher(relay):
    before = len(letters(relay.folder, "ann@example.org"))
    with smtplib.SMTP("127.0.0.1", relay.port) as s:
        s.starttls(context=tls_context())
        s.sendmail("x@far.test", ["ann@example.org"], "Subject: tls\r\n\r\nsecret\r\n")
    raw = letter_bytes(relay.folder, wait_letters(relay.folder, "ann@example.org", before + 1)[-1])
    received = raw.split(b"\r\n\r\n")[0].split(b"Received: ")[1]
    assert re.search(rb"\(using TLSv1\.[23] with cipher TLS_[A-Z0-9_]+\)\r\n\tby mx\.example\.org \(Rumble\) with ESMTPS ",
                     received), received


def test_unknown_recipient_reply_names_the_address(relay):
    got = raw_session(relay.port, [b"EHLO client.test", b"MAIL FROM:<x@far.test>", b"RCPT TO:<Nobody@example.org>",
                                   b"QUIT"])
    assert "550 5.1.1 <Nobody@example.org>: Recipient address rejected: User unknown" in got, got
