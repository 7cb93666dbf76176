// The issue: "a message built from many tiny fragments must not pin the large read buffers they
// were sliced from. Memory held per connection stays within about maxMessageSize + maxFrameSize."
// Checked two ways: with the heldBytes getters at every step, and by measuring the memory that
// array buffers really hold after a forced garbage collection.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { FrameParser } from "../src/protocol/frame_parser.ts";
import { type Message, MessageAssembler } from "../src/protocol/message_assembler.ts";
import { MessageReader } from "../src/protocol/message_reader.ts";
import { concat, pattern } from "./helpers/bytes.ts";
import { rawFrame, RFC_MASK } from "./helpers/frames.ts";
import { arrayBufferBytes, forceGc, runtime, settle } from "./helpers/memory.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Slack over maxMessageSize + maxFrameSize: one 64 KiB gathering block and a frame header. */
const SLACK = 64 * KiB + 1 * KiB;

/** One frame as a client sends it, in a chunk viewing a fresh buffer of `bufferSize` bytes. */
interface Piece {
  opcode: number;
  payload: Uint8Array;
  fin: boolean;
  /** Size of the fresh buffer the chunk views; `0` for a buffer of the frame's exact size. */
  bufferSize: number;
  /** Split the frame's bytes into this many chunks, each in its own fresh buffer. */
  chunks?: number;
}

/** The chunks of one frame, each a view of a fresh buffer, like a runtime's read buffers. */
function chunksOf(piece: Piece): Uint8Array[] {
  const bytes = rawFrame(piece.opcode, piece.payload, { fin: piece.fin, mask: RFC_MASK });
  const count = piece.chunks ?? 1;
  const step = Math.ceil(bytes.length / count);
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < bytes.length; start += step) {
    const part = bytes.subarray(start, start + step);
    const size = Math.max(piece.bufferSize, part.length);
    const view = new Uint8Array(new ArrayBuffer(size), 0, part.length);
    view.set(part);
    chunks.push(view);
  }
  return chunks;
}

/** The fragments of one message: `first` gets the data opcode, the last one FIN. */
function fragments(
  opcode: number,
  payloads: readonly Uint8Array[],
  bufferSize: (index: number) => number,
  chunks: (index: number) => number = () => 1,
): Piece[] {
  return payloads.map((payload, i) => ({
    opcode: i === 0 ? opcode : Opcode.Continuation,
    payload,
    fin: i === payloads.length - 1,
    bufferSize: bufferSize(i),
    chunks: chunks(i),
  }));
}

interface Limits {
  maxMessageSize: number;
  maxFrameSize: number;
}

/**
 * Feeds `pieces` to a parser and an assembler, and to a MessageReader, and checks after every
 * chunk that the memory each holds stays within maxMessageSize + maxFrameSize + SLACK. Returns the
 * messages and the peak of the parser and assembler (the reader must deliver the same messages).
 */
function feedMeasuring(
  pieces: readonly Piece[],
  limits: Limits,
): { messages: Message[]; peak: number } {
  const assembler = new MessageAssembler({
    maxMessageSize: limits.maxMessageSize,
    maxFragments: Infinity,
  });
  const parser = new FrameParser({
    maxFrameSize: limits.maxFrameSize,
    onHeader: (opcode, length) => assembler.checkHeader(opcode, length),
  });
  const reader = new MessageReader({ ...limits, maxFragments: Infinity });
  const bound = limits.maxMessageSize + limits.maxFrameSize + SLACK;
  const messages: Message[] = [];
  const read: Message[] = [];
  let peak = 0;
  pieces.forEach((piece, index) => {
    // Each chunk is made just before it is pushed: only the parser and assembler keep it.
    for (const chunk of chunksOf(piece)) {
      // The reader gets a copy in a buffer as large as the chunk's, before the parser unmasks it.
      const copy = new Uint8Array(chunk.buffer.byteLength).subarray(
        chunk.byteOffset,
        chunk.byteOffset + chunk.length,
      );
      copy.set(chunk);
      reader.push(copy, (message) => read.push(message));
      assert.ok(reader.heldBytes <= bound, `MessageReader after fragment ${index}`);
      parser.push(chunk, (frame) => {
        const message = assembler.push(frame);
        if (message !== undefined) messages.push(message);
      });
      const held = parser.heldBytes + assembler.heldBytes;
      peak = Math.max(peak, held);
      assert.ok(held <= bound, `after fragment ${index}: ${held} bytes held, over ${bound}`);
    }
  });
  assert.deepEqual(read, messages, "MessageReader reads the same messages");
  return { messages, peak };
}

