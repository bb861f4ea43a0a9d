"""`rumble serve`: the example config, script services, load failures,
denials in the log, Rumble's first-instance rule, and graceful shutdown."""

import os
import re
import signal
import time

from conftest import ROOT, LineClient, Server, free_port


def test_example_config_serves_the_status_plugin(tmp_path):
    """rumble.conf.example as shipped, but with data and cache in tmp_path.
    It sits beside the example (its relative paths resolve there) under a
    name no one else uses."""
    text = (ROOT / "rumble.conf.example").read_text()
    text = text.replace("DataFolder          data", f"DataFolder          {tmp_path}/data")
    text = text.replace("CacheFolder         data/cache", f"CacheFolder         {tmp_path}/cache")
    assert str(tmp_path) in text
    server = Server(ROOT, text, config_name=f".test-example-{os.getpid()}.conf")
    try:
        with LineClient(2580) as c:
            assert c.line() == "+OK mail.example.test status service ready"
            assert re.fullmatch(r"\+OK rumble 0\.01\.0000 up \d+s on Linux", c.ask("STATUS"))
            assert c.ask("NOPE") == "-ERR unknown command"
            assert c.ask("QUIT") == "+OK bye"
        assert "status service on port 2580" in server.log()
        assert list((tmp_path / "cache").glob("guest-*.cwasm")), "compiled guest not cached"
    finally:
        server.stop()
        server.remove_files()


def write_scripts(folder, **scripts):
    for name, text in scripts.items():
        (folder / f"{name}.lua").write_text(text)


def test_broken_scripts_are_logged_and_the_rest_serve(tmp_path, start_server):
    port = free_port()
    write_scripts(
        tmp_path,
        syntax="local x = = 1\n",
        crash="local cfg = nil\nprint(cfg.port)\n",
        echo=f"Rumble.createService(function(s) s:send('hi ', s.address, '\\r\\n') end, {port}, 2)\n",
    )
    server = start_server(
        f"DataFolder {tmp_path}/data\nBindToAddress 127.0.0.1\n"
        "LoadScript syntax.lua\nLoadScript crash.lua\nLoadScript echo.lua\n"
        f"Grant echo listen {port}\n"
    )
    with LineClient(port) as c:
        assert c.line() == "hi 127.0.0.1"
    log = server.log()
    assert re.search(r'script "syntax" \(syntax\.lua, LoadScript at .*rumble\.conf:3\) failed to load: syntax\.lua:1: ', log)
    assert re.search(r'script "crash" \(crash\.lua, LoadScript at .*rumble\.conf:4\) failed to load: crash\.lua:2: attempt to index a nil value', log)
    assert "1 script(s) loaded, 2 service(s)" in log  # the script's service and the mailman


def test_denials_are_logged_with_script_and_capability(tmp_path, start_server):
    write_scripts(tmp_path, nosy="print(pcall(Rumble.getLog))\nprint(pcall(Rumble.createService, function() end, 2999, 1))\n")
    server = start_server(f"DataFolder {tmp_path}/data\nLoadScript nosy.lua\n")
    log = server.log()
    assert 'script "nosy": permission denied: log.read' in log
    assert 'script "nosy": permission denied: listen 2999' in log


def test_get_log_returns_recent_lines_newest_first(tmp_path, start_server):
    port = free_port()
    write_scripts(tmp_path, logreader=f"""
Rumble.createService(function(s)
  print("marker-" .. s:receive())
  local lines = Rumble.getLog()
  s:send(#lines, "\\r\\n", lines[1])
end, {port}, 2)
""")
    start_server(f"DataFolder {tmp_path}/data\nLoadScript logreader.lua\nGrant logreader listen {port}\nGrant logreader log.read\n")
    with LineClient(port) as c:
        c.send("42")
        count = int(c.line())
        newest = c.line()
    assert count >= 3
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[lua\]: \tlogreader: marker-42", newest)


def test_first_instance_rule_and_per_instance_globals(tmp_path, start_server):
    """createService returns true in the script's first instance and nil in
    the others (Rumble's rule); a second concurrent session runs on a second
    instance with its own globals."""
    port = free_port()
    write_scripts(tmp_path, pool=f"""
created = Rumble.createService(function(s)
  hits = (hits or 0) + 1
  s:send(tostring(created), " ", hits, "\\r\\n")
  s:receive()
end, {port}, 4)
""")
    start_server(f"DataFolder {tmp_path}/data\nLoadScript pool.lua\nGrant pool listen {port}\n")
    a = LineClient(port)
    assert a.line() == "true 1"
    b = LineClient(port)  # a is still busy: b needs a new instance
    assert b.line() == "nil 1"
    a.send("done")
    b.send("done")
    a.close()
    b.close()


def test_overlong_line_is_refused_not_buffered(tmp_path, start_server):
    port = free_port()
    write_scripts(tmp_path, lines=f"""
Rumble.createService(function(s)
  local line, n, err = s:receive()
  s:send(tostring(n), " ", tostring(err), "\\r\\n")
end, {port}, 2)
""")
    start_server(f"DataFolder {tmp_path}/data\nLoadScript lines.lua\nGrant lines listen {port}\n")
    with LineClient(port) as c:
        c.sock.sendall(b"x" * (200 * 1024) + b"\r\n")
        assert c.line() == "0 line too long"


def test_session_timeout_ends_a_silent_client(tmp_path, start_server):
    port = free_port()
    write_scripts(tmp_path, wait=f"""
Rumble.createService(function(s)
  local line, n, err = s:receive()
  s:send("got ", tostring(err), "\\r\\n")
end, {port}, 2)
""")
    start_server(f"DataFolder {tmp_path}/data\nLoadScript wait.lua\nGrant wait listen {port}\nScriptLimit wait timeout 300ms\n")
    with LineClient(port) as c:
        assert c.line() == "got timeout"


def test_sigterm_shuts_down_cleanly(tmp_path, start_server):
    server = start_server(f"DataFolder {tmp_path}/data\n")
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=15) == 0
    assert "shutting down" in server.log()
