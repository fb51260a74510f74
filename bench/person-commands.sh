#!/bin/bash
# Times one person's export, history and forget (three people each, one record apiece) through
# the CLI on a store of 1,000,000 records, beside `audience health` (the CLI's own start-up).
#
#   bench/person-commands.sh [BINDIR] [FILE]
#   defaults: .build/release, 1,000,000 records made with `audience gen --seed 7` (cookies c0...)
set -euo pipefail
B=${1:-.build/release}
W=$(mktemp -d)
P=""
trap '[ -n "$P" ] && kill "$P" 2>/dev/null; sleep 1; rm -rf "$W"' EXIT
FILE=${2:-}
if [ -z "$FILE" ]; then
  FILE=$W/people.jsonl
  "$B/audience" gen --count 1000000 --seed 7 --format jsonl > "$FILE"
fi
$B/audienced --socket $W/s --data-dir $W/d --log-level warning > $W/log 2>&1 & P=$!
for _ in $(seq 50); do [ -S $W/s ] && break; sleep 0.2; done
"$B/audience-bench" ingest --socket $W/s --file "$FILE" --window 0 | python3 -c "import json,sys; print('ingest', round(json.load(sys.stdin)['records_per_second']), 'records/s')"
t() { local s=$(date +%s%N); "$@" > /dev/null; local e=$(date +%s%N); echo -n "$(( (e-s)/1000000 )) "; }
echo -n "health ms: "; for i in 1 2 3; do t $B/audience health --socket $W/s; done; echo
echo -n "export ms: "; for c in c999999 c999998 c999997; do t $B/audience export --socket $W/s $c; done; echo
echo -n "history ms: "; for c in c999996 c999995 c999994; do t $B/audience history --socket $W/s $c; done; echo
echo -n "forget ms: "; for c in c999993 c999992 c999991; do t $B/audience forget --socket $W/s $c; done; echo
