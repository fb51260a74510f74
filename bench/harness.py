"""Process helpers shared by the benchmarks: starting audienced, timing, memory."""

import json
import os
import subprocess
import sys
import time

from audience_client import Client


def timed(f, runs):
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - t)
    return result, times


def start_server(bin_dir, workdir, poll=0.02, timeout=300):
    """Starts audienced on workdir/s.sock and workdir/data; returns once it answers Hello."""
    sock = os.path.join(workdir, "s.sock")
    log = open(os.path.join(workdir, "audienced.log"), "a")
    p = subprocess.Popen([os.path.join(bin_dir, "audienced"), "--socket", sock, "--data-dir", os.path.join(workdir, "data"),
                          "--log-level", "warning", "--exit-with-parent"], stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(sock):
            try:
                Client(sock).close()
                return p, sock
            except OSError:
                pass
        if p.poll() is not None:
            sys.exit(open(log.name).read())
        time.sleep(poll)
    sys.exit("audienced did not start")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_jsonl(records, path):
    """The records as JSON lines, for `audience ingest`."""
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r))
            f.write("\n")


def ingest_file(bin_dir, sock, path, expected):
    """`audience ingest PATH` against the server; returns the seconds it took. Stops the benchmark
    unless exactly `expected` records were accepted."""
    t = time.perf_counter()
    out = subprocess.run([os.path.join(bin_dir, "audience"), "--socket", sock, "--json", "ingest", path],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - t
    summary = json.loads(out.stdout)
    assert summary["accepted"] == expected, (summary, out.stderr[-2000:])
    return seconds
