#!/usr/bin/env bash
# User and system CPU seconds a server spends under one wsload run (from /proc/PID/stat, all its
# threads), to tell the kernel's share (system calls, loopback TCP) from user code. The server
# runs pinned to core 1, wsload to core 0; the server is stopped by PID.
#
#   bash bench/profile/cpu_split.sh node|deno|bun SERVER_FILE -- WSLOAD_ARGS…
#   NETWS_MODULE=$PWD/npm/mod.js bash bench/profile/cpu_split.sh node bench/servers/netws_node.mjs -- \
#     --scenario connect -c 5000 --hold 1 --warm-conns 1000
set -euo pipefail
runtime=$1 file=$2
shift 3
port=${PORT:-9314}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WSLOAD=${WSLOAD:-/work/wsload/wsload}
log=$(mktemp)
case $runtime in
  node) cmd=(node "$file" "$port") ;;
  bun) cmd=("$root/node_modules/bun/bin/bun.exe" "$file" "$port") ;;
  deno) cmd=("$root/node_modules/deno/deno" run -A "$file" "$port") ;;
esac
taskset -c 1 "${cmd[@]}" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -qE "listening|READY" "$log" && break; sleep 0.1; done
read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
line=$(taskset -c 0 "$WSLOAD" --url "ws://127.0.0.1:$port/" --pid "$pid" "$@" 2>&1 | tail -n 1 || true)
read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
tick=$(getconf CLK_TCK)
# With --warmup 0 the CPU counted is that of the measured messages (plus connecting and closing):
# per message, user and system microseconds.
node -e '
const [u, s, tick, name] = process.argv.slice(1, 5).map((x, i) => i < 3 ? Number(x) : x);
const r = JSON.parse(process.argv[5]);
const n = (r.msgs_per_s ?? 0) * (r.duration_s ?? 0);
const per = n > 0 ? `, per message user ${(u / tick / n * 1e6).toFixed(1)} us + system ${(s / tick / n * 1e6).toFixed(1)} us = ${((u + s) / tick / n * 1e6).toFixed(1)} us` : "";
const extra = ["msgs_per_s", "handshakes_per_s", "rss_per_conn_bytes", "srv_cpu", "other_cpu"].filter((k) => k in r).map((k) => `${k} ${r[k]}`).join(", ");
console.log(`${name}: user ${(u / tick).toFixed(2)} s, system ${(s / tick).toFixed(2)} s${per} | ${extra}`);
' $((u1 - u0)) $((s1 - s0)) "$tick" "$runtime $(basename "$file")" "$line"
