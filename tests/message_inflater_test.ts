import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { zlibCompression } from "../src/adapters/zlib/mod.ts";
import { type CompressedMessage, MessageInflater } from "../src/connection/message_inflater.ts";
import { InvalidDataError, MessageTooBigError } from "../src/protocol/errors.ts";
import type { Message } from "../src/protocol/message_assembler.ts";
import { assertError } from "./helpers/errors.ts";
import { Random } from "./helpers/random.ts";

const encoder = new TextEncoder();
const WIDE = { windowBits: 15, memLevel: 8, level: 6, noContextTakeover: false };

function setup(maxMessageSize = 1 << 20) {
  const factory = zlibCompression();
  const compressor = factory.createCompressor(WIDE);
  const decompressor = factory.createDecompressor({ windowBits: 15, noContextTakeover: false });
  const delivered: Message[] = [];
  const failures: unknown[] = [];
  const events: string[] = [];
  const inflater = new MessageInflater({
    decompressor,
    maxMessageSize,
    deliver: (message) => {
      delivered.push(message);
      events.push(`deliver ${message.type}`);
    },
    fail: (error) => failures.push(error),
    pause: () => events.push("pause"),
    resume: () => events.push("resume"),
  });
  const compressed = async (type: "text" | "binary", data: Uint8Array, cut?: number) => {
    const bytes = await compressor.compress(data);
    const at = cut ?? bytes.length;
    return {
      type,
      compressed: true,
      parts: [bytes.subarray(0, at), bytes.subarray(at)],
    } satisfies CompressedMessage;
  };
  const close = () => {
    compressor.close();
    decompressor.close();
  };
  return { inflater, delivered, failures, events, compressed, close };
}

