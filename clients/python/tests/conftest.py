import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from audience_client import Client

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN_DIR = pathlib.Path(os.environ.get("AUDIENCE_BIN_DIR", ROOT / ".build" / "debug"))


@contextlib.contextmanager
def audienced(*args):
    """Runs a real audienced on a temporary socket and data directory; yields the socket path."""
    binary = BIN_DIR / "audienced"
    assert binary.exists(), f"{binary} not found: build it first (swift build)"
    d = tempfile.mkdtemp(prefix="aud-py-", dir="/tmp")
    sock = os.path.join(d, "s.sock")
    log = open(os.path.join(d, "audienced.log"), "w")
    # --exit-with-parent: a test run that dies does not leave its servers running.
    p = subprocess.Popen([str(binary), "--socket", sock, "--data-dir", os.path.join(d, "data"), "--exit-with-parent", *args],
                         stdout=log, stderr=log)
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
        assert p.poll() is None, "audienced died: " + open(os.path.join(d, "audienced.log")).read()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def server():
    """A real audienced on a temporary socket and data directory; yields the socket path."""
    with audienced() as sock:
        yield sock


class MongoTestServer:
    """scripts/mongo-test-server (mockupdb + mongomock): a MongoDB wire-protocol peer."""

    def __init__(self, port=0):
        self.port = port
        self.process = None

    def start(self):
        d = tempfile.mkdtemp(prefix="aud-mongo-", dir="/tmp")
        port_file = os.path.join(d, "port")
        args = [sys.executable, str(ROOT / "scripts" / "mongo-test-server"), "--port-file", port_file]
        if self.port:
            args += ["--port", str(self.port)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        for _ in range(500):
            if os.path.exists(port_file):
                self.port = int(open(port_file).read())
                shutil.rmtree(d, ignore_errors=True)  # the server needs it no more
                return self
            assert self.process.poll() is None, "mongo-test-server exited"
            time.sleep(0.02)
        raise AssertionError("mongo-test-server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}/"


@pytest.fixture
def mongo():
    m = MongoTestServer().start()
    try:
        yield m
    finally:
        m.stop()
