/**
 * The sending side of permessage-deflate for one connection: data messages in, frames out, in
 * the order the messages were sent.
 *
 * @module
 */

import type { Compressor } from "./compression.ts";
import { Opcode } from "../protocol/constants.ts";
import { encodeFrame } from "../protocol/frame_encoder.ts";

/** What a {@linkcode DeflateSender} needs. */
export interface DeflateSenderOptions {
  /** The connection's deflater. */
  compressor: Compressor;
  /** Messages shorter than this go uncompressed (RFC 7692 §6: either is allowed). */
  threshold: number;
  /** Compressed payloads longer than this go as several frames (RFC 7692 §6.1). */
  fragmentSize: number;
  /** Gets the frames of each message, in send order, each frame header and payload apart. */
  write(frames: readonly Uint8Array[]): void;
  /** Gets a failure of the deflater; nothing is written after it. */
  fail(error: unknown): void;
  /** Told of every message given to the compressor. */
  onCompress?: (() => void) | undefined;
}

/** One message waiting for the messages before it. */
interface Pending {
  frames: readonly Uint8Array[] | undefined;
  size: number;
}

/**
 * Compresses data messages at or above the threshold and frames them: RSV1 on the first frame
 * only, the compressed bytes cut by `fragmentSize`. Messages leave in the order they were sent,
 * a small uncompressed one never overtaking a larger one being compressed.
 *
 * @example Send a compressed "Hello" (RFC 7692 §7.2.3.1)
 * ```ts
 * import { DeflateSender } from "./deflate_sender.ts";
 * import { zlibCompression } from "../adapters/zlib/mod.ts";
 * import assert from "node:assert/strict";
 *
 * const compressor = zlibCompression().createCompressor({
 *   windowBits: 15,
 *   memLevel: 8,
 *   level: 6,
 *   noContextTakeover: false,
 * });
 * const written: number[][] = [];
 * const sender = new DeflateSender({
 *   compressor,
 *   threshold: 0,
 *   fragmentSize: Infinity,
 *   write: (frames) => written.push(frames.flatMap((part) => [...part])),
 *   fail: (error) => assert.fail(String(error)),
 * });
 * sender.send(0x1, new TextEncoder().encode("Hello"));
 * await sender.idle();
 * assert.deepEqual(written, [[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]]);
 * compressor.close();
 * ```
 */
export class DeflateSender {
  readonly #options: DeflateSenderOptions;
  readonly #pending: Pending[] = [];
  #pendingBytes = 0;
  #failed = false;
  #idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = () => {};

  /** Creates the sender of one connection. */
  constructor(options: DeflateSenderOptions) {
    this.#options = options;
  }

  /** Bytes of messages not yet written: count them against the connection's send buffer. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Whether frames wait for a message still being compressed. */
  get busy(): boolean {
    return this.#pending.length > 0;
  }

  /**
   * Drops what waits, as a connection past its send limit drops its queue, and goes on: frames
   * sent after this are written at once. Messages still inside the compressor are dropped when
   * they come out.
   */
  clear(): void {
    this.#pending.length = 0;
    this.#pendingBytes = 0;
    this.#markIdle();
  }

