/**
 * Frame fixtures shared by the FrameParser and FrameParserStream tests: the RFC 6455 §5.7
 * examples, more shapes, and inputs every parser must reject, with what each must give.
 */
import { Opcode } from "../../src/protocol/constants.ts";
import { MessageTooBigError, ProtocolError } from "../../src/protocol/errors.ts";
import type { Frame } from "../../src/protocol/frame.ts";
import type { FrameParserOptions, Role } from "../../src/protocol/frame_parser.ts";
import { bytes, concat, pattern } from "./bytes.ts";
import type { ExpectedError } from "./errors.ts";
import { rawFrame, RFC_MASK } from "./frames.ts";

export const text = (value: string) => new TextEncoder().encode(value);
export const HELLO = text("Hello");
export const MiB = 1024 * 1024;

/** The frame the parser should deliver. */
export function expectFrame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; masked?: boolean } = {},
): Frame {
  return {
    fin: options.fin ?? true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode,
    masked: options.masked ?? false,
    payload,
  };
}

export interface Fixture {
  name: string;
  role: Role;
  bytes: Uint8Array;
  frames: Frame[];
  /**
   * Whether to run every 2-way split. Each split of 64 KiB costs a 64 KiB copy and compare, so
   * only the RFC 6455 §5.7 64 KiB example gets them all; other large fixtures get every split in
   * their first and last 300 bytes.
   */
  everySplit?: boolean;
}

// RFC 6455 §5.7, byte for byte; the 256-byte and 64 KiB payloads are not given there, so they
// count up from 0.
export const RFC_FIXTURES: Fixture[] = [
  {
    name: "a single-frame unmasked text message",
    role: "client",
    bytes: bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
    frames: [expectFrame(Opcode.Text, HELLO)],
  },
  {
    name: "a single-frame masked text message",
    role: "server",
    bytes: bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    frames: [expectFrame(Opcode.Text, HELLO, { masked: true })],
  },
  {
    name: "a fragmented unmasked text message",
    role: "client",
    bytes: bytes(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f),
    frames: [
      expectFrame(Opcode.Text, text("Hel"), { fin: false }),
      expectFrame(Opcode.Continuation, text("lo")),
    ],
  },
  {
    name: "an unmasked ping",
    role: "client",
    bytes: bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
    frames: [expectFrame(Opcode.Ping, HELLO)],
  },
  {
    name: "a masked pong",
    role: "server",
    bytes: bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    frames: [expectFrame(Opcode.Pong, HELLO, { masked: true })],
  },
  {
    name: "a 256-byte binary message with a 16-bit length",
    role: "client",
    bytes: concat([bytes(0x82, 0x7e, 0x01, 0x00), pattern(256)]),
    frames: [expectFrame(Opcode.Binary, pattern(256))],
  },
  {
    name: "a 64 KiB binary message with a 64-bit length",
    role: "client",
    bytes: concat([
      bytes(0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00),
      pattern(65536),
    ]),
    frames: [expectFrame(Opcode.Binary, pattern(65536))],
  },
];

