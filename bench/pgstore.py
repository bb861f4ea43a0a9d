"""The store engines bench/smtp.py and bench/imap.py run rumble with
(`--store sqlite,postgresql,postgresql-2nodes`), and the private PostgreSQL
they use, with what is needed to measure it.

The PostgreSQL server is tests/pg.py's PgServer (imported, so there is one
copy of how to start it), with two changes for benchmarking: durability on
(`fsync`, `synchronous_commit` and `full_page_writes` on, as PostgreSQL
ships; the tests turn them off for speed), comparable with rumble's SQLite
(WAL, `synchronous=FULL`); and `pg_stat_statements` loaded, to count the
statements (each one a round trip from rumble) a message or an operation
costs. Each rumble run gets a fresh, empty database of its own."""

import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import pg  # noqa: E402  tests/pg.py: PgServer, ROLE

STORES = ("sqlite", "postgresql", "postgresql-2nodes")
# Server labels in the tables: plain "rumble" stays the SQLite store (the
# scripts' default output is unchanged).
LABELS = {"sqlite": "rumble", "postgresql": "rumble-pg", "postgresql-2nodes": "rumble-pg-2n"}
LEGEND = ("rumble = SQLite store (WAL, synchronous=FULL); rumble-pg = one node on PostgreSQL; "
          "rumble-pg-2n = two nodes on one PostgreSQL database, clients split between them")
NODES = {"sqlite": 1, "postgresql": 1, "postgresql-2nodes": 2}
# MessageStore on PostgreSQL: `database` (rumble's default there: bodies are
# rows of `blobs`, each node has its own StorageFolder of working copies) or
# `folder` (bodies are the files; the nodes share one StorageFolder).
MESSAGE_STORES = ("database", "folder")


def add_arguments(ap, what):
    """The options both scripts take for the store engines."""
    ap.add_argument("--store", default="sqlite",
                    help=f"rumble's store engines, {what}: sqlite, postgresql, postgresql-2nodes "
                         "(comma-separated; default sqlite)")
    ap.add_argument("--pg-connections", type=int, default=20,
                    help="PostgreSQLConnections (pool size) per rumble node (default 20, rumble's default)")
    ap.add_argument("--message-store", default="database", choices=MESSAGE_STORES,
                    help="MessageStore of the PostgreSQL runs (default database, rumble's default there; "
                         "folder: the nodes share one StorageFolder)")


def storage_folder(message_store, nodes, k):
    """StorageFolder name of node k (0-based) of `nodes`."""
    return "storage" if nodes == 1 or message_store == "folder" else f"storage{k + 1}"


def describe_run(args):
    return (f"PostgreSQLConnections {args.pg_connections} per node; MessageStore {args.message_store} "
            + ("(bodies are rows of the database; each node has its own StorageFolder)"
               if args.message_store == "database" else "(bodies are files; the nodes share one StorageFolder)"))

# Appended to PgServer's `pg_ctl -o`; on the command line the last -c wins.
DURABLE = ("-c fsync=on -c synchronous_commit=on -c full_page_writes=on "
           "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_utility=on "
           "-c pg_stat_statements.max=5000")
CHECKED = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def parse_stores(text):
    stores = [s.strip().lower() for s in text.split(",") if s.strip()]
    bad = [s for s in stores if s not in STORES]
    if not stores or bad:
        sys.exit(f"--store: a comma-separated list of {', '.join(STORES)} (got {text!r})")
    return stores


def proc_cpu(pid, children=True):
    """CPU seconds (utime + stime, all threads) of a process from
    /proc/PID/stat; with `children`, also its descendants, living (their own
    utime + stime) and exited (cutime + cstime of whoever reaped them).
    None if the process is gone."""
    tck = os.sysconf("SC_CLK_TCK")

    def fields(p):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            return None
        return stat[stat.rindex(")") + 2:].split()

    own = fields(pid)
    if own is None:
        return None
    total = int(own[11]) + int(own[12])
    if children:
        parent_of = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                f = fields(d)
                if f:
                    parent_of[int(d)] = (int(f[1]), f)
        todo, seen = [pid], set()
        while todo:
            p = todo.pop()
            seen.add(p)
            kids = [(c, f) for c, (pp, f) in parent_of.items() if pp == p and c not in seen]
            for c, f in kids:
                total += int(f[11]) + int(f[12])
                todo.append(c)
        # Exited children reaped by the tree's processes.
        for p in seen:
            f = own if p == pid else parent_of.get(p, (0, None))[1]
            if f:
                total += int(f[13]) + int(f[14])
    return total / tck


