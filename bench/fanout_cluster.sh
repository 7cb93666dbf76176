#!/usr/bin/env bash
# Fan-out across processes: one netws fan-out server against two on the same port that share the
# topic through Redis (bench/servers/fanout_netws.ts with REDIS_URL: reusePort + RedisBackplane),
# driven by wsload's fanout scenario. The kernel spreads the connections over the two processes,
# so about half of every publish reaches its subscribers through Redis; wsload checks that every
# subscriber gets every message, in order per publisher.
#
#   bash bench/fanout_cluster.sh            # 3 rounds, Bun and Deno, about 2 minutes
#   RUNTIMES=bun bash bench/fanout_cluster.sh 1
#
# wsload runs on core GEN_CPU (default 0); the servers and redis-server share core SRV_CPU
# (default 1), so both setups have the same one core: the figures are the cost of crossing
# processes through a broker, not a gain from more cores (this machine has two, and wsload needs
# one). Node runs several processes through node:cluster instead (examples/cluster.ts), not here.
# Raw JSON lines go to .bench-results/fanout-cluster-<stamp>.jsonl; a Markdown table to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${1:-3}
RUNTIMES=${RUNTIMES:-bun deno}
SCENARIOS=${SCENARIOS:-fanout-1000x64B fanout-32x32 latency-100x64B}
GEN_CPU=${GEN_CPU:-0}
SRV_CPU=${SRV_CPU:-1}
WARMUP=${WARMUP:-1}
DURATION=${DURATION:-3}
WSLOAD=${WSLOAD:-../shared/bench/wsload}
DENO=$ROOT/node_modules/deno/deno
BUN=$ROOT/node_modules/.bin/bun
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p .bench-results
RAW=.bench-results/fanout-cluster-$STAMP.jsonl
TMP=$(mktemp -d "${TMPDIR:-/tmp}/netws-cluster-XXXXXX")
PIDS=()
REDIS_PID=
stop_servers() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_servers
  [[ -z $REDIS_PID ]] || kill "$REDIS_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
command -v redis-server >/dev/null || { echo "fanout_cluster.sh: redis-server is missing" >&2; exit 1; }
if [[ ! -x $WSLOAD ]]; then "$(dirname "$WSLOAD")/build.sh"; fi

scenario_args() {
  case $1 in
    fanout-1000x64B) echo "--scenario fanout -c 1000 --pubs 4 -w 4 -s 64" ;;
    fanout-32x32) echo "--scenario fanout -c 32 --pubs 32 -w 4 -s 64" ;;
    fanout-1000x16KiB) echo "--scenario fanout -c 1000 --pubs 1 -w 2 -s 16K" ;;
    # One message in flight: the latency of a delivery when nothing queues.
    latency-100x64B) echo "--scenario fanout -c 100 --pubs 1 -w 1 -s 64" ;;
    *) echo "fanout_cluster.sh: unknown scenario \"$1\"" >&2; return 1 ;;
  esac
}

REDIS_PORT=$((20000 + RANDOM % 10000))
taskset -c "$SRV_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
  --appendonly no >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do
  grep -q "Ready to accept" "$TMP/redis.log" && break
  sleep 0.05
done

server_command() {
  case $1 in
    bun) echo "$BUN bench/servers/fanout_netws.ts" ;;
    deno) echo "$DENO run -A --unstable-net bench/servers/fanout_netws.ts" ;;
  esac
}

# Starts $2 servers of runtime $1 on port $3 (two or more share Redis) and waits for each.
start_servers() {
  local runtime=$1 count=$2 port=$3 i
  for i in $(seq "$count"); do
    : >"$TMP/server$i.log"
    if ((count > 1)); then
      # shellcheck disable=SC2046
      REDIS_URL=redis://127.0.0.1:$REDIS_PORT taskset -c "$SRV_CPU" $(server_command "$runtime") \
        "$port" >"$TMP/server$i.log" 2>&1 &
    else
      # shellcheck disable=SC2046
      taskset -c "$SRV_CPU" $(server_command "$runtime") "$port" >"$TMP/server$i.log" 2>&1 &
    fi
    PIDS+=($!)
    for _ in $(seq 200); do
      grep -q '^listening' "$TMP/server$i.log" && break
      sleep 0.05
    done
    grep -q '^listening' "$TMP/server$i.log" || {
      echo "fanout_cluster.sh: $runtime server $i did not start:" >&2
      cat "$TMP/server$i.log" >&2
      return 1
    }
  done
}

