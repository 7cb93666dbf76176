/**
 * Hostile peers over real loopback sockets, with every adapter of the runtime: a peer that floods
 * messages or pings and never reads, one that overflows `maxBufferedAmount`, one that keeps
 * sending after it was failed, and a 16 MiB echo with the defaults. Each test asserts the
 * server's own figures (`bufferedAmount`, bytes it read) and the close codes the peer sees.
 */
import { describe } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect, type Socket } from "node:net";
import type { Transport, TransportSink } from "../src/connection/transport.ts";
import { Opcode } from "../src/protocol/mod.ts";
import { bytesEqual, concat, pattern } from "./helpers/bytes.ts";
import { clientFrame, closeOf, upgradeRequest } from "./helpers/raw_client.ts";
import {
  delay,
  loadAdapters,
  openRaw,
  openWs,
  start,
  test,
  waitFor,
  within,
} from "./helpers/server.ts";
import { WsClient } from "./helpers/ws_client.ts";

const adapters = await loadAdapters();
const KiB = 1024;
const MiB = 1024 * KiB;
const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const decoder = new TextDecoder();

/** A masked client frame with a payload of at most 125 bytes. */
function smallFrame(opcode: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  out.set(MASK, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ MASK[i & 3]!;
  return out;
}

/**
 * A client socket that completed its handshake and counts what it receives without parsing it:
 * a flood of tiny frames would cost the test more than the server.
 */
async function openCounting(port: number): Promise<{ socket: Socket; received: Uint8Array[] }> {
  const socket = netConnect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  const received: Uint8Array[] = [];
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once("connect", () => socket.write(upgradeRequest("/")));
      let head = "";
      const onHead = (chunk: Uint8Array) => {
        head += decoder.decode(chunk);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        socket.off("data", onHead);
        if (!head.startsWith("HTTP/1.1 101")) reject(new Error(`Cannot open: ${head}`));
        const rest = new TextEncoder().encode(head.slice(end + 4));
        if (rest.length > 0) received.push(rest);
        socket.on("data", (data: Uint8Array) => void received.push(data));
        resolve();
      };
      socket.on("data", onHead);
    }),
    3000,
    "open a counting client",
  );
  return { socket, received };
}

function totalOf(chunks: Uint8Array[]): number {
  return chunks.reduce((sum, chunk) => sum + chunk.length, 0);
}

/**
 * Writes `chunk` again and again, never reading, until the socket's own buffer stays above 1 MiB:
 * the server stopped reading. Fails if 96 MiB went out without that. Returns the copies written.
 */
async function floodUntilStalled(socket: Socket, chunk: Uint8Array): Promise<number> {
  let copies = 0;
  for (let stalledSince = 0;;) {
    assert.ok(copies * chunk.length < 96 * MiB, `${copies * chunk.length} bytes and still read`);
    if (socket.writableLength < MiB) {
      socket.write(chunk);
      copies++;
      stalledSince = 0;
      continue;
    }
    stalledSince ||= performance.now();
    if (performance.now() - stalledSince > 300) return copies;
    await delay(5);
  }
}

/** Samples `value()` every 2 ms until `stop()` is called; resolves with the highest. */
function sampleMax(value: () => number): { stop(): Promise<number> } {
  let highest = value();
  let running = true;
  const loop = (async () => {
    while (running) {
      highest = Math.max(highest, value());
      await delay(2);
    }
    return highest;
  })();
  return {
    stop() {
      running = false;
      return loop;
    },
  };
}

/** The byte-stream shape that adapters handed out before the transport contract. */
interface ByteStreamsConnection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array[]>;
  readonly remoteAddr: { hostname: string; port: number };
  readonly closed: Promise<void>;
  close(): void;
}

type AnyListen = (
  options: unknown,
  accept: (accepted: Transport | ByteStreamsConnection) => TransportSink | undefined,
) => Promise<unknown>;

