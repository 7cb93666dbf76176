/**
 * What the zlib deflater and inflater share.
 *
 * @module
 */

/** RFC 7692 §7.2.1: the end of a sync flush, removed before sending and restored on receipt. */
export const TAIL: Uint8Array = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** The error of a call on a closed codec. */
export function closed(action: "compress" | "inflate"): Error {
  return new Error(`Cannot ${action} message: the codec is closed`);
}
