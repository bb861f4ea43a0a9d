"""`kv.get/set/incr/delete`: each script's own namespace in the store, kept
across calls and restarts, with TTLs, atomic increments, a size cap, and
no way into another script's keys. Runs on SQLite and, with
RUMBLE_TEST_STORE=postgresql, on PostgreSQL."""

import threading
import time

from conftest import free_port, script_run, write_config
from lua_remote import Remote, remote_script


def serve_kv(tmp_path, start_server, extra="", names=("kvs",)):
    """Serve a remote script per name (each on its own port); returns the
    ports (and, as `server`, the server)."""
    ports = {}
    lines = []
    for name in names:
        ports[name] = free_port()
        (tmp_path / f"{name}.lua").write_text(remote_script(ports[name], threads=8))
        lines.append(f"LoadScript {name}.lua\nGrant {name} listen {ports[name]}\n")
    ports["server"] = start_server(f"DataFolder {tmp_path}/data\nBindToAddress 127.0.0.1\n{''.join(lines)}{extra}")
    return ports


def test_set_get_incr_delete_and_values_as_text(tmp_path, start_server):
    port = serve_kv(tmp_path, start_server)["kvs"]
    with Remote(port) as r:
        assert r.call('return kv.get("missing")') == [None]
        assert r.call('return kv.set("greeting", "hello\\0world")') == [True]
        assert r.call('return kv.get("greeting")') == ["hello\u0000world"]
        assert r.call('return kv.set("n", 42), kv.get("n"), kv.set("f", 1.5), kv.get("f")') == [True, "42", True, "1.5"]
        assert r.call('return kv.set(7, "seven"), kv.get("7")') == [True, "seven"]
        assert r.call('return kv.incr("count"), kv.incr("count", 10), kv.incr("count", -3)') == [1, 11, 8]
        assert r.call('return math.type(kv.incr("count", 0))') == ["integer"]
        assert r.call('return kv.get("count")') == ["8"]
        # Text that is not a number counts as 0, as in the store.
        assert r.call('return kv.incr("greeting", 5)') == [5]
        assert r.call('return kv.delete("n"), kv.delete("n"), kv.get("n")') == [True, False, None]
    # Another connection (a fresh instance) sees the same store.
    with Remote(port) as r:
        assert r.call('return kv.get("count"), kv.get("7")') == ["8", "seven"]


def test_values_survive_a_server_restart(tmp_path, start_server):
    started = serve_kv(tmp_path, start_server)
    with Remote(started["kvs"]) as r:
        assert r.call('return kv.set("kept", "across restarts", 3600), kv.incr("visits")') == [True, 1]
    started["server"].stop()
    again = serve_kv(tmp_path, start_server)
    with Remote(again["kvs"]) as r:
        assert r.call('return kv.get("kept"), kv.incr("visits")') == ["across restarts", 2]


def test_bad_arguments_are_lua_errors(tmp_path, start_server):
    port = serve_kv(tmp_path, start_server)["kvs"]
    with Remote(port) as r:
        assert r.message('return kv.get()') == "bad argument #1 to 'get' (string expected, got nil)"
        assert r.message('return kv.set({}, "x")') == "bad argument #1 to 'set' (string expected, got table)"
        assert r.message('return kv.set("k", {})') == "bad argument #2 to 'set' (string expected, got table)"
        assert r.message('return kv.set("k", nil)') == "bad argument #2 to 'set' (string expected, got nil)"
        assert r.message('return kv.set("k", "v", 0)') == "bad argument #3 to 'set' (ttl: at least 1 second expected, got 0)"
        assert r.message('return kv.set("k", "v", "soon")') == \
            "bad argument #3 to 'set' (ttl: a whole number expected, got string)"
        assert r.message('return kv.incr("k", 1.5)') == "bad argument #2 to 'incr' (by: a whole number expected, got number)"
        assert r.message('return kv.get("")') == "invalid argument: an empty key"
        assert r.message('return kv.set(string.rep("k", 1025), "v")') == \
            "invalid argument: a key of 1025 bytes (at most 1024)"
        assert r.message('return kv.delete("\\255")') == "bad argument #1 to 'delete' (the key is not UTF-8 text)"
        assert r.call('return kv.set(string.rep("k", 1024), "v")') == [True]


