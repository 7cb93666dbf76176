import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BackplaneError, type Envelope } from "../src/pubsub/backplane.ts";
import { decodeEnvelope, encodeEnvelope } from "../src/pubsub/envelope.ts";
import { bytes, concat, pattern } from "./helpers/bytes.ts";
import { Random } from "./helpers/random.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

function roundTrip(envelope: Envelope): Envelope {
  return decodeEnvelope(encodeEnvelope(envelope));
}

function assertDecodeError(input: Uint8Array, message: RegExp): void {
  assert.throws(() => decodeEnvelope(input), (error) => {
    assert.ok(error instanceof BackplaneError, `not a BackplaneError: ${error}`);
    assert.equal(error.stage, "decode");
    assert.match(error.message, /^Cannot decode envelope: /);
    assert.match(error.message, message);
    return true;
  });
}

describe("encodeEnvelope", () => {
  it("encodeEnvelope writes version, flags, varint-prefixed strings, then the payload", () => {
    const encoded = encodeEnvelope({
      instance: "ab",
      topic: "t",
      data: bytes(9, 8),
      binary: true,
    });
    assert.deepEqual(encoded, bytes(1, 1, 2, 0x61, 0x62, 1, 0x74, 9, 8));
    const text = encodeEnvelope({ instance: "ab", topic: "t", data: utf8("hi"), binary: false });
    assert.deepEqual(text, bytes(1, 0, 2, 0x61, 0x62, 1, 0x74, 0x68, 0x69));
  });

  it("encodeEnvelope uses 1, 2 and 3 varint bytes at the 127/128 and 16383/16384 boundaries", () => {
    for (const [length, header] of [[127, 1], [128, 2], [16383, 2], [16384, 3]] as const) {
      const topic = "x".repeat(length);
      const encoded = encodeEnvelope({ instance: "", topic, data: bytes(), binary: true });
      assert.equal(encoded.length, 2 + 1 + header + length, `topic of ${length} bytes`);
      assert.equal(decodeEnvelope(encoded).topic, topic);
    }
  });

  it("encodeEnvelope copies the payload, so the caller may reuse its buffer", () => {
    const data = pattern(16);
    const encoded = encodeEnvelope({ instance: "i", topic: "t", data, binary: true });
    data.fill(0);
    assert.deepEqual(decodeEnvelope(encoded).data, pattern(16));
  });

  it("encodeEnvelope keeps instances apart when they alternate", () => {
    const a = encodeEnvelope({ instance: "a", topic: "t", data: bytes(), binary: true });
    const b = encodeEnvelope({ instance: "bb", topic: "t", data: bytes(), binary: true });
    const a2 = encodeEnvelope({ instance: "a", topic: "t", data: bytes(), binary: true });
    assert.equal(decodeEnvelope(a).instance, "a");
    assert.equal(decodeEnvelope(b).instance, "bb");
    assert.deepEqual(a2, a);
  });

  it("encodeEnvelope gives every small envelope bytes of its own, across many slabs", () => {
    const kept: Uint8Array[] = [];
    for (let i = 0; i < 5000; i++) {
      const data = pattern(i % 700, i);
      kept.push(encodeEnvelope({ instance: `i${i % 3}`, topic: `t${i}`, data, binary: true }));
    }
    // Also topics past the encoder's topic cache (1024 entries), and a large envelope between.
    kept.push(encodeEnvelope({ instance: "x", topic: "big", data: pattern(5000), binary: true }));
    kept.forEach((encoded, i) => {
      if (i === 5000) return assert.deepEqual(decodeEnvelope(encoded).data, pattern(5000));
      const decoded = decodeEnvelope(encoded);
      assert.equal(decoded.topic, `t${i}`);
      assert.equal(decoded.instance, `i${i % 3}`);
      assert.deepEqual(decoded.data, pattern(i % 700, i), `envelope ${i}`);
    });
  });

  it("encodeEnvelope encodes a payload given as a view into a larger buffer", () => {
    const whole = pattern(64);
    const view = whole.subarray(10, 20);
    assert.deepEqual(
      roundTrip({ instance: "i", topic: "t", data: view, binary: true }).data,
      pattern(10, 10),
    );
  });
});

