/**
 * The wire form of an {@linkcode Envelope}, for drivers whose broker carries bytes:
 *
 * ```text
 * byte 0       format version, 1
 * byte 1       flags: bit 0 set = binary payload; the other bits are 0
 * varint n     length of the instance id in bytes, then n bytes of UTF-8
 * varint m     length of the topic in bytes, then m bytes of UTF-8
 * the rest     the payload
 * ```
 *
 * A varint is unsigned LEB128 of at most 4 bytes (7 bits per byte, low bits first, high bit set
 * on every byte but the last). A 16-character instance id and a short topic cost about 20 bytes
 * per message; the payload is copied once when encoding and not at all when decoding.
 *
 * @module
 */

import { BackplaneError, type Envelope } from "./backplane.ts";

/** The format version written in byte 0. */
export const ENVELOPE_VERSION = 1;
/** The longest instance id or topic, in UTF-8 bytes: what a 4-byte varint can say. */
export const MAX_ENVELOPE_STRING_BYTES: number = 2 ** 28 - 1;

const FLAG_BINARY = 0x01;
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// The instance id is the same for every envelope an instance sends, and a server publishes to a
// working set of topics: keep their bytes, since `TextEncoder.encode` costs a few µs on Deno.
let lastInstance = "";
let lastInstanceBytes: Uint8Array = new Uint8Array(0);
const TOPIC_CACHE_SIZE = 1024;
const topicBytes = new Map<string, Uint8Array>();
// Strings up to this many bytes are decoded in JS when they are ASCII (no call into the runtime).
const SHORT_STRING = 64;
// Text payloads up to this many bytes are checked in JS when they are ASCII.
const SHORT_TEXT = 256;

/**
 * Encodes an envelope into one new buffer (see the module documentation for the layout). Throws
 * a `RangeError` when the instance id or topic is longer than
 * {@linkcode MAX_ENVELOPE_STRING_BYTES}.
 *
 * @example Round-trip an envelope
 * ```ts
 * import { decodeEnvelope, encodeEnvelope } from "@netws/server/pubsub";
 * import assert from "node:assert/strict";
 *
 * const data = new Uint8Array([0, 1, 255]);
 * const bytes = encodeEnvelope({ instance: "a1", topic: "room", data, binary: true });
 * assert.equal(bytes.length, 2 + 1 + 2 + 1 + 4 + 3);
 * assert.deepEqual(decodeEnvelope(bytes), { instance: "a1", topic: "room", data, binary: true });
 * ```
 */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  if (envelope.instance !== lastInstance) {
    lastInstanceBytes = checkedBytes(envelope.instance, "instance id");
    lastInstance = envelope.instance;
  }
  const instance = lastInstanceBytes;
  let topic = topicBytes.get(envelope.topic);
  if (topic === undefined) {
    topic = checkedBytes(envelope.topic, "topic");
    if (topicBytes.size >= TOPIC_CACHE_SIZE) topicBytes.clear();
    topicBytes.set(envelope.topic, topic);
  }
  const data = envelope.data;
  const length = 2 + varintSize(instance.length) + instance.length + varintSize(topic.length) +
    topic.length + data.length;
  const out = allocate(length);
  out[0] = ENVELOPE_VERSION;
  out[1] = envelope.binary ? FLAG_BINARY : 0;
  let offset = writeVarint(out, 2, instance.length);
  out.set(instance, offset);
  offset = writeVarint(out, offset + instance.length, topic.length);
  out.set(topic, offset);
  out.set(data, offset + topic.length);
  return out;
}

