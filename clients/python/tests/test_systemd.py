"""audienced under systemd socket activation: it serves the listening socket it is handed."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from audience_client import Client

from .conftest import BIN_DIR


def test_socket_activation_serves_the_inherited_socket():
    d = tempfile.mkdtemp(prefix="aud-sd-", dir="/tmp")
    path = os.path.join(d, "s.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    log = open(os.path.join(d, "audienced.log"), "w")
    # As systemd does: the socket is fd 3, LISTEN_FDS=1 and LISTEN_PID is the service's pid.
    p = subprocess.Popen(
        ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', str(BIN_DIR / "audienced"), "--socket", path,
         "--data-dir", os.path.join(d, "data")],
        preexec_fn=lambda: os.dup2(listener.fileno(), 3), close_fds=False, stdout=log, stderr=log)
    try:
        for _ in range(500):
            try:
                with Client(path) as c:
                    assert c.ingest([{"cookie": "activated"}])["accepted"] == 1
                    assert c.get_user("activated")["data"]["cookie"] == "activated"
                    break
            except Exception:
                assert p.poll() is None, open(log.name).read()
                time.sleep(0.02)
        else:
            raise AssertionError("audienced did not serve the inherited socket")
        assert "listening on the socket systemd passed" in open(log.name).read()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        # The socket file is systemd's: audienced leaves it in place.
        assert os.path.exists(path)
    finally:
        if p.poll() is None:
            p.kill()
        listener.close()
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def test_socket_activation_refuses_a_tcp_socket():
    # Callers are told apart by their Unix peer credentials: a TCP socket (ListenStream=host:port)
    # would serve anyone who can reach the port, so audienced refuses it.
    d = tempfile.mkdtemp(prefix="aud-sd-", dir="/tmp")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        p = subprocess.run(
            ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', str(BIN_DIR / "audienced"), "--socket",
             os.path.join(d, "s.sock"), "--data-dir", os.path.join(d, "data")],
            preexec_fn=lambda: os.dup2(listener.fileno(), 3), close_fds=False, capture_output=True, text=True,
            timeout=60)
        assert p.returncode != 0
        assert "not a Unix domain socket" in p.stderr + p.stdout, p.stderr + p.stdout
    finally:
        listener.close()
        shutil.rmtree(d, ignore_errors=True)
