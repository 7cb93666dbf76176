/**
 * The backplane's own cost: the envelope codec, and envelopes through Redis between two
 * processes. Runs on Deno, Bun and Node (the Node form through the npm build's compiled copy is
 * not needed: run it with `deno run -A` or `bun`).
 *
 *   deno run -A bench/backplane_bench.ts codec
 *   deno run -A bench/backplane_bench.ts fanout
 *   deno run -A bench/backplane_bench.ts redis [count=20000] [size=64] [window=256] [peer=deno|bun]
 *
 * `redis` starts a redis-server on a free loopback port, a subscriber in a child process (on
 * `peer`, default the same runtime), and publishes `count` envelopes of `size` bytes from this
 * process with `window` publishes awaiting Redis's reply at once; then once more with a window of
 * one, for the latency of an unloaded path. The child reports deliveries/s and the latency from
 * publish to delivery (both processes read the same clock). One JSON line per measurement.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import process from "node:process";
import { RedisBackplane } from "../src/adapters/redis.ts";
import { Opcode } from "../src/protocol/constants.ts";
import { encodeFrame } from "../src/protocol/frame_encoder.ts";
import { decodeEnvelope, encodeEnvelope } from "../src/pubsub/envelope.ts";
import { Fanout, type FanoutTarget } from "../src/server/fanout.ts";
import { RedisServer, ROOT, RUNTIME } from "../tests/helpers/redis_server.ts";

// argv is [runtime, script, ...arguments] on all three runtimes.
const [mode = "codec", ...rest] = process.argv.slice(2);

const now = () => performance.timeOrigin + performance.now();

if (mode === "codec") codec();
else if (mode === "fanout") fanout();
else if (mode === "redis") await redis(rest);
else if (mode === "sub") await subscriber(rest);
else throw new Error(`Cannot run: unknown mode "${mode}"`);

function codec(): void {
  for (const size of [64, 16 * 1024]) {
    const data = new Uint8Array(size).fill(7);
    const envelope = { instance: "0123456789abcdef", topic: "room/42", data, binary: true };
    const rounds = size === 64 ? 1_000_000 : 100_000;
    for (let warm = 0; warm < rounds / 10; warm++) decodeEnvelope(encodeEnvelope(envelope));
    let start = performance.now();
    let encoded = encodeEnvelope(envelope);
    for (let i = 0; i < rounds; i++) encoded = encodeEnvelope(envelope);
    const encodeMs = performance.now() - start;
    start = performance.now();
    for (let i = 0; i < rounds; i++) decodeEnvelope(encoded);
    const decodeMs = performance.now() - start;
    console.log(JSON.stringify({
      bench: "codec",
      runtime: RUNTIME,
      size,
      overhead: encoded.length - size,
      encodePerSec: Math.round(rounds / encodeMs * 1000),
      decodePerSec: Math.round(rounds / decodeMs * 1000),
    }));
  }
}

/**
 * The CPU cost of one publish to 1,000 local subscribers whose queues take frames and count their
 * bytes: `Fanout.publish` (framed once) against a loop that frames for each subscriber, as
 * `for (const c of conns) c.sendBinary(data)` does.
 */
function fanout(): void {
  class Sink implements FanoutTarget {
    bufferedAmount = 0;
    pushFrames(frames: readonly Uint8Array[][]): boolean {
      for (const frame of frames) for (const buffer of frame) this.bufferedAmount += buffer.length;
      this.bufferedAmount = 0;
      return true;
    }
    closeSlow(): void {}
  }
  for (const size of [64, 16 * 1024]) {
    const data = new Uint8Array(size).fill(1);
    const sinks = Array.from({ length: 1000 }, () => new Sink());
    const hub = new Fanout<Sink>();
    for (const sink of sinks) hub.subscribe(sink, "t");
    const rounds = 2000;
    const time = (run: () => void): number => {
      for (let i = 0; i < rounds / 10; i++) run();
      const start = performance.now();
      for (let i = 0; i < rounds; i++) run();
      return Math.round(rounds * sinks.length / (performance.now() - start) * 1000);
    };
    const once = time(() => hub.publish("t", data));
    const each = time(() => {
      for (const sink of sinks) sink.pushFrames([encodeFrame(Opcode.Binary, data)]);
    });
    console.log(JSON.stringify({
      bench: "fanout",
      runtime: RUNTIME,
      size,
      subscribers: sinks.length,
      frameOncePerSec: once,
      framePerSubscriberPerSec: each,
    }));
  }
}

