import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { zlibCompression } from "../src/adapters/zlib/mod.ts";
import type { Compressor } from "../src/connection/compression.ts";
import {
  deflateFrames,
  DeflateSender,
  type DeflateSenderOptions,
} from "../src/connection/deflate_sender.ts";
import { encodeFrame } from "../src/protocol/frame_encoder.ts";
import { concat } from "./helpers/bytes.ts";
import { Random } from "./helpers/random.ts";

const encoder = new TextEncoder();
const TEXT = 0x1;
const BINARY = 0x2;

/** One unmasked server frame, read back from the bytes written. */
interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  payload: Uint8Array;
}

function readFrames(bytes: Uint8Array): WireFrame[] {
  const frames: WireFrame[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    assert.equal(b1 & 0x80, 0, "a server never masks");
    let length = b1 & 0x7f;
    at += 2;
    if (length === 126) {
      length = view.getUint16(at);
      at += 2;
    } else if (length === 127) {
      length = view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
      at += 8;
    }
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      payload: bytes.subarray(at, at + length),
    });
    at += length;
  }
  return frames;
}

function setup(options: Partial<DeflateSenderOptions> & { noContextTakeover?: boolean } = {}) {
  const factory = zlibCompression();
  const compressor = options.compressor ?? factory.createCompressor({
    windowBits: 15,
    memLevel: 8,
    level: 6,
    noContextTakeover: options.noContextTakeover ?? false,
  });
  const decompressor = factory.createDecompressor({
    windowBits: 15,
    noContextTakeover: options.noContextTakeover ?? false,
  });
  const messages: Uint8Array[] = [];
  const failures: unknown[] = [];
  const sender = new DeflateSender({
    compressor,
    threshold: options.threshold ?? 0,
    fragmentSize: options.fragmentSize ?? Infinity,
    write: (frames) => messages.push(concat(frames)),
    fail: (error) => failures.push(error),
    onCompress: options.onCompress,
  });
  return { factory, compressor, decompressor, sender, messages, failures };
}

