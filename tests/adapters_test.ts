// One suite, run against every adapter that loads on the current runtime (Deno: deno + node,
// Bun: bun + node, Node: node), over plain TCP and TLS, with real loopback sockets. Each test
// checks the five rules of src/connection/transport.ts through a recording sink.

import { describe } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect, createServer as createNetServer } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Listen, Listener, Transport, TransportSink } from "../src/connection/transport.ts";
import { detectListen } from "../src/adapters/detect.ts";
import { adopt } from "../src/adapters/node/net.ts";
import { bytesEqual, concat } from "./helpers/bytes.ts";
import { loadAdapters, type Scope, test, waitFor, within } from "./helpers/server.ts";
import {
  closedSocket,
  connect,
  connectFlow,
  ended,
  receive,
  stateAfter,
  TLS,
  type Wire,
} from "./helpers/sockets.ts";

const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
const adapters = await loadAdapters();

/** Whether this machine can listen on the IPv6 loopback. */
const hasIPv6 = await new Promise<boolean>((resolve) => {
  const server = createNetServer();
  server.once("error", () => resolve(false));
  server.listen({ host: "::1", port: 0 }, () => server.close(() => resolve(true)));
});

/**
 * A sink that records what the adapter calls, and a transport wrapper that notes when the core
 * is inside a transport method: every rule the sink can see is checked by `assertRules`.
 */
class Recorder implements TransportSink {
  readonly transport: Transport;
  readonly events: string[] = [];
  readonly violations: string[] = [];
  readonly chunks: Uint8Array[] = [];
  received = 0;
  closeError: unknown;
  readonly closed: Promise<unknown>;
  readonly ended: Promise<void>;
  #inside: string | undefined;
  #resolveClosed!: (error: unknown) => void;
  #resolveEnded!: () => void;
  #drained: (() => void) | undefined;

