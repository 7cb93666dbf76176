// The composed streams report in byte order: every message completed before the first violation
// is delivered, then the stream errors with that violation, whatever the chunking and the
// queueing strategies (see also stream_property_test.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { ProtocolError } from "../src/protocol/errors.ts";
import type { Frame } from "../src/protocol/frame.ts";
import { FrameParserStream } from "../src/protocol/frame_parser_stream.ts";
import type { Message } from "../src/protocol/message.ts";
import { MessageAssemblerStream } from "../src/protocol/message_assembler_stream.ts";
import { chunksOf, concat } from "./helpers/bytes.ts";
import { assertError, type ExpectedError } from "./helpers/errors.ts";
import { rawFrame, RFC_MASK } from "./helpers/frames.ts";
import { collect, nextTask } from "./helpers/streams.ts";

const { Text, Continuation } = Opcode;
const encode = (value: string) => new TextEncoder().encode(value);
const masked = { mask: RFC_MASK };
const protocol = (code: ExpectedError["code"]): ExpectedError => ({
  type: ProtocolError,
  closeCode: 1002,
  code,
});

/** A readable stream that enqueues every chunk at once, then closes, as in the issue. */
function enqueuedAtOnce(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk.slice());
      controller.close();
    },
  });
}

interface Strategies {
  name: string;
  parser: [QueuingStrategy<Uint8Array>?, QueuingStrategy<Frame>?];
  assembler: [QueuingStrategy<Frame>?, QueuingStrategy<Message>?];
}

const STRATEGIES: Strategies[] = [
  { name: "default strategies", parser: [], assembler: [] },
  {
    name: "deep queues",
    parser: [{ highWaterMark: 64 }, { highWaterMark: 16 }],
    assembler: [{ highWaterMark: 16 }, { highWaterMark: Infinity }],
  },
  {
    name: "byte-counted input, one-item queues",
    parser: [new ByteLengthQueuingStrategy({ highWaterMark: 3 }), { highWaterMark: 1 }],
    assembler: [{ highWaterMark: 1 }, { highWaterMark: 1 }],
  },
  {
    name: "deep writable sides, empty readable sides",
    parser: [{ highWaterMark: Infinity }, { highWaterMark: 0 }],
    assembler: [{ highWaterMark: Infinity }, { highWaterMark: 0 }],
  },
];

async function pipeline(
  chunks: readonly Uint8Array[],
  strategies: Strategies,
  slow: boolean,
): Promise<{ items: Message[]; error: unknown; errored: boolean }> {
  const [pw, pr] = strategies.parser;
  const [aw, ar] = strategies.assembler;
  return await collect(
    enqueuedAtOnce(chunks)
      .pipeThrough(new FrameParserStream({ role: "server" }, pw, pr))
      .pipeThrough(new MessageAssemblerStream({}, aw, ar)),
    slow
      ? async () => {
        for (let i = 0; i < 3; i++) await nextTask();
      }
      : undefined,
  );
}

/** Runs `input` whole, in 1-byte and in 3-byte chunks, with every strategy, fast and slow. */
async function assertEveryWay(
  input: Uint8Array,
  texts: string[],
  expected: ExpectedError,
): Promise<void> {
  for (const chunks of [[input], chunksOf(input, 1), chunksOf(input, 3)]) {
    for (const strategies of STRATEGIES) {
      for (const slow of [false, true]) {
        const label = `${chunks.length} chunks, ${strategies.name}${slow ? ", slow reader" : ""}`;
        const outcome = await pipeline(chunks, strategies, slow);
        assert.deepEqual(outcome.items, texts.map((data) => ({ type: "text", data })), label);
        assertError(outcome.error, expected, label);
      }
    }
  }
}

describe("MessageAssemblerStream after FrameParserStream", () => {
  it("MessageAssemblerStream after FrameParserStream delivers five messages before a truncated sixth frame", async () => {
    const texts = ["one", "two", "three", "four", "five"];
    const input = concat([
      ...texts.map((text) => rawFrame(Text, encode(text), masked)),
      new Uint8Array([0x81]), // one byte of a sixth header
    ]);
    await assertEveryWay(input, texts, protocol("TRUNCATED_FRAME"));
  });

  it("MessageAssemblerStream after FrameParserStream reports a stray continuation before a truncated frame", async () => {
    const input = concat([
      rawFrame(Text, encode("a"), masked),
      rawFrame(Text, encode("b"), masked),
      rawFrame(Continuation, encode("c"), masked),
      new Uint8Array([0x81]), // the byte after the violation
    ]);
    await assertEveryWay(input, ["a", "b"], protocol("UNEXPECTED_CONTINUATION"));
  });

  it("MessageAssemblerStream after FrameParserStream reports a parser violation after every message", async () => {
    const input = concat([
      rawFrame(Text, encode("a"), { fin: false, mask: RFC_MASK }),
      rawFrame(Continuation, encode("b"), masked),
      rawFrame(Text, encode("c"), masked),
      rawFrame(Text, encode("d")), // unmasked
    ]);
    await assertEveryWay(input, ["ab", "c"], protocol("UNMASKED_FRAME"));
  });

  it("MessageAssemblerStream delivers queued messages before an upstream error", async () => {
    // The source fails after its one chunk was read: the error must come after both messages.
    const failure = new Error("the source failed");
    const failingSource = () => {
      let pulls = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulls++ > 0) return controller.error(failure);
          controller.enqueue(
            concat([rawFrame(Text, encode("x"), masked), rawFrame(Text, encode("y"), masked)]),
          );
        },
      }, { highWaterMark: 0 });
    };
    for (const highWaterMark of [0, 1, 8]) {
      const outcome = await collect(
        failingSource()
          .pipeThrough(new FrameParserStream({ role: "server" }, undefined, { highWaterMark }))
          .pipeThrough(new MessageAssemblerStream({}, { highWaterMark: 8 }, { highWaterMark })),
        () => nextTask(),
      );
      const label = `highWaterMark ${highWaterMark}`;
      assert.deepEqual(
        outcome.items,
        [{ type: "text", data: "x" }, { type: "text", data: "y" }],
        label,
      );
      assert.equal(outcome.error, failure, label);
    }
  });

  it("MessageAssemblerStream rejects a negative readable highWaterMark with a RangeError", () => {
    assert.throws(
      () => new MessageAssemblerStream({}, undefined, { highWaterMark: -1 }),
      RangeError,
    );
    assert.throws(() => new FrameParserStream({}, undefined, { highWaterMark: NaN }), RangeError);
  });

  it("MessageAssemblerStream cancelled by its reader stops the stages before it", async () => {
    let cancelled: unknown;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(rawFrame(Text, encode("again"), masked));
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const reader = source
      .pipeThrough(new FrameParserStream())
      .pipeThrough(new MessageAssemblerStream())
      .getReader();
    assert.deepEqual((await reader.read()).value, { type: "text", data: "again" });
    await reader.cancel("enough");
    for (let i = 0; i < 5 && cancelled === undefined; i++) await nextTask();
    assert.equal(cancelled, "enough");
  });
});
