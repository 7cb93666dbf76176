/**
 * The Deno adapter: {@linkcode listen} over `Deno.listen` and `Deno.listenTls`.
 *
 * It reads and writes with `conn.read()`, `conn.write()` and `conn.closeWrite()` rather than
 * `conn.readable` and `conn.writable`: both of those close the whole connection when they end, so
 * a peer's half-close would make every later write fail.
 *
 * @module
 */

import type { ByteConnection, Listen, Listener, ListenOptions, RemoteAddress } from "./types.ts";
import { closedError, concat, messageOf } from "./shared.ts";

// The part of the Deno namespace this module uses, so that it type-checks without Deno's ambient
// types (the npm build) and only touches `globalThis.Deno` when `listen` is called.
interface DenoAddr {
  hostname: string;
  port: number;
}

interface DenoConn {
  readonly remoteAddr: DenoAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  // Missing on TlsConn.
  setNoDelay?: (noDelay?: boolean) => void;
}

interface DenoListener {
  readonly addr: DenoAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}

interface DenoNet {
  listen(options: { hostname: string; port: number }): DenoListener;
  listenTls(options: { hostname: string; port: number; cert: string; key: string }): DenoListener;
}

/**
 * Bytes asked of the kernel per read, adapted to the traffic: the buffer doubles after a read that
 * filled it, up to the maximum (what Deno's own readable uses), and falls back to the minimum
 * after a small read. Each connection has a read pending at all times, so an idle connection
 * pinning 64 KiB made Deno's memory per idle connection 4x its peer's.
 */
const MIN_READ_SIZE = 4 * 1024;
const MAX_READ_SIZE = 64 * 1024;
/**
 * Reads up to this size are copied out and the read buffer is reused; larger ones are handed over
 * and a new buffer is allocated. Measured on Deno 2.9.6: `slice(0, 16 KiB)` takes 2.6 µs,
 * `new Uint8Array(64 KiB)` 9 µs; and a small chunk then does not pin 64 KiB.
 */
const COPY_READS_UP_TO = 16 * 1024;
/** Bytes the readable reads ahead of its consumer before it stops reading the socket. */
const READ_AHEAD = 64 * 1024;
/**
 * Vectors up to this total are concatenated into one write, larger ones written buffer by buffer.
 * Deno has no `writev` and makes one syscall per write, so a split frame costs a syscall and a
 * packet more, and with Nagle on, a small second write can wait for a delayed ACK. Measured
 * (`[header, payload]` vectors to a loopback sink, best of 5): concatenating is 24% faster at
 * 125 B, even within noise from 1 to 64 KiB, and 22% slower at 256 KiB, where copying dominates.
 */
const CONCAT_UP_TO = 64 * 1024;
/** Bounds of the pause after a failed accept (for example when out of file descriptors). */
const ACCEPT_BACKOFF_MIN_MS = 5;
const ACCEPT_BACKOFF_MAX_MS = 1000;

/**
 * Listens with `Deno.listen`, or `Deno.listenTls` when `tls` is set, and hands every accepted
 * connection to `onConnection` as a {@linkcode ByteConnection}. Rejects when the address cannot be
 * bound. Accept errors do not stop the listener; {@linkcode Listener.close} does.
 *
 * @example Echo every connection
 * ```ts
 * import { listen } from "@netws/server/deno";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0, noDelay: true }, (conn) => {
 *   // Each chunk read goes back as a one-buffer vector.
 *   conn.readable
 *     .pipeThrough(new TransformStream<Uint8Array, Uint8Array[]>({
 *       transform: (chunk, controller) => controller.enqueue([chunk]),
 *     }))
 *     .pipeTo(conn.writable)
 *     .catch(() => conn.close());
 * });
 * assert.ok(listener.port > 0); // port 0 asked for a free one
 * await listener.close();
 * ```
 */
export const listen: Listen = (options, onConnection) =>
  // Anything thrown while binding becomes a rejection.
  new Promise((resolve) => resolve(listenNow(options, onConnection)));

