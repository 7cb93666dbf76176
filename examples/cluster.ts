/**
 * Several worker processes on one port, sharing rooms through Redis: the multi-core recipe of the
 * README ("Several cores on one machine"). A client joins the room in its path (`/lobby` is the
 * room `lobby`), is greeted with `joined <room> on worker <n>` once the worker has subscribed the
 * room in Redis, and every text it sends reaches everyone in that room, whichever worker they are
 * connected to, as `<n>: <text>`.
 *
 * ```sh
 * redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no &
 * deno run -A examples/cluster.ts --workers 4   # workers run with --unstable-net, for reusePort
 * bun run examples/cluster.ts --workers 4
 * node npm/examples/cluster.js --workers 4      # node:cluster; after `deno task build:npm`
 * ```
 *
 * Flags: `--port` (0 picks a free one, shared by every worker), `--host`, `--workers` (default:
 * the number of cores), `--redis` (default: `$REDIS_URL`, else `redis://127.0.0.1:6379`). On Deno
 * and Bun the primary starts the workers as child processes that each listen with `reusePort`,
 * and the kernel spreads connections among them; on Node the workers are `node:cluster` workers,
 * and the primary's listening socket hands them connections. Each worker prints
 * `{"worker":n,"port":p,"pid":…}` once it listens; the primary prints one line once all do.
 * SIGINT or SIGTERM to the primary stops every worker (each shuts its server down) and then it.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { serve } from "../mod.ts";
import { RedisBackplane } from "../src/adapters/redis.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    workers: { type: "string", default: String(availableParallelism()) },
    redis: { type: "string", default: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" },
    worker: { type: "string" }, // set by the primary for the worker processes it starts
  },
});
const port = Number(values.port);
const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers < 1) {
  throw new RangeError(
    `Cannot start: --workers ${JSON.stringify(values.workers)} is not 1 or more`,
  );
}

if (runtime === "node" && cluster.isPrimary) await nodePrimary();
else if (runtime === "node") await worker(cluster.worker!.id, false);
else if (values.worker !== undefined) await worker(Number(values.worker), true);
else await spawningPrimary();

/** One worker: a netws server whose rooms are Redis topics. */
async function worker(id: number, reusePort: boolean): Promise<void> {
  const backplane = new RedisBackplane({ url: values.redis });
  backplane.onError = (error) => console.warn(`worker ${id}: backplane ${error.stage}:`, error);
  const server = serve({
    port,
    hostname: values.host,
    reusePort,
    backplane,
    onConnect(conn) {
      conn.on("ready", (conn) => {
        const room = conn.request!.path.slice(1) || "lobby";
        conn.subscribe(room);
        void backplane.subscriptionsSettled().then(() =>
          conn.sendText(`joined ${room} on worker ${id}`)
        );
      });
      conn.on("text", (conn, text) => void server.publish(conn.topics[0]!, `${id}: ${text}`));
    },
  });
  await server.ready;
  console.log(JSON.stringify({ worker: id, port: server.port, pid: process.pid }));
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void server.shutdown().then(() => process.exit(0)));
  }
}

/** Deno and Bun: starts the workers as child processes of the same runtime, on one port. */
async function spawningPrimary(): Promise<void> {
  const script = fileURLToPath(import.meta.url);
  const children: ChildProcess[] = [];
  const start = (id: number, at: number): Promise<number> => {
    const flags = ["--port", String(at), "--host", values.host, "--redis", values.redis];
    const args = runtime === "deno"
      ? [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-sys",
        "--unstable-net",
        script,
      ]
      : [script];
    const child = spawn(process.execPath, [...args, ...flags, "--worker", String(id)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout! });
    return new Promise((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`Cannot start worker ${id}: exit ${code}`)));
      lines.once("line", (line) => resolve((JSON.parse(line) as { port: number }).port));
      lines.on("line", (line) => console.log(line));
    });
  };
  const stop = () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, stop);
  try {
    // The first worker picks the port when 0 was asked for; the others bind the same one.
    const shared = await start(1, port);
    await Promise.all(Array.from({ length: workers - 1 }, (_, i) => start(i + 2, shared)));
    console.log(`${workers} ${runtime} workers on ws://${values.host}:${shared}/<room>`);
  } catch (error) {
    stop();
    throw error;
  }
  await Promise.all(children.map((child) => new Promise((done) => child.once("exit", done))));
}

/** Node: `node:cluster` workers; the primary holds the listening socket and deals connections. */
async function nodePrimary(): Promise<void> {
  const listening = Array.from({ length: workers }, () => {
    const child = cluster.fork();
    return new Promise<number>((resolve) => child.once("listening", (at) => resolve(at.port)));
  });
  const stop = () => {
    for (const child of Object.values(cluster.workers ?? {})) child?.process.kill("SIGTERM");
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, stop);
  const [shared] = await Promise.all(listening);
  console.log(`${workers} node workers on ws://${values.host}:${shared}/<room>`);
}