// The same examples as a client sends them (masked), and a few more shapes.
export const MORE_FIXTURES: Fixture[] = [
  {
    name: "a fragmented masked text message",
    role: "server",
    bytes: concat([
      rawFrame(Opcode.Text, text("Hel"), { fin: false, mask: RFC_MASK }),
      rawFrame(Opcode.Continuation, text("lo"), { mask: RFC_MASK }),
    ]),
    frames: [
      expectFrame(Opcode.Text, text("Hel"), { fin: false, masked: true }),
      expectFrame(Opcode.Continuation, text("lo"), { masked: true }),
    ],
  },
  {
    name: "a masked 256-byte binary message",
    role: "server",
    bytes: rawFrame(Opcode.Binary, pattern(256), { mask: bytes(1, 2, 3, 4) }),
    frames: [expectFrame(Opcode.Binary, pattern(256), { masked: true })],
  },
  {
    name: "empty frames of every opcode",
    role: "server",
    bytes: concat([
      rawFrame(Opcode.Text, undefined, { fin: false, mask: RFC_MASK }),
      rawFrame(Opcode.Ping, undefined, { mask: RFC_MASK }),
      rawFrame(Opcode.Continuation, undefined, { mask: RFC_MASK }),
      rawFrame(Opcode.Binary, undefined, { mask: RFC_MASK }),
      rawFrame(Opcode.Pong, undefined, { mask: RFC_MASK }),
      rawFrame(Opcode.Close, undefined, { mask: RFC_MASK }),
    ]),
    frames: [
      expectFrame(Opcode.Text, new Uint8Array(0), { fin: false, masked: true }),
      expectFrame(Opcode.Ping, new Uint8Array(0), { masked: true }),
      expectFrame(Opcode.Continuation, new Uint8Array(0), { masked: true }),
      expectFrame(Opcode.Binary, new Uint8Array(0), { masked: true }),
      expectFrame(Opcode.Pong, new Uint8Array(0), { masked: true }),
      expectFrame(Opcode.Close, new Uint8Array(0), { masked: true }),
    ],
  },
  {
    name: "masked frames of 125 and 126 bytes",
    role: "server",
    bytes: concat([
      rawFrame(Opcode.Binary, pattern(125), { mask: RFC_MASK }),
      rawFrame(Opcode.Ping, pattern(125, 7), { mask: RFC_MASK }),
      rawFrame(Opcode.Binary, pattern(126, 1), { mask: RFC_MASK }),
    ]),
    frames: [
      expectFrame(Opcode.Binary, pattern(125), { masked: true }),
      expectFrame(Opcode.Ping, pattern(125, 7), { masked: true }),
      expectFrame(Opcode.Binary, pattern(126, 1), { masked: true }),
    ],
  },
  {
    name: "unmasked frames of 125, 126 and 65535 bytes",
    role: "client",
    bytes: concat([
      rawFrame(Opcode.Binary, pattern(125)),
      rawFrame(Opcode.Pong, pattern(125, 7)),
      rawFrame(Opcode.Binary, pattern(126, 1)),
      rawFrame(Opcode.Binary, pattern(65535, 2)),
    ]),
    frames: [
      expectFrame(Opcode.Binary, pattern(125)),
      expectFrame(Opcode.Pong, pattern(125, 7)),
      expectFrame(Opcode.Binary, pattern(126, 1)),
      expectFrame(Opcode.Binary, pattern(65535, 2)),
    ],
    everySplit: false,
  },
  {
    name: "every RFC 6455 §5.7 client example back to back",
    role: "client",
    bytes: concat(RFC_FIXTURES.filter((f) => f.role === "client").map((f) => f.bytes)),
    frames: RFC_FIXTURES.filter((f) => f.role === "client").flatMap((f) => f.frames),
    everySplit: false,
  },
];

export interface ErrorFixture {
  name: string;
  role: Role;
  bytes: Uint8Array;
  options?: FrameParserOptions;
  expected: ExpectedError;
}

export const protocol = (code: ExpectedError["code"]): ExpectedError => ({
  type: ProtocolError,
  closeCode: 1002,
  code,
});
export const tooBig = (size: number, limit: number): ExpectedError => ({
  type: MessageTooBigError,
  closeCode: 1009,
  code: "FRAME_TOO_BIG",
  size,
  limit,
});
export const masked = { mask: RFC_MASK };

/** A header declaring a 64-bit length given as 8 raw bytes, masked. */
export function header64(b0: number, lengthBytes: number[]): Uint8Array {
  return bytes(b0, 0xff, ...lengthBytes, ...RFC_MASK);
}

