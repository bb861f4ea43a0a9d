"""`rumble script run`: output, exit codes and error lines, and the sandbox's
grants (files, config, log, listen) as a plugin author meets them."""

import os

from conftest import ROOT, script_run


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_prints_to_stdout_with_args(tmp_path):
    s = write(tmp_path, "hello.lua", 'print("hello", #arg, arg[1], arg[2])\nio.write("raw\\n")\n')
    r = script_run(s, "one", "--two")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\t2\tone\t--two\nraw\n"


def test_runtime_error_exits_1_with_file_and_line(tmp_path):
    s = write(tmp_path, "bad.lua", "local t = nil\n\nprint(t.x)\n")
    r = script_run(s)
    assert r.returncode == 1
    assert "bad.lua:3: attempt to index a nil value (local 't')" in r.stderr


def test_syntax_error_exits_1_with_line(tmp_path):
    s = write(tmp_path, "syntax.lua", "print(1)\nlocal = 5\n")
    r = script_run(s)
    assert r.returncode == 1
    assert "syntax.lua:2:" in r.stderr


def test_require_and_dofile_from_own_folder(tmp_path):
    write(tmp_path, "lib/util.lua", "return { twice = function(x) return 2 * x end }\n")
    write(tmp_path, "data.lua", "return 41\n")
    s = write(tmp_path, "main.lua", 'local u = require("lib.util")\nprint(u.twice(21), dofile(arg[0]:gsub("main", "data")) + 1)\n')
    r = script_run(s)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "42\t42\n"


def test_files_outside_are_denied_with_a_clear_message(tmp_path):
    s = write(tmp_path, "peek.lua", """
print(io.open("/etc/passwd"))
print(io.open("../../../../etc/hostname"))
print(pcall(dofile, "/etc/passwd"))
print(file.exists("/etc/passwd"))
""")
    r = script_run(s)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == 'nil\tpermission denied: files.read /etc/passwd (script "peek")\t13'
    assert lines[1] == 'nil\tpermission denied: files.read /etc/hostname (script "peek")\t13'
    assert lines[2].startswith("false\t") and 'permission denied: files.read /etc/passwd (script "peek")' in lines[2]
    assert lines[3].startswith("false\tpermission denied")
    # every denial is logged with the script's name
    assert r.stderr.count('permission denied: files.read') >= 3


