/**
 * The opening handshake of RFC 6455 §4, sans-I/O: a strict HTTP/1.1 request-head parser, the
 * upgrade checks, the accept key, and the responses (101 and the error statuses).
 *
 * @example Answer an upgrade request
 * ```ts
 * import { buildAcceptResponse, parseRequestHead, validateUpgrade } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const head = new TextEncoder().encode(
 *   "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
 *     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
 * );
 * const upgrade = validateUpgrade(parseRequestHead(head, 16384)!);
 * const response = new TextDecoder().decode(buildAcceptResponse(upgrade.key));
 * assert.match(response, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
 * ```
 *
 * @module
 */

export {
  acceptKey,
  type AcceptResponseOptions,
  buildAcceptResponse,
  buildErrorResponse,
  DEFAULT_MAX_HEADER_FIELDS,
  type ErrorResponseOptions,
  isUpgradeRequest,
  type ParsedRequest,
  parseRequestHead,
  type ParseRequestHeadOptions,
  toRequest,
  type UpgradeRequest,
  validateUpgrade,
} from "./handshake.ts";
export { encodeResponse } from "./http_response.ts";
export { HandshakeError } from "../protocol/errors.ts";
