// The node:zlib permessage-deflate codec: RFC 7692 §7.2.3 byte literals, round trips over many
// messages with and without context takeover, interop with the ws package's own implementation,
// limits, invalid data and closing.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DEFAULT_ENGINE, zlibCompression, type ZlibEngine } from "../src/adapters/zlib/mod.ts";
import type { CompressorOptions, Decompressor } from "../src/connection/compression.ts";
import { InvalidDataError, MessageTooBigError } from "../src/protocol/errors.ts";
import { concat } from "./helpers/bytes.ts";
import { assertError } from "./helpers/errors.ts";
import { Random } from "./helpers/random.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HELLO = encoder.encode("Hello");
/** RFC 7692 §7.2.3.1: "Hello" compressed, the sync-flush tail removed. */
const HELLO_DEFLATED = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

const WIDE: CompressorOptions = { windowBits: 15, memLevel: 8, level: 6, noContextTakeover: false };

/** Both engines where the runtime has what the window engine needs, else streams alone. */
const ENGINES: ZlibEngine[] = DEFAULT_ENGINE === "window" ? ["stream", "window"] : ["stream"];

function codecsOf(
  engine: ZlibEngine,
  compressor: Partial<CompressorOptions> = {},
  decompressor: { windowBits?: number; noContextTakeover?: boolean } = {},
) {
  const factory = zlibCompression({ engine });
  return {
    factory,
    compressor: factory.createCompressor({ ...WIDE, ...compressor }),
    decompressor: factory.createDecompressor({
      windowBits: decompressor.windowBits ?? compressor.windowBits ?? 15,
      noContextTakeover: decompressor.noContextTakeover ?? compressor.noContextTakeover ?? false,
    }),
  };
}

async function inflate(decompressor: Decompressor, ...parts: number[][]): Promise<string> {
  const chunks = await decompressor.decompress(parts.map((part) => new Uint8Array(part)), 1 << 20);
  return decoder.decode(concat(chunks));
}

/** A chat-like JSON message, so that context takeover has something to share. */
function chatMessage(random: Random, id: number): Uint8Array {
  const words = ["hello", "there", "deploy", "build", "green", "lunch", "the", "is", "ok", "🚀"];
  const text = Array.from({ length: random.int(0, 60) }, () => random.pick(words)).join(" ");
  return encoder.encode(JSON.stringify({ type: "message", id, user: random.pick(words), text }));
}

/** ws's own permessage-deflate, loaded by path (its package exports do not list it). */
interface WsPerMessageDeflate {
  accept(offers: Record<string, unknown>[]): Record<string, unknown>;
  compress(
    data: Uint8Array,
    fin: boolean,
    callback: (error: Error | null, data: Uint8Array) => void,
  ): void;
  decompress(
    data: Uint8Array,
    fin: boolean,
    callback: (error: Error | null, data: Uint8Array) => void,
  ): void;
  cleanup(): void;
}
type WsPerMessageDeflateClass = new (options: Record<string, unknown>) => WsPerMessageDeflate;
const require = createRequire(import.meta.url);
const WsDeflate = require(
  join(dirname(require.resolve("ws/package.json")), "lib", "permessage-deflate.js"),
) as WsPerMessageDeflateClass;

/** A ws endpoint in the client role, with the parameters netws agreed to. */
function wsClient(params: Record<string, unknown>): WsPerMessageDeflate {
  const client = new WsDeflate({ isServer: false });
  client.accept([params]);
  return client;
}

function wsCall(
  endpoint: WsPerMessageDeflate,
  method: "compress" | "decompress",
  data: Uint8Array,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    endpoint[method](data, true, (error, out) => (error ? reject(error) : resolve(out)));
  });
}