/**
 * Wraps an adapter so that `counter.bytes` counts what the server read from its sockets: from
 * the transport's `onData`, or, with an adapter of the byte-stream shape, from its readable.
 */
function countingListen<L>(listen: L, counter: { bytes: number }): L {
  const counting: AnyListen = (options, accept) =>
    (listen as unknown as AnyListen)(options, (accepted) => {
      if (!("readable" in accepted)) {
        const sink = accept(accepted)!;
        return {
          onData: (chunk: Uint8Array) => {
            counter.bytes += chunk.length;
            sink.onData(chunk);
          },
          onEnd: () => sink.onEnd(),
          onDrain: () => sink.onDrain(),
          onClose: (error?: unknown) => sink.onClose(error),
        };
      }
      const readable = accepted.readable.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            counter.bytes += chunk.length;
            controller.enqueue(chunk);
          },
        }),
      );
      return accept({
        readable,
        writable: accepted.writable,
        remoteAddr: accepted.remoteAddr,
        closed: accepted.closed,
        close: () => accepted.close(),
      });
    });
  return counting as unknown as L;
}

for (const { name: adapterName, listen } of adapters) {
  describe(`hostile peers with the ${adapterName} adapter`, () => {
    test("serve stops reading from a peer that floods empty messages to an echo and never reads", async (scope) => {
      const { port, log } = await start(scope, listen, { closeTimeout: 1 });
      const { socket, received } = await openCounting(port);
      scope.defer(() => socket.destroy());
      socket.pause();
      const conn = await log.readyAt(0);
      const frames = 10_000;
      const chunk = concat(Array.from({ length: frames }, () => smallFrame(Opcode.Text)));
      const queued = sampleMax(() => conn.bufferedAmount);
      const copies = await floodUntilStalled(socket, chunk);
      const highest = await queued.stop();
      // The server paused reading once 64 KiB waited: its queue holds that plus the echoes of one
      // read (up to 512 KiB of 6-byte messages on Bun), never the 16 MiB of maxBufferedAmount.
      assert.ok(highest <= 512 * KiB, `${highest} bytes queued for the peer`);
      assert.equal(conn.state, "open");
      socket.resume();
      // Every message is echoed once the peer reads: 2 bytes each.
      const expected = copies * frames * 2;
      await waitFor(() => totalOf(received) >= expected, "every echo", 20_000);
      assert.equal(totalOf(received), expected);
      assert.deepEqual(log.codesOf(conn), []);
    });

    test("serve answers a ping flood from a peer that never reads with one pending pong", async (scope) => {
      const { port, log } = await start(scope, listen, { closeTimeout: 1 });
      const { socket, received } = await openCounting(port);
      scope.defer(() => socket.destroy());
      socket.pause();
      const conn = await log.readyAt(0);
      // 125-byte pings, each with its number at the front.
      const pings = 500;
      let round = 0;
      const makeChunk = () => {
        round++;
        return concat(Array.from({ length: pings }, (_, i) => {
          const payload = pattern(125, i);
          new DataView(payload.buffer).setUint32(0, round * pings + i);
          return smallFrame(Opcode.Ping, payload);
        }));
      };
      const queued = sampleMax(() => conn.bufferedAmount);
      // 32 MiB of pings, or until the server stops reading them (a pong that cannot be written
      // pauses reading; how soon the kernel fills with pongs differs per runtime).
      let copies = 0;
      let last = 0;
      for (let stalledSince = 0; copies * pings * 131 < 32 * MiB;) {
        if (socket.writableLength < MiB) {
          socket.write(makeChunk());
          last = round * pings + pings - 1;
          copies++;
          stalledSince = 0;
          continue;
        }
        stalledSince ||= performance.now();
        if (performance.now() - stalledSince > 300) break;
        await delay(2);
      }
      const highest = await queued.stop();
      assert.ok(highest <= 128 * KiB, `${highest} bytes of pongs queued`);
      assert.equal(conn.state, "open");
      socket.resume();
      // The peer's pings are all read in the end; the last pong answers the last ping.
      await waitFor(
        () => {
          const all = concat(received);
          return all.length >= 127 &&
            new DataView(all.buffer, all.length - 125).getUint32(0) === last;
        },
        "the pong of the last ping",
        20_000,
      );
      const all = concat(received);
      assert.equal(all.length % 127, 0, "whole pongs only");
      const pongs = all.length / 127;
      assert.ok(pongs <= copies * pings, `${pongs} pongs for ${copies * pings} pings`);
      assert.deepEqual(log.codesOf(conn), []);
    });

    test("serve closes a peer that overflows maxBufferedAmount with 1008, which it sees when it reads", async (scope) => {
      const chunk = pattern(64 * KiB);
      const { port, log } = await start(scope, listen, {
        maxBufferedAmount: 256 * KiB,
        closeTimeout: 5,
        echo: false,
        onConnect: (conn) =>
          conn.on("ready", (conn) => {
            const timer = setInterval(() => {
              while (conn.isReady && conn.bufferedAmount <= 256 * KiB) conn.sendBinary(chunk);
              if (conn.isReady) conn.sendBinary(chunk);
            }, 1);
            conn.on("disconnect", () => clearInterval(timer));
          }),
      });
      const client = await openRaw(scope, port);
      client.socket.pause();
      const conn = await log.readyAt(0);
      await waitFor(() => log.codesOf(conn).length > 0, "the overflow", 10_000);
      assert.deepEqual(log.codesOf(conn), [1008]);
      assert.match(log.disconnectsOf(conn)[0]!.reason, /maxBufferedAmount of 262144/);
      // The queue was dropped: what is left is what the runtime already held, and the close frame.
      assert.ok(conn.bufferedAmount <= 512 * KiB + 64, `${conn.bufferedAmount} bytes held`);
      client.socket.resume();
      let frame;
      do frame = await client.nextFrame(5000); while (frame.opcode === Opcode.Binary);
      assert.equal(frame.opcode, Opcode.Close);
      assert.equal(closeOf(frame).code, 1008);
      await client.waitClosed(3000);
    });

    test("serve drops a peer that overflows and never reads after a short grace, not closeTimeout", async (scope) => {
      const chunk = pattern(64 * KiB);
      const { port, log } = await start(scope, listen, {
        maxBufferedAmount: 256 * KiB,
        closeTimeout: 10,
        echo: false,
        onConnect: (conn) =>
          conn.on("ready", (conn) => {
            const timer = setInterval(() => {
              if (conn.isReady) conn.sendBinary(chunk);
            }, 1);
            conn.on("disconnect", () => clearInterval(timer));
          }),
      });
      const client = await openRaw(scope, port);
      client.socket.pause();
      const conn = await log.readyAt(0);
      await waitFor(() => log.codesOf(conn).length > 0, "the overflow", 10_000);
      const overflowed = performance.now();
      await within(conn.closed, 3000, "drop the peer");
      const took = performance.now() - overflowed;
      assert.ok(took < 2500, `dropped after ${Math.round(took)} ms`);
      assert.deepEqual(log.codesOf(conn), [1008]);
    });

    test("serve reads at most about 64 KiB more from a peer it failed with 1009, and ends it within closeTimeout", async (scope) => {
      const counter = { bytes: 0 };
      const { port, log } = await start(scope, countingListen(listen, counter), {
        maxMessageSize: 1 * KiB,
        closeTimeout: 1,
      });
      const client = await openRaw(scope, port);
      client.socket.pause();
      const conn = await log.readyAt(0);
      // A binary frame that declares 16 MiB, then its payload, as fast as TCP takes it.
      const header = new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0x01, 0, 0, 0, ...MASK]);
      const before = counter.bytes;
      client.socket.write(header);
      await waitFor(() => log.codesOf(conn).length > 0, "the failure");
      const failedAt = counter.bytes;
      const started = performance.now();
      const payload = pattern(64 * KiB);
      while (performance.now() - started < 700 && !client.isClosed) {
        if (client.socket.writableLength < 4 * MiB) client.socket.write(payload);
        else await delay(5);
      }
      const readAfter = counter.bytes - failedAt;
      assert.ok(failedAt - before <= 64 * KiB, `${failedAt - before} bytes read before failing`);
      // Reading pauses at the failure; it resumes only if the runtime held under the 16 KiB
      // budget shortly after, and then stops after the chunk that crosses it: chunks are at most
      // 512 KiB (Bun), 64 KiB elsewhere.
      const chunk = adapterName === "bun" ? 512 * KiB : 64 * KiB;
      assert.ok(readAfter <= 16 * KiB + chunk, `${readAfter} bytes read after failing`);
      assert.deepEqual(log.codesOf(conn), [1009]);
      client.socket.resume();
      let frame;
      do frame = await client.nextFrame(3000); while (frame.opcode !== Opcode.Close);
      assert.equal(closeOf(frame).code, 1009);
      await client.waitClosed(2000);
    });

    test("serve reads the close frame and end of a peer it failed, long before closeTimeout", async (scope) => {
      const { port, log } = await start(scope, listen, { closeTimeout: 60 });
      const client = await openRaw(scope, port);
      const conn = await log.readyAt(0);
      // Not UTF-8: the server fails the connection with 1007 (RFC 6455 §8.1).
      await client.write(clientFrame(Opcode.Text, new Uint8Array([0xc3, 0x28])));
      let frame;
      do frame = await client.nextFrame(3000); while (frame.opcode !== Opcode.Close);
      assert.equal(closeOf(frame).code, 1007);
      // A well-behaved peer answers with its close frame and ends its side.
      await client.write(clientFrame(Opcode.Close, new Uint8Array([0x03, 0xef])));
      client.socket.end();
      // The server read both although it stopped processing: the socket is let go at once.
      await within(conn.closed, 5000, "release the socket before closeTimeout");
      await client.waitClosed(3000);
      assert.deepEqual(log.codesOf(conn), [1007]);
    });

    test("serve counts application pings against maxBufferedAmount", async (scope) => {
      const { port, log } = await start(scope, listen, {
        maxBufferedAmount: 64 * KiB,
        echo: false,
      });
      const client = await openRaw(scope, port);
      client.socket.pause();
      const conn = await log.readyAt(0);
      const payload = pattern(125);
      let pings = 0;
      // The kernel's buffers fill first; then pings wait in the queue until the limit.
      while (conn.ping(payload)) {
        pings++;
        if (pings % 1000 === 0) await delay(1);
        assert.ok(pings < 1_000_000, "pings never refused");
      }
      assert.deepEqual(log.codesOf(conn), [1008]);
      client.socket.resume();
      let frame;
      do frame = await client.nextFrame(5000); while (frame.opcode === Opcode.Ping);
      assert.equal(closeOf(frame).code, 1008);
    });

    test("serve echoes a 16 MiB message with the defaults, as text and as binary", async (scope) => {
      const { url } = await start(scope, listen, { closeTimeout: 2 });
      const client = await openWs(scope, url);
      const binary = pattern(16 * MiB);
      const echoed = await client.roundTrip(binary, 20_000);
      assert.ok(echoed instanceof Uint8Array && bytesEqual(echoed, binary), "binary echoed");
      const text = "x".repeat(16 * MiB);
      assert.equal(await client.roundTrip(text, 20_000), text);
    });

    test("serve echoes a 16 MiB message in fragments with fragmentSize", async (scope) => {
      const { url } = await start(scope, listen, { closeTimeout: 2, fragmentSize: MiB });
      const client = await WsClient.connect(url);
      scope.defer(() => client.dispose());
      const binary = pattern(16 * MiB);
      const echoed = await client.roundTrip(binary, 20_000);
      assert.ok(echoed instanceof Uint8Array && bytesEqual(echoed, binary), "binary echoed");
    });
  });
}