function binaryOf(message: Message | undefined): Uint8Array {
  assert.equal(message?.type, "binary");
  return (message as { data: Uint8Array }).data;
}

describe("MessageAssembler heldBytes", () => {
  const limits = { maxMessageSize: 1 * MiB, maxFrameSize: 64 * KiB };

  it("MessageAssembler heldBytes stays within the limits for 1-byte fragments each in its own 64 KiB chunk", () => {
    const payloads = Array.from({ length: 4000 }, (_, i) => pattern(1, i));
    const { messages, peak } = feedMeasuring(
      fragments(Opcode.Binary, payloads, () => 64 * KiB),
      limits,
    );
    assert.deepEqual(binaryOf(messages[0]), concat(payloads));
    // Pinning the chunks would hold 4000 × 64 KiB; the fragments are gathered instead.
    assert.ok(peak <= 64 * KiB + SLACK, `peak ${peak}`);
  });

  it("MessageAssembler heldBytes stays within the limits for alternating 1-byte and full-frame fragments", () => {
    const payloads: Uint8Array[] = [];
    for (let i = 0; payloads.length < 32; i++) payloads.push(pattern(1, i), pattern(30000, i));
    const { messages } = feedMeasuring(
      fragments(Opcode.Binary, payloads, (i) => (i % 2 === 0 ? 64 * KiB : 0)),
      limits,
    );
    assert.deepEqual(binaryOf(messages[0]), concat(payloads));
  });

  it("MessageAssembler heldBytes stays within the limits for alternating small and large fragments in 64 KiB chunks", () => {
    const payloads: Uint8Array[] = [];
    for (let i = 0; payloads.length < 200; i++) {
      payloads.push(pattern(1 + (i % 50), i), pattern(5000, i));
    }
    const { messages } = feedMeasuring(fragments(Opcode.Binary, payloads, () => 64 * KiB), limits);
    assert.deepEqual(binaryOf(messages[0]), concat(payloads));
  });

  it("MessageAssembler heldBytes stays within the limits for fragments spanning chunks", () => {
    // Each 64 KiB frame arrives in three chunks, so the parser holds a partial frame too.
    const payloads = Array.from({ length: 15 }, (_, i) => pattern(64 * KiB, i));
    const { messages } = feedMeasuring(
      fragments(Opcode.Binary, payloads, () => 64 * KiB, () => 3),
      limits,
    );
    assert.deepEqual(binaryOf(messages[0]), concat(payloads));
  });

  it("MessageAssembler heldBytes stays within the limits for fragments filling half of their read buffer", () => {
    // A runtime reading into 64 KiB buffers hands out views: a client sending 32 KiB frames one
    // at a time gets each kept as a view of its own 64 KiB buffer unless the assembler copies it.
    const payloads = Array.from({ length: 31 }, (_, i) => pattern(32 * KiB, i));
    const { messages } = feedMeasuring(fragments(Opcode.Binary, payloads, () => 64 * KiB), limits);
    assert.deepEqual(binaryOf(messages[0]), concat(payloads));
  });

  it("MessageAssembler heldBytes stays within the limits for text in 1-byte fragments", () => {
    const text = "netws ".repeat(600);
    const bytes = new TextEncoder().encode(text);
    const payloads = [...bytes].map((byte) => new Uint8Array([byte]));
    const { messages } = feedMeasuring(fragments(Opcode.Text, payloads, () => 64 * KiB), limits);
    assert.deepEqual(messages, [{ type: "text", data: text }]);
  });

  it("MessageAssembler heldBytes stays within the limits for large text fragments", () => {
    // 3-byte characters, cut inside characters at fragment boundaries.
    const text = "€".repeat(340000);
    const bytes = new TextEncoder().encode(text);
    const payloads: Uint8Array[] = [];
    for (let start = 0; start < bytes.length; start += 50000) {
      payloads.push(bytes.subarray(start, start + 50000));
    }
    const { messages } = feedMeasuring(fragments(Opcode.Text, payloads, () => 0), {
      maxMessageSize: bytes.length,
      maxFrameSize: 64 * KiB,
    });
    assert.deepEqual(messages, [{ type: "text", data: text }]);
  });
});

