"""`rumble domain ...` / `rumble account ...` against a real store, and
the store `serve` creates on first start."""

import re
import sqlite3

import pytest

from conftest import write_config
from mailstore import db


@pytest.fixture
def conf(tmp_path):
    return write_config(tmp_path / "rumble.conf", f"DataFolder {tmp_path}/data\n")


def rumble(conf, *args, stdin=None):
    import os
    import subprocess
    from conftest import rumble_bin
    return subprocess.run([str(rumble_bin()), *args, "--config", str(conf)], input=stdin,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))


def test_domains(conf):
    r = rumble(conf, "domain", "add", "Example.ORG")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "added domain example.org\n"
    assert rumble(conf, "domain", "add", "blocked.test", "--no-relay").returncode == 0
    dup = rumble(conf, "domain", "add", "example.org")
    assert dup.returncode == 1 and "domain example.org already exists" in dup.stderr
    bad = rumble(conf, "domain", "add", "bad domain")
    assert bad.returncode == 1 and "not a valid domain name" in bad.stderr
    listed = rumble(conf, "domain", "list")
    assert listed.stdout == "blocked.test\tno-relay\t\nexample.org\t-\t\n"
    assert rumble(conf, "domain", "delete", "blocked.test").returncode == 0
    gone = rumble(conf, "domain", "delete", "blocked.test")
    assert gone.returncode == 1 and "no domain blocked.test" in gone.stderr


def test_accounts(conf):
    assert rumble(conf, "domain", "add", "example.org").returncode == 0
    r = rumble(conf, "account", "add", "Ann@example.org", "--password", "s3cret")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "added mbox account ann@example.org\n"
    # password on standard input, so it never shows in ps or history
    r = rumble(conf, "account", "add", "bob@example.org", stdin="from-stdin\n")
    assert r.returncode == 0, r.stderr
    r = rumble(conf, "account", "add", "team@example.org", "--type", "alias", "--arg", "ann@example.org", "bob@example.org")
    assert r.returncode == 0, r.stderr
    r = rumble(conf, "account", "add", "*@example.org", "--type", "relay", "--arg", "smarthost.example.net:2525")
    assert r.returncode == 0, r.stderr
    listed = rumble(conf, "account", "list", "example.org").stdout.splitlines()
    assert listed == [
        "*@example.org\trelay\tsmarthost.example.net:2525",
        "ann@example.org\tmbox\t",
        "bob@example.org\tmbox\t",
        "team@example.org\talias\tann@example.org bob@example.org",
    ]
    with db(conf.parent) as c:
        rows = dict(c.execute('SELECT "user", password FROM accounts'))
    assert rows["ann"].startswith("$argon2id$") and "s3cret" not in rows["ann"]
    assert rows["bob"].startswith("$argon2id$") and rows["bob"] != rows["ann"]
    assert rows["team"] == ""

    for args, message in [
        (("account", "add", "x@nowhere.org", "--password", "p"), "domain nowhere.org (add it first) not found"),
        (("account", "add", "ann@example.org", "--password", "p"), "account ann@example.org already exists"),
        (("account", "add", "no-at-sign", "--password", "p"), "is not an address"),
        (("account", "add", "z@example.org", "--type", "alias"), "an alias needs at least one target"),
        (("account", "add", "z@example.org", "--type", "feed", "--arg", "/bin/sh"), 'unknown account type "feed"'),
        (("account", "add", "z@example.org"), "no password"),
    ]:
        r = rumble(conf, *args, stdin="")
        assert r.returncode != 0, args
        assert message in r.stderr, (args, r.stderr)

    assert rumble(conf, "account", "delete", "bob@example.org").returncode == 0
    assert rumble(conf, "account", "delete", "bob@example.org").returncode == 1
    assert rumble(conf, "domain", "delete", "example.org").returncode == 0
    with db(conf.parent) as c:
        assert c.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 0


def test_serve_creates_the_store_on_first_start(tmp_path, start_server):
    server = start_server(f"DataFolder {tmp_path}/data\n")
    versions = [int(v) for v in re.findall(r"store schema migrated to version (\d+)", server.log())]
    assert versions and versions == list(range(1, len(versions) + 1)), server.log()
    server.stop()
    again = start_server(f"DataFolder {tmp_path}/data\n")
    assert "migrated" not in again.log()


@pytest.mark.sqlite_only
def test_sqlite_store_is_a_wal_file_at_the_latest_version(tmp_path, start_server):
    server = start_server(f"DataFolder {tmp_path}/data\n")
    for version in (1, 2, 3, 4, 5):
        assert f"store schema migrated to version {version}" in server.log()
    with sqlite3.connect(tmp_path / "data" / "rumble.sqlite") as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 5
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_queue_list(conf):
    empty = rumble(conf, "queue", "list")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == "queue is empty\n"
    with db(conf.parent) as c:
        c.execute("INSERT INTO queue (fid, sender, recipient, created, next_attempt, attempts, last_error) "
                  "VALUES ('abcdefghijklmnop', '', 'bob@example.net', 1000, 2000, 2, '451 4.4.1 no answer')")
    listed = rumble(conf, "queue", "list").stdout.splitlines()
    assert listed[0].split() == ["id", "file", "sender", "recipient", "attempts", "next", "attempt", "(UTC)", "last", "error"]
    row = listed[1].split("\t")
    assert row[:5] == ["1", "abcdefghijklmnop", "<>", "bob@example.net", "2"]
    assert row[5] == "1970-01-01 00:33:20"
    assert row[6] == "451 4.4.1 no answer"
