/**
 * The Bun adapter: {@linkcode listen} over `Bun.listen` (with its `tls` option).
 *
 * Bun hands data to callbacks and may write only part of a chunk, so this module bridges both
 * ways: incoming buffers feed a `ReadableStream` that pauses the socket when it fills, and a write
 * resolves only once its last byte was taken, retrying the rest on `drain`.
 *
 * @module
 */

import type { ByteConnection, Listen, Listener, ListenOptions, RemoteAddress } from "./types.ts";
import { closedError, concat, messageOf } from "./shared.ts";

// The part of Bun's API this module uses, so that it type-checks without Bun's types and only
// touches `globalThis.Bun` when `listen` is called.
interface BunSocket {
  data: BunConnection | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Returns the bytes taken, which may be fewer than given, or -1 once closed. */
  write(data: Uint8Array): number;
  shutdown(halfClose?: boolean): void;
  end(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
}

interface BunSocketHandler {
  open(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
}

interface BunListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): void;
}

interface BunNet {
  listen(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    tls?: { cert: string; key: string };
    socket: BunSocketHandler;
  }): BunListener;
}

/** Bytes the readable buffers ahead of its consumer before the socket is paused. */
const READ_AHEAD = 64 * 1024;
/**
 * Vectors up to this total are concatenated into one write, larger ones written buffer by buffer.
 * Bun has no `writev` and makes one syscall per write, so a split frame costs a syscall and a
 * packet more, and with Nagle on, a small second write can wait for a delayed ACK. Measured
 * (`[header, payload]` vectors to a loopback sink, best of 5): concatenating is 91% faster at
 * 125 B and 41% at 1 KiB, even within noise from 4 to 64 KiB, and 18% slower at 256 KiB.
 */
const CONCAT_UP_TO = 64 * 1024;

/**
 * Listens with `Bun.listen` (TLS when `tls` is set) and hands every accepted connection to
 * `onConnection` as a {@linkcode ByteConnection}. Rejects when the address cannot be bound.
 *
 * @example Echo every connection (Bun only: not run by the doc tests, which run on Deno)
 * ```ts ignore
 * import { listen } from "@netws/server/bun";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 8080, noDelay: true }, (conn) => {
 *   conn.readable
 *     .pipeThrough(new TransformStream<Uint8Array, Uint8Array[]>({
 *       transform: (chunk, controller) => controller.enqueue([chunk]),
 *     }))
 *     .pipeTo(conn.writable)
 *     .catch(() => conn.close());
 * });
 * console.log(`listening on port ${listener.port}`);
 * ```
 */
export const listen: Listen = (options, onConnection) =>
  // Anything thrown while binding becomes a rejection.
  new Promise((resolve) => resolve(listenNow(options, onConnection)));

function listenNow(options: ListenOptions, onConnection: (conn: ByteConnection) => void): Listener {
  const bun = (globalThis as unknown as { Bun: BunNet }).Bun;
  const { hostname, port, tls, noDelay } = options;
  const socket: BunSocketHandler = {
    open(socket) {
      socket.setNoDelay(noDelay);
      const connection = new BunConnection(socket);
      socket.data = connection;
      try {
        onConnection(connection);
      } catch (error) {
        // A throwing callback is a bug of the caller: report it as uncaught, keep accepting.
        connection.close();
        queueMicrotask(() => {
          throw error;
        });
      }
    },
    data: (socket, data) => socket.data?.onData(data),
    drain: (socket) => socket.data?.onDrain(),
    end: (socket) => socket.data?.onEnd(),
    close: (socket, error) => socket.data?.onClose(error),
    error: (socket, error) => socket.data?.onError(error),
  };
  let listener: BunListener;
  try {
    listener = bun.listen({
      hostname,
      port,
      // Keep writing after the peer half-closes: the readable ends, the writable does not.
      allowHalfOpen: true,
      ...(tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } }),
      socket,
    });
  } catch (error) {
    throw new Error(`Cannot listen on "${hostname}:${port}": ${messageOf(error)}`, {
      cause: error,
    });
  }

  let stopped = false;
  const result: Listener = {
    port: listener.port,
    hostname: listener.hostname,
    close() {
      if (!stopped) {
        stopped = true;
        listener.stop(false);
      }
      return Promise.resolve();
    },
  };
  return result;
}

/** A write Bun took only part of: the rest goes out on `drain`. */
interface PendingWrite {
  rest: Uint8Array;
  resolve(): void;
  reject(reason: unknown): void;
}

