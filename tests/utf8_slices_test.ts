import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidDataError } from "../src/protocol/errors.ts";
import { decodeUtf8, Utf8Slices } from "../src/protocol/utf8_slices.ts";
import { assertThrowsError } from "./helpers/errors.ts";
import { Random } from "./helpers/random.ts";

const invalid = { type: InvalidDataError, closeCode: 1007, code: "INVALID_UTF8" } as const;

/** Where a streaming decoder (the reference) fails, as a slice index, and the text before. */
function reference(slices: readonly Uint8Array[]): { failsAt: number; text: string } {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let text = "";
  for (let i = 0; i < slices.length; i++) {
    try {
      text += decoder.decode(slices[i], { stream: i < slices.length - 1 });
    } catch {
      return { failsAt: i, text };
    }
  }
  return { failsAt: -1, text };
}

function run(slices: readonly Uint8Array[]): { failsAt: number; text: string } {
  const utf8 = new Utf8Slices();
  let text = "";
  for (let i = 0; i < slices.length; i++) {
    try {
      text += utf8.decode(slices[i]!, i === slices.length - 1);
    } catch (error) {
      assert.ok(error instanceof InvalidDataError);
      return { failsAt: i, text };
    }
  }
  return { failsAt: -1, text };
}

describe("Utf8Slices", () => {
  it("Utf8Slices fails in the same slice as a streaming decoder, and decodes the same text", () => {
    const random = new Random(0x75746638);
    const pieces = ["a", "é", "€", "😀", "\u{10ffff}", "\ufeff", "\u0000"].map((c) =>
      new TextEncoder().encode(c)
    );
    const bad = [0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0x9f, 0xa0];
    for (let round = 0; round < 20000; round++) {
      const bytes: number[] = [];
      for (let i = random.int(0, 12); i > 0; i--) {
        if (random.chance(0.1)) bytes.push(random.pick(bad));
        else bytes.push(...random.pick(pieces));
      }
      const all = new Uint8Array(bytes);
      const slices: Uint8Array[] = [];
      let start = 0;
      while (start < all.length) {
        const end = Math.min(all.length, start + random.int(0, 4));
        slices.push(all.subarray(start, end));
        start = end;
      }
      if (slices.length === 0 || random.chance(0.2)) slices.push(new Uint8Array(0));
      const expected = reference(slices);
      const actual = run(slices);
      const label = `round ${round}: ${[...all].map((b) => b.toString(16)).join(" ")}`;
      assert.equal(actual.failsAt, expected.failsAt, label);
      if (expected.failsAt < 0) assert.equal(actual.text, expected.text, label);
    }
  });

  it("Utf8Slices fails on a character left incomplete by the last slice", () => {
    for (const tail of [[0xe2], [0xe2, 0x82], [0xf0, 0x9f, 0x98]]) {
      const utf8 = new Utf8Slices();
      assert.equal(utf8.decode(new Uint8Array([0x61, ...tail]), false), "a");
      assertThrowsError(() => utf8.decode(new Uint8Array(0), true), invalid);
    }
  });

  it("Utf8Slices reset forgets a cut character", () => {
    const utf8 = new Utf8Slices();
    utf8.decode(new Uint8Array([0xe2, 0x82]), false);
    utf8.reset();
    assert.equal(utf8.decode(new Uint8Array([0x62]), true), "b");
  });

  it("decodeUtf8 decodes complete text and rejects invalid bytes with INVALID_UTF8", () => {
    assert.equal(decodeUtf8(new TextEncoder().encode("h\u00e9\u{1F600}")), "h\u00e9\u{1F600}");
    assertThrowsError(() => decodeUtf8(new Uint8Array([0x61, 0xc3])), invalid);
  });
});
