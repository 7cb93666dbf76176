/**
 * An in-memory {@linkcode Transport} for connection tests: it records what the core writes and
 * how it drives the socket, and plays the peer (bytes in, half-close, drain). Like an adapter, it
 * never calls the sink from inside a transport method: `onClose` after `destroy` is deferred.
 */
import { setImmediate } from "node:timers";
import type { Transport, TransportSink } from "../../src/connection/transport.ts";
import { type Frame, FrameParser } from "../../src/protocol/mod.ts";
import { concat } from "./bytes.ts";

const decoder = new TextDecoder();

export class MemoryTransport implements Transport {
  readonly remoteAddr = { hostname: "127.0.0.1", port: 40000 };
  /** What the runtime would still hold: grows while `full`. */
  bufferedAmount = 0;
  /** Every vector written, in order. */
  readonly writes: Uint8Array[][] = [];
  /** While true, `write` returns false and keeps the bytes in `bufferedAmount`. */
  full = false;
  /**
   * While true, `write` returns true yet keeps the bytes in `bufferedAmount`, as a runtime with
   * its own write queue below its high-water mark does; `sendHeld` lets them go, with no drain.
   */
  holdAccepted = false;
  /** What the runtime would have read while paused and hold for the next `onData`. */
  heldAmount = 0;
  paused = false;
  pauses = 0;
  ended = false;
  destroyed = false;
  #sink: TransportSink | undefined;
  #parser = new FrameParser({ role: "client" });
  #parsed = 0;
  #headSkipped = false;
  readonly #frames: Frame[] = [];

  /** The sink the core returned for this transport. */
  set sink(sink: TransportSink) {
    this.#sink = sink;
  }

  write(vector: Uint8Array[]): boolean {
    if (this.ended || this.destroyed) return true;
    this.writes.push(vector);
    if (this.full || this.holdAccepted) {
      for (const buffer of vector) this.bufferedAmount += buffer.length;
    }
    return !this.full;
  }

  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => this.#sink!.onClose());
  }

  // --- The peer --------------------------------------------------------------------------------

  /** The peer sends bytes (a copy: the core may unmask them in place). */
  send(...chunks: Uint8Array[]): void {
    for (const chunk of chunks) this.#sink!.onData(chunk.slice());
  }

  /** The peer half-closes. */
  sendEnd(): void {
    this.#sink!.onEnd();
  }

  /** The runtime caught up: everything held left. */
  drain(): void {
    this.full = false;
    this.bufferedAmount = 0;
    this.#sink!.onDrain();
  }

  /** The runtime sent what it held after accepting it: no `onDrain`, as it never said full. */
  sendHeld(): void {
    this.bufferedAmount = 0;
  }

  /** Every byte written so far. */
  get output(): Uint8Array {
    return concat(this.writes.flat());
  }

  /** The HTTP response head the core wrote, as text. */
  get responseHead(): string {
    const text = decoder.decode(this.output);
    return text.slice(0, text.indexOf("\r\n\r\n") + 4);
  }

  /** The frames written after the response head, parsed as a client would. */
  get frames(): Frame[] {
    const output = this.output;
    if (!this.#headSkipped) {
      const end = decoder.decode(output).indexOf("\r\n\r\n");
      if (end === -1) return [];
      this.#parsed = end + 4;
      this.#headSkipped = true;
    }
    this.#parser.push(output.slice(this.#parsed), (frame) => void this.#frames.push(frame));
    this.#parsed = output.length;
    return this.#frames;
  }
}

/**
 * Lets queued microtasks (and the promises they resolve) run, and the send queues' flush, which
 * runs in a `setImmediate`, with what each flush sets off.
 */
export async function settle(rounds = 10): Promise<void> {
  for (let turn = 0; turn < 3; turn++) {
    for (let i = 0; i < rounds; i++) await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
