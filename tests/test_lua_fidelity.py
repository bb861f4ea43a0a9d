"""The sandbox behaves like native Lua 5.4: the scripts under
tests/lua/fidelity run under native lua5.4 and under `rumble script run`
and must agree (stdout, and the warnings on stderr). Also: `io.write` and
`warn` in server mode, `script run`'s options after the file, and loading
text chunks only (compared with native lua5.4's `load(s, nil, "t")`)."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import LUA, LineClient, free_port, run_rumble, script_run

FIDELITY = LUA / "fidelity"


def native(*args):
    """lua5.4 ARGS with only the C locale in its environment, as in the sandbox."""
    lua = shutil.which("lua5.4")
    if lua is None:
        pytest.skip("lua5.4 is not installed")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    return subprocess.run([lua, *map(str, args)], capture_output=True, text=True, timeout=60, env=env)


def folder(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    return path


def run_both(name, tmp_path):
    """The script natively and in the sandbox, each with a writable folder of its own."""
    path = FIDELITY / f"{name}.lua"
    mine, theirs = folder(tmp_path, "sandbox"), folder(tmp_path, "native")
    return native(path, theirs), script_run(path, mine, grants=[f"files.write {mine}"])


@pytest.mark.parametrize("name", ["io_lines_formats", "read_after_eof", "setlocale", "text_chunks"])
def test_agrees_with_native_lua(name, tmp_path):
    nat, box = run_both(name, tmp_path)
    assert nat.returncode == 0, f"native lua5.4 fails, fix the script:\n{nat.stderr}"
    assert box.returncode == 0, f"stdout:\n{box.stdout}\nstderr:\n{box.stderr}"
    assert box.stdout == nat.stdout
    assert box.stdout.startswith(f"ok {name} ")


def test_io_write_and_print_keep_their_order(tmp_path):
    """io.write goes through C stdio's buffer, print around it; the buffer
    is flushed before each print and at the end of the call."""
    nat, box = run_both("output_order", tmp_path)
    assert nat.returncode == 0 and box.returncode == 0, box.stderr
    assert box.stdout == nat.stdout
    assert box.stdout.endswith("j\nno newline at the end")


def warnings_in(stderr):
    return re.findall(r"Lua warning: .*", stderr)


def test_warn_behaves_as_in_lua_c(tmp_path):
    nat, box = run_both("warnings", tmp_path)
    assert nat.returncode == 0 and box.returncode == 0, box.stderr
    assert box.stdout == nat.stdout
    assert warnings_in(nat.stderr) == [
        "Lua warning: after x@on", "Lua warning: one piece", "Lua warning: abc",
        "Lua warning: @onx", "Lua warning: 42", "Lua warning: error in __gc (in gc)",
    ]
    assert warnings_in(box.stderr) == warnings_in(nat.stderr)
    # Bare lines, as lua.c writes them, not log lines.
    box_lines = [l for l in box.stderr.splitlines() if "Lua warning:" in l]
    assert all(l.startswith("Lua warning: ") for l in box_lines), box.stderr


def test_server_log_gets_io_write_lines(tmp_path, start_server):
    port = free_port()
    (tmp_path / "chatty.lua").write_text(f"""
io.write("first line\\n")
io.write("second line\\n")
Rumble.createService(function(s)
  io.write("from the handler\\n")
  s:send("done\\r\\n")
end, {port}, 2)
""")
    server = start_server(f"DataFolder {tmp_path}/data\nLoadScript chatty.lua\nGrant chatty listen {port}\n")
    with LineClient(port) as c:
        assert c.line() == "done"
    server.wait_for_log(r"INFO lua: chatty: from the handler\n")
    log = server.log()
    assert re.search(r"INFO lua: chatty: first line\n", log)
    assert re.search(r"INFO lua: chatty: second line\n", log)


def test_server_log_gets_warnings_at_warn_level(tmp_path, start_server):
    port = free_port()
    (tmp_path / "warner.lua").write_text(f"""
warn("@on")
warn("from the ", "top level")
Rumble.createService(function(s)
  warn("in a session")
  s:send("done\\r\\n")
end, {port}, 2)
""")
    server = start_server(f"DataFolder {tmp_path}/data\nLoadScript warner.lua\nGrant warner listen {port}\n")
    with LineClient(port) as c:
        assert c.line() == "done"
    server.wait_for_log(r"WARN lua: warner: Lua warning: in a session\n")
    assert re.search(r"WARN lua: warner: Lua warning: from the top level\n", server.log())


ARGS_SCRIPT = 'print(#arg, table.concat(arg, " "))\nprint(pcall(Rumble.getLog) and "log granted" or "log denied")\n'


@pytest.mark.parametrize("words, expected", [
    (["--grant", "log.read", "{s}", "a", "b"], "2 a b\nlog granted\n"),
    (["{s}", "a", "--grant", "log.read", "b"], "2 a b\nlog granted\n"),
    (["{s}", "a", "b", "--grant=log.read", "--cpu-limit", "2s"], "2 a b\nlog granted\n"),
    (["{s}", "--", "--grant", "log.read"], "2 --grant log.read\nlog denied\n"),
    (["{s}", "-x", "--", "--", "y"], "3 -x -- y\nlog denied\n"),
    (["--grant", "log.read", "{s}", "--unknown", "--", "--grant", "x"], "3 --unknown --grant x\nlog granted\n"),
], ids=["before", "after", "after-inline", "double-dash", "unknown-and-dashes", "both"])
def test_script_run_options_go_anywhere_before_double_dash(tmp_path, words, expected):
    s = tmp_path / "args.lua"
    s.write_text(ARGS_SCRIPT)
    r = run_rumble("script", "run", *[w.format(s=s) for w in words])
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace("\t", " ") == expected


def native_binary_refusal():
    """What native Lua says when mode "t" meets a binary chunk."""
    code = 'io.write(select(2, load(string.dump(function() end), nil, "t")))'
    r = native("-e", code)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_binary_chunks_are_refused_everywhere(tmp_path):
    refusal = native_binary_refusal()
    assert refusal == "attempt to load a binary chunk (mode is 't')"
    box_dir = folder(tmp_path, "box")
    r = script_run(FIDELITY / "binary_refused.lua", box_dir, grants=[f"files.write {box_dir}"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    labels = ["load", "load b", "load bt", "load t", "load reader b", "loadfile", "loadfile b",
              "loadfile bt", "loadfile shebang b", "dofile", "require"]
    assert lines[:-1] == [f"{label}: {refusal}" for label in labels]
    m = re.fullmatch(r"dug: (\d+) functions, (\d+) tries, (\d+) loaded binary", lines[-1])
    assert m, lines[-1]
    assert int(m[1]) >= 8 and m[3] == "0", lines[-1]


def test_a_binary_script_file_is_refused(tmp_path):
    out = folder(tmp_path, "out")
    gen = tmp_path / "gen.lua"
    gen.write_text('local f = assert(io.open(arg[1], "wb"))\nf:write(string.dump(load("print(\'binary ran\')")))\nf:close()\n')
    r = script_run(gen, out / "compiled.lua", grants=[f"files.write {out}"])
    assert r.returncode == 0, r.stderr
    assert (out / "compiled.lua").read_bytes().startswith(b"\x1bLua")
    r = script_run(out / "compiled.lua")
    assert r.returncode == 1
    assert "binary ran" not in r.stdout
    assert native_binary_refusal() in r.stderr
