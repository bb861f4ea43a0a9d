"""Reading the server's store from tests: the queue, delivered letters and
spool files, straight from the database (SQLite or PostgreSQL, as the
folder's rumble.conf says) and the storage folder (read-only)."""

import sqlite3
import time

import pg


def db(folder):
    """A connection to the store of the server in `folder`, used as
    `with db(folder) as c: c.execute(sql, args)` with SQLite's ?
    placeholders for either engine."""
    params = pg.connect_params(folder / "rumble.conf")
    if params is None:
        return sqlite3.connect(folder / "data" / "rumble.sqlite", timeout=10)
    return PgConnection(params)


class PgConnection:
    """A psycopg connection that takes the SQL written for sqlite3: its ?
    placeholders become psycopg's %s (no test's SQL has a ? or % of its own).
    Leaving `with` commits (or rolls back on an error) and closes."""

    def __init__(self, params):
        import psycopg  # only the postgresql run needs the driver
        self.conn = psycopg.connect(**params)

    def execute(self, sql, args=()):
        return self.conn.execute(sql.replace("?", "%s"), args)

    def executemany(self, sql, rows):
        self.conn.cursor().executemany(sql.replace("?", "%s"), rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.__exit__(*exc)


def queue(folder):
    """Queue rows: (fid, sender, recipient, params, attempts, last_error)."""
    with db(folder) as c:
        return c.execute(
            "SELECT fid, sender, recipient, params, attempts, last_error FROM queue ORDER BY id").fetchall()


def letters(folder, address=None):
    """Delivered letters as dicts, oldest first; `address` picks one account."""
    sql = ("SELECT a.\"user\" || '@' || a.domain, f.name, m.uid, m.fid, m.size, m.flags "
           "FROM messages m JOIN folders f ON m.folder = f.id JOIN accounts a ON f.account = a.id ")
    args = ()
    if address:
        sql += "WHERE a.\"user\" || '@' || a.domain = ? "
        args = (address.lower(),)
    with db(folder) as c:
        rows = c.execute(sql + "ORDER BY m.id", args).fetchall()
    keys = ("address", "folder", "uid", "fid", "size", "flags")
    return [dict(zip(keys, r)) for r in rows]


def letter_bytes(folder, letter):
    return (folder / "storage" / f"{letter['fid']}.msg").read_bytes()


def accepted(folder):
    """Queue rows plus delivered letters, read in one snapshot: a local
    delivery turns one into the other, so this only grows when mail is
    accepted (for recipients that are mailboxes)."""
    with db(folder) as c:
        return c.execute("SELECT (SELECT count(*) FROM queue) + (SELECT count(*) FROM messages)").fetchone()[0]


def spool_files(folder):
    """Spool files (no extension); delivered letters end in .msg."""
    storage = folder / "storage"
    if not storage.exists():
        return []
    return sorted(p.name for p in storage.iterdir() if p.is_file() and "." not in p.name)


def new_spool_files(folder, before):
    """Spool files that were not there before (older ones may be delivered
    and removed meanwhile)."""
    return sorted(set(spool_files(folder)) - set(before))


def wait_until(predicate, timeout=10.0, what="condition", poke=None, interval=0.05):
    """predicate()'s first true value; `poke()` runs between tries."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        if poke:
            poke()
        time.sleep(interval)


def wait_letters(folder, address, count, timeout=10.0):
    """At least `count` letters for `address` (all of them, oldest first)."""
    def enough():
        got = letters(folder, address)
        return (got,) if len(got) >= count else None
    return wait_until(enough, timeout, f"{count} letter(s) for {address}")[0]


def queued_count(server):
    """Messages the server has acknowledged so far, from its log."""
    import re
    return len(re.findall(r"queued [a-z]{16} from ", server.log()))


def tls_context():
    """A client TLS context that accepts the server's self-signed certificate."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def deliver(smtp_port, folder, rcpt, bodies):
    """Send `bodies` to local `rcpt` over SMTP, in order: each is in the
    mailbox before the next is sent (the mailman delivers queued mail in
    parallel, so messages sent together may be stored in any order)."""
    import smtplib
    before = len(letters(folder, rcpt))
    with smtplib.SMTP("127.0.0.1", smtp_port) as s:
        for n, b in enumerate(bodies, 1):
            s.sendmail("x@example.net", [rcpt], b)
            stored = wait_letters(folder, rcpt, before + n)
    return stored
