import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applyMask } from "../src/protocol/mask.ts";
import { maskedCopy, pattern } from "./helpers/bytes.ts";
import { RFC_MASK } from "./helpers/frames.ts";
import { Random } from "./helpers/random.ts";

const MASKS = [
  RFC_MASK,
  new Uint8Array([0x00, 0x00, 0x00, 0x00]),
  new Uint8Array([0xff, 0xff, 0xff, 0xff]),
  new Uint8Array([0x01, 0x02, 0x04, 0x80]),
  new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
];

/**
 * Places `data` at byte `offset` of a fresh buffer with `trailing` spare bytes after it, filled
 * with a sentinel, and returns the view.
 */
function placed(data: Uint8Array, offset: number, trailing: number): Uint8Array {
  const backing = new Uint8Array(offset + data.length + trailing).fill(0xa5);
  const view = backing.subarray(offset, offset + data.length);
  view.set(data);
  return view;
}

describe("applyMask", () => {
  it("applyMask masks the RFC 6455 §5.7 example payload", () => {
    const data = new TextEncoder().encode("Hello");
    applyMask(data, RFC_MASK);
    assert.deepEqual([...data], [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  });

  it("applyMask matches a byte-by-byte reference at every offset 0..7 and length 0..100", () => {
    for (const mask of MASKS) {
      for (let offset = 0; offset <= 7; offset++) {
        for (let length = 0; length <= 100; length++) {
          const data = pattern(length, offset * 31 + length);
          const view = placed(data, offset, 0);
          applyMask(view, mask);
          assert.deepEqual(view, maskedCopy(data, mask), `offset ${offset}, length ${length}`);
        }
      }
    }
  });

  it("applyMask matches the reference for large payloads at every offset", () => {
    const random = new Random(0x6d61736b);
    for (const length of [1000, 4093, 65536, 65539]) {
      const data = random.bytes(length);
      for (let offset = 0; offset <= 7; offset++) {
        const mask = random.bytes(4);
        const view = placed(data, offset, offset & 3);
        applyMask(view, mask);
        assert.deepEqual(view, maskedCopy(data, mask), `offset ${offset}, length ${length}`);
      }
    }
  });

  it("applyMask changes no byte outside the view", () => {
    for (let offset = 0; offset <= 7; offset++) {
      for (const length of [0, 1, 3, 31, 32, 33, 64, 99]) {
        for (const trailing of [0, 1, 2, 3, 5]) {
          const view = placed(pattern(length), offset, trailing);
          applyMask(view, RFC_MASK);
          const backing = new Uint8Array(view.buffer);
          for (let i = 0; i < offset; i++) {
            assert.equal(backing[i], 0xa5, `byte ${i} before the view`);
          }
          for (let i = offset + length; i < backing.length; i++) {
            assert.equal(backing[i], 0xa5, `byte ${i} after the view`);
          }
        }
      }
    }
  });

  it("applyMask applied twice restores the data", () => {
    const random = new Random(7);
    for (let length = 0; length <= 200; length += 7) {
      const data = random.bytes(length);
      const mask = random.bytes(4);
      const view = placed(data, length % 8, 0);
      applyMask(view, mask);
      applyMask(view, mask);
      assert.deepEqual(view, data, `length ${length}`);
    }
  });

  it("applyMask reads the mask through its view", () => {
    const backing = new Uint8Array([0xee, 0x37, 0xfa, 0x21, 0x3d, 0xee]);
    const data = new TextEncoder().encode("Hello, masked world with a long payload");
    const expected = maskedCopy(data, RFC_MASK);
    applyMask(data, backing.subarray(1, 5));
    assert.deepEqual(data, expected);
  });

  it("applyMask gives the same result for consecutive calls on differently aligned data", () => {
    // The word path keeps scratch state between calls: a call must not leak into the next.
    const random = new Random(99);
    for (let round = 0; round < 200; round++) {
      const length = random.int(32, 80);
      const data = random.bytes(length);
      const mask = random.bytes(4);
      const view = placed(data, random.int(0, 7), random.int(0, 3));
      applyMask(view, mask);
      assert.deepEqual(view, maskedCopy(data, mask), `round ${round}`);
    }
  });
});
