/**
 * A netws server in a child process that shares topics through Redis, for the cross-runtime
 * tests: every connection subscribes to the topic in its path (`/room`) and publishes what it
 * sends to the others. Prints `{"port":N,"runtime":R}` once listening; stops on stdin's end.
 * Arguments: the Redis URL.
 */
import process from "node:process";
import { serve } from "../../mod.ts";
import { RedisBackplane } from "../../src/adapters/redis.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const backplane = new RedisBackplane({ url: process.argv[process.argv.length - 1]! });
const server = serve({
  port: 0,
  hostname: "127.0.0.1",
  backplane,
  onConnect(conn) {
    conn.on("ready", (conn) => {
      conn.subscribe(conn.request!.path.slice(1));
      void backplane.subscriptionsSettled().then(() => conn.sendText("joined"));
    });
    conn.on("text", (conn, text) => void conn.publish(conn.topics[0]!, text));
    conn.on("binary", (conn, data) => void conn.publish(conn.topics[0]!, data));
  },
});
await server.ready;
process.stdout.write(JSON.stringify({ port: server.port, runtime }) + "\n");
process.stdin.on("data", () => {});
process.stdin.on("end", async () => {
  await server.shutdown();
  process.exit(0);
});