PORT=9600
for round in $(seq "$ROUNDS"); do
  for runtime in $RUNTIMES; do
    for scenario in $SCENARIOS; do
      if ((round % 2 == 1)); then order="1 2"; else order="2 1"; fi
      for processes in $order; do
        PORT=$((PORT >= 9699 ? 9600 : PORT + 1))
        start_servers "$runtime" "$processes" "$PORT"
        rc=0
        # shellcheck disable=SC2046
        taskset -c "$GEN_CPU" "$WSLOAD" --url "ws://127.0.0.1:$PORT/" $(scenario_args "$scenario") \
          --warmup "$WARMUP" --duration "$DURATION" --quiet >"$TMP/wsload.json" 2>"$TMP/wsload.err" ||
          rc=$?
        stop_servers
        line=$(grep '^{' "$TMP/wsload.json" | tail -n 1 || true)
        [[ -n $line ]] || line='{"ok":false,"error":"no JSON line"}'
        # What each process counted: connections it got, envelopes through Redis each way.
        servers=$(cat "$TMP"/server*.log | sed -n 's/^metrics //p' | jq -sc '.')
        rm -f "$TMP"/server*.log
        jq -c --arg r "$runtime" --arg sc "$scenario" --argjson p "$processes" --argjson n "$round" \
          --argjson rc "$rc" --argjson servers "$servers" \
          '. + {runtime:$r,scenario:$sc,processes:$p,round:$n,rc:$rc,servers:$servers}' \
          <<<"$line" >>"$RAW"
        jq -r '"  \(.runtime) \(.scenario) \(.processes) process(es) r\(.round): " +
          "\(.deliveries_per_s // 0 | floor) deliveries/s, p50 \((.lat_us.p50 // 0) / 1000) ms, " +
          "p99 \((.lat_us.p99 // 0) / 1000) ms, never delivered \(.undelivered // "?"), rc \(.rc)" +
          (if (.servers | length) > 0 then "; per process: " + (.servers | map("\(.connectionsOpened) " +
          "connections, \(.backplaneOut) envelopes out, \(.backplaneIn) in") | join("; ")) else "" end)' \
          <<<"$(tail -n 1 "$RAW")"
        if ((rc != 0)); then tail -n 3 "$TMP/wsload.err" >&2; fi
      done
    done
  done
done

echo
echo "| runtime | scenario | 1 process deliveries/s | 2 processes + Redis deliveries/s | ratio | p50 / p99 ms, 1 process | p50 / p99 ms, 2 processes | added p50 ms | runs |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
jq -rs '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  map(select(.rc == 0 and .ok != false)) | group_by([.runtime, .scenario])[] |
  . as $g | ($g | map(select(.processes == 1))) as $a | ($g | map(select(.processes == 2))) as $b |
  ($a | map(.deliveries_per_s) | median) as $ra | ($b | map(.deliveries_per_s) | median) as $rb |
  ($a | map(.lat_us.p50 / 1000) | median) as $la | ($b | map(.lat_us.p50 / 1000) | median) as $lb |
  ($a | map(.lat_us.p99 / 1000) | median) as $qa | ($b | map(.lat_us.p99 / 1000) | median) as $qb |
  "| \($g[0].runtime) | \($g[0].scenario) | \($ra | floor) | \($rb // 0 | floor) | " +
  "\(if $rb then ($rb / $ra * 100 | round / 100 | tostring) + "×" else "–" end) | " +
  "\($la * 10 | round / 10) / \($qa * 10 | round / 10) | " +
  "\(($lb // 0) * 10 | round / 10) / \(($qb // 0) * 10 | round / 10) | " +
  "\((($lb // 0) - $la) * 10 | round / 10) | \($a | length)+\($b | length) |"' "$RAW"
failed=$(jq -s 'map(select(.rc != 0 or .ok == false)) | length' "$RAW")
echo
echo "Raw results: $RAW; failed runs: $failed"