  constructor(transport: Transport) {
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.ended = new Promise((resolve) => this.#resolveEnded = resolve);
    const call =
      <A extends unknown[], R>(name: string, method: (...args: A) => R) => (...args: A): R => {
        this.#inside = name;
        try {
          return method.apply(transport, args);
        } finally {
          this.#inside = undefined;
        }
      };
    this.transport = {
      remoteAddr: transport.remoteAddr,
      get bufferedAmount() {
        return transport.bufferedAmount;
      },
      get heldAmount() {
        return transport.heldAmount;
      },
      write: call("write", transport.write),
      pause: call("pause", transport.pause),
      resume: call("resume", transport.resume),
      end: call("end", transport.end),
      destroy: call("destroy", transport.destroy),
    };
  }

  #event(name: string): void {
    if (this.#inside !== undefined) this.violations.push(`${name} inside ${this.#inside}()`);
    if (this.events.includes("close")) this.violations.push(`${name} after close`);
    this.events.push(name);
  }

  onData(chunk: Uint8Array): void {
    this.#event("data");
    if (this.events.includes("end")) this.violations.push("data after end");
    if (!(chunk instanceof Uint8Array)) this.violations.push("a chunk that is not a Uint8Array");
    this.chunks.push(chunk);
    this.received += chunk.byteLength;
  }

  onEnd(): void {
    this.#event("end");
    this.#resolveEnded();
  }

  onDrain(): void {
    this.#event("drain");
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
  }

  onClose(error?: unknown): void {
    this.#event("close");
    this.closeError = error;
    this.#resolveClosed(error);
  }

  /** Resolves at the next onDrain. */
  drained(): Promise<void> {
    return new Promise((resolve) => this.#drained = resolve);
  }

  /** The bytes received so far, joined. */
  bytes(): Uint8Array {
    return concat(this.chunks);
  }

  /** No rule broken so far; once closed, exactly one close, last. */
  assertRules(): void {
    assert.deepEqual(this.violations, []);
    const closes = this.events.filter((event) => event === "close").length;
    assert.ok(closes <= 1, `onClose came ${closes} times`);
  }
}

/** A queue of accepted sockets, as recorders. */
class Accepted {
  readonly all: Recorder[] = [];
  #taken = 0;
  #waiters: ((recorder: Recorder) => void)[] = [];

  push(recorder: Recorder): void {
    this.all.push(recorder);
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) this.#taken++, waiter(recorder);
  }

  next(): Promise<Recorder> {
    if (this.#taken < this.all.length) return Promise.resolve(this.all[this.#taken++]!);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

async function serve(
  scope: Scope,
  listen: Listen,
  wire: Wire,
  hostname = "127.0.0.1",
): Promise<{ listener: Listener; accepted: Accepted }> {
  const accepted = new Accepted();
  const listener = await listen(
    { hostname, port: 0, noDelay: true, tls: wire === "tls" ? TLS : undefined },
    (transport) => {
      const recorder = new Recorder(transport);
      scope.defer(() => recorder.transport.destroy());
      // Checked when the test ends: a broken rule fails the test that broke it.
      scope.defer(() => recorder.assertRules(), true);
      accepted.push(recorder);
      return recorder;
    },
  );
  scope.defer(() => listener.close());
  return { listener, accepted };
}

/** Bytes that differ with their position, so that reordering shows. */
function pattern(size: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, size);
}

function assertBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(actual.byteLength, expected.byteLength, "byte count");
  assert.ok(bytesEqual(actual, expected), "the bytes differ");
}

const text = (value: string) => new TextEncoder().encode(value);

/** More than the kernel buffers of both ends hold on loopback (about 4 MiB here). */
const BIG = 16 << 20;

for (const { name, listen } of adapters) {
  for (const wire of ["tcp", "tls"] as const) {
    describe(`${name} adapter over ${wire}`, () => {
      test("Transport echoes bytes, names the peer, and closes once after both ends", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        assert.ok(listener.port > 0 && listener.port < 65536);
        assert.equal(listener.hostname, "127.0.0.1");
        const client = await connect(scope, listener.port, wire);
        const peer = await accepted.next();
        assert.deepEqual(peer.transport.remoteAddr, {
          hostname: "127.0.0.1",
          port: client.localPort,
        });
        const sent = pattern(200_000, 1);
        const echoed = receive(client, sent.byteLength);
        for (let offset = 0; offset < sent.byteLength; offset += 7_000) {
          client.write(sent.subarray(offset, offset + 7_000));
        }
        await waitFor(() => peer.received === sent.byteLength, "the bytes to arrive");
        // Rule 4: the chunks are the core's to change; changing them must not disturb the next.
        const received = peer.bytes();
        for (const chunk of peer.chunks) chunk.fill(0);
        assertBytes(received, sent);
        peer.transport.write([received]);
        assertBytes(await echoed, sent);
        client.end();
        await peer.ended;
        peer.transport.end();
        await ended(client);
        assert.equal(await peer.closed, undefined);
        assert.deepEqual(peer.events.slice(-2), ["end", "close"]);
        await closedSocket(client);
      });

      test("Transport.write sends vectors intact and in order", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        const client = await connect(scope, listener.port, wire);
        const peer = await accepted.next();
        const vectors = [
          [text("abc"), text("defgh"), text("i")],
          [new Uint8Array(0), text("j"), new Uint8Array(0)],
          [],
          [new Uint8Array([0x82, 0x7f]), pattern(100_000, 2), pattern(70_000, 3), text("z")],
          [pattern(300_000, 4)],
        ];
        const expected = concat(vectors.flat());
        const received = receive(client, expected.byteLength);
        let drains = 0;
        for (const vector of vectors) {
          if (!peer.transport.write(vector)) await peer.drained(), drains++;
        }
        assertBytes(await received, expected);
        assert.ok(drains <= vectors.length);
      });

      test("Transport.heldAmount counts what a paused socket read and holds for onData", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        const client = await connect(scope, listener.port, wire);
        const peer = await accepted.next();
        client.write(text("a"));
        await waitFor(() => peer.received === 1, "the first byte");
        peer.transport.pause();
        const sent = pattern(8_000, 7);
        client.write(sent);
        // Node reads on into its buffer, and Deno's read loop had a read pending; Bun, and the
        // node:net of Deno and Bun, stop reading.
        const holds = name === "deno" || (name === "node" && runtime.Deno === undefined &&
          runtime.Bun === undefined);
        if (holds) {
          await waitFor(() => (peer.transport.heldAmount ?? 0) > 0, "the runtime to hold a read");
        } else await new Promise((resolve) => setTimeout(resolve, 200));
        const held = peer.transport.heldAmount ?? 0;
        assert.ok(held <= sent.length, `${held} bytes held`);
        assert.equal(peer.received, 1, "no onData while paused");
        peer.transport.resume();
        await waitFor(() => peer.received === 1 + sent.length, "the held bytes");
        assert.equal(peer.transport.heldAmount ?? 0, 0);
      });

      test("Transport.write returns false while the peer does not read; onDrain follows", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        const client = await connectFlow(scope, listener.port, wire);
        const peer = await accepted.next();
        assert.equal(peer.transport.bufferedAmount, 0);
        const vector = [new Uint8Array([1, 2]), pattern(BIG / 2, 5), pattern(BIG / 2, 6)];
        const drained = peer.drained();
        assert.equal(peer.transport.write(vector), false);
        // The backlog is counted honestly, and stays while the peer reads nothing.
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(await stateAfter(drained, 0), "pending");
        const backlog = peer.transport.bufferedAmount;
        assert.ok(backlog > 1 << 20, `bufferedAmount ${backlog} while the peer does not read`);
        assert.ok(backlog <= BIG + 2);
        const expected = concat(vector);
        assertBytes(await client.receive(expected.byteLength), expected);
        await drained;
        assert.equal(peer.transport.bufferedAmount, 0);
        assert.ok(peer.events.includes("drain"));
      });

      test("Transport.end waits for a pending partial write, then half-closes", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        const client = await connectFlow(scope, listener.port, wire);
        const peer = await accepted.next();
        const vector = [pattern(BIG, 7), text("tail")];
        assert.equal(peer.transport.write(vector), false);
        peer.transport.end();
        peer.transport.end();
        // Writing after end does nothing.
        assert.equal(peer.transport.write([text("after end")]), false);
        const expected = concat(vector);
        assertBytes(await client.receive(expected.byteLength), expected);
        await client.ended();
        assert.equal(await stateAfter(peer.closed, 50), "pending", "closed before the peer ended");
      });

