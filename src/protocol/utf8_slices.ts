/**
 * UTF-8 validated and decoded slice by slice (RFC 3629), failing at the first slice that cannot
 * be valid.
 *
 * @module
 */

import { InvalidDataError } from "./errors.ts";

/** Decodes pieces that start and end on character boundaries; a non-streaming decode is fastest. */
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes `bytes`, all of them complete characters, or fails with `INVALID_UTF8` (1007). */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw invalidUtf8();
  }
}

/**
 * The text of a message arriving in slices. Each slice is decoded at once up to its last complete
 * character; the 1 to 3 bytes of a character cut by the slice's end wait for the next slice, and
 * are checked on arrival, so invalid bytes fail in the slice that brings them. Only those few
 * bytes are looked at one by one: the rest goes to the platform's decoder.
 */
export class Utf8Slices {
  // The start of a character cut by the end of the last slice.
  readonly #carry = new Uint8Array(4);
  #carried = 0;

  /** Decodes a slice; `last` ends the text, so nothing may be left incomplete. */
  decode(slice: Uint8Array, last: boolean): string {
    let text = "";
    let start = 0;
    const carry = this.#carry;
    if (this.#carried > 0) {
      const need = sequenceLength(carry[0]!);
      while (this.#carried < need && start < slice.length) carry[this.#carried++] = slice[start++]!;
      if (this.#carried < need) {
        if (last) throw invalidUtf8();
        checkPrefix(carry, this.#carried);
        return "";
      }
      text = decodeUtf8(carry.subarray(0, need));
      this.#carried = 0;
    }
    let end = slice.length;
    if (!last) {
      // Look back at most 3 bytes for the lead byte of a character the slice cuts.
      for (let i = end - 1; i >= start && i >= end - 3; i--) {
        const byte = slice[i]!;
        if ((byte & 0xc0) === 0x80) continue;
        if (i + sequenceLength(byte) > end) end = i;
        break;
      }
    }
    if (end > start) text += decodeUtf8(slice.subarray(start, end));
    if (end < slice.length) {
      carry.set(slice.subarray(end));
      this.#carried = slice.length - end;
      checkPrefix(carry, this.#carried);
    }
    return text;
  }

  /** Forgets a cut character, for the next message. */
  reset(): void {
    this.#carried = 0;
  }
}

/** How many bytes the character starting with `lead` takes; invalid leads are caught later. */
function sequenceLength(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
}

/**
 * Fails unless `count` bytes can start a character (RFC 3629 §4): a lead of C2 to F4, then
 * continuation bytes in the ranges that exclude overlong forms, surrogates and code points past
 * U+10FFFF.
 */
function checkPrefix(bytes: Uint8Array, count: number): void {
  const lead = bytes[0]!;
  if (lead < 0xc2 || lead > 0xf4) throw invalidUtf8();
  if (count < 2) return;
  const second = bytes[1]!;
  const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
  const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
  if (second < low || second > high) throw invalidUtf8();
  if (count > 2 && (bytes[2]! & 0xc0) !== 0x80) throw invalidUtf8();
}

function invalidUtf8(): InvalidDataError {
  return new InvalidDataError("Cannot decode text message: invalid UTF-8", "INVALID_UTF8");
}
