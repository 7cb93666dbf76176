/**
 * Builders for test input: raw frame bytes written by hand (independent of `encodeFrame`, so the
 * parser is not tested against the encoder alone) and `Frame` objects for the assembler.
 */
import type { Frame } from "../../src/protocol/frame.ts";
import { maskedCopy } from "./bytes.ts";

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_MASK: Uint8Array = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** How to write a frame by hand. */
export interface RawFrameOptions {
  /** FIN bit. Default `true`. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1). Default 0. */
  rsv?: number;
  /** The masking key, or `undefined` for an unmasked frame. */
  mask?: Uint8Array | undefined;
  /** Force the length encoding: 7-bit (0), 16-bit (2) or 64-bit (8). Default: minimal. */
  lengthBytes?: 0 | 2 | 8;
  /** Declare this length instead of the payload's (the payload bytes still follow). */
  declaredLength?: number;
}

/** Writes one frame's bytes: header, optional masking key, payload (masked with the key). */
export function rawFrame(
  opcode: number,
  payload: Uint8Array = new Uint8Array(0),
  options: RawFrameOptions = {},
): Uint8Array {
  const length = options.declaredLength ?? payload.length;
  const lengthBytes = options.lengthBytes ?? (length < 126 ? 0 : length < 0x10000 ? 2 : 8);
  const mask = options.mask;
  const header: number[] = [
    ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode,
  ];
  const maskBit = mask === undefined ? 0 : 0x80;
  if (lengthBytes === 0) {
    header.push(maskBit | length);
  } else if (lengthBytes === 2) {
    header.push(maskBit | 126, (length >>> 8) & 0xff, length & 0xff);
  } else {
    const high = Math.floor(length / 0x100000000);
    header.push(
      maskBit | 127,
      (high >>> 24) & 0xff,
      (high >>> 16) & 0xff,
      (high >>> 8) & 0xff,
      high & 0xff,
      (length >>> 24) & 0xff,
      (length >>> 16) & 0xff,
      (length >>> 8) & 0xff,
      length & 0xff,
    );
  }
  if (mask !== undefined) header.push(...mask);
  const body = mask === undefined ? payload : maskedCopy(payload, mask);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** A `Frame` as the parser would deliver it; unmasked, FIN set, no RSV bits unless overridden. */
export function frame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  overrides: Partial<Frame> = {},
): Frame {
  return {
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode,
    masked: false,
    payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
    ...overrides,
  };
}

/** A close frame's payload from a code and raw reason bytes, written by hand. */
export function closeBody(code: number, reason: Uint8Array | string = ""): Uint8Array {
  const reasonBytes = typeof reason === "string" ? new TextEncoder().encode(reason) : reason;
  const out = new Uint8Array(2 + reasonBytes.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(reasonBytes, 2);
  return out;
}
