/**
 * The Deno adapter: {@linkcode listen} over `Deno.listen` and `Deno.listenTls`.
 *
 * One read loop per socket, with one read pending while it is not paused, and one write loop that
 * sends what was queued meanwhile in as few writes as it can. It uses `conn.read()`,
 * `conn.write()` and `conn.closeWrite()` rather than `conn.readable` and `conn.writable`, which
 * close the whole connection when either ends.
 *
 * @module
 */

import type { Listen, Transport, TransportSink } from "../connection/transport.ts";
import { acceptOrDestroy, Backlog, listenError } from "./shared.ts";

// The part of the Deno namespace used here: the module type-checks without Deno's types.
interface DenoConn {
  readonly remoteAddr: { hostname: string; port: number };
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?: (noDelay?: boolean) => void; // missing on TlsConn
}
interface DenoListener {
  readonly addr: { hostname: string; port: number };
  accept(): Promise<DenoConn>;
  close(): void;
}
type DenoListen = (options: Record<string, unknown>) => DenoListener;

/**
 * The read buffer doubles after a read that filled it, up to the maximum, and falls back to the
 * minimum after a small one: an idle socket pins 4 KiB, not 64. Reads up to 16 KiB are copied out
 * and the buffer reused (measured: `slice` of 16 KiB 2.6 µs, a new 64 KiB buffer 9 µs).
 */
const MIN_READ = 4 * 1024;
const MAX_READ = 64 * 1024;
const COPY_UP_TO = 16 * 1024;
/** Queued bytes from which `write` returns false. */
const HIGH_WATER = 64 * 1024;

/**
 * Listens with `Deno.listen`, or `Deno.listenTls` when `tls` is set, and gives every accepted
 * socket to `accept` as a {@linkcode Transport}. A failed accept (out of file descriptors) pauses
 * the loop briefly instead of ending it.
 *
 * @example Echo every socket
 * ```ts
 * import { listen } from "@netws/server/deno";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0, noDelay: true }, (transport) => ({
 *   onData: (chunk) => void transport.write([chunk]),
 *   onEnd: () => transport.end(),
 *   onDrain() {},
 *   onClose() {},
 * }));
 * assert.ok(listener.port > 0);
 * await listener.close();
 * ```
 */
// deno-lint-ignore require-await -- async: a throw while binding becomes a rejection
export const listen: Listen = async ({ hostname, port, tls, noDelay, reusePort }, accept) => {
  const deno = (globalThis as { Deno?: unknown }).Deno as Record<
    "listen" | "listenTls",
    DenoListen
  >;
  // Without --unstable-net, Deno.listen({ reusePort: true }) exits the process with code 70, with
  // nothing to catch (Deno 2.9.6). The flag (or "unstable": ["net"] in deno.json) is what adds
  // Deno.listenDatagram, so its presence tells whether reusePort may be passed.
  if (
    reusePort === true && typeof (deno as Record<string, unknown>).listenDatagram !== "function"
  ) {
    throw listenError(hostname, port, new Error("reusePort needs deno run --unstable-net"));
  }
  const reuse = reusePort === true ? { reusePort } : {};
  let listener: DenoListener;
  try {
    listener = tls === undefined
      ? deno.listen({ hostname, port, ...reuse })
      : deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key, ...reuse });
  } catch (error) {
    throw listenError(hostname, port, error);
  }
  let closing = false;
  let backoff: ReturnType<typeof setTimeout> | undefined;
  let wake = () => {};
  const loop = (async () => {
    for (let delay = 0; !closing;) {
      try {
        const conn = await listener.accept();
        delay = 0;
        conn.setNoDelay?.(noDelay);
        const transport = new DenoTransport(conn);
        transport.start(acceptOrDestroy(accept, transport));
      } catch {
        // A failed accept (out of file descriptors) must not end the loop: retry, slower each time.
        delay = Math.min(Math.max(delay * 2, 5), 1000);
        if (!closing) await new Promise<void>((go) => (wake = go, backoff = setTimeout(go, delay)));
      }
    }
  })();
  return {
    port: listener.addr.port,
    hostname: listener.addr.hostname,
    close() {
      if (!closing) closing = true, listener.close(), clearTimeout(backoff), wake();
      return loop;
    },
  };
};

