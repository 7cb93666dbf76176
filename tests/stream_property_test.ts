// Property test of the stream stages against the synchronous classes: random sequences of valid
// and invalid frames, cut into random chunks, written with random pacing through
// FrameParserStream, MessageAssemblerStream and the two piped together, with random queueing
// strategies and reader pacing, sometimes ended by an upstream abort. Each stream must deliver
// exactly what the synchronous classes complete before their first error, then that error.
// MessageReader, reading slices, must agree with them too. The seed is fixed: a failure names a
// case that can be replayed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import type { Frame } from "../src/protocol/frame.ts";
import { FrameParser } from "../src/protocol/frame_parser.ts";
import { FrameParserStream } from "../src/protocol/frame_parser_stream.ts";
import type { WebSocketError } from "../src/protocol/errors.ts";
import type { Message } from "../src/protocol/message.ts";
import { MessageAssembler } from "../src/protocol/message_assembler.ts";
import { MessageAssemblerStream } from "../src/protocol/message_assembler_stream.ts";
import { MessageReader } from "../src/protocol/message_reader.ts";
import { ProtocolError } from "../src/protocol/errors.ts";
import { concat } from "./helpers/bytes.ts";
import { closeBody, rawFrame } from "./helpers/frames.ts";
import { assertMessagesEqual } from "./helpers/parse.ts";
import { Random } from "./helpers/random.ts";

const { Text, Binary, Continuation, Close, Ping, Pong } = Opcode;
const LIMITS = { maxFrameSize: 96, maxMessageSize: 160, maxFragments: 4 };
const ASSEMBLER_LIMITS = { maxMessageSize: 160, maxFragments: 4 };
/** Batches of inputs; each input runs as every kind of case, several times. */
const BATCHES = 10;
const INPUTS = 1250;
/** Runs per input of the parser stream, the assembler stream and the two piped together. */
const RUNS = { parser: 4, assembler: 3, pipeline: 1 };
const CASES_PER_INPUT = RUNS.parser + RUNS.assembler + RUNS.pipeline;
/** What an upstream stage aborts with in the cases that end that way. */
const SOURCE_FAILED = new Error("the source failed");
const encoder = new TextEncoder();

/** Valid UTF-8 with multi-byte characters, or bytes that are not UTF-8. */
function textBytes(random: Random, valid: boolean): Uint8Array {
  const chars = ["a", "é", "€", "😀", " "];
  let text = "";
  for (let i = random.int(0, 12); i > 0; i--) text += random.pick(chars);
  const bytes = encoder.encode(text);
  if (valid || bytes.length === 0) return valid ? bytes : new Uint8Array([0xff]);
  const broken = bytes.slice();
  broken[random.int(0, broken.length - 1)] = random.pick([0xff, 0x80, 0xc0, 0xed]);
  return broken;
}