/**
 * Decodes bytes written by {@linkcode encodeEnvelope}. `data` of the result is a view into
 * `bytes`, not a copy. Throws a {@linkcode BackplaneError} of stage "decode" for anything else:
 * another version, unknown flags, a length past the end, an over-long varint, an instance id or
 * topic that is not UTF-8, or a text payload that is not UTF-8 (it would make every receiver
 * fail the connection with 1007, RFC 6455 §8.1).
 *
 * @example Reject bytes from another format
 * ```ts
 * import { BackplaneError, decodeEnvelope } from "@netws/server/pubsub";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => decodeEnvelope(new TextEncoder().encode('{"topic":"room"}')),
 *   (error) => error instanceof BackplaneError && error.stage === "decode",
 * );
 * ```
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length < 4) fail(`${bytes.length} bytes is shorter than any envelope`);
  if (bytes[0] !== ENVELOPE_VERSION) {
    fail(`version "${bytes[0]}" is not "${ENVELOPE_VERSION}"`);
  }
  const flags = bytes[1]!;
  if ((flags & ~FLAG_BINARY) !== 0) fail(`flags "0x${flags.toString(16)}" are unknown`);
  const binary = (flags & FLAG_BINARY) !== 0;
  const [instanceLength, instanceStart] = readVarint(bytes, 2, "instance id length");
  const instanceEnd = instanceStart + instanceLength;
  if (instanceEnd > bytes.length) fail("the instance id runs past the end");
  const [topicLength, topicStart] = readVarint(bytes, instanceEnd, "topic length");
  const topicEnd = topicStart + topicLength;
  if (topicEnd > bytes.length) fail("the topic runs past the end");
  const instance = decodeString(bytes, instanceStart, instanceEnd, "the instance id");
  const topic = decodeString(bytes, topicStart, topicEnd, "the topic");
  const data = bytes.subarray(topicEnd);
  // RFC 6455 §8.1: text must be UTF-8; ASCII is, and short ASCII is checked without a decoder.
  if (!binary && !(data.length <= SHORT_TEXT && isAscii(data, 0, data.length))) {
    decodeText(data, "the text payload");
  }
  return { instance, topic, data, binary };
}

// Small envelopes are cut from shared slabs: a fresh ArrayBuffer costs about 1 µs on V8, more
// than encoding a 64-byte message. A slab is never written again once handed out, and is freed
// when the last envelope in it is.
const SLAB_SIZE = 32 * 1024;
const SMALL_ENVELOPE = 1024;
let slab = new Uint8Array(0);
let slabOffset = 0;

function allocate(length: number): Uint8Array {
  if (length > SMALL_ENVELOPE) return new Uint8Array(length);
  if (slabOffset + length > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabOffset = 0;
  }
  const out = slab.subarray(slabOffset, slabOffset + length);
  slabOffset += (length + 7) & ~7; // keep each envelope 8-byte aligned
  return out;
}

function checkedBytes(value: string, what: string): Uint8Array {
  const bytes = encoder.encode(value);
  if (bytes.length > MAX_ENVELOPE_STRING_BYTES) {
    throw new RangeError(
      `Cannot encode envelope: the ${what} is ${bytes.length} bytes, more than "${MAX_ENVELOPE_STRING_BYTES}"`,
    );
  }
  return bytes;
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

/** Writes `value` at `offset`; returns the offset after it. */
function writeVarint(out: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[offset++] = value;
  return offset;
}

/** Reads a varint at `offset`: [value, offset after it]. */
function readVarint(bytes: Uint8Array, offset: number, what: string): [number, number] {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    if (offset + i >= bytes.length) fail(`the ${what} runs past the end`);
    const byte = bytes[offset + i]!;
    value |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) === 0) return [value, offset + i + 1];
  }
  return fail(`the ${what} is longer than 4 bytes`);
}

function decodeString(bytes: Uint8Array, start: number, end: number, what: string): string {
  if (end - start <= SHORT_STRING && isAscii(bytes, start, end)) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  return decodeText(bytes.subarray(start, end), what);
}

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

function decodeText(bytes: Uint8Array, what: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    return fail(`${what} is not valid UTF-8`, cause);
  }
}

function fail(why: string, cause?: unknown): never {
  throw new BackplaneError(
    "decode",
    `Cannot decode envelope: ${why}`,
    cause === undefined ? {} : { cause },
  );
}
