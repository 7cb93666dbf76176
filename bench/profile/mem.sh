#!/usr/bin/env bash
# Heap breakdown of idle connections on a V8 runtime (Node, Deno): starts SERVER pinned to core 1
# with the inspector on, snapshots its heap, opens N idle connections with wsload (core 0), holds
# them, snapshots again, and prints what each connection added per object class
# (heap_diff.mjs), plus wsload's RSS-per-connection line. The server is stopped by PID.
#
#   bash bench/profile/mem.sh OUTDIR N node|deno SERVER_FILE [PORT]
#   NETWS_MODULE=$PWD/npm/mod.js bash bench/profile/mem.sh /tmp/p 2000 node bench/servers/netws_node.mjs
set -euo pipefail
out=$1 n=$2 runtime=$3 file=$4 port=${5:-9311}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WSLOAD=${WSLOAD:-/work/wsload/wsload}
mkdir -p "$out"
tag=$runtime-$(basename "$file" | sed 's/\..*//')
case $runtime in
  node) cmd=(node --inspect=127.0.0.1:9230 "$file" "$port") ;;
  deno) cmd=("$root/node_modules/deno/deno" run -A --inspect=127.0.0.1:9230 "$file" "$port") ;;
esac
taskset -c 1 "${cmd[@]}" >"$out/$tag.server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -qE "listening|READY" "$out/$tag.server.log" && break; sleep 0.1; done
url=$(curl -s http://127.0.0.1:9230/json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].webSocketDebuggerUrl))')
# Warm the server's code paths and buffers with a first wave, as echo.sh's connect scenario does.
taskset -c 0 "$WSLOAD" --url "ws://127.0.0.1:$port/" --scenario connect -c 500 --quiet >/dev/null || true
sleep 0.5
node "$here/inspect.mjs" heap "$url" "$out/$tag.before.heapsnapshot"
taskset -c 0 "$WSLOAD" --url "ws://127.0.0.1:$port/" --scenario connect -c "$n" --hold 25 --pid "$pid" \
  >"$out/$tag.wsload.json" 2>&1 &
wpid=$!
sleep 6
node "$here/inspect.mjs" heap "$url" "$out/$tag.after.heapsnapshot"
wait $wpid || true
kill $pid; wait $pid 2>/dev/null || true
trap - EXIT
tail -n 1 "$out/$tag.wsload.json"
node "$here/heap_diff.mjs" "$out/$tag.before.heapsnapshot" "$out/$tag.after.heapsnapshot" "$n" 25
