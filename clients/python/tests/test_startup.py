"""A server stopped while it starts (its store opening, a replay) says so on stderr."""
import os
import signal
import sqlite3
import subprocess
import time

from .conftest import BIN_DIR


def start(tmp_path):
    return subprocess.Popen([str(BIN_DIR / "audienced"), "--socket", str(tmp_path / "s.sock"),
                             "--data-dir", str(tmp_path / "data")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_stop_while_the_store_opens_is_said(tmp_path):
    first = start(tmp_path)
    for _ in range(500):
        if os.path.exists(tmp_path / "s.sock"):
            break
        time.sleep(0.02)
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=30)
    # Another writer holds the database: opening it waits (SQLite's busy timeout, 5 s), which
    # is where a long start (a replay after a crash) would be.
    db = sqlite3.connect(tmp_path / "data" / "audience.db", isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    db.execute("INSERT INTO meta(key, value) VALUES ('held', '1')")
    try:
        server = start(tmp_path)
        time.sleep(1.5)
        assert server.poll() is None, server.stderr.read()
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    finally:
        db.execute("ROLLBACK")
        db.close()
    # The default action still ends it (the status says SIGTERM), with a line first.
    assert server.returncode == -signal.SIGTERM, err
    assert "stopped by SIGTERM while starting (before its graceful stop was ready); nothing acknowledged is lost" in err, err