      test(
        "Transport.pause stops reading until resume: the peer's writes stall",
        async (scope) => {
          const { listener, accepted } = await serve(scope, listen, wire);
          const client = await connectFlow(scope, listener.port, wire);
          const peer = await accepted.next();
          peer.transport.pause();
          peer.transport.pause();
          const chunk = pattern(1 << 20, 8);
          let sent = 0;
          let pending: Promise<void> | undefined;
          while (sent < 64 << 20) {
            const written = client.write(chunk);
            sent += chunk.byteLength;
            if (await stateAfter(written, 300) === "pending") {
              pending = written;
              break;
            }
          }
          assert.ok(pending, `the client wrote ${sent} bytes to a paused transport`);
          const before = peer.received;
          await new Promise((resolve) => setTimeout(resolve, 200));
          assert.equal(peer.received, before, "onData while paused");
          assert.ok(before < sent);
          peer.transport.resume();
          peer.transport.resume();
          await waitFor(() => peer.received === sent, "every byte after resume");
          const received = peer.bytes();
          for (let offset = 0; offset < sent; offset += chunk.byteLength) {
            assertBytes(received.subarray(offset, offset + chunk.byteLength), chunk);
          }
          await pending;
        },
        name === "node" && wire === "tls" && runtime.Deno !== undefined
          ? "Deno's node:tls keeps reading a paused socket (the deno adapter is the one for Deno)"
          : undefined,
      );