def test_files_read_grant(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "greeting.txt").write_text("hi there\n")
    s = write(tmp_path / "code", "read.lua", f"""
local f = assert(io.open("{data}/greeting.txt"))
print(f:read("l"))
f:close()
print(io.open("{data}/new.txt", "w"))
print(file.stat("{data}/greeting.txt").size)
""")
    denied = script_run(s)
    assert "permission denied: files.read" in denied.stderr + denied.stdout
    assert denied.returncode == 1
    r = script_run(s, grants=[f"files.read {data}"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "hi there"
    assert lines[1].startswith(f"nil\tpermission denied: files.write {data}/new.txt")
    assert lines[2] == "9"
    assert not (data / "new.txt").exists()


def test_files_write_grant(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    s = write(tmp_path / "code", "write.lua", f"""
local f = assert(io.open("{out}/note.txt", "w"))
f:write("written from the sandbox")
f:close()
assert(os.rename("{out}/note.txt", "{out}/final.txt"))
print("done")
""")
    r = script_run(s, grants=[f"files.write {out}"])
    assert r.returncode == 0, r.stderr
    assert (out / "final.txt").read_text() == "written from the sandbox"


def test_wasi_wall_holds_when_the_lua_checks_are_bypassed(tmp_path):
    """debug.getupvalue digs out the raw C io.open behind the sandbox's
    wrapper; the WASI layer still cannot reach ungranted files, nor write
    into a read-only grant or the script's own folder."""
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "x.txt").write_text("x")
    s = write(tmp_path / "code", "bypass.lua", f"""
local raw
for i = 1, 20 do
  local name, value = debug.getupvalue(io.open, i)
  if name == "io_open" then raw = value end
end
assert(raw, "raw io.open not found")
print(raw("/etc/passwd") == nil)
print(raw("/etc/hostname") == nil)
print(raw("{ro}/x.txt") ~= nil)
print(raw("{ro}/x.txt", "w") == nil)
print(raw("{ro}/new.txt", "w") == nil)
print(raw(arg[0], "a") == nil)
""")
    r = script_run(s, grants=[f"files.read {ro}"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["true"] * 6
    assert (ro / "x.txt").read_text() == "x"
    assert not (ro / "new.txt").exists()


def test_process_escapes_are_errors(tmp_path):
    s = write(tmp_path, "escape.lua", """
print(pcall(os.exit, 0))
print(pcall(io.popen, "ls"))
print(os.getenv("HOME"))
print("still running")
""")
    r = script_run(s)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("false\t") and "os.exit is not available" in lines[0]
    assert lines[1].startswith("false\t") and "io.popen is not available" in lines[1]
    assert lines[2] == "nil"
    assert lines[3] == "still running"


def test_rumble_api_needs_grants(tmp_path):
    conf = write(tmp_path, "rumble.conf", "ServerName grants.test\nMySQLPass hunter2\n")
    s = write(tmp_path, "api.lua", """
print(pcall(Rumble.readConfig, "servername"))
print(pcall(Rumble.readConfig, "mysqlpass"))
local ok, log = pcall(Rumble.getLog)
print(ok, type(log))
print(pcall(Rumble.createService, function() end, 2999, 1))
""")
    none = script_run(s, config=conf)
    assert none.returncode == 0, none.stderr
    lines = none.stdout.splitlines()
    # (Lua shortens long chunk names to "...tail", as native Lua does)
    assert lines[0].startswith("false\t")
    assert lines[0].endswith('api.lua:2: permission denied: config.read servername (script "api")')
    assert 'permission denied: config.read mysqlpass' in lines[1]
    assert lines[2].startswith("false\t")
    assert lines[3].startswith("false\t") and 'permission denied: listen 2999 (script "api")' in lines[3]

    granted = script_run(s, config=conf, grants=["config.read", "log.read"])
    lines = granted.stdout.splitlines()
    assert lines[0] == "true\tgrants.test"
    # secrets stay hidden unless named
    assert lines[1].startswith("false\t") and "config.read mysqlpass" in lines[1]
    assert lines[2] == "true\ttable"


def test_cpu_limit_flag_stops_a_loop(tmp_path):
    s = write(tmp_path, "spin.lua", "print('start')\nwhile true do end\n")
    r = script_run(s, cpu="200ms")
    assert r.returncode == 1
    assert r.stdout == "start\n"
    assert "stopped: used its CPU budget of 200 ms" in r.stderr


def test_memory_limit_flag_makes_a_catchable_error(tmp_path):
    s = write(tmp_path, "mem.lua", """
local ok, err = pcall(function() local s = "x" while true do s = s .. s end end)
print(ok, err)
local t = {}
for i = 1, 1000 do t[i] = i end
print(#t)
""")
    r = script_run(s, memory="16M")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "false\tnot enough memory\n1000\n"


def test_bad_flags_are_clear_errors(tmp_path):
    s = write(tmp_path, "x.lua", "print(1)\n")
    r = script_run(s, grants=["listen notaport"])
    assert r.returncode != 0
    assert "--grant" in r.stderr and "notaport" in r.stderr
    r = script_run(s, cpu="fast")
    assert r.returncode != 0 and "--cpu-limit" in r.stderr


def test_example_plugin_loads_in_script_run_without_grants():
    """The shipped status plugin, run with no grants, fails at its first
    privileged call with the capability named."""
    r = script_run(ROOT / "plugins" / "status" / "status.lua")
    assert r.returncode == 1
    assert 'permission denied: listen 2580 (script "status")' in r.stderr


def test_api_errors_name_the_line_that_called(tmp_path):
    """A denied call inside a function names that call's line (Lua's own
    library functions do); called through pcall, the pcall's line."""
    script = tmp_path / "lines.lua"
    script.write_text(
        "local function f()\n"
        "  local log = Rumble.getLog()\n"
        "  return log\n"
        "end\n"
        "local ok, e = pcall(f)\n"
        "print(e)\n"
        "print(select(2, pcall(Rumble.getLog)))\n")
    r = script_run("lines.lua", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == 'lines.lua:2: permission denied: log.read (script "lines")', lines
    assert lines[1] == 'lines.lua:7: permission denied: log.read (script "lines")', lines
