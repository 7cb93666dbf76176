// One suite, run against every adapter that loads on the current runtime (Deno: deno + node,
// Bun: bun + node, Node: node), over plain TCP and TLS. Clients are node:net / node:tls sockets,
// except where a TLS client must hold bytes back on Deno (see connectFlow).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect as netConnect, createServer as createNetServer, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { ByteConnection, Listen, Listener, TlsOptions } from "../src/adapters/types.ts";
import { detectListen } from "../src/adapters/detect.ts";

const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
const nodeAdapter = await import("../src/adapters/node.ts");
const adapters: { name: string; listen: Listen }[] = [];
if (runtime.Deno !== undefined) {
  adapters.push({ name: "deno", listen: (await import("../src/adapters/deno.ts")).listen });
} else if (runtime.Bun !== undefined) {
  adapters.push({ name: "bun", listen: (await import("../src/adapters/bun.ts")).listen });
}
adapters.push({ name: "node", listen: nodeAdapter.listen });

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url), "utf8");
const TLS: TlsOptions = { cert: fixture("cert.pem"), key: fixture("key.pem") };
const CA = fixture("ca.pem");

type Transport = "tcp" | "tls";

/** Whether this machine can listen on the IPv6 loopback. */
const hasIPv6 = await new Promise<boolean>((resolve) => {
  const server = createNetServer();
  server.once("error", () => resolve(false));
  server.listen({ host: "::1", port: 0 }, () => server.close(() => resolve(true)));
});

// ---------------------------------------------------------------------------------------------
// Harness: every test gets a scope that closes what it opened, and a time limit.

/** Closes everything a test opened, last opened first. */
class Scope {
  #cleanups: (() => unknown)[] = [];

  defer(cleanup: () => unknown): void {
    this.#cleanups.push(cleanup);
  }

  async dispose(): Promise<void> {
    for (const cleanup of this.#cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Already closed.
      }
    }
  }
}

// Below the 5 s default of `bun test`.
const TEST_TIMEOUT_MS = 4_000;

