// Summarises what N idle connections add to a V8 heap (Node, Deno): two .heapsnapshot files, one
// taken before the connections were opened, one with them open; prints, per object class, the
// count and self bytes added, divided by N, largest first.
//
// BY_OWNER=1 names generic objects (Object, arrays, strings, closures) by their first retainer.
//
//   node bench/profile/heap_diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot N [TOP]
import { readFileSync } from "node:fs";

const BY_OWNER = process.env.BY_OWNER === "1";

function summarise(path) {
  const snap = JSON.parse(readFileSync(path, "utf8"));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type"),
    iName = fields.indexOf("name"),
    iSize = fields.indexOf("self_size");
  const nodes = snap.nodes, strings = snap.strings, edges = snap.edges;
  // The first retainer of each node (object index, edge name), to name generic objects by owner.
  const eFields = meta.edge_fields, eWidth = eFields.length, eTypes = meta.edge_types[0];
  const iEdgeCount = fields.indexOf("edge_count");
  const iEType = eFields.indexOf("type"),
    iEName = eFields.indexOf("name_or_index"),
    iTo = eFields.indexOf("to_node");
  const owner = new Int32Array(nodes.length / width).fill(-1);
  const ownerEdge = new Array(nodes.length / width);
  for (let i = 0, e = 0; i < nodes.length; i += width) {
    const count = nodes[i + iEdgeCount];
    for (let k = 0; k < count; k++, e += eWidth) {
      const et = eTypes[edges[e + iEType]];
      if (et === "weak" || et === "shortcut") continue;
      const to = edges[e + iTo] / width;
      if (owner[to] !== -1) continue;
      owner[to] = i / width;
      ownerEdge[to] = et === "element" || et === "hidden"
        ? `[${edges[e + iEName]}]`
        : String(strings[edges[e + iEName]]);
    }
  }
  const named = (j) => {
    const t = types[nodes[j * width + iType]];
    return t === "object" || t === "closure" || t === "native"
      ? strings[nodes[j * width + iName]]
      : `(${t})`;
  };
  const generic = new Set([
    "Object",
    "Array",
    "(array)",
    "(string)",
    "(sliced string)",
    "(concatenated string)",
    "system / Context",
    "(hidden)",
    "(object shape)",
    "(number)",
    "(synthetic)",
  ]);
  const byKey = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = type === "object" || type === "closure" || type === "native"
      ? strings[nodes[i + iName]]
      : `(${type})`;
    if (type === "closure") name = `closure ${name}`;
    if (BY_OWNER && (generic.has(name) || type === "closure")) {
      const o = owner[i / width];
      if (o !== -1) name = `${name} <- ${named(o)}.${ownerEdge[i / width]}`;
    }
    if (name.length > 60) name = name.slice(0, 60);
    const size = nodes[i + iSize];
    total += size;
    const entry = byKey.get(name) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += size;
    byKey.set(name, entry);
  }
  return { byKey, total };
}

const [beforePath, afterPath, n, top = "30"] = process.argv.slice(2);
const before = summarise(beforePath), after = summarise(afterPath);
const N = Number(n);
const rows = [];
for (const [name, a] of after.byKey) {
  const b = before.byKey.get(name) ?? { count: 0, size: 0 };
  rows.push({ name, count: (a.count - b.count) / N, bytes: (a.size - b.size) / N });
}
rows.sort((x, y) => y.bytes - x.bytes);
console.log(
  `heap self size added per connection: ${
    ((after.total - before.total) / N).toFixed(0)
  } B (N = ${N})`,
);
console.log("| objects of | per conn | bytes per conn |\n| --- | ---: | ---: |");
for (const r of rows.slice(0, Number(top))) {
  console.log(
    `| ${r.name.replaceAll("|", "\\|")} | ${r.count.toFixed(2)} | ${r.bytes.toFixed(0)} |`,
  );
}
