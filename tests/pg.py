"""The store engine the end-to-end tests run against, chosen by
RUMBLE_TEST_STORE: `sqlite` (the default: a file in each DataFolder) or
`postgresql`.

With postgresql, one private PostgreSQL server runs for the whole pytest
session (conftest starts and stops it) and `config_with_store` gives every
data folder a fresh, empty database of its own. Keying databases by data
folder keeps SQLite's semantics: configs naming one DataFolder (an admin
command and the server after it, a restart, two configs on one folder)
share a store; different folders never do.

psycopg is imported only where PostgreSQL is used, so the sqlite run needs
nothing new."""

import glob
import os
import pathlib
import pwd
import secrets
import shutil
import subprocess
import tempfile

STORE = os.environ.get("RUMBLE_TEST_STORE", "sqlite")
STORES = ("sqlite", "postgresql")

# The role rumble logs in as. Not a superuser: it owns its databases and
# creates its tables there, as on a real installation.
ROLE = "rumble"


def directives(text):
    """A config's directives as {lowercased key: first value}. The first
    occurrence wins, as in rumble; conditionals are not evaluated (the tests'
    configs put none around the store directives)."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "<")):
            continue
        key, *value = line.split(None, 1)
        found.setdefault(key.lower(), value[0] if value else "")
    return found


def data_folder(config_path, text):
    """The DataFolder rumble would use: relative paths resolve against the
    config's folder, and the default is `db` there (config/settings.rs)."""
    written = directives(text).get("datafolder") or "db"
    return (pathlib.Path(config_path).parent / written).resolve()


def connect_params(config_path):
    """psycopg connection arguments from a config file that uses PostgreSQL,
    or None (no such file, or another engine): tests read the store with the
    same settings the server was given."""
    path = pathlib.Path(config_path)
    if not path.exists():
        return None
    d = directives(path.read_text())
    if d.get("databaseengine", "").lower() != "postgresql":
        return None
    return dict(host=d["postgresqlhost"], port=int(d["postgresqlport"]), user=d["postgresqluser"],
                password=d["postgresqlpass"], dbname=d["postgresqldb"])


class PgServer:
    """A throwaway PostgreSQL in a temporary folder. The tests run as root
    and PostgreSQL refuses to, so it runs as the `postgres` user (runuser).
    TCP on 127.0.0.1 needs a password (scram-sha-256), so rumble's
    PostgreSQLPass is really checked; the unix socket in the folder trusts
    everyone, for the admin work done here."""

    def __init__(self, os_user="postgres"):
        self.os_user = os_user
        self.bin = self._find_bin()
        self.password = secrets.token_hex(12)
        self.dir = None
        self.port = None
        self.admin = None
        self.databases = {}  # data folder -> database name

    @staticmethod
    def _find_bin():
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
        if not found:
            raise RuntimeError("PostgreSQL's initdb not found: run scripts/setup.sh (apt-get install postgresql)")
        return pathlib.Path(found[-1]).parent

    def _run(self, tool, *args):
        try:
            subprocess.run(["runuser", "-u", self.os_user, "--", str(self.bin / tool), *args],
                           check=True, capture_output=True, text=True, timeout=60)
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"{tool} failed:\n{e.stdout}{e.stderr}") from None

    def start(self):
        import psycopg
        from psycopg import sql

        from conftest import free_port  # here, not at the top: conftest imports this module

        pw = pwd.getpwnam(self.os_user)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rumble-pg."))
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        data = self.dir / "data"
        # initdb wants a superuser password when host logins need one; it is
        # never used (admin work goes over the trusted socket), so it is random
        # and only ever in a file readable by postgres.
        pwfile = self.dir / "pwfile"
        pwfile.write_text(secrets.token_hex(16) + "\n")
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        pwfile.chmod(0o600)
        try:
            self._run("initdb", "-D", str(data), "-U", self.os_user, "--auth-local=trust",
                      "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8",
                      "--no-sync")
        finally:
            pwfile.unlink()
        # A free port can be taken between asking and binding: try a few.
        for attempt in range(5):
            self.port = free_port()
            try:
                self._run("pg_ctl", "-D", str(data), "-l", str(self.dir / "server.log"), "-w", "-t", "30",
                          "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                                "-c max_connections=200 -c fsync=off -c synchronous_commit=off "
                                "-c full_page_writes=off", "start")
                break
            except RuntimeError:
                if attempt == 4:
                    raise
        self.admin = psycopg.connect(host=str(self.dir), port=self.port, user=self.os_user, dbname="postgres",
                                     autocommit=True)
        self.admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(ROLE), sql.Literal(self.password)))

    def stop(self):
        """Stop the server and remove its folder; safe after a failed start."""
        if self.admin:
            self.admin.close()
            self.admin = None
        if self.dir is None:
            return
        if (self.dir / "data" / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", self.os_user, "--", str(self.bin / "pg_ctl"), "-D",
                            str(self.dir / "data"), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def database_for(self, folder):
        """The database of a data folder, created empty on first use."""
        from psycopg import sql

        if folder not in self.databases:
            name = f"rumble_{len(self.databases) + 1}"
            self.admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(ROLE)))
            self.databases[folder] = name
        return self.databases[folder]


_server = None  # the session's PgServer while RUMBLE_TEST_STORE=postgresql


def start_session():
    global _server
    _server = PgServer()
    try:
        _server.start()
    except BaseException:
        _server.stop()
        _server = None
        raise


def stop_session():
    global _server
    if _server:
        _server.stop()
        _server = None


def store_directives(key):
    """The PostgreSQL directives of the database keyed by `key` (a path),
    created on first use: configs given the same key share a store (a data
    folder's configs, or several nodes)."""
    if _server is None:
        raise RuntimeError("no PostgreSQL session is running (RUMBLE_TEST_STORE=postgresql)")
    db = _server.database_for(pathlib.Path(key).resolve())
    return (f"DatabaseEngine postgresql\nPostgreSQLHost 127.0.0.1\nPostgreSQLPort {_server.port}\n"
            f"PostgreSQLUser {ROLE}\nPostgreSQLPass {_server.password}\nPostgreSQLDB {db}\n"
            f"PostgreSQLConnections 8\n")


def config_with_store(config_path, text):
    """`text` plus the store directives of the engine under test. The
    sqlite run and configs that choose their own DatabaseEngine are left
    as written."""
    if STORE == "sqlite" or "databaseengine" in directives(text):
        return text
    if _server is None:
        raise RuntimeError("RUMBLE_TEST_STORE=postgresql, but no PostgreSQL session is running")
    if text and not text.endswith("\n"):
        text += "\n"
    return text + store_directives(data_folder(config_path, text))


def run_with_server(command):
    """Run `command` with a private PostgreSQL whose `rumble` role may
    create databases, named in RUMBLE_TEST_PG ("host port user password"):
    the store's unit tests (`cargo test`) check each operation against it
    as well as against SQLite. Returns the command's exit status."""
    start_session()
    try:
        _server.admin.execute(f'ALTER ROLE "{ROLE}" CREATEDB')
        env = dict(os.environ, RUMBLE_TEST_PG=f"127.0.0.1 {_server.port} {ROLE} {_server.password}")
        return subprocess.run(command, env=env).returncode
    finally:
        stop_session()


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 3 or sys.argv[1] != "run":
        sys.exit("usage: python3 tests/pg.py run COMMAND [ARG...]")
    sys.exit(run_with_server(sys.argv[2:]))