function test(name: string, fn: (scope: Scope) => Promise<void>, skip?: string): void {
  it(name, skip === undefined ? {} : { skip }, async () => {
    const scope = new Scope();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Cannot finish "${name}": timed out after ${TEST_TIMEOUT_MS} ms`)),
        TEST_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([fn(scope), timeout]);
    } finally {
      clearTimeout(timer);
      await scope.dispose();
    }
  });
}

/** Resolves to "pending" when `promise` has not settled after `ms`. */
async function stateAfter(promise: Promise<unknown>, ms: number): Promise<"settled" | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    promise.then(() => "settled" as const, () => "settled" as const),
    new Promise<"pending">((resolve) => timer = setTimeout(() => resolve("pending"), ms)),
  ]);
  clearTimeout(timer);
  return result;
}

/** A queue of accepted connections. */
class Accepted {
  #items: ByteConnection[] = [];
  #waiters: ((conn: ByteConnection) => void)[] = [];

  push(conn: ByteConnection): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#items.push(conn);
    else waiter(conn);
  }

  next(): Promise<ByteConnection> {
    const conn = this.#items.shift();
    if (conn !== undefined) return Promise.resolve(conn);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

async function serve(
  scope: Scope,
  listen: Listen,
  transport: Transport,
  hostname = "127.0.0.1",
): Promise<{ listener: Listener; accepted: Accepted }> {
  const accepted = new Accepted();
  const listener = await listen(
    { hostname, port: 0, noDelay: true, tls: transport === "tls" ? TLS : undefined },
    (conn) => {
      scope.defer(() => conn.close());
      accepted.push(conn);
    },
  );
  scope.defer(() => listener.close());
  return { listener, accepted };
}

/** What each client socket went through. */
const events = new WeakMap<Socket, { ended: Promise<void>; closed: Promise<void> }>();

function connect(
  scope: Scope,
  port: number,
  transport: Transport,
  host = "127.0.0.1",
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = transport === "tls"
      ? tlsConnect({ host, port, ca: CA, servername: "localhost" })
      : netConnect({ host, port });
    // Keep writing after the server half-closes (tls.connect has no option for it).
    socket.allowHalfOpen = true;
    scope.defer(() => socket.destroy());
    // Recorded from the start: `readableEnded` and `closed` are missing on some runtimes.
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const ended = new Promise<void>((resolve, reject) => {
      socket.once("end", resolve);
      closed.then(() => reject(new Error("Cannot wait for the end: the socket closed first")));
    });
    ended.catch(() => {});
    events.set(socket, { ended, closed });
    socket.once("error", reject);
    socket.once(transport === "tls" ? "secureConnect" : "connect", () => {
      socket.off("error", reject);
      // Tests look at 'close'; a reset must not become an uncaught error.
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

/** Reads exactly `n` bytes from a client socket (more is an error). */
function receive(socket: Socket, n: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const done = (error?: Error) => {
      socket.off("data", onData);
      socket.off("close", onClose);
      if (error !== undefined) reject(error);
      else resolve(concat(chunks));
    };
    const onData = (chunk: Uint8Array) => {
      chunks.push(chunk);
      total += chunk.byteLength;
      if (total > n) done(new Error(`Cannot receive: got ${total} bytes, expected ${n}`));
      else if (total === n) done();
    };
    const onClose = () => done(new Error(`Cannot receive: closed after ${total} of ${n} bytes`));
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.resume();
  });
}

/** Resolves once the client socket saw the peer's end of stream. */
function ended(socket: Socket): Promise<void> {
  socket.resume();
  return events.get(socket)!.ended;
}

/** Resolves once the client socket closed. */
function closedSocket(socket: Socket): Promise<void> {
  return events.get(socket)!.closed;
}

/**
 * A client for the backpressure tests: it reads nothing until `receive` is called, and its writes
 * resolve once its runtime took the bytes.
 */
interface FlowClient {
  write(bytes: Uint8Array): Promise<void>;
  receive(n: number): Promise<Uint8Array>;
}

// The part of Deno's API the Deno TLS client uses.
interface DenoTlsClient {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}
interface DenoConnectTls {
  connectTls(
    options: { hostname: string; port: number; caCerts: string[] },
  ): Promise<DenoTlsClient>;
}

async function connectFlow(scope: Scope, port: number, transport: Transport): Promise<FlowClient> {
  if (transport === "tls" && runtime.Deno !== undefined) {
    // Measured: on Deno, a paused node:tls socket keeps reading, so it cannot hold bytes back.
    const conn = await (runtime.Deno as DenoConnectTls).connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [CA],
    });
    scope.defer(() => conn.close());
    return {
      async write(bytes) {
        for (let offset = 0; offset < bytes.byteLength;) {
          offset += await conn.write(bytes.subarray(offset));
        }
      },
      async receive(n) {
        const out = new Uint8Array(n);
        for (let offset = 0; offset < n;) {
          const count = await conn.read(out.subarray(offset));
          if (count === null) {
            throw new Error(`Cannot receive: ended after ${offset} of ${n} bytes`);
          }
          offset += count;
        }
        return out;
      },
    };
  }
  const socket = await connect(scope, port, transport);
  socket.pause();
  return {
    write: (bytes) =>
      new Promise((resolve, reject) => {
        if (socket.write(bytes)) return resolve();
        socket.once("drain", resolve);
        closedSocket(socket).then(() => reject(new Error("Cannot write: the socket closed")));
      }),
    receive: (n) => receive(socket, n),
  };
}

/** Reads exactly `n` bytes from a connection's readable. */
async function read(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  n: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < n) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`Cannot read: the stream ended after ${total} of ${n} bytes`);
    chunks.push(value);
    total += value.byteLength;
  }
  assert.equal(total, n);
  return concat(chunks);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
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

/** Compares bytes without a diff of megabytes on failure. */
function assertBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(actual.byteLength, expected.byteLength, "byte count");
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) assert.fail(`bytes differ first at offset ${i}`);
  }
}

const text = (value: string) => new TextEncoder().encode(value);

// ---------------------------------------------------------------------------------------------
// The shared suite.

for (const { name, listen } of adapters) {
  for (const transport of ["tcp", "tls"] as const) {
    describe(`${name} adapter over ${transport}`, () => {
      test("listen binds a free port when asked for port 0", async (scope) => {
        const { listener } = await serve(scope, listen, transport);
        assert.ok(listener.port > 0 && listener.port < 65536);
        assert.equal(listener.hostname, "127.0.0.1");
      });

      test("ByteConnection echoes bytes and names the peer", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connect(scope, listener.port, transport);
        const conn = await accepted.next();
        assert.deepEqual(conn.remoteAddr, { hostname: "127.0.0.1", port: client.localPort });
        const echo = (async () => {
          const writer = conn.writable.getWriter();
          for await (const chunk of conn.readable) await writer.write([chunk]);
          await writer.close();
        })();
        const sent = pattern(200_000, 1);
        const received = receive(client, sent.byteLength);
        for (let offset = 0; offset < sent.byteLength; offset += 7_000) {
          client.write(sent.subarray(offset, offset + 7_000));
        }
        assertBytes(await received, sent);
        client.end();
        await ended(client);
        await echo;
        await conn.closed;
      });

      test("ByteConnection.writable writes vectors intact and in order", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connect(scope, listener.port, transport);
        const conn = await accepted.next();
        const vectors = [
          [text("abc"), text("defgh"), text("i")],
          [new Uint8Array(0), text("j"), new Uint8Array(0)],
          [],
          [new Uint8Array([0x82, 0x7f]), pattern(100_000, 2), pattern(70_000, 3), text("z")],
          [pattern(300_000, 4)],
        ];
        const expected = concat(vectors.flat());
        const received = receive(client, expected.byteLength);
        const writer = conn.writable.getWriter();
        for (const vector of vectors) await writer.write(vector);
        assertBytes(await received, expected);
      });

      test("ByteConnection.writable stays pending while the peer does not read", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connectFlow(scope, listener.port, transport);
        const conn = await accepted.next();
        // More than the kernel buffers of both ends hold on loopback (about 4 MiB here).
        const vector = [
          new Uint8Array([1, 2]),
          pattern(4 << 20, 5),
          pattern(6 << 20, 6),
          pattern(6 << 20, 7),
        ];
        const writer = conn.writable.getWriter();
        const written = writer.write(vector);
        assert.equal(await stateAfter(written, 300), "pending");
        const expected = concat(vector);
        assertBytes(await client.receive(expected.byteLength), expected);
        await written;
      });

      test(
        "ByteConnection.readable stops reading the socket while not consumed",
        async (scope) => {
          const { listener, accepted } = await serve(scope, listen, transport);
          const client = await connectFlow(scope, listener.port, transport);
          const conn = await accepted.next();
          const chunk = pattern(1 << 20, 8);
          const limit = 64 << 20;
          let sent = 0;
          let pending: Promise<void> | undefined;
          while (sent < limit) {
            const written = client.write(chunk);
            sent += chunk.byteLength;
            if (await stateAfter(written, 300) === "pending") {
              pending = written;
              break;
            }
          }
          assert.ok(pending, `the client wrote ${sent} bytes to a server that does not read`);
          // Now read everything: all of it arrives, intact, and the stalled write completes.
          const reader = conn.readable.getReader();
          const received = await read(reader, sent);
          for (let offset = 0; offset < sent; offset += chunk.byteLength) {
            assertBytes(received.subarray(offset, offset + chunk.byteLength), chunk);
          }
          await pending;
        },
        name === "node" && transport === "tls" && runtime.Deno !== undefined
          ? "Deno's node:tls keeps reading a paused socket (the deno adapter is the one for Deno)"
          : undefined,
      );

      test("ByteConnection.readable closes on a half-close; the writable still works", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connect(scope, listener.port, transport);
        const conn = await accepted.next();
        client.end(text("last words"));
        const reader = conn.readable.getReader();
        assertBytes(await read(reader, 10), text("last words"));
        assert.deepEqual(await reader.read(), { done: true, value: undefined });
        const reply = receive(client, 5);
        const writer = conn.writable.getWriter();
        await writer.write([text("re"), text("ply")]);
        assertBytes(await reply, text("reply"));
        await writer.close();
        await ended(client);
        await conn.closed;
        await closedSocket(client);
      });

      test("ByteConnection.writable close half-closes; the readable still works", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connect(scope, listener.port, transport);
        const conn = await accepted.next();
        const writer = conn.writable.getWriter();
        await writer.write([text("bye")]);
        await writer.close();
        assertBytes(await receive(client, 3), text("bye"));
        await ended(client);
        client.end(text("late"));
        const reader = conn.readable.getReader();
        assertBytes(await read(reader, 4), text("late"));
        assert.equal((await reader.read()).done, true);
        await conn.closed;
        await closedSocket(client);
      });

      test("ByteConnection.close destroys the socket and closed resolves", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connect(scope, listener.port, transport);
        const conn = await accepted.next();
        const reader = conn.readable.getReader();
        // Handled at once: a rejection seen later would count as unhandled.
        const pendingRead = assert.rejects(reader.read(), { message: /^Cannot / });
        const writer = conn.writable.getWriter();
        conn.close();
        conn.close();
        await conn.closed;
        // The peer sees an end of stream (a reset if it had unread bytes).
        await ended(client);
        await pendingRead;
        await assert.rejects(writer.write([text("too late")]), { message: /^Cannot / });
      });

      test("ByteConnection.closed resolves once the readable is cancelled and the writable closed", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connect(scope, listener.port, transport);
        const conn = await accepted.next();
        await conn.readable.cancel();
        assert.equal(await stateAfter(conn.closed, 50), "pending");
        const writer = conn.writable.getWriter();
        await writer.write([text("done")]);
        await writer.close();
        await conn.closed;
        assertBytes(await receive(client, 4), text("done"));
        await ended(client);
      });

      test("ByteConnection.writable abort destroys the connection", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connect(scope, listener.port, transport);
        const conn = await accepted.next();
        const reading = assert.rejects(conn.readable.getReader().read(), { message: /^Cannot / });
        await conn.writable.abort(new Error("gave up"));
        await conn.closed;
        await reading;
        await Promise.race([ended(client).catch(() => {}), closedSocket(client)]);
      });

      test("Listener.close stops accepting and keeps existing connections", async (scope) => {
        const { listener, accepted } = await serve(scope, listen, transport);
        const client = await connect(scope, listener.port, transport);
        const conn = await accepted.next();
        await listener.close();
        await listener.close();
        await assert.rejects(connect(scope, listener.port, transport), { code: "ECONNREFUSED" });
        const reply = receive(client, 4);
        client.write(text("ping"));
        const reader = conn.readable.getReader();
        assertBytes(await read(reader, 4), text("ping"));
        await conn.writable.getWriter().write([text("po"), text("ng")]);
        assertBytes(await reply, text("pong"));
      });

      test("listen rejects when the port is in use", async (scope) => {
        const { listener } = await serve(scope, listen, transport);
        const tls = transport === "tls" ? TLS : undefined;
        const second = listen(
          { hostname: "127.0.0.1", port: listener.port, noDelay: true, tls },
          () => {},
        );
        second.then((unexpected) => scope.defer(() => unexpected.close()), () => {});
        await assert.rejects(second, { message: /^Cannot listen on "127\.0\.0\.1:\d+": / });
      });

      test(
        "listen binds the IPv6 loopback",
        async (scope) => {
          const { listener, accepted } = await serve(scope, listen, transport, "::1");
          assert.equal(listener.hostname, "::1");
          const client = await connect(scope, listener.port, transport, "::1");
          const conn = await accepted.next();
          assert.deepEqual(conn.remoteAddr, { hostname: "::1", port: client.localPort });
          const reply = receive(client, 2);
          await conn.writable.getWriter().write([text("v6")]);
          assertBytes(await reply, text("v6"));
        },
        hasIPv6 ? undefined : "the IPv6 loopback (::1) is not available on this machine",
      );
    });
  }
}

describe("fromNodeSocket", () => {
  test("fromNodeSocket yields the head bytes before the socket's", async (scope) => {
    const accepted = new Accepted();
    const server = createNetServer((socket) => {
      const conn = nodeAdapter.fromNodeSocket(socket, new Uint8Array([1, 2, 3]));
      scope.defer(() => conn.close());
      accepted.push(conn);
    });
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    scope.defer(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    const client = await connect(scope, port, "tcp");
    client.end(new Uint8Array([4, 5]));
    const conn = await accepted.next();
    const reader = conn.readable.getReader();
    assertBytes(await read(reader, 5), new Uint8Array([1, 2, 3, 4, 5]));
    assert.equal((await reader.read()).done, true);
  });

  test("fromNodeSocket of a destroyed socket is closed at once", async (scope) => {
    const accepted = new Accepted();
    const server = createNetServer((socket) => {
      socket.destroy();
      const conn = nodeAdapter.fromNodeSocket(socket);
      scope.defer(() => conn.close());
      accepted.push(conn);
    });
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    scope.defer(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    await connect(scope, port, "tcp");
    const conn = await accepted.next();
    await conn.closed;
    await assert.rejects(conn.readable.getReader().read(), { message: /^Cannot / });
    await assert.rejects(conn.writable.getWriter().write([text("x")]), { message: /^Cannot / });
  });
});

describe("detectListen", () => {
  test("detectListen picks the adapter of the current runtime", async () => {
    assert.equal(await detectListen(), adapters[0]!.listen);
  });
});
