"""`rumble check-config` and config errors as an operator meets them."""

from conftest import ROOT, run_rumble


def test_example_config_checks_clean_and_lists_grants():
    r = run_rumble("check-config", ROOT / "rumble.conf.example")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    assert "script status (plugins/status/status.lua): cpu 1000 ms, memory 64 MiB, instances 4" in r.stdout
    assert "  grant listen 2580" in r.stdout
    assert "  grant config.read servername" in r.stdout


def test_bad_value_names_file_line_and_directive(tmp_path):
    conf = tmp_path / "rumble.conf"
    conf.write_text("ServerName x.test\n\nSMTPPort twenty-five\n")
    r = run_rumble("check-config", conf)
    assert r.returncode == 1
    assert f'{conf}:3: SMTPPort: expected a port number 1-65535, got "twenty-five"' in r.stderr


def test_unknown_directive_is_a_warning(tmp_path):
    conf = tmp_path / "rumble.conf"
    conf.write_text("ServerName x.test\nFrobnicate yes\n")
    r = run_rumble("check-config", conf)
    assert r.returncode == 0
    assert f'warning: {conf}:2: unknown directive "frobnicate" (ignored)' in r.stderr


def test_conditionals_and_first_occurrence(tmp_path):
    conf = tmp_path / "rumble.conf"
    (tmp_path / "a.lua").write_text("print(1)\n")
    conf.write_text(
        "<if exists(a.lua)>\n"
        "  LoadScript a.lua\n"
        "  Grant a log.read\n"
        "<else>\n"
        "  LoadScript missing.lua\n"
        "</if>\n"
        "<if compare(architecture >= 128)>\n"
        "  Grant a dns\n"
        "</if>\n"
    )
    r = run_rumble("check-config", conf)
    assert r.returncode == 0, r.stderr
    assert "script a (a.lua)" in r.stdout
    assert "grant log.read" in r.stdout
    assert "missing.lua" not in r.stdout
    assert "grant dns" not in r.stdout


def test_unclosed_if_is_an_error_with_line(tmp_path):
    conf = tmp_path / "rumble.conf"
    conf.write_text("ServerName x\n<if defined(servername)>\nSMTPPort 2525\n")
    r = run_rumble("check-config", conf)
    assert r.returncode == 1
    assert f"{conf}:2: <if> is never closed" in r.stderr


def test_serve_refuses_a_bad_config_without_panicking(tmp_path):
    conf = tmp_path / "rumble.conf"
    conf.write_text("BindToAddress not-an-ip\n")
    r = run_rumble("serve", "--config", conf, timeout=30)
    assert r.returncode == 1
    assert f"{conf}:1: BindToAddress" in r.stderr
    assert "panicked" not in r.stderr


def test_grant_for_unknown_script_and_capability_warn(tmp_path):
    conf = tmp_path / "rumble.conf"
    (tmp_path / "a.lua").write_text("print(1)\n")
    conf.write_text("LoadScript a.lua\nGrant a teleport\nGrant ghost log.read\n")
    r = run_rumble("check-config", conf)
    assert r.returncode == 0, r.stderr
    assert 'unknown capability "teleport"' in r.stderr
    assert "ghost" in r.stderr
    assert "grants: none" in r.stdout