describe("MessageInflater", () => {
  it("MessageInflater hold stops after the message inflating, release goes on in order", async () => {
    const { inflater, delivered, events, compressed, close } = setup();
    const messages = [];
    for (let i = 0; i < 4; i++) messages.push(await compressed("text", encoder.encode(`m${i}`)));
    // As one read chunk would bring them; whoever takes them is full after the first.
    for (const message of messages) inflater.push(message);
    inflater.push({ type: "ping", data: new Uint8Array(0) });
    inflater.hold();
    // Give zlib every chance to go on: nothing is inflated while held.
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.deepEqual(delivered, [{ type: "text", data: "m0" }]);
    assert.equal(inflater.busy, true);
    inflater.release();
    await inflater.idle();
    assert.deepEqual(delivered.map((message) => message.type === "text" && message.data), [
      "m0",
      "m1",
      "m2",
      "m3",
      false,
    ]);
    assert.deepEqual(events.at(-1), "resume");
    close();
  });

  it("MessageInflater close while held ends the wait and delivers nothing more", async () => {
    const { inflater, delivered, events, compressed, close } = setup();
    const one = await compressed("text", encoder.encode("one"));
    const two = await compressed("text", encoder.encode("two"));
    inflater.push(one);
    inflater.push(two);
    inflater.hold();
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setTimeout(resolve, 1));
    inflater.close();
    await inflater.idle();
    assert.deepEqual(delivered, [{ type: "text", data: "one" }]);
    assert.equal(events.includes("resume"), false);
    close();
  });

  it("MessageInflater delivers compressed and plain messages in arrival order, pausing meanwhile", async () => {
    const { inflater, delivered, events, compressed, close } = setup();
    const ping: Message = { type: "ping", data: new Uint8Array([1]) };
    const first = await compressed("text", encoder.encode("first"));
    const second = await compressed("binary", new Uint8Array(5000).fill(3), 10);
    inflater.push(ping); // nothing waits: delivered at once
    assert.deepEqual(events, ["deliver ping"]);
    // As one read chunk would bring them: pushed without a turn of the event loop.
    inflater.push(first);
    inflater.push(ping);
    inflater.push({ type: "binary", data: new Uint8Array([2]) });
    inflater.push(second);
    inflater.push({ type: "close", code: 1000, reason: "" });
    assert.equal(inflater.busy, true);
    await inflater.idle();
    assert.equal(inflater.busy, false);
    assert.deepEqual(events, [
      "deliver ping",
      "pause",
      "deliver text",
      "deliver ping",
      "deliver binary",
      "deliver binary",
      "deliver close",
      "resume",
    ]);
    assert.deepEqual(delivered[1], { type: "text", data: "first" });
    assert.deepEqual(delivered[4], { type: "binary", data: new Uint8Array(5000).fill(3) });
    close();
  });

  it("MessageInflater gives binary data that owns its buffer", async () => {
    const { inflater, delivered, compressed, close } = setup();
    inflater.push(await compressed("binary", new Uint8Array([1, 2, 3])));
    inflater.push(await compressed("binary", new Uint8Array([4, 5])));
    await inflater.idle();
    for (const message of delivered) {
      assert.ok(message.type === "binary");
      assert.equal(message.data.byteOffset, 0);
      assert.equal(message.data.buffer.byteLength, message.data.length);
    }
    close();
  });

  it("MessageInflater decodes text whose characters straddle inflater chunks", async () => {
    const { inflater, delivered, compressed, close } = setup();
    // 4-byte characters over 100 KiB: 16 KiB chunk boundaries fall inside characters.
    const text = "a🚀ü".repeat(15_000);
    inflater.push(await compressed("text", encoder.encode(text), 7));
    await inflater.idle();
    assert.deepEqual(delivered, [{ type: "text", data: text }]);
    close();
  });

  it("MessageInflater fails with 1007 on compressed text that is not UTF-8 and delivers nothing after", async () => {
    const { inflater, delivered, failures, events, compressed, close } = setup();
    const bad = new Uint8Array([0x48, 0x69, 0xc3, 0x28]);
    inflater.push(await compressed("text", bad));
    inflater.push({ type: "ping", data: new Uint8Array(0) });
    await inflater.idle();
    inflater.push({ type: "ping", data: new Uint8Array(0) });
    assert.deepEqual(delivered, []);
    assert.equal(failures.length, 1);
    assertError(failures[0], { type: InvalidDataError, closeCode: 1007, code: "INVALID_UTF8" });
    assert.deepEqual(events, ["pause"], "no resume after a failure");
    close();
  });

  it("MessageInflater fails with 1009 past maxMessageSize counted on inflated bytes", async () => {
    const { inflater, delivered, failures, compressed, close } = setup(100_000);
    inflater.push(await compressed("binary", new Uint8Array(100_000)));
    await inflater.idle();
    assert.equal(delivered.length, 1);
    inflater.push(await compressed("binary", new Uint8Array(100_001)));
    inflater.push({ type: "binary", data: new Uint8Array(1) });
    await inflater.idle();
    assert.equal(delivered.length, 1);
    assertError(failures[0], {
      type: MessageTooBigError,
      closeCode: 1009,
      code: "MESSAGE_TOO_BIG",
      limit: 100_000,
    });
    close();
  });

  it("MessageInflater reads what a ws client compresses, split anywhere", async () => {
    const require = createRequire(import.meta.url);
    const path = join(dirname(require.resolve("ws/package.json")), "lib", "permessage-deflate.js");
    const WsDeflate = require(path) as new (options: Record<string, unknown>) => {
      accept(offers: Record<string, unknown>[]): unknown;
      compress(
        data: Uint8Array,
        fin: boolean,
        cb: (e: Error | null, out: Uint8Array) => void,
      ): void;
      cleanup(): void;
    };
    const client = new WsDeflate({ isServer: false });
    client.accept([{}]);
    const { inflater, delivered, close } = setup();
    const random = new Random(12);
    const sent: string[] = [];
    for (let i = 0; i < 50; i++) {
      const text = JSON.stringify({ i, words: random.bytes(random.int(0, 300)).join(",") });
      sent.push(text);
      const bytes = await new Promise<Uint8Array>((resolve, reject) =>
        client.compress(encoder.encode(text), true, (e, out) => (e ? reject(e) : resolve(out)))
      );
      const cut = random.int(0, bytes.length);
      inflater.push({
        type: "text",
        compressed: true,
        parts: [bytes.subarray(0, cut), bytes.subarray(cut)],
      });
    }
    await inflater.idle();
    assert.deepEqual(delivered, sent.map((data) => ({ type: "text", data })));
    client.cleanup();
    close();
  });
});
