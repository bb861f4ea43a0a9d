"""Durability: kill -9 the server while smtp-source and acknowledged-tracking
senders are loading it; after a restart, every message that got its 250 is
in the mailbox exactly once, and nothing is there twice."""

import os
import re
import shutil
import smtplib
import subprocess
import threading
import time

import pytest

from conftest import Server, free_port, rumble_bin, write_config
from mailstore import letter_bytes, letters, queue, spool_files, wait_until

SENDERS = 6
SMTP_SOURCE = shutil.which("smtp-source") or next(
    (p for p in ["/usr/sbin/smtp-source"] if os.path.exists(p)), None)


def sender(port, name, acked, stop):
    i = 0
    while not stop.is_set():
        i += 1
        mid = f"<{name}-{i}@durability.test>"
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
                s.sendmail("load@durability.test", ["bob@example.org"],
                           f"Message-ID: {mid}\r\nSubject: {i}\r\n\r\n{'x' * 2000}\r\n")
        except (OSError, smtplib.SMTPException):
            return  # the server died under us: this one was not acknowledged
        acked.append(mid)


@pytest.mark.skipif(not SMTP_SOURCE, reason="smtp-source (postfix) not installed")
def test_kill_9_under_load_loses_no_acknowledged_message(tmp_path):
    port = free_port()
    config = (f"ServerName mx.example.org\nDataFolder {tmp_path}/data\nStorageFolder {tmp_path}/storage\n"
              f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {port}\nEnableSubmission 0\nEnableSMTPS 0\n")
    write_config(tmp_path / "rumble.conf", config)
    admin = [str(rumble_bin()), "--config", str(tmp_path / "rumble.conf")]
    subprocess.run(admin + ["domain", "add", "example.org"], check=True, capture_output=True)
    subprocess.run(admin + ["account", "add", "bob@example.org", "--password", "pw"], check=True, capture_output=True)
    server = Server(tmp_path, config)
    load = subprocess.Popen([SMTP_SOURCE, "-s", "10", "-m", "100000", "-l", "4096", "-f", "load@durability.test",
                             "-t", "bob@example.org", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=sender, args=(port, f"s{n}", acked, stop)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked) >= 60, timeout=30, what="some acknowledged messages")
        server.proc.kill()  # SIGKILL: no shutdown, no flush
        server.proc.wait()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        load.kill()
        load.wait()
    killed_with = len(acked)
    server = Server(tmp_path, config)
    try:
        wait_until(lambda: not queue(tmp_path), timeout=120, what="the queue to drain after the restart")
        seen = {}
        for letter in letters(tmp_path, "bob@example.org"):
            for mid in re.findall(rb"Message-ID: (<s\d+-\d+@durability\.test>)", letter_bytes(tmp_path, letter)):
                seen[mid.decode()] = seen.get(mid.decode(), 0) + 1
        missing = [m for m in acked if m not in seen]
        twice = {m: n for m, n in seen.items() if n > 1}
        assert not missing, f"{len(missing)} acknowledged message(s) lost, e.g. {missing[:3]}"
        assert not twice, f"stored more than once: {list(twice.items())[:3]}"
        assert killed_with >= 60
        total = len(letters(tmp_path, "bob@example.org"))
        assert total >= len(acked)
        # Files a crash left without a row are swept at start: nothing leaks.
        # (Only a StorageFolder that other nodes share, MessageStore folder
        # on PostgreSQL, waits until such files are an hour old.)
        wait_until(lambda: spool_files(tmp_path) == [], what="orphan spool files swept")
        msg_files = [p for p in (tmp_path / "storage").iterdir() if p.name.endswith(".msg")]
        assert len(msg_files) == len(letters(tmp_path)), "letter files without a row"
        print(f"acknowledged before kill -9: {len(acked)}; letters after restart: {total} (smtp-source load included)")
    finally:
        server.stop()
