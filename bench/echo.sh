#!/usr/bin/env bash
# Echo benchmark: netws against the best peer server on each runtime, driven by the wsload load
# generator. netws runs beside `ws` on Node, `Deno.serve` + `Deno.upgradeWebSocket` on Deno and
# `Bun.serve` on Bun (servers in bench/servers/).
#
#   bash bench/echo.sh            # 3 rounds of every runtime and scenario, 8 to 11 minutes
#   bash bench/echo.sh 5          # 5 rounds
#   RUNTIMES=deno SCENARIOS="echo-64B frag-1MiB" bash bench/echo.sh 1
#   SCENARIOS="fanout-1000x64B fanout-32x32 fanout-1000x16KiB" bash bench/echo.sh 3
#
# The fanout-* scenarios run the fan-out servers instead (bench/servers/fanout_*): every message
# goes to every connection, through netws topics (or a loop where there are none) against a ws
# `for … send` loop, Bun.serve's publish() and a Deno.upgradeWebSocket loop; msg/s there is
# deliveries/s. They are not in the default set.
#
# Fairness on a 2-core machine: wsload is pinned to one core and the server to the other, every
# run starts a fresh server, warms up before measuring, and the two servers of a runtime alternate
# (netws, peer, then peer, netws in the next round, …) so that drift in the machine's load falls on
# both. Ratios compare medians measured in the same invocation.
#
# Environment:
#   WSLOAD        the wsload binary (default ../shared/bench/wsload; built with build.sh beside it
#                 when missing)
#   RUNTIMES      runtimes to run, in order (default "node deno bun")
#   SCENARIOS     scenario names (default: all; see scenario_args below)
#   WARMUP, DURATION   seconds of warm-up and measurement per run (default 1 and 3)
#   GEN_CPU, SRV_CPU   cores for wsload and the server (default 0 and 1)
#   NODE_BUILD    how netws is built for Node: "npm" runs scripts/build_npm.ts and falls back to
#                 tsc when that fails; "tsc" compiles mod.ts and src/ with tsc directly (default npm)
#   OUT           the Markdown report (default bench/results/echo-<date>.md)
#   FLOOR         1 adds a third server to the fanout-* scenarios: bench/servers/fanout_floor.mjs,
#                 node:net sockets and one prebuilt frame per message, no WebSocket library, run
#                 on the same runtime (default 0)
#   QUIET, QUIET_WAIT  before each pair of runs, wait up to QUIET_WAIT seconds (default 10) for the
#                 CPU use of other processes to fall below QUIET cores (default 0.5); 0 disables
#
# Raw JSON lines (wsload's, plus runtime, server, scenario, round and the machine's load just
# before the run) go to .bench-results/echo-<timestamp>.jsonl; logs of failed runs beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/node_modules/.bin

ROUNDS=${1:-3}
WSLOAD=${WSLOAD:-../shared/bench/wsload}
RUNTIMES=${RUNTIMES:-node deno bun}
ALL_SCENARIOS="echo-64B echo-64B-text echo-16KiB echo-1MiB frag-1MiB connect-2000"
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
WARMUP=${WARMUP:-1}
DURATION=${DURATION:-3}
GEN_CPU=${GEN_CPU:-0}
SRV_CPU=${SRV_CPU:-1}
NODE_BUILD=${NODE_BUILD:-npm}
FLOOR=${FLOOR:-0}
QUIET=${QUIET:-0.5}
QUIET_WAIT=${QUIET_WAIT:-10}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-bench/results/echo-$(date -u +%Y-%m-%d).md}
RESULTS=.bench-results
RAW=$RESULTS/echo-$STAMP.jsonl

if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
  echo "echo.sh: rounds must be a positive integer, got \"$ROUNDS\"" >&2
  exit 1
fi

