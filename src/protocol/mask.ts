/**
 * Payload masking (RFC 6455 §5.3), a word at a time.
 *
 * @module
 */

// Scratch space for the mask rotated to the payload's word alignment, read as one native-endian
// 32-bit word: both the payload words and the mask word are then in the same byte order.
const rotated = new Uint8Array(4);
const rotatedWord = new Uint32Array(rotated.buffer);

/** Below this many bytes an unrolled byte loop beats setting up the word view (measured). */
const WORD_THRESHOLD = 128;

/**
 * XORs `data` in place with the 4-byte `mask`, as RFC 6455 §5.3 defines for masking and
 * unmasking: byte `i` is XORed with `mask[i % 4]`. Applying it twice restores the data.
 *
 * @example Mask and unmask a payload
 * ```ts
 * import { applyMask } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const mask = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
 * const data = new TextEncoder().encode("Hello");
 * applyMask(data, mask);
 * assert.deepEqual([...data], [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
 * applyMask(data, mask);
 * assert.equal(new TextDecoder().decode(data), "Hello");
 * ```
 */
export function applyMask(data: Uint8Array, mask: Uint8Array): void {
  const length = data.length;
  let i = 0;
  if (length >= WORD_THRESHOLD) {
    // Unmask up to the first 4-byte boundary of the underlying buffer, then whole words.
    const lead = (4 - (data.byteOffset & 3)) & 3;
    for (; i < lead; i++) data[i]! ^= mask[i]!;
    rotated[0] = mask[lead & 3]!;
    rotated[1] = mask[(lead + 1) & 3]!;
    rotated[2] = mask[(lead + 2) & 3]!;
    rotated[3] = mask[(lead + 3) & 3]!;
    const word = rotatedWord[0]!;
    const count = (length - lead) >>> 2;
    const words = new Uint32Array(data.buffer, data.byteOffset + lead, count);
    let w = 0;
    for (const unrolled = count & ~3; w < unrolled; w += 4) {
      words[w]! ^= word;
      words[w + 1]! ^= word;
      words[w + 2]! ^= word;
      words[w + 3]! ^= word;
    }
    for (; w < count; w++) words[w]! ^= word;
    i = lead + count * 4;
  }
  if (i === length) return;
  // The tail, or a short payload: whole groups of four with the mask in locals, then the rest.
  const phase = i & 3;
  const m0 = mask[phase]!, m1 = mask[(phase + 1) & 3]!;
  const m2 = mask[(phase + 2) & 3]!, m3 = mask[(phase + 3) & 3]!;
  for (const groups = length - ((length - i) & 3); i < groups; i += 4) {
    data[i]! ^= m0;
    data[i + 1]! ^= m1;
    data[i + 2]! ^= m2;
    data[i + 3]! ^= m3;
  }
  for (; i < length; i++) data[i]! ^= mask[i & 3]!;
}
