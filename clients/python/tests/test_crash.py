import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN_DIR = pathlib.Path(os.environ.get("AUDIENCE_BIN_DIR", ROOT / ".build" / "debug"))


def test_acknowledged_records_survive_sigkill():
    """A short run of scripts/crash-test: 3 SIGKILLs during a streamed ingest."""
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "crash-test"), "--records", "6000", "--batch", "200",
                        "--kills", "3", "--bin-dir", str(BIN_DIR)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-4000:]
    assert "3 kills" in p.stderr and "OK" in p.stderr
