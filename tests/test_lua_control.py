"""`Rumble.*` service control and status from a served script, observed
with real clients: start/stop/suspend/resume of SMTP and of a script
service, serviceInfo/trafficInfo after real sessions, listModules (with
LoadScript NAME), reloadConfiguration, bad arguments and the
`services.control SERVICE...|*` grant."""

import re
import smtplib
import socket
import time

import pytest

from conftest import LineClient, free_port, run_rumble, script_run, write_config
from lua_remote import Remote, remote_script

ECHO = """
Rumble.createService(function(s)
  s:send("hi\\r\\n")
  local line = s:receive()
  while line ~= "" do
    s:send(line .. "\\r\\n")
    line = s:receive()
  end
end, PORT, 4)
"""

BOOM = """
Rumble.createService(function(s)
  local line = s:receive()
  if line == "error" then error("boom") end
  if line == "loop" then while true do end end
  s:send("fine\\r\\n")
end, PORT, 2)
"""


class Setup:
    def __init__(self, tmp_path, start_server):
        self.tmp = tmp_path
        self.ports = {name: free_port() for name in ("smtp", "ctl", "one", "echo", "boom", "nogrant")}
        p = self.ports
        (tmp_path / "ctl.lua").write_text(remote_script(p["ctl"]))
        (tmp_path / "nogrant.lua").write_text(remote_script(p["nogrant"]))
        (tmp_path / "one.lua").write_text(remote_script(p["one"]))
        (tmp_path / "echo.lua").write_text(ECHO.replace("PORT", str(p["echo"])))
        (tmp_path / "boom.lua").write_text(BOOM.replace("PORT", str(p["boom"])))
        for tenant in ("a", "b"):
            folder = tmp_path / "tenants" / tenant
            folder.mkdir(parents=True)
            (folder / "filter.lua").write_text(f"-- tenant {tenant}\n")
        self.text = (
            f"DataFolder {tmp_path}/data\nBindToAddress 127.0.0.1\nServerName before.test\n"
            f"EnableSMTP 1\nSMTPPort {p['smtp']}\n"
            f"LoadScript ctl.lua\nGrant ctl listen {p['ctl']}\nGrant ctl services.control *\n"
            # pop3 is granted but not enabled: a granted service that does not exist.
            f"LoadScript one.lua\nGrant one listen {p['one']}\nGrant one services.control smtp pop3\n"
            f"LoadScript nogrant.lua\nGrant nogrant listen {p['nogrant']}\n"
            f"LoadScript echo.lua\nGrant echo listen {p['echo']}\n"
            f"LoadScript boom.lua\nGrant boom listen {p['boom']}\nScriptLimit boom cpu 50ms\n"
            "LoadScript tenants/a/filter.lua filter-a\nLoadScript tenants/b/filter.lua filter-b\n"
        )
        self.server = start_server(self.text)

    def ctl(self):
        return Remote(self.ports["ctl"])

    def settle(self, service):
        """Wait until `service` has no session left: a client sees the close
        a moment before the server frees the session's per-address slot."""
        with self.ctl() as r:
            assert eventually(lambda: r.call(f'return Rumble.serviceInfo("{service}").busy') == [0])

    def rewrite(self, extra):
        write_config(self.server.config, self.text + extra)


@pytest.fixture
def setup(tmp_path, start_server):
    return Setup(tmp_path, start_server)


