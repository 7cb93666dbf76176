import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { InvalidDataError, MessageTooBigError, ProtocolError } from "../src/protocol/errors.ts";
import type { Message } from "../src/protocol/message.ts";
import { MessageReader } from "../src/protocol/message_reader.ts";
import { concat, pattern, splitAt } from "./helpers/bytes.ts";
import { assertThrowsError } from "./helpers/errors.ts";
import { rawFrame, RFC_MASK } from "./helpers/frames.ts";
import { assertMessagesEqual } from "./helpers/parse.ts";

const { Text, Binary, Continuation, Ping } = Opcode;
const encode = (value: string) => new TextEncoder().encode(value);
const masked = { mask: RFC_MASK };

describe("MessageReader", () => {
  it("MessageReader fails on invalid UTF-8 in the chunk that brings it, mid-frame", () => {
    const payload = concat([encode("a valid start "), new Uint8Array([0xff]), encode(" end")]);
    const bytes = rawFrame(Text, payload, masked);
    const [first, middle, last] = splitAt(bytes, [10, 6 + 16]);
    const reader = new MessageReader();
    const messages: Message[] = [];
    reader.push(first!, (message) => messages.push(message));
    const error = assertThrowsError(() => reader.push(middle!, () => {}), {
      type: InvalidDataError,
      closeCode: 1007,
      code: "INVALID_UTF8",
    });
    assert.throws(() => reader.push(last!, () => {}), (thrown) => thrown === error);
    assert.deepEqual(messages, []);
  });

  it("MessageReader hands a message inside one chunk on as a view of the chunk", () => {
    const chunk = concat([
      rawFrame(Binary, pattern(3000), masked),
      rawFrame(Binary, pattern(20, 1), masked),
    ]);
    const messages: Message[] = [];
    new MessageReader().push(chunk, (message) => messages.push(message));
    const data = messages.map((message) => (message as { data: Uint8Array }).data);
    assert.equal(data[0]!.buffer, chunk.buffer);
    assert.equal(data[1]!.buffer, chunk.buffer);
    assert.deepEqual(data[0], pattern(3000));
  });

  it("MessageReader copies a one-frame message spanning chunks once, into a buffer of its size", () => {
    const bytes = rawFrame(Binary, pattern(100000), masked);
    const chunks = splitAt(bytes, [5, 65536, 70000]);
    const reader = new MessageReader();
    const messages: Message[] = [];
    for (const chunk of chunks) reader.push(chunk, (message) => messages.push(message));
    const data = (messages[0] as { data: Uint8Array }).data;
    assert.equal(data.buffer.byteLength, 100000);
    assert.ok(chunks.every((chunk) => chunk.buffer !== data.buffer));
    assert.deepEqual(data, pattern(100000));
  });

  it("MessageReader fails a message limit from the header alone", () => {
    const reader = new MessageReader({ maxMessageSize: 1000, maxFrameSize: 4000 });
    const header = rawFrame(Binary, undefined, { ...masked, declaredLength: 1001 });
    assertThrowsError(() => reader.push(header, () => {}), {
      type: MessageTooBigError,
      closeCode: 1009,
      code: "MESSAGE_TOO_BIG",
      size: 1001,
      limit: 1000,
    });
    assert.equal(reader.heldBytes, 14);
  });

  it("MessageReader delivers the messages before a violation in the same chunk, then throws", () => {
    const chunk = concat([
      rawFrame(Text, encode("a"), { fin: false, mask: RFC_MASK }),
      rawFrame(Ping, encode("p"), masked),
      rawFrame(Continuation, encode("b"), masked),
      rawFrame(Continuation, encode("c"), masked),
    ]);
    const messages: Message[] = [];
    assertThrowsError(() => new MessageReader().push(chunk, (m) => messages.push(m)), {
      type: ProtocolError,
      closeCode: 1002,
      code: "UNEXPECTED_CONTINUATION",
    });
    assertMessagesEqual(messages, [
      { type: "ping", data: encode("p") },
      { type: "text", data: "ab" },
    ]);
  });

  it("MessageReader midMessage tells whether a frame or a fragmented message is in progress", () => {
    const reader = new MessageReader();
    const first = rawFrame(Text, encode("ab"), { fin: false, mask: RFC_MASK });
    reader.push(first.slice(0, 3), () => {});
    assert.equal(reader.midMessage, true);
    reader.push(first.slice(3), () => {});
    assert.equal(reader.midMessage, true);
    reader.push(rawFrame(Continuation, encode("c"), masked), () => {});
    assert.equal(reader.midMessage, false);
  });
});
