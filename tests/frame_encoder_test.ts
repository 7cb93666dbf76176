import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import {
  checkControlPayload,
  encodeClosePayload,
  encodeFrame,
} from "../src/protocol/frame_encoder.ts";
import { FrameParser } from "../src/protocol/frame_parser.ts";
import { MessageAssembler } from "../src/protocol/message_assembler.ts";
import { bytes, concat, maskedCopy, pattern } from "./helpers/bytes.ts";
import { frame, RFC_MASK } from "./helpers/frames.ts";
import { parseFrames } from "./helpers/parse.ts";

const encode = (value: string) => new TextEncoder().encode(value);

describe("encodeFrame", () => {
  it("encodeFrame writes the unmasked text example of RFC 6455 §5.7", () => {
    assert.deepEqual(encodeFrame(Opcode.Text, encode("Hello")), [
      bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
    ]);
  });

  it("encodeFrame writes the masked text example of RFC 6455 §5.7 with its key", () => {
    assert.deepEqual(encodeFrame(Opcode.Text, encode("Hello"), { mask: RFC_MASK }), [
      bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    ]);
  });

  it("encodeFrame writes the fragmented, ping and pong examples of RFC 6455 §5.7", () => {
    assert.deepEqual(encodeFrame(Opcode.Text, encode("Hel"), { fin: false }), [
      bytes(0x01, 0x03, 0x48, 0x65, 0x6c),
    ]);
    assert.deepEqual(encodeFrame(Opcode.Continuation, encode("lo")), [
      bytes(0x80, 0x02, 0x6c, 0x6f),
    ]);
    assert.deepEqual(encodeFrame(Opcode.Ping, encode("Hello")), [
      bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
    ]);
    assert.deepEqual(encodeFrame(Opcode.Pong, encode("Hello"), { mask: RFC_MASK }), [
      bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    ]);
  });

  it("encodeFrame writes the 256-byte and 64 KiB examples of RFC 6455 §5.7", () => {
    const small = pattern(256);
    assert.deepEqual(encodeFrame(Opcode.Binary, small), [
      concat([bytes(0x82, 0x7e, 0x01, 0x00), small]),
    ]);
    const large = pattern(65536);
    const out = encodeFrame(Opcode.Binary, large);
    assert.equal(out.length, 2);
    assert.deepEqual(out[0], bytes(0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00));
    assert.equal(out[1], large);
  });

  it("encodeFrame uses the minimal length encoding at the 125/126 and 65535/65536 boundaries", () => {
    const cases: [number, number[]][] = [
      [0, [0x82, 0x00]],
      [125, [0x82, 0x7d]],
      [126, [0x82, 0x7e, 0x00, 0x7e]],
      [65535, [0x82, 0x7e, 0xff, 0xff]],
      [65536, [0x82, 0x7f, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00]],
      [65537, [0x82, 0x7f, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x01]],
    ];
    for (const [length, header] of cases) {
      const payload = pattern(length);
      const out = encodeFrame(Opcode.Binary, payload);
      const head = out[0]!.subarray(0, header.length);
      assert.deepEqual([...head], header, `length ${length}`);
      assert.equal(concat(out).length, header.length + length, `length ${length}`);
    }
  });

  it("encodeFrame returns one buffer for a small payload and the caller's payload for a large one", () => {
    for (const length of [0, 1, 125, 126, 1024]) {
      const payload = pattern(length);
      const out = encodeFrame(Opcode.Binary, payload);
      assert.equal(out.length, 1, `length ${length}`);
      assert.deepEqual(out[0]!.subarray(out[0]!.length - length), payload);
    }
    for (const length of [1025, 65535, 65536, 100000]) {
      const payload = pattern(length);
      const out = encodeFrame(Opcode.Binary, payload);
      assert.equal(out.length, 2, `length ${length}`);
      assert.equal(out[1], payload, `the payload itself, length ${length}`);
      assert.equal(out[0]!.length, length < 65536 ? 4 : 10);
    }
  });

  it("encodeFrame returns one buffer for a masked frame of any size, leaving the payload as it was", () => {
    for (const length of [0, 125, 126, 1025, 65535, 65536]) {
      const payload = pattern(length);
      const out = encodeFrame(Opcode.Binary, payload, { mask: RFC_MASK });
      assert.equal(out.length, 1, `length ${length}`);
      const headerSize = (length < 126 ? 2 : length < 65536 ? 4 : 10) + 4;
      assert.equal(out[0]!.length, headerSize + length);
      assert.equal(out[0]![1]! & 0x80, 0x80, "mask bit");
      assert.deepEqual(out[0]!.subarray(headerSize - 4, headerSize), RFC_MASK);
      assert.deepEqual(out[0]!.subarray(headerSize), maskedCopy(pattern(length), RFC_MASK));
      assert.deepEqual(payload, pattern(length), "payload unchanged");
    }
  });

  it("encodeFrame with mask true draws a fresh key and masks with it", () => {
    const payload = encode("Hello, world");
    const keys = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const [out] = encodeFrame(Opcode.Text, payload, { mask: true });
      assert.equal(out![1], 0x80 | payload.length);
      const key = out!.subarray(2, 6);
      keys.add([...key].join());
      assert.deepEqual(out!.subarray(6), maskedCopy(payload, key));
    }
    // Four equal random 32-bit keys would mean the key is not random (chance 2^-96).
    assert.ok(keys.size > 1);
  });

  it("encodeFrame with mask false writes an unmasked frame", () => {
    assert.deepEqual(encodeFrame(Opcode.Text, encode("Hi"), { mask: false }), [
      bytes(0x81, 0x02, 0x48, 0x69),
    ]);
  });

  it("encodeFrame sets FIN and RSV1 as asked and never RSV2 or RSV3", () => {
    const cases: [boolean, boolean, number][] = [
      [true, false, 0x82],
      [false, false, 0x02],
      [true, true, 0xc2],
      [false, true, 0x42],
    ];
    for (const [fin, rsv1, b0] of cases) {
      const [out] = encodeFrame(Opcode.Binary, pattern(3), { fin, rsv1 });
      assert.equal(out![0], b0, `fin ${fin}, rsv1 ${rsv1}`);
    }
  });

  it("encodeFrame rejects a masking key that is not 4 bytes with a RangeError", () => {
    for (const length of [0, 3, 5]) {
      assert.throws(
        () => encodeFrame(Opcode.Text, encode("x"), { mask: new Uint8Array(length) }),
        RangeError,
        `key of ${length} bytes`,
      );
    }
  });

  it("encodeFrame writes a length beyond 2^32 with its high word", () => {
    // A large unmasked payload is returned as it is, so only its length is read: a stand-in
    // avoids allocating 4 GiB.
    const length = 2 ** 32 + 5;
    const payload = { length } as unknown as Uint8Array;
    const [header, body] = encodeFrame(Opcode.Binary, payload);
    assert.deepEqual(header, bytes(0x82, 0x7f, 0, 0, 0, 0x01, 0, 0, 0, 0x05));
    assert.equal(body, payload);
  });

  it("encodeFrame output parses back to the same frame, masked for a server and unmasked for a client", () => {
    for (const length of [0, 1, 125, 126, 1024, 1025, 65535, 65536, 70001]) {
      for (const opcode of [Opcode.Text, Opcode.Binary, Opcode.Continuation]) {
        for (const fin of [true, false]) {
          const payload = pattern(length, opcode);
          for (const role of ["server", "client"] as const) {
            const out = encodeFrame(opcode, payload, { fin, mask: role === "server" });
            const outcome = parseFrames([concat(out)], { role });
            assert.equal(outcome.error, undefined);
            assert.deepEqual(outcome.items, [
              frame(opcode, payload, { fin, masked: role === "server" }),
            ]);
          }
        }
      }
    }
  });

  it("encodeFrame writes control frames that the parser accepts", () => {
    const parser = new FrameParser({ role: "client" });
    const assembler = new MessageAssembler();
    const messages: unknown[] = [];
    for (
      const out of [
        encodeFrame(Opcode.Ping, pattern(125)),
        encodeFrame(Opcode.Pong, new Uint8Array(0)),
        encodeFrame(Opcode.Close, encodeClosePayload(1000, "bye")),
      ]
    ) {
      parser.push(concat(out), (f) => messages.push(assembler.push(f)));
    }
    assert.deepEqual(messages, [
      { type: "ping", data: pattern(125) },
      { type: "pong", data: new Uint8Array(0) },
      { type: "close", code: 1000, reason: "bye" },
    ]);
  });
});