# wsload arguments of each scenario. Sizes follow the brief: small messages with many in flight,
# medium, large, large in 128 fragments, and idle connections for memory per connection.
scenario_args() {
  case $1 in
    echo-64B) echo "--scenario echo -c 50 -w 8 -s 64" ;;
    echo-64B-text) echo "--scenario echo -c 50 -w 8 -s 64 --text" ;;
    echo-16KiB) echo "--scenario echo -c 16 -w 4 -s 16K" ;;
    echo-1MiB) echo "--scenario echo -c 4 -w 2 -s 1M" ;;
    frag-1MiB) echo "--scenario frag -c 4 -w 2 -s 1M -F 128" ;;
    connect-2000) echo "--scenario connect -c 2000 --hold 1 --warm-conns 1000" ;;
    connect-5000) echo "--scenario connect -c 5000 --hold 1 --warm-conns 1000" ;;
    fanout-1000x64B) echo "--scenario fanout -c 1000 --pubs 4 -w 4 -s 64" ;;
    fanout-32x32) echo "--scenario fanout -c 32 --pubs 32 -w 4 -s 64" ;;
    fanout-1000x16KiB) echo "--scenario fanout -c 1000 --pubs 1 -w 2 -s 16K" ;;
    *) echo "echo.sh: unknown scenario \"$1\"" >&2; return 1 ;;
  esac
}
for scenario in $SCENARIOS; do scenario_args "$scenario" >/dev/null; done

# --- Tools -------------------------------------------------------------------------------------

for tool in taskset jq node; do
  command -v "$tool" >/dev/null || { echo "echo.sh: $tool is missing" >&2; exit 1; }
done
for tool in deno bun tsc; do
  [[ -x $BIN/$tool ]] || { echo "echo.sh: $BIN/$tool is missing: run npm install" >&2; exit 1; }
done
# node_modules/.bin/deno is a Node script that runs the real binary with spawnSync and does not
# pass signals on: a server started through it would outlive `kill`. Run the binary itself.
DENO=$ROOT/node_modules/deno/deno
if [[ ! -x $DENO ]]; then DENO=$(command -v deno || true); fi
[[ -x $DENO ]] || { echo "echo.sh: cannot find the deno binary" >&2; exit 1; }
if [[ ! -x $WSLOAD ]]; then
  echo "echo.sh: building wsload with $(dirname "$WSLOAD")/build.sh"
  "$(dirname "$WSLOAD")/build.sh"
fi
WSLOAD=$(cd "$(dirname "$WSLOAD")" && pwd)/$(basename "$WSLOAD")

# 2000 held connections need as many descriptors in the server and in wsload.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

mkdir -p "$RESULTS" "$(dirname "$OUT")"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/netws-echo-XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- netws for Node ----------------------------------------------------------------------------

# Compiles the snapshot's mod.ts and src/ to ES2022 modules in $1 with the options the npm build
# uses.
compile_with_tsc() {
  local out=$1
  local files
  files=$(find "$SNAPSHOT/src" -name '*.ts' ! -name '*.d.ts' -printf '"%p",')
  cat >"$TMP/tsconfig.json" <<JSON
{
  "compilerOptions": {
    "target": "es2022",
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "lib": ["es2023", "dom", "dom.iterable", "dom.asynciterable"],
    "types": ["node"],
    "typeRoots": ["$ROOT/node_modules/@types"],
    "rewriteRelativeImportExtensions": true,
    "isolatedModules": true,
    "noCheck": true,
    "skipLibCheck": true,
    "rootDir": "$SNAPSHOT",
    "outDir": "$out"
  },
  "files": [$files "$SNAPSHOT/mod.ts"]
}
JSON
  # Diagnostics to stderr: stdout says which build was made.
  "$BIN/tsc" --project "$TMP/tsconfig.json" --pretty false >&2
  echo '{ "type": "module" }' >"$out/package.json"
}

