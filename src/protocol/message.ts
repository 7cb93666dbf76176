/**
 * The message as plain data (RFC 6455 §5.6).
 *
 * @module
 */

/**
 * A complete message, or a control frame passed through. A close without a status code has no
 * `code`.
 *
 * @example Branch on a message's type
 * ```ts
 * import type { Message } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * const describe = (message: Message) =>
 *   message.type === "text" ? message.data : message.type;
 * assert.equal(describe({ type: "text", data: "Hello" }), "Hello");
 * assert.equal(describe({ type: "close", code: 1000, reason: "" }), "close");
 * ```
 */
export type Message =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code?: number; reason: string };
