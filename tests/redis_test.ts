// The Redis backplane against a real redis-server (started per suite on a free loopback port,
// no persistence), with instances in this process and in child processes on other runtimes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { RedisBackplane, type RedisBackplaneOptions } from "../src/adapters/redis.ts";
import type { BackplaneError, Envelope } from "../src/pubsub/backplane.ts";
import { encodeEnvelope } from "../src/pubsub/envelope.ts";
import { TopicRegistry } from "../src/pubsub/topics.ts";
import { pattern } from "./helpers/bytes.ts";
import { delay, RedisServer, ROOT, RUNTIME, waitFor, within } from "./helpers/redis_server.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);
const TEST_TIMEOUT = 30_000;

/** A backplane in this process that records what it receives and the errors it reports. */
class Local {
  readonly backplane: RedisBackplane;
  readonly received: Envelope[] = [];
  readonly errors: BackplaneError[] = [];

  constructor(options: RedisBackplaneOptions) {
    this.backplane = new RedisBackplane(options);
    this.backplane.onError = (error) => this.errors.push(error);
    this.backplane.subscribe((envelope) => this.received.push(envelope));
  }

  publish(topic: string, data: Uint8Array, binary = true): Promise<void> {
    return this.backplane.publish({ instance: this.backplane.instanceId, topic, data, binary });
  }
}

interface PeerEvent {
  ev: string;
  [key: string]: unknown;
}

/** A backplane in a child process on another runtime (tests/helpers/redis_peer.ts). */
class Peer {
  readonly events: PeerEvent[] = [];
  readonly runtime: string;
  #child: ChildProcess;
  #stderr = "";

