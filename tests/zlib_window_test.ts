// The window engine of the node:zlib codec: the sliding window it keeps in place of zlib state,
// and the paths a message can take (one synchronous call, or a stream when it is large or
// inflates past what one call may produce) with the context carried across all of them.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ENGINE, zlibCompression } from "../src/adapters/zlib/mod.ts";
import { SlidingWindow } from "../src/adapters/zlib/window.ts";
import { INFLATE_SYNC_MAX, ONCE_OUTPUT_MAX } from "../src/adapters/zlib/window_inflater.ts";
import { MessageTooBigError } from "../src/protocol/errors.ts";
import { concat } from "./helpers/bytes.ts";
import { assertError } from "./helpers/errors.ts";
import { Random } from "./helpers/random.ts";

describe("SlidingWindow", () => {
  it("SlidingWindow keeps the last 2 ** bits bytes over pushes of every size", () => {
    const random = new Random(21);
    const window = new SlidingWindow(10);
    assert.equal(window.bytes(), undefined);
    let all = new Uint8Array(0);
    for (let i = 0; i < 400; i++) {
      const data = random.bytes(random.chance(0.05) ? random.int(1000, 3000) : random.int(0, 300));
      window.push(data);
      all = concat([all, data]).slice(-1024);
      assert.deepEqual(window.bytes() ?? new Uint8Array(0), all, `push ${i}`);
    }
    window.clear();
    assert.equal(window.bytes(), undefined);
  });
});

const ENGINE_TESTS = DEFAULT_ENGINE === "window";

describe("zlibCompression window engine", { skip: !ENGINE_TESTS }, () => {
  const codecs = () => {
    const factory = zlibCompression({ engine: "window" });
    const options = { windowBits: 12, memLevel: 5, level: 6, noContextTakeover: false };
    return {
      compressor: factory.createCompressor(options),
      decompressor: factory.createDecompressor({ windowBits: 12, noContextTakeover: false }),
    };
  };

  it("Decompressor carries the context through small, large and far-inflating messages", async () => {
    const { compressor, decompressor } = codecs();
    const random = new Random(22);
    const phrase = (text: string) => (times: number) =>
      concat(Array.from({ length: times }, () => new TextEncoder().encode(text)));
    const fox = phrase("the quick brown fox jumps over the lazy dog ");
    const lorem = phrase("lorem ipsum dolor sit amet ");
    const chat = phrase('{"type":"message","room":"general"} ');
    // Each message refers back into the one before it, whatever path that one took.
    const messages = [
      fox(3), // one call
      concat([random.bytes(20_000), lorem(3)]), // compressed past INFLATE_SYNC_MAX: a stream
      lorem(4), // one call again, referring into what the stream inflated
      chat(3000), // small compressed, inflates past ONCE_OUTPUT_MAX: retried as a stream
      chat(2),
    ];
    for (const [i, message] of messages.entries()) {
      const compressed = await compressor.compress(message);
      if (i === 1) assert.ok(compressed.length > INFLATE_SYNC_MAX);
      if (i === 3) {
        assert.ok(compressed.length <= INFLATE_SYNC_MAX && message.length > ONCE_OUTPUT_MAX);
      }
      assert.deepEqual(
        concat(await decompressor.decompress([compressed], 1 << 20)),
        message,
        `${i}`,
      );
    }
    compressor.close();
    decompressor.close();
  });

  it("Decompressor stops a message that inflates past the limit within one call's reach", async () => {
    const { compressor, decompressor } = codecs();
    const message = new Uint8Array(10_000).fill(3);
    const compressed = await compressor.compress(message);
    assert.equal(
      concat(await codecs().decompressor.decompress([compressed], 10_000)).length,
      10_000,
    );
    await assert.rejects(decompressor.decompress([compressed], 9_999), (error) => {
      assertError(error, {
        type: MessageTooBigError,
        closeCode: 1009,
        code: "MESSAGE_TOO_BIG",
        size: 10_000,
        limit: 9_999,
      });
      return true;
    });
    compressor.close();
  });

  it("Compressor output of a small message does not hold a 16 KiB buffer alive", async () => {
    const { compressor } = codecs();
    for (let i = 0; i < 3; i++) {
      const out = await compressor.compress(new TextEncoder().encode(`{"id":${i},"text":"hello"}`));
      // At most a shared 8 KiB pool slab (Node's Buffer pool); zlib's default chunk is 16 KiB.
      assert.ok(
        out.buffer.byteLength <= 8192,
        `${out.buffer.byteLength} bytes behind ${out.length}`,
      );
    }
    compressor.close();
  });

  it("Compressor keeps call order with synchronous and thread-pool messages in flight at once", async () => {
    const { compressor, decompressor } = codecs();
    const random = new Random(23);
    // Many messages in flight at once, small and large mixed: they leave in call order.
    const messages = Array.from({ length: 30 }, (_, i) => random.bytes(i % 3 === 0 ? 30_000 : 200));
    const compressed = await Promise.all(messages.map((message) => compressor.compress(message)));
    for (const [i, payload] of compressed.entries()) {
      assert.deepEqual(concat(await decompressor.decompress([payload], 1 << 20)), messages[i]);
    }
    compressor.close();
    await assert.rejects(compressor.compress(new Uint8Array(10)), /the codec is closed/);
    decompressor.close();
  });
});
