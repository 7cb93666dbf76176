import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { MessageTooBigError, ProtocolError } from "../src/protocol/errors.ts";
import {
  type FrameHandler,
  FrameScanner,
  type FrameScannerOptions,
} from "../src/protocol/frame_scanner.ts";
import { bytesEqual, concat, everyChunking, pattern } from "./helpers/bytes.ts";
import { assertThrowsError, type ExpectedError } from "./helpers/errors.ts";
import { rawFrame, RFC_MASK } from "./helpers/frames.ts";

const { Text, Binary, Continuation, Ping } = Opcode;
const protocol = (code: ExpectedError["code"]): ExpectedError => ({
  type: ProtocolError,
  closeCode: 1002,
  code,
});

interface Scanned {
  header: [number, boolean, number, boolean];
  slices: Uint8Array[];
  ended: boolean;
}

/** A handler that records every event, checking their order as it goes. */
function recorder(): { frames: Scanned[]; handler: FrameHandler } {
  const frames: Scanned[] = [];
  const handler: FrameHandler = {
    onHeader(opcode, fin, payloadLength, rsv1) {
      assert.ok(frames.length === 0 || frames.at(-1)!.ended, "a header after the last frame ended");
      frames.push({ header: [opcode, fin, payloadLength, rsv1], slices: [], ended: false });
    },
    onPayload(slice, end) {
      const frame = frames.at(-1)!;
      assert.equal(frame.ended, false, "a slice after the frame ended");
      frame.slices.push(slice);
      frame.ended = end;
    },
  };
  return { frames, handler };
}

function scan(chunks: readonly Uint8Array[], options: FrameScannerOptions = {}) {
  const scanner = new FrameScanner(options);
  const { frames, handler } = recorder();
  for (const chunk of chunks) scanner.push(chunk, handler);
  return { frames, scanner };
}

