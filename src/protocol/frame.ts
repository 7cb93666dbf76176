/**
 * The frame as plain data (RFC 6455 §5.2).
 *
 * @module
 */

/**
 * One WebSocket frame, as parsed from the wire. Plain data: the payload is already unmasked.
 *
 * @example Build a frame by hand
 * ```ts
 * import { type Frame, Opcode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const frame: Frame = {
 *   fin: true,
 *   rsv1: false,
 *   rsv2: false,
 *   rsv3: false,
 *   opcode: Opcode.Text,
 *   masked: false,
 *   payload: new TextEncoder().encode("Hello"),
 * };
 * assert.equal(frame.payload.length, 5);
 * ```
 */
export interface Frame {
  /** Whether this is the final frame of its message. */
  fin: boolean;
  /** Reserved bit 1 (used by extensions such as permessage-deflate). */
  rsv1: boolean;
  /** Reserved bit 2. */
  rsv2: boolean;
  /** Reserved bit 3. */
  rsv3: boolean;
  /** The opcode (see `Opcode`). */
  opcode: number;
  /** Whether the frame was masked on the wire. */
  masked: boolean;
  /** The payload, unmasked. */
  payload: Uint8Array;
}
