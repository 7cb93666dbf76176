import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { FrameParserStream } from "../src/protocol/frame_parser_stream.ts";
import type { Role } from "../src/protocol/frame_parser.ts";
import { chunksOf, concat, everyChunking, pattern, splitAt } from "./helpers/bytes.ts";
import { assertError } from "./helpers/errors.ts";
import {
  ERROR_FIXTURES,
  HELLO,
  leadingFrame,
  masked,
  MORE_FIXTURES,
  protocol,
  RFC_FIXTURES,
  text,
} from "./helpers/frame_fixtures.ts";
import { rawFrame } from "./helpers/frames.ts";
import { assertFramesEqual, streamFrames } from "./helpers/parse.ts";
import { Random } from "./helpers/random.ts";
import { collect, nextTask, readableOf } from "./helpers/streams.ts";

describe("FrameParserStream", () => {
  for (const fixture of [...RFC_FIXTURES, ...MORE_FIXTURES]) {
    if (fixture.bytes.length > 1000) continue; // the large ones run below, with fewer splits
    it(`FrameParserStream parses ${fixture.name} split at every byte boundary`, async () => {
      for (const { label, chunks } of everyChunking(fixture.bytes)) {
        const outcome = await streamFrames(chunks, { role: fixture.role });
        assert.equal(outcome.error, undefined, label);
        assertFramesEqual(outcome.items, fixture.frames, label);
      }
    });
  }

  it("FrameParserStream parses the large fixtures in random chunks", async () => {
    const random = new Random(5);
    for (const fixture of [...RFC_FIXTURES, ...MORE_FIXTURES]) {
      for (let round = 0; round < 5; round++) {
        const cuts: number[] = [];
        for (let at = random.int(0, 20); at < fixture.bytes.length; at += random.int(1, 20000)) {
          cuts.push(at);
        }
        const outcome = await streamFrames(splitAt(fixture.bytes, cuts), { role: fixture.role });
        assert.equal(outcome.error, undefined, fixture.name);
        assertFramesEqual(outcome.items, fixture.frames, fixture.name);
      }
    }
  });

  for (const fixture of ERROR_FIXTURES) {
    it(`FrameParserStream rejects ${fixture.name} after the frames before it`, async () => {
      const leading = leadingFrame(fixture.role);
      const input = concat([leading.bytes, fixture.bytes]);
      for (const { label, chunks } of everyChunking(input)) {
        const outcome = await streamFrames(chunks, { ...fixture.options, role: fixture.role });
        assertError(outcome.error, fixture.expected, label);
        assertFramesEqual(outcome.items, [leading.frame], label);
      }
    });
  }

  it("FrameParserStream delivers every frame completed before a violation in the same chunk", async () => {
    const chunk = concat([
      rawFrame(Opcode.Text, text("a"), masked),
      rawFrame(Opcode.Binary, text("b"), masked),
      rawFrame(Opcode.Ping, text("c"), masked),
      rawFrame(Opcode.Text, text("d")),
    ]);
    // A slow consumer: the error must still wait for every frame to be read.
    const outcome = await collect(
      readableOf([chunk]).pipeThrough(new FrameParserStream()),
      async () => {
        for (let i = 0; i < 3; i++) await nextTask();
      },
    );
    assert.deepEqual(outcome.items.map((frame) => new TextDecoder().decode(frame.payload)), [
      "a",
      "b",
      "c",
    ]);
    assertError(outcome.error, protocol("UNMASKED_FRAME"));
  });

  it("FrameParserStream fails with TRUNCATED_FRAME when the input ends inside a frame", async () => {
    const input = concat([
      rawFrame(Opcode.Text, HELLO, masked),
      rawFrame(Opcode.Binary, pattern(300), masked),
    ]);
    const firstEnd = 11;
    for (let end = 1; end < input.length; end++) {
      const prefix = input.subarray(0, end);
      const outcome = await streamFrames(end % 2 === 0 ? [prefix.slice()] : chunksOf(prefix, 7));
      if (end === firstEnd) {
        assert.equal(outcome.error, undefined, `ending at ${end}`);
      } else {
        assertError(outcome.error, protocol("TRUNCATED_FRAME"), `ending at ${end}`);
      }
      assert.equal(outcome.items.length, end >= firstEnd ? 1 : 0, `frames before ${end}`);
    }
  });

  it("FrameParserStream ends cleanly on empty input and between frames", async () => {
    assert.deepEqual(await streamFrames([]), { items: [], error: undefined, errored: false });
    const outcome = await streamFrames([
      new Uint8Array(0),
      rawFrame(Opcode.Ping, undefined, masked),
    ]);
    assert.equal(outcome.errored, false);
    assert.equal(outcome.items.length, 1);
  });

  it("FrameParserStream hands out a frame inside one chunk without a copy", async () => {
    const chunk = rawFrame(Opcode.Binary, pattern(2000), masked);
    const outcome = await streamFrames([chunk]);
    assert.equal(outcome.items[0]?.payload.buffer, chunk.buffer);
  });

  it("FrameParserStream stops waiting to report an error when its reader cancels", async () => {
    const stream = readableOf([
      concat([rawFrame(Opcode.Ping, HELLO, masked), rawFrame(Opcode.Ping, HELLO)]),
    ])
      .pipeThrough(new FrameParserStream());
    const reader = stream.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    await reader.cancel();
    // Nothing is left pending: the test runners' leak checks would report a running timer.
    await nextTask();
  });

  it("FrameParserStream rejects invalid options with a RangeError at construction", () => {
    for (const value of [0, -1, 1.5, NaN, "10", null]) {
      assert.throws(
        () => new FrameParserStream({ maxFrameSize: value as number }),
        RangeError,
        String(value),
      );
    }
    assert.throws(() => new FrameParserStream({ role: "peer" as Role }), RangeError);
  });
});
