"""`session:receive`, `receivebytes`, `lock` and `unlock` in hooks, end to
end: a script serves commands of its own on SMTP, POP3 and IMAP by talking
with the client, reads from the protocol's own buffer (pipelined lines),
holds the service-wide lock across a read, stops at the per-call read limit,
and at close has no client to read from."""

import socket
import time

import pytest

from conftest import Server, free_port
from test_lua_hooks import DOMAIN, HERE, base_config, setup_domain


@pytest.fixture(scope="module")
def conversing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("converse")
    smtp_port, pop_port, imap_port, ctl_port = free_port(), free_port(), free_port(), free_port()
    text = base_config(folder, smtp_port,
                       f"EnablePOP3 1\nPOP3Port {pop_port}\nEnablePOP3S 0\nEnableIMAP4 1\nIMAP4Port {imap_port}\n"
                       f"EnableIMAPS 0\nConversePort {ctl_port}\n"
                       f"LoadScript {HERE}/converse.lua\nGrant converse hook smtp pop3 imap4\n"
                       f"Grant converse listen {ctl_port}\nGrant converse config.read converseport\n"
                       f"ScriptLimit converse hook-wait 1s\nScriptLimit converse instances 4\n")
    setup_domain(folder, text)
    server = Server(folder, text)
    yield server, smtp_port, pop_port, imap_port, ctl_port
    server.stop()


class Raw:
    """A line-level client: exact lines in and out."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        return self.file.readline().rstrip(b"\r\n")

    def close(self):
        self.sock.close()


def smtp_client(port):
    c = Raw(port)
    assert c.line().startswith(b"220")
    c.send(b"EHLO client.test\r\n")
    while True:
        line = c.line()
        assert line.startswith(b"250"), line
        if line.startswith(b"250 "):
            break
    return c


def test_smtp_hook_reads_the_next_line_even_when_pipelined(conversing):
    _, smtp_port, *_ = conversing
    c = smtp_client(smtp_port)
    # The answer and the next command arrive with the challenge: the hook
    # reads its line from the session's buffer; NOOP then runs as usual.
    c.send(b"XCHAL please\r\nmy answer\r\nNOOP\r\n")
    assert c.line() == b"334 go on"
    assert c.line() == b"250 got [my answer] 9"
    assert c.line().startswith(b"250 ")
    c.send(b"XBYTES\r\n")
    assert c.line() == b"334 five bytes"
    c.send(b"ab")
    time.sleep(0.2)
    c.send(b"cde")
    assert c.line() == b"250 2.0.0 bytes [abcde]"
    c.send(b"QUIT\r\n")
    assert c.line().startswith(b"221")
    c.close()


def test_service_lock_is_shared_and_released_when_the_hook_returns(conversing):
    _, smtp_port, *_ = conversing
    a, b = smtp_client(smtp_port), smtp_client(smtp_port)
    a.send(b"XLOCK\r\n")
    assert a.line() == b"334 locked"
    # a's hook holds the lock while it waits for a's line: b's hook gives
    # up after its hook-wait (1 s).
    b.send(b"XLOCK\r\n")
    assert b.line() == b"451 4.0.0 lock timeout"
    a.send(b"done\r\n")
    assert a.line() == b"250 2.0.0 released"
    b.send(b"XLOCK\r\n")
    assert b.line() == b"334 locked"
    b.send(b"done\r\n")
    assert b.line() == b"250 2.0.0 released"
    for c in (a, b):
        c.send(b"NOOP\r\n")
        assert c.line().startswith(b"250")
        c.close()


def test_one_hook_call_reads_at_most_64_kib(conversing):
    _, smtp_port, *_ = conversing
    c = smtp_client(smtp_port)
    c.send(b"XFLOOD\r\n")
    assert c.line() == b"334 flood me"
    # 65 lines of 1002 bytes fit in 64 KiB; the 66th does not, and is
    # consumed whole, so the session stays in step.
    c.send((b"x" * 1000 + b"\r\n") * 66 + b"NOOP\r\n")
    assert c.line() == b"250 2.0.0 stopped: line too long after 65"
    assert c.line().startswith(b"250 ")
    c.close()


def test_pop3_and_imap_hooks_serve_their_own_commands(conversing):
    _, _, pop_port, imap_port, _ = conversing
    p = Raw(pop_port)
    assert p.line().startswith(b"+OK")
    p.send(b"XCHAL one two\r\n")
    assert p.line() == b"+OK go on"
    p.send(b"reply\r\n")
    assert p.line() == b"+OK got [reply] for [XCHAL one two]"
    p.send(b"CAPA\r\n")
    assert p.line().startswith(b"+OK")
    p.close()
    m = Raw(imap_port)
    assert m.line().startswith(b"* OK")
    m.send(b"a1 XCHAL three\r\n")
    assert m.line() == b"+ go on"
    m.send(b"reply\r\n")
    assert m.line() == b"a1 OK got [reply] for [XCHAL three]"
    m.send(b"a2 NOOP\r\n")
    assert m.line().startswith(b"a2 OK")
    m.close()


def test_close_hooks_have_no_client_to_read(conversing):
    _, smtp_port, _, _, ctl_port = conversing
    c = smtp_client(smtp_port)
    c.send(b"QUIT\r\n")
    assert c.line().startswith(b"221")
    c.close()
    deadline = time.time() + 10
    while True:
        with socket.create_connection(("127.0.0.1", ctl_port), timeout=10) as s:
            seen = s.makefile("rb").readline()
        if seen != b"none\r\n" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert seen == b"closed 0\r\n"