# Builds netws for Node into $TMP/netws (a private copy, so that another build of npm/ during the
# benchmark cannot change the code under test) and prints how. build_npm.ts reads the working
# tree right after the snapshot below was taken; the tsc fallback compiles the snapshot itself.
build_for_node() {
  local out=$TMP/netws
  if [[ $NODE_BUILD == npm && -f scripts/build_npm.ts ]]; then
    if "$DENO" run -A scripts/build_npm.ts --no-smoke --no-test >"$TMP/build_npm.log" 2>&1 &&
      [[ -f npm/mod.js && -d npm/src ]]; then
      mkdir -p "$out"
      cp -R npm/mod.js npm/src npm/package.json "$out/"
      echo "npm build (scripts/build_npm.ts)"
      return
    fi
    echo "echo.sh: scripts/build_npm.ts failed, compiling with tsc instead:" >&2
    tail -n 5 "$TMP/build_npm.log" >&2
  fi
  compile_with_tsc "$out"
  echo "tsc build of mod.ts and src/"
}

# --- Servers -----------------------------------------------------------------------------------

# Prints the command line of server $2 ("netws" or "peer") on runtime $1 for scenario $3: the
# fan-out servers for fanout-*, the echo servers otherwise.
server_command() {
  if [[ $3 == fanout-* ]]; then
    case $1/$2 in
      node/netws) echo "node bench/servers/fanout_netws_node.mjs" ;;
      node/peer) echo "node bench/servers/fanout_ws.mjs" ;;
      deno/netws) echo "$DENO run -A $SNAPSHOT/bench/servers/fanout_netws.ts" ;;
      deno/peer) echo "$DENO run -A bench/servers/fanout_deno.ts" ;;
      bun/netws) echo "$BIN/bun $SNAPSHOT/bench/servers/fanout_netws.ts" ;;
      bun/peer) echo "$BIN/bun bench/servers/fanout_bun.ts" ;;
      node/floor) echo "node bench/servers/fanout_floor.mjs" ;;
      deno/floor) echo "$DENO run -A bench/servers/fanout_floor.mjs" ;;
      bun/floor) echo "$BIN/bun bench/servers/fanout_floor.mjs" ;;
    esac
    return
  fi
  case $1/$2 in
    node/netws) echo "node bench/servers/netws_node.mjs" ;;
    node/peer) echo "node bench/servers/ws_node.mjs" ;;
    deno/netws) echo "$DENO run -A $SNAPSHOT/bench/servers/netws.ts" ;;
    deno/peer) echo "$DENO run -A bench/servers/deno_serve.ts" ;;
    bun/netws) echo "$BIN/bun $SNAPSHOT/bench/servers/netws.ts" ;;
    bun/peer) echo "$BIN/bun bench/servers/bun_serve.ts" ;;
  esac
}

peer_name() {
  case $1 in
    node) echo "ws $(node -p 'require("./node_modules/ws/package.json").version')" ;;
    deno) echo "Deno.serve + Deno.upgradeWebSocket" ;;
    bun) echo "Bun.serve" ;;
  esac
}

runtime_version() {
  case $1 in
    node) echo "node $(node --version)" ;;
    deno) echo "deno $("$DENO" --version | head -n 1 | cut -d' ' -f2)" ;;
    bun) echo "bun $("$BIN/bun" --version)" ;;
  esac
}

# Starts a server pinned to $SRV_CPU on port $3; sets SERVER_PID once it printed "listening".
start_server() {
  local runtime=$1 server=$2 port=$3 log=$4 scenario=$5
  # Emptied here, not by the background job's redirection, which may happen after the first grep.
  : >"$log"
  # shellcheck disable=SC2046
  NETWS_MODULE=$TMP/netws/mod.js taskset -c "$SRV_CPU" $(server_command "$runtime" "$server" "$scenario") \
    "$port" >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    if grep -q '^listening' "$log"; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "echo.sh: $runtime/$server did not start:" >&2
  cat "$log" >&2
  return 1
}

