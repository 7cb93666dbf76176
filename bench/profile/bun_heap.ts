/**
 * Object counts of Bun's heap (JavaScriptCore) around a server, for the per-connection breakdown
 * in bench/results/profiles-*.md: runs SERVER_FILE (argv[2], its port argv[3]) in this process and,
 * on each SIGUSR2, collects garbage and appends one JSON line (heap size, object count, counts per
 * type) to HEAP_OUT.
 *
 * ```sh
 * HEAP_OUT=/tmp/h.jsonl bun bench/profile/bun_heap.ts bench/servers/netws.ts 9313
 * ```
 *
 * @module
 */
import { appendFileSync } from "node:fs";

// Bun's own types are not installed: declare the little this script uses.
declare const Bun: { gc(force: boolean): void };
interface HeapStats {
  heapSize: number;
  objectCount: number;
  extraMemorySize: number;
  objectTypeCounts: Record<string, number>;
}
// Through a variable, so that type checks outside Bun do not resolve the `bun:` module.
const jsc = "bun:jsc";
const { heapStats } = (await import(jsc)) as { heapStats(): HeapStats };

const out = process.env.HEAP_OUT ?? "bun-heap.jsonl";
const [file, port] = process.argv.slice(2);
if (file === undefined) throw new Error("Cannot start: no server file given");
process.argv.splice(2, 1); // the server reads its port from argv[2]
process.on("SIGUSR2", () => {
  Bun.gc(true);
  const s = heapStats();
  appendFileSync(
    out,
    JSON.stringify({
      heapSize: s.heapSize,
      objectCount: s.objectCount,
      extraMemorySize: s.extraMemorySize,
      counts: s.objectTypeCounts,
    }) + "\n",
  );
});
await import(new URL(file, `file://${process.cwd()}/`).href);
void port;
