/**
 * Loopback clients for the adapter suites: `node:net` / `node:tls` sockets (on Deno, Bun and
 * Node), a client that reads nothing until asked, and the TLS fixtures.
 */
import { readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { TlsOptions } from "../../src/connection/transport.ts";
import { concat } from "./bytes.ts";
import type { Scope } from "./server.ts";

const runtime = globalThis as { Deno?: unknown; Bun?: unknown };

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url), "utf8");
/** The server's certificate chain and key. */
export const TLS: TlsOptions = { cert: fixture("cert.pem"), key: fixture("key.pem") };
/** The CA that signed it. */
export const CA: string = fixture("ca.pem");

/** Plain TCP or TLS. */
export type Wire = "tcp" | "tls";

/** Resolves to "pending" when `promise` has not settled after `ms`. */
export async function stateAfter(
  promise: Promise<unknown>,
  ms: number,
): Promise<"settled" | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    promise.then(() => "settled" as const, () => "settled" as const),
    new Promise<"pending">((resolve) => timer = setTimeout(() => resolve("pending"), ms)),
  ]);
  clearTimeout(timer);
  return result;
}

/** What each client socket went through. */
const events = new WeakMap<Socket, { ended: Promise<void>; closed: Promise<void> }>();

/** Connects a client (trusting the fixture CA over TLS); destroyed when the test ends. */
export function connect(
  scope: Scope,
  port: number,
  wire: Wire,
  host = "127.0.0.1",
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = wire === "tls"
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
    socket.once(wire === "tls" ? "secureConnect" : "connect", () => {
      socket.off("error", reject);
      // Tests look at 'close'; a reset must not become an uncaught error.
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

/** Reads exactly `n` bytes from a client socket (more is an error). */
export function receive(socket: Socket, n: number): Promise<Uint8Array> {
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
export function ended(socket: Socket): Promise<void> {
  socket.resume();
  return events.get(socket)!.ended;
}

/** Resolves once the client socket closed. */
export function closedSocket(socket: Socket): Promise<void> {
  return events.get(socket)!.closed;
}

/**
 * A client for the backpressure tests: it reads nothing until `receive` is called, and its writes
 * resolve once its runtime took the bytes.
 */
export interface FlowClient {
  write(bytes: Uint8Array): Promise<void>;
  receive(n: number): Promise<Uint8Array>;
  /** Resolves once the server's end of stream arrived (after what `receive` read). */
  ended(): Promise<void>;
  /** Closes the socket now: with unread bytes in its kernel buffer, the peer gets a reset. */
  destroy(): void;
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

/** Connects a {@linkcode FlowClient}. */
export async function connectFlow(scope: Scope, port: number, wire: Wire): Promise<FlowClient> {
  if (wire === "tls" && runtime.Deno !== undefined) {
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
      async ended() {
        const count = await conn.read(new Uint8Array(1)).catch(() => null);
        if (count !== null) throw new Error("Cannot wait for the end: more bytes came");
      },
      destroy: () => conn.close(),
    };
  }
  const socket = await connect(scope, port, wire);
  socket.pause();
  return {
    write: (bytes) =>
      new Promise((resolve, reject) => {
        if (socket.write(bytes)) return resolve();
        socket.once("drain", resolve);
        closedSocket(socket).then(() => reject(new Error("Cannot write: the socket closed")));
      }),
    receive: (n) => receive(socket, n),
    ended: () => ended(socket),
    destroy: () => socket.destroy(),
  };
}
