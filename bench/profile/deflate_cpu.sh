#!/usr/bin/env bash
# CPU profile of a compression echo server under deflate_load (bench/deflate_load.c): the server
# pinned to core 1, the client to core 0, as in bench/deflate.sh. Node and Bun only (--cpu-prof,
# written on SIGINT). Prints the client's line and cpu_top.mjs's summary.
#
#   bash bench/profile/deflate_cpu.sh OUTDIR node|bun SERVER_FILE SECONDS [deflate_load args…]
#   NETWS_MODULE=$PWD/npm/mod.js bash bench/profile/deflate_cpu.sh /tmp/p node \
#     bench/servers/netws_node.mjs 4 -c 50 -w 8
set -euo pipefail
out=$1 runtime=$2 file=$3 secs=$4
shift 4
port=${PORT:-9314}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tag=${TAG:-$runtime-$(basename "$file" | sed 's/\..*//')}
dir=$out/$tag
rm -rf "$dir"; mkdir -p "$dir"
cc -O2 -o "$dir/deflate_load" "$root/bench/deflate_load.c" -lz
case $runtime in
  node) cmd=(node --cpu-prof --cpu-prof-dir="$dir" "$file" "$port") ;;
  bun) cmd=("$root/node_modules/.bin/bun" --cpu-prof --cpu-prof-dir="$dir" "$file" "$port") ;;
esac
ECHO_DEFLATE=${ECHO_DEFLATE:-1} taskset -c 1 "${cmd[@]}" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "^listening" "$dir/server.log" && break; sleep 0.1; done
taskset -c 0 "$dir/deflate_load" --port "$port" --pid "$pid" --duration "$secs" "$@" 2>&1 >/dev/null |
  tee "$dir/client.out"
kill -INT $pid; wait $pid 2>/dev/null || true
trap - EXIT
node "$here/cpu_top.mjs" "$dir"/*.cpuprofile 25
