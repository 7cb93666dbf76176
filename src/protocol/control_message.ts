/**
 * Reading a control frame's payload into its message (RFC 6455 §5.5).
 *
 * @module
 */

import { isValidCloseCode, Opcode } from "./constants.ts";
import { InvalidDataError, ProtocolError } from "./errors.ts";
import type { Message } from "./message.ts";

const closeReasonDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Turns a control frame into its message. Payloads are copied: they are small and may be kept. */
export function controlMessage(opcode: number, payload: Uint8Array): Message {
  if (opcode === Opcode.Ping) return { type: "ping", data: payload.slice() };
  if (opcode === Opcode.Pong) return { type: "pong", data: payload.slice() };
  // RFC 6455 §5.5.1: an empty close body, or a 2-byte code followed by a UTF-8 reason.
  if (payload.length === 0) return { type: "close", reason: "" };
  if (payload.length === 1) {
    throw new ProtocolError(
      "Cannot read close frame: a 1-byte payload cannot hold a close code",
      "INVALID_CLOSE_PAYLOAD",
    );
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) {
    throw new ProtocolError(
      `Cannot read close frame: close code "${code}" may not be sent`,
      "INVALID_CLOSE_CODE",
    );
  }
  let reason: string;
  try {
    reason = closeReasonDecoder.decode(payload.subarray(2));
  } catch {
    throw new InvalidDataError(
      "Cannot read close frame: the reason is not valid UTF-8",
      "INVALID_CLOSE_REASON",
    );
  }
  return { type: "close", code, reason };
}
