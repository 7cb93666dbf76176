// Summarises a .cpuprofile (Node --cpu-prof, Bun --cpu-prof, or inspect.mjs cpu on Deno): self time
// per function (name, file:line), largest first, and the share by where the code lives: netws
// (src/ or the npm build), the runtime's own JS (node:, ext:, bun internals), native / GC / idle.
//
//   node bench/profile/cpu_top.mjs PROFILE.cpuprofile [TOP]
import { readFileSync } from "node:fs";

const [path, top = "25"] = process.argv.slice(2);
const p = JSON.parse(readFileSync(path, "utf8"));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = p.timeDeltas;
for (let i = 0; i < p.samples.length; i++) {
  const id = p.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i + 1] ?? dt[i] ?? 0));
}
const fn = new Map();
const groups = new Map();
const files = new Map();
let total = 0;
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  const url = cf.url || "";
  const file = url.replace(/^.*\/(src|npm|bench|node_modules)\//, "$1/");
  const key = `${cf.functionName || "(anonymous)"} ${file}${url ? ":" + (cf.lineNumber + 1) : ""}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  let g;
  if (
    cf.functionName === "(idle)" || cf.functionName === "(program)" ||
    cf.functionName === "(garbage collector)"
  ) g = cf.functionName;
  else if (/\/(src|npm)\//.test(url) || /\/mod\.(ts|js)$/.test(url)) g = "netws";
  else if (/node_modules\/ws\//.test(url)) g = "ws";
  else if (url.startsWith("node:") || url.startsWith("ext:") || url === "" || !url.includes("/")) {
    g = "runtime (JS builtins and native)";
  } else g = "other JS";
  groups.set(g, (groups.get(g) ?? 0) + t);
  if (g === "netws") files.set(file, (files.get(file) ?? 0) + t);
  total += t;
}
const busy = total - (groups.get("(idle)") ?? 0);
console.log(
  `samples ${p.samples.length}, ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s`,
);
console.log("| group | % of busy |\n| --- | ---: |");
for (const [g, t] of [...groups].sort((a, b) => b[1] - a[1])) {
  if (g !== "(idle)") console.log(`| ${g} | ${(100 * t / busy).toFixed(1)} |`);
}
console.log("\n| netws file | self % of busy |\n| --- | ---: |");
for (const [f, t] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
  console.log(`| ${f} | ${(100 * t / busy).toFixed(1)} |`);
}
console.log("\n| self % of busy | function |\n| ---: | --- |");
for (const [k, t] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  if (k.startsWith("(idle)")) continue;
  console.log(`| ${(100 * t / busy).toFixed(1)} | \`${k}\` |`);
}
