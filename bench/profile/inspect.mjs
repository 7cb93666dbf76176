// Records a CPU profile or a heap snapshot from a process started with --inspect (V8 inspector
// protocol: Node and Deno), for the profiles in bench/results/profiles-*.md.
//
//   node bench/profile/inspect.mjs cpu  ws://127.0.0.1:9229/<id> SECONDS OUT.cpuprofile
//   node bench/profile/inspect.mjs heap ws://127.0.0.1:9229/<id> OUT.heapsnapshot
//
// The inspector URL is printed by the runtime on stderr ("Debugger listening on ws://…"), or
// listed at http://127.0.0.1:9229/json. A heap snapshot is taken after a full garbage collection.
import { createWriteStream, writeFileSync } from "node:fs";
import WebSocket from "ws";

const [mode, url, a, b] = process.argv.slice(2);
const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
let next = 1;
const pending = new Map();
let chunks;
ws.on("message", (data) => {
  const msg = JSON.parse(data.toString());
  if (msg.method === "HeapProfiler.addHeapSnapshotChunk") chunks.write(msg.params.chunk);
  if (msg.id !== undefined && pending.has(msg.id)) {
    pending.get(msg.id)(msg);
    pending.delete(msg.id);
  }
});
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const id = next++;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
await new Promise((resolve, reject) => {
  ws.once("open", resolve);
  ws.once("error", reject);
});
if (mode === "cpu") {
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 200 });
  await call("Profiler.start");
  await new Promise((r) => setTimeout(r, Number(a) * 1000));
  const { result } = await call("Profiler.stop");
  writeFileSync(b, JSON.stringify(result.profile));
} else if (mode === "heap") {
  chunks = createWriteStream(a);
  await call("HeapProfiler.enable");
  await call("HeapProfiler.collectGarbage");
  await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  await new Promise((r) => chunks.end(r));
} else {
  console.error("usage: inspect.mjs cpu|heap URL …");
  process.exit(1);
}
ws.close();