      test("Transport stays writable after the peer half-closed", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        const client = await connect(scope, listener.port, wire);
        const peer = await accepted.next();
        client.end(text("last words"));
        await peer.ended;
        assertBytes(peer.bytes(), text("last words"));
        const reply = receive(client, 5);
        peer.transport.write([text("re"), text("ply")]);
        assertBytes(await reply, text("reply"));
        peer.transport.end();
        await ended(client);
        assert.equal(await peer.closed, undefined);
        await closedSocket(client);
      });

      test("Transport.end half-closes; reading goes on until the peer ends", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        const client = await connect(scope, listener.port, wire);
        const peer = await accepted.next();
        peer.transport.write([text("bye")]);
        peer.transport.end();
        assertBytes(await receive(client, 3), text("bye"));
        await ended(client);
        client.end(text("late"));
        assert.equal(await peer.closed, undefined);
        assertBytes(peer.bytes(), text("late"));
        assert.deepEqual(peer.events, ["data", "end", "close"]);
      });

      test("Transport.destroy closes now; onClose follows once, outside the call", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        const client = await connect(scope, listener.port, wire);
        const peer = await accepted.next();
        peer.transport.destroy();
        assert.equal(peer.events.length, 0, "a sink call inside destroy()");
        peer.transport.destroy();
        assert.equal(await peer.closed, undefined);
        // Every method is a no-op afterwards (rule 5).
        assert.equal(peer.transport.write([text("too late")]), false);
        peer.transport.pause();
        peer.transport.resume();
        peer.transport.end();
        peer.transport.destroy();
        // The peer sees an end of stream, or a reset (Bun over TLS).
        await Promise.race([ended(client).catch(() => {}), closedSocket(client)]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(peer.events, ["close"]);
      });

      test(
        "Transport reports a peer's reset through onClose(error) only",
        async (scope) => {
          const { listener, accepted } = await serve(scope, listen, wire);
          const client = await connectFlow(scope, listener.port, wire);
          const peer = await accepted.next();
          await client.write(text("hello"));
          await waitFor(() => peer.received === 5, "the first bytes");
          // Closing with unread bytes makes the kernel answer with a reset (RFC 1122 §4.2.2.13).
          peer.transport.write([pattern(1 << 20, 9)]);
          await new Promise((resolve) => setTimeout(resolve, 100));
          client.destroy();
          assert.ok(await peer.closed !== undefined, "closed without an error");
          assert.deepEqual(peer.events.filter((event) => event !== "drain"), ["data", "close"]);
        },
        wire === "tls"
          ? "a reset is a TCP matter: the TLS client's runtime may read ahead"
          : runtime.Bun !== undefined
          ? "Bun's node:net client, destroyed with unread bytes, sends a FIN, not a reset"
          : undefined,
      );

      test("Listener.close stops accepting and keeps existing sockets", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, wire);
        const client = await connect(scope, listener.port, wire);
        const peer = await accepted.next();
        await listener.close();
        await listener.close();
        await assert.rejects(connect(scope, listener.port, wire), { code: "ECONNREFUSED" });
        const reply = receive(client, 4);
        client.write(text("ping"));
        await waitFor(() => peer.received === 4, "ping");
        peer.transport.write([text("po"), text("ng")]);
        assertBytes(await reply, text("pong"));
      });

      test("listen rejects a port in use with EADDRINUSE, in the same words everywhere", async (scope) => {
        const { listener } = await serve(scope, listen, wire);
        const tls = wire === "tls" ? TLS : undefined;
        const second = listen(
          { hostname: "127.0.0.1", port: listener.port, noDelay: true, tls },
          () => assert.fail("accepted"),
        );
        second.then((unexpected) => scope.defer(() => unexpected.close()), () => {});
        await assert.rejects(second, {
          code: "EADDRINUSE",
          message: `Cannot listen on "127.0.0.1:${listener.port}": the address is already in use`,
        });
      });

      test("listen rejects an address of another machine with its code", async (scope) => {
        const tls = wire === "tls" ? TLS : undefined;
        // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a local address.
        const bound = listen({ hostname: "192.0.2.1", port: 0, noDelay: true, tls }, () => {
          return assert.fail("accepted");
        });
        bound.then((unexpected) => scope.defer(() => unexpected.close()), () => {});
        // EADDRNOTAVAIL (Deno's node:net says EINVAL).
        const error = await bound.then(
          () => undefined,
          (error: Error & { code?: unknown }) => error,
        );
        assert.ok(error instanceof Error);
        assert.match(String(error.code), /^E[A-Z]+$/);
        assert.match(error.message, /^Cannot listen on "192\.0\.2\.1:0": \S/);
      });

      test("a throwing accept destroys that socket and the listener keeps accepting", async (scope) => {
        const original = console.error;
        const logged: unknown[][] = [];
        console.error = (...args: unknown[]) => void logged.push(args);
        scope.defer(() => console.error = original);
        let calls = 0;
        const listener = await listen(
          { hostname: "127.0.0.1", port: 0, noDelay: true, tls: wire === "tls" ? TLS : undefined },
          (transport) => {
            if (++calls === 1) throw new Error("a bug in accept");
            return {
              onData: (chunk) => void transport.write([chunk]),
              onEnd() {},
              onDrain() {},
              onClose() {},
            };
          },
        );
        scope.defer(() => listener.close());
        const first = await connect(scope, listener.port, wire).catch(() => undefined);
        if (first !== undefined) await Promise.race([ended(first), closedSocket(first)]);
        const second = await connect(scope, listener.port, wire);
        const echo = receive(second, 2);
        second.write(text("ok"));
        assertBytes(await echo, text("ok"));
        assert.equal(calls, 2);
        assert.match(String(logged[0]?.[1]), /a bug in accept/);
      });

      test(
        "listen binds the IPv6 loopback",
        async (scope) => {
          const { listener, accepted } = await serve(scope, listen, wire, "::1");
          assert.equal(listener.hostname, "::1");
          const client = await connect(scope, listener.port, wire, "::1");
          const peer = await accepted.next();
          assert.deepEqual(peer.transport.remoteAddr, { hostname: "::1", port: client.localPort });
          const reply = receive(client, 2);
          peer.transport.write([text("v6")]);
          assertBytes(await reply, text("v6"));
        },
        hasIPv6 ? undefined : "the IPv6 loopback (::1) is not available on this machine",
      );

      if (wire === "tls") {
        test("a TLS failure reaches onClose(error) only, and the listener goes on", async (scope) => {
          const { listener, accepted } = await serve(scope, listen, wire);
          // A client that rejects the certificate (it trusts no CA) and aborts the handshake.
          const untrusting = tlsConnect({ host: "127.0.0.1", port: listener.port });
          scope.defer(() => untrusting.destroy());
          await within(new Promise((resolve) => untrusting.once("error", resolve)), 3000, "reject");
          // A plain client on the TLS port.
          const plain = netConnect({ host: "127.0.0.1", port: listener.port });
          plain.on("error", () => {});
          scope.defer(() => plain.destroy());
          plain.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
          plain.resume();
          await within(new Promise((resolve) => plain.once("close", resolve)), 3000, "close plain");
          // Some runtimes accept the socket before the handshake: it must close with an error.
          await waitFor(
            () => accepted.all.every((peer) => peer.events.includes("close")),
            "the failed sockets to close",
          );
          for (const peer of accepted.all) {
            assert.deepEqual(peer.events, ["close"]);
            assert.ok(peer.closeError !== undefined, "closed without an error");
          }
          // The listener still serves a good client.
          const client = await connect(scope, listener.port, wire);
          await waitFor(
            () => accepted.all.some((peer) => peer.transport.remoteAddr.port === client.localPort),
            "the good client",
          );
        });
      }
    });
  }
}

