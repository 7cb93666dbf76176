/**
 * SHA-1 (FIPS 180-4 §6.1), synchronous and dependency-free.
 *
 * The opening handshake needs one SHA-1 digest per connection (RFC 6455 §4.2.2). `crypto.subtle`
 * only offers an asynchronous digest that costs tens of microseconds, far more than the hash
 * itself. SHA-1's weakness against collisions does not matter here: the digest only proves that the
 * server read the client's key, it protects no secret.
 *
 * @module
 */

// Scratch space reused by every call: the hash is synchronous, so calls never interleave. Reading
// bytes by index instead of through a DataView saves allocations that cost more than the hash of a
// handshake key.
const state = new Int32Array(5);
const schedule = new Int32Array(80);
const tail = new Uint8Array(128);

// FIPS 180-4 §4.2.1: the constants of rounds 40-79, as signed 32-bit integers so that every term
// of a round stays a small integer.
const K40 = 0x8f1bbcdc | 0;
const K60 = 0xca62c1d6 | 0;

/**
 * Computes the SHA-1 digest of `bytes`: 20 bytes.
 *
 * Internal: the package does not re-export it, so the example imports the module itself.
 *
 * @example Hash a string
 * ```ts
 * import { sha1 } from "./_sha1.ts";
 * import assert from "node:assert/strict";
 *
 * const digest = sha1(new TextEncoder().encode("abc"));
 * const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
 * assert.equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
 * ```
 */
export function sha1(bytes: Uint8Array): Uint8Array {
  // FIPS 180-4 §5.3.1: the initial hash value.
  state[0] = 0x67452301;
  state[1] = 0xefcdab89;
  state[2] = 0x98badcfe;
  state[3] = 0x10325476;
  state[4] = 0xc3d2e1f0;
  const length = bytes.length;
  const rest = length % 64;
  const fullLength = length - rest;
  for (let offset = 0; offset < fullLength; offset += 64) compress(bytes, offset);

  // FIPS 180-4 §5.1.1: append 0x80, zeros, then the length in bits as a 64-bit big-endian number.
  tail.fill(0);
  for (let i = 0; i < rest; i++) tail[i] = bytes[fullLength + i]!;
  tail[rest] = 0x80;
  const end = rest < 56 ? 64 : 128;
  writeUint32(tail, end - 8, Math.floor(length / 0x20000000));
  writeUint32(tail, end - 4, (length * 8) >>> 0);
  compress(tail, 0);
  if (end === 128) compress(tail, 64);

  const digest = new Uint8Array(20);
  for (let i = 0; i < 5; i++) writeUint32(digest, i * 4, state[i]!);
  return digest;
}

function writeUint32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = value >>> 16;
  target[offset + 2] = value >>> 8;
  target[offset + 3] = value;
}

// FIPS 180-4 §6.1.2: process the 64-byte block of `bytes` at `offset`.
function compress(bytes: Uint8Array, offset: number): void {
  const w = schedule;
  for (let t = 0, o = offset; t < 16; t++, o += 4) {
    w[t] = (bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!;
  }
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
    w[t] = (x << 1) | (x >>> 31);
  }

  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let t = 0;
  // One loop per round function (FIPS 180-4 §4.1.1) keeps branches out of the inner loop.
  for (; t < 20; t++) {
    const next = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  for (; t < 40; t++) {
    const next = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  for (; t < 60; t++) {
    const next = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + K40 + w[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  for (; t < 80; t++) {
    const next = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + K60 + w[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }

  state[0] = state[0]! + a;
  state[1] = state[1]! + b;
  state[2] = state[2]! + c;
  state[3] = state[3]! + d;
  state[4] = state[4]! + e;
}
