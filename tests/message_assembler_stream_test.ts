// The composed streams report in byte order: every message completed before the first violation
// is delivered, then the stream errors with that violation, whatever the chunking and the
// queueing strategies (see also stream_property_test.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { InvalidDataError, MessageTooBigError, ProtocolError } from "../src/protocol/errors.ts";
import type { Frame } from "../src/protocol/frame.ts";
import { FrameParserStream } from "../src/protocol/frame_parser_stream.ts";
import type { Message } from "../src/protocol/message.ts";
import { MessageAssemblerStream } from "../src/protocol/message_assembler_stream.ts";
import { bytes, chunksOf, concat } from "./helpers/bytes.ts";
import { assertError, type ExpectedError } from "./helpers/errors.ts";
import { closeBody, frame, rawFrame, RFC_MASK } from "./helpers/frames.ts";
import { assertMessagesEqual, streamMessages } from "./helpers/parse.ts";
import { collect, nextTask, readableOf } from "./helpers/streams.ts";

const { Text, Binary, Continuation, Close, Ping } = Opcode;
const first = (opcode: number, payload: Uint8Array | string = new Uint8Array(0)) =>
  frame(opcode, payload, { fin: false });
const last = (payload: Uint8Array | string = new Uint8Array(0)) => frame(Continuation, payload);
const invalid = (code: ExpectedError["code"]): ExpectedError => ({
  type: InvalidDataError,
  closeCode: 1007,
  code,
});
const tooBig = (code: "MESSAGE_TOO_BIG", size: number, limit: number): ExpectedError => ({
  type: MessageTooBigError,
  closeCode: 1009,
  code,
  size,
  limit,
});
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

describe("MessageAssemblerStream", () => {
  it("MessageAssemblerStream turns frames into messages, passing controls through in order", async () => {
    const frames = [
      first(Text, "He"),
      frame(Ping, "p"),
      last("llo"),
      frame(Binary, "b"),
      frame(Close),
    ];
    const outcome = await collect(readableOf(frames).pipeThrough(new MessageAssemblerStream()));
    assertMessagesEqual(outcome.items, [
      { type: "ping", data: encode("p") },
      { type: "text", data: "Hello" },
      { type: "binary", data: encode("b") },
      { type: "close", reason: "" },
    ]);
    assert.equal(outcome.errored, false);
  });

  it("MessageAssemblerStream delivers the messages completed before a violation, then errors", async () => {
    const frames = [frame(Text, "a"), frame(Ping), frame(Text, "b"), last("x"), frame(Text, "c")];
    const outcome = await collect(
      readableOf(frames).pipeThrough(new MessageAssemblerStream()),
      async () => {
        for (let i = 0; i < 3; i++) await nextTask();
      },
    );
    assert.deepEqual(outcome.items.map((m) => m.type), ["text", "ping", "text"]);
    assertError(outcome.error, protocol("UNEXPECTED_CONTINUATION"));
  });

  it("MessageAssemblerStream fails with TRUNCATED_MESSAGE when the input ends inside a message", async () => {
    const outcome = await collect(
      readableOf([frame(Text, "a"), first(Binary, "b"), frame(Ping)]).pipeThrough(
        new MessageAssemblerStream(),
      ),
    );
    assert.deepEqual(outcome.items.map((m) => m.type), ["text", "ping"]);
    assertError(outcome.error, protocol("TRUNCATED_MESSAGE"));
  });

  it("MessageAssemblerStream reports limit errors with size and limit", async () => {
    const outcome = await collect(
      readableOf([first(Binary, "abc"), last("defgh")]).pipeThrough(
        new MessageAssemblerStream({ maxMessageSize: 7 }),
      ),
    );
    assertError(outcome.error, tooBig("MESSAGE_TOO_BIG", 8, 7));
  });

  it("MessageAssemblerStream after FrameParserStream delivers the messages before a violation", async () => {
    const masked = { mask: RFC_MASK };
    const chunk = concat([
      rawFrame(Text, encode("a"), masked),
      rawFrame(Text, encode("b"), { fin: false, mask: RFC_MASK }),
      rawFrame(Ping, encode("p"), masked),
      rawFrame(Continuation, encode("c"), masked),
      rawFrame(Binary, encode("d"), masked),
      rawFrame(Text, encode("e"), { rsv: 2, mask: RFC_MASK }),
    ]);
    for (const slow of [false, true]) {
      const outcome = await streamMessages(
        [chunk.slice()],
        {},
        {},
        slow
          ? async () => {
            for (let i = 0; i < 3; i++) await nextTask();
          }
          : undefined,
      );
      assertMessagesEqual(outcome.items, [
        { type: "text", data: "a" },
        { type: "ping", data: encode("p") },
        { type: "text", data: "bc" },
        { type: "binary", data: encode("d") },
      ], slow ? "slow reader" : "fast reader");
      assertError(outcome.error, protocol("RESERVED_BITS"));
    }
  });

  it("MessageAssemblerStream after FrameParserStream reports an assembler error", async () => {
    const outcome = await streamMessages(
      [rawFrame(Text, bytes(0x61, 0xff), { mask: RFC_MASK })],
    );
    assertError(outcome.error, invalid("INVALID_UTF8"));
  });

  it("MessageAssemblerStream rejects invalid options with a RangeError at construction", () => {
    for (const name of ["maxFragments", "maxMessageSize"]) {
      for (const value of [0, -1, 1.5, NaN, "10", null]) {
        assert.throws(
          () => new MessageAssemblerStream({ [name]: value as number }),
          RangeError,
          `${name} ${String(value)}`,
        );
      }
    }
  });

  it("MessageAssemblerStream emits Message values of the documented shapes", async () => {
    const outcome = await collect(
      readableOf([frame(Close, closeBody(1000))]).pipeThrough(new MessageAssemblerStream()),
    );
    const message: Message | undefined = outcome.items[0];
    assert.deepEqual(message, { type: "close", code: 1000, reason: "" });
  });
});
