/**
 * The `Sec-WebSocket-Accept` value that proves the server read the client's key (RFC 6455 §4.2.2).
 *
 * @module
 */

import { WEBSOCKET_GUID } from "../protocol/constants.ts";
import { sha1 } from "./_sha1.ts";

/** The base64 alphabet (RFC 4648 §4), also what a `Sec-WebSocket-Key` is written in. */
export const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const GUID_BYTES = new TextEncoder().encode(WEBSOCKET_GUID);
const encoder = new TextEncoder();

/**
 * Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: the base64 SHA-1 of the key and the
 * RFC 6455 GUID (RFC 6455 §4.2.2 item 5.4).
 *
 * @example Answer the key of RFC 6455 §1.3
 * ```ts
 * import { acceptKey } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export function acceptKey(key: string): string {
  // Keys are ASCII: copying code units beats TextEncoder on such short strings.
  let bytes: Uint8Array | undefined = new Uint8Array(key.length + GUID_BYTES.length);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) {
      bytes = undefined;
      break;
    }
    bytes[i] = c;
  }
  if (bytes === undefined) bytes = encoder.encode(key + WEBSOCKET_GUID);
  else bytes.set(GUID_BYTES, key.length);
  const digest = sha1(bytes);
  let out = "";
  for (let i = 0; i < 18; i += 3) {
    const n = (digest[i]! << 16) | (digest[i + 1]! << 8) | digest[i + 2]!;
    out += BASE64[n >>> 18]! + BASE64[(n >>> 12) & 63]! + BASE64[(n >>> 6) & 63]! + BASE64[n & 63]!;
  }
  const n = (digest[18]! << 8) | digest[19]!;
  return out + BASE64[n >>> 10]! + BASE64[(n >>> 4) & 63]! + BASE64[(n << 2) & 63]! + "=";
}