class BenchPg(pg.PgServer):
    """tests/pg.py's PgServer, durable and with pg_stat_statements."""

    def _run(self, tool, *args):
        if tool == "pg_ctl" and args and args[-1] == "start":
            args = list(args)
            i = args.index("-o")
            args[i + 1] = f"{args[i + 1]} {DURABLE}"
        return super()._run(tool, *args)

    def start(self):
        super().start()
        shown = {k: self.admin.execute(f"SHOW {k}").fetchone()[0] for k in (*CHECKED, "wal_sync_method")}
        wrong = {k: v for k, v in shown.items() if k in CHECKED and v != CHECKED[k]}
        if wrong:
            raise RuntimeError(f"PostgreSQL did not take the benchmark's settings: {wrong}")
        self.version = self.admin.execute("SHOW server_version").fetchone()[0]
        self.settings = shown
        self.admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def describe(self):
        s = self.settings
        return (f"PostgreSQL {self.version} (private instance, loopback TCP, scram): "
                f"fsync={s['fsync']}, synchronous_commit={s['synchronous_commit']}, "
                f"full_page_writes={s['full_page_writes']}, wal_sync_method={s['wal_sync_method']} "
                f"(durable, as rumble's SQLite with synchronous=FULL; the tests run it with fsync off)")

    def postmaster(self):
        try:
            return int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cpu(self):
        """CPU seconds of the whole server: postmaster, backends, WAL writer,
        checkpointer, autovacuum, and the backends that have exited."""
        pid = self.postmaster()
        return proc_cpu(pid) if pid else None

    def directives(self, key, connections, message_store):
        """rumble.conf lines for a fresh database keyed by `key` (a path)."""
        db = self.database_for(pathlib.Path(key).resolve())
        return db, (f"DatabaseEngine postgresql\nPostgreSQLHost 127.0.0.1\nPostgreSQLPort {self.port}\n"
                    f"PostgreSQLUser {pg.ROLE}\nPostgreSQLPass {self.password}\nPostgreSQLDB {db}\n"
                    f"PostgreSQLConnections {connections}\nMessageStore {message_store}\n")

    def checkpoint(self):
        """Start a run with no dirty pages left from the previous one."""
        self.admin.execute("CHECKPOINT")

    def reset_statements(self):
        self.admin.execute("SELECT pg_stat_statements_reset()")

    def statements(self, db):
        """Statement executions in `db` since the last reset, from
        pg_stat_statements: {'all', 'begin', 'commit', 'rollback'}. Each is
        one round trip from rumble (its statements are prepared once per
        connection; those Parse round trips are not counted)."""
        rows = self.admin.execute(
            "SELECT s.query, s.calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "JOIN pg_roles r ON r.oid = s.userid WHERE d.datname = %s AND r.rolname = %s",
            (db, pg.ROLE)).fetchall()
        out = {"all": 0, "begin": 0, "commit": 0, "rollback": 0}
        for query, calls in rows:
            out["all"] += calls
            word = query.strip().split(None, 1)[0].lower() if query.strip() else ""
            if word in out:
                out[word] += calls
            key = "q:" + " ".join(query.split())
            out[key] = out.get(key, 0) + calls
        return out

    def query(self, db, sql):
        """One value from `db`, over the trusted socket as the superuser (not
        counted in statements(), which counts rumble's role only). One
        connection per database, kept: polling must not fork a backend each
        time."""
        import psycopg
        if not hasattr(self, "_conns"):
            self._conns = {}
        if db not in self._conns:
            self._conns[db] = psycopg.connect(host=str(self.dir), port=self.port, user=self.os_user,
                                              dbname=db, autocommit=True)
        return self._conns[db].execute(sql).fetchone()[0]

    def stop(self):
        for c in getattr(self, "_conns", {}).values():
            c.close()
        self._conns = {}
        super().stop()


def start_pg():
    server = BenchPg()
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


def top_statements(counts, per, n=8, width=120):
    """The `n` most executed statements in a statements() result (or a
    difference of two), as 'calls-per-unit  query' strings."""
    qs = sorted(((v, k[2:]) for k, v in counts.items() if k.startswith("q:") and v), reverse=True)[:n]
    return [f"{v / per:6.2f}  {q if len(q) <= width else q[:width] + '...'}" for v, q in qs]
