/**
 * Checks that dependencies in `src/` flow one way (DESIGN.md §2) and that no import circle exists:
 *
 * - `protocol/` imports nothing above it; `pubsub/` (topics and the backplane contract) only
 *   `protocol/`; `handshake/` only those two; `connection/` only those three; `server/` those
 *   four.
 * - `adapters/**` import only `connection/transport.ts`, `connection/compression.ts` (the codec
 *   contract, as `transport.ts` is the socket's), `handshake/`, `adapters/shared.ts` and files of
 *   their own adapter (`node/http.ts` → `node/net.ts`). Two modules of `adapters/` are
 *   not adapters: `detect.ts` loads the adapter of the runtime, and `mod.ts` is the
 *   `./adapter` subpath, which also exports `connection/byte_streams.ts`. A backplane driver
 *   (`redis.ts`) also imports `pubsub/`, whose contract it implements.
 * - Only the module that starts the server (`server/serve.ts`, or `server/server.ts` until it
 *   exists) imports `adapters/detect.ts`; nothing else outside `adapters/` imports `adapters/`.
 *
 * Every import counts: static, dynamic, `export … from`, and type-only ones.
 *
 * Usage: deno run -A scripts/check_layers.ts
 *
 * @module
 */

import { listFiles, ROOT } from "./_tsc.ts";

const LAYERS = ["protocol", "pubsub", "handshake", "connection", "server"] as const;
/** Adapters that are backplane drivers: they implement `pubsub/`'s contract. */
const BACKPLANE_DRIVERS = ["src/adapters/redis.ts"];
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

const files = await listFiles("src", (path) => path.endsWith(".ts"));
const graph = new Map<string, string[]>();
for (const file of files) {
  const code = stripComments(await Deno.readTextFile(`${ROOT}${file}`));
  const targets: string[] = [];
  for (const [, specifier] of code.matchAll(IMPORT)) {
    if (specifier!.startsWith(".")) targets.push(resolve(file, specifier!));
  }
  graph.set(file, targets);
}

const serveModule = files.includes("src/server/serve.ts")
  ? "src/server/serve.ts"
  : "src/server/server.ts";
const problems: string[] = [];
for (const [file, targets] of graph) {
  for (const target of targets) {
    const why = forbidden(file, target);
    if (why !== undefined) problems.push(`${file} imports ${target}: ${why}`);
  }
}
for (const circle of circles()) problems.push(`import circle: ${circle.join(" → ")}`);

if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error("\nCannot accept the layout: dependencies must flow one way (DESIGN.md §2)");
  Deno.exit(1);
}
console.log(`Layers: ${files.length} files, dependencies flow one way, no import circle`);

/** Why `file` may not import `target`, or undefined when it may. */
function forbidden(file: string, target: string): string | undefined {
  const from = layerOf(file);
  const to = layerOf(target);
  if (target === "src/adapters/detect.ts") {
    return file === serveModule || file.startsWith("src/adapters/")
      ? undefined
      : `only ${serveModule} picks the adapter of the runtime`;
  }
  if (from === "adapters") return adapterMayImport(file, target);
  if (to === "adapters") return "the core never imports an adapter";
  const rank = (layer: string) => (LAYERS as readonly string[]).indexOf(layer);
  if (rank(to) > rank(from)) return `${from}/ may not import ${to}/, which is above it`;
  return undefined;
}

function adapterMayImport(file: string, target: string): string | undefined {
  if (target === "src/connection/transport.ts" || target === "src/adapters/shared.ts") return;
  if (target === "src/connection/compression.ts") return;
  if (target.startsWith("src/handshake/")) return;
  if (BACKPLANE_DRIVERS.includes(file) && target.startsWith("src/pubsub/")) return;
  if (file === "src/adapters/mod.ts" && target === "src/connection/byte_streams.ts") return;
  if (file === "src/adapters/detect.ts" && target.startsWith("src/adapters/")) return;
  // Within one adapter's own folder (src/adapters/node/…).
  const folder = file.slice(0, file.lastIndexOf("/") + 1);
  if (folder !== "src/adapters/" && target.startsWith(folder)) return;
  return "an adapter imports only connection/transport.ts, connection/compression.ts, handshake/ " +
    "and adapters/shared.ts";
}

function layerOf(file: string): string {
  return file.split("/")[1] ?? "";
}

/** Every import circle, each once, found by a depth-first walk. */
function circles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === "open") found.push([...stack.slice(stack.indexOf(target)), target]);
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

/** `specifier` imported from `file`, as a path from the root. */
function resolve(file: string, specifier: string): string {
  const parts = file.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

/** Blanks out comments (JSDoc examples import from anywhere), keeping strings. */
function stripComments(source: string): string {
  return source.replace(
    /\/\*[\s\S]*?\*\/|\/\/[^\n]*|("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)/g,
    (match, literal: string | undefined) => literal ?? match.replace(/[^\n]/g, " "),
  );
}
