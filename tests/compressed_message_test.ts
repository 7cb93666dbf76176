import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { constants, deflateRawSync } from "node:zlib";
import { compressedSizeLimit } from "../src/protocol/compressed_message.ts";
import { Random } from "./helpers/random.ts";

describe("compressedSizeLimit", () => {
  it("compressedSizeLimit holds what zlib makes of incompressible data at every memLevel", () => {
    for (const size of [0, 1, 100, 70_000, 1 << 20]) {
      const data = new Random(size).bytes(size);
      for (const memLevel of [1, 5, 9]) {
        const compressed = deflateRawSync(data, { memLevel, finishFlush: constants.Z_SYNC_FLUSH });
        const length = compressed.length - 4;
        assert.ok(
          length <= compressedSizeLimit(size),
          `${size} bytes at memLevel ${memLevel} deflate to ${length}`,
        );
      }
    }
  });
});
