/**
 * One publish to the subscribers that agreed to permessage-deflate (RFC 7692): a message under a
 * subscriber's threshold goes as the plain frames built for everyone; a larger one is compressed
 * and framed once for all `server_no_context_takeover` subscribers with the same window and zlib
 * settings, and by its own compressor for a subscriber that keeps its context (§7.1.1.1: its
 * window holds what it sent before, so no one else's bytes would decode there).
 *
 * @module
 */

import { deflateFrames } from "../connection/deflate_sender.ts";
import type { SharedDeflate, SubscriberDeflate } from "../connection/topics.ts";
import type { FanoutTarget } from "./fanout_target.ts";
import type { Metrics } from "./metrics.ts";

/** The message of one publish, as {@linkcode DeflatedPublish} needs it. */
export interface DeflatedMessage {
  /** `Opcode.Text` or `Opcode.Binary`. */
  readonly opcode: number;
  /** The uncompressed payload. */
  readonly payload: Uint8Array;
  /** The uncompressed frames, built once for every subscriber. */
  readonly plain: readonly Uint8Array[][];
  /** Their bytes. */
  readonly plainBytes: number;
  /** Compressed payloads longer than this go as several frames. */
  readonly fragmentSize: number;
}

/**
 * Delivers one publish to compressing subscribers, making each shared compression at most once:
 * the first subscriber of a key starts it, the others queue the same promise of the same frames.
 * Each subscriber queues it in its own send order, so that what it sent before comes first.
 *
 * @example Two no-context-takeover subscribers share one compression
 * ```ts
 * import { DeflatedPublish } from "./fanout_deflate.ts";
 * import type { FanoutTarget } from "./fanout_target.ts";
 * import { Metrics } from "./metrics.ts";
 * import { zlibCompression } from "../adapters/zlib/mod.ts";
 * import assert from "node:assert/strict";
 *
 * const options = { windowBits: 15, memLevel: 8, level: 6 };
 * const shared = { factory: zlibCompression(), options, key: "15/8/6" };
 * const queued: Promise<readonly Uint8Array[]>[] = [];
 * const subscriber = (): FanoutTarget => ({
 *   bufferedAmount: 0,
 *   deflate: { threshold: 0, shared },
 *   pushFrames: () => true,
 *   pushCompressed: (frames) => (queued.push(frames), true),
 *   closeSlow: () => {},
 * });
 * const metrics = new Metrics();
 * const payload = new TextEncoder().encode("Hello");
 * const publish = new DeflatedPublish(
 *   { opcode: 0x1, payload, plain: [], plainBytes: 0, fragmentSize: Infinity },
 *   metrics,
 * );
 * const [a, b] = [subscriber(), subscriber()];
 * assert.ok(publish.deliver(a, a.deflate!) && publish.deliver(b, b.deflate!));
 * assert.equal(queued[0], queued[1]); // one compression, one list of frames
 * assert.equal(metrics.snapshot().compressions, 1);
 * // RFC 7692 §7.2.3.1: "Hello" compressed, with RSV1 set.
 * const [frame] = await queued[0]!;
 * assert.deepEqual([...frame!], [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * ```
 */
export class DeflatedPublish {
  readonly #message: DeflatedMessage;
  readonly #metrics: Metrics | undefined;
  /** The frames being made for each key, once asked for. */
  readonly #shared = new Map<string, Promise<readonly Uint8Array[]>>();

  /** A publish of `message`; compressions are counted in `metrics`. */
  constructor(message: DeflatedMessage, metrics?: Metrics) {
    this.#message = message;
    this.#metrics = metrics;
  }

  /** Queues the message for `subscriber`, which agreed to `deflate`; false if it is closing. */
  deliver(subscriber: FanoutTarget, deflate: SubscriberDeflate): boolean {
    const message = this.#message;
    // RFC 7692 §6: a message may go uncompressed; small ones gain too little to be worth it.
    if (message.payload.length < deflate.threshold) {
      return subscriber.pushFrames(message.plain, message.plainBytes);
    }
    const shared = deflate.shared;
    if (shared === undefined) {
      return subscriber.pushMessage?.(message.opcode, message.payload) === true;
    }
    return subscriber.pushCompressed?.(this.#frames(shared), message.payload.length) === true;
  }

  /** The compressed frames of `shared.key`: compressed with a fresh window, framed, once. */
  #frames(shared: SharedDeflate): Promise<readonly Uint8Array[]> {
    let frames = this.#shared.get(shared.key);
    if (frames !== undefined) return frames;
    const { opcode, payload, fragmentSize } = this.#message;
    this.#metrics?.compressed();
    let compressed: Promise<Uint8Array>;
    try {
      compressed = shared.factory.compressShared(payload, shared.options);
    } catch (error) {
      compressed = Promise.reject(error);
    }
    frames = compressed.then((bytes) => deflateFrames(opcode, bytes, fragmentSize, true));
    // Each subscriber's queue reports a failure to its connection; none is left unhandled.
    frames.catch(() => {});
    this.#shared.set(shared.key, frames);
    return frames;
  }
}
