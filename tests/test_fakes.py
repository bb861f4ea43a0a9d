"""Prove the test doubles in fakes.py behave, using only stdlib clients.

Outbound-delivery tests trust FakeDNS and SmtpSink to behave like real peers;
if a fake were wrong those tests would pass or fail for the wrong reason.
The DNS client here is written independently of fakes.py (its own encoder
and decoder) so the fake is not checked against itself.
"""

import ipaddress
import shutil
import smtplib
import socket
import ssl
import struct
import subprocess
import threading

import pytest

from conftest import free_port
from fakes import HAVE_OPENSSL, FakeDNS, SmtpSink, make_self_signed

# ---------------------------------------------------------------------------
# A minimal DNS client
# ---------------------------------------------------------------------------

QTYPE = {"A": 1, "MX": 15, "TXT": 16, "AAAA": 28}
NOERROR, SERVFAIL, NXDOMAIN, FORMERR = 0, 2, 3, 1
FLAG_QR, FLAG_AA, FLAG_TC = 0x8000, 0x0400, 0x0200

RECORDS = {
    "example.test": {"MX": [(10, "mx1.example.test"), (5, "mx0.example.test")], "A": ["127.0.0.1"]},
    "mx0.example.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
    "nullmx.test": {"MX": [(0, ".")]},
    "_dmarc.example.test": {"TXT": ["v=DMARC1; p=reject"]},
}


def wire_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".") if l) + b"\0"


def build_query(name, qtype, qid=0x1234, edns=False):
    """A standard recursive query; with edns, an OPT record offering 4096
    bytes, the way hickory-resolver asks."""
    header = struct.pack("!6H", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    question = wire_name(name) + struct.pack("!HH", QTYPE[qtype], 1)
    opt = b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0) if edns else b""
    return header + question + opt


def read_name(msg, offset):
    """Decode a name (following compression pointers); returns (name, next offset)."""
    labels, end = [], None
    while True:
        length = msg[offset]
        if length >= 0xC0:
            end = offset + 2 if end is None else end
            offset = ((length & 0x3F) << 8) | msg[offset + 1]
            continue
        offset += 1
        if length == 0:
            return ".".join(labels) or ".", (end if end is not None else offset)
        labels.append(msg[offset:offset + length].decode())
        offset += length


def parse_response(msg):
    qid, flags, qd, an, ns, ar = struct.unpack_from("!6H", msg)
    offset, questions, answers = 12, [], []
    for _ in range(qd):
        name, offset = read_name(msg, offset)
        questions.append((name, *struct.unpack_from("!HH", msg, offset)))
        offset += 4
    for _ in range(an):
        name, offset = read_name(msg, offset)
        rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", msg, offset)
        offset += 10
        rdata = msg[offset:offset + rdlen]
        if rtype == QTYPE["MX"]:
            value = (struct.unpack_from("!H", rdata)[0], read_name(msg, offset + 2)[0])
        elif rtype in (QTYPE["A"], QTYPE["AAAA"]):
            value = str(ipaddress.ip_address(rdata))
        elif rtype == QTYPE["TXT"]:
            value = rdata[1:1 + rdata[0]].decode()
        else:
            value = rdata
        answers.append({"name": name, "type": rtype, "class": rclass, "ttl": ttl, "value": value})
        offset += rdlen
    return {"id": qid, "flags": flags, "rcode": flags & 0xF, "questions": questions, "answers": answers}