/** One `Deno.Conn` as a {@linkcode Transport}. */
class DenoTransport implements Transport {
  readonly remoteAddr: { hostname: string; port: number };
  #conn: DenoConn;
  #sink!: TransportSink;
  #buffer = new Uint8Array(MIN_READ);
  #queue = new Backlog();
  #inFlight = 0;
  #writing = false;
  #wantDrain = false;
  #paused = false;
  /** The length of a chunk read while paused, held until resume. */
  #held = 0;
  #resume: ((open: boolean) => void) | undefined;
  #ending = false;
  #readEnded = false;
  #writeEnded = false;
  #closed = false;

  constructor(conn: DenoConn) {
    this.#conn = conn;
    this.remoteAddr = { hostname: conn.remoteAddr.hostname, port: conn.remoteAddr.port };
  }

  get bufferedAmount(): number {
    return this.#queue.bytes + this.#inFlight;
  }

  get heldAmount(): number {
    return this.#held;
  }

  start(sink: TransportSink): void {
    this.#sink = sink;
    if (!this.#closed) void this.#readLoop();
  }

  write(vector: Uint8Array[]): boolean {
    if (this.#ending || this.#closed) return false;
    this.#queue.keep(vector);
    if (!this.#writing && this.#queue.bytes > 0) void this.#writeLoop();
    if (this.bufferedAmount < HIGH_WATER) return true;
    return this.#wantDrain = true, false;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wake(true);
  }

  end(): void {
    if (this.#ending || this.#closed) return;
    this.#ending = true;
    if (!this.#writing) void this.#closeWrite();
  }

  destroy(): void {
    this.#close(undefined);
  }

  async #readLoop(): Promise<void> {
    while (!this.#closed) {
      if (this.#paused && !await this.#resumed()) return;
      let n: number | null;
      try {
        n = await this.#conn.read(this.#buffer);
      } catch (error) {
        // TLS alerts, a plain client on a TLS port, resets: the socket failed, not the code.
        return this.#close(error);
      }
      if (this.#closed) return;
      if (n === null) {
        this.#readEnded = true;
        this.#sink.onEnd();
        if (this.#writeEnded) this.#close(undefined);
        return;
      }
      const size = this.#buffer.length;
      const next = n === size ? Math.min(size * 2, MAX_READ) : n <= MIN_READ / 2 ? MIN_READ : size;
      const chunk = n <= COPY_UP_TO ? this.#buffer.slice(0, n) : this.#buffer.subarray(0, n);
      if (n > COPY_UP_TO || next !== size) this.#buffer = new Uint8Array(next);
      // A read that was pending when pause() came is held until resume().
      if (this.#paused) {
        this.#held = n;
        const open = await this.#resumed();
        this.#held = 0;
        if (!open) return;
      }
      this.#sink.onData(chunk);
    }
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.bytes > 0) {
        this.#inFlight = this.#queue.bytes;
        for (const buffer of this.#queue.take()) {
          for (let offset = 0; offset < buffer.byteLength;) {
            const n = await this.#conn.write(offset === 0 ? buffer : buffer.subarray(offset));
            if (this.#closed) return;
            offset += n;
            this.#inFlight -= n;
          }
        }
      }
    } catch (error) {
      return this.#close(error);
    } finally {
      this.#writing = false;
    }
    if (this.#closed) return;
    if (this.#ending) return this.#closeWrite();
    if (this.#wantDrain) this.#wantDrain = false, this.#sink.onDrain();
  }

  async #closeWrite(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      return this.#close(error);
    }
    this.#writeEnded = true;
    if (this.#readEnded) this.#close(undefined);
  }

  #resumed(): Promise<boolean> {
    return new Promise((resolve) => this.#resume = resolve);
  }

  #wake(open: boolean): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.(open);
  }

  #close(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.take();
    this.#inFlight = 0;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#wake(false);
    // Deferred: destroy() must not call the sink (rule 1).
    queueMicrotask(() => this.#sink.onClose(error));
  }
}