for (const engine of ENGINES) {
  const codecs = (
    compressor: Partial<CompressorOptions> = {},
    decompressor: { windowBits?: number; noContextTakeover?: boolean } = {},
  ) => codecsOf(engine, compressor, decompressor);

  describe(`zlibCompression (${engine}) RFC 7692 §7.2.3 examples`, () => {
    it('Compressor compresses "Hello" to the bytes of §7.2.3.1, without the tail', async () => {
      const { compressor } = codecs();
      assert.deepEqual([...await compressor.compress(HELLO)], HELLO_DEFLATED);
      compressor.close();
    });

    it("Decompressor inflates §7.2.3.1 whole and split across two fragments", async () => {
      const { decompressor } = codecs();
      assert.equal(await inflate(decompressor, HELLO_DEFLATED), "Hello");
      const fresh = codecs().decompressor;
      assert.equal(await inflate(fresh, [0xf2, 0x48, 0xcd], [0xc9, 0xc9, 0x07, 0x00]), "Hello");
      decompressor.close();
      fresh.close();
    });

    it("Compressor shares the window between messages (§7.2.3.2) unless told not to", async () => {
      const { compressor } = codecs();
      assert.deepEqual([...await compressor.compress(HELLO)], HELLO_DEFLATED);
      assert.deepEqual([...await compressor.compress(HELLO)], [0xf2, 0x00, 0x11, 0x00, 0x00]);
      const reset = codecs({ noContextTakeover: true }).compressor;
      for (let i = 0; i < 3; i++) {
        assert.deepEqual([...await reset.compress(HELLO)], HELLO_DEFLATED);
      }
      compressor.close();
      reset.close();
    });

    it("Decompressor reads the shared-window message of §7.2.3.2 after the first", async () => {
      const { decompressor } = codecs();
      assert.equal(await inflate(decompressor, HELLO_DEFLATED), "Hello");
      assert.equal(await inflate(decompressor, [0xf2, 0x00, 0x11, 0x00, 0x00]), "Hello");
      decompressor.close();
    });

    it("Decompressor reads an uncompressed block (§7.2.3.3)", async () => {
      const { decompressor } = codecs();
      const stored = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
      assert.equal(await inflate(decompressor, stored), "Hello");
      decompressor.close();
      // Followed by the header byte of its sync flush, the context goes on to the next message.
      const next = codecs().decompressor;
      assert.equal(await inflate(next, [...stored, 0x00]), "Hello");
      assert.equal(await inflate(next, HELLO_DEFLATED), "Hello");
      next.close();
    });

    it("Decompressor reads a BFINAL block (§7.2.3.4) and starts a new stream after it", async () => {
      const { decompressor } = codecs();
      assert.equal(await inflate(decompressor, HELLO_DEFLATED), "Hello");
      assert.equal(
        await inflate(decompressor, [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]),
        "Hello",
      );
      assert.equal(await inflate(decompressor, HELLO_DEFLATED), "Hello");
      decompressor.close();
    });

    it("Decompressor reads two deflate blocks in one message (§7.2.3.5)", async () => {
      const { decompressor } = codecs();
      const twoBlocks = [
        0xf2,
        0x48,
        0x05,
        0x00,
        0x00,
        0x00,
        0xff,
        0xff,
        0xca,
        0xc9,
        0xc9,
        0x07,
        0x00,
      ];
      assert.equal(await inflate(decompressor, twoBlocks), "Hello");
      decompressor.close();
    });

    it("Decompressor reads a message whose last fragment is only an empty block (§7.2.3.6)", async () => {
      const { decompressor } = codecs();
      const flushed = [...HELLO_DEFLATED, 0x00, 0x00, 0xff, 0xff];
      assert.equal(await inflate(decompressor, flushed, [0x00]), "Hello");
      assert.equal(await inflate(decompressor, [0xf2, 0x00, 0x11, 0x00, 0x00]), "Hello");
      decompressor.close();
    });

    it("Compressor sends an empty message as one 0x00 byte, and both sides read it", async () => {
      const { compressor, decompressor } = codecs();
      assert.deepEqual([...await compressor.compress(new Uint8Array(0))], [0x00]);
      assert.equal(await inflate(decompressor, [0x00]), "");
      assert.equal(await inflate(decompressor), "");
      compressor.close();
      decompressor.close();
    });

    it("Compressor output never keeps the 00 00 ff ff tail, and inflates once it is put back", async () => {
      const { compressor } = codecs();
      const random = new Random(7);
      for (let i = 0; i < 200; i++) {
        const out = await compressor.compress(chatMessage(random, i));
        const tail = [...out.subarray(-4)];
        assert.notDeepEqual(tail, [0x00, 0x00, 0xff, 0xff], `message ${i}`);
      }
      compressor.close();
    });
  });

  describe(`zlibCompression (${engine}) round trips`, () => {
    for (const noContextTakeover of [false, true]) {
      for (const windowBits of [9, 12, 15]) {
        it(`Compressor and Decompressor round-trip 300 messages (window ${windowBits}, context takeover ${!noContextTakeover})`, async () => {
          const { compressor, decompressor } = codecs({
            windowBits,
            noContextTakeover,
            memLevel: 5,
          });
          const random = new Random(windowBits * 2 + Number(noContextTakeover));
          let wire = 0;
          let plain = 0;
          for (let i = 0; i < 300; i++) {
            const message = random.chance(0.1)
              ? random.bytes(random.int(0, 70_000))
              : chatMessage(random, i);
            const compressed = await compressor.compress(message);
            wire += compressed.length;
            plain += message.length;
            // Hostile chunking: the compressed payload split into fragments anywhere.
            const cut = random.int(0, compressed.length);
            const parts = [compressed.subarray(0, cut), compressed.subarray(cut)];
            const out = concat(await decompressor.decompress(parts, 1 << 20));
            assert.deepEqual(out, message, `message ${i}`);
          }
          assert.ok(wire < plain, `compressed ${wire} of ${plain} bytes`);
          compressor.close();
          decompressor.close();
        });
      }
    }

    it("Compressor keeps call order when sync and stream paths mix", async () => {
      const { compressor, decompressor } = codecs({ noContextTakeover: true });
      const random = new Random(3);
      const messages = Array.from(
        { length: 40 },
        (_, i) => random.bytes(i % 2 === 0 ? 100 : 40_000),
      );
      const compressed = await Promise.all(messages.map((message) => compressor.compress(message)));
      for (let i = 0; i < messages.length; i++) {
        assert.deepEqual(
          concat(await decompressor.decompress([compressed[i]!], 1 << 20)),
          messages[i],
        );
      }
      compressor.close();
      decompressor.close();
    });

    it("Decompressor with an 8-bit window reads what zlib's smallest deflater writes", async () => {
      const { compressor, decompressor } = codecs({ windowBits: 9 }, { windowBits: 8 });
      const random = new Random(8);
      for (let i = 0; i < 50; i++) {
        const message = chatMessage(random, i);
        assert.deepEqual(
          concat(await decompressor.decompress([await compressor.compress(message)], 1 << 20)),
          message,
        );
      }
      compressor.close();
      decompressor.close();
    });

    it("Decompressor runs many connections at concurrency 1 without mixing them", async () => {
      const factory = zlibCompression({ concurrency: 1, engine });
      const random = new Random(11);
      await Promise.all(Array.from({ length: 20 }, async (_, c) => {
        const compressor = factory.createCompressor(WIDE);
        const decompressor = factory.createDecompressor({
          windowBits: 15,
          noContextTakeover: false,
        });
        for (let i = 0; i < 20; i++) {
          const message = chatMessage(random, c * 100 + i);
          const out = concat(
            await decompressor.decompress([await compressor.compress(message)], 1 << 20),
          );
          assert.deepEqual(out, message);
        }
        compressor.close();
        decompressor.close();
      }));
    });
  });

  describe(`zlibCompression (${engine}) compressShared`, () => {
    it("compressShared makes one payload that many no-context-takeover receivers read", async () => {
      const factory = zlibCompression({ engine });
      const settings = { windowBits: 12, memLevel: 5, level: 6 };
      const random = new Random(5);
      // Receivers keep their window (as a client may); the shared bytes never refer into it.
      const receivers = Array.from(
        { length: 5 },
        () => factory.createDecompressor({ windowBits: 12, noContextTakeover: false }),
      );
      const reference = factory.createCompressor({ ...settings, noContextTakeover: true });
      for (let i = 0; i < 30; i++) {
        const message = i % 10 === 9 ? random.bytes(100_000) : chatMessage(random, i);
        const shared = await factory.compressShared(message, settings);
        assert.deepEqual(shared, await reference.compress(message), `message ${i}`);
        for (const receiver of receivers) {
          assert.deepEqual(concat(await receiver.decompress([shared], 1 << 20)), message);
        }
      }
      for (const receiver of receivers) receiver.close();
      reference.close();
    });
  });

  describe(`zlibCompression (${engine}) interop with ws`, () => {
    it("Decompressor reads what a ws client compresses, with and without context takeover", async () => {
      for (const noContextTakeover of [false, true]) {
        const params = {
          client_max_window_bits: ["12"],
          ...(noContextTakeover ? { client_no_context_takeover: [true] } : {}),
        };
        const client = wsClient(params);
        const decompressor = zlibCompression({ engine }).createDecompressor({
          windowBits: 12,
          noContextTakeover,
        });
        const random = new Random(21);
        for (let i = 0; i < 100; i++) {
          const message = chatMessage(random, i);
          const compressed = await wsCall(client, "compress", message);
          assert.deepEqual(concat(await decompressor.decompress([compressed], 1 << 20)), message);
        }
        client.cleanup();
        decompressor.close();
      }
    });

    it("a ws client reads what Compressor compresses, with and without context takeover", async () => {
      for (const noContextTakeover of [false, true]) {
        const params = {
          server_max_window_bits: ["10"],
          ...(noContextTakeover ? { server_no_context_takeover: [true] } : {}),
        };
        const client = wsClient(params);
        const compressor = zlibCompression({ engine }).createCompressor({
          windowBits: 10,
          memLevel: 5,
          level: 6,
          noContextTakeover,
        });
        const random = new Random(22);
        for (let i = 0; i < 100; i++) {
          const message = i % 25 === 0 ? random.bytes(30_000) : chatMessage(random, i);
          const out = await wsCall(client, "decompress", await compressor.compress(message));
          assert.deepEqual(new Uint8Array(out), message);
        }
        client.cleanup();
        compressor.close();
      }
    });
  });

  describe(`zlibCompression (${engine}) limits and failures`, () => {
    it("Decompressor accepts exactly the limit and fails with 1009 one byte over it", async () => {
      const { compressor } = codecs();
      const message = new Random(4).bytes(100_000);
      const compressed = await compressor.compress(message);
      const exact = codecs().decompressor;
      assert.equal(concat(await exact.decompress([compressed], 100_000)).length, 100_000);
      const over = codecs().decompressor;
      await assert.rejects(over.decompress([compressed], 99_999), (error) => {
        assertError(error, {
          type: MessageTooBigError,
          closeCode: 1009,
          code: "MESSAGE_TOO_BIG",
          limit: 99_999,
        });
        const size = (error as MessageTooBigError).size;
        assert.ok(size > 99_999 && size <= 100_000, `stopped at ${size}`);
        return true;
      });
      // The decompressor is closed after a failure.
      await assert.rejects(
        over.decompress([compressed], 1 << 20),
        /Cannot inflate message: the codec is closed/,
      );
      compressor.close();
      exact.close();
    });

    it("Decompressor hands chunks to onChunk without keeping them, and stops when it throws", async () => {
      const { compressor } = codecs();
      const message = new Uint8Array(200_000).fill(7);
      const compressed = await compressor.compress(message);
      const decompressor = codecs().decompressor;
      let seen = 0;
      const kept = await decompressor.decompress(
        [compressed],
        1 << 20,
        (chunk) => (seen += chunk.length),
      );
      assert.deepEqual(kept, []);
      assert.equal(seen, 200_000);
      const stop = new Error("stop");
      let calls = 0;
      await assert.rejects(
        decompressor.decompress([await compressor.compress(message)], 1 << 20, () => {
          calls++;
          throw stop;
        }),
        (error) => error === stop,
      );
      assert.equal(calls, 1);
      compressor.close();
    });

    for (const noContextTakeover of [false, true]) {
      it(`Decompressor fails with 1007 on data that is not deflate (context takeover ${!noContextTakeover})`, async () => {
        for (const garbage of [[0xff, 0xff, 0xff], [0x07], [0x00, 0x05, 0x00, 0x00, 0x00]]) {
          const { decompressor } = codecs({ noContextTakeover });
          await assert.rejects(
            decompressor.decompress([new Uint8Array(garbage)], 1 << 20),
            (error) => {
              assertError(error, {
                type: InvalidDataError,
                closeCode: 1007,
                code: "INVALID_COMPRESSED_DATA",
              });
              return true;
            },
            JSON.stringify(garbage),
          );
          await assert.rejects(
            decompressor.decompress([new Uint8Array(HELLO_DEFLATED)], 100),
            /closed/,
          );
        }
      });
    }

    // A small payload from a peer that resets its window: the path that inflates in one call.
    it("Decompressor without context takeover holds a small bomb at exactly the limit and stops it one byte over", async () => {
      const { compressor } = codecs({ noContextTakeover: true });
      const size = 4 * 1024 * 1024;
      const bomb = await compressor.compress(new Uint8Array(size));
      assert.ok(bomb.length <= 4096, `the bomb is ${bomb.length} bytes`);
      const exact = codecs({ noContextTakeover: true }).decompressor;
      for (let i = 0; i < 3; i++) {
        assert.equal(concat(await exact.decompress([bomb], size)).length, size);
      }
      let seen = 0;
      await exact.decompress([bomb.subarray(0, 9), bomb.subarray(9)], size, (chunk) => {
        seen += chunk.length;
      });
      assert.equal(seen, size);
      const over = codecs({ noContextTakeover: true }).decompressor;
      await assert.rejects(over.decompress([bomb], size - 1), (error) => {
        assertError(error, {
          type: MessageTooBigError,
          closeCode: 1009,
          code: "MESSAGE_TOO_BIG",
          size,
          limit: size - 1,
        });
        return true;
      });
      await assert.rejects(
        over.decompress([bomb], size),
        /Cannot inflate message: the codec is closed/,
      );
      const stop = new Error("stop");
      await assert.rejects(
        exact.decompress([bomb], size, () => {
          throw stop;
        }),
        (error) => error === stop,
      );
      await assert.rejects(exact.decompress([bomb], size), /the codec is closed/);
      compressor.close();
    });

    it("close rejects what is pending and what comes after, and may be called again", async () => {
      const other = codecs().compressor;
      const big = await other.compress(new Random(2).bytes(500_000));
      other.close();
      const { compressor, decompressor } = codecs();
      const pending = compressor.compress(new Random(2).bytes(500_000));
      // Large enough for zlib's thread pool on every engine, so still running at close.
      const inflating = decompressor.decompress([big], 1 << 20);
      const queued = decompressor.decompress([new Uint8Array(HELLO_DEFLATED)], 100);
      compressor.close();
      decompressor.close();
      compressor.close();
      decompressor.close();
      await assert.rejects(pending, /^Error: Cannot compress message: the codec is closed$/);
      await assert.rejects(inflating, /^Error: Cannot inflate message: the codec is closed$/);
      await assert.rejects(queued, /^Error: Cannot inflate message: the codec is closed$/);
      await assert.rejects(compressor.compress(HELLO), /the codec is closed/);
      await assert.rejects(decompressor.decompress([], 100), /the codec is closed/);
    });
  });
}