def banner(port, timeout=5.0):
    """The first line a fresh connection hears, or None when nothing comes
    within `timeout` (or the connection is refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            return s.makefile("rb").readline().decode().strip() or None
    except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
        return None


def eventually(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def smtp_session(port):
    with LineClient(port) as c:
        assert c.line().startswith("220 ")
        c.send("EHLO client.test")
        while not c.line().startswith("250 "):
            pass
        assert c.ask("QUIT").startswith("221")


def test_stop_start_suspend_resume_smtp(setup):
    port = setup.ports["smtp"]
    assert banner(port).startswith("220 ")
    with setup.ctl() as r:
        assert r.call('return Rumble.stopService("smtp"), Rumble.serviceInfo("smtp").enabled') == [True, 0]
        assert eventually(lambda: refused(port))
        assert r.call('return Rumble.startService("smtp"), Rumble.serviceInfo("smtp").enabled') == [True, 1]
        assert eventually(lambda: banner(port, 1) is not None)
        assert r.call('return Rumble.suspendService("SMTP"), Rumble.serviceInfo("smtp").enabled') == [True, 2]
        # Suspended: the socket stays open (the client waits in the backlog), nothing is accepted.
        waiting = socket.create_connection(("127.0.0.1", port), timeout=1)
        with pytest.raises(socket.timeout):
            waiting.recv(100)
        waiting.settimeout(5)
        assert r.call('return Rumble.resumeService("smtp"), Rumble.serviceInfo("smtp").enabled') == [True, 1]
        assert waiting.makefile("rb").readline().startswith(b"220 ")
        waiting.close()


def test_a_suspended_script_service_lets_active_sessions_finish(setup):
    port, name = setup.ports["echo"], f"echo:{setup.ports['echo']}"
    with setup.ctl() as r, LineClient(port) as active:
        assert active.line() == "hi"
        assert r.call(f'return Rumble.suspendService("{name}")') == [True]
        assert active.ask("still here") == "still here"
        assert banner(port, 0.7) is None
        assert r.call(f'return Rumble.resumeService("{name}")') == [True]
        assert banner(port) == "hi"
        assert r.call(f'return Rumble.stopService("{name}")') == [True]
        assert active.ask("after stop") == "after stop"
        assert eventually(lambda: refused(port))
        assert r.call(f'return Rumble.startService("{name}")') == [True]
        assert eventually(lambda: banner(port, 1) == "hi")


def test_unknown_services_and_bad_arguments(setup):
    with setup.ctl() as r:
        for function in ("startService", "stopService", "suspendService", "resumeService"):
            nil, message = r.call(f'return Rumble.{function}("nope")')
            assert nil is None
            assert message.startswith('no service named "nope" (known: smtp, mailman, ctl:')
            assert f"echo:{setup.ports['echo']}" in message
            assert r.message(f"return Rumble.{function}()") == f"bad argument #1 to '{function}' (string expected, got nil)"
        assert r.call('return Rumble.serviceInfo("nope"), Rumble.trafficInfo("nope")') == [None, None]
        assert r.message("return Rumble.serviceInfo(1)") == "bad argument #1 to 'serviceInfo' (string expected, got number)"
        assert r.message("return Rumble.trafficInfo({})") == "bad argument #1 to 'trafficInfo' (string expected, got table)"


def test_service_info_and_traffic_info_move_with_real_sessions(setup):
    with setup.ctl() as r:
        before = r.call('return Rumble.serviceInfo("smtp")')[0]
        assert before == {
            "workers": 250, "busy": 0, "idle": 250, "enabled": 1, "sessions": 0, "sent": 0,
            "received": 0, "rejected": 0, "capabilities": before["capabilities"],
        }
        assert "PIPELINING " in before["capabilities"] and before["capabilities"].endswith(" ")
        assert r.call('return Rumble.trafficInfo("smtp")') == [[[0, 0, 0]]]
        smtp_session(setup.ports["smtp"])
        smtp_session(setup.ports["smtp"])
        assert eventually(lambda: r.call('return Rumble.serviceInfo("smtp").busy') == [0])
        info = r.call('return Rumble.serviceInfo("smtp")')[0]
        assert info["sessions"] == 2 and info["sent"] > 100 and info["received"] == 2 * len("EHLO client.test\r\nQUIT\r\n")
        hours = r.call('return Rumble.trafficInfo("smtp")')[0]
        assert sum(h[0] for h in hours) == 2
        assert sum(h[1] for h in hours) == info["sent"] + info["received"]
        # A script service counts too (Rumble's were invisible), this very session included.
        mine = r.call(f'return Rumble.serviceInfo("ctl:{setup.ports["ctl"]}")')[0]
        assert (mine["sessions"], mine["busy"], mine["workers"], mine["idle"], mine["capabilities"]) == (1, 1, 4, 3, "")
        assert mine["received"] > 0


def test_list_modules_shows_scripts_grants_registrations_and_counts(setup):
    boom = f"boom:{setup.ports['boom']}"
    for line, answer in [("error", ""), ("loop", ""), ("ok", "fine")]:
        with LineClient(setup.ports["boom"]) as c:
            assert c.ask(line) == answer
        setup.settle(boom)
    with setup.ctl() as r:
        modules = {m["name"]: m for m in r.call("return Rumble.listModules()")[0]}
    assert list(modules) == ["ctl", "one", "nogrant", "echo", "boom", "filter-a", "filter-b"]
    p = setup.ports
    assert modules["ctl"]["grants"] == [f"listen {p['ctl']}", "services.control *"]
    assert modules["one"]["grants"] == [f"listen {p['one']}", "services.control smtp pop3"]
    assert modules["ctl"]["registered"] == [f"service ctl:{p['ctl']}"]
    assert modules["ctl"]["file"] == "ctl.lua" and modules["ctl"]["title"] == "ctl"
    assert (modules["boom"]["calls"], modules["boom"]["errors"], modules["boom"]["stops"]) == (3, 1, 1)
    assert (modules["echo"]["calls"], modules["echo"]["errors"], modules["echo"]["stops"]) == (0, 0, 0)
    assert modules["filter-a"]["file"] == "tenants/a/filter.lua"
    assert modules["filter-b"] == {
        "name": "filter-b", "title": "filter-b", "file": "tenants/b/filter.lua", "description": "",
        "author": "Unknown", "grants": [], "registered": [], "calls": 0, "errors": 0, "stops": 0,
    }


def test_reload_configuration_applies_max_connections_per_ip_and_reports_the_rest(setup):
    port = setup.ports["echo"]
    # Before: one address may hold 3 of the echo service's 4 sessions.
    with LineClient(port) as a:
        assert a.line() == "hi"
        with LineClient(port) as b:
            assert b.line() == "hi"
    setup.settle(f"echo:{port}")
    setup.rewrite("MaxConnectionsPerIP 1\nServerName after.test\n")
    # One ctl connection throughout: the new limit holds for the ctl service
    # too, and a second connection could meet the first one still closing.
    with setup.ctl() as r:
        ok, notes = r.call("return Rumble.reloadConfiguration()")
        assert ok is True
        assert notes == [
            "ServerName changed; it takes effect at the next restart",
            "MaxConnectionsPerIP 1 applied to script services (protocol listeners need a restart)",
        ]
        # Nothing new since: nothing to report.
        assert r.call("return Rumble.reloadConfiguration()") == [True, []]
        setup.server.wait_for_log(r"reloadConfiguration \(script \"ctl\"\): ServerName changed")
        with LineClient(port) as a:
            assert a.line() == "hi"
            assert banner(port) is None  # closed at once: over the new per-address limit
        assert r.call(f'return Rumble.serviceInfo("echo:{port}").rejected') == [1]
        assert r.call(f'return Rumble.trafficInfo("echo:{port}")[1][3]') == [1]
        # A broken file changes nothing and says why.
        setup.rewrite("MaxConnectionsPerIP lots\n")
        nil, message = r.call("return Rumble.reloadConfiguration()")
        assert nil is None
        assert "rumble.conf:" in message and "MaxConnectionsPerIP" in message and "lots" in message
    assert banner(setup.ports["smtp"]).startswith("220 before.test")


def test_reload_configuration_applies_protocol_settings_to_new_sessions(setup):
    port = setup.ports["smtp"]
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as old:
        old.ehlo()
        assert old.esmtp_features["size"] != "2000"
        setup.rewrite("MessageSizeLimit 2000\n")
        with setup.ctl() as r:
            assert r.call("return Rumble.reloadConfiguration()") == [
                True, ["MessageSizeLimit applied to sessions that start from now on"]]
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as new:
            new.ehlo()
            assert new.esmtp_features["size"] == "2000"
            assert new.mail("a@example.net", ["SIZE=3000"])[0] == 552
        # A session that started before the reload keeps what it started with.
        assert old.mail("a@example.net", ["SIZE=3000"])[0] == 250


SERVICE_CALLS = ("startService", "stopService", "suspendService", "resumeService", "serviceInfo", "trafficInfo")


@pytest.mark.parametrize("call, grant", [
    *((f'Rumble.{function}("smtp")', "services.control smtp") for function in SERVICE_CALLS),
    ("Rumble.listModules()", "services.control *"), ("Rumble.reloadConfiguration()", "services.control *"),
])
def test_without_services_control_every_call_is_denied(setup, call, grant):
    with Remote(setup.ports["nogrant"]) as r:
        assert r.message(f"return {call}") == f'permission denied: {grant} (script "nogrant")'
    assert banner(setup.ports["smtp"]).startswith("220 ")
    setup.server.wait_for_log(rf'script "nogrant": permission denied: {re.escape(grant)}')


def test_a_service_grant_controls_that_service(setup):
    with Remote(setup.ports["one"]) as r:
        assert r.call('return Rumble.suspendService("smtp"), Rumble.serviceInfo("smtp").enabled') == [True, 2]
        assert banner(setup.ports["smtp"], 0.7) is None
        assert r.call('return Rumble.resumeService("SMTP"), Rumble.serviceInfo("Smtp").enabled') == [True, 1]
        assert banner(setup.ports["smtp"]).startswith("220 ")
        hours = r.call('return Rumble.trafficInfo("smtp")')[0]
        assert sum(h[0] for h in hours) >= 1
        # Granted but not running: "not found", naming only what the script may control.
        assert r.call('return Rumble.stopService("pop3")') == [None, 'no service named "pop3" (known: smtp)']
        assert r.call('return Rumble.serviceInfo("pop3"), Rumble.trafficInfo("pop3")') == [None, None]


@pytest.mark.parametrize("function", SERVICE_CALLS)
def test_a_service_grant_denies_other_services_whether_they_exist_or_not(setup, function):
    echo = f"echo:{setup.ports['echo']}"
    with Remote(setup.ports["one"]) as r:
        # An existing service and a made-up one get the same answer: no probing.
        for service in (echo, "mailman", "nope"):
            expected = f'permission denied: services.control {service} (script "one")'
            assert r.message(f'return Rumble.{function}("{service}")') == expected
    assert banner(setup.ports["echo"]) == "hi"
    setup.server.wait_for_log(rf'script "one": permission denied: services.control {echo}\n')
    setup.server.wait_for_log(r'script "one": permission denied: services.control nope\n')


def test_only_the_star_grant_lists_modules_and_reloads(setup):
    with Remote(setup.ports["one"]) as r:
        for call in ("listModules", "reloadConfiguration"):
            assert r.message(f"return Rumble.{call}()") == 'permission denied: services.control * (script "one")'
    setup.server.wait_for_log(r'script "one": permission denied: services.control \*')
    with setup.ctl() as r:
        assert len(r.call("return Rumble.listModules()")[0]) == 7
        assert r.call("return Rumble.reloadConfiguration()") == [True, []]
        assert r.call(f'return Rumble.suspendService("echo:{setup.ports["echo"]}")') == [True]
        assert r.call(f'return Rumble.resumeService("echo:{setup.ports["echo"]}")') == [True]


def test_a_bare_services_control_grant_stops_the_server_with_the_fix(tmp_path):
    (tmp_path / "s.lua").write_text("print(1)\n")
    conf = write_config(tmp_path / "rumble.conf", f"DataFolder {tmp_path}/data\nBindToAddress 127.0.0.1\n"
                        "EnableSMTP 0\nLoadScript s.lua\nGrant s services.control\n")
    line = conf.read_text().splitlines().index("Grant s services.control") + 1
    fix = 'services.control needs the services it covers; write "services.control *" for all services'
    r = run_rumble("serve", "--config", conf, timeout=30)
    assert r.returncode != 0
    assert f"{conf}:{line}: Grant: {fix}" in r.stderr, r.stderr
    r = script_run(tmp_path / "s.lua", grants=["services.control"])
    assert r.returncode != 0 and fix in r.stderr, r.stderr


def test_a_grant_for_a_service_nothing_creates_is_a_warning(tmp_path):
    (tmp_path / "s.lua").write_text("print(1)\n")
    conf = write_config(tmp_path / "rumble.conf", f"DataFolder {tmp_path}/data\nLoadScript s.lua\n"
                        "Grant s listen 2580\nGrant s services.control smtp s:2580 smpt s:2581\n")
    line = conf.read_text().splitlines().index("Grant s services.control smtp s:2580 smpt s:2581") + 1
    r = run_rumble("check-config", conf)
    assert r.returncode == 0, r.stderr
    warnings = [w for w in r.stderr.splitlines() if "no service will be named" in w]
    assert [w.split('named "')[1].split('"')[0] for w in warnings] == ["smpt", "s:2581"], r.stderr
    assert all(f"{conf}:{line}: services.control for script \"s\"" in w for w in warnings)
