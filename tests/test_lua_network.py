"""`network.getHostByName`, `getMX` and `getTXT` against FakeDNS (the
server's resolver honours `DNSServer`): answers, Rumble's implicit MX, every
failure an empty answer (Rumble crashed), bad arguments, the `dns` grant."""

import json
import socket
import time

import pytest

from conftest import free_port, script_run, write_config
from fakes import FakeDNS
from lua_remote import LUA_JSON, Remote, remote_script

LONG_TXT = "v=DKIM1; p=" + "A" * 300  # over 255 bytes: two strings on the wire

RECORDS = {
    "mail.test": {"A": ["192.0.2.1", "192.0.2.2"], "AAAA": ["2001:db8::1"]},
    "v6only.test": {"AAAA": ["2001:db8::5"]},
    "mx.test": {"MX": [(20, "b.mx.test"), (10, "a.mx.test"), (30, "c.mx.test.")]},
    "implicit.test": {"A": ["192.0.2.9", "192.0.2.10"]},
    "nothing.test": {"TXT": []},
    "nullmx.test": {"MX": [(0, ".")], "A": ["192.0.2.11"]},
    "txt.test": {"TXT": ["v=spf1 -all", LONG_TXT]},
    "broken.test": {"A": ["192.0.2.12"], "MX": [(10, "x.test")]},
}


@pytest.fixture(scope="module")
def dns():
    with FakeDNS(RECORDS) as d:
        d.fail("broken.test")
        yield d


def conf(tmp_path, dns_address):
    return write_config(tmp_path / "rumble.conf", f"DataFolder {tmp_path}/data\nDNSServer {dns_address}\n")


def lua(tmp_path, dns_address, code, grants=("dns",)):
    """Run `code` under `script run --config` and return what it printed as
    JSON (the script prints one JSON line)."""
    script = tmp_path / "net.lua"
    script.write_text(code)
    r = script_run(script, config=conf(tmp_path, dns_address), grants=grants)
    assert r.returncode == 0, r.stderr
    return r.stdout


def results(tmp_path, dns_address, expr):
    """`expr`'s results, through the remote script's JSON encoder."""
    script = tmp_path / "q.lua"
    script.write_text(LUA_JSON + f"\nprint(run({json.dumps('return ' + expr)}))\n")
    r = script_run(script, config=conf(tmp_path, dns_address), grants=["dns"])
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout.strip().splitlines()[-1])
    assert "values" in answer, answer
    return answer["values"]


