// Randomized round trip: messages are fragmented, encoded with encodeFrame, re-chunked at random
// and parsed back, with the synchronous classes and with the streams. The seed is fixed, so a
// failure names a case that can be replayed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { encodeClosePayload, encodeFrame } from "../src/protocol/frame_encoder.ts";
import type { Role } from "../src/protocol/frame_parser.ts";
import type { Message } from "../src/protocol/message_assembler.ts";
import { concat, splitAt } from "./helpers/bytes.ts";
import { assertMessagesEqual, parseMessages, streamMessages } from "./helpers/parse.ts";
import { Random } from "./helpers/random.ts";

const SEED = 0x6e657477;
/** Cases per test; each test runs well under the 5 s a Bun test may take. */
const BATCH = 500;
const BATCHES = 6;
/**
 * Every this many cases also run through the streams, when they come in at most
 * `STREAM_MAX_CHUNKS` chunks: a stream stage costs microseconds per chunk (most on Node), and a
 * 70000-byte case in 1-byte chunks would cost a tenth of a second.
 */
const STREAM_EVERY = 3;
const STREAM_MAX_CHUNKS = 256;

interface Case {
  role: Role;
  bytes: Uint8Array;
  messages: Message[];
}

/** A size from 0 to about 70000, weighted to small ones. */
function randomSize(random: Random): number {
  const roll = random.next();
  if (roll < 0.55) return random.int(0, 20);
  if (roll < 0.85) return random.int(21, 1100);
  if (roll < 0.97) return random.int(1101, 8000);
  return random.int(8001, 70000);
}

// Code points of every UTF-8 length, surrogates excluded.
const RANGES: [number, number][] = [
  [0x00, 0x7f],
  [0x80, 0x7ff],
  [0x800, 0xd7ff],
  [0xe000, 0xffff],
  [
    0x10000,
    0x10ffff,
  ],
];

/** Random text of about `size` bytes of UTF-8 (at least `size`), drawn from `ranges`. */
function drawText(random: Random, size: number, ranges: readonly [number, number][]): string {
  const chars: string[] = [];
  let bytes = 0;
  while (bytes < size) {
    const [low, high] = random.pick(ranges);
    const codePoint = random.int(low, high);
    chars.push(String.fromCodePoint(codePoint));
    bytes += codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
  }
  return chars.join("");
}

/**
 * Random text of about `size` bytes: short texts are drawn character by character; long ones
 * are a slice of a pool drawn once (drawing 70000 characters per message would dominate the run
 * time), cut at code point boundaries.
 */
function randomText(random: Random, size: number, pools: readonly string[]): string {
  if (size <= 200) return drawText(random, size, random.chance(0.3) ? RANGES.slice(0, 1) : RANGES);
  const ascii = random.chance(0.3);
  const pool = pools[ascii ? 0 : 1]!;
  // About 2.2 bytes per UTF-16 code unit in the mixed pool.
  const length = ascii ? size : Math.ceil(size / 2.2);
  let start = random.int(0, pool.length - length);
  let end = start + length;
  const isSurrogate = (at: number, low: number) => (pool.charCodeAt(at) & 0xfc00) === low;
  if (isSurrogate(start, 0xdc00)) start++;
  if (isSurrogate(end - 1, 0xd800)) end--;
  return pool.slice(start, end);
}

/** Cut points splitting `length` bytes into 1 to 8 fragments, empty fragments possible. */
function randomCuts(random: Random, length: number): number[] {
  if (random.chance(0.5)) return [];
  const cuts: number[] = [];
  const count = random.int(1, 7);
  for (let i = 0; i < count; i++) cuts.push(random.int(0, length));
  return cuts.sort((a, b) => a - b);
}

/** A control frame to interleave, and the message it reads back as. */
function randomControl(random: Random, pools: readonly string[]): [number, Uint8Array, Message] {
  const roll = random.next();
  if (roll < 0.45) {
    const data = random.bytes(random.int(0, 125));
    return [Opcode.Ping, data, { type: "ping", data }];
  }
  if (roll < 0.9) {
    const data = random.bytes(random.int(0, 125));
    return [Opcode.Pong, data, { type: "pong", data }];
  }
  if (random.chance(0.3)) return [Opcode.Close, new Uint8Array(0), { type: "close", reason: "" }];
  const code = random.pick([1000, 1001, 1003, 1008, 1011, 3000, 4999]);
  const reason = randomText(random, random.int(0, 30), pools);
  return [Opcode.Close, encodeClosePayload(code, reason), { type: "close", code, reason }];
}