async function redis(args: string[]): Promise<void> {
  const count = Number(args[0] ?? 20000);
  const size = Number(args[1] ?? 64);
  const window = Number(args[2] ?? 256);
  const peer = args[3] ?? RUNTIME;
  const server = await RedisServer.start();
  const publisher = new RedisBackplane({ url: server.url });
  try {
    for (
      const [phase, phaseCount, phaseWindow] of [
        ["throughput", count, window],
        ["latency", Math.min(count, 2000), 1],
      ] as const
    ) {
      const child = spawnSubscriber(peer, server.url, phaseCount);
      const lines = createInterface({ input: child.stdout! });
      const iterator = lines[Symbol.asyncIterator]();
      const ready = await iterator.next();
      if (ready.value !== "ready") throw new Error(`Cannot start the subscriber: ${ready.value}`);
      const data = new Uint8Array(Math.max(size, 12));
      const view = new DataView(data.buffer);
      const pending = new Set<Promise<void>>();
      const started = performance.now();
      for (let seq = 0; seq < phaseCount; seq++) {
        view.setFloat64(0, now());
        view.setUint32(8, seq);
        const sent = publisher.publish({
          instance: publisher.instanceId,
          topic: "bench",
          data,
          binary: true,
        });
        pending.add(sent);
        void sent.then(() => pending.delete(sent));
        if (pending.size >= phaseWindow) await Promise.race(pending);
      }
      await Promise.all(pending);
      const publishMs = performance.now() - started;
      const result = await iterator.next();
      lines.close();
      console.log(JSON.stringify({
        bench: "redis",
        phase,
        runtime: RUNTIME,
        peer,
        size,
        window: phaseWindow,
        publishesPerSec: Math.round(phaseCount / publishMs * 1000),
        ...JSON.parse(result.value as string),
      }));
      await new Promise((resolve) => child.once("exit", resolve));
    }
  } finally {
    await publisher.close();
    await server.stop();
  }
}

function spawnSubscriber(peer: string, url: string, count: number) {
  const script = new URL(import.meta.url).pathname;
  const command = peer === "bun" ? `${ROOT}node_modules/.bin/bun` : `${ROOT}node_modules/deno/deno`;
  const args = peer === "bun" ? [script] : ["run", "-A", `--config=${ROOT}deno.json`, script];
  return spawn(command, [...args, "sub", url, String(count)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
}

async function subscriber(args: string[]): Promise<void> {
  const [url, countText] = args;
  const count = Number(countText);
  const backplane = new RedisBackplane({ url: url! });
  const latencies = new Float64Array(count);
  let received = 0;
  let first = 0;
  let last = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => done = resolve);
  let idle = setTimeout(done, 10_000);
  backplane.subscribe((envelope) => {
    const at = now();
    const view = new DataView(envelope.data.buffer, envelope.data.byteOffset, 12);
    if (received === 0) first = at;
    last = at;
    latencies[received++] = at - view.getFloat64(0);
    clearTimeout(idle);
    if (received === count) done();
    else idle = setTimeout(done, 2000);
  });
  backplane.subscribeTopic("bench");
  await backplane.subscriptionsSettled();
  console.log("ready");
  await finished;
  clearTimeout(idle);
  const sorted = latencies.subarray(0, received).sort();
  const at = (q: number) =>
    Number((sorted[Math.min(received - 1, Math.floor(q * received))] ?? 0).toFixed(3));
  console.log(JSON.stringify({
    received,
    lost: count - received,
    deliveriesPerSec: received > 1 ? Math.round((received - 1) / (last - first) * 1000) : 0,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) },
  }));
  await backplane.close();
}
