#!/usr/bin/env bash
# Compression benchmark: a ~300-byte JSON echo with permessage-deflate, netws against ws
# (perMessageDeflate) on Node and Bun.serve (perMessageDeflate) on Bun, and against netws itself
# without compression; Deno's own server has no compression, so Deno compares netws with itself.
# The client is bench/deflate_load.c (C and zlib, one core): its CPU use is reported beside the
# server's, to show that it is not the bottleneck.
#
#   bash bench/deflate.sh          # 3 rounds, every runtime, about 4 minutes
#   RUNTIMES=node bash bench/deflate.sh 1
#
# Each round runs, per runtime and with a fresh server each: netws plain, netws deflate, netws
# deflate without context takeover, and the peer in both deflate modes (in an order that alternates
# between rounds). Then idle memory: 1000 compressed connections held, RSS growth per connection.
# The client runs on core GEN_CPU (default 0), the server on SRV_CPU (default 1). It compresses at
# zlib level 1, which halves its CPU per message against level 6, so that it stays ahead of the
# fastest server (Bun.serve): every server inflates the same bytes.
# Raw JSON lines go to .bench-results/deflate-<stamp>.jsonl; a Markdown table to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/node_modules/.bin
DENO=$ROOT/node_modules/deno/deno
ROUNDS=${1:-3}
RUNTIMES=${RUNTIMES:-node deno bun}
GEN_CPU=${GEN_CPU:-0}
SRV_CPU=${SRV_CPU:-1}
DURATION=${DURATION:-3}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p .bench-results
RAW=.bench-results/deflate-$STAMP.jsonl
TMP=$(mktemp -d "${TMPDIR:-/tmp}/netws-deflate-XXXXXX")
SERVER_PID=
cleanup() {
  [[ -z $SERVER_PID ]] || kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cc -O2 -o "$TMP/deflate_load" bench/deflate_load.c -lz
if [[ " $RUNTIMES " == *" node "* ]]; then
  "$DENO" run -A scripts/build_npm.ts --no-smoke --no-test >"$TMP/build.log" 2>&1 ||
    { cat "$TMP/build.log" >&2; exit 1; }
  mkdir -p "$TMP/netws" && cp -R npm/mod.js npm/src npm/package.json "$TMP/netws/"
fi

server_command() {
  case $1/$2 in
    node/netws) echo "node bench/servers/netws_node.mjs" ;;
    node/peer) echo "node bench/servers/ws_node.mjs" ;;
    deno/netws) echo "$DENO run -A bench/servers/netws.ts" ;;
    bun/netws) echo "$BIN/bun bench/servers/netws.ts" ;;
    bun/peer) echo "$BIN/bun bench/servers/bun_serve.ts" ;;
  esac
}

PORT=${PORT:-9600}
# run RUNTIME SERVER MODE ROUND [client args…]: MODE is plain, deflate or deflate-nctx.
run() {
  local runtime=$1 server=$2 mode=$3 round=$4
  shift 4
  PORT=$((PORT + 1))
  local deflate=1 args=()
  case $mode in
    plain) deflate=0 args=(--plain) ;;
    deflate-nctx) args=(--no-context-takeover) ;;
  esac
  # A port another program holds makes the server exit: try the next ones.
  for _ in 1 2 3; do
    # shellcheck disable=SC2046
    ECHO_DEFLATE=$deflate NETWS_MODULE=$TMP/netws/mod.js taskset -c "$SRV_CPU" \
      $(server_command "$runtime" "$server") "$PORT" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
      grep -q '^listening' "$TMP/server.log" && break 2
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    echo "  $runtime $server: no server on port $PORT: $(tail -n 1 "$TMP/server.log")" >&2
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    PORT=$((PORT + 1))
  done
  local line
  line=$(taskset -c "$GEN_CPU" "$TMP/deflate_load" --port "$PORT" --pid "$SERVER_PID" \
    --label "$runtime/$server/$mode" "${args[@]}" "$@" 2>"$TMP/client.err" | tail -n 1) ||
    line="{\"error\":\"$(tail -n 1 "$TMP/client.err")\"}"
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  jq -c --arg r "$runtime" --arg s "$server" --arg m "$mode" --argjson n "$round" \
    '. + {runtime:$r,server:$s,mode:$m,round:$n}' <<<"$line" >>"$RAW"
  echo "  $runtime $server $mode r$round: $(tail -n 1 "$TMP/client.err")" >&2
}

