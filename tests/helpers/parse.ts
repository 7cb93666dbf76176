/** Running the parser and assembler over chunks, synchronously or as streams. */
import assert from "node:assert/strict";
import type { Frame } from "../../src/protocol/frame.ts";
import { FrameParser, type FrameParserOptions } from "../../src/protocol/frame_parser.ts";
import { FrameParserStream } from "../../src/protocol/frame_parser_stream.ts";
import {
  type Message,
  MessageAssembler,
  type MessageAssemblerOptions,
} from "../../src/protocol/message_assembler.ts";
import { MessageAssemblerStream } from "../../src/protocol/message_assembler_stream.ts";
import { bytesEqual } from "./bytes.ts";
import { collect, type Collected, readableOf } from "./streams.ts";

/** What a run produced: the items in order, and the error that ended it, if any. */
export interface Outcome<T> {
  items: T[];
  error: unknown;
  errored: boolean;
}

/** Pushes `chunks` through a fresh `FrameParser`, stopping at the first error. */
export function parseFrames(
  chunks: readonly Uint8Array[],
  options: FrameParserOptions = {},
): Outcome<Frame> & { parser: FrameParser } {
  const parser = new FrameParser(options);
  const items: Frame[] = [];
  for (const chunk of chunks) {
    try {
      parser.push(chunk, (frame) => items.push(frame));
    } catch (error) {
      return { items, error, errored: true, parser };
    }
  }
  return { items, error: undefined, errored: false, parser };
}

/** Pipes `chunks` through a fresh `FrameParserStream`. */
export function streamFrames(
  chunks: readonly Uint8Array[],
  options: FrameParserOptions = {},
): Promise<Collected<Frame>> {
  return collect(readableOf(chunks).pipeThrough(new FrameParserStream(options)));
}

/** Pushes `frames` through a fresh `MessageAssembler`, stopping at the first error. */
export function assembleMessages(
  frames: readonly Frame[],
  options: MessageAssemblerOptions = {},
): Outcome<Message> {
  const assembler = new MessageAssembler(options);
  const items: Message[] = [];
  for (const frame of frames) {
    try {
      const message = assembler.push(frame);
      if (message !== undefined) items.push(message);
    } catch (error) {
      return { items, error, errored: true };
    }
  }
  return { items, error: undefined, errored: false };
}

/** Parses and assembles `chunks` with the synchronous classes, the assembler checking headers. */
export function parseMessages(
  chunks: readonly Uint8Array[],
  parserOptions: FrameParserOptions = {},
  assemblerOptions: MessageAssemblerOptions = {},
): Outcome<Message> {
  const assembler = new MessageAssembler(assemblerOptions);
  const parser = new FrameParser({
    ...parserOptions,
    onHeader: (opcode, length) => assembler.checkHeader(opcode, length),
  });
  const items: Message[] = [];
  const onFrame = (frame: Frame) => {
    const message = assembler.push(frame);
    if (message !== undefined) items.push(message);
  };
  for (const chunk of chunks) {
    try {
      parser.push(chunk, onFrame);
    } catch (error) {
      return { items, error, errored: true };
    }
  }
  return { items, error: undefined, errored: false };
}

/** Pipes `chunks` through a `FrameParserStream` and a `MessageAssemblerStream`. */
export function streamMessages(
  chunks: readonly Uint8Array[],
  parserOptions: FrameParserOptions = {},
  assemblerOptions: MessageAssemblerOptions = {},
  beforeRead?: () => Promise<void>,
): Promise<Collected<Message>> {
  return collect(
    readableOf(chunks)
      .pipeThrough(new FrameParserStream(parserOptions))
      .pipeThrough(new MessageAssemblerStream(assemblerOptions)),
    beforeRead,
  );
}

/** Asserts that two frame lists are equal; payloads are compared fast, byte for byte. */
export function assertFramesEqual(
  actual: readonly Frame[],
  expected: readonly Frame[],
  context = "",
): void {
  assert.equal(actual.length, expected.length, `number of frames ${context}`);
  for (let i = 0; i < expected.length; i++) {
    const { payload: actualPayload, ...actualHeader } = actual[i]!;
    const { payload: expectedPayload, ...expectedHeader } = expected[i]!;
    assert.deepEqual(actualHeader, expectedHeader, `header of frame ${i} ${context}`);
    assert.ok(actualPayload instanceof Uint8Array, `payload type of frame ${i} ${context}`);
    assert.equal(actualPayload.length, expectedPayload.length, `length of frame ${i} ${context}`);
    assert.ok(bytesEqual(actualPayload, expectedPayload), `payload of frame ${i} ${context}`);
  }
}

/** Asserts that two message lists are equal; binary data is compared fast, byte for byte. */
export function assertMessagesEqual(
  actual: readonly Message[],
  expected: readonly Message[],
  context = "",
): void {
  assert.equal(actual.length, expected.length, `number of messages ${context}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (e.type === "binary" || e.type === "ping" || e.type === "pong") {
      assert.equal(a.type, e.type, `type of message ${i} ${context}`);
      const data = (a as { data: Uint8Array }).data;
      assert.ok(data instanceof Uint8Array, `data type of message ${i} ${context}`);
      assert.equal(data.length, e.data.length, `length of message ${i} ${context}`);
      assert.ok(bytesEqual(data, e.data), `data of message ${i} ${context}`);
    } else {
      assert.deepEqual(a, e, `message ${i} ${context}`);
    }
  }
}
