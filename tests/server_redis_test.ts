// Two netws servers in separate processes, on different runtimes, sharing topics through a real
// Redis: clients on each exchange messages, binary ones with every byte value.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { serve } from "../mod.ts";
import { RedisBackplane } from "../src/adapters/redis.ts";
import { pattern } from "./helpers/bytes.ts";
import { RedisServer, ROOT, RUNTIME, within } from "./helpers/redis_server.ts";
import { WsClient } from "./helpers/ws_client.ts";

function peerCommand(redisUrl: string): { runtime: string; command: string; args: string[] } {
  const compiled = import.meta.url.endsWith(".js");
  const script = fileURLToPath(
    new URL(`./helpers/topic_server_peer.${compiled ? "js" : "ts"}`, import.meta.url),
  );
  const deno = `${ROOT}node_modules/deno/deno`;
  const bun = `${ROOT}node_modules/.bin/bun`;
  if (RUNTIME !== "deno" && existsSync(deno)) {
    return {
      runtime: "deno",
      command: deno,
      args: ["run", "-A", `--config=${ROOT}deno.json`, script, redisUrl],
    };
  }
  return { runtime: "bun", command: bun, args: [script, redisUrl] };
}

describe("topics through Redis", () => {
  it("Servers on two runtimes share a room through Redis", { timeout: 30_000 }, async () => {
    const redis = await RedisServer.start();
    const backplane = new RedisBackplane({ url: redis.url });
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
    const { runtime, command, args } = peerCommand(redis.url);
    const child = spawn(command, args, { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
    const clients: WsClient[] = [];
    try {
      await server.ready;
      const first = await within(
        createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next(),
        15_000,
        "start the peer server",
      );
      const peer = JSON.parse(first.value as string) as { port: number; runtime: string };
      assert.equal(peer.runtime, runtime);
      const here = await WsClient.connect(`ws://127.0.0.1:${server.port}/room`);
      const there = await WsClient.connect(`ws://127.0.0.1:${peer.port}/room`);
      const otherRoom = await WsClient.connect(`ws://127.0.0.1:${peer.port}/other`);
      clients.push(here, there, otherRoom);
      for (const client of clients) assert.equal(await client.next(5000), "joined");

      here.send("hello from " + RUNTIME);
      assert.equal(await there.next(5000), "hello from " + RUNTIME);
      there.send(pattern(256));
      assert.deepEqual(await here.next(5000), pattern(256));
      there.send("ünïcödé ✓");
      assert.equal(await here.next(5000), "ünïcödé ✓");
      await new Promise((resolve) => setTimeout(resolve, 100));
      otherRoom.send("nobody in room hears this");
      await assert.rejects(here.next(300), /timed out/);
      assert.equal(server.metrics.backplaneIn, 2);
      assert.equal(server.metrics.backplaneOut, 1);
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
      child.stdin!.end();
      await within(new Promise((resolve) => child.once("exit", resolve)), 10_000, "stop the peer")
        .catch(() => child.kill("SIGKILL"));
      await server.shutdown();
      await redis.stop();
    }
  });
});
