#!/bin/sh
# Runs bench/core_bench.ts on Deno, Bun and Node, one after the other, and prints one Markdown
# table of all three. Node runs the benchmark compiled by tsc, as the npm package ships it.
#
#   sh bench/run_core.sh               # every case once per runtime, about 80 s in all
#   ROUNDS=3 sh bench/run_core.sh      # three rounds; the table shows each case's median round
#   sh bench/run_core.sh 64B --quick   # only ids containing "64B", fewer runs
#
# JSON lines go to .bench-results/core-<runtime>.jsonl, the table to .bench-results/core.md.
set -eu
ROUNDS=${ROUNDS:-1}
cd "$(dirname "$0")/.."
bin=node_modules/.bin
results=.bench-results
mkdir -p "$results"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netws-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

cat >"$tmp/tsconfig.json" <<JSON
{
  "compilerOptions": {
    "target": "es2022",
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "lib": ["es2023", "dom", "dom.iterable", "dom.asynciterable"],
    "types": [],
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "noImplicitOverride": true,
    "rewriteRelativeImportExtensions": true,
    "skipLibCheck": true,
    "rootDir": "$PWD",
    "outDir": "$tmp/out"
  },
  "files": ["$PWD/bench/core_bench.ts"]
}
JSON
"$bin/tsc" --project "$tmp/tsconfig.json" --pretty false
echo '{ "type": "module" }' >"$tmp/out/package.json"

# Runtimes take turns, so that a change in the machine's load falls on all three. The readable
# tables go to stderr, so they show while the JSON lines are collected.
for runtime in deno bun node; do : >"$results/core-$runtime.jsonl"; done
round=0
while [ "$round" -lt "$ROUNDS" ]; do
  round=$((round + 1))
  "$bin/deno" run -A bench/core_bench.ts "$@" >>"$results/core-deno.jsonl"
  "$bin/bun" bench/core_bench.ts "$@" >>"$results/core-bun.jsonl"
  node "$tmp/out/bench/core_bench.js" "$@" >>"$results/core-node.jsonl"
done

"$bin/deno" eval "
import { renderMarkdown } from './bench/core_bench.ts';
const files = ['deno', 'bun', 'node'].map((runtime) => '$results/core-' + runtime + '.jsonl');
const lines = files.flatMap((file) => Deno.readTextFileSync(file).split('\\n'));
const results = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
let cpu = '';
try {
  cpu = Deno.readTextFileSync('/proc/cpuinfo').match(/model name\\s*:\\s*(.*)/)?.[1] ?? '';
} catch {
  // Not Linux: leave the processor out.
}
const where = cpu === '' ? '' : ' on ' + cpu + ' (' + navigator.hardwareConcurrency + ' cores)';
console.log(renderMarkdown(results) + '\\n\\nMeasured ' + new Date().toISOString().slice(0, 10) + where + '.');
" | tee "$results/core.md"