stop_server() {
  local pid=$SERVER_PID
  SERVER_PID=
  # Its children first, in case a launcher wrapper does not pass the signal on.
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Cores busy over the next half second, from /proc/stat (all processes: none of ours runs now).
busy_cores() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  sleep 0.5
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN {
    split(a, x); split(b, y); printf "%.2f", (y[2] > x[2]) ? n * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}

# Waits (bounded) until other processes leave the machine mostly idle; prints the last load seen.
wait_quiet() {
  local load waited=0
  load=$(busy_cores)
  while awk -v l="$load" -v q="$QUIET" 'BEGIN { exit !(q > 0 && l > q) }' &&
    ((waited < QUIET_WAIT * 2)); do
    load=$(busy_cores)
    waited=$((waited + 1))
  done
  echo "$load"
}

# --- One run -----------------------------------------------------------------------------------

PORT=9400
FAILURES=0
run_one() {
  local runtime=$1 server=$2 scenario=$3 round=$4 load=$5
  local log=$TMP/server.log json=$TMP/wsload.json err=$TMP/wsload.err rc=0
  PORT=$((PORT >= 9599 ? 9400 : PORT + 1))
  if ! start_server "$runtime" "$server" "$PORT" "$log" "$scenario"; then
    stop_server
    jq -nc --arg r "$runtime" --arg s "$server" --arg sc "$scenario" --argjson n "$round" \
      '{tool:"wsload",ok:false,error:"server did not start",runtime:$r,server:$s,scenario:$sc,round:$n,rc:-1}' \
      >>"$RAW"
    FAILURES=$((FAILURES + 1))
    return
  fi
  # shellcheck disable=SC2046
  taskset -c "$GEN_CPU" "$WSLOAD" --url "ws://127.0.0.1:$PORT/" $(scenario_args "$scenario") \
    --warmup "$WARMUP" --duration "$DURATION" --pid "$SERVER_PID" \
    --label "$runtime/$server/$scenario/$round" >"$json" 2>"$err" || rc=$?
  stop_server
  local line
  line=$(grep '^{' "$json" | tail -n 1 || true)
  [[ -n $line ]] || line='{"tool":"wsload","ok":false,"error":"no JSON line"}'
  jq -c --arg r "$runtime" --arg s "$server" --arg sc "$scenario" --argjson n "$round" \
    --argjson rc "$rc" --argjson load "$load" \
    '. + {runtime:$r,server:$s,scenario:$sc,round:$n,rc:$rc,load_before:$load}' <<<"$line" >>"$RAW"
  printf '  %-5s %-5s %-14s r%s  %s\n' "$runtime" "$server" "$scenario" "$round" \
    "$(grep -v '^{' "$err" | tail -n 1)"
  if [[ $rc -ne 0 ]]; then
    FAILURES=$((FAILURES + 1))
    local keep=$RESULTS/echo-$STAMP-fail-$runtime-$server-$scenario-r$round
    cp "$log" "$keep.server.log"
    cp "$err" "$keep.wsload.err"
    echo "  ! wsload exited with $rc; logs in $keep.*" >&2
  fi
}

# --- Main --------------------------------------------------------------------------------------

started=$(date +%s)
# Others may edit src/ while this runs: Deno and Bun run netws from a copy taken now, so every run
# of an invocation tests the same code.
SNAPSHOT=$TMP/tree
mkdir -p "$SNAPSHOT/bench/servers"
cp -R mod.ts src "$SNAPSHOT/"
cp bench/servers/netws.ts bench/servers/fanout_netws.ts "$SNAPSHOT/bench/servers/"
# ES modules, as in the repository: tsc's "nodenext" emits CommonJS without it.
echo '{ "type": "module" }' >"$SNAPSHOT/package.json"
SOURCE_DIGEST=$(cd "$SNAPSHOT" && find mod.ts src -type f -name '*.ts' | sort | xargs cat | sha256sum |
  cut -c1-12)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain -- mod.ts src 2>/dev/null | grep -q . && echo yes || echo no)
NODE_BUILD_USED=
for runtime in $RUNTIMES; do
  if [[ $runtime == node ]]; then
    echo "Building netws for Node…"
    NODE_BUILD_USED=$(build_for_node)
    echo "  $NODE_BUILD_USED"
  fi
