import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { InvalidDataError, MessageTooBigError } from "../src/protocol/errors.ts";
import { MessageBuilder } from "../src/protocol/message_builder.ts";
import { bytes, concat, pattern } from "./helpers/bytes.ts";
import { assertThrowsError, type ExpectedError } from "./helpers/errors.ts";
import { closeBody } from "./helpers/frames.ts";

const { Text, Binary, Continuation, Close, Ping } = Opcode;
const encode = (value: string) => new TextEncoder().encode(value);
const invalidUtf8: ExpectedError = {
  type: InvalidDataError,
  closeCode: 1007,
  code: "INVALID_UTF8",
};

/** Feeds one frame to `builder` in slices cut at `cuts`; returns what each slice returned. */
function feed(
  builder: MessageBuilder,
  opcode: number,
  fin: boolean,
  payload: Uint8Array,
  cuts: readonly number[] = [],
): unknown[] {
  builder.header(opcode, fin, payload.length);
  const results: unknown[] = [];
  let start = 0;
  const ends = [...cuts, payload.length];
  ends.forEach((end, i) => {
    results.push(builder.payload(payload.subarray(start, end), i === ends.length - 1));
    start = end;
  });
  return results;
}

describe("MessageBuilder", () => {
  it("MessageBuilder fails on invalid UTF-8 in the slice that brings it, before the frame ends", () => {
    const builder = new MessageBuilder();
    const payload = concat([encode("valid "), bytes(0xc3, 0x28), encode(" rest")]);
    builder.header(Text, true, payload.length);
    assert.equal(builder.payload(payload.subarray(0, 6), false), undefined);
    assertThrowsError(() => builder.payload(payload.subarray(6, 9), false), invalidUtf8);
    // Once failed, it stays failed.
    assertThrowsError(() => builder.payload(payload.subarray(9), true), invalidUtf8);
  });

  it("MessageBuilder decodes text whose characters are split between slices", () => {
    const text = "h\u00e9\u20ac\u{1F600}!";
    const payload = encode(text);
    for (let a = 0; a <= payload.length; a++) {
      for (let b = a; b <= payload.length; b++) {
        const results = feed(new MessageBuilder(), Text, true, payload, [a, b]);
        assert.deepEqual(results.at(-1), { type: "text", data: text }, `cut at ${a} and ${b}`);
        assert.ok(results.slice(0, -1).every((r) => r === undefined));
      }
    }
  });

  it("MessageBuilder hands a message that arrives in one slice on as that slice", () => {
    const payload = pattern(1000);
    const builder = new MessageBuilder();
    builder.header(Binary, true, payload.length);
    const message = builder.payload(payload, true);
    assert.equal((message as { data: Uint8Array }).data, payload);
  });

  it("MessageBuilder copies a one-frame message spanning slices once, into a buffer of its size", () => {
    const payload = pattern(70000);
    const results = feed(new MessageBuilder(), Binary, true, payload, [1, 30000, 69999]);
    const data = (results.at(-1) as { data: Uint8Array }).data;
    assert.notEqual(data.buffer, payload.buffer);
    assert.equal(data.buffer.byteLength, 70000);
    assert.deepEqual(data, payload);
  });

  it("MessageBuilder joins a fragmented message from slices of every size", () => {
    const builder = new MessageBuilder();
    const parts = [pattern(10), pattern(5000, 1), pattern(0), pattern(70000, 2), pattern(3, 3)];
    const results = parts.flatMap((part, i) =>
      feed(builder, i === 0 ? Binary : Continuation, i === parts.length - 1, part, [
        part.length >> 1,
      ])
    );
    assert.deepEqual((results.at(-1) as { data: Uint8Array }).data, concat(parts));
    assert.equal(builder.heldBytes, 0);
    assert.equal(builder.midMessage, false);
  });

  it("MessageBuilder reads a control frame split into slices between fragments", () => {
    const builder = new MessageBuilder();
    feed(builder, Text, false, encode("He"));
    assert.deepEqual(feed(builder, Ping, true, encode("ping"), [1, 3]).at(-1), {
      type: "ping",
      data: encode("ping"),
    });
    assert.deepEqual(feed(builder, Close, true, closeBody(1000, "bye"), [1]).at(-1), {
      type: "close",
      code: 1000,
      reason: "bye",
    });
    assert.deepEqual(feed(builder, Continuation, true, encode("llo")).at(-1), {
      type: "text",
      data: "Hello",
    });
  });

  it("MessageBuilder checks the message limits from the header, before any payload", () => {
    const builder = new MessageBuilder({ maxMessageSize: 100, maxFragments: 2 });
    feed(builder, Binary, false, pattern(60));
    assertThrowsError(() => builder.header(Continuation, true, 41), {
      type: MessageTooBigError,
      closeCode: 1009,
      code: "MESSAGE_TOO_BIG",
      size: 101,
      limit: 100,
    });
    const fragments = new MessageBuilder({ maxFragments: 2 });
    feed(fragments, Binary, false, pattern(1));
    feed(fragments, Continuation, false, pattern(1));
    assertThrowsError(() => fragments.header(Continuation, true, 0), {
      type: MessageTooBigError,
      closeCode: 1009,
      code: "TOO_MANY_FRAGMENTS",
      size: 3,
      limit: 2,
    });
  });

  it("MessageBuilder counts the buffer of a one-frame message in progress in heldBytes", () => {
    const builder = new MessageBuilder();
    builder.header(Binary, true, 5000);
    builder.payload(pattern(100), false);
    assert.equal(builder.heldBytes, 5000);
    builder.payload(pattern(4900), true);
    assert.equal(builder.heldBytes, 0);
  });

  it("MessageBuilder rejects a payload without a header, or longer than the header said", () => {
    assert.throws(() => new MessageBuilder().payload(pattern(1), true), RangeError);
    const builder = new MessageBuilder();
    builder.header(Binary, true, 2);
    assert.throws(() => builder.payload(pattern(3), true), RangeError);
    const short = new MessageBuilder();
    short.header(Binary, true, 2);
    assert.throws(() => short.payload(pattern(1), true), RangeError);
  });
});
