/**
 * A data message as permessage-deflate delivers it (RFC 7692 §6): still compressed, and the
 * bound on its compressed size.
 *
 * @module
 */

/** A data message whose first frame had RSV1 set (RFC 7692 §6.1): its frames' payloads. */
export interface CompressedMessage {
  /** The message type of the first frame's opcode. */
  readonly type: "text" | "binary";
  /** Always true: tells a compressed message apart from a decoded one. */
  readonly compressed: true;
  /** The payloads of the message's frames, in order, without the `00 00 ff ff` tail. */
  readonly parts: readonly Uint8Array[];
}

/**
 * The most compressed bytes to buffer for a message that may inflate to `maxMessageSize`:
 * incompressible data grows when deflated, by up to 3.9% with zlib's memLevel 1 (5 bytes per
 * stored block of 128), so the wire limit is the inflated one plus 1/16 and 1 KiB. The exact
 * limit is applied to the inflated bytes; this one only bounds what is held before inflating.
 *
 * @example Bound the compressed bytes of a 16 MiB message
 * ```ts
 * import { compressedSizeLimit } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(compressedSizeLimit(16 * 1024 * 1024), 17 * 1024 * 1024 + 1024);
 * assert.equal(compressedSizeLimit(Infinity), Infinity);
 * ```
 */
export function compressedSizeLimit(maxMessageSize: number): number {
  return maxMessageSize + Math.ceil(maxMessageSize / 16) + 1024;
}