done

META=$TMP/meta.json
jq -n \
  --arg stamp "$STAMP" --argjson rounds "$ROUNDS" --arg warmup "$WARMUP" --arg duration "$DURATION" \
  --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  --arg commit "$COMMIT" --arg dirty "$DIRTY" --arg digest "$SOURCE_DIGEST" \
  --arg nodeBuild "$NODE_BUILD_USED" \
  --arg gen "$GEN_CPU" --arg srv "$SRV_CPU" --arg quiet "$QUIET" --arg quietWait "$QUIET_WAIT" \
  --argjson versions "$(for r in $RUNTIMES; do jq -n --arg r "$r" --arg v "$(runtime_version "$r")" \
    --arg p "$(peer_name "$r")" '{($r): {version: $v, peer: $p}}'; done | jq -s 'add')" \
  --argjson scenarios "$(for s in $SCENARIOS; do jq -n --arg s "$s" --arg a "$(scenario_args "$s")" \
    '{($s): $a}'; done | jq -s 'add')" \
  '{stamp:$stamp,rounds:$rounds,warmup:$warmup,duration:$duration,cpu:$cpu,commit:$commit,
    dirty:$dirty,digest:$digest,nodeBuild:$nodeBuild,genCpu:$gen,srvCpu:$srv,quiet:$quiet,quietWait:$quietWait,
    runtimes:$versions,
    scenarios:$scenarios}' >"$META"

echo "Raw results: $RAW"
for runtime in $RUNTIMES; do
  echo "== $(runtime_version "$runtime"): netws vs $(peer_name "$runtime")"
  for round in $(seq "$ROUNDS"); do
    for scenario in $SCENARIOS; do
      # Alternate which server goes first, so neither always runs right after the other.
      if ((round % 2 == 1)); then order="netws peer"; else order="peer netws"; fi
      if [[ $FLOOR == 1 && $scenario == fanout-* ]]; then
        if ((round % 2 == 1)); then order="$order floor"; else order="floor $order"; fi
      fi
      # Both servers of a pair start from the same quiet (or as quiet as it got).
      load=$(wait_quiet)
      for server in $order; do run_one "$runtime" "$server" "$scenario" "$round" "$load"; done
    done
  done
done

"$DENO" run --ext=ts --allow-read="$RAW,$META" - "$RAW" "$META" >"$OUT" <<'TS'
// Renders the raw JSON lines of this invocation as a Markdown report of medians and ratios.
const [rawPath, metaPath] = Deno.args as [string, string];
const meta = JSON.parse(Deno.readTextFileSync(metaPath));
const rows = Deno.readTextFileSync(rawPath).split("\n").filter((l) => l.startsWith("{"))
  .map((l) => JSON.parse(l));

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, digits = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "–";
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "–");

// What "better" means per scenario, and the issue's targets (netws/peer).
const TARGETS: Record<string, Record<string, number>> = {
  node: {
    "fanout-1000x64B": 3,
    "fanout-32x32": 3,
    "fanout-1000x16KiB": 3,
    "echo-64B": 1.5,
    "echo-64B-text": 1.5,
    "echo-16KiB": 1.2,
    "echo-1MiB": 1.2,
    "frag-1MiB": 1.2,
  },
  deno: {
    "fanout-1000x64B": 2,
    "fanout-32x32": 2,
    "fanout-1000x16KiB": 2,
    "echo-64B": 1.5,
    "echo-64B-text": 1.5,
    "echo-16KiB": 1.5,
    "echo-1MiB": 1.5,
    "frag-1MiB": 1.5,
  },
  bun: {
    "fanout-1000x64B": 0.5,
    "fanout-32x32": 0.5,
    "fanout-1000x16KiB": 0.5,
    "echo-64B": 0.5,
    "echo-64B-text": 0.5,
    "echo-16KiB": 0.5,
    "echo-1MiB": 0.5,
    "frag-1MiB": 0.5,
  },
};

