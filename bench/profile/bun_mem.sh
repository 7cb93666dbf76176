#!/usr/bin/env bash
# Per-connection heap figures on Bun: runs SERVER_FILE under bun_heap.ts pinned to core 1, takes
# heap stats before and while N idle connections are held (wsload, core 0), prints wsload's line
# and the object types whose count grew by at least N/2, per connection. Stops the server by PID.
#
#   bash bench/profile/bun_mem.sh OUTDIR N SERVER_FILE [PORT]
set -euo pipefail
out=$1 n=$2 file=$3 port=${4:-9313}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WSLOAD=${WSLOAD:-/work/wsload/wsload}
mkdir -p "$out"
tag=bun-$(basename "$file" | sed 's/\..*//')
rm -f "$out/$tag.heap.jsonl"
HEAP_OUT=$out/$tag.heap.jsonl taskset -c 1 "$root/node_modules/.bin/bun" "$here/bun_heap.ts" "$file" "$port" >"$out/$tag.server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -qE "listening|READY" "$out/$tag.server.log" && break; sleep 0.1; done
taskset -c 0 "$WSLOAD" --url "ws://127.0.0.1:$port/" --scenario connect -c 500 --quiet >/dev/null || true
sleep 0.5; kill -USR2 $pid; sleep 1
taskset -c 0 "$WSLOAD" --url "ws://127.0.0.1:$port/" --scenario connect -c "$n" --hold 6 --pid "$pid" >"$out/$tag.wsload.json" 2>&1 &
wpid=$!
sleep 4; kill -USR2 $pid
wait $wpid || true
kill $pid; wait $pid 2>/dev/null || true
trap - EXIT
tail -n 1 "$out/$tag.wsload.json"
node -e '
const [a, b] = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const n = Number(process.argv[2]);
console.log(`heap ${((b.heapSize - a.heapSize) / n).toFixed(0)} B/conn, extra memory ${((b.extraMemorySize - a.extraMemorySize) / n).toFixed(0)} B/conn, objects ${((b.objectCount - a.objectCount) / n).toFixed(1)}/conn`);
const rows = Object.keys(b.counts).map((k) => [k, (b.counts[k] - (a.counts[k] ?? 0)) / n]).filter((r) => r[1] >= 0.5).sort((x, y) => y[1] - x[1]);
for (const [k, v] of rows) console.log(`| ${k} | ${v.toFixed(2)} |`);
' "$out/$tag.heap.jsonl" "$n"