describe("DeflateSender", () => {
  it("DeflateSender clear drops what waits and writes the next frames at once", async () => {
    const { sender, messages, compressor, decompressor } = setup();
    sender.send(BINARY, new Random(2).bytes(64 * 1024));
    sender.sendFrames(encodeFrame(TEXT, encoder.encode("behind")));
    assert.equal(sender.busy, true);
    assert.equal(sender.pendingBytes, 64 * 1024);
    sender.clear();
    assert.equal(sender.busy, false);
    assert.equal(sender.pendingBytes, 0);
    await sender.idle(); // settled by the clear
    const close = encodeFrame(0x8, new Uint8Array([0x03, 0xf0]));
    sender.sendFrames(close);
    assert.deepEqual(messages, [concat(close)], "written at once, alone");
    // The message that was inside zlib comes out, and is dropped.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(messages.length, 1);
    compressor.close();
    decompressor.close();
  });

  it("DeflateSender frames a compressed message with RSV1 (RFC 7692 §7.2.3.1)", async () => {
    const { sender, messages, compressor, decompressor } = setup();
    sender.send(TEXT, encoder.encode("Hello"));
    await sender.idle();
    assert.deepEqual([...messages[0]!], [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    sender.send(TEXT, encoder.encode("Hello"));
    await sender.idle();
    // RFC 7692 §7.2.3.2: the second message refers back into the first.
    assert.deepEqual([...messages[1]!], [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    compressor.close();
    decompressor.close();
  });

  it("DeflateSender writes a message under the threshold at once, uncompressed, RSV1 clear", () => {
    const { sender, messages, compressor, decompressor } = setup({ threshold: 128 });
    sender.send(BINARY, new Uint8Array(127).fill(1));
    assert.equal(messages.length, 1, "written synchronously");
    const [frame] = readFrames(messages[0]!);
    assert.equal(frame!.rsv1, false);
    assert.equal(frame!.opcode, BINARY);
    assert.equal(frame!.payload.length, 127);
    compressor.close();
    decompressor.close();
  });

  it("DeflateSender keeps send order when small messages follow one being compressed", async () => {
    const { sender, messages, compressor, decompressor } = setup({ threshold: 100 });
    const random = new Random(9);
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 30; i++) {
      const payload = i % 3 === 0 ? random.bytes(200_000) : random.bytes(random.int(0, 99));
      sent.push(payload);
      sender.send(BINARY, payload);
    }
    assert.ok(sender.pendingBytes > 0, "payloads being compressed are counted");
    await sender.idle();
    assert.equal(sender.pendingBytes, 0);
    assert.equal(messages.length, sent.length);
    for (let i = 0; i < sent.length; i++) {
      const [frame] = readFrames(messages[i]!);
      const data = frame!.rsv1
        ? concat(await decompressor.decompress([frame!.payload], 1 << 20))
        : frame!.payload;
      assert.equal(frame!.rsv1, sent[i]!.length >= 100, `message ${i}`);
      assert.deepEqual(data, sent[i], `message ${i}`);
    }
    compressor.close();
    decompressor.close();
  });

  it("DeflateSender cuts the compressed bytes by fragmentSize, RSV1 on the first frame only", async () => {
    const { sender, messages, compressor, decompressor } = setup({ fragmentSize: 1000 });
    const payload = new Random(3).bytes(10_000); // random: compresses to a bit more than itself
    sender.send(BINARY, payload);
    await sender.idle();
    const frames = readFrames(messages[0]!);
    assert.ok(frames.length >= 10);
    frames.forEach((frame, i) => {
      assert.equal(frame.rsv1, i === 0, `RSV1 of frame ${i}`);
      assert.equal(frame.rsv2 || frame.rsv3, false);
      assert.equal(frame.opcode, i === 0 ? BINARY : 0x0, `opcode of frame ${i}`);
      assert.equal(frame.fin, i === frames.length - 1, `FIN of frame ${i}`);
      assert.ok(frame.payload.length <= 1000);
    });
    const inflated = await decompressor.decompress(frames.map((frame) => frame.payload), 1 << 20);
    assert.deepEqual(concat(inflated), payload);
    compressor.close();
    decompressor.close();
  });

  it("DeflateSender sends frames compressed elsewhere in order with its own", async () => {
    const { factory, sender, messages, compressor, decompressor } = setup({
      noContextTakeover: true,
    });
    const shared = await factory.compressShared(encoder.encode("to everyone"), {
      windowBits: 15,
      memLevel: 8,
      level: 6,
    });
    sender.send(TEXT, encoder.encode("x".repeat(100_000)));
    // Ready before the message ahead of it: it still waits its turn.
    sender.sendLater(Promise.resolve(deflateFrames(TEXT, shared, Infinity, true)), 11);
    await sender.idle();
    const texts: string[] = [];
    for (const message of messages) {
      const [frame] = readFrames(message);
      assert.equal(frame!.rsv1, true);
      texts.push(
        new TextDecoder().decode(concat(await decompressor.decompress([frame!.payload], 1 << 20))),
      );
    }
    assert.deepEqual(texts, ["x".repeat(100_000), "to everyone"]);
    compressor.close();
    decompressor.close();
  });

  it("DeflateSender reports a failing compressor once and writes nothing after it", async () => {
    let calls = 0;
    const failing: Compressor = {
      compress: () => {
        calls++;
        return Promise.reject(new Error("Cannot compress message: broken"));
      },
      close() {},
    };
    const { sender, messages, failures, decompressor } = setup({
      compressor: failing,
      threshold: 10,
    });
    sender.send(BINARY, new Uint8Array(50));
    sender.send(BINARY, new Uint8Array(5));
    sender.send(BINARY, new Uint8Array(50));
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(failures.length, 1);
    assert.deepEqual(messages, []);
    sender.send(BINARY, new Uint8Array(5));
    assert.deepEqual(messages, []);
    assert.equal(calls, 2);
    decompressor.close();
  });

  it("DeflateSender keeps frames given later and ready frames in send order, counting their bytes", async () => {
    const { sender, messages, decompressor, compressor } = setup();
    let resolveLater!: (frames: readonly Uint8Array[]) => void;
    sender.sendLater(new Promise((resolve) => resolveLater = resolve), 500);
    assert.equal(sender.pendingBytes, 500);
    sender.sendFrames(encodeFrame(TEXT, encoder.encode("b")), 3);
    sender.send(TEXT, encoder.encode("c"));
    assert.equal(sender.pendingBytes, 504);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(messages, [], "nothing overtakes the frames not ready yet");
    resolveLater(encodeFrame(TEXT, encoder.encode("a")));
    await sender.idle();
    assert.equal(sender.pendingBytes, 0);
    const [a, b, c] = messages.map((message) => readFrames(message)[0]!);
    assert.equal(new TextDecoder().decode(a!.payload), "a");
    assert.equal(new TextDecoder().decode(b!.payload), "b");
    assert.equal(c!.rsv1, true);
    const inflated = await decompressor.decompress([c!.payload], 100);
    assert.equal(new TextDecoder().decode(concat(inflated)), "c");
    compressor.close();
    decompressor.close();
  });

  it("DeflateSender tells onCompress of each message it compresses, not of the small ones", async () => {
    let compressions = 0;
    const { sender, messages, compressor, decompressor } = setup({
      threshold: 10,
      onCompress: () => void compressions++,
    });
    sender.send(TEXT, encoder.encode("short"));
    sender.send(TEXT, encoder.encode("long enough to compress"));
    sender.send(BINARY, new Uint8Array(100));
    await sender.idle();
    assert.equal(messages.length, 3);
    assert.equal(compressions, 2);
    compressor.close();
    decompressor.close();
  });

  it("DeflateSender fails once when frames given later reject, and writes nothing after", async () => {
    const { sender, messages, failures, compressor, decompressor } = setup();
    sender.sendLater(Promise.reject(new Error("Cannot compress message: broken")), 10);
    sender.sendFrames(encodeFrame(TEXT, encoder.encode("after")), 7);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(failures.length, 1);
    assert.deepEqual(messages, []);
    compressor.close();
    decompressor.close();
  });
});
