/**
 * The Bun adapter: {@linkcode listen} over `Bun.listen` (with its `tls` option).
 *
 * Bun's socket handlers map one to one onto a {@linkcode TransportSink}. Bun's `write` may take
 * only part of a buffer and keeps none of the rest: the adapter keeps the tail and sends it on
 * `drain`.
 *
 * @module
 */

import type { Listen, Transport, TransportSink } from "../connection/transport.ts";
import { acceptOrDestroy, Backlog, coalesce, listenError } from "./shared.ts";

// The part of Bun's API used here: the module type-checks without Bun's types.
interface BunSocket {
  data: BunTransport | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The bytes taken, possibly fewer than given; -1 once closed. */
  write(data: Uint8Array): number;
  shutdown(halfClose?: boolean): void;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
}
type Handler = (socket: BunSocket, arg: Uint8Array & Error & boolean, error?: Error) => void;
interface BunListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): void;
}

/**
 * Listens with `Bun.listen` (TLS when `tls` is set) and gives every accepted socket to `accept`
 * as a {@linkcode Transport}.
 *
 * @example Echo every socket (Bun only: not run by the doc tests, which run on Deno)
 * ```ts ignore
 * import { listen } from "@netws/server/bun";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 8080, noDelay: true }, (t) => ({
 *   onData: (chunk) => void t.write([chunk]),
 *   onEnd: () => t.end(),
 *   onDrain() {},
 *   onClose() {},
 * }));
 * console.log(`listening on port ${listener.port}`);
 * ```
 */
// deno-lint-ignore require-await -- async: a throw while binding becomes a rejection
export const listen: Listen = async ({ hostname, port, tls, noDelay, reusePort }, accept) => {
  const handlers: Record<string, Handler> = {
    open(socket) {
      socket.setNoDelay(noDelay);
      const transport = socket.data = new BunTransport(socket, tls !== undefined);
      transport.sink = acceptOrDestroy(accept, transport);
    },
    // Bun gives a fresh buffer per call, ours to keep: re-typed as a plain Uint8Array, no copy.
    data: (socket, data) =>
      socket.data?.sink.onData(Object.setPrototypeOf(data, Uint8Array.prototype)),
    drain: (socket) => socket.data?.flush(),
    // A failed TLS handshake closes without an error: keep the one it reports here.
    handshake: (socket, success, error) =>
      success || socket.data?.fail(error ?? new Error("Cannot complete the TLS handshake")),
    end: (socket) => socket.data?.onEnd(),
    close: (socket, error) => socket.data?.onClose(error),
    // A failure that does not close the socket by itself: close it, reporting the failure.
    error: (socket, error) => socket.data?.fail(error),
  };
  const bun = (globalThis as unknown as { Bun: { listen(o: unknown): BunListener } }).Bun;
  let listener: BunListener;
  try {
    listener = bun.listen({
      hostname,
      port,
      allowHalfOpen: true,
      reusePort: reusePort === true,
      ...(tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } }),
      socket: handlers,
    });
  } catch (error) {
    throw listenError(hostname, port, error);
  }
  let stopped = false;
  return {
    port: listener.port,
    hostname: listener.hostname,
    close() {
      if (!stopped) stopped = true, listener.stop(false);
      return Promise.resolve();
    },
  };
};

/** One Bun socket as a {@linkcode Transport}; the handlers above feed its sink. */
class BunTransport implements Transport {
  readonly remoteAddr: { hostname: string; port: number };
  sink!: TransportSink;
  #socket: BunSocket;
  #tls: boolean;
  #tail = new Backlog();
  #paused = false;
  #ending = false;
  #ended = false;
  #destroyed = false;
  #closed = false;
  #error: unknown;

  constructor(socket: BunSocket, tls: boolean) {
    this.#socket = socket;
    this.#tls = tls;
    this.remoteAddr = { hostname: socket.remoteAddress, port: socket.remotePort };
  }

  get bufferedAmount(): number {
    return this.#tail.bytes;
  }

  write(vector: Uint8Array[]): boolean {
    if (this.#ending || this.#closed) return false;
    if (this.#tail.bytes > 0) return this.#tail.keep(vector), false;
    return this.#send(coalesce(vector));
  }

  pause(): void {
    if (!this.#paused && !this.#closed) this.#paused = true, this.#socket.pause();
  }

  resume(): void {
    if (this.#paused && !this.#closed) this.#paused = false, this.#socket.resume();
  }

  end(): void {
    if (this.#ending || this.#closed) return;
    this.#ending = true;
    // shutdown() is shutdown(SHUT_WR), a half-close (measured on Bun 1.4.5).
    if (this.#tail.bytes === 0) this.#socket.shutdown();
  }

  destroy(): void {
    if (this.#closed || this.#destroyed) return;
    this.#destroyed = true;
    this.#tail.take();
    // Over TCP end() closes at once (measured) without a reset; over TLS it only half-closes.
    if (this.#tls) this.#socket.terminate();
    else this.#socket.end();
  }

  /** `drain`: sends the kept tail; once it is out, half-closes if asked or tells the sink. */
  flush(): void {
    // Bun also reports drain when nothing waits (after a TLS handshake, for one).
    if (this.#tail.bytes === 0 || this.#closed || !this.#send(this.#tail.take())) return;
    if (this.#ending) this.#socket.shutdown();
    else this.sink.onDrain();
  }

  onEnd(): void {
    if (!this.#ended) this.#ended = true, this.sink.onEnd();
  }

  fail(error: Error): void {
    // Bun reports our own terminate() of a TLS socket as a failed handshake: not a failure.
    if (this.#destroyed || this.#closed) return;
    this.#error = error;
    this.destroy();
  }

  onClose(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#tail.take();
    // What our own destroy() caused is no failure of the socket.
    const reason = this.#error ?? (this.#destroyed ? undefined : error);
    // Deferred: Bun may run this handler inside end() or terminate() (rule 1).
    queueMicrotask(() => {
      // Bun may close on the peer's FIN without an `end` call: the peer did end (rule 3).
      if (reason === undefined && !this.#destroyed) this.onEnd();
      this.sink.onClose(reason);
    });
  }

  /** Writes buffers until Bun takes less than all, and keeps the rest. True when all was taken. */
  #send(buffers: Uint8Array[]): boolean {
    for (let i = 0; i < buffers.length; i++) {
      const buffer = buffers[i]!;
      const n = buffer.byteLength === 0 ? 0 : this.#socket.write(buffer);
      if (n === buffer.byteLength) continue;
      if (n < 0) return false; // closed: the close handler follows
      this.#tail.keep([buffer.subarray(n)]);
      this.#tail.keep(buffers, i + 1);
      return false;
    }
    return true;
  }
}
