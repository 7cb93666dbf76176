import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { InvalidDataError, MessageTooBigError, ProtocolError } from "../src/protocol/errors.ts";
import type { Frame } from "../src/protocol/frame.ts";
import { MessageAssembler } from "../src/protocol/message_assembler.ts";
import { bytes, concat, pattern } from "./helpers/bytes.ts";
import { assertError, assertThrowsError, type ExpectedError } from "./helpers/errors.ts";
import { closeBody, frame } from "./helpers/frames.ts";
import { assembleMessages, assertMessagesEqual } from "./helpers/parse.ts";

const encode = (value: string) => new TextEncoder().encode(value);
const MiB = 1024 * 1024;
const { Text, Binary, Continuation, Close, Ping, Pong } = Opcode;

const first = (opcode: number, payload: Uint8Array | string = new Uint8Array(0)) =>
  frame(opcode, payload, { fin: false });
const middle = (payload: Uint8Array | string = new Uint8Array(0)) =>
  frame(Continuation, payload, { fin: false });
const last = (payload: Uint8Array | string = new Uint8Array(0)) => frame(Continuation, payload);

const protocol = (code: ExpectedError["code"]): ExpectedError => ({
  type: ProtocolError,
  closeCode: 1002,
  code,
});
const invalid = (code: ExpectedError["code"]): ExpectedError => ({
  type: InvalidDataError,
  closeCode: 1007,
  code,
});
const tooBig = (
  code: "MESSAGE_TOO_BIG" | "TOO_MANY_FRAGMENTS",
  size: number,
  limit: number,
): ExpectedError => ({ type: MessageTooBigError, closeCode: 1009, code, size, limit });

/** Splits `payload` into a text message of fragments cut at `cuts`. */
function textFragments(payload: Uint8Array, cuts: readonly number[]): Frame[] {
  const frames: Frame[] = [];
  let start = 0;
  const ends = [...cuts, payload.length];
  ends.forEach((end, i) => {
    const part = payload.subarray(start, end);
    const fin = i === ends.length - 1;
    frames.push(frame(i === 0 ? Text : Continuation, part, { fin }));
    start = end;
  });
  return frames;
}

// Characters at the boundaries of each UTF-8 length (RFC 3629 §4).
const VALID_CHARS = [
  "\u0000",
  "\u007f",
  "\u0080",
  "\u07ff",
  "\u0800",
  "\ud7ff",
  "\ue000",
  "\ufeff",
  "\uffff",
  "\u{10000}",
  "\u{10ffff}",
];

