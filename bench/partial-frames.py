"""Memory held by connections part way through large frames.

    .venv/bin/python bench/partial-frames.py SOCKET CONNECTIONS PID

Opens CONNECTIONS connections (each says Hello), then on each sends all but the last byte of a
4 MiB frame, without blocking, for 8 seconds; prints the server's resident memory (PID) before
and after, and how many connections got all those bytes in. The server counts such frames
against --max-ingest-bytes as they arrive (docs/PROTOCOL.md): the others wait, unread.
"""
import struct
import sys
import time

sys.path.insert(0, "clients/python")
from audience_client import Client  # noqa: E402

path, n, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def rss():
    return next(int(line.split()[1]) for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:")) // 1024


clients = [Client(path) for _ in range(n)]
length = 4 * 1024 * 1024 - 64
data = struct.pack(">I", length) + b"\x0a" * (length - 1)
base = rss()
for c in clients:
    c._sock.setblocking(False)
left = {c: data for c in clients}
end = time.time() + 8
while time.time() < end and left:
    for c in list(left):
        try:
            k = c._sock.send(left[c])
            left[c] = left[c][k:]
            if not left[c]:
                del left[c]
        except BlockingIOError:
            pass
    time.sleep(0.01)
print(f"{n} connections: server RSS {base} -> {rss()} MiB; {n - len(left)} sent all but the last byte")