def test_ttl_expiry(tmp_path, start_server):
    port = serve_kv(tmp_path, start_server)["kvs"]
    with Remote(port) as r:
        assert r.call('return kv.set("brief", "x", 1), kv.set("lasting", "y", 60), kv.incr("window", 1, 1)') == [True, True, 1]
        assert r.call('return kv.get("brief"), kv.incr("window")') == ["x", 2]
        time.sleep(2.2)
        assert r.call('return kv.get("brief"), kv.get("lasting")') == [None, "y"]
        # The counter's window is over: it starts again from nothing.
        assert r.call('return kv.incr("window"), kv.delete("brief")') == [1, False]


def test_incr_is_atomic_across_concurrent_connections(tmp_path, start_server):
    port = serve_kv(tmp_path, start_server)["kvs"]
    clients, rounds = 4, 25
    seen, errors = [], []

    def work():
        try:
            with Remote(port, timeout=60) as r:
                for _ in range(rounds):
                    seen.extend(r.call('return kv.incr("hits")'))
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Every increment returned a distinct value: none was lost or doubled.
    assert sorted(seen) == list(range(1, clients * rounds + 1))
    with Remote(port) as r:
        assert r.call('return kv.get("hits")') == [str(clients * rounds)]


def test_the_cap_is_per_script_and_named_in_the_error(tmp_path, start_server):
    ports = serve_kv(tmp_path, start_server, names=("small", "big"), extra="ScriptLimit small kvbytes 1K\n")
    with Remote(ports["small"]) as r:
        assert r.call('return kv.set("a", string.rep("x", 900))') == [True]
        assert r.message('return kv.set("b", string.rep("x", 200))') == \
            'the key-value store of script "small" is full (1024 bytes)'
        # Replacing a value counts its new size only.
        assert r.call('return kv.set("a", string.rep("y", 1000))') == [True]
        assert r.call('return kv.get("b"), #kv.get("a")') == [None, 1000]
        assert r.call('return kv.delete("a"), kv.set("b", string.rep("x", 200))') == [True, True]
    with Remote(ports["big"]) as r:  # the default cap, 1 MiB
        assert r.call('return kv.set("a", string.rep("x", 900000))') == [True]
        assert r.message('return kv.set("b", string.rep("x", 200000))') == \
            'the key-value store of script "big" is full (1048576 bytes)'


def test_two_scripts_never_see_each_others_keys(tmp_path, start_server):
    ports = serve_kv(tmp_path, start_server, names=("alice", "bob"))
    with Remote(ports["alice"]) as a, Remote(ports["bob"]) as b:
        assert a.call('return kv.set("secret", "alice\'s")') == [True]
        assert b.call('return kv.get("secret"), kv.delete("secret"), kv.incr("secret")') == [None, False, 1]
        assert a.call('return kv.get("secret")') == ["alice's"]


def test_same_file_name_under_two_load_script_names_has_two_namespaces(tmp_path, start_server):
    ports = {}
    lines = ""
    for tenant in ("a", "b"):
        ports[tenant] = free_port()
        folder = tmp_path / "tenants" / tenant
        folder.mkdir(parents=True)
        (folder / "filter.lua").write_text(remote_script(ports[tenant]))
        lines += f"LoadScript tenants/{tenant}/filter.lua filter-{tenant}\nGrant filter-{tenant} listen {ports[tenant]}\n"
    start_server(f"DataFolder {tmp_path}/data\nBindToAddress 127.0.0.1\n{lines}")
    with Remote(ports["a"]) as a, Remote(ports["b"]) as b:
        assert a.call('return kv.set("k", "from a")') == [True]
        assert b.call('return kv.get("k"), kv.set("k", "from b")') == [None, True]
        assert a.call('return kv.get("k")') == ["from a"]


def test_script_run_with_a_config_uses_the_store_and_without_explains(tmp_path):
    conf = write_config(tmp_path / "rumble.conf", f"DataFolder {tmp_path}/data\n")
    (tmp_path / "count.lua").write_text('print(kv.incr("runs"), kv.get("runs"))\n')
    first = script_run("count.lua", config=conf, cwd=tmp_path)
    assert (first.returncode, first.stdout) == (0, "1\t1\n"), first.stderr
    second = script_run("count.lua", config=conf, cwd=tmp_path)
    assert (second.returncode, second.stdout) == (0, "2\t2\n"), second.stderr
    bare = script_run("count.lua", cwd=tmp_path)
    assert bare.returncode == 1
    assert "kv: no store here (run the script with --config rumble.conf, or under rumble serve)" in bare.stderr