/** One random piece of a conversation as a client sends it: mostly valid, sometimes not. */
function piece(random: Random, parts: Uint8Array[]): void {
  const mask = random.bytes(4);
  const frame = (opcode: number, payload: Uint8Array, fin = true, rsv = 0) =>
    parts.push(rawFrame(opcode, payload, { fin, mask, rsv }));
  const roll = random.int(0, 99);
  if (roll < 25) return void frame(Text, textBytes(random, random.chance(0.9)));
  if (roll < 45) return void frame(Binary, random.bytes(random.pick([0, 1, 7, 60, 95])));
  if (roll < 65) {
    // A fragmented message, sometimes with a control frame between its fragments.
    const text = random.chance(0.5);
    const count = random.int(2, 3);
    for (let i = 0; i < count; i++) {
      const payload = text
        ? textBytes(random, random.chance(0.95))
        : random.bytes(random.int(0, 50));
      frame(i === 0 ? (text ? Text : Binary) : Continuation, payload, i === count - 1);
      if (random.chance(0.15)) frame(Ping, random.bytes(random.int(0, 10)));
    }
    return;
  }
  if (roll < 75) {
    return void frame(random.pick([Ping, Pong]), random.bytes(random.pick([0, 3, 20, 125])));
  }
  if (roll < 80) {
    const code = random.pick([1000, 1001, 1005, 999, 4000]);
    return void frame(Close, random.chance(0.2) ? new Uint8Array(1) : closeBody(code, "bye"));
  }
  // Violations of the frame layer and of the message layer.
  switch (random.int(0, 7)) {
    case 0:
      return void frame(Text, encoder.encode("rsv"), true, random.pick([1, 2, 4]));
    case 1:
      return void frame(random.pick([3, 7, 0xb, 0xf]), random.bytes(3));
    case 2:
      return void parts.push(rawFrame(Binary, random.bytes(5))); // unmasked
    case 3:
      return void frame(Continuation, random.bytes(2), random.chance(0.5));
    case 4:
      return void frame(Binary, random.bytes(2), false); // then whatever comes next
    case 5:
      return void frame(Binary, random.bytes(LIMITS.maxFrameSize + 1));
    case 6:
      return void frame(Ping, random.bytes(3), false);
    default:
      return void parts.push(new Uint8Array([0x82, 0xfe, 0x00, 0x05])); // non-minimal length
  }
}

/** Random chunks of `bytes`: whole, cut at a few random points, or in tiny chunks. */
function chunk(random: Random, bytes: Uint8Array): Uint8Array[] {
  const cuts = new Set<number>();
  if (random.chance(0.04)) {
    for (let at = 1; at < bytes.length; at += random.int(1, 3)) cuts.add(at);
  } else {
    for (let i = random.int(0, 4); i > 0; i--) cuts.add(random.int(1, bytes.length));
  }
  const ends = [...cuts].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const end of [...ends, bytes.length]) {
    if (end > start) chunks.push(bytes.slice(start, end));
    start = end;
  }
  return chunks;
}

interface Outcome<T> {
  items: T[];
  error: unknown;
}

const truncatedFrame = () =>
  new ProtocolError("Cannot parse frame: the input ended inside a frame", "TRUNCATED_FRAME");
const truncatedMessage = () =>
  new ProtocolError("Cannot assemble message: the input ended", "TRUNCATED_MESSAGE");

/** What the synchronous parser makes of the input, ended as a stream would end it. */
function referenceFrames(bytes: Uint8Array, aborted: boolean): Outcome<Frame> {
  const parser = new FrameParser({ maxFrameSize: LIMITS.maxFrameSize });
  const items: Frame[] = [];
  try {
    parser.push(bytes.slice(), (frame) => void items.push(frame));
  } catch (error) {
    return { items, error };
  }
  if (aborted) return { items, error: SOURCE_FAILED };
  return { items, error: parser.midFrame ? truncatedFrame() : undefined };
}

/** What the synchronous assembler makes of frames that ended with `end` (an error or none). */
function referenceMessages(frames: readonly Frame[], end: unknown): Outcome<Message> {
  const assembler = new MessageAssembler(ASSEMBLER_LIMITS);
  const items: Message[] = [];
  try {
    for (const frame of frames) {
      const message = assembler.push(frame);
      if (message !== undefined) items.push(message);
    }
  } catch (error) {
    return { items, error };
  }
  if (end !== undefined) return { items, error: end };
  return { items, error: assembler.midMessage ? truncatedMessage() : undefined };
}

/** MessageReader's view, with the sync classes checking headers as a reader of slices does. */
function referenceSliced(bytes: Uint8Array): Outcome<Message> {
  const assembler = new MessageAssembler(ASSEMBLER_LIMITS);
  const parser = new FrameParser({
    maxFrameSize: LIMITS.maxFrameSize,
    onHeader: (opcode, length) => assembler.checkHeader(opcode, length),
  });
  const items: Message[] = [];
  try {
    parser.push(bytes.slice(), (frame) => {
      const message = assembler.push(frame);
      if (message !== undefined) items.push(message);
    });
  } catch (error) {
    return { items, error };
  }
  return { items, error: undefined };
}

