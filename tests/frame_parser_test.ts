import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { MessageTooBigError, type ProtocolError } from "../src/protocol/errors.ts";
import type { Frame } from "../src/protocol/frame.ts";
import { FrameParser, type Role } from "../src/protocol/frame_parser.ts";
import { MessageAssembler } from "../src/protocol/message_assembler.ts";
import { bytesEqual, chunksOf, concat, everyChunking, pattern, splitAt } from "./helpers/bytes.ts";
import { assertError, assertThrowsError } from "./helpers/errors.ts";
import {
  ERROR_FIXTURES,
  expectFrame,
  header64,
  HELLO,
  leadingFrame,
  masked,
  MiB,
  MORE_FIXTURES,
  protocol,
  RFC_FIXTURES,
  text,
  tooBig,
} from "./helpers/frame_fixtures.ts";
import { rawFrame, RFC_MASK } from "./helpers/frames.ts";
import { assertFramesEqual, parseFrames } from "./helpers/parse.ts";
import { Random } from "./helpers/random.ts";

/** Compares one large frame: its header, its length and 64 bytes at both ends and around `at`. */
function assertLargeFrameAround(actual: Frame[], expected: Frame[], at: number, label: string) {
  assert.equal(actual.length, 1, label);
  assert.equal(expected.length, 1, label);
  const { payload, ...header } = actual[0]!;
  const { payload: expectedPayload, ...expectedHeader } = expected[0]!;
  assert.deepEqual(header, expectedHeader, label);
  assert.equal(payload.length, expectedPayload.length, label);
  for (const start of [0, at - 64, payload.length - 64]) {
    const window = (bytes: Uint8Array) => bytes.subarray(Math.max(0, start), start + 128);
    assert.ok(
      bytesEqual(window(payload), window(expectedPayload)),
      `${label}, bytes from ${start}`,
    );
  }
}