describe("adopt", () => {
  test("adopt gives the head bytes before the socket's", async (scope) => {
    let recorder: Recorder | undefined;
    const server = createNetServer((socket) => {
      adopt(socket, (transport) => recorder = new Recorder(transport), new Uint8Array([1, 2, 3]));
      scope.defer(() => recorder?.transport.destroy());
    });
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    scope.defer(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    const client = await connect(scope, port, "tcp");
    client.end(new Uint8Array([4, 5]));
    await waitFor(() => recorder !== undefined, "accept");
    await recorder!.ended;
    assertBytes(recorder!.bytes(), new Uint8Array([1, 2, 3, 4, 5]));
    recorder!.assertRules();
  });

  test("adopt of a destroyed socket closes at once", async (scope) => {
    let recorder: Recorder | undefined;
    const server = createNetServer((socket) => {
      socket.destroy();
      adopt(socket, (transport) => recorder = new Recorder(transport));
    });
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    scope.defer(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    await connect(scope, port, "tcp").catch(() => {});
    await waitFor(() => recorder !== undefined, "accept");
    await recorder!.closed;
    assert.equal(recorder!.transport.write([text("x")]), false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(recorder!.events, ["close"]);
  });
});

describe("detectListen", () => {
  test("detectListen picks the adapter of the current runtime", async () => {
    assert.equal(await detectListen(), adapters[0]!.listen);
    assert.equal(adapters.length, runtime.Deno === undefined && runtime.Bun === undefined ? 1 : 2);
  });
});
