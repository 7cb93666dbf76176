// coalesce: how the adapters without writev (Deno, Bun) turn a vector into writes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { coalesce } from "../src/adapters/shared.ts";
import { concat } from "./helpers/bytes.ts";
import { Random } from "./helpers/random.ts";

const LIMIT = 64 * 1024;

/** Whether two vectors carry the same bytes in the same order. */
function sameBytes(a: Uint8Array[], b: Uint8Array[]): boolean {
  return Buffer.from(concat(a)).equals(concat(b));
}

describe("coalesce", () => {
  it("coalesce joins four 16 KiB frames and their headers into two writes", () => {
    const vector: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) vector.push(new Uint8Array(4).fill(i), new Uint8Array(16384));
    const writes = coalesce(vector);
    assert.equal(writes.length, 2);
    assert.equal(writes[0]!.byteLength + writes[1]!.byteLength, 4 * (4 + 16384));
  });

  it("coalesce leaves a buffer larger than 64 KiB alone and joins what surrounds it", () => {
    const large = new Uint8Array(LIMIT + 1);
    const writes = coalesce([new Uint8Array(10), new Uint8Array(4), large, new Uint8Array(2)]);
    assert.deepEqual(writes.map((w) => w.byteLength), [14, LIMIT + 1, 2]);
    assert.equal(writes[1], large, "the large buffer is not copied");
  });

  it("coalesce keeps every byte in order and no write over 64 KiB but a single buffer", () => {
    const random = new Random(7);
    for (let round = 0; round < 300; round++) {
      const vector: Uint8Array[] = [];
      const count = random.int(0, 12);
      for (let i = 0; i < count; i++) {
        const size = random.int(0, 4) === 0
          ? random.int(LIMIT - 8, LIMIT + 8)
          : random.int(0, 40000);
        const buffer = new Uint8Array(size);
        for (let j = 0; j < size; j += 997) buffer[j] = random.int(0, 255);
        vector.push(buffer);
      }
      const writes = coalesce(vector);
      assert.ok(sameBytes(writes, vector), `round ${round}: the writes differ from the vector`);
      for (const write of writes) {
        assert.ok(write.byteLength <= LIMIT || vector.includes(write), "oversized join");
      }
      // Greedy runs: no two neighbouring writes could have been one.
      for (let i = 1; i < writes.length; i++) {
        assert.ok(writes[i - 1]!.byteLength + writes[i]!.byteLength > LIMIT, "writes not joined");
      }
    }
  });
});
