/**
 * Encoding frames for the wire (RFC 6455 §5.2).
 *
 * @module
 */

import { isValidCloseCode, MAX_CLOSE_REASON_BYTES, MAX_CONTROL_PAYLOAD } from "./constants.ts";
import { applyMask } from "./mask.ts";

/** Options of {@linkcode encodeFrame}. */
export interface EncodeFrameOptions {
  /**
   * Whether this is the final frame of its message.
   *
   * @default {true}
   */
  fin?: boolean;
  /**
   * Reserved bit 1, for an extension that defines it.
   *
   * @default {false}
   */
  rsv1?: boolean;
  /**
   * Mask the frame, as a client must (RFC 6455 §5.3): `true` draws a fresh key from
   * `crypto.getRandomValues`, 4 bytes give the key to use. A server never masks.
   *
   * @default {false}
   */
  mask?: boolean | Uint8Array;
}

/**
 * Payloads up to this size are copied behind their header into one buffer: one small copy is
 * cheaper than a second buffer to write. Larger payloads are returned as they are.
 */
const INLINE_PAYLOAD_LIMIT = 1024;

/**
 * Encodes one frame. Returns the bytes to write, in order: one buffer holding header and
 * payload when the payload is small or masked, otherwise the header and the caller's payload
 * itself, so a large payload is never copied. The payload must not change until written.
 *
 * @example Encode an unmasked text frame (RFC 6455 §5.7)
 * ```ts
 * import { encodeFrame, Opcode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const [frame] = encodeFrame(Opcode.Text, new TextEncoder().encode("Hello"));
 * assert.deepEqual([...frame!], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
 * ```
 *
 * @example Encode a large binary frame without copying it
 * ```ts
 * import { encodeFrame, Opcode } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const payload = new Uint8Array(65536);
 * const [header, body] = encodeFrame(Opcode.Binary, payload);
 * assert.deepEqual([...header!], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
 * assert.equal(body, payload);
 * ```
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array[] {
  const length = payload.length;
  const fin = options.fin ?? true;
  const mask = options.mask === true
    ? crypto.getRandomValues(new Uint8Array(4))
    : options.mask === false
    ? undefined
    : options.mask;
  if (mask !== undefined && mask.length !== 4) {
    throw new RangeError(`Cannot encode frame: mask must be 4 bytes, got ${mask.length}`);
  }
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const headerSize = 2 + lengthBytes + (mask === undefined ? 0 : 4);
  const inline = mask !== undefined || length <= INLINE_PAYLOAD_LIMIT;
  const out = new Uint8Array(inline ? headerSize + length : headerSize);
  out[0] = (fin ? 0x80 : 0) | (options.rsv1 ? 0x40 : 0) | (opcode & 0x0f);
  const maskBit = mask === undefined ? 0 : 0x80;
  if (lengthBytes === 0) {
    out[1] = maskBit | length;
  } else if (lengthBytes === 2) {
    out[1] = maskBit | 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = maskBit | 127;
    const view = new DataView(out.buffer);
    view.setUint32(2, Math.floor(length / 0x100000000));
    view.setUint32(6, length >>> 0);
  }
  if (!inline) return [out, payload];
  out.set(payload, headerSize);
  if (mask !== undefined) {
    out.set(mask, headerSize - 4);
    applyMask(out.subarray(headerSize), mask);
  }
  return [out];
}

const encoder = new TextEncoder();

/**
 * Builds a close frame's payload: the 2-byte code and the UTF-8 reason (RFC 6455 §5.5.1). Throws
 * a `RangeError` for a code that may not be sent or a reason over 123 bytes.
 *
 * @example Build a close payload
 * ```ts
 * import { encodeClosePayload } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...encodeClosePayload(1000, "ok")], [0x03, 0xe8, 0x6f, 0x6b]);
 * assert.throws(() => encodeClosePayload(1005), RangeError);
 * ```
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") {
      throw new RangeError("Cannot encode close frame: a reason needs a close code");
    }
    return new Uint8Array(0);
  }
  if (!isValidCloseCode(code)) {
    throw new RangeError(`Cannot encode close frame: close code "${code}" may not be sent`);
  }
  const reasonBytes = encoder.encode(reason);
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `Cannot encode close frame: reason of ${reasonBytes.length} bytes exceeds ${MAX_CLOSE_REASON_BYTES}`,
    );
  }
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/**
 * Checks that a control frame's payload fits (RFC 6455 §5.5), throwing a `RangeError` otherwise.
 *
 * @example Reject an oversized ping
 * ```ts
 * import { checkControlPayload } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => checkControlPayload(new Uint8Array(126)), RangeError);
 * ```
 */
export function checkControlPayload(payload: Uint8Array): void {
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    throw new RangeError(
      `Cannot encode control frame: payload of ${payload.length} bytes exceeds ${MAX_CONTROL_PAYLOAD}`,
    );
  }
}
