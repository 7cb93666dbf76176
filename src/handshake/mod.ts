/**
 * The opening handshake of RFC 6455 §4, sans-I/O: a strict HTTP/1.1 request-head parser, the
 * upgrade checks, the accept key, and the responses (101 and the error statuses). A refusal is a
 * {@linkcode HandshakeError} whose `code` names the reason and whose `body` says it in fixed words.
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

export { acceptKey } from "./accept_key.ts";
export { HandshakeError, type HandshakeErrorCode } from "./errors.ts";
export {
  DEFAULT_MAX_HEADER_FIELDS,
  type ParsedRequest,
  parseRequestHead,
  type ParseRequestHeadOptions,
} from "./request_head.ts";
export { buildErrorResponse, encodeResponse, type ErrorResponseOptions } from "./response.ts";
export { toRequest } from "./to_request.ts";
export {
  type AcceptResponseOptions,
  buildAcceptResponse,
  isUpgradeRequest,
  type UpgradeRequest,
  validateUpgrade,
} from "./upgrade.ts";
export {
  type ExtensionOffer,
  type ExtensionParam,
  parseExtensionHeader,
} from "./extension_header.ts";
export {
  negotiatePerMessageDeflate,
  PERMESSAGE_DEFLATE,
  PERMESSAGE_DEFLATE_DEFAULTS,
  PERMESSAGE_DEFLATE_OPTION_KEYS,
  type PerMessageDeflateAgreement,
  type PerMessageDeflateOptions,
  type PerMessageDeflateParams,
  type PerMessageDeflateSettings,
  resolvePerMessageDeflateOptions,
} from "./permessage_deflate.ts";
