#!/usr/bin/env bash
# CPU profile of one server under one wsload run: the server pinned to core 1, wsload to core 0.
# Node and Bun: --cpu-prof, written on SIGINT; Deno: --inspect + inspect.mjs cpu over the run.
# Prints wsload's line and cpu_top.mjs's summary. The server is stopped by PID.
#
#   bash bench/profile/cpu.sh OUTDIR node|deno|bun SERVER_FILE SECONDS -- WSLOAD_ARGS…
#   bash bench/profile/cpu.sh /tmp/p deno bench/servers/netws.ts 5 -- -c 16 -w 4 -s 16K
set -euo pipefail
out=$1 runtime=$2 file=$3 secs=$4
shift 5
port=${PORT:-9312}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WSLOAD=${WSLOAD:-/work/wsload/wsload}
tag=${TAG:-$runtime-$(basename "$file" | sed 's/\..*//')}
dir=$out/$tag
rm -rf "$dir"; mkdir -p "$dir"
case $runtime in
  node) cmd=(node --cpu-prof --cpu-prof-dir="$dir" "$file" "$port") ;;
  bun) cmd=("$root/node_modules/.bin/bun" --cpu-prof --cpu-prof-dir="$dir" "$file" "$port") ;;
  deno) cmd=("$root/node_modules/deno/deno" run -A --inspect=127.0.0.1:9231 "$file" "$port") ;;
esac
taskset -c 1 "${cmd[@]}" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -qE "listening|READY" "$dir/server.log" && break; sleep 0.1; done
if [[ $runtime == deno ]]; then
  url=$(curl -s http://127.0.0.1:9231/json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].webSocketDebuggerUrl))')
  node "$here/inspect.mjs" cpu "$url" "$secs" "$dir/deno.cpuprofile" &
  ipid=$!
  sleep 0.3
fi
taskset -c 0 "$WSLOAD" --url "ws://127.0.0.1:$port/" --pid "$pid" "$@" 2>&1 | tee "$dir/wsload.out" | tail -n 1
[[ $runtime == deno ]] && wait $ipid
kill -INT $pid; wait $pid 2>/dev/null || true
trap - EXIT
node "$here/cpu_top.mjs" "$dir"/*.cpuprofile 22
