/**
 * Fan-out server of the benchmark, on netws, for Deno and Bun (Node runs the same logic compiled:
 * see `fanout_netws_node.mjs`): every message received goes to every open connection, the sender
 * included, with its opcode. With `FANOUT=publish` (the default where the server has topics) every
 * connection subscribes to one topic and each message is published once; `FANOUT=loop` sends it
 * to each connection in a loop, the way an application without topics would.
 *
 * A subscriber is skipped by a publish only past `publishMark`, set here to `maxBufferedAmount`
 * (16 MiB, the default): what `Bun.serve` buffers per connection before its `publish` skips it,
 * while ws and `Deno.upgradeWebSocket` buffer without a limit. The drops, if any, are printed on
 * exit (wsload reports them as missing messages).
 *
 * With `REDIS_URL` set, the server listens with `reusePort` and publishes through a
 * `RedisBackplane` on that URL, so that several of these processes on one port serve one topic
 * together (`bench/fanout_cluster.sh`; Deno needs `--unstable-net` for `reusePort`).
 *
 * ```sh
 * deno run -A bench/servers/fanout_netws.ts 9001
 * bun bench/servers/fanout_netws.ts 9001
 * REDIS_URL=redis://127.0.0.1:6379 bun bench/servers/fanout_netws.ts 9001
 * ```
 *
 * Prints `listening <port>` once ready. Stops on SIGTERM or SIGINT.
 *
 * @module
 */

import { type Connection, serve } from "../../mod.ts";

const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);
const TOPIC = "all";
const MAX_BUFFERED = 16 * 1024 * 1024;

// Topics are feature-detected so that the same server measures code with and without them.
type Topics = {
  subscribe(topic: string): unknown;
  publish?: unknown;
};
type Publisher = { publish(topic: string, data: string | Uint8Array): number };

const redisUrl = process.env.REDIS_URL;
const backplane = redisUrl === undefined
  ? undefined
  : new (await import("../../src/adapters/redis.ts")).RedisBackplane({ url: redisUrl });

// NETWS_LISTEN=node runs the server on the node:net adapter (on Deno and Bun too).
const listen = process.env.NETWS_LISTEN === "node"
  ? (await import("../../src/adapters/node/net.ts")).listen
  : undefined;

const server = serve({
  port,
  hostname: "127.0.0.1",
  ...(listen === undefined ? {} : { listen }),
  ...(backplane === undefined ? {} : { backplane, reusePort: true }),
  maxMessageSize: 1 << 20,
  maxBufferedAmount: MAX_BUFFERED,
  publishMark: MAX_BUFFERED,
  onConnect(conn) {
    conn.on("ready", (c) => {
      if (usePublish) (c as unknown as Topics).subscribe(TOPIC);
    });
    conn.on("text", (_, text) => broadcast(text));
    conn.on("binary", (_, data) => broadcast(data));
  },
  onError(error) {
    console.error("netws fan-out server:", error);
  },
});
const hasTopics = typeof (server as unknown as { publish?: unknown }).publish === "function";
const usePublish = (process.env.FANOUT ?? (hasTopics ? "publish" : "loop")) === "publish";

function broadcast(data: string | Uint8Array): void {
  if (usePublish) {
    (server as unknown as Publisher).publish(TOPIC, data);
    return;
  }
  const send = typeof data === "string"
    ? (c: Connection) => c.sendText(data)
    : (c: Connection) => c.sendBinary(data);
  for (const c of server.connections) send(c);
}

await server.ready;
console.log(`listening ${server.port}`);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    const metrics = (server as unknown as { metrics?: Record<string, number> }).metrics;
    if (metrics?.drops !== undefined) console.error(`drops ${metrics.drops}`);
    if (backplane !== undefined && metrics !== undefined) {
      const { connectionsOpened, backplaneIn, backplaneOut, backplaneErrors } = metrics;
      console.error(
        `metrics ${
          JSON.stringify({ connectionsOpened, backplaneIn, backplaneOut, backplaneErrors })
        }`,
      );
    }
    process.exit(0);
  });
}
