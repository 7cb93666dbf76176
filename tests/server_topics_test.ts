// Topics on real sockets: subscriptions on connections, server.publish framed once, conn.publish
// to the others, unsubscription on disconnect, the slow-subscriber policy, metrics, and two
// servers sharing topics through a MemoryBackplane. One suite per adapter of this runtime.
import { describe } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import type { Connection } from "../mod.ts";
import { MemoryBackplane } from "../src/pubsub/memory_backplane.ts";
import { pattern } from "./helpers/bytes.ts";
import { upgradeRequest } from "./helpers/raw_client.ts";
import { delay, loadAdapters, openWs, type Scope, start, test, waitFor } from "./helpers/server.ts";

/** A client that completes the handshake, then stops reading: its server's queue fills. */
async function stalledClient(scope: Scope, port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  scope.defer(() => socket.destroy());
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(upgradeRequest());
  await new Promise<void>((resolve) => {
    socket.once("data", () => resolve());
  });
  socket.pause();
  return socket;
}

for (const { name, listen } of await loadAdapters()) {
  describe(`topics (${name} adapter)`, () => {
    test("Server publish reaches every subscriber once and returns how many", async (scope) => {
      const subscribed: Connection[] = [];
      const { server, url, log } = await start(scope, listen, {
        echo: false,
        onConnect(conn) {
          conn.on("ready", (conn) => {
            conn.subscribe("room");
            subscribed.push(conn);
          });
        },
      });
      const clients = await Promise.all([
        openWs(scope, url),
        openWs(scope, url),
        openWs(scope, url),
      ]);
      await waitFor(() => subscribed.length === 3, "three subscriptions");
      assert.equal(server.subscriberCount("room"), 3);
      assert.deepEqual(subscribed[0]!.topics, ["room"]);
      assert.equal(subscribed[0]!.isSubscribed("room"), true);
      assert.equal(server.publish("room", "héllo"), 3);
      assert.equal(server.publish("room", pattern(70_000)), 3);
      assert.equal(server.publish("elsewhere", "x"), 0);
      for (const client of clients) {
        assert.equal(await client.next(), "héllo");
        assert.deepEqual(await client.next(), pattern(70_000));
      }
      assert.deepEqual(log.errors, []);
      const metrics = server.metrics;
      assert.equal(metrics.publishes, 3);
      assert.equal(metrics.messagesOut, 6);
      assert.equal(metrics.connectionsOpen, 3);
    });

    test("Server metrics count messages and frame bytes in and out, publishes included", async (scope) => {
      const { server, url } = await start(scope, listen, {
        onConnect: (conn) => conn.on("ready", (conn) => conn.subscribe("room")),
      });
      const [a, b] = [await openWs(scope, url), await openWs(scope, url)];
      await waitFor(() => server.subscriberCount("room") === 2, "two subscribers");
      a.send("hello");
      assert.equal(await a.next(), "hello");
      assert.equal(server.publish("room", pattern(200)), 2);
      assert.deepEqual(await a.next(), pattern(200));
      assert.deepEqual(await b.next(), pattern(200));
      b.send(pattern(130));
      assert.deepEqual(await b.next(), pattern(130));
      const metrics = server.metrics;
      assert.equal(metrics.messagesIn, 2);
      assert.equal(metrics.messagesOut, 1 + 2 + 1, "two echoes and a publish to two");
      // Client frames are masked: 2 + 4 bytes of header under 126 bytes, 2 + 2 + 4 from 126.
      assert.equal(metrics.bytesIn, (6 + 5) + (8 + 130));
      // Server frames: 2 bytes of header under 126, 4 from 126 on.
      assert.equal(metrics.bytesOut, (2 + 5) + 2 * (4 + 200) + (4 + 130));
      assert.equal(metrics.publishes, 1);
      assert.equal(metrics.compressions, 0);
    });

    test("Connection publish reaches the others, in order with its own sends", async (scope) => {
      const { server, url } = await start(scope, listen, {
        echo: false,
        onConnect(conn) {
          conn.on("ready", (conn) => conn.subscribe("chat"));
          conn.on("text", (conn, text) => {
            conn.sendText(`you said ${text}`);
            conn.publish("chat", text);
            conn.sendText("done");
          });
        },
      });
      const [a, b] = [await openWs(scope, url), await openWs(scope, url)];
      await waitFor(() => server.subscriberCount("chat") === 2, "two subscribers");
      a.send("hi");
      assert.equal(await a.next(), "you said hi");
      assert.equal(await a.next(), "done");
      assert.equal(await b.next(), "hi");
      b.send("yo");
      assert.equal(await b.next(), "you said yo");
      assert.equal(await a.next(), "yo");
    });

    test("Connection unsubscribes, and leaves every topic when it closes", async (scope) => {
      const conns: Connection[] = [];
      const { server, url } = await start(scope, listen, {
        echo: false,
        onConnect(conn) {
          conn.on("ready", (conn) => {
            conn.subscribe("a");
            conn.subscribe("b");
            conns.push(conn);
          });
        },
      });
      const [first, second] = [await openWs(scope, url), await openWs(scope, url)];
      await waitFor(() => conns.length === 2, "two connections");
      assert.equal(conns[0]!.unsubscribe("a"), true);
      assert.equal(conns[0]!.unsubscribe("a"), false);
      assert.equal(server.publish("a", "only second"), 1);
      assert.equal(await second.next(), "only second");
      second.close();
      await waitFor(() => server.subscriberCount("b") === 1, "second to leave b");
      assert.equal(server.subscriberCount("a"), 0);
      assert.equal(conns[1]!.subscribe("c"), false, "a closed connection cannot subscribe");
      assert.equal(server.publish("b", "first"), 1);
      assert.equal(await first.next(), "first");
      const closes = Object.values(server.metrics.closeCodes).reduce((a, b) => a + b, 0);
      assert.equal(closes, 1, JSON.stringify(server.metrics.closeCodes));
    });

    test("Server publish skips a stalled subscriber and counts the drops", async (scope) => {
      const drops: string[] = [];
      const { server, url, port } = await start(scope, listen, {
        echo: false,
        publishMark: 256 * 1024,
        maxBufferedAmount: 256 * 1024 * 1024,
        onDrop: (_conn, topic) => void drops.push(topic),
        onConnect(conn) {
          conn.on("ready", (conn) => conn.subscribe("feed"));
        },
      });
      await stalledClient(scope, port);
      const fast = await openWs(scope, url);
      await waitFor(() => server.subscriberCount("feed") === 2, "two subscribers");
      const message = pattern(64 * 1024);
      const count = 400; // 25 MiB: more than the kernel buffers hold for the stalled one
      let delivered = 0;
      for (let i = 0; i < count; i++) {
        delivered += server.publish("feed", message);
        // The fast one reads each message before the next: only the stalled one falls behind.
        assert.equal((await fast.next(5000) as Uint8Array).length, message.length);
      }
      assert.ok(drops.length > 0, "the stalled subscriber was skipped");
      assert.equal(delivered + drops.length, 2 * count);
      assert.equal(server.metrics.drops, drops.length);
      await delay(50);
      assert.equal(server.subscriberCount("feed"), 2, "dropping does not close");
    });

    test("Server publish closes a stalled subscriber with 1008 under the close policy", async (scope) => {
      const { server, url, port, log } = await start(scope, listen, {
        echo: false,
        slowSubscriber: "close",
        publishMark: 256 * 1024,
        onConnect(conn) {
          conn.on("ready", (conn) => conn.subscribe("feed"));
        },
      });
      await stalledClient(scope, port);
      const fast = await openWs(scope, url);
      await waitFor(() => server.subscriberCount("feed") === 2, "two subscribers");
      const message = pattern(64 * 1024);
      for (let i = 0; i < 400 && server.subscriberCount("feed") === 2; i++) {
        server.publish("feed", message);
        assert.equal((await fast.next(5000) as Uint8Array).length, message.length);
      }
      await waitFor(() => log.disconnects.some((d) => d.code === 1008), "the stalled one to close");
      assert.equal(server.subscriberCount("feed"), 1);
      assert.equal(server.metrics.closeCodes["1008"], 1);
    });

    test("Servers share topics through a backplane", async (scope) => {
      const bus = MemoryBackplane.bus();
      const options = {
        echo: false,
        onConnect(conn: Connection) {
          conn.on("ready", (conn) => conn.subscribe("lobby"));
          conn.on("text", (conn, text) => conn.publish("lobby", text));
        },
      };
      const one = await start(scope, listen, {
        ...options,
        backplane: new MemoryBackplane({ bus }),
      });
      const two = await start(scope, listen, {
        ...options,
        backplane: new MemoryBackplane({ bus }),
      });
      const [a, b] = [await openWs(scope, one.url), await openWs(scope, two.url)];
      await waitFor(
        () =>
          one.server.subscriberCount("lobby") === 1 && two.server.subscriberCount("lobby") === 1,
        "one subscriber on each server",
      );
      a.send("from one");
      assert.equal(await b.next(), "from one");
      b.send("from two");
      assert.equal(await a.next(), "from two");
      assert.equal(two.server.publish("lobby", pattern(5)), 1);
      assert.deepEqual(await a.next(), pattern(5));
      assert.equal(one.server.metrics.backplaneIn, 2);
      assert.equal(one.server.metrics.backplaneOut, 1);
    });
  });
}