function randomCase(random: Random, pools: readonly string[]): Case {
  const role: Role = random.chance(0.5) ? "server" : "client";
  const parts: Uint8Array[] = [];
  const messages: Message[] = [];
  const write = (opcode: number, payload: Uint8Array, fin: boolean) => {
    // A server receives masked frames, a client unmasked ones (RFC 6455 §5.1).
    const mask = role === "client" ? false : random.chance(0.5) ? true : random.bytes(4);
    parts.push(...encodeFrame(opcode, payload, { fin, mask }));
  };
  const count = random.int(1, 5);
  for (let m = 0; m < count; m++) {
    if (random.chance(0.15)) {
      const [opcode, payload, message] = randomControl(random, pools);
      write(opcode, payload, true);
      messages.push(message);
    }
    const isText = random.chance(0.5);
    const size = randomSize(random);
    let payload: Uint8Array;
    if (isText) {
      const data = randomText(random, size, pools);
      payload = new TextEncoder().encode(data);
      messages.push({ type: "text", data });
    } else {
      payload = random.bytes(size);
      messages.push({ type: "binary", data: payload });
    }
    const cuts = randomCuts(random, payload.length);
    const ends = [...cuts, payload.length];
    let start = 0;
    const controls: Message[] = [];
    ends.forEach((end, i) => {
      const fin = i === ends.length - 1;
      write(
        i === 0 ? (isText ? Opcode.Text : Opcode.Binary) : Opcode.Continuation,
        payload.subarray(start, end),
        fin,
      );
      start = end;
      // Control frames may come between fragments (RFC 6455 §5.4) and are delivered at once.
      if (!fin && random.chance(0.3)) {
        const [opcode, controlPayload, message] = randomControl(random, pools);
        write(opcode, controlPayload, true);
        controls.push(message);
      }
    });
    messages.splice(messages.length - 1, 0, ...controls);
  }
  return { role, bytes: concat(parts), messages };
}

/** Random chunk boundaries: 1-byte chunks, small chunks, large chunks or a mix. */
function randomChunks(random: Random, bytes: Uint8Array): Uint8Array[] {
  const style = random.int(0, 3);
  if (style === 0 && bytes.length < 5000) return splitAt(bytes, [...bytes.keys()].slice(1));
  const cuts: number[] = [];
  let at = 0;
  for (;;) {
    const step = style === 1
      ? random.int(1, 16)
      : style === 2
      ? random.int(1, 70000)
      : random.pick([1, 2, 3, 7, 100, 1000, 16384, 65536]);
    at += step;
    if (at >= bytes.length) break;
    cuts.push(at);
  }
  return splitAt(bytes, cuts);
}

describe("round trip", () => {
  // Pools of about 160 KB of UTF-8: one ASCII, one of characters of every width.
  const poolRandom = new Random(SEED);
  const pools = [
    drawText(poolRandom, 160000, RANGES.slice(0, 1)),
    drawText(poolRandom, 160000, RANGES),
  ];
  for (let batch = 0; batch < BATCHES; batch++) {
    const from = batch * BATCH;
    const to = from + BATCH;
    // Each batch has its own seed, so any case replays by running its batch alone.
    const random = new Random(SEED + batch + 1);
    it(`FrameParser and MessageAssembler read back random encoded conversations ${from}–${to - 1}`, async () => {
      let streamedCases = 0;
      for (let n = from; n < to; n++) {
        const { role, bytes, messages } = randomCase(random, pools);
        const chunks = randomChunks(random, bytes);
        const streamed = n % STREAM_EVERY === 0 && chunks.length <= STREAM_MAX_CHUNKS;
        // The parser unmasks in place: the streams get their own copy.
        const streamChunks = streamed ? chunks.map((chunk) => chunk.slice()) : [];
        const context = `case ${n} (batch seed ${
          SEED + batch + 1
        }), ${role}, ${bytes.length} bytes in ${chunks.length} chunks`;
        const outcome = parseMessages(chunks, { role });
        assert.equal(outcome.error, undefined, context);
        assertMessagesEqual(outcome.items, messages, context);
        if (streamed) {
          streamedCases++;
          const result = await streamMessages(streamChunks, { role });
          assert.equal(result.error, undefined, `${context}, streams`);
          assertMessagesEqual(result.items, messages, `${context}, streams`);
        }
      }
      // About a quarter of the cases; fewer would mean the chunking changed and the streams
      // were left out.
      assert.ok(streamedCases >= BATCH / 5, `only ${streamedCases} cases ran through the streams`);
    });
  }
});