const out: string[] = [];
out.push(`# Echo benchmark, ${meta.stamp}`, "");
out.push(
  `netws against the best peer server on each runtime, measured by \`bash bench/echo.sh ${meta.rounds}\`: ` +
    `${meta.rounds} round(s), fresh server per run, warm-up ${meta.warmup} s, ` +
    `measurement ${meta.duration} s, wsload on core ${meta.genCpu} and the server on core ` +
    `${meta.srvCpu}. Figures are medians over the rounds; a ratio is netws/peer of those ` +
    `medians (the range in brackets is the lowest and highest ratio of single rounds). ` +
    (Number(meta.quiet) > 0
      ? `Before each pair of runs the script waited up to ${meta.quietWait} s for other ` +
        `processes to use less than ${meta.quiet} cores.`
      : ""),
  "",
  "msg/CPU-s is messages per second of CPU the server process used (wsload's `srv_cpu`): when " +
    "other processes compete for the server's core, it shows the cost per message, which the " +
    "competition changes less than the rate.",
  "",
);
out.push(`- Machine: ${meta.cpu}, ${navigator.hardwareConcurrency} cores`);
out.push(
  `- Code under test: commit ${meta.commit}` +
    (meta.dirty === "yes" ? " with uncommitted changes to mod.ts or src/" : "") +
    ` (digest of mod.ts and src/: ${meta.digest})`,
);
if (meta.nodeBuild) out.push(`- netws on Node: ${meta.nodeBuild}`);
for (const [runtime, info] of Object.entries(meta.runtimes as Record<string, { version: string; peer: string }>)) {
  out.push(`- ${info.version}: peer ${info.peer}`);
}
out.push("", "Scenarios (wsload arguments):", "");
for (const [name, args] of Object.entries(meta.scenarios as Record<string, string>)) {
  out.push(`- \`${name}\`: \`${args}\``);
}

const failures = rows.filter((r) => r.rc !== 0 || r.ok === false);

const ok = (r: any) => r.rc === 0 && r.ok !== false;
const runsOf = (runtime: string, scenario: string, server: string) =>
  rows.filter((r) => r.runtime === runtime && r.scenario === scenario && r.server === server && ok(r));
// Ratio of medians, and in brackets the lowest and highest ratio of single rounds.
const compare = (a: any[], b: any[], metric: (r: any) => number) => {
  const ma = median(a.map(metric)), mb = median(b.map(metric));
  const ratios: number[] = [];
  for (const ra of a) {
    const rb = b.find((r) => r.round === ra.round);
    if (rb) ratios.push(metric(ra) / metric(rb));
  }
  const range = ratios.length > 1
    ? ` [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]`
    : "";
  return { a: ma, b: mb, ratio: ma / mb, text: `${ratio(ma / mb)}${range}` };
};
const pct = (rs: any[]) => `${fmt(median(rs.map((r) => r.srv_cpu * 100)))}%`;
const latency = (rs: any[], key = "lat_us") =>
  `${fmt(median(rs.map((r) => r[key].p50 / 1000)), 1)} / ${fmt(median(rs.map((r) => r[key].p99 / 1000)), 1)}`;