function readWithReader(chunks: readonly Uint8Array[]): Outcome<Message> {
  const reader = new MessageReader(LIMITS);
  const items: Message[] = [];
  try {
    for (const part of chunks) reader.push(part, (message) => items.push(message));
  } catch (error) {
    return { items, error };
  }
  return { items, error: undefined };
}

/** A random strategy: item-counted, or with a size of its own. */
function strategy<T>(random: Random, allowZero: boolean): QueuingStrategy<T> | undefined {
  switch (random.int(0, 4)) {
    case 0:
      return undefined;
    case 1:
      return { highWaterMark: random.pick(allowZero ? [0, 1, 2] : [1, 2]) };
    case 2:
      return { highWaterMark: random.pick([3, 16, Infinity]) };
    case 3:
      return new CountQueuingStrategy({ highWaterMark: random.int(allowZero ? 0 : 1, 5) });
    default:
      return { highWaterMark: random.int(1, 300), size: () => random.int(1, 100) };
  }
}

function bytesStrategy(random: Random): QueuingStrategy<Uint8Array> | undefined {
  return random.chance(0.3)
    ? new ByteLengthQueuingStrategy({ highWaterMark: random.int(1, 64) })
    : strategy(random, false);
}

async function turns(count: number): Promise<void> {
  for (let i = count; i > 0; i--) await Promise.resolve();
}

/**
 * Writes `inputs` into `writable` with random pacing (each write awaited, or not), then closes
 * it, or aborts it with `abortWith` once every write settled, as a failing upstream would.
 */
async function writeAll<T>(
  random: Random,
  writable: WritableStream<T>,
  inputs: readonly T[],
  abortWith: unknown,
): Promise<void> {
  const writer = writable.getWriter();
  const writes: Promise<void>[] = [];
  const awaitEach = random.chance(0.5);
  const pace = random.int(0, 1);
  for (const input of inputs) {
    // Once the stage failed (desiredSize null), writing on would only reject.
    if (writer.desiredSize === null) break;
    const write = writer.write(input).catch(() => {});
    writes.push(write);
    if (awaitEach) await write;
    if (pace > 0 && random.chance(0.5)) await turns(pace);
  }
  await Promise.all(writes);
  if (writer.desiredSize === null) return;
  await (abortWith === undefined ? writer.close() : writer.abort(abortWith)).catch(() => {});
}

/** Reads `readable` to its end with random pacing. */
async function readAll<T>(random: Random, readable: ReadableStream<T>): Promise<Outcome<T>> {
  const reader = readable.getReader();
  const pace = random.int(0, 2);
  const items: T[] = [];
  try {
    for (;;) {
      if (pace > 0) await turns(random.int(0, pace));
      const { done, value } = await reader.read();
      if (done) return { items, error: undefined };
      items.push(value);
    }
  } catch (error) {
    return { items, error };
  }
}

async function run<I, O>(
  random: Random,
  stage: { readable: ReadableStream<O>; writable: WritableStream<I> },
  inputs: readonly I[],
  abortWith: unknown,
): Promise<Outcome<O>> {
  const reading = readAll(random, stage.readable);
  await writeAll(random, stage.writable, inputs, abortWith);
  return await reading;
}

function parserStream(random: Random): FrameParserStream {
  return new FrameParserStream(
    { maxFrameSize: LIMITS.maxFrameSize },
    bytesStrategy(random),
    strategy<Frame>(random, true),
  );
}

function assemblerStream(random: Random): MessageAssemblerStream {
  return new MessageAssemblerStream(
    ASSEMBLER_LIMITS,
    strategy<Frame>(random, false),
    strategy<Message>(random, true),
  );
}

function codeOf(error: unknown): unknown {
  if (error === undefined || error === SOURCE_FAILED) return error;
  return (error as WebSocketError).code ?? error;
}

