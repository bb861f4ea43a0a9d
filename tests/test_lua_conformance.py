"""Lua 5.4 conformance inside the sandbox: every script under
tests/lua/conformance (each also passes under native lua5.4) and the
Rumble-specific vectors run through `rumble script run`."""

import pytest

from conftest import LUA, script_run

SCRIPTS = sorted((LUA / "conformance").glob("*.lua")) + sorted((LUA / "rumble").glob("*.lua"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_script_passes_in_sandbox(path):
    r = script_run(path)
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith(f"ok {path.stem} "), last
    checks = int(last.split()[2])
    assert checks >= 15, f"{path.stem} ran only {checks} checks"


def test_a_failing_check_fails_the_run(tmp_path):
    """The harness can fail: a broken expectation gives exit 1 and the line."""
    script = tmp_path / "broken.lua"
    script.write_text('local x = 1\nassert(("abc"):upper() == "abd", "upper broke")\nprint("ok broken 1 checks")\n')
    r = script_run(script)
    assert r.returncode == 1
    assert "broken.lua:2: upper broke" in r.stderr
    assert "ok broken" not in r.stdout
