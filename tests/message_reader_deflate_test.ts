// MessageReader with permessage-deflate on (RFC 7692 §6): RSV1 accepted only on the first frame
// of a data message, compressed messages handed on in their place, every split of the input.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { zlibCompression } from "../src/adapters/zlib/mod.ts";
import { MessageInflater } from "../src/connection/message_inflater.ts";
import { type CompressedMessage, compressedSizeLimit } from "../src/protocol/compressed_message.ts";
import { Opcode } from "../src/protocol/constants.ts";
import { MessageTooBigError, ProtocolError } from "../src/protocol/errors.ts";
import type { Message } from "../src/protocol/message.ts";
import { MessageReader, type MessageReaderOptions } from "../src/protocol/message_reader.ts";
import { concat, everyChunking } from "./helpers/bytes.ts";
import { assertError } from "./helpers/errors.ts";
import { rawFrame, RFC_MASK } from "./helpers/frames.ts";

/** RFC 7692 §7.2.3.1: "Hello" compressed, the sync-flush tail removed. */
const HELLO = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
const RSV1 = 0b100;

type Item = Message | CompressedMessage;

function read(chunks: readonly Uint8Array[], options: MessageReaderOptions = {}) {
  const items: Item[] = [];
  let error: unknown;
  const reader = new MessageReader({ onCompressed: (message) => items.push(message), ...options });
  try {
    for (const chunk of chunks) reader.push(chunk, (message) => items.push(message));
  } catch (caught) {
    error = caught;
  }
  return { items, error };
}

const masked = (
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; rsv?: number } = {},
) => rawFrame(opcode, payload, { ...options, mask: RFC_MASK });

describe("MessageReader with permessage-deflate", () => {
  it("MessageReader hands on a compressed one-frame message (RFC 7692 §7.2.3.1) at every split", () => {
    // 0xc1: FIN, RSV1, text.
    const bytes = masked(Opcode.Text, HELLO, { rsv: RSV1 });
    assert.equal(bytes[0], 0xc1);
    for (const { label, chunks } of everyChunking(bytes)) {
      const { items, error } = read(chunks);
      assert.equal(error, undefined, label);
      assert.deepEqual(items, [{ type: "text", compressed: true, parts: [HELLO] }], label);
    }
  });

  it("MessageReader gathers a fragmented compressed message, RSV1 on its first frame only", () => {
    const bytes = concat([
      masked(Opcode.Binary, HELLO.subarray(0, 3), { fin: false, rsv: RSV1 }),
      masked(Opcode.Ping, new Uint8Array([1])),
      masked(Opcode.Continuation, HELLO.subarray(3)),
    ]);
    for (const { label, chunks } of everyChunking(bytes)) {
      const { items, error } = read(chunks);
      assert.equal(error, undefined, label);
      assert.deepEqual(items, [
        { type: "ping", data: new Uint8Array([1]) },
        { type: "binary", compressed: true, parts: [HELLO] },
      ], label);
    }
  });

  it("MessageReader keeps uncompressed messages as they are, between compressed ones", () => {
    const bytes = concat([
      masked(Opcode.Text, HELLO, { rsv: RSV1 }),
      masked(Opcode.Text, new TextEncoder().encode("plain")),
      masked(Opcode.Binary, HELLO, { rsv: RSV1 }),
    ]);
    const { items, error } = read([bytes]);
    assert.equal(error, undefined);
    assert.deepEqual(items, [
      { type: "text", compressed: true, parts: [HELLO] },
      { type: "text", data: "plain" },
      { type: "binary", compressed: true, parts: [HELLO] },
    ]);
  });

  it("MessageReader fails with 1002 on RSV1 of a continuation or control frame, and on RSV2/RSV3", () => {
    const cases: Array<[string, Uint8Array]> = [
      [
        "RSV1 on a continuation",
        concat([
          masked(Opcode.Text, HELLO.subarray(0, 3), { fin: false, rsv: RSV1 }),
          masked(Opcode.Continuation, HELLO.subarray(3), { rsv: RSV1 }),
        ]),
      ],
      ["RSV1 on a ping", masked(Opcode.Ping, new Uint8Array(0), { rsv: RSV1 })],
      ["RSV1 on a close", masked(Opcode.Close, new Uint8Array([0x03, 0xe8]), { rsv: RSV1 })],
      ["RSV2", masked(Opcode.Text, HELLO, { rsv: 0b010 })],
      ["RSV3", masked(Opcode.Text, HELLO, { rsv: 0b001 })],
      ["RSV1 and RSV2", masked(Opcode.Text, HELLO, { rsv: 0b110 })],
    ];
    for (const [label, bytes] of cases) {
      const { error } = read([bytes]);
      assertError(error, { type: ProtocolError, closeCode: 1002, code: "RESERVED_BITS" }, label);
    }
  });

  it("MessageReader without onCompressed still fails with 1002 on RSV1", () => {
    const reader = new MessageReader();
    assert.throws(
      () => reader.push(masked(Opcode.Text, HELLO, { rsv: RSV1 }), () => {}),
      (error) => {
        assertError(error, { type: ProtocolError, closeCode: 1002, code: "RESERVED_BITS" });
        return true;
      },
    );
  });

  it("MessageReader bounds the compressed bytes it holds by compressedSizeLimit, from the header", () => {
    const maxMessageSize = 100;
    const limit = compressedSizeLimit(maxMessageSize);
    const fits = read([masked(Opcode.Binary, new Uint8Array(limit), { rsv: RSV1 })], {
      maxMessageSize,
    });
    assert.equal(fits.error, undefined);
    assert.equal(fits.items.length, 1);
    // One byte more fails from the header alone: no payload is sent.
    const header = masked(Opcode.Binary, new Uint8Array(limit + 1), { rsv: RSV1 }).subarray(0, 8);
    const over = read([header], { maxMessageSize });
    assertError(over.error, {
      type: MessageTooBigError,
      closeCode: 1009,
      code: "MESSAGE_TOO_BIG",
      size: limit + 1,
      limit,
    });
  });

  it("MessageReader and MessageInflater read what the zlib codec compressed, in order", async () => {
    const factory = zlibCompression();
    const compressor = factory.createCompressor({
      windowBits: 15,
      memLevel: 8,
      level: 6,
      noContextTakeover: false,
    });
    const decompressor = factory.createDecompressor({ windowBits: 15, noContextTakeover: false });
    const delivered: Message[] = [];
    const inflater = new MessageInflater({
      decompressor,
      maxMessageSize: 1 << 20,
      deliver: (message) => delivered.push(message),
      fail: (error) => assert.fail(String(error)),
      pause() {},
      resume() {},
    });
    const reader = new MessageReader({ onCompressed: (message) => inflater.push(message) });
    const texts = ["first", "second ".repeat(500), "third"];
    const frames: Uint8Array[] = [];
    for (const text of texts) {
      const payload = await compressor.compress(new TextEncoder().encode(text));
      // The compressed payload in two frames: RSV1 on the first only.
      const cut = payload.length >> 1;
      frames.push(masked(Opcode.Text, payload.subarray(0, cut), { fin: false, rsv: RSV1 }));
      frames.push(masked(Opcode.Continuation, payload.subarray(cut)));
      frames.push(masked(Opcode.Pong, new Uint8Array(0)));
    }
    reader.push(concat(frames), (message) => inflater.push(message));
    await inflater.idle();
    assert.deepEqual(
      delivered,
      texts.flatMap((data) => [
        { type: "text", data },
        { type: "pong", data: new Uint8Array(0) },
      ]),
    );
    compressor.close();
    decompressor.close();
  });
});