for runtime in $RUNTIMES; do
  for round in $(seq "$ROUNDS"); do
    runs=("netws plain" "netws deflate" "netws deflate-nctx")
    [[ $runtime == deno ]] || runs+=("peer deflate" "peer deflate-nctx")
    ((round % 2 == 1)) || runs=("${runs[@]:2}" "${runs[@]:0:2}")
    for pair in "${runs[@]}"; do
      # shellcheck disable=SC2086
      run "$runtime" $pair "$round" -c 50 -w 8 --level 1 --duration "$DURATION"
    done
  done
  run "$runtime" netws deflate 0 --hold -c 1000
  [[ $runtime == deno ]] || run "$runtime" peer deflate 0 --hold -c 1000
done

"$DENO" run --ext=ts --allow-read="$RAW" - "$RAW" <<'TS'
const rows = Deno.readTextFileSync(Deno.args[0]!).split("\n").filter((l) => l.startsWith("{"))
  .map((l) => JSON.parse(l))
  // Server CPU per message, which a busy machine blurs less than the rate.
  .map((x) => (x.msgs_per_s ? { ...x, srv_us: x.srv_cpu * 1e6 / x.msgs_per_s } : x));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pick = (r: string, s: string, m: string, key: string) =>
  median(rows.filter((x) => x.runtime === r && x.server === s && x.mode === m && !x.hold && x[key] !== undefined).map((x) => x[key]));
const hold = (r: string, s: string) => rows.find((x) => x.runtime === r && x.server === s && x.hold)?.rss_per_conn_bytes;
const f = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));
const pct = (x: number) => `${f(x * 100)}%`;
console.log("| runtime | server | mode | msg/s | / netws plain | echoes compressed | wire bytes saved | p50 / p99 µs | server CPU | server CPU µs/msg | client CPU |");
console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of [...new Set(rows.map((x) => x.runtime))]) {
  const plain = pick(r, "netws", "plain", "msgs_per_s");
  for (const [s, m] of [["netws", "plain"], ["netws", "deflate"], ["netws", "deflate-nctx"], ["peer", "deflate"], ["peer", "deflate-nctx"]]) {
    const rate = pick(r, s!, m!, "msgs_per_s");
    if (!Number.isFinite(rate)) continue;
    const lat = rows.filter((x) => x.runtime === r && x.server === s && x.mode === m && !x.hold && x.lat_us);
    const p = (q: "p50" | "p99") => f(median(lat.map((x) => x.lat_us[q])));
    console.log(`| ${r} | ${s} | ${m} | ${f(rate)} | ${f(rate / plain, 2)} | ${pct(pick(r, s!, m!, "echo_compressed"))} | ` +
      `${pct(1 - pick(r, s!, m!, "wire_per_payload_rx"))} | ${p("p50")} / ${p("p99")} | ${pct(pick(r, s!, m!, "srv_cpu"))} | ${f(pick(r, s!, m!, "srv_us"), 1)} | ${pct(pick(r, s!, m!, "gen_cpu"))} |`);
  }
  const rate = (s: string, m: string) => pick(r, s, m, "msgs_per_s");
  console.log(`\n${r}: netws deflate keeps ${pct(rate("netws", "deflate") / plain)} of netws plain ` +
    `(no context takeover ${pct(rate("netws", "deflate-nctx") / plain)}); netws / peer ${f(rate("netws", "deflate") / rate("peer", "deflate"), 2)}× ` +
    `(no context takeover ${f(rate("netws", "deflate-nctx") / rate("peer", "deflate-nctx"), 2)}×); ` +
    `idle compressed connection ${f(hold(r, "netws"))} B (peer ${f(hold(r, "peer"))} B)\n`);
}
TS
echo "raw results: $RAW" >&2
