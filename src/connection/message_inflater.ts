export type { CompressedMessage } from "../protocol/compressed_message.ts";

/**
 * The receiving side of permessage-deflate for one connection: compressed messages in, in
 * order with everything else the peer sent, decoded messages out.
 *
 * @module
 */

import type { Decompressor } from "./compression.ts";
import type { CompressedMessage } from "../protocol/compressed_message.ts";
import { InvalidDataError } from "../protocol/errors.ts";
import type { Message } from "../protocol/message_assembler.ts";

/** What a {@linkcode MessageInflater} calls. */
export interface MessageInflaterOptions {
  /** The connection's inflater. */
  decompressor: Decompressor;
  /** The largest message once inflated (RFC 7692 §8: limits apply to inflated bytes). */
  maxMessageSize: number;
  /** Gets every message, decoded, in the order the peer sent them. */
  deliver(message: Message): void;
  /** Gets the first failure (1009, 1007); nothing is delivered after it. */
  fail(error: unknown): void;
  /** Stop reading from the peer: messages are waiting for the inflater. */
  pause(): void;
  /** Read again: every message has been delivered. */
  resume(): void;
}

/**
 * Inflates compressed messages one at a time and delivers every message (compressed or not,
 * control frames too) in the order they arrived, pausing the peer while any wait. Text is
 * checked as UTF-8 chunk by chunk as it inflates, so bad text fails before the rest inflates.
 *
 * @example Deliver a compressed "Hello" (RFC 7692 §7.2.3.1) after a ping
 * ```ts
 * import { MessageInflater } from "./message_inflater.ts";
 * import { zlibCompression } from "../adapters/zlib/mod.ts";
 * import assert from "node:assert/strict";
 *
 * const got: unknown[] = [];
 * const decompressor = zlibCompression().createDecompressor({ windowBits: 15, noContextTakeover: false });
 * const inflater = new MessageInflater({
 *   decompressor,
 *   maxMessageSize: 1024,
 *   deliver: (message) => got.push(message),
 *   fail: (error) => got.push(error),
 *   pause() {},
 *   resume() {},
 * });
 * const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * inflater.push({ type: "text", compressed: true, parts: [hello] });
 * inflater.push({ type: "ping", data: new Uint8Array(0) });
 * await inflater.idle();
 * assert.deepEqual(got, [{ type: "text", data: "Hello" }, { type: "ping", data: new Uint8Array(0) }]);
 * decompressor.close();
 * ```
 */
export class MessageInflater {
  readonly #options: MessageInflaterOptions;
  readonly #queue: Array<Message | CompressedMessage> = [];
  #running = false;
  #failed = false;
  #held = false;
  #wake: (() => void) | undefined;
  #idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = () => {};

  /** Creates the inflater of one connection. */
  constructor(options: MessageInflaterOptions) {
    this.#options = options;
  }

  /** Whether messages are waiting or inflating. */
  get busy(): boolean {
    return this.#running;
  }

  /** Takes the next message from the peer. Messages behind a compressed one wait for it. */
  push(message: Message | CompressedMessage): void {
    if (this.#failed) return;
    if (!this.#running && !isCompressed(message)) {
      this.#options.deliver(message);
      return;
    }
    this.#queue.push(message);
    if (!this.#running) this.#start();
  }

  /** Settles once nothing waits (at once when idle). */
  idle(): Promise<void> {
    return this.#idle;
  }

  /**
   * Whoever takes the messages is full (a stream's reader is behind): no message is inflated or
   * delivered from the queue until {@linkcode release}. One already inflating still arrives, so
   * what is held past that point is at most one message; messages that need no inflating and
   * find nothing queued ahead of them are still delivered, since they are the peer's own bytes.
   */
  hold(): void {
    this.#held = true;
  }

  /** Inflating and delivering may go on. */
  release(): void {
    this.#held = false;
    this.#wake?.();
  }

  /** Drops what waits; nothing more is delivered. The decompressor is the caller's to close. */
  close(): void {
    this.#failed = true;
    this.#queue.length = 0;
    this.#wake?.();
  }

  #start(): void {
    this.#running = true;
    this.#idle = new Promise((resolve) => this.#markIdle = resolve);
    this.#options.pause();
    void this.#drain();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#failed) {
      if (this.#held) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        this.#wake = undefined;
        continue;
      }
      const message = this.#queue.shift()!;
      if (!isCompressed(message)) {
        this.#options.deliver(message);
        continue;
      }
      try {
        const decoded = await this.#inflate(message);
        if (!this.#failed) this.#options.deliver(decoded);
      } catch (error) {
        if (!this.#failed) {
          this.#failed = true;
          this.#options.fail(error);
        }
      }
    }
    this.#queue.length = 0;
    this.#running = false;
    this.#markIdle();
    if (!this.#failed) this.#options.resume();
  }

  async #inflate(message: CompressedMessage): Promise<Message> {
    const { decompressor, maxMessageSize } = this.#options;
    if (message.type === "binary") {
      const chunks = await decompressor.decompress(message.parts, maxMessageSize);
      return { type: "binary", data: join(chunks) };
    }
    // RFC 6455 §8.1: text must be UTF-8; checked per chunk, so it fails as early as it can.
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let text = "";
    const decode = (chunk: Uint8Array, stream: boolean): void => {
      try {
        text += decoder.decode(chunk, { stream });
      } catch {
        throw new InvalidDataError("Cannot decode text message: invalid UTF-8", "INVALID_UTF8");
      }
    };
    await decompressor.decompress(message.parts, maxMessageSize, (chunk) => decode(chunk, true));
    decode(new Uint8Array(0), false);
    return { type: "text", data: text };
  }
}

function isCompressed(message: Message | CompressedMessage): message is CompressedMessage {
  return "compressed" in message;
}

/**
 * The chunks as one array that owns its buffer: zlib's output chunks are views of 16 KiB buffers
 * shared with the messages after them, which `data.buffer` must not expose.
 */
function join(chunks: readonly Uint8Array[]): Uint8Array {
  const only = chunks.length === 1 ? chunks[0]! : undefined;
  if (only !== undefined && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) {
    return new Uint8Array(only.buffer, 0, only.length); // a plain Uint8Array, whatever zlib made
  }
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