describe("FrameScanner", () => {
  const payloads = [pattern(300, 1), pattern(5, 9), new Uint8Array(0), pattern(70000, 3)];
  const input = concat([
    rawFrame(Binary, payloads[0], { fin: false, mask: RFC_MASK }),
    rawFrame(Ping, payloads[1], { mask: new Uint8Array([1, 2, 3, 4]) }),
    rawFrame(Continuation, payloads[2], { fin: false, mask: RFC_MASK }),
    rawFrame(Continuation, payloads[3], { mask: new Uint8Array([0xff, 0, 0x80, 7]) }),
  ]);

  it("FrameScanner hands each payload on in unmasked slices, however the input is split", () => {
    let runs = 0;
    for (const { label, chunks } of everyChunking(input)) {
      // Every split of the 70000-byte frame is slow to check: keep those near its ends, every
      // split elsewhere, and 1-byte chunks.
      const at = chunks.length === 2 ? chunks[0]!.length : -1;
      if (at > 400 && at < input.length - 400 && at % 211 !== 0) continue;
      runs++;
      const { frames, scanner } = scan(chunks);
      assert.deepEqual(frames.map((frame) => frame.header), [
        [Binary, false, 300, false],
        [Ping, true, 5, false],
        [Continuation, false, 0, false],
        [Continuation, true, 70000, false],
      ], label);
      frames.forEach((frame, i) => {
        assert.equal(frame.ended, true, `${label}, frame ${i} ended`);
        assert.ok(bytesEqual(concat(frame.slices), payloads[i]!), `${label}, payload ${i}`);
      });
      assert.equal(scanner.midFrame, false, label);
    }
    assert.ok(runs > 1000);
  });

  it("FrameScanner hands out slices as views of the chunks, without a copy", () => {
    const chunks = [input.slice(0, 100), input.slice(100, 50000), input.slice(50000)];
    const { frames } = scan(chunks);
    for (const frame of frames) {
      for (const slice of frame.slices) {
        assert.ok(chunks.some((chunk) => chunk.buffer === slice.buffer), "a view of a chunk");
      }
    }
    // The first frame's payload starts after its 8-byte header and is split by the first cut.
    assert.deepEqual(frames[0]!.slices.map((slice) => slice.length), [92, 208]);
  });

  it("FrameScanner gives an empty payload one empty slice that ends the frame", () => {
    const { frames } = scan([rawFrame(Text, undefined, { mask: RFC_MASK })]);
    assert.equal(frames.length, 1);
    assert.deepEqual(frames[0]!.slices.map((slice) => slice.length), [0]);
    assert.equal(frames[0]!.ended, true);
  });

  it("FrameScanner rejects an oversized frame from its header, before any payload slice", () => {
    const { frames, handler } = recorder();
    const scanner = new FrameScanner({ maxFrameSize: 100 });
    const bytes = rawFrame(Binary, pattern(101), { mask: RFC_MASK });
    assertThrowsError(() => scanner.push(bytes, handler), {
      type: MessageTooBigError,
      closeCode: 1009,
      code: "FRAME_TOO_BIG",
      size: 101,
      limit: 100,
    });
    assert.equal(frames.length, 0);
  });

  it("FrameScanner propagates what its handler throws and keeps throwing it", () => {
    const scanner = new FrameScanner();
    const failure = new Error("the handler failed");
    let slices = 0;
    const handler: FrameHandler = {
      onHeader() {},
      onPayload(slice) {
        slices++;
        if (slice.includes(0xff)) throw failure;
      },
    };
    const bytes = rawFrame(Binary, new Uint8Array([1, 0xff, 2, 3]), { mask: RFC_MASK });
    scanner.push(bytes.slice(0, 7), handler);
    assert.throws(() => scanner.push(bytes.slice(7), handler), (error) => error === failure);
    assert.throws(() => scanner.push(new Uint8Array(0), handler), (error) => error === failure);
    assert.equal(slices, 2);
  });

  it("FrameScanner rejects RSV1 unless allowRsv1 is set, and reports it on the first data frame", () => {
    const compressed = rawFrame(Text, pattern(3), { fin: false, rsv: 4, mask: RFC_MASK });
    assertThrowsError(() => scan([compressed.slice()]), protocol("RESERVED_BITS"));
    const { frames } = scan([
      compressed.slice(),
      rawFrame(Continuation, pattern(2), { mask: RFC_MASK }),
    ], { allowRsv1: true });
    assert.deepEqual(frames.map((frame) => frame.header), [
      [Text, false, 3, true],
      [Continuation, true, 2, false],
    ]);
  });

  it("FrameScanner with allowRsv1 still rejects RSV1 on control and continuation frames, and RSV2 and RSV3", () => {
    const cases: [string, Uint8Array][] = [
      ["a ping with RSV1", rawFrame(Ping, undefined, { rsv: 4, mask: RFC_MASK })],
      [
        "a continuation with RSV1",
        concat([
          rawFrame(Binary, pattern(1), { fin: false, mask: RFC_MASK }),
          rawFrame(Continuation, pattern(1), { rsv: 4, mask: RFC_MASK }),
        ]),
      ],
      ["a text frame with RSV2", rawFrame(Text, undefined, { rsv: 2, mask: RFC_MASK })],
      ["a text frame with RSV1 and RSV3", rawFrame(Text, undefined, { rsv: 5, mask: RFC_MASK })],
    ];
    for (const [name, bytes] of cases) {
      assertThrowsError(() => scan([bytes], { allowRsv1: true }), protocol("RESERVED_BITS"), name);
    }
  });

  it("FrameScanner midFrame tells whether a frame was started and not finished", () => {
    const bytes = rawFrame(Text, pattern(5), { mask: RFC_MASK });
    const scanner = new FrameScanner();
    const { handler } = recorder();
    for (let i = 0; i < bytes.length; i++) {
      scanner.push(bytes.slice(i, i + 1), handler);
      assert.equal(scanner.midFrame, i < bytes.length - 1, `after byte ${i}`);
    }
  });

  it("FrameScanner rejects invalid options with a RangeError", () => {
    assert.throws(() => new FrameScanner({ maxFrameSize: 0 }), RangeError);
    assert.throws(() => new FrameScanner({ role: "peer" as "server" }), RangeError);
  });
});