def ask_udp(port, query, timeout=2.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(query, ("127.0.0.1", port))
        return s.recv(65535)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def ask_tcp(port, *queries, timeout=2.0):
    """Send all queries on one connection (as hickory may) and read the replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        replies = []
        for query in queries:
            s.sendall(struct.pack("!H", len(query)) + query)
            (length,) = struct.unpack("!H", recv_exact(s, 2))
            replies.append(recv_exact(s, length))
        return replies


def lookup(dns, name, qtype, tcp=False, **kw):
    query = build_query(name, qtype, **kw)
    raw = ask_tcp(dns.port, query)[0] if tcp else ask_udp(dns.port, query)
    return parse_response(raw)


@pytest.fixture
def dns():
    with FakeDNS(RECORDS) as server:
        yield server


# ---------------------------------------------------------------------------
# FakeDNS
# ---------------------------------------------------------------------------

def test_mx_over_udp_has_both_exchanges_and_authoritative_header(dns):
    reply = lookup(dns, "example.test", "MX", qid=0xBEEF)
    assert reply["id"] == 0xBEEF
    assert reply["flags"] & FLAG_QR and reply["flags"] & FLAG_AA
    assert reply["rcode"] == NOERROR
    assert reply["questions"] == [("example.test", QTYPE["MX"], 1)]
    assert sorted(a["value"] for a in reply["answers"]) == [(5, "mx0.example.test"), (10, "mx1.example.test")]
    assert all(a["ttl"] == 60 and a["name"] == "example.test" for a in reply["answers"])
    assert dns.address == f"127.0.0.1:{dns.port}"


def test_a_and_aaaa_over_tcp_on_one_connection(dns):
    a, aaaa = ask_tcp(dns.port, build_query("mx0.example.test", "A"), build_query("mx0.example.test", "AAAA"))
    assert [x["value"] for x in parse_response(a)["answers"]] == ["127.0.0.1"]
    assert [x["value"] for x in parse_response(aaaa)["answers"]] == ["::1"]


def test_null_mx_and_txt(dns):
    assert [a["value"] for a in lookup(dns, "nullmx.test", "MX")["answers"]] == [(0, ".")]
    assert [a["value"] for a in lookup(dns, "_dmarc.example.test", "TXT")["answers"]] == ["v=DMARC1; p=reject"]


def test_unknown_name_is_nxdomain_and_missing_type_is_nodata(dns):
    nx = lookup(dns, "nowhere.test", "MX")
    assert nx["rcode"] == NXDOMAIN and nx["answers"] == []
    nodata = lookup(dns, "nullmx.test", "A", tcp=True)
    assert nodata["rcode"] == NOERROR and nodata["answers"] == []
    assert nodata["questions"] == [("nullmx.test", QTYPE["A"], 1)]


def test_names_are_case_insensitive_and_queries_are_recorded(dns):
    reply = lookup(dns, "MX0.Example.TEST.", "A")
    assert [a["value"] for a in reply["answers"]] == ["127.0.0.1"]
    assert reply["questions"][0][0] == "MX0.Example.TEST"  # question echoed as asked
    assert dns.queries == [("mx0.example.test", "A")]


def test_fail_gives_servfail_until_restored(dns):
    dns.fail("Example.test.")
    assert lookup(dns, "example.test", "MX")["rcode"] == SERVFAIL
    assert lookup(dns, "example.test", "A", tcp=True)["rcode"] == SERVFAIL
    dns.restore("example.test")
    assert lookup(dns, "example.test", "MX")["rcode"] == NOERROR


def test_set_and_remove_while_running(dns):
    dns.set("new.test", "MX", [(20, "mx.new.test")])
    assert [a["value"] for a in lookup(dns, "new.test", "MX")["answers"]] == [(20, "mx.new.test")]
    dns.set("example.test", "A", ["192.0.2.7", "192.0.2.8"])
    assert [a["value"] for a in lookup(dns, "example.test", "A")["answers"]] == ["192.0.2.7", "192.0.2.8"]
    dns.set("example.test", "MX", None)
    assert lookup(dns, "example.test", "MX")["answers"] == []
    dns.remove("new.test")
    assert lookup(dns, "new.test", "MX")["rcode"] == NXDOMAIN
    with pytest.raises(ValueError):
        dns.set("bad.test", "A", ["not-an-ip"])


def test_edns_and_compressed_names_in_query_are_tolerated(dns):
    # An additional record whose owner is a compression pointer to the
    # question name, then an OPT record: both must be parsed past, not choked on.
    header = struct.pack("!6H", 7, 0x0100, 1, 0, 0, 2)
    question = wire_name("example.test") + struct.pack("!HH", QTYPE["MX"], 1)
    pointed = struct.pack("!HHHIH", 0xC00C, QTYPE["A"], 1, 0, 4) + bytes([192, 0, 2, 1])
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
    reply = parse_response(ask_udp(dns.port, header + question + pointed + opt))
    assert reply["rcode"] == NOERROR and len(reply["answers"]) == 2


def test_malformed_query_gets_formerr_and_server_survives(dns):
    looping = struct.pack("!6H", 9, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    reply = parse_response(ask_udp(dns.port, looping))
    assert reply["id"] == 9 and reply["rcode"] == FORMERR
    assert lookup(dns, "example.test", "A")["rcode"] == NOERROR


def test_large_udp_answer_is_truncated_unless_edns_or_tcp(dns):
    many = [f"10.0.{i // 250}.{i % 250}" for i in range(60)]  # ~1 KB of answers
    dns.set("big.test", "A", many)
    plain = lookup(dns, "big.test", "A")
    assert plain["flags"] & FLAG_TC and plain["answers"] == []
    assert len(lookup(dns, "big.test", "A", edns=True)["answers"]) == 60
    assert len(lookup(dns, "big.test", "A", tcp=True)["answers"]) == 60


def test_stop_releases_the_port():
    server = FakeDNS(RECORDS).start()
    port = server.port
    server.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed")
def test_dig_understands_the_answers(dns):
    out = subprocess.run(
        ["dig", "+short", "+time=2", "+tries=1", "-p", str(dns.port), "@127.0.0.1", "example.test", "MX"],
        capture_output=True, text=True, timeout=10, check=True,
    ).stdout
    assert sorted(out.split("\n")) == ["", "10 mx1.example.test.", "5 mx0.example.test."]


# ---------------------------------------------------------------------------
# SmtpSink
# ---------------------------------------------------------------------------

RULES = {"temp*": "451 4.3.0 Try again later", "nouser@remote.test": "550 5.1.1 No such user"}
MESSAGE = b"From: a@sender.test\r\nTo: ok@remote.test\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture
def sink():
    with SmtpSink(rules=RULES) as server:
        yield server


def test_rules_give_250_451_550_per_recipient(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, local_hostname="client.test", timeout=5) as client:
        refused = client.sendmail(
            "a@sender.test", ["ok@remote.test", "temporary@remote.test", "NoUser@remote.test"], MESSAGE)
    assert refused == {
        "temporary@remote.test": (451, b"4.3.0 Try again later"),
        "NoUser@remote.test": (550, b"5.1.1 No such user"),
    }
    [msg] = sink.wait_for(1)
    assert msg["mail_from"] == "a@sender.test"
    assert msg["rcpt_tos"] == ["ok@remote.test"]
    assert msg["data"] == MESSAGE
    assert msg["helo"] == "client.test" and msg["tls"] is False
    assert sink.attempts == {"ok@remote.test": 1, "temporary@remote.test": 1, "nouser@remote.test": 1}


def test_all_recipients_refused_raises_and_records_nothing(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            client.sendmail("a@sender.test", ["temp1@remote.test"], MESSAGE)
    assert caught.value.recipients == {"temp1@remote.test": (451, b"4.3.0 Try again later")}
    assert sink.messages == []


def test_set_rules_while_running_and_attempts_count_retries(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("a@sender.test", ["temp@remote.test"], MESSAGE)
        sink.set_rules({})
        assert client.sendmail("a@sender.test", ["temp@remote.test"], MESSAGE) == {}
    assert sink.attempts == {"temp@remote.test": 2}
    assert [m["rcpt_tos"] for m in sink.wait_for(1)] == [["temp@remote.test"]]


def test_data_reply_refuses_the_message(sink):
    sink.set_data_reply("452 4.3.1 Out of storage")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.sendmail("a@sender.test", ["ok@remote.test"], MESSAGE)
        assert caught.value.smtp_code == 452
        assert sink.messages == []
        sink.set_data_reply(None)
        client.sendmail("a@sender.test", ["ok@remote.test"], MESSAGE)
    assert len(sink.wait_for(1)) == 1


def test_advertises_8bitmime_and_smtputf8_and_takes_utf8_addresses(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
        client.ehlo("client.test")
        assert client.has_extn("8bitmime") and client.has_extn("smtputf8")
        assert not client.has_extn("starttls")
        body = "Subject: caf\u00e9\r\n\r\nna\u00efve\r\n".encode()
        client.sendmail("s\u00e9nder@sender.test", ["j\u00fcrgen@remote.test"], body,
                        mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [msg] = sink.wait_for(1)
    assert msg["mail_from"] == "s\u00e9nder@sender.test"
    assert msg["rcpt_tos"] == ["j\u00fcrgen@remote.test"]
    assert msg["data"] == body
    assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(msg["mail_options"])  # smtplib adds SIZE=


def test_dot_stuffed_lines_arrive_unstuffed(sink):
    """Spoken over a raw socket so the bytes on the wire are exactly ours."""
    with socket.create_connection(("127.0.0.1", sink.port), timeout=5) as s:
        replies = s.makefile("rb")

        def say(line):
            s.sendall(line)
            while True:
                reply = replies.readline()
                if reply[3:4] != b"-":
                    return reply

        assert replies.readline().startswith(b"220")
        assert say(b"HELO raw.test\r\n").startswith(b"250")
        assert say(b"MAIL FROM:<a@sender.test>\r\n").startswith(b"250")
        assert say(b"RCPT TO:<ok@remote.test>\r\n").startswith(b"250")
        assert say(b"DATA\r\n").startswith(b"354")
        assert say(b"Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n..\r\nend\r\n.\r\n").startswith(b"250")
        say(b"QUIT\r\n")
    [msg] = sink.wait_for(1)
    assert msg["data"] == b"Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\nend\r\n"
    assert msg["helo"] == "raw.test"


@pytest.mark.skipif(not HAVE_OPENSSL, reason="the openssl command is not installed")
def test_starttls_is_offered_and_recorded(tmp_path):
    cert, key = make_self_signed(tmp_path)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with SmtpSink(tls_cert=cert, tls_key=key) as tls_sink:
        with smtplib.SMTP("127.0.0.1", tls_sink.port, timeout=5) as client:
            client.ehlo("client.test")
            assert client.has_extn("starttls")
            client.starttls(context=context)
            client.ehlo("client.test")
            client.sendmail("a@sender.test", ["ok@remote.test"], MESSAGE)
        [msg] = tls_sink.wait_for(1)
    assert msg["tls"] is True


def test_wait_for_returns_when_a_message_arrives_from_another_thread(sink):
    def send():
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
            client.sendmail("a@sender.test", ["ok@remote.test"], MESSAGE)

    sender = threading.Thread(target=send)
    sender.start()
    assert len(sink.wait_for(1, timeout=5)) == 1
    sender.join()


def test_wait_for_times_out_with_what_arrived(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
        client.sendmail("a@sender.test", ["ok@remote.test"], MESSAGE)
    with pytest.raises(AssertionError, match=r"wanted 2 .* got 1: \[\('a@sender.test', \['ok@remote.test'\]\)\]"):
        sink.wait_for(2, timeout=0.2)


def test_explicit_port():
    port = free_port()
    with SmtpSink(port=port) as fixed:
        assert fixed.port == port
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            assert client.noop()[0] == 250
