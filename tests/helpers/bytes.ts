/** Byte helpers shared by the tests: joining, splitting into chunks and comparing. */

/** Joins byte arrays into one new array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Bytes from a list of byte values. */
export function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/**
 * Splits `data` at the given ascending offsets into fresh copies (each its own buffer), or into
 * views of `data` when `copy` is false (only for input the parser will not unmask in place).
 */
export function splitAt(data: Uint8Array, offsets: readonly number[], copy = true): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const offset of [...offsets, data.length]) {
    chunks.push(copy ? data.slice(start, offset) : data.subarray(start, offset));
    start = offset;
  }
  return chunks;
}

/** Splits `data` into fresh chunks of `size` bytes (the last one may be shorter). */
export function chunksOf(data: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < data.length; start += size) {
    chunks.push(data.slice(start, start + size));
  }
  return chunks;
}

/** One way to cut a byte string into chunks, with a label for assertion messages. */
export interface Chunking {
  label: string;
  chunks: Uint8Array[];
}

/**
 * Every chunking the parser tests feed a fixture with: 1-byte chunks, and every 2-way split (an
 * empty first or last chunk included, so also the whole in one chunk). Each chunking gets fresh
 * copies, because the parser unmasks in place; unmasked input may pass `copy = false` for speed.
 */
export function* everyChunking(data: Uint8Array, copy = true): Generator<Chunking> {
  yield { label: "1-byte chunks", chunks: chunksOf(data, 1) };
  for (let at = 0; at <= data.length; at++) {
    yield { label: `split at ${at}`, chunks: splitAt(data, [at], copy) };
  }
}

/** Whether two byte arrays hold the same bytes. Word-wise when both are 4-byte aligned. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = a.length;
  if (length !== b.length) return false;
  let i = 0;
  if (length >= 64 && (a.byteOffset & 3) === 0 && (b.byteOffset & 3) === 0) {
    const words = length >>> 2;
    const wa = new Uint32Array(a.buffer, a.byteOffset, words);
    const wb = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let w = 0; w < words; w++) if (wa[w] !== wb[w]) return false;
    i = words * 4;
  }
  for (; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A payload of `length` bytes counting up from `start` (mod 256): easy to recognise. */
export function pattern(length: number, start = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (start + i) & 0xff;
  return out;
}

/** XORs a copy of `data` with `mask` (RFC 6455 §5.3), byte by byte: the reference masking. */
export function maskedCopy(data: Uint8Array, mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ mask[i % 4]!;
  return out;
}
