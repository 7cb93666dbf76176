/**
 * Web streams over a {@linkcode Transport}, made only when someone asks for them.
 *
 * @module
 */

import type { Transport, TransportSink } from "./transport.ts";

/** Options of {@linkcode byteStreams}. */
export interface ByteStreamsOptions {
  /**
   * Unread bytes the readable holds before the transport is paused.
   *
   * @default {65536}
   */
  highWaterMark?: number;
}

/** What {@linkcode byteStreams} returns. */
export interface ByteStreams {
  /**
   * The peer's bytes. While it holds `highWaterMark` unread bytes the transport is paused; a read
   * resumes it. It closes when the peer ends, and errors when the socket fails or closes first.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * Bytes to the peer, a vector of buffers per chunk, each written as one unit. A write resolves
   * at once when the transport had room, otherwise once it drained. Closing it ends the transport
   * (what was written is sent, then the write side half-closes); aborting destroys it.
   */
  readonly writable: WritableStream<Uint8Array[]>;
  /**
   * The transport's events must reach this sink: return it from `accept`, or forward to it the
   * events of the sink the transport already has.
   */
  readonly sink: TransportSink;
}

/**
 * Builds a readable and a writable byte stream over `transport`, and the sink its events must
 * reach. Nothing is built per connection unless this is called: a connection that hands its raw
 * bytes over forwards its own sink's events to `sink` from then on, after feeding it any bytes it
 * already read and did not use.
 *
 * @example Echo every socket through streams
 * ```ts
 * import { byteStreams } from "@netws/server/adapter";
 * import { listen } from "@netws/server/node";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0, noDelay: true }, (transport) => {
 *   const { readable, writable, sink } = byteStreams(transport);
 *   readable
 *     .pipeThrough(new TransformStream<Uint8Array, Uint8Array[]>({
 *       transform: (chunk, controller) => controller.enqueue([chunk]),
 *     }))
 *     .pipeTo(writable)
 *     .catch(() => transport.destroy());
 *   return sink;
 * });
 * assert.ok(listener.port > 0);
 * await listener.close();
 * ```
 */
export function byteStreams(transport: Transport, options: ByteStreamsOptions = {}): ByteStreams {
  const bridge = new StreamSink(transport);
  const readable = new ReadableStream<Uint8Array>({
    start: (controller) => void (bridge.reader = controller),
    pull: () => bridge.resume(),
    cancel: () => bridge.cancel(),
  }, { highWaterMark: options.highWaterMark ?? 64 * 1024, size: (chunk) => chunk.byteLength });
  const writable = new WritableStream<Uint8Array[]>({
    start: (controller) => void (bridge.writer = controller),
    write: (vector) => bridge.write(vector),
    close: () => transport.end(),
    abort: () => transport.destroy(),
  });
  return { readable, writable, sink: bridge };
}

/** The transport's events, as the states of the two streams. */
class StreamSink implements TransportSink {
  reader!: ReadableStreamDefaultController<Uint8Array>;
  writer!: WritableStreamDefaultController;
  #transport: Transport;
  #paused = false;
  #readDone = false;
  #closed = false;
  #drain: { resolve(): void; reject(reason: unknown): void } | undefined;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  onData(chunk: Uint8Array): void {
    if (this.#readDone) return;
    this.reader.enqueue(chunk);
    if (!this.#paused && this.reader.desiredSize! <= 0) {
      this.#paused = true;
      this.#transport.pause();
    }
  }

  onEnd(): void {
    if (this.#readDone) return;
    this.#readDone = true;
    this.reader.close();
  }

  onDrain(): void {
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.resolve();
  }

  onClose(error?: unknown): void {
    this.#closed = true;
    const reason = error ?? new Error("Cannot use the connection: the socket is closed");
    if (!this.#readDone) {
      this.#readDone = true;
      this.reader.error(reason);
    }
    this.#drain?.reject(reason);
    this.#drain = undefined;
    this.writer.error(reason);
  }

  resume(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#transport.resume();
    }
  }

  /** Nobody reads any more: the transport keeps reading, and what it reads is dropped. */
  cancel(): void {
    this.#readDone = true;
    this.resume();
  }

  write(vector: Uint8Array[]): Promise<void> | undefined {
    if (this.#closed) throw new Error("Cannot write: the socket is closed");
    if (this.#transport.write(vector)) return;
    return new Promise((resolve, reject) => this.#drain = { resolve, reject });
  }
}