  constructor(runtime: string, command: string, args: string[]) {
    this.runtime = runtime;
    this.#child = spawn(command, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    createInterface({ input: this.#child.stdout! }).on("line", (line) => {
      this.events.push(JSON.parse(line) as PeerEvent);
    });
    this.#child.stderr!.on("data", (chunk: Uint8Array) => {
      this.#stderr += new TextDecoder().decode(chunk);
    });
  }

  get instance(): string {
    return this.events.find((event) => event.ev === "ready")!.instance as string;
  }

  get messages(): PeerEvent[] {
    return this.events.filter((event) => event.ev === "msg");
  }

  send(command: Record<string, unknown>): void {
    this.#child.stdin!.write(JSON.stringify(command) + "\n");
  }

  /** Waits for the `count`-th event named `ev`. */
  async until(ev: string, count = 1): Promise<void> {
    await waitFor(
      () => {
        if (this.#child.exitCode !== null) {
          throw new Error(
            `Cannot wait for "${ev}": the ${this.runtime} peer exited: ${this.#stderr}`,
          );
        }
        return this.events.filter((event) => event.ev === ev).length >= count;
      },
      `"${ev}" from the ${this.runtime} peer`,
      15_000,
    );
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.send({ op: "close" });
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** The other runtimes that can run the peer: .ts on Deno and Bun, the compiled .js anywhere. */
function peerCommands(redisUrl: string): { runtime: string; command: string; args: string[] }[] {
  const compiled = import.meta.url.endsWith(".js");
  const script = fileURLToPath(
    new URL(`./helpers/redis_peer.${compiled ? "js" : "ts"}`, import.meta.url),
  );
  const deno = `${ROOT}node_modules/deno/deno`;
  const bun = `${ROOT}node_modules/.bin/bun`;
  const all = [
    {
      runtime: "deno",
      command: deno,
      args: ["run", "-A", `--config=${ROOT}deno.json`, script, redisUrl],
    },
    { runtime: "bun", command: bun, args: [script, redisUrl] },
    { runtime: "node", command: "node", args: [script, redisUrl] },
  ];
  return all.filter(({ runtime, command }) =>
    runtime !== RUNTIME && (runtime !== "node" || compiled) &&
    (runtime === "node" || existsSync(command))
  );
}

/** Runs `body` with a fresh redis-server and an admin client; stops both after. */
async function withRedis(body: (redis: RedisServer, admin: Redis) => Promise<void>): Promise<void> {
  const redis = await RedisServer.start();
  const admin = new Redis(redis.url, { retryStrategy: () => 20 });
  admin.on("error", () => {});
  try {
    await within(body(redis, admin), TEST_TIMEOUT - 5000, "finish the test");
  } finally {
    admin.disconnect();
    await redis.stop();
  }
}

async function channels(admin: Redis): Promise<string[]> {
  return ((await admin.call("PUBSUB", "CHANNELS")) as string[]).sort();
}

async function closeAll(...locals: Local[]): Promise<void> {
  await Promise.all(locals.map((local) => local.backplane.close()));
}

describe("RedisBackplane", { timeout: 120_000 }, () => {
  it("RedisBackplane exchanges topic messages with instances on other runtimes", {
    timeout: TEST_TIMEOUT,
  }, async () => {
    await withRedis(async (redis, admin) => {
      const commands = peerCommands(redis.url);
      assert.ok(commands.length > 0, "another runtime is installed");
      const local = new Local({ url: redis.url });
      const peers = commands.map(({ runtime, command, args }) => new Peer(runtime, command, args));
      try {
        for (const peer of peers) {
          await peer.until("ready");
          assert.equal(peer.events[0]!.runtime, peer.runtime, "the peer runs where it should");
        }
        local.backplane.subscribeTopic("room");
        for (const peer of peers) {
          peer.send({ op: "sub", topic: "room" });
          peer.send({ op: "sub", topic: "ünï/话题" });
          peer.send({ op: "sync" });
        }
        await local.backplane.subscriptionsSettled();
        for (const peer of peers) await peer.until("synced");
        assert.deepEqual(await channels(admin), ["netws:room", "netws:ünï/话题"]);

        // From here to every peer: text on a unicode topic, and every byte value.
        await local.publish("ünï/话题", utf8("grüße 👋"), false);
        await local.publish("room", pattern(256), true);
        await local.publish("nobody-listens", pattern(3), true);
        for (const peer of peers) {
          await peer.until("msg", 2);
          const [text, binary] = peer.messages;
          assert.deepEqual(text, {
            ev: "msg",
            instance: local.backplane.instanceId,
            topic: "ünï/话题",
            data: Buffer.from("grüße 👋").toString("base64"),
            binary: false,
          });
          assert.deepEqual(
            Buffer.from(binary!.data as string, "base64"),
            Buffer.from(pattern(256)),
          );
          assert.equal(binary!.binary, true);
        }

        // From each peer to here and to the other peers, never back to itself.
        for (const [index, peer] of peers.entries()) {
          const data = Buffer.from(pattern(256, index + 1)).toString("base64");
          peer.send({ op: "pub", topic: "room", data, binary: true });
          await peer.until("published");
        }
        await waitFor(() => local.received.length === peers.length, "the peers' messages");
        assert.deepEqual(
          local.received.map((envelope) => envelope.instance).sort(),
          peers.map((peer) => peer.instance).sort(),
        );
        for (const envelope of local.received) {
          const index = peers.findIndex((peer) => peer.instance === envelope.instance);
          assert.deepEqual(envelope.data, pattern(256, index + 1));
        }
        await delay(100); // room for an echo to show up
        for (const peer of peers) {
          const senders = peer.messages.map((message) => message.instance);
          assert.ok(!senders.includes(peer.instance), `the ${peer.runtime} peer heard itself`);
          assert.equal(senders.length, 2 + peers.length - 1);
          assert.deepEqual(peer.events.filter((event) => event.ev === "error"), []);
        }
        assert.equal(local.received.length, peers.length);
        assert.deepEqual(local.errors, []);
      } finally {
        await Promise.all(peers.map((peer) => peer.close()));
        await closeAll(local);
      }
      assert.deepEqual(await channels(admin), []);
    });
  });

  it("RedisBackplane never delivers an instance's own publishes back to it", {
    timeout: TEST_TIMEOUT,
  }, async () => {
    await withRedis(async (redis, admin) => {
      const a = new Local({ url: redis.url });
      const b = new Local({ url: redis.url });
      try {
        a.backplane.subscribeTopic("t");
        b.backplane.subscribeTopic("t");
        await Promise.all([a, b].map((x) => x.backplane.subscriptionsSettled()));
        // Redis does send it back to a's subscriber connection: the driver drops it.
        const listeners = await admin.call("PUBSUB", "NUMSUB", "netws:t");
        assert.deepEqual(listeners, ["netws:t", 2]);
        for (let i = 0; i < 20; i++) await a.publish("t", new Uint8Array([i]));
        await waitFor(() => b.received.length === 20, "b's 20 messages");
        await delay(100);
        assert.equal(a.received.length, 0);
        assert.deepEqual(b.received.map((envelope) => envelope.data[0]), [...Array(20).keys()]);
      } finally {
        await closeAll(a, b);
      }
    });
  });

  it(
    "RedisBackplane carries every byte value, empty and 4 MiB payloads",
    { timeout: TEST_TIMEOUT },
    async () => {
      await withRedis(async (redis) => {
        const a = new Local({ url: redis.url });
        const b = new Local({ url: redis.url });
        try {
          b.backplane.subscribeTopic("bin");
          await b.backplane.subscriptionsSettled();
          const payloads = [
            pattern(256),
            new Uint8Array(0),
            ...Array.from({ length: 256 }, (_, value) => new Uint8Array([value])),
            pattern(4 * 1024 * 1024 + 1, 5),
          ];
          for (const data of payloads) await a.publish("bin", data);
          await waitFor(() => b.received.length === payloads.length, "every payload");
          b.received.forEach((envelope, i) => {
            assert.equal(envelope.binary, true);
            assert.equal(envelope.topic, "bin");
            assert.deepEqual(envelope.data, payloads[i], `payload ${i}`);
          });
          assert.deepEqual([...a.errors, ...b.errors], []);
        } finally {
          await closeAll(a, b);
        }
      });
    },
  );

  it("RedisBackplane follows 1 ↔ 0 churn with SUBSCRIBE and UNSUBSCRIBE on Redis", {
    timeout: TEST_TIMEOUT,
  }, async () => {
    await withRedis(async (redis, admin) => {
      const a = new Local({ url: redis.url });
      const b = new Local({ url: redis.url });
      const registry = new TopicRegistry<number>(b.backplane);
      try {
        let expected = 0;
        for (let round = 0; round < 60; round++) {
          const on = round % 2 === 0;
          for (const subscriber of [1, 2, 3]) {
            if (on) registry.subscribe(subscriber, round % 4 === 0 ? "x" : "y");
            else registry.unsubscribeAll(subscriber);
          }
          await b.backplane.subscriptionsSettled();
          const wanted = on ? [`netws:${round % 4 === 0 ? "x" : "y"}`] : [];
          assert.deepEqual(await channels(admin), wanted, `round ${round}`);
          await a.publish("x", new Uint8Array([round]));
          await a.publish("y", new Uint8Array([round]));
          if (on) {
            // Before the next round drops the topic: one still in flight then would be dropped.
            expected++;
            await waitFor(() => b.received.length === expected, `round ${round}'s message`);
          }
        }
        // Many quick changes in one tick settle to the last state.
        for (let i = 0; i < 101; i++) {
          if (i % 2 === 0) registry.subscribe(9, "z");
          else registry.unsubscribe(9, "z");
        }
        await b.backplane.subscriptionsSettled();
        assert.deepEqual(await channels(admin), ["netws:z"]);
        await waitFor(() => b.received.length === expected, `${expected} messages`);
        await delay(100);
        assert.equal(b.received.length, expected, "nothing arrived while unsubscribed");
        for (const envelope of b.received) {
          const round = envelope.data[0]!;
          assert.equal(envelope.topic, round % 4 === 0 ? "x" : "y", `round ${round}`);
        }
        assert.deepEqual(b.errors, []);
      } finally {
        await closeAll(a, b);
      }
      assert.deepEqual(await channels(admin), []);
    });
  });

  it("RedisBackplane subscribes again after a Redis restart and delivers what follows", {
    timeout: TEST_TIMEOUT,
  }, async () => {
    await withRedis(async (redis, admin) => {
      const a = new Local({ url: redis.url });
      const b = new Local({ url: redis.url });
      try {
        b.backplane.subscribeTopic("before");
        await b.backplane.subscriptionsSettled();
        await a.publish("before", utf8("1"), false);
        await waitFor(() => b.received.length === 1, "the first message");

        await redis.stop();
        await waitFor(
          () => b.errors.some((error) => error.stage === "connect"),
          "the lost connection to be reported",
        );
        // Interest changes while Redis is down are kept and applied once it is back.
        b.backplane.subscribeTopic("during");
        b.backplane.subscribeTopic("dropped");
        b.backplane.unsubscribeTopic("dropped");
        await delay(200);
        await redis.restart();

        await waitFor(
          async () => (await channels(admin).catch(() => [])).length === 2,
          "the channels to come back",
          10_000,
        );
        assert.deepEqual(await channels(admin), ["netws:before", "netws:during"]);
        await waitFor(() => a.backplane.pendingBytes === 0, "the publisher to reconnect", 10_000);
        await a.publish("before", utf8("2"), false);
        await a.publish("during", utf8("3"), false);
        await a.publish("dropped", utf8("x"), false);
        await waitFor(() => b.received.length === 3, "the messages after the restart", 10_000);
        assert.deepEqual(
          b.received.map((envelope) => new TextDecoder().decode(envelope.data)),
          ["1", "2", "3"],
        );
        assert.ok(b.errors.every((error) => error.stage === "connect"), String(b.errors));
        assert.match(b.errors[0]!.message, /^Cannot connect the (subscriber|publisher) to Redis: /);
      } finally {
        await closeAll(a, b);
      }
    });
  });

  it("RedisBackplane brings 500 channels back after a restart", {
    timeout: TEST_TIMEOUT,
  }, async () => {
    await withRedis(async (redis, admin) => {
      const a = new Local({ url: redis.url });
      const b = new Local({ url: redis.url });
      const topics = Array.from({ length: 500 }, (_, i) => `room/${i}`);
      try {
        for (const topic of topics) b.backplane.subscribeTopic(topic);
        await b.backplane.subscriptionsSettled();
        assert.equal((await channels(admin)).length, 500);
        await redis.stop();
        await redis.restart();
        await waitFor(
          async () => (await channels(admin).catch(() => [])).length === 500,
          "500 channels to come back",
          10_000,
        );
        await waitFor(() => a.backplane.pendingBytes === 0, "the publisher to reconnect", 10_000);
        for (const topic of topics) await a.publish(topic, utf8(topic), false);
        await waitFor(() => b.received.length === 500, "a message on every channel", 10_000);
        assert.deepEqual(b.received.map((envelope) => envelope.topic), topics);
      } finally {
        await closeAll(a, b);
      }
    });
  });

  it("RedisBackplane reports a foreign or misrouted message as a decode error and goes on", {
    timeout: TEST_TIMEOUT,
  }, async () => {
    await withRedis(async (redis, admin) => {
      const b = new Local({ url: redis.url });
      try {
        b.backplane.subscribeTopic("t");
        await b.backplane.subscriptionsSettled();
        await admin.publish("netws:t", '{"not":"an envelope"}');
        const misrouted = encodeEnvelope({
          instance: "other",
          topic: "secret",
          data: utf8("x"),
          binary: false,
        });
        await admin.publish("netws:t", Buffer.from(misrouted));
        const good = encodeEnvelope({
          instance: "other",
          topic: "t",
          data: utf8("ok"),
          binary: false,
        });
        await admin.publish("netws:t", Buffer.from(good));
        await waitFor(() => b.received.length === 1, "the good message");
        assert.deepEqual(b.errors.map((error) => error.stage), ["decode", "decode"]);
        assert.match(b.errors[0]!.message, /^Cannot decode envelope: version "123"/);
        assert.match(b.errors[1]!.message, /came on channel "netws:t", not "netws:secret"/);
        assert.equal(b.received[0]!.instance, "other");
      } finally {
        await closeAll(b);
      }
    });
  });

  it("RedisBackplane uses clients it is given and leaves them open, unsubscribed", {
    timeout: TEST_TIMEOUT,
  }, async () => {
    await withRedis(async (redis, admin) => {
      const publisher = new Redis(redis.url);
      const subscriber = new Redis(redis.url);
      const a = new Local({ publisher, subscriber, prefix: "app1/" });
      const b = new Local({ url: redis.url, prefix: "app1/" });
      const other = new Local({ url: redis.url, prefix: "app2/" });
      try {
        for (const x of [a, b, other]) x.backplane.subscribeTopic("t");
        await Promise.all([a, b, other].map((x) => x.backplane.subscriptionsSettled()));
        assert.deepEqual(await channels(admin), ["app1/t", "app2/t"]);
        await b.publish("t", utf8("to app1"), false);
        await waitFor(() => a.received.length === 1, "a's message");
        await a.publish("t", utf8("back"), false);
        await waitFor(() => b.received.length === 1, "b's message");
        await delay(50);
        assert.equal(other.received.length, 0, "another prefix is another deployment");

        await a.backplane.close();
        assert.equal(publisher.status, "ready");
        await waitFor(
          async () => (await channels(admin)).join() === "app1/t,app2/t",
          "b and other only",
        );
        assert.equal(await publisher.publish("app1/t", "plain"), 1);
        assert.equal(await subscriber.subscribe("own"), 1);
      } finally {
        await closeAll(a, b, other);
        publisher.disconnect();
        subscriber.disconnect();
      }
    });
  });

  it(
    "RedisBackplane drops and reports publishes beyond maxPendingBytes",
    { timeout: TEST_TIMEOUT },
    async () => {
      await withRedis(async (redis) => {
        const a = new Local({ url: redis.url, maxPendingBytes: 1000 });
        const b = new Local({ url: redis.url });
        try {
          b.backplane.subscribeTopic("t");
          await b.backplane.subscriptionsSettled();
          // Synchronously: 10 × ~420 bytes, of which 2 fit under 1000.
          const sent = [];
          for (let i = 0; i < 10; i++) sent.push(a.publish("t", pattern(400, i)));
          assert.ok(a.backplane.pendingBytes <= 1000);
          await Promise.all(sent);
          assert.equal(a.backplane.pendingBytes, 0);
          await waitFor(() => b.received.length === 2, "the two that fit");
          assert.equal(a.errors.length, 8);
          assert.ok(a.errors.every((error) => error.stage === "publish" && error.topic === "t"));
          assert.match(
            a.errors[0]!.message,
            /^Cannot publish "t": .* would pass maxPendingBytes "1000"$/,
          );
          // Once acknowledged, there is room again.
          await a.publish("t", pattern(400));
          await waitFor(() => b.received.length === 3, "the next one");
        } finally {
          await closeAll(a, b);
        }
      });
    },
  );

  it("RedisBackplane after close reports publishes and subscriptions with their stage", {
    timeout: TEST_TIMEOUT,
  }, async () => {
    await withRedis(async (redis, admin) => {
      const a = new Local({ url: redis.url });
      a.backplane.subscribeTopic("t");
      await a.backplane.subscriptionsSettled();
      await a.backplane.close();
      await a.backplane.close();
      await a.publish("t", pattern(1));
      a.backplane.subscribeTopic("u");
      assert.deepEqual(a.errors.map((error) => error.stage), ["publish", "subscribe"]);
      assert.equal(a.errors[0]!.message, 'Cannot publish "t": the backplane is closed');
      assert.deepEqual(await channels(admin), []);
      assert.equal((await admin.call("CLIENT", "LIST") as string).trim().split("\n").length, 1);
    });
  });

  it(
    "RedisBackplane closes within its timeout while Redis is down",
    { timeout: TEST_TIMEOUT },
    async () => {
      await withRedis(async (redis) => {
        const a = new Local({ url: redis.url });
        a.backplane.subscribeTopic("t");
        await a.backplane.subscriptionsSettled();
        await redis.stop();
        await waitFor(() => a.errors.length > 0, "the lost connection");
        const started = Date.now();
        await within(a.backplane.close(), 3000, "close while Redis is down");
        assert.ok(Date.now() - started < 2000);
      });
    },
  );
});