function assertFramesMatch(actual: readonly Frame[], expected: readonly Frame[], label: string) {
  assert.equal(actual.length, expected.length, `${label}: number of frames`);
  actual.forEach((frame, i) => {
    const { payload, ...header } = frame;
    const { payload: expectedPayload, ...expectedHeader } = expected[i]!;
    assert.deepEqual(header, expectedHeader, `${label}: frame ${i}`);
    assert.deepEqual(payload, expectedPayload, `${label}: frame ${i}`);
  });
}

/** Runs one input as every kind of case; returns how many cases ran. */
async function checkInput(random: Random, bytes: Uint8Array, label: string): Promise<number> {
  const aborted = random.chance(0.1);
  const frames = referenceFrames(bytes, aborted);
  const messages = referenceMessages(frames.items, frames.error);
  const framesCode = codeOf(frames.error);
  const messagesCode = codeOf(messages.error);
  const abortWith = aborted ? SOURCE_FAILED : undefined;
  for (let i = 0; i < RUNS.parser; i++) {
    const where = `${label}, FrameParserStream run ${i}`;
    const outcome = await run(random, parserStream(random), chunk(random, bytes), abortWith);
    assertFramesMatch(outcome.items, frames.items, where);
    assert.equal(codeOf(outcome.error), framesCode, where);
  }
  for (let i = 0; i < RUNS.assembler; i++) {
    const where = `${label}, MessageAssemblerStream run ${i}`;
    const input = frames.items.map((frame) => ({ ...frame, payload: frame.payload.slice() }));
    const outcome = await run(random, assemblerStream(random), input, frames.error);
    assertMessagesEqual(outcome.items, messages.items, where);
    assert.equal(codeOf(outcome.error), messagesCode, where);
  }
  for (let i = 0; i < RUNS.pipeline; i++) {
    const where = `${label}, piped run ${i}`;
    const parser = parserStream(random);
    const stage = {
      writable: parser.writable,
      readable: parser.readable.pipeThrough(assemblerStream(random)),
    };
    const outcome = await run(random, stage, chunk(random, bytes), abortWith);
    assertMessagesEqual(outcome.items, messages.items, where);
    assert.equal(codeOf(outcome.error), messagesCode, where);
    if (i > 0) continue;
    // MessageReader reads slices: it also finds invalid UTF-8 in a frame cut short.
    const sliced = referenceSliced(bytes);
    const read = readWithReader(chunk(random, bytes));
    assertMessagesEqual(read.items, sliced.items, `${label}, MessageReader`);
    const got = codeOf(read.error);
    if (got !== codeOf(sliced.error)) {
      assert.equal(sliced.error, undefined, `${label}, MessageReader`);
      assert.equal(got, "INVALID_UTF8", `${label}, MessageReader`);
    }
  }
  return CASES_PER_INPUT;
}

/** One batch of random inputs; returns how many cases ran. */
async function runBatch(batch: number): Promise<number> {
  const random = new Random(0x5eed_0000 + batch);
  let cases = 0;
  for (let input = 0; input < INPUTS; input++) {
    const parts: Uint8Array[] = [];
    for (let i = random.int(1, 4); i > 0; i--) piece(random, parts);
    let bytes = concat(parts);
    // Sometimes the input stops short, inside a frame or between frames.
    if (random.chance(0.2)) bytes = bytes.subarray(0, random.int(0, bytes.length));
    cases += await checkInput(random, bytes, `batch ${batch}, input ${input}`);
  }
  return cases;
}

describe("stream property", () => {
  for (let batch = 0; batch < BATCHES; batch++) {
    it(
      `FrameParserStream and MessageAssemblerStream match the synchronous classes in ${
        INPUTS * CASES_PER_INPUT
      } random cases, batch ${batch}`,
      async () => {
        // The errors raised are compared by code: capturing their stacks would be a large part
        // of the cost.
        const stackTraceLimit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
          assert.equal(await runBatch(batch), INPUTS * CASES_PER_INPUT);
        } finally {
          Error.stackTraceLimit = stackTraceLimit;
        }
      },
    );
  }
});
