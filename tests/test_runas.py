"""RunAs/RunAsGroup switch user after the listeners are bound (as Rumble
did), and check the new user can write the server's folders; DatabaseEngine
values this build does not have are refused instead of silently ignored."""

import os
import pathlib
import pwd
import grp
import shutil
import smtplib
import subprocess
import tempfile

import pytest

from conftest import Server, free_port, rumble_bin, write_config
from mailstore import wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching user needs root")


def nobody():
    user = pwd.getpwnam("nobody")
    return user.pw_uid, grp.getgrgid(user.pw_gid).gr_name


@pytest.fixture
def open_folder():
    """A folder outside pytest's (root-only) tmp tree, so `nobody` can reach it."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="rumble-runas-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def config(folder, port, extra=""):
    return (f"ServerName runas.test\nDataFolder {folder}/data\nStorageFolder {folder}/storage\n"
            f"BindToAddress 127.0.0.1\nEnableSMTP 1\nSMTPPort {port}\nEnableSubmission 0\nEnableSMTPS 0\n"
            f"EnablePOP3 0\nEnableIMAP4 0\nEnableIMAPS 0\n{extra}")


def admin(folder, *args):
    subprocess.run([str(rumble_bin()), "--config", str(folder / "rumble.conf"), *args], check=True, capture_output=True)


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("Uid:")).split()[1])


@needs_root
def test_runas_switches_user_after_binding_and_mail_still_flows(open_folder):
    uid, group = nobody()
    port = free_port()
    text = config(open_folder, port, f"RunAs nobody\nRunAsGroup {group}\n")
    write_config(open_folder / "rumble.conf", text)
    admin(open_folder, "domain", "add", "runas.test")
    admin(open_folder, "account", "add", "ann@runas.test", "--password", "pw")
    (open_folder / "storage").mkdir(exist_ok=True)
    subprocess.run(["chown", "-R", f"nobody:{group}", str(open_folder / "data"), str(open_folder / "storage")], check=True)
    server = Server(open_folder, text)
    try:
        assert uid_of(server.proc.pid) == uid
        assert "running as uid" in server.log()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("x@elsewhere.test", ["ann@runas.test"], b"Subject: hi\r\n\r\nhello\r\n")
        letters = lambda: [p for p in (open_folder / "storage").glob("*.msg")]
        wait_until(lambda: letters(), what="the letter written by the switched user")
        assert letters()[0].stat().st_uid == uid
    finally:
        server.stop()


@needs_root
def test_runas_refuses_to_run_when_the_user_cannot_write_the_data_folder(open_folder):
    port = free_port()
    text = config(open_folder, port, "RunAs nobody\n")
    write_config(open_folder / "rumble.conf", text)
    proc = subprocess.run([str(rumble_bin()), "serve", "--config", str(open_folder / "rumble.conf")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "RunAs nobody: cannot write" in proc.stderr and "chown -R nobody" in proc.stderr, proc.stderr


def test_unknown_runas_user_unsupported_engines_and_unreachable_databases_are_refused(open_folder):
    port, nobody_listens = free_port(), free_port()
    unreachable = (f"DatabaseEngine postgresql\nPostgreSQLHost 127.0.0.1\nPostgreSQLPort {nobody_listens}\n"
                   "PostgreSQLPass hunter2-secret\n")
    for extra, message in (("RunAs no-such-user-here\n", 'no such user "no-such-user-here"'),
                           ("DatabaseEngine mysql\n", "DatabaseEngine mysql is not supported"),
                           ("DatabaseEngine sqlite\nMessageStore database\n", "MessageStore database needs DatabaseEngine postgresql"),
                           (unreachable, f"cannot open the store postgresql://rumble@127.0.0.1:{nobody_listens}/rumble")):
        write_config(open_folder / "rumble.conf", config(open_folder, port, extra))
        proc = subprocess.run([str(rumble_bin()), "serve", "--config", str(open_folder / "rumble.conf")],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and message in proc.stderr, (extra, proc.stderr)
        assert "hunter2" not in proc.stderr
    # The admin CLI opens the same store, and says the same.
    proc = subprocess.run([str(rumble_bin()), "--config", str(open_folder / "rumble.conf"), "domain", "list"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "cannot open the store postgresql://" in proc.stderr, proc.stderr
    assert "hunter2" not in proc.stderr