describe("decodeEnvelope", () => {
  it("decodeEnvelope round-trips every byte value in a binary payload", () => {
    const data = pattern(256);
    const decoded = roundTrip({ instance: "node-1", topic: "bytes", data, binary: true });
    assert.deepEqual(decoded, { instance: "node-1", topic: "bytes", data, binary: true });
    for (let value = 0; value < 256; value++) {
      const one = roundTrip({ instance: "i", topic: "t", data: bytes(value), binary: true });
      assert.deepEqual(one.data, bytes(value), `byte ${value}`);
    }
  });

  it("decodeEnvelope round-trips empty payloads, topics and instance ids", () => {
    for (const binary of [true, false]) {
      assert.deepEqual(roundTrip({ instance: "", topic: "", data: bytes(), binary }), {
        instance: "",
        topic: "",
        data: bytes(),
        binary,
      });
    }
  });

  it("decodeEnvelope round-trips a 5 MiB payload and returns a view, not a copy", () => {
    const data = pattern(5 * 1024 * 1024 + 3, 7);
    const encoded = encodeEnvelope({ instance: "big", topic: "t", data, binary: true });
    const decoded = decodeEnvelope(encoded);
    assert.equal(decoded.data.length, data.length);
    assert.equal(decoded.data.buffer, encoded.buffer);
    assert.deepEqual(decoded.data, data);
  });

  it("decodeEnvelope round-trips unicode topics, instance ids and text", () => {
    const topics = [
      "chat/général",
      "部屋:東京",
      "emoji 🎉👩‍👩‍👧",
      "e\u0301", // combining accent
      "\u0000nul inside",
      "\u{10ffff}",
      "a".repeat(300) + "🐘",
    ];
    for (const topic of topics) {
      const text = `message in ${topic}`;
      const decoded = roundTrip({ instance: "実例-1", topic, data: utf8(text), binary: false });
      assert.equal(decoded.topic, topic);
      assert.equal(decoded.instance, "実例-1");
      assert.equal(new TextDecoder().decode(decoded.data), text);
    }
  });

  it("decodeEnvelope rejects every truncation inside the header", () => {
    const encoded = encodeEnvelope({
      instance: "instance",
      topic: "topic-" + "x".repeat(200), // a 2-byte varint
      data: pattern(5),
      binary: true,
    });
    const headerEnd = encoded.length - 5;
    for (let length = 0; length < headerEnd; length++) {
      assertDecodeError(encoded.subarray(0, length), /shorter|past the end/);
    }
    // Past the header, a shorter payload is still an envelope.
    assert.equal(decodeEnvelope(encoded.subarray(0, headerEnd)).data.length, 0);
  });

  it("decodeEnvelope accepts valid text on both sides of its ASCII fast path", () => {
    for (const text of ["a".repeat(256), "a".repeat(257), "é".repeat(200), "ok"]) {
      const decoded = roundTrip({ instance: "i", topic: "t", data: utf8(text), binary: false });
      assert.equal(new TextDecoder().decode(decoded.data), text);
    }
    for (const topic of ["b".repeat(64), "b".repeat(65), "ß".repeat(32)]) {
      assert.equal(roundTrip({ instance: "i", topic, data: bytes(), binary: true }).topic, topic);
    }
  });

  it("decodeEnvelope rejects another version and unknown flags", () => {
    const encoded = encodeEnvelope({ instance: "i", topic: "t", data: bytes(1), binary: true });
    for (const version of [0, 2, 0x7b, 0xff]) {
      const other = encoded.slice();
      other[0] = version;
      assertDecodeError(other, new RegExp(`version "${version}"`));
    }
    for (const flags of [0x02, 0x80, 0xff]) {
      const other = encoded.slice();
      other[1] = flags;
      assertDecodeError(other, /flags "0x[0-9a-f]+" are unknown/);
    }
  });

  it("decodeEnvelope rejects a varint longer than 4 bytes", () => {
    assertDecodeError(bytes(1, 1, 0x80, 0x80, 0x80, 0x80, 0x00, 0), /longer than 4 bytes/);
    assertDecodeError(bytes(1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x01), /longer than 4 bytes/);
  });

  it("decodeEnvelope rejects a length that runs past the end", () => {
    assertDecodeError(bytes(1, 1, 5, 0x61, 0x62, 0), /instance id runs past the end/);
    assertDecodeError(bytes(1, 1, 0, 0xff, 0x7f, 0x61), /topic runs past the end/);
  });

  it("decodeEnvelope rejects an instance id or topic that is not UTF-8", () => {
    assertDecodeError(bytes(1, 1, 1, 0xff, 0), /instance id is not valid UTF-8/);
    assertDecodeError(bytes(1, 1, 0, 2, 0xc3, 0x28), /topic is not valid UTF-8/);
    // An encoded lone surrogate (CESU-style) is not UTF-8 either.
    assertDecodeError(bytes(1, 1, 0, 3, 0xed, 0xa0, 0x80), /topic is not valid UTF-8/);
  });

  it("decodeEnvelope rejects a text payload that is not UTF-8 and accepts it as binary", () => {
    const header = bytes(1, 0, 1, 0x69, 1, 0x74);
    const long = concat([utf8("a".repeat(300)), bytes(0xc0, 0x80)]); // past the ASCII fast path
    for (const bad of [bytes(0xff), bytes(0xe2, 0x82), bytes(0xf4, 0x90, 0x80, 0x80), long]) {
      assertDecodeError(concat([header, bad]), /text payload is not valid UTF-8/);
      const asBinary = concat([header, bad]);
      asBinary[1] = 1;
      assert.deepEqual(decodeEnvelope(asBinary).data, bad);
    }
  });

  it("decodeEnvelope throws only decode errors on random and mutated input", () => {
    const random = new Random(12);
    const valid = encodeEnvelope({
      instance: "i",
      topic: "topic",
      data: pattern(40),
      binary: false,
    });
    let decoded = 0;
    for (let round = 0; round < 3000; round++) {
      let input: Uint8Array;
      if (round % 2 === 0) {
        input = new Uint8Array(random.int(0, 48)).map(() => random.int(0, 255));
      } else {
        input = valid.slice();
        for (let flips = random.int(1, 3); flips > 0; flips--) {
          input[random.int(0, input.length - 1)] = random.int(0, 255);
        }
      }
      try {
        const envelope = decodeEnvelope(input);
        decoded++;
        // What decodes has its payload at the end of the input, as a view.
        assert.deepEqual(envelope.data, input.subarray(input.length - envelope.data.length));
      } catch (error) {
        assert.ok(error instanceof BackplaneError && error.stage === "decode", String(error));
      }
    }
    assert.ok(decoded > 0, "some mutations still decode");
  });
});
