import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha1 } from "../src/handshake/_sha1.ts";

const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function reference(bytes: Uint8Array): string {
  return createHash("sha1").update(bytes).digest("hex");
}

describe("sha1", () => {
  // FIPS 180-2 appendix A and its examples.
  it("sha1 hashes the FIPS 180 one-block message", () => {
    assert.equal(hex(sha1(encoder.encode("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  });

  it("sha1 hashes the empty message", () => {
    assert.equal(hex(sha1(new Uint8Array(0))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  });

  it("sha1 hashes the FIPS 180 448-bit message", () => {
    const message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert.equal(hex(sha1(encoder.encode(message))), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  });

  it("sha1 hashes one million repetitions of 'a'", () => {
    const message = new Uint8Array(1_000_000).fill(0x61);
    assert.equal(hex(sha1(message)), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  });

  it("sha1 matches node:crypto for every length from 0 to 130", () => {
    for (let length = 0; length <= 130; length++) {
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i++) bytes[i] = (i * 151 + length * 7) & 0xff;
      assert.equal(hex(sha1(bytes)), reference(bytes), `length ${length}`);
    }
  });

  it("sha1 reads only the view of a subarray", () => {
    const backing = new Uint8Array(300).map((_, i) => i & 0xff);
    for (const [start, end] of [[1, 4], [3, 67], [5, 133], [64, 300]] as const) {
      const view = backing.subarray(start, end);
      assert.equal(hex(sha1(view)), reference(view), `bytes ${start} to ${end}`);
    }
  });

  it("sha1 leaves no state behind between calls", () => {
    const long = new Uint8Array(119).fill(0xff);
    sha1(long);
    assert.equal(hex(sha1(encoder.encode("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  });
});
