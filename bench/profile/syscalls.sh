#!/usr/bin/env bash
# System calls per message: attaches `strace -c -f` to a server (pinned to core 1) for one wsload run
# (core 0) and prints the summary and wsload's message count. strace slows the server many times
# over: only the counts per message mean anything, not the rate. Stops strace and the server by PID.
#
#   bash bench/profile/syscalls.sh node|deno|bun SERVER_FILE -- WSLOAD_ARGS…
set -euo pipefail
runtime=$1 file=$2
shift 3
port=${PORT:-9315}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WSLOAD=${WSLOAD:-/work/wsload/wsload}
log=$(mktemp) trace=$(mktemp)
case $runtime in
  node) cmd=(node "$file" "$port") ;;
  bun) cmd=("$root/node_modules/bun/bin/bun.exe" "$file" "$port") ;;
  deno) cmd=("$root/node_modules/deno/deno" run -A "$file" "$port") ;;
esac
taskset -c 1 "${cmd[@]}" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log" "$trace"' EXIT
for _ in $(seq 100); do grep -qE "listening|READY" "$log" && break; sleep 0.1; done
strace -c -f -o "$trace" -p "$pid" &
spid=$!
sleep 0.5
line=$(taskset -c 0 "$WSLOAD" --url "ws://127.0.0.1:$port/" "$@" --warmup 0 2>&1 | tail -n 1 || true)
kill -INT $spid; wait $spid 2>/dev/null || true
node -e '
const r = JSON.parse(process.argv[1]);
const n = Math.round((r.msgs_per_s ?? 0) * (r.duration_s ?? 0));
console.log(`messages echoed ${n} (rate under strace: not meaningful)`);
const rows = require("fs").readFileSync(process.argv[2], "utf8").split("\n").filter((l) => /^\s*[0-9.]+\s+[0-9.]+/.test(l));
for (const l of rows.slice(0, 10)) {
  const f = l.trim().split(/\s+/);
  const calls = Number(f[3]), name = f[f.length - 1];
  console.log(`${name.padEnd(16)} ${String(calls).padStart(9)} calls  ${(calls / n).toFixed(2)} per message  (${f[0]}% of syscall time)`);
}' "$line" "$trace"