// Byte sequences no UTF-8 text may contain (RFC 3629 §3, §10), with the index of the first byte
// at which a decoder knows the text is invalid.
const INVALID_SEQUENCES: [string, number[], number][] = [
  ["a lone continuation byte", [0x80], 0],
  ["0xFF", [0xff], 0],
  ["0xFE", [0xfe], 0],
  ["an overlong 2-byte NUL (C0 80)", [0xc0, 0x80], 0],
  ["an overlong 2-byte (C1 BF)", [0xc1, 0xbf], 0],
  ["an overlong 3-byte (E0 80 80)", [0xe0, 0x80, 0x80], 1],
  ["an overlong 3-byte (E0 9F BF)", [0xe0, 0x9f, 0xbf], 1],
  ["an overlong 4-byte (F0 80 80 80)", [0xf0, 0x80, 0x80, 0x80], 1],
  ["an overlong 4-byte (F0 8F BF BF)", [0xf0, 0x8f, 0xbf, 0xbf], 1],
  ["a high surrogate (ED A0 80)", [0xed, 0xa0, 0x80], 1],
  ["a low surrogate (ED BF BF)", [0xed, 0xbf, 0xbf], 1],
  ["a code point over U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80], 1],
  ["a 5-byte lead (F8)", [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
  ["a lead byte over F4 (F5)", [0xf5, 0x80, 0x80, 0x80], 0],
  ["a 3-byte sequence cut by ASCII (E2 82 41)", [0xe2, 0x82, 0x41], 2],
];

describe("MessageAssembler", () => {
  it("MessageAssembler passes a single-frame text message through", () => {
    const assembler = new MessageAssembler();
    assert.deepEqual(assembler.push(frame(Text, "Hello")), { type: "text", data: "Hello" });
    assert.deepEqual(assembler.push(frame(Text, "")), { type: "text", data: "" });
  });

  it("MessageAssembler hands a single-frame binary message on without a copy", () => {
    const payload = pattern(300);
    const message = new MessageAssembler().push(frame(Binary, payload));
    assert.equal(message?.type, "binary");
    assert.equal((message as { data: Uint8Array }).data, payload);
  });

  it("MessageAssembler joins the fragmented text example of RFC 6455 §5.7", () => {
    const assembler = new MessageAssembler();
    assert.equal(assembler.push(first(Text, "Hel")), undefined);
    assert.deepEqual(assembler.push(last("lo")), { type: "text", data: "Hello" });
  });

  it("MessageAssembler joins binary fragments of every size, empty ones included", () => {
    const sizes = [0, 1, 4095, 4096, 70000, 0, 3, 65536, 1, 0, 9000, 2];
    const parts = sizes.map((size, i) => pattern(size, i * 17));
    const frames = parts.map((part, i) =>
      i === 0 ? first(Binary, part) : i === parts.length - 1 ? last(part) : middle(part)
    );
    const outcome = assembleMessages(frames);
    assert.equal(outcome.error, undefined);
    assertMessagesEqual(outcome.items, [{ type: "binary", data: concat(parts) }]);
  });

  it("MessageAssembler joins a message of only empty fragments", () => {
    assert.deepEqual(assembleMessages([first(Binary), middle(), last()]).items, [
      { type: "binary", data: new Uint8Array(0) },
    ]);
    assert.deepEqual(assembleMessages([first(Text), last()]).items, [{ type: "text", data: "" }]);
  });

  it("MessageAssembler returns fragment data that later input cannot change", () => {
    // Fragments kept as views must be of buffers nobody writes again; small ones are copied.
    const small = pattern(10);
    const large = pattern(5000);
    const assembler = new MessageAssembler();
    assembler.push(first(Binary, small));
    assembler.push(middle(large));
    const message = assembler.push(last(pattern(10, 99))) as { data: Uint8Array };
    small.fill(0);
    assert.deepEqual(message.data.subarray(0, 10), pattern(10));
    assert.deepEqual(message.data.subarray(10, 5010), pattern(5000));
  });

  it("MessageAssembler passes control frames through at once, also between fragments", () => {
    const assembler = new MessageAssembler();
    assert.equal(assembler.push(first(Text, "He")), undefined);
    assert.deepEqual(assembler.push(frame(Ping, "p")), { type: "ping", data: encode("p") });
    assert.equal(assembler.push(middle("l")), undefined);
    assert.deepEqual(assembler.push(frame(Pong, "")), { type: "pong", data: new Uint8Array(0) });
    assert.deepEqual(assembler.push(frame(Close, closeBody(1000, "bye"))), {
      type: "close",
      code: 1000,
      reason: "bye",
    });
    assert.deepEqual(assembler.push(last("lo")), { type: "text", data: "Hello" });
  });

  it("MessageAssembler copies ping and pong payloads", () => {
    for (const opcode of [Ping, Pong]) {
      const payload = encode("data");
      const message = new MessageAssembler().push(frame(opcode, payload)) as { data: Uint8Array };
      assert.notEqual(message.data.buffer, payload.buffer);
      payload.fill(0);
      assert.deepEqual(message.data, encode("data"));
    }
  });

  it("MessageAssembler reads an empty close frame as a close without a code", () => {
    const message = new MessageAssembler().push(frame(Close));
    assert.deepEqual(message, { type: "close", reason: "" });
    assert.equal(Object.hasOwn(message!, "code"), false);
  });

  it("MessageAssembler reads a close frame's code and UTF-8 reason", () => {
    assert.deepEqual(new MessageAssembler().push(frame(Close, closeBody(1001))), {
      type: "close",
      code: 1001,
      reason: "",
    });
    const reason = "été ⚡ 😀";
    assert.deepEqual(new MessageAssembler().push(frame(Close, closeBody(4999, reason))), {
      type: "close",
      code: 4999,
      reason,
    });
  });

  it("MessageAssembler rejects a close frame with a 1-byte payload", () => {
    assertThrowsError(
      () => new MessageAssembler().push(frame(Close, bytes(0x03))),
      protocol("INVALID_CLOSE_PAYLOAD"),
    );
  });

  it("MessageAssembler accepts close codes at the boundaries of every allowed range", () => {
    for (const code of [1000, 1003, 1007, 1014, 3000, 3999, 4000, 4999]) {
      const message = new MessageAssembler().push(frame(Close, closeBody(code)));
      assert.deepEqual(message, { type: "close", code, reason: "" }, `code ${code}`);
    }
  });

  it("MessageAssembler rejects close codes at the boundaries of every forbidden range", () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
      assertThrowsError(
        () => new MessageAssembler().push(frame(Close, closeBody(code, "x"))),
        protocol("INVALID_CLOSE_CODE"),
        `code ${code}`,
      );
    }
  });

  it("MessageAssembler rejects a close reason that is not UTF-8", () => {
    for (const [name, sequence] of INVALID_SEQUENCES) {
      assertThrowsError(
        () => new MessageAssembler().push(frame(Close, closeBody(1000, bytes(0x61, ...sequence)))),
        invalid("INVALID_CLOSE_REASON"),
        name,
      );
    }
    assertThrowsError(
      () => new MessageAssembler().push(frame(Close, closeBody(1000, bytes(0xe2, 0x82)))),
      invalid("INVALID_CLOSE_REASON"),
      "a truncated reason",
    );
  });

  it("MessageAssembler rejects a continuation frame with nothing to continue", () => {
    assertThrowsError(
      () => new MessageAssembler().push(last("x")),
      protocol("UNEXPECTED_CONTINUATION"),
    );
    assertThrowsError(
      () => new MessageAssembler().push(middle("x")),
      protocol("UNEXPECTED_CONTINUATION"),
    );
    const assembler = new MessageAssembler();
    assembler.push(first(Binary, "a"));
    assembler.push(last("b"));
    assertThrowsError(
      () => assembler.push(last("c")),
      protocol("UNEXPECTED_CONTINUATION"),
      "after a message",
    );
  });

  it("MessageAssembler rejects a new data frame inside a fragmented message", () => {
    for (const opcode of [Text, Binary]) {
      for (const fin of [true, false]) {
        const assembler = new MessageAssembler();
        assembler.push(first(Text, "a"));
        assertThrowsError(
          () => assembler.push(frame(opcode, "b", { fin })),
          protocol("EXPECTED_CONTINUATION"),
          `opcode ${opcode}, fin ${fin}`,
        );
      }
    }
  });

  it("MessageAssembler accepts maxFragments frames in a message and rejects one more", () => {
    for (const limit of [2, 3, 10]) {
      const frames = [first(Binary, "x")];
      for (let i = 2; i < limit; i++) frames.push(middle(i % 2 === 0 ? "" : "y"));
      const ok = assembleMessages([...frames, last()], { maxFragments: limit });
      assert.equal(ok.error, undefined, `${limit} frames`);
      assert.equal(ok.items.length, 1);
      const over = assembleMessages([...frames, middle(), last()], { maxFragments: limit });
      assertError(
        over.error,
        tooBig("TOO_MANY_FRAGMENTS", limit + 1, limit),
        `${limit + 1} frames`,
      );
    }
  });

  it("MessageAssembler counts empty fragments toward maxFragments", () => {
    const outcome = assembleMessages([first(Text), middle(), middle(), last()], {
      maxFragments: 3,
    });
    assertError(outcome.error, tooBig("TOO_MANY_FRAGMENTS", 4, 3));
  });

  it("MessageAssembler with maxFragments 1 accepts whole messages and rejects any fragmented one", () => {
    const outcome = assembleMessages([
      frame(Text, "a"),
      frame(Binary, "b"),
      first(Text, "c"),
      last("d"),
    ], {
      maxFragments: 1,
    });
    assert.deepEqual(outcome.items.map((m) => m.type), ["text", "binary"]);
    assertError(outcome.error, tooBig("TOO_MANY_FRAGMENTS", 2, 1));
  });

  it("MessageAssembler does not count control frames toward maxFragments", () => {
    const outcome = assembleMessages(
      [first(Binary, "a"), frame(Ping), frame(Pong), frame(Ping), last("b")],
      { maxFragments: 2 },
    );
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.items.length, 4);
  });

  it("MessageAssembler counts fragments per message", () => {
    const frames = [
      first(Binary, "a"),
      last("b"),
      first(Text, "c"),
      last("d"),
      first(Binary),
      last(),
    ];
    assert.equal(assembleMessages(frames, { maxFragments: 2 }).error, undefined);
  });

  it("MessageAssembler defaults maxFragments to 16384", () => {
    const frames = [first(Binary, "x")];
    for (let i = 2; i < 16384; i++) frames.push(middle());
    assert.equal(assembleMessages([...frames, last()]).error, undefined);
    assertError(
      assembleMessages([...frames, middle(), last()]).error,
      tooBig("TOO_MANY_FRAGMENTS", 16385, 16384),
    );
  });

  it("MessageAssembler with maxFragments Infinity accepts 20000 fragments", () => {
    const frames = [first(Binary, "x")];
    for (let i = 2; i < 20000; i++) frames.push(middle("y"));
    const outcome = assembleMessages([...frames, last()], { maxFragments: Infinity });
    assert.equal(outcome.error, undefined);
    assert.equal((outcome.items[0] as { data: Uint8Array }).data.length, 19999);
  });

  it("MessageAssembler accepts a message of exactly maxMessageSize and rejects one byte more", () => {
    for (const opcode of [Text, Binary]) {
      const at = assembleMessages([frame(opcode, "0123456789")], { maxMessageSize: 10 });
      assert.equal(at.error, undefined);
      const over = assembleMessages([frame(opcode, "0123456789a")], { maxMessageSize: 10 });
      assertError(over.error, tooBig("MESSAGE_TOO_BIG", 11, 10), `opcode ${opcode}`);
    }
  });

  it("MessageAssembler checks maxMessageSize on the assembled size as each fragment arrives", () => {
    const fragments = [first(Binary, "0123"), middle("456"), middle("")];
    const at = assembleMessages([...fragments, last("789")], { maxMessageSize: 10 });
    assert.equal(at.error, undefined);
    const log: string[] = [];
    const assembler = new MessageAssembler({ maxMessageSize: 10 });
    for (const part of [...fragments, middle("78"), middle("901234"), last()]) {
      try {
        assembler.push(part);
        log.push(`ok ${part.payload.length}`);
      } catch (error) {
        // The size reported is what the message would reach with the crossing frame.
        assertError(error, tooBig("MESSAGE_TOO_BIG", 15, 10));
        log.push("too big");
        break;
      }
    }
    assert.deepEqual(log, ["ok 4", "ok 3", "ok 0", "ok 2", "too big"]);
  });

  it("MessageAssembler measures text in bytes, not characters", () => {
    const euro = "€€€"; // 9 bytes
    assert.equal(assembleMessages([frame(Text, euro)], { maxMessageSize: 9 }).error, undefined);
    assertError(
      assembleMessages([first(Text, euro), last("a")], { maxMessageSize: 9 }).error,
      tooBig("MESSAGE_TOO_BIG", 10, 9),
    );
  });

  it("MessageAssembler does not count control frames toward maxMessageSize", () => {
    const outcome = assembleMessages(
      [
        first(Binary, "12345"),
        frame(Ping, pattern(125)),
        frame(Close, closeBody(1000, "x".repeat(100))),
        last("67890"),
      ],
      { maxMessageSize: 10 },
    );
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.items.length, 3);
  });

  it("MessageAssembler defaults maxMessageSize to 16 MiB", () => {
    const at = new MessageAssembler().push(frame(Binary, new Uint8Array(16 * MiB)));
    assert.equal((at as { data: Uint8Array }).data.length, 16 * MiB);
    const assembler = new MessageAssembler();
    assembler.push(first(Binary, new Uint8Array(8 * MiB)));
    assertThrowsError(
      () => assembler.push(last(new Uint8Array(8 * MiB + 1))),
      tooBig("MESSAGE_TOO_BIG", 16 * MiB + 1, 16 * MiB),
    );
  });

  it("MessageAssembler with maxMessageSize Infinity accepts any size", () => {
    const assembler = new MessageAssembler({ maxMessageSize: Infinity });
    assembler.checkHeader(Binary, Number.MAX_SAFE_INTEGER);
    assembler.push(first(Binary, new Uint8Array(17 * MiB)));
    const message = assembler.push(last(new Uint8Array(1)));
    assert.equal((message as { data: Uint8Array }).data.length, 17 * MiB + 1);
  });

  it("MessageAssembler decodes every UTF-8 length boundary split at every byte", () => {
    for (const char of VALID_CHARS) {
      const payload = encode(`a${char}b`);
      for (let cut = 0; cut <= payload.length; cut++) {
        const outcome = assembleMessages(textFragments(payload, [cut]));
        assert.equal(
          outcome.error,
          undefined,
          `U+${char.codePointAt(0)!.toString(16)} cut at ${cut}`,
        );
        assert.deepEqual(outcome.items, [{ type: "text", data: `a${char}b` }]);
      }
      const bytewise = assembleMessages(textFragments(payload, [...payload.keys()].slice(1)));
      assert.deepEqual(bytewise.items, [{ type: "text", data: `a${char}b` }], "1-byte fragments");
    }
  });

  it("MessageAssembler keeps a leading byte order mark in text", () => {
    const payload = bytes(0xef, 0xbb, 0xbf, 0x61);
    assert.deepEqual(assembleMessages([frame(Text, payload)]).items, [
      { type: "text", data: "\ufeffa" },
    ]);
    assert.deepEqual(assembleMessages(textFragments(payload, [1, 2])).items, [
      { type: "text", data: "\ufeffa" },
    ]);
  });

  it("MessageAssembler rejects invalid UTF-8 in a single-frame text message", () => {
    for (const [name, sequence] of INVALID_SEQUENCES) {
      const outcome = assembleMessages([frame(Text, bytes(0x61, ...sequence, 0x62))]);
      assertError(outcome.error, invalid("INVALID_UTF8"), name);
    }
  });

  it("MessageAssembler rejects invalid UTF-8 at the first fragment that cannot be valid", () => {
    for (const [name, sequence, failsAt] of INVALID_SEQUENCES) {
      // One byte per fragment after "a": the fragment holding byte `failsAt` must fail.
      const frames = textFragments(bytes(0x61, ...sequence, 0x62), sequence.map((_, i) => i + 1));
      const outcome = assembleMessages(frames);
      assertError(outcome.error, invalid("INVALID_UTF8"), name);
      const assembler = new MessageAssembler();
      let failedAt = -1;
      frames.forEach((part, i) => {
        if (failedAt >= 0) return;
        try {
          assembler.push(part);
        } catch {
          failedAt = i;
        }
      });
      assert.equal(failedAt, failsAt + 1, `${name} fails at its fragment ${failsAt + 1}`);
    }
  });

  it("MessageAssembler fails on a first fragment containing 0xFF", () => {
    const assembler = new MessageAssembler();
    assertThrowsError(
      () => assembler.push(first(Text, bytes(0x61, 0xff))),
      invalid("INVALID_UTF8"),
    );
  });

  it("MessageAssembler accepts a fragment ending inside a character until the character completes", () => {
    const assembler = new MessageAssembler();
    assert.equal(assembler.push(first(Text, bytes(0x61, 0xe2))), undefined);
    assert.equal(assembler.push(middle(bytes(0x82))), undefined);
    assert.deepEqual(assembler.push(last(bytes(0xac, 0x62))), { type: "text", data: "a€b" });
  });

  it("MessageAssembler rejects a text message whose final fragment leaves a character incomplete", () => {
    for (const tail of [[0xe2], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3]]) {
      const assembler = new MessageAssembler();
      assembler.push(first(Text, bytes(0x61, ...tail)));
      assertThrowsError(() => assembler.push(last()), invalid("INVALID_UTF8"), `tail ${tail}`);
      assertThrowsError(
        () => new MessageAssembler().push(frame(Text, bytes(0x61, ...tail))),
        invalid("INVALID_UTF8"),
        `single frame, tail ${tail}`,
      );
    }
  });

  it("MessageAssembler starts each text message with a fresh decoder", () => {
    const outcome = assembleMessages([
      first(Text, bytes(0xe2, 0x82)),
      last(bytes(0xac)),
      frame(Text, "x"),
      first(Text, "y"),
      last(bytes(0xf0, 0x9f, 0x98, 0x80)),
    ]);
    assert.deepEqual(outcome.items, [
      { type: "text", data: "€" },
      { type: "text", data: "x" },
      { type: "text", data: "y😀" },
    ]);
  });

  it("MessageAssembler does not validate binary messages as UTF-8", () => {
    const outcome = assembleMessages([first(Binary, bytes(0xff)), last(bytes(0xe2))]);
    assert.deepEqual(outcome.items, [{ type: "binary", data: bytes(0xff, 0xe2) }]);
  });

  it("MessageAssembler keeps throwing the same error after a violation", () => {
    const assembler = new MessageAssembler();
    assembler.push(first(Text, "a"));
    const error = assertThrowsError(
      () => assembler.push(last(bytes(0xff))),
      invalid("INVALID_UTF8"),
    );
    for (const next of [frame(Text, "ok"), frame(Ping), last("x"), frame(Close)]) {
      assert.throws(() => assembler.push(next), (thrown) => thrown === error);
    }
  });

  it("MessageAssembler checkHeader throws what push would throw, before the payload", () => {
    const cases: [string, Frame[], number, number, ExpectedError][] = [
      [
        "a continuation with nothing to continue",
        [],
        Continuation,
        1,
        protocol("UNEXPECTED_CONTINUATION"),
      ],
      [
        "a new message inside a message",
        [first(Text, "a")],
        Binary,
        1,
        protocol("EXPECTED_CONTINUATION"),
      ],
      [
        "one fragment too many",
        [first(Binary, "a"), middle("b")],
        Continuation,
        0,
        tooBig("TOO_MANY_FRAGMENTS", 3, 2),
      ],
      [
        "one byte too many",
        [first(Binary, "abc")],
        Continuation,
        8,
        tooBig("MESSAGE_TOO_BIG", 11, 10),
      ],
      ["a single frame one byte too big", [], Text, 11, tooBig("MESSAGE_TOO_BIG", 11, 10)],
    ];
    for (const [name, before, opcode, length, expected] of cases) {
      const options = { maxFragments: 2, maxMessageSize: 10 };
      const checked = new MessageAssembler(options);
      const pushed = new MessageAssembler(options);
      for (const part of before) {
        checked.push(part);
        pushed.push(part);
      }
      assertThrowsError(
        () => checked.checkHeader(opcode, length),
        expected,
        `checkHeader: ${name}`,
      );
      const payload = pattern(length);
      assertThrowsError(
        () => pushed.push(frame(opcode, payload)),
        expected,
        `push: ${name}`,
      );
    }
  });

  it("MessageAssembler checkHeader accepts what push would accept, and changes nothing", () => {
    const assembler = new MessageAssembler({ maxFragments: 2, maxMessageSize: 10 });
    assembler.checkHeader(Text, 10);
    assembler.checkHeader(Text, 4);
    assembler.push(first(Text, "abcd"));
    assembler.checkHeader(Continuation, 6);
    assembler.checkHeader(Continuation, 6);
    assert.deepEqual(assembler.push(last("efghij")), { type: "text", data: "abcdefghij" });
  });

  it("MessageAssembler checkHeader lets control frames through, also between fragments", () => {
    const assembler = new MessageAssembler({ maxFragments: 1, maxMessageSize: 1 });
    assembler.push(first(Binary, "a"));
    for (const opcode of [Close, Ping, Pong]) assembler.checkHeader(opcode, 125);
  });

  it("MessageAssembler checkHeader throws the error push threw before", () => {
    const assembler = new MessageAssembler();
    const error = assertThrowsError(
      () => assembler.push(last("x")),
      protocol("UNEXPECTED_CONTINUATION"),
    );
    assert.throws(() => assembler.checkHeader(Text, 1), (thrown) => thrown === error);
  });

  it("MessageAssembler midMessage tells whether a fragmented message is in progress", () => {
    const assembler = new MessageAssembler();
    assert.equal(assembler.midMessage, false);
    assembler.push(frame(Text, "whole"));
    assert.equal(assembler.midMessage, false);
    assembler.push(first(Binary, "a"));
    assert.equal(assembler.midMessage, true);
    assembler.push(frame(Ping));
    assert.equal(assembler.midMessage, true);
    assembler.push(last("b"));
    assert.equal(assembler.midMessage, false);
  });

  it("MessageAssembler heldBytes is zero between messages", () => {
    const assembler = new MessageAssembler();
    assert.equal(assembler.heldBytes, 0);
    assembler.push(first(Binary, pattern(10)));
    assert.ok(assembler.heldBytes > 0);
    assembler.push(last(pattern(10)));
    assert.equal(assembler.heldBytes, 0);
  });

  it("MessageAssembler rejects invalid option values with a RangeError", () => {
    for (const name of ["maxFragments", "maxMessageSize"]) {
      for (const value of [0, -1, 1.5, NaN, -Infinity, "10", null]) {
        assert.throws(
          () => new MessageAssembler({ [name]: value as number }),
          RangeError,
          `${name} ${String(value)}`,
        );
      }
    }
  });
});
