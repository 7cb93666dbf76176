/**
 * Requests for the handshake tests: the RFC 6455 §1.3 example, built with fields replaced, parsed
 * with a fixed limit, and an assertion on the `HandshakeError` an action throws.
 */
import assert from "node:assert/strict";
import { HandshakeError, type ParsedRequest, parseRequestHead } from "../../src/handshake/mod.ts";
import { WebSocketError } from "../../src/protocol/mod.ts";

const encoder = new TextEncoder();

/** The head size limit the unit tests parse with. */
export const LIMIT = 8192;

/** The RFC 6455 §1.3 example key and its answer. */
export const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
export const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** The header fields of the RFC 6455 §1.3 request. */
export const UPGRADE_FIELDS: readonly string[] = [
  "Host: server.example.com",
  "Upgrade: websocket",
  "Connection: Upgrade",
  `Sec-WebSocket-Key: ${KEY}`,
  "Origin: http://example.com",
  "Sec-WebSocket-Protocol: chat, superchat",
  "Sec-WebSocket-Version: 13",
];

/** The bytes of a head made of `lines`, CRLF CRLF included. */
export function bytes(lines: readonly string[]): Uint8Array {
  return encoder.encode(lines.join("\r\n") + "\r\n\r\n");
}

/** Parses a complete head made of `lines`. */
export function parse(lines: readonly string[]): ParsedRequest {
  const request = parseRequestHead(bytes(lines), LIMIT);
  assert.ok(request, "the head is complete");
  return request;
}

/** The RFC 6455 §1.3 request with some fields replaced: `{ Name: null }` removes a field. */
export function upgrade(
  fields: Record<string, string | null> = {},
  requestLine = "GET /chat HTTP/1.1",
): ParsedRequest {
  return parse(upgradeLines(fields, requestLine));
}

/** The lines of {@linkcode upgrade}'s request. */
export function upgradeLines(
  fields: Record<string, string | null> = {},
  requestLine = "GET /chat HTTP/1.1",
): string[] {
  const lines = [requestLine];
  for (const line of UPGRADE_FIELDS) {
    const name = line.slice(0, line.indexOf(":"));
    if (!(name in fields)) lines.push(line);
  }
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null) lines.push(`${name}: ${value}`);
  }
  return lines;
}

/**
 * Runs `action` and checks that it throws a `HandshakeError` with `status`, `code` and `headers`,
 * which carries no close code. Returns the error.
 */
export function rejects(
  action: () => unknown,
  status: number,
  code: string,
  headers: Record<string, string> = {},
): HandshakeError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${error}`);
    assert.ok(!(error instanceof WebSocketError), "a refused handshake has no close code");
    assert.equal("closeCode" in error, false);
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    assert.deepEqual(error.headers, headers);
    assert.equal(typeof error.body, "string", "a refusal names its reason in the body");
    assert.ok(error.message.startsWith("Cannot "), error.message);
    return error;
  }
  assert.fail("expected a HandshakeError");
}