describe("FrameParser", () => {
  for (const fixture of [...RFC_FIXTURES, ...MORE_FIXTURES]) {
    it(`FrameParser parses ${fixture.name} split at every byte boundary`, () => {
      // The parser unmasks in place: masked input gets fresh chunks for each run, unmasked input
      // (a client's) is only viewed, which keeps the 64 KiB runs fast, and must stay unchanged.
      const original = fixture.bytes.slice();
      const all = fixture.everySplit ?? true;
      const end = fixture.bytes.length;
      for (const { label, chunks } of everyChunking(fixture.bytes, fixture.role === "server")) {
        const at = chunks.length === 2 ? chunks[0]!.length : -1;
        if (!all && at > 300 && at < end - 300) continue;
        const outcome = parseFrames(chunks, { role: fixture.role });
        assert.equal(outcome.error, undefined, label);
        if (at > 300 && at < end - 300 && at % 97 !== 0) {
          // A split inside a large payload: compare where a copy could go wrong (both ends and
          // around the split), and everything on every 97th split; a full compare each time
          // would multiply the run time.
          assertLargeFrameAround(
            outcome.items,
            fixture.frames,
            at - (end - fixture.frames[0]!.payload.length),
            label,
          );
        } else {
          assertFramesEqual(outcome.items, fixture.frames, label);
        }
        assert.equal(outcome.parser.midFrame, false, label);
      }
      assert.deepEqual(fixture.bytes, original);
    });
  }

  for (const fixture of ERROR_FIXTURES) {
    it(`FrameParser rejects ${fixture.name} however it is split`, () => {
      const leading = leadingFrame(fixture.role);
      for (const before of [0, 1]) {
        const input = before === 0 ? fixture.bytes : concat([leading.bytes, fixture.bytes]);
        for (const { label, chunks } of everyChunking(input)) {
          const context = `${label}, ${before} frame(s) before`;
          const outcome = parseFrames(chunks, { ...fixture.options, role: fixture.role });
          assertError(outcome.error, fixture.expected, context);
          assertFramesEqual(outcome.items, before === 0 ? [] : [leading.frame], context);
        }
      }
    });
  }

  it("FrameParser delivers the frames completed before a violation in the same chunk first", () => {
    const log: string[] = [];
    const parser = new FrameParser();
    const chunk = concat([
      rawFrame(Opcode.Text, text("a"), masked),
      rawFrame(Opcode.Ping, text("b"), masked),
      rawFrame(Opcode.Text, text("c"), { rsv: 4, mask: RFC_MASK }),
      rawFrame(Opcode.Text, text("d"), masked),
    ]);
    try {
      parser.push(chunk, (frame) => log.push(new TextDecoder().decode(frame.payload)));
    } catch (error) {
      log.push((error as ProtocolError).code);
    }
    assert.deepEqual(log, ["a", "b", "RESERVED_BITS"]);
  });

  it("FrameParser keeps throwing the same error after a violation", () => {
    const parser = new FrameParser();
    const first = assertThrowsError(
      () => parser.push(rawFrame(Opcode.Text, HELLO), () => {}),
      protocol("UNMASKED_FRAME"),
    );
    let delivered = 0;
    for (const chunk of [rawFrame(Opcode.Text, HELLO, masked), new Uint8Array(0)]) {
      assert.throws(() => parser.push(chunk, () => delivered++), (error) => error === first);
    }
    assert.equal(delivered, 0);
  });

  it("FrameParser rejects an oversized frame as soon as its header is pushed, before any payload", () => {
    const header = header64(0x82, [0, 0, 0, 0, 0x01, 0x00, 0x00, 0x01]);
    const parser = new FrameParser();
    assertThrowsError(() => parser.push(header, () => {}), tooBig(16 * MiB + 1, 16 * MiB));
    assert.equal(parser.heldBytes, 14, "no payload buffer was allocated");
  });

  it("FrameParser rejects an oversized frame on the push that completes its header", () => {
    for (const role of ["server", "client"] as const) {
      const mask = role === "server" ? RFC_MASK : undefined;
      for (const [limit, length] of [[125, 126], [65535, 65536], [100, 65536]] as const) {
        const header = rawFrame(Opcode.Binary, undefined, { mask, declaredLength: length });
        const parser = new FrameParser({ role, maxFrameSize: limit });
        for (let i = 0; i < header.length - 1; i++) {
          parser.push(header.slice(i, i + 1), () => assert.fail("no frame expected"));
        }
        assertThrowsError(
          () => parser.push(header.slice(-1), () => {}),
          tooBig(length, limit),
          `${role}, ${length} over ${limit}`,
        );
      }
    }
  });

  it("FrameParser accepts a frame of exactly maxFrameSize and rejects one byte more, for each length encoding", () => {
    for (const limit of [1, 124, 125, 126, 65535, 65536, 70000]) {
      const atLimit = parseFrames([rawFrame(Opcode.Binary, pattern(limit), masked)], {
        maxFrameSize: limit,
      });
      assert.equal(atLimit.error, undefined, `at ${limit}`);
      assert.equal(atLimit.items[0]?.payload.length, limit);
      const over = parseFrames([rawFrame(Opcode.Binary, pattern(limit + 1), masked)], {
        maxFrameSize: limit,
      });
      assertError(over.error, tooBig(limit + 1, limit), `over ${limit}`);
    }
  });

  it("FrameParser accepts the default limit of 16 MiB exactly", () => {
    const payload = pattern(16 * MiB);
    const outcome = parseFrames([rawFrame(Opcode.Binary, payload)], { role: "client" });
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.items[0]?.payload.length, 16 * MiB);
  });

  it("FrameParser with maxFrameSize Infinity accepts a header declaring Number.MAX_SAFE_INTEGER bytes", () => {
    const parser = new FrameParser({ maxFrameSize: Infinity });
    parser.push(header64(0x82, [0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), () => {});
    assert.equal(parser.midFrame, true);
  });

  it("FrameParser applies controls' 125-byte limit even with a larger maxFrameSize", () => {
    const ok = parseFrames([rawFrame(Opcode.Close, pattern(125), masked)], {
      maxFrameSize: Infinity,
    });
    assert.equal(ok.error, undefined);
    assert.equal(ok.items[0]?.payload.length, 125);
  });

  it("FrameParser applies maxFrameSize to control frames too", () => {
    const outcome = parseFrames([rawFrame(Opcode.Ping, pattern(11), masked)], { maxFrameSize: 10 });
    assertError(outcome.error, tooBig(11, 10));
  });

  it("FrameParser requires masked frames by default (role server)", () => {
    const outcome = parseFrames([rawFrame(Opcode.Text, HELLO)]);
    assertError(outcome.error, protocol("UNMASKED_FRAME"));
  });

  it("FrameParser delivers the same frames for random chunkings of many frames", () => {
    const random = new Random(0x70617273);
    for (let round = 0; round < 200; round++) {
      const role: Role = random.chance(0.5) ? "server" : "client";
      const parts: Uint8Array[] = [];
      const frames: Frame[] = [];
      const count = random.int(1, 12);
      for (let i = 0; i < count; i++) {
        const opcode = random.pick([Opcode.Text, Opcode.Binary, Opcode.Ping, Opcode.Continuation]);
        const control = opcode === Opcode.Ping;
        const size = control ? random.int(0, 125) : random.pick([0, 1, 5, 125, 126, 300, 70000]);
        const payload = random.bytes(size);
        const fin = control || random.chance(0.7);
        const mask = role === "server" ? random.bytes(4) : undefined;
        parts.push(rawFrame(opcode, payload, { fin, mask }));
        frames.push(expectFrame(opcode, payload, { fin, masked: role === "server" }));
      }
      const all = concat(parts);
      const cuts: number[] = [];
      for (let at = random.int(0, 40); at < all.length; at += random.int(0, 3000)) cuts.push(at);
      const outcome = parseFrames(splitAt(all, cuts), { role });
      assert.equal(outcome.error, undefined, `round ${round}`);
      assertFramesEqual(outcome.items, frames, `round ${round}`);
    }
  });

  it("FrameParser ignores empty chunks anywhere", () => {
    const input = rawFrame(Opcode.Text, HELLO, masked);
    const chunks = chunksOf(input, 1).flatMap((
      chunk,
    ) => [new Uint8Array(0), chunk, new Uint8Array(0)]);
    const outcome = parseFrames(chunks);
    assertFramesEqual(outcome.items, [expectFrame(Opcode.Text, HELLO, { masked: true })]);
  });

  it("FrameParser hands out a frame inside one chunk as a view of that chunk, without a copy", () => {
    const chunk = concat([
      rawFrame(Opcode.Binary, pattern(300), masked),
      rawFrame(Opcode.Text, HELLO, masked),
    ]);
    const outcome = parseFrames([chunk]);
    assert.equal(outcome.items.length, 2);
    const [first, second] = outcome.items as [Frame, Frame];
    assert.equal(first.payload.buffer, chunk.buffer);
    assert.equal(first.payload.byteOffset, 8);
    assert.equal(second.payload.buffer, chunk.buffer);
    assert.equal(second.payload.byteOffset, 8 + 300 + 6);
  });

  it("FrameParser unmasks a payload in place, in the chunk it was given", () => {
    const chunk = rawFrame(Opcode.Text, HELLO, masked);
    parseFrames([chunk]);
    assert.deepEqual(chunk.subarray(6), HELLO);
  });

  it("FrameParser copies a frame spanning chunks once, into a buffer of its exact size", () => {
    for (const size of [2, 125, 126, 65536]) {
      const input = rawFrame(Opcode.Binary, pattern(size), masked);
      const chunks = splitAt(input, [input.length - 1]);
      const outcome = parseFrames(chunks);
      const payload = outcome.items[0]!.payload;
      assert.ok(chunks.every((chunk) => chunk.buffer !== payload.buffer), `size ${size}`);
      assert.equal(payload.byteOffset, 0);
      assert.equal(payload.buffer.byteLength, size);
      assert.deepEqual(payload, pattern(size));
    }
  });

  it("FrameParser calls onHeader with the opcode and length before the payload arrives", () => {
    const calls: string[] = [];
    const parser = new FrameParser({
      role: "client",
      onHeader: (opcode, length) => calls.push(`header ${opcode} ${length}`),
    });
    const input = concat([
      rawFrame(Opcode.Binary, pattern(300), { fin: false }),
      rawFrame(Opcode.Ping, HELLO),
    ]);
    for (const chunk of chunksOf(input, 1)) {
      parser.push(chunk, (frame) => calls.push(`frame ${frame.opcode} ${frame.payload.length}`));
    }
    assert.deepEqual(calls, ["header 2 300", "frame 2 300", "header 9 5", "frame 9 5"]);
  });

  it("FrameParser propagates an error thrown by onHeader and keeps throwing it", () => {
    const assembler = new MessageAssembler({ maxMessageSize: 100 });
    const parser = new FrameParser({
      onHeader: (opcode, length) => assembler.checkHeader(opcode, length),
    });
    const header = rawFrame(Opcode.Binary, undefined, { mask: RFC_MASK, declaredLength: 101 });
    const error = assertThrowsError(() => parser.push(header, () => {}), {
      type: MessageTooBigError,
      closeCode: 1009,
      code: "MESSAGE_TOO_BIG",
      size: 101,
      limit: 100,
    });
    assert.throws(() => parser.push(new Uint8Array(1), () => {}), (thrown) => thrown === error);
  });

  it("FrameParser midFrame tells whether a frame was started and not finished", () => {
    const input = rawFrame(Opcode.Text, HELLO, masked);
    const parser = new FrameParser();
    assert.equal(parser.midFrame, false);
    for (let i = 0; i < input.length; i++) {
      parser.push(input.slice(i, i + 1), () => {});
      assert.equal(parser.midFrame, i < input.length - 1, `after byte ${i}`);
    }
  });

  it("FrameParser heldBytes counts the partial payload of a frame spanning chunks", () => {
    const parser = new FrameParser();
    assert.equal(parser.heldBytes, 14);
    const input = rawFrame(Opcode.Binary, pattern(1000), masked);
    parser.push(input.slice(0, 20), () => {});
    assert.equal(parser.heldBytes, 1000 + 14);
    parser.push(input.slice(20), () => {});
    assert.equal(parser.heldBytes, 14);
  });

  it("FrameParser rejects invalid maxFrameSize values with a RangeError", () => {
    for (const value of [0, -1, 1.5, NaN, -Infinity, 2 ** 53, "10", null]) {
      assert.throws(
        () => new FrameParser({ maxFrameSize: value as number }),
        RangeError,
        String(value),
      );
    }
  });

  it("FrameParser accepts 1, Number.MAX_SAFE_INTEGER and Infinity as maxFrameSize", () => {
    for (const value of [1, Number.MAX_SAFE_INTEGER, Infinity]) {
      new FrameParser({ maxFrameSize: value });
    }
  });

  it("FrameParser rejects an invalid role with a RangeError", () => {
    for (const value of ["Server", "", "both", 1, null]) {
      assert.throws(() => new FrameParser({ role: value as Role }), RangeError, String(value));
    }
  });
});