/** One Bun socket as a {@linkcode ByteConnection}; the handlers above call its `on…` methods. */
class BunConnection implements ByteConnection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array[]>;
  readonly remoteAddr: RemoteAddress;
  readonly closed: Promise<void>;

  #socket: BunSocket;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #paused = false;
  #pending: PendingWrite | undefined;
  #readEnded = false;
  #writeEnded = false;
  #released = false;
  #resolveClosed!: () => void;

  constructor(socket: BunSocket) {
    this.#socket = socket;
    this.remoteAddr = { hostname: socket.remoteAddress, port: socket.remotePort };
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
      pull: () => {
        if (this.#paused) {
          this.#paused = false;
          this.#socket.resume();
        }
      },
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
    if (this.#released) return;
    this.#fail(new Error("Cannot use the connection: it was closed"));
    // end(), not terminate(): like Node's destroy(), bytes already taken still leave, then a FIN
    // (terminate() resets the connection). Measured: it closes the socket at once.
    this.#socket.end();
  }

  onData(data: Uint8Array): void {
    if (this.#readEnded) return;
    // Bun gives a fresh Buffer per callback, ours to keep: re-typing it as a plain Uint8Array
    // keeps Uint8Array semantics (subarray, slice) without a copy, and costs less than a new view
    // (measured: 86 ns against 333 ns).
    this.#readController.enqueue(Object.setPrototypeOf(data, Uint8Array.prototype));
    if (!this.#paused && this.#readController.desiredSize! <= 0) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  onDrain(): void {
    const pending = this.#pending;
    // Bun also reports drain when nothing waits (after a TLS handshake, for one).
    if (pending === undefined) return;
    const n = this.#socket.write(pending.rest);
    if (n === pending.rest.byteLength) {
      this.#pending = undefined;
      pending.resolve();
    } else if (n > 0) {
      pending.rest = pending.rest.subarray(n);
    }
    // n < 0: closed; onClose rejects the write.
  }

  /** The peer half-closed. */
  onEnd(): void {
    if (this.#readEnded) return;
    this.#readEnded = true;
    this.#readController.close();
    this.#releaseIfDone();
  }

  onClose(error: Error | undefined): void {
    if (error !== undefined) {
      this.#fail(error);
      return;
    }
    // Without an error, Bun closes once both sides sent their FIN, sometimes without an `end`.
    this.onEnd();
    this.#fail(closedError("write"));
  }

  /** Bun reports a failure that did not close the socket by itself (a throwing handler, say). */
  onError(error: Error): void {
    if (this.#released) return;
    this.#fail(error);
    this.#socket.end();
  }

  #write(vector: Uint8Array[]): Promise<void> | undefined {
    if (vector.length === 1) return this.#send(vector[0]!);
    let total = 0;
    for (const buffer of vector) total += buffer.byteLength;
    if (total <= CONCAT_UP_TO) return this.#send(concat(vector, total));
    return this.#sendEach(vector);
  }

  async #sendEach(vector: Uint8Array[]): Promise<void> {
    for (const buffer of vector) await this.#send(buffer);
  }

  /** Writes `buffer`; returns a promise only when Bun did not take all of it. */
  #send(buffer: Uint8Array): Promise<void> | undefined {
    if (buffer.byteLength === 0) return;
    const n = this.#socket.write(buffer);
    if (n === buffer.byteLength) return;
    if (n < 0) throw closedError("write");
    return new Promise((resolve, reject) => {
      this.#pending = { rest: buffer.subarray(n), resolve, reject };
    });
  }

  #closeWrite(): void {
    // Measured on Bun 1.4.5: shutdown() without an argument is shutdown(SHUT_WR), a half-close.
    this.#socket.shutdown();
    this.#writeEnded = true;
    this.#releaseIfDone();
  }

  #releaseIfDone(): void {
    if (this.#readEnded && this.#writeEnded && !this.#released) {
      // Released first: end() may run the close handler before it returns.
      this.#release();
      this.#socket.end();
    }
  }

  /** Ends both streams with `reason` (where still open), rejects a pending write, resolves closed. */
  #fail(reason: unknown): void {
    if (this.#released) return;
    if (!this.#readEnded) {
      this.#readEnded = true;
      this.#readController.error(reason);
    }
    const pending = this.#pending;
    if (pending !== undefined) {
      this.#pending = undefined;
      pending.reject(reason);
    }
    if (!this.#writeEnded) {
      this.#writeEnded = true;
      this.#writeController.error(reason);
    }
    this.#release();
  }

  #release(): void {
    this.#released = true;
    this.#resolveClosed();
  }
}