// The real measurement. Each chunk is a 1-frame view of its own 128 KiB buffer: if the assembler
// kept views, the message in progress would pin FRAGMENTS × 128 KiB = 128 MiB.
const FRAGMENTS = 1024;
const BUFFER_SIZE = 128 * KiB;
const PINNED = FRAGMENTS * BUFFER_SIZE;

/**
 * Builds most of a message of 1-byte fragments and returns the parser and assembler holding it,
 * and, when `keepChunks` is set (the control run), the chunks too.
 */
function buildMessage(keepChunks: boolean): { held: unknown[]; heldBytes: number } {
  const assembler = new MessageAssembler({ maxFragments: Infinity });
  const parser = new FrameParser({
    onHeader: (opcode, length) => assembler.checkHeader(opcode, length),
  });
  const kept: Uint8Array[] = [];
  for (let i = 0; i < FRAGMENTS; i++) {
    const bytes = rawFrame(i === 0 ? Opcode.Binary : Opcode.Continuation, pattern(1, i), {
      fin: false,
      mask: RFC_MASK,
    });
    const chunk = new Uint8Array(new ArrayBuffer(BUFFER_SIZE), 4096, bytes.length);
    chunk.set(bytes);
    parser.push(chunk, (frame) => assert.equal(assembler.push(frame), undefined));
    if (keepChunks) kept.push(chunk);
  }
  return { held: [parser, assembler, kept], heldBytes: assembler.heldBytes };
}

/** Array buffer bytes still held, after a collection, by what `build` returns. */
async function retainedBy(build: () => { held: unknown[] }): Promise<number> {
  await settle();
  const before = await arrayBufferBytes();
  const result = build();
  await settle();
  const after = await arrayBufferBytes();
  assert.ok(result.held.length > 0); // keeps the result alive until measured
  return after - before;
}

describe("MessageAssembler memory", () => {
  const skip = forceGc === undefined ? `no way to force a garbage collection on ${runtime}` : false;

  it(
    "MessageAssembler holds a message of 1-byte fragments without pinning their read buffers",
    { skip },
    async () => {
      const retained = await retainedBy(() => buildMessage(false));
      // The control run keeps the chunks alive: it proves the measurement sees their buffers.
      const control = await retainedBy(() => buildMessage(true));
      assert.ok(
        control >= PINNED * 0.9,
        `the control run shows ${control} bytes for ${PINNED} pinned on ${runtime}`,
      );
      assert.ok(retained < 8 * MiB, `${retained} bytes retained on ${runtime}`);
    },
  );

  it(
    "MessageAssembler holds fragments filling half of their read buffer within maxMessageSize + maxFrameSize",
    { skip },
    async () => {
      // 31 fragments of 32 KiB, each the only frame in its own 64 KiB read buffer.
      const limits = { maxMessageSize: 1 * MiB, maxFrameSize: 64 * KiB };
      const retained = await retainedBy(() => {
        const assembler = new MessageAssembler({ maxMessageSize: limits.maxMessageSize });
        const parser = new FrameParser({ maxFrameSize: limits.maxFrameSize });
        for (let i = 0; i < 31; i++) {
          const piece = { opcode: i === 0 ? Opcode.Binary : Opcode.Continuation, fin: false };
          const [chunk] = chunksOf({
            ...piece,
            payload: pattern(32 * KiB, i),
            bufferSize: 64 * KiB,
          });
          parser.push(chunk!, (frame) => assembler.push(frame));
        }
        return { held: [parser, assembler] };
      });
      const bound = limits.maxMessageSize + limits.maxFrameSize + SLACK;
      assert.ok(retained <= bound, `${retained} bytes retained on ${runtime}, over ${bound}`);
    },
  );
});
