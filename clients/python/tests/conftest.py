import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from audience_client import Client

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN_DIR = pathlib.Path(os.environ.get("AUDIENCE_BIN_DIR", ROOT / ".build" / "debug"))


@pytest.fixture
def server():
    """A real audienced on a temporary socket and data directory; yields the socket path."""
    binary = BIN_DIR / "audienced"
    assert binary.exists(), f"{binary} not found: build it first (swift build)"
    d = tempfile.mkdtemp(prefix="aud-py-", dir="/tmp")
    sock = os.path.join(d, "s.sock")
    log = open(os.path.join(d, "audienced.log"), "w")
    p = subprocess.Popen([str(binary), "--socket", sock, "--data-dir", os.path.join(d, "data")], stdout=log, stderr=log)
    try:
        for _ in range(500):
            if os.path.exists(sock):
                try:
                    Client(sock).close()
                    break
                except Exception:
                    pass
            assert p.poll() is None, open(os.path.join(d, "audienced.log")).read()
            time.sleep(0.02)
        yield sock
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        log.close()
        shutil.rmtree(d, ignore_errors=True)
