import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_CLOSE_REASON_BYTES } from "../src/protocol/constants.ts";
import {
  closeFrameFor,
  InvalidDataError,
  MessageTooBigError,
  PolicyViolationError,
  ProtocolError,
  truncateUtf8,
  WebSocketError,
} from "../src/protocol/errors.ts";

const encoder = new TextEncoder();
const byteLength = (text: string) => encoder.encode(text).length;

/** The longest prefix of `text`, in whole code points, whose UTF-8 fits in `maxBytes`. */
function referenceTruncate(text: string, maxBytes: number): string {
  let out = "";
  for (const char of text) {
    if (byteLength(out + char) > maxBytes) break;
    out += char;
  }
  return out;
}

describe("WebSocketError", () => {
  it("WebSocketError carries its message, close code and stable code", () => {
    const error = new WebSocketError("Cannot do it: because", 1011, "POLICY_VIOLATION");
    assert.ok(error instanceof Error);
    assert.equal(error.name, "WebSocketError");
    assert.equal(error.message, "Cannot do it: because");
    assert.equal(error.closeCode, 1011);
    assert.equal(error.code, "POLICY_VIOLATION");
  });
});

describe("ProtocolError", () => {
  it("ProtocolError is a WebSocketError with close code 1002", () => {
    const error = new ProtocolError("Cannot parse frame: reserved opcode", "RESERVED_OPCODE");
    assert.ok(error instanceof WebSocketError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "ProtocolError");
    assert.equal(error.closeCode, 1002);
    assert.equal(error.code, "RESERVED_OPCODE");
  });
});

describe("InvalidDataError", () => {
  it("InvalidDataError is a WebSocketError with close code 1007", () => {
    const error = new InvalidDataError("Cannot decode text: invalid UTF-8", "INVALID_UTF8");
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.name, "InvalidDataError");
    assert.equal(error.closeCode, 1007);
    assert.equal(error.code, "INVALID_UTF8");
  });
});

describe("PolicyViolationError", () => {
  it("PolicyViolationError is a WebSocketError with close code 1008", () => {
    const error = new PolicyViolationError("Cannot send: not reading", "SEND_BUFFER_FULL");
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.name, "PolicyViolationError");
    assert.equal(error.closeCode, 1008);
    assert.equal(error.code, "SEND_BUFFER_FULL");
  });
});

describe("MessageTooBigError", () => {
  it("MessageTooBigError is a WebSocketError with close code 1009, size and limit", () => {
    const error = new MessageTooBigError("MESSAGE_TOO_BIG", 70000, 65536);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.name, "MessageTooBigError");
    assert.equal(error.closeCode, 1009);
    assert.equal(error.code, "MESSAGE_TOO_BIG");
    assert.equal(error.size, 70000);
    assert.equal(error.limit, 65536);
  });

  it("MessageTooBigError derives a message naming the size and limit for each code", () => {
    for (const code of ["FRAME_TOO_BIG", "MESSAGE_TOO_BIG", "TOO_MANY_FRAGMENTS"] as const) {
      const error = new MessageTooBigError(code, 11, 10);
      assert.match(error.message, /^Cannot .*\b11\b.*\b10\b[^.]*$/, code);
    }
    assert.match(new MessageTooBigError("FRAME_TOO_BIG", 11, 10).message, /frame/);
    assert.match(new MessageTooBigError("TOO_MANY_FRAGMENTS", 11, 10).message, /frames/);
  });
});

describe("closeFrameFor", () => {
  it("closeFrameFor gives a WebSocketError's close code and message", () => {
    const cases: [WebSocketError, number][] = [
      [new ProtocolError("Cannot parse frame: reserved bits", "RESERVED_BITS"), 1002],
      [new InvalidDataError("Cannot decode text: invalid UTF-8", "INVALID_UTF8"), 1007],
      [new PolicyViolationError("Cannot send: not reading", "SEND_BUFFER_FULL"), 1008],
      [new MessageTooBigError("FRAME_TOO_BIG", 10, 5), 1009],
    ];
    for (const [error, code] of cases) {
      assert.deepEqual(closeFrameFor(error), { code, reason: error.message }, error.name);
    }
  });

  it("closeFrameFor gives 1011 and a generic reason for anything that is not a WebSocketError", () => {
    const fake = Object.assign(new Error("secret detail"), { closeCode: 1000, code: "X" });
    for (
      const error of [
        new TypeError("secret"),
        new RangeError("x"),
        fake,
        "text",
        42,
        null,
        undefined,
        {},
      ]
    ) {
      assert.deepEqual(
        closeFrameFor(error),
        { code: 1011, reason: "Internal error" },
        String(error),
      );
    }
  });

  it("closeFrameFor keeps a reason of exactly 123 bytes and cuts a longer one", () => {
    const exact = "Cannot " + "x".repeat(MAX_CLOSE_REASON_BYTES - 7);
    assert.equal(closeFrameFor(new ProtocolError(exact, "RESERVED_BITS")).reason, exact);
    const longer = exact + "y";
    assert.equal(closeFrameFor(new ProtocolError(longer, "RESERVED_BITS")).reason, exact);
  });

  it("closeFrameFor never splits a UTF-8 character when it cuts the reason", () => {
    for (const char of ["é", "€", "😀"]) {
      for (let prefix = 0; prefix < 4; prefix++) {
        const message = "x".repeat(prefix) + char.repeat(80);
        const { reason } = closeFrameFor(new InvalidDataError(message, "INVALID_UTF8"));
        assert.ok(byteLength(reason) <= MAX_CLOSE_REASON_BYTES, `${char} after ${prefix}`);
        assert.equal(reason, referenceTruncate(message, MAX_CLOSE_REASON_BYTES));
      }
    }
  });
});

describe("truncateUtf8", () => {
  it("truncateUtf8 returns a string that already fits unchanged", () => {
    assert.equal(truncateUtf8("", 0), "");
    assert.equal(truncateUtf8("hello", 5), "hello");
    assert.equal(truncateUtf8("héllo", 6), "héllo");
    assert.equal(truncateUtf8("😀", 4), "😀");
  });

  it("truncateUtf8 cuts at the last whole character for every width and every limit", () => {
    const texts = [
      "abcdefgh",
      "ééééé",
      "€€€€",
      "😀😀😀",
      "a€😀é",
      "é😀a€x",
      "\u007f\u0080\u07ff\u0800\uffff",
    ];
    for (const text of texts) {
      for (let maxBytes = 0; maxBytes <= byteLength(text) + 1; maxBytes++) {
        const cut = truncateUtf8(text, maxBytes);
        assert.equal(
          cut,
          referenceTruncate(text, maxBytes),
          `${JSON.stringify(text)} in ${maxBytes}`,
        );
      }
    }
  });

  it("truncateUtf8 handles long strings above its no-encoding shortcut", () => {
    const text = "€".repeat(1000);
    assert.equal(truncateUtf8(text, 123), "€".repeat(41));
    assert.equal(truncateUtf8(text, 3000), text);
    assert.equal(truncateUtf8(text, 2999), "€".repeat(999));
  });
});