for (const runtime of Object.keys(meta.runtimes)) {
  const info = meta.runtimes[runtime];
  const scenarios = Object.keys(meta.scenarios);
  out.push("", `## ${info.version}: netws vs ${info.peer}`, "");
  const echo = scenarios.filter((s) => !s.startsWith("connect"));
  if (echo.length > 0) {
    out.push(
      "| scenario | netws msg/s | peer msg/s | **netws/peer** | target | netws msg/CPU-s | peer msg/CPU-s | netws/peer per CPU-s | server CPU netws / peer | latency p50 / p99 ms netws | latency p50 / p99 ms peer | runs |",
      "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const scenario of echo) {
      const a = runsOf(runtime, scenario, "netws"), b = runsOf(runtime, scenario, "peer");
      const rate = compare(a, b, (r) => r.msgs_per_s);
      const perCpu = compare(a, b, (r) => r.msgs_per_s / r.srv_cpu);
      const target = TARGETS[runtime]?.[scenario];
      const verdict = target === undefined
        ? "–"
        : `≥ ${target}× ${rate.ratio >= target ? "met" : "**not met**"}`;
      out.push(
        `| ${scenario} | ${fmt(rate.a)} | ${fmt(rate.b)} | **${rate.text}** | ${verdict} | ${fmt(perCpu.a)} | ${fmt(perCpu.b)} | ${perCpu.text} | ${pct(a)} / ${pct(b)} | ${latency(a)} | ${latency(b)} | ${a.length}+${b.length} |`,
      );
    }
  }
  const floored = echo.filter((s) => runsOf(runtime, s, "floor").length > 0);
  if (floored.length > 0) {
    out.push(
      "",
      "Against the floor (`bench/servers/fanout_floor.mjs`: node:net sockets, one prebuilt frame per " +
        "message written to every socket, no WebSocket library):",
      "",
      "| scenario | floor msg/s | netws/floor | peer/floor | floor msg/CPU-s | netws/floor per CPU-s | runs |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const scenario of floored) {
      const a = runsOf(runtime, scenario, "netws"), b = runsOf(runtime, scenario, "peer");
      const f = runsOf(runtime, scenario, "floor");
      const netws = compare(a, f, (r) => r.msgs_per_s), peer = compare(b, f, (r) => r.msgs_per_s);
      const perCpu = compare(a, f, (r) => r.msgs_per_s / r.srv_cpu);
      out.push(
        `| ${scenario} | ${fmt(netws.b)} | ${netws.text} | ${peer.text} | ${fmt(perCpu.b)} | ${perCpu.text} | ${f.length} |`,
      );
    }
  }
  const connect = scenarios.filter((s) => s.startsWith("connect"));
  if (connect.length > 0) {
    out.push(
      "",
      "| scenario | netws RSS B/conn | peer RSS B/conn | netws/peer (lower is better) | netws handshakes/s | peer handshakes/s | netws/peer | handshake p50 / p99 ms netws | handshake p50 / p99 ms peer | runs |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const scenario of connect) {
      const a = runsOf(runtime, scenario, "netws"), b = runsOf(runtime, scenario, "peer");
      const rss = compare(a, b, (r) => r.rss_per_conn_bytes);
      const hs = compare(a, b, (r) => r.handshakes_per_s);
      out.push(
        `| ${scenario} | ${fmt(rss.a)} | ${fmt(rss.b)} | ${rss.text} | ${fmt(hs.a)} | ${fmt(hs.b)} | ${hs.text} | ${latency(a, "hs_lat_us")} | ${latency(b, "hs_lat_us")} | ${a.length}+${b.length} |`,
      );
    }
  }
  const others = rows.filter((r) => r.runtime === runtime && typeof r.other_cpu === "number");
  const contended = others.filter((r) => r.other_cpu > 0.5).length;
  out.push(
    "",
    `CPU used by other processes during these runs: median ` +
      `${median(others.map((r) => r.other_cpu)).toFixed(2)} cores (of ` +
      `${navigator.hardwareConcurrency}); ${contended} of ${others.length} runs shared the ` +
      `machine with more than half a core of other work.`,
  );
}

out.push("", "## Failures", "");
if (failures.length === 0) out.push("None: every run exited 0 and every echoed byte matched.");
for (const f of failures) {
  out.push(
    `- ${f.runtime}/${f.server}/${f.scenario} round ${f.round}: wsload exit ${f.rc}` +
      (f.error ? `, ${f.error}` : ""),
  );
}
console.log(out.join("\n"));
TS

# The repository's `deno fmt --check` covers Markdown too.
"$DENO" fmt -q "$OUT" || true

echo
cat "$OUT"
echo
echo "Report: $OUT ($(($(date +%s) - started)) s, $FAILURES failed run(s))"