function listenNow(options: ListenOptions, onConnection: (conn: ByteConnection) => void): Listener {
  const deno = (globalThis as unknown as { Deno: DenoNet }).Deno;
  const { hostname, port, tls, noDelay } = options;
  let listener: DenoListener;
  try {
    listener = tls === undefined
      ? deno.listen({ hostname, port })
      : deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key });
  } catch (error) {
    throw new Error(`Cannot listen on "${hostname}:${port}": ${messageOf(error)}`, {
      cause: error,
    });
  }

  let closing = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const acceptLoop = async () => {
    let backoff = 0;
    while (!closing) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch {
        if (closing) return;
        // A failed accept (EMFILE, ECONNABORTED…) must not end the server: retry, slower each time.
        backoff = Math.min(Math.max(backoff * 2, ACCEPT_BACKOFF_MIN_MS), ACCEPT_BACKOFF_MAX_MS);
        await sleep(backoff);
        continue;
      }
      backoff = 0;
      if (conn.setNoDelay !== undefined) conn.setNoDelay(noDelay);
      const connection = new DenoConnection(conn);
      try {
        onConnection(connection);
      } catch (error) {
        // A throwing callback is a bug of the caller: report it as uncaught, keep accepting.
        connection.close();
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  };
  const loopDone = acceptLoop();

  let closed: Promise<void> | undefined;
  const result: Listener = {
    port: listener.addr.port,
    hostname: listener.addr.hostname,
    close() {
      if (closed === undefined) {
        closing = true;
        try {
          listener.close();
        } catch {
          // Already closed.
        }
        wake?.();
        closed = loopDone;
      }
      return closed;
    },
  };
  return result;
}

/** One accepted `Deno.Conn` as a {@linkcode ByteConnection}. */
class DenoConnection implements ByteConnection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array[]>;
  readonly remoteAddr: RemoteAddress;
  readonly closed: Promise<void>;

  #conn: DenoConn;
  #buffer = new Uint8Array(MIN_READ_SIZE);
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #readEnded = false;
  #writeEnded = false;
  #released = false;
  #resolveClosed!: () => void;

  constructor(conn: DenoConn) {
    this.#conn = conn;
    this.remoteAddr = { hostname: conn.remoteAddr.hostname, port: conn.remoteAddr.port };
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
      pull: () => this.#pull(),
      cancel: () => {
        this.#readEnded = true;
        this.#releaseIfDone();
      },
    }, { highWaterMark: READ_AHEAD, size: (chunk) => chunk.byteLength });
    this.writable = new WritableStream<Uint8Array[]>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (vector) => this.#write(vector),
      close: () => this.#closeWrite(),
      abort: () => this.close(),
    });
  }

  close(): void {
    this.#fail(new Error("Cannot use the connection: it was closed"));
  }

  async #pull(): Promise<void> {
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buffer);
    } catch (error) {
      // After close() the readable is already errored and this is a no-op.
      this.#fail(error);
      return;
    }
    // Cancelled or closed while the read was pending.
    if (this.#readEnded) return;
    if (n === null) {
      this.#readEnded = true;
      this.#readController.close();
      this.#releaseIfDone();
      return;
    }
    const size = this.#buffer.length;
    const nextSize = n === size
      ? Math.min(size * 2, MAX_READ_SIZE)
      : n <= MIN_READ_SIZE / 2
      ? MIN_READ_SIZE
      : size;
    if (n <= COPY_READS_UP_TO) {
      this.#readController.enqueue(this.#buffer.slice(0, n));
      if (nextSize !== size) this.#buffer = new Uint8Array(nextSize);
    } else {
      this.#readController.enqueue(this.#buffer.subarray(0, n));
      this.#buffer = new Uint8Array(nextSize);
    }
  }

  async #write(vector: Uint8Array[]): Promise<void> {
    try {
      if (vector.length === 1) {
        await this.#writeAll(vector[0]!);
        return;
      }
      let total = 0;
      for (const buffer of vector) total += buffer.byteLength;
      if (total <= CONCAT_UP_TO) {
        await this.#writeAll(concat(vector, total));
      } else {
        for (const buffer of vector) await this.#writeAll(buffer);
      }
    } catch (error) {
      const reason = this.#released ? closedError("write") : error;
      this.#fail(reason);
      throw reason;
    }
  }

  async #writeAll(buffer: Uint8Array): Promise<void> {
    let offset = 0;
    // `write` may take only part of the buffer.
    while (offset < buffer.byteLength) {
      offset += await this.#conn.write(offset === 0 ? buffer : buffer.subarray(offset));
    }
  }

  async #closeWrite(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      const reason = this.#released ? closedError("close the writable") : error;
      this.#fail(reason);
      throw reason;
    }
    this.#writeEnded = true;
    this.#releaseIfDone();
  }

  /** Both directions ended cleanly: free the resource. */
  #releaseIfDone(): void {
    if (this.#readEnded && this.#writeEnded) this.#release();
  }

  /** Ends both streams with `reason` (where still open) and frees the resource. */
  #fail(reason: unknown): void {
    if (this.#released) return;
    if (!this.#readEnded) {
      this.#readEnded = true;
      this.#readController.error(reason);
    }
    if (!this.#writeEnded) {
      this.#writeEnded = true;
      this.#writeController.error(reason);
    }
    this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#resolveClosed();
  }
}
