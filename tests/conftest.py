"""Shared fixtures: the real `rumble` binary, `rumble script run`, and
servers started from a config written into a temporary folder.

RUMBLE_TEST_STORE picks the store engine every config is written for
(`sqlite`, the default, or `postgresql`; see pg.py). Configs that a server
or an admin command reads go through `write_config`."""

import os
import pathlib
import re
import socket
import subprocess
import time

import pytest

import pg

ROOT = pathlib.Path(__file__).resolve().parent.parent
LUA = ROOT / "tests" / "lua"


def pytest_configure(config):
    if pg.STORE not in pg.STORES:
        raise pytest.UsageError(f"RUMBLE_TEST_STORE={pg.STORE!r}: expected one of {', '.join(pg.STORES)}")
    config.addinivalue_line("markers", "sqlite_only: checks the SQLite store file itself; skipped for other stores")


def pytest_report_header(config):
    return f"rumble store under test: {pg.STORE} (RUMBLE_TEST_STORE)"


def pytest_collection_modifyitems(config, items):
    if pg.STORE == "sqlite":
        return
    skip = pytest.mark.skip(reason=f"about the SQLite store file; RUMBLE_TEST_STORE={pg.STORE} has none")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def store_engine():
    """The private PostgreSQL of a RUMBLE_TEST_STORE=postgresql run: started
    before the first test, stopped and removed after the last, also when
    tests fail or the run is interrupted."""
    if pg.STORE != "postgresql":
        yield
        return
    try:
        pg.start_session()
    except Exception as e:
        pytest.exit(f"RUMBLE_TEST_STORE=postgresql: cannot start PostgreSQL: {e}", returncode=3)
    try:
        yield
    finally:
        pg.stop_session()


def write_config(path, text) -> pathlib.Path:
    """Write a rumble config with the store settings of the engine under
    test (a fresh database per data folder with PostgreSQL)."""
    path = pathlib.Path(path)
    path.write_text(pg.config_with_store(path, text))
    return path


def rumble_bin() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("RUMBLE_BIN", ROOT / "target" / "release" / "rumble"))
    if not path.exists():
        pytest.exit(f"{path} is missing: run `cargo build --release` first", returncode=2)
    return path


def run_rumble(*args, timeout=60, cwd=None, env=None):
    """Run `rumble ARGS...` and return the CompletedProcess (text mode)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [str(rumble_bin()), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, env=full_env,
    )


def script_run(path, *args, grants=(), cpu=None, memory=None, config=None, timeout=60, cwd=None):
    cmd = ["script", "run"]
    for g in grants:
        cmd += ["--grant", g]
    if cpu:
        cmd += ["--cpu-limit", cpu]
    if memory:
        cmd += ["--memory-limit", memory]
    if config:
        cmd += ["--config", config]
    cmd += [path, *args]
    return run_rumble(*cmd, timeout=timeout, cwd=cwd)


_handed_out: set[int] = set()


def free_port() -> int:
    """A free loopback port not handed out before in this run: the kernel
    may offer a just-closed port again, and two services of one server
    given the same port would leave one of them unbound."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


class Server:
    """A `rumble serve` process; its stderr (the log) is collected in a file."""

    def __init__(self, folder: pathlib.Path, config_text: str, config_name="rumble.conf"):
        self.folder = folder
        self.config = write_config(folder / config_name, config_text)
        self.log_path = folder / f"{config_name}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(rumble_bin()), "serve", "--config", str(self.config)],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=folder,
            env=dict(os.environ, RUST_LOG="info"),
        )
        self.wait_for_log(r"rumble \S+ ready", timeout=30)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_log(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            m = re.search(pattern, text)
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited ({self.proc.returncode}):\n{text}")
            time.sleep(0.02)
        raise AssertionError(f"log never matched {pattern!r}:\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def remove_files(self):
        self.config.unlink(missing_ok=True)
        self.log_path.unlink(missing_ok=True)


@pytest.fixture
def start_server(tmp_path):
    servers = []

    def start(config_text, folder=None):
        server = Server(folder or tmp_path, config_text)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


class LineClient:
    """A line-oriented TCP client for script services."""

    def __init__(self, port, timeout=10.0, source=None):
        # source: a loopback address of its own (127.0.0.2, ...), for tests
        # that need clients from several addresses (per-address limits).
        source_address = (source, 0) if source else None
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=source_address)
        self.file = self.sock.makefile("rb")

    def send(self, line: str):
        self.sock.sendall(line.encode() + b"\r\n")

    def line(self) -> str:
        data = self.file.readline()
        return data.decode(errors="replace").rstrip("\r\n")

    def ask(self, line: str) -> str:
        self.send(line)
        return self.line()

    def close(self):
        self.file.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