describe("encodeClosePayload", () => {
  it("encodeClosePayload writes the code big-endian followed by the UTF-8 reason", () => {
    assert.deepEqual(encodeClosePayload(1000, "ok"), bytes(0x03, 0xe8, 0x6f, 0x6b));
    assert.deepEqual(encodeClosePayload(4999, "é"), bytes(0x13, 0x87, 0xc3, 0xa9));
  });

  it("encodeClosePayload writes only the code when there is no reason", () => {
    assert.deepEqual(encodeClosePayload(1001), bytes(0x03, 0xe9));
    assert.deepEqual(encodeClosePayload(3000, ""), bytes(0x0b, 0xb8));
  });

  it("encodeClosePayload writes an empty payload without a code", () => {
    assert.deepEqual(encodeClosePayload(), new Uint8Array(0));
  });

  it("encodeClosePayload rejects a reason without a code", () => {
    assert.throws(() => encodeClosePayload(undefined, "why"), RangeError);
  });

  it("encodeClosePayload rejects codes that may not be sent", () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5, NaN]) {
      assert.throws(() => encodeClosePayload(code), RangeError, `code ${code}`);
    }
  });

  it("encodeClosePayload accepts a reason of 123 bytes and rejects 124", () => {
    assert.equal(encodeClosePayload(1000, "x".repeat(123)).length, 125);
    assert.equal(encodeClosePayload(1000, "€".repeat(41)).length, 125);
    assert.throws(() => encodeClosePayload(1000, "x".repeat(124)), RangeError);
    assert.throws(() => encodeClosePayload(1000, "€".repeat(41) + "x"), RangeError);
  });

  it("encodeClosePayload output reads back as the same close message", () => {
    for (
      const [code, reason] of [[1000, ""], [1011, "Internal error"], [
        4000,
        "😀".repeat(30),
      ]] as const
    ) {
      const message = new MessageAssembler().push(
        frame(Opcode.Close, encodeClosePayload(code, reason)),
      );
      assert.deepEqual(message, { type: "close", code, reason });
    }
  });
});

describe("checkControlPayload", () => {
  it("checkControlPayload accepts payloads of 0 to 125 bytes", () => {
    checkControlPayload(new Uint8Array(0));
    checkControlPayload(new Uint8Array(125));
  });

  it("checkControlPayload rejects a payload of 126 bytes with a RangeError", () => {
    assert.throws(() => checkControlPayload(new Uint8Array(126)), RangeError);
  });
});