def error_of(tmp_path, dns_address, expr, grants=("dns",)):
    script = tmp_path / "e.lua"
    script.write_text(f"local ok, err = pcall(function() return {expr} end)\nassert(not ok, 'no error')\nprint(err)\n")
    r = script_run("e.lua", config=conf(tmp_path, dns_address), grants=grants, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_get_host_by_name_first_ipv4_then_every_address(tmp_path, dns):
    assert results(tmp_path, dns.address, 'network.getHostByName("mail.test")') == [
        "192.0.2.1", ["192.0.2.1", "192.0.2.2", "2001:db8::1"]]
    assert results(tmp_path, dns.address, 'network.getHostByName("MAIL.test.")')[0] == "192.0.2.1"
    # Rumble's first value is IPv4 only: nil for a host with only IPv6.
    assert results(tmp_path, dns.address, 'network.getHostByName("v6only.test")') == [None, ["2001:db8::5"]]
    assert results(tmp_path, dns.address, 'network.getHostByName("nosuch.test")') == [None, []]
    assert results(tmp_path, dns.address, 'network.getHostByName("broken.test")') == [None, []]
    assert results(tmp_path, dns.address, 'network.getHostByName("192.0.2.77")') == ["192.0.2.77", ["192.0.2.77"]]
    assert ("mail.test", "A") in dns.queries


def test_get_mx_sorted_by_preference_with_rumbles_implicit_mx(tmp_path, dns):
    assert results(tmp_path, dns.address, 'network.getMX("mx.test")') == [[
        {"preference": 10, "host": "a.mx.test"},
        {"preference": 20, "host": "b.mx.test"},
        {"preference": 30, "host": "c.mx.test"},
    ]]
    # No MX: the domain's (first) A record at preference 10, as Rumble.
    assert results(tmp_path, dns.address, 'network.getMX("implicit.test")') == [[{"preference": 10, "host": "192.0.2.9"}]]


@pytest.mark.parametrize("domain", ["nosuch.test", "nullmx.test", "broken.test", "nothing.test"])
def test_get_mx_failures_are_empty_never_a_crash(tmp_path, dns, domain):
    """NXDOMAIN, null MX (RFC 7505), SERVFAIL, no MX and no A: `{}`."""
    assert results(tmp_path, dns.address, f'network.getMX("{domain}")') == [[]]


def test_a_silent_dns_server_is_an_empty_answer_within_seconds(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        out = lua(tmp_path, address, 'local h, all = network.getHostByName("slow.test")\n'
                                     'print(h, #all, #network.getMX("slow.test"))\n')
        assert out.strip() == "nil\t0\t0"
        # It did wait for the silent server, and not for long: two lookups
        # (getMX gives up after the MX query), each bounded at 5 s.
        assert 2 < time.monotonic() - started < 16


def test_get_txt_joins_each_records_strings(tmp_path, dns):
    assert results(tmp_path, dns.address, 'network.getTXT("txt.test")') == [["v=spf1 -all", LONG_TXT]]
    assert results(tmp_path, dns.address, 'network.getTXT("mail.test")') == [[]]
    assert results(tmp_path, dns.address, 'network.getTXT("nosuch.test")') == [[]]
    assert results(tmp_path, dns.address, 'network.getTXT("broken.test")') == [[]]


@pytest.mark.parametrize("function", ["getHostByName", "getMX", "getTXT"])
def test_bad_arguments_are_clear_lua_errors(tmp_path, dns, function):
    assert error_of(tmp_path, dns.address, f"network.{function}()") == \
        f"e.lua:1: bad argument #1 to '{function}' (string expected, got nil)"
    assert error_of(tmp_path, dns.address, f"network.{function}({{}})") == \
        f"e.lua:1: bad argument #1 to '{function}' (string expected, got table)"
    assert error_of(tmp_path, dns.address, f'network.{function}("")').endswith("invalid argument: an empty host name")
    assert error_of(tmp_path, dns.address, f'network.{function}(string.rep("a", 300))').endswith(
        "invalid argument: a host name of 300 bytes (at most 253)")
    assert "has blanks or control characters" in error_of(tmp_path, dns.address, f'network.{function}("a b.test")')
    assert "invalid argument: host name" in error_of(tmp_path, dns.address, f'network.{function}(string.rep("a", 70) .. ".test")')


@pytest.mark.parametrize("function", ["getHostByName", "getMX", "getTXT"])
def test_without_the_dns_grant_every_lookup_is_denied(tmp_path, dns, function):
    dns.clear_queries()
    assert error_of(tmp_path, dns.address, f'network.{function}("mail.test")', grants=()) == \
        'e.lua:1: permission denied: dns (script "e")'
    assert dns.queries == []


def test_served_scripts_share_the_servers_resolver(tmp_path, start_server, dns):
    port = free_port()
    (tmp_path / "net.lua").write_text(remote_script(port))
    (tmp_path / "nodns.lua").write_text("")
    start_server(f"DataFolder {tmp_path}/data\nBindToAddress 127.0.0.1\nDNSServer {dns.address}\n"
                 f"LoadScript net.lua\nGrant net listen {port}\nGrant net dns\n")
    with Remote(port) as r:
        assert r.call('return network.getMX("mx.test")[1].host') == ["a.mx.test"]
        assert r.call('return network.getTXT("txt.test")[1]') == ["v=spf1 -all"]
        assert r.call('return (network.getHostByName("mail.test"))') == ["192.0.2.1"]
