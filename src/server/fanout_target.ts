/**
 * What a fan-out needs of a subscriber; a connection's session provides it to its server.
 *
 * @module
 */

import type { SubscriberDeflate } from "../connection/topics.ts";
import type { PolicyViolationError } from "../protocol/errors.ts";

/**
 * What a `Fanout` needs of a subscriber.
 *
 * @example A subscriber that keeps what it is given
 * ```ts
 * import type { FanoutTarget } from "./fanout_target.ts";
 * import assert from "node:assert/strict";
 *
 * const queued: (readonly Uint8Array[][])[] = [];
 * const target: FanoutTarget = {
 *   bufferedAmount: 0,
 *   pushFrames: (frames) => (queued.push(frames), true),
 *   closeSlow: () => {},
 * };
 * assert.ok(target.pushFrames([[new Uint8Array([0x81, 0x00])]], 2));
 * assert.equal(queued.length, 1);
 * ```
 */
export interface FanoutTarget {
  /** Bytes queued for the peer (or waiting to be compressed), not yet handed to the system. */
  readonly bufferedAmount: number;
  /**
   * permessage-deflate as the subscriber agreed to it; without it (`undefined`) every publish
   * goes to `pushFrames`. A subscriber with it implements `pushCompressed` and `pushMessage`.
   */
  readonly deflate?: SubscriberDeflate | undefined;
  /**
   * Queues uncompressed frames built once for many subscribers, `bytes` in all: the buffers must
   * be queued as they are, never changed. Returns false if the subscriber can take no more data
   * (it is closing). The fan-out counts these bytes in `metrics.sent` for a subscriber without
   * `deflate`; one with it counts what its compression queue hands on.
   */
  pushFrames(frames: readonly Uint8Array[][], bytes: number): boolean;
  /**
   * Queues frames compressed and built once for every subscriber of `deflate.shared.key`, in
   * their place once the promise settles; `size` is the uncompressed size. As `pushFrames`.
   */
  pushCompressed?(frames: Promise<readonly Uint8Array[]>, size: number): boolean;
  /** Sends the message through the subscriber's own compressor. As `pushFrames`. */
  pushMessage?(opcode: number, payload: Uint8Array): boolean;
  /**
   * Ends the connection with `error`'s close code (1008) for falling too far behind; the message
   * is not counted as a drop.
   */
  closeSlow(error: PolicyViolationError): void;
}