  /** Sends one data message (`Opcode.Text` or `Opcode.Binary`). */
  send(opcode: number, payload: Uint8Array): void {
    if (this.#failed) return;
    if (payload.length < this.#options.threshold) {
      this.#ready(payload.length, this.#frames(opcode, payload, false));
      return;
    }
    this.#options.onCompress?.();
    const compressed = this.#options.compressor.compress(payload);
    this.#enqueue(payload.length, compressed.then((bytes) => this.#frames(opcode, bytes, true)));
  }

  /**
   * Writes frames that will be ready later, in this message's place among the others: a message
   * compressed once for many receivers by `compressShared` and framed once
   * ({@linkcode deflateFrames}). Only for a connection that agreed to `server_no_context_takeover`
   * with the window it was compressed with. `size` (the uncompressed size) counts in
   * `pendingBytes` meanwhile; a rejection fails the sender like its own compressor's would.
   */
  sendLater(frames: Promise<readonly Uint8Array[]>, size: number): void {
    if (this.#failed) return;
    this.#enqueue(size, frames);
  }

  /**
   * Writes ready frames, such as a close frame or a message framed once for many receivers,
   * after every message sent before them; `size` counts in `pendingBytes` while they wait.
   */
  sendFrames(frames: readonly Uint8Array[], size = 0): void {
    if (this.#failed) return;
    this.#ready(size, frames);
  }

  /** Settles once every message sent so far is written (at once when nothing waits). */
  idle(): Promise<void> {
    return this.#idle;
  }

  /** Drops what waits; nothing more is written. The compressor is the caller's to close. */
  close(): void {
    this.#failed = true;
    this.#pending.length = 0;
    this.#pendingBytes = 0;
    this.#markIdle();
  }

  /** Frames that are ready: written now when nothing waits, else behind what does. */
  #ready(size: number, frames: readonly Uint8Array[]): void {
    if (this.#pending.length === 0) {
      this.#options.write(frames);
      return;
    }
    this.#pending.push({ frames, size });
    this.#pendingBytes += size;
  }

  #enqueue(size: number, frames: Promise<readonly Uint8Array[]>): void {
    const entry: Pending = { frames: undefined, size };
    if (this.#pending.length === 0) {
      this.#idle = new Promise((resolve) => this.#markIdle = resolve);
    }
    this.#pending.push(entry);
    this.#pendingBytes += size;
    frames.then(
      (ready) => {
        entry.frames = ready;
        this.#flush();
      },
      (error) => {
        if (this.#failed) return;
        this.close();
        this.#options.fail(error);
      },
    );
  }

  #flush(): void {
    while (!this.#failed && this.#pending.length > 0 && this.#pending[0]!.frames !== undefined) {
      const entry = this.#pending.shift()!;
      this.#pendingBytes -= entry.size;
      this.#options.write(entry.frames!);
    }
    if (this.#pending.length === 0) this.#markIdle();
  }

  #frames(opcode: number, payload: Uint8Array, rsv1: boolean): Uint8Array[] {
    return deflateFrames(opcode, payload, this.#options.fragmentSize, rsv1);
  }
}

/**
 * The frames of one data message as one list of buffers (each frame's as `encodeFrame` returns
 * them): one frame, or RFC 6455 §5.4 fragments of at most `fragmentSize` payload bytes. RFC 7692 §6.1:
 * a compressed message (`rsv1`) sets RSV1 on its first frame only.
 *
 * @example A compressed "Hello" (RFC 7692 §7.2.3.1) in two fragments
 * ```ts
 * import { deflateFrames } from "./deflate_sender.ts";
 * import assert from "node:assert/strict";
 *
 * const compressed = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * const frames = deflateFrames(0x1, compressed, 4, true);
 * assert.deepEqual(frames.flatMap((buffer) => [...buffer]), [
 *   ...[0x41, 0x04, 0xf2, 0x48, 0xcd, 0xc9], // RSV1, text, not final
 *   ...[0x80, 0x03, 0xc9, 0x07, 0x00], // final continuation, no RSV1
 * ]);
 * ```
 */
export function deflateFrames(
  opcode: number,
  payload: Uint8Array,
  fragmentSize: number,
  rsv1: boolean,
): Uint8Array[] {
  if (payload.length <= fragmentSize) return encodeFrame(opcode, payload, { rsv1 });
  const frames: Uint8Array[] = [];
  for (let offset = 0; offset < payload.length; offset += fragmentSize) {
    const end = Math.min(offset + fragmentSize, payload.length);
    frames.push(
      ...encodeFrame(offset === 0 ? opcode : Opcode.Continuation, payload.subarray(offset, end), {
        fin: end === payload.length,
        rsv1: rsv1 && offset === 0,
      }),
    );
  }
  return frames;
}
