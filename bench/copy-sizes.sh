#!/bin/bash
# Counts the server's memmove/memcpy calls by length and thread while it ingests a JSON lines
# file through the client library's stream: value copies the optimizer left in (a Record is
# 184 bytes, a Profile 305, an index row 160, the identity graph 512) show up as lengths called
# about once or more per record. Needs root (a perf uprobe on glibc) and runs the ingest about
# 100x slower, so give it a small file (30,000 records: ~20 s).
#
#   bench/copy-sizes.sh [AUDIENCED] [FILE] [ROWS]
#   defaults: .build/release/audienced, 30,000 records made with `audience gen --seed 7`, 12 rows
# Thread ids: the leader is the busiest "TP-#0" thread (`ps -L -p PID` while it runs).
set -euo pipefail
BIN=${1:-.build/release/audienced}
LIBC=$(ldd "$BIN" | awk '/libc.so.6/ {print $3}')
PROBE=probe_libc:__memmove_avx512_unaligned_erms
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/pid" 2>/dev/null) 2>/dev/null || true; perf probe -q -d "$PROBE" 2>/dev/null || true; rm -rf "$WORK"' EXIT
FILE=${2:-}
if [ -z "$FILE" ]; then
  FILE=$WORK/people.jsonl
  .build/release/audience gen --count 30000 --seed 7 --format jsonl > "$FILE"
fi
perf probe -q -x "$LIBC" '__memmove_avx512_unaligned_erms len=%dx'
"$BIN" --socket "$WORK/s.sock" --data-dir "$WORK/data" --log-level warning > "$WORK/server.log" 2>&1 &
echo $! > "$WORK/pid"
for _ in $(seq 50); do [ -S "$WORK/s.sock" ] && break; sleep 0.2; done
perf record -q -e "$PROBE" -p "$(cat "$WORK/pid")" -o "$WORK/copies.data" 2>/dev/null &
RECORDER=$!
sleep 0.5
.build/release/audience-bench ingest --socket "$WORK/s.sock" --file "$FILE" > /dev/null
kill -INT $RECORDER; wait $RECORDER || true
echo "calls  thread  length (bytes, hex)"
perf script -i "$WORK/copies.data" -F tid,trace 2>/dev/null | awk '{print $1, $NF}' | sort | uniq -c | sort -rn | head -"${3:-12}"
