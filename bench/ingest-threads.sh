#!/bin/bash
# Ingest a JSON-lines file into a fresh audienced through the client library's stream and print
# records/s, the server's CPU (the whole process, and its live threads: the connection's own
# thread has ended by then) and its CPU seconds per thread (leader, durable, indexer: the store's
# "TP" threads in creation order; validation: the Swift task threads).
#
#   bench/ingest-threads.sh [AUDIENCED] [FILE]
#   defaults: .build/release/audienced, 1,000,000 records made with `audience gen --seed 7`
#   WINDOW=N: batches in flight (default 0: the server's default, 32)
# Alternate two builds to compare them on this noisy machine.
set -euo pipefail
BIN=${1:-.build/release/audienced}
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/pid" 2>/dev/null) 2>/dev/null || true; sleep 1; rm -rf "$WORK"' EXIT
FILE=${2:-}
if [ -z "$FILE" ]; then
  FILE=$WORK/people.jsonl
  .build/release/audience gen --count 1000000 --seed 7 --format jsonl > "$FILE"
fi
"$BIN" --socket "$WORK/s.sock" --data-dir "$WORK/data" --log-level warning > "$WORK/server.log" 2>&1 &
echo $! > "$WORK/pid"
for _ in $(seq 50); do [ -S "$WORK/s.sock" ] && break; sleep 0.2; done
.build/release/audience-bench ingest --socket "$WORK/s.sock" --file "$FILE" --window "${WINDOW:-0}" > "$WORK/out.json"
python3 - "$(cat "$WORK/pid")" "$WORK/out.json" <<'PY'
import json, os, sys
pid, out = sys.argv[1], json.load(open(sys.argv[2]))
hz = os.sysconf("SC_CLK_TCK")
threads = []
for t in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
    stat = open(f"/proc/{pid}/task/{t}/stat").read()
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    threads.append((comm, (int(fields[11]) + int(fields[12])) / hz))
stat = open(f"/proc/{pid}/stat").read()
fields = stat[stat.rindex(")") + 2:].split()
# The whole process, threads that have ended included (each connection's thread ends with it).
process = (int(fields[11]) + int(fields[12])) / hz
tp = [s for c, s in threads if c.startswith("TP-")]
names = ["leader", "durable", "indexer"] + [f"pool{i}" for i in range(3, len(tp))]
tasks = sum(s for c, s in threads if "qos" in c)
total = sum(s for _, s in threads)
n = out["records"]
hwm = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM:")) // 1024
print(f'{out["records_per_second"]:,.0f} records/s; client CPU {out["client_cpu_us_per_record"]:.1f} us/record; server CPU {process:.1f} s = {process * 1e6 / n:.1f} us/record (live threads {total:.1f} s); '
      + " ".join(f"{k} {v:.1f} s" for k, v in zip(names, tp)) + f"; validation tasks {tasks:.1f} s; peak RSS {hwm:,} MiB")
PY