export const ERROR_FIXTURES: ErrorFixture[] = [
  ...[4, 2, 1].map((rsv): ErrorFixture => ({
    name: `RSV bits ${rsv.toString(2).padStart(3, "0")} set`,
    role: "server",
    bytes: rawFrame(Opcode.Text, HELLO, { rsv, mask: RFC_MASK }),
    expected: protocol("RESERVED_BITS"),
  })),
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode): ErrorFixture => ({
    name: `reserved opcode 0x${opcode.toString(16)}`,
    role: "server",
    bytes: rawFrame(opcode, HELLO, masked),
    expected: protocol("RESERVED_OPCODE"),
  })),
  {
    name: "a ping of 126 bytes",
    role: "server",
    bytes: rawFrame(Opcode.Ping, pattern(126), masked),
    expected: protocol("CONTROL_FRAME_TOO_BIG"),
  },
  {
    name: "a close frame with a 64-bit length",
    role: "server",
    bytes: rawFrame(Opcode.Close, pattern(126), { ...masked, lengthBytes: 8 }),
    expected: protocol("CONTROL_FRAME_TOO_BIG"),
  },
  ...[Opcode.Close, Opcode.Ping, Opcode.Pong].map((opcode): ErrorFixture => ({
    name: `a fragmented control frame 0x${opcode.toString(16)}`,
    role: "server",
    bytes: rawFrame(opcode, HELLO, { fin: false, mask: RFC_MASK }),
    expected: protocol("FRAGMENTED_CONTROL_FRAME"),
  })),
  {
    name: "a 64-bit length with the most significant bit set",
    role: "server",
    bytes: header64(0x82, [0x80, 0, 0, 0, 0, 0, 0, 0]),
    options: { maxFrameSize: Infinity },
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "a 64-bit length of all ones",
    role: "server",
    bytes: header64(0x82, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    options: { maxFrameSize: Infinity },
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "a 64-bit length of 2^53, one past Number.MAX_SAFE_INTEGER",
    role: "server",
    bytes: header64(0x82, [0x00, 0x20, 0, 0, 0, 0, 0, 0]),
    options: { maxFrameSize: Infinity },
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "a 64-bit length of 2^53, with the default limit",
    role: "server",
    bytes: header64(0x82, [0x00, 0x20, 0, 0, 0, 0, 0, 0]),
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "a 16-bit length of 125",
    role: "server",
    bytes: rawFrame(Opcode.Binary, pattern(125), { ...masked, lengthBytes: 2 }),
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "a 16-bit length of 0",
    role: "server",
    bytes: rawFrame(Opcode.Binary, undefined, { ...masked, lengthBytes: 2 }),
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "a 64-bit length of 65535",
    role: "server",
    bytes: header64(0x82, [0, 0, 0, 0, 0, 0, 0xff, 0xff]),
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "a 64-bit length of 125",
    role: "client",
    bytes: rawFrame(Opcode.Binary, pattern(125), { lengthBytes: 8 }),
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "a 64-bit length of 0",
    role: "server",
    bytes: header64(0x82, [0, 0, 0, 0, 0, 0, 0, 0]),
    expected: protocol("INVALID_PAYLOAD_LENGTH"),
  },
  {
    name: "an unmasked frame sent to a server",
    role: "server",
    bytes: rawFrame(Opcode.Text, HELLO),
    expected: protocol("UNMASKED_FRAME"),
  },
  {
    name: "an unmasked control frame sent to a server",
    role: "server",
    bytes: rawFrame(Opcode.Ping),
    expected: protocol("UNMASKED_FRAME"),
  },
  {
    name: "a masked frame sent to a client",
    role: "client",
    bytes: rawFrame(Opcode.Text, HELLO, masked),
    expected: protocol("MASKED_FRAME"),
  },
  {
    name: "a frame one byte over maxFrameSize",
    role: "server",
    bytes: rawFrame(Opcode.Text, pattern(11), masked),
    options: { maxFrameSize: 10 },
    expected: tooBig(11, 10),
  },
  {
    name: "a header declaring one byte over the default 16 MiB limit",
    role: "server",
    bytes: header64(0x82, [0, 0, 0, 0, 0x01, 0x00, 0x00, 0x01]),
    expected: tooBig(16 * MiB + 1, 16 * MiB),
  },
  {
    name: "a header declaring Number.MAX_SAFE_INTEGER bytes with the default limit",
    role: "server",
    bytes: header64(0x82, [0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    expected: tooBig(Number.MAX_SAFE_INTEGER, 16 * MiB),
  },
];

/** A valid frame for `role`, to put in front of an error fixture. */
export function leadingFrame(role: Role): { bytes: Uint8Array; frame: Frame } {
  return role === "server"
    ? {
      bytes: rawFrame(Opcode.Text, text("ok"), masked),
      frame: expectFrame(Opcode.Text, text("ok"), { masked: true }),
    }
    : { bytes: rawFrame(Opcode.Text, text("ok")), frame: expectFrame(Opcode.Text, text("ok")) };
}
