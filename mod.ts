/**
 * netws: a WebSocket server (RFC 6455) for Deno, Bun and Node, built to stay up when a client is
 * hostile. Every incoming frame and message is bounded as its bytes arrive, and every violation
 * closes the connection with the close code RFC 6455 asks for.
 *
 * This module is what an application needs. The wire core is on `@netws/server/protocol`, the
 * opening handshake on `@netws/server/handshake`, the transport contract for adapter authors on
 * `@netws/server/adapter`, and each runtime's `listen` on `@netws/server/deno`, `/bun` and `/node`.
 *
 * @example Quick start: an echo server with a limit
 * ```ts
 * import { serve } from "@netws/server";
 *
 * const server = serve({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   maxMessageSize: 1 << 20,
 *   onConnect(conn) {
 *     conn.on("text", (conn, text) => conn.sendText(text));
 *     conn.on("binary", (conn, data) => conn.sendBinary(data));
 *   },
 * });
 * await server.ready;
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { CloseCode } from "./src/protocol/constants.ts";
export {
  InvalidDataError,
  MessageTooBigError,
  PolicyViolationError,
  ProtocolError,
  WebSocketError,
  type WebSocketErrorCode,
} from "./src/protocol/errors.ts";
export {
  HandshakeError,
  type HandshakeErrorCode,
  type PerMessageDeflateOptions,
} from "./src/handshake/mod.ts";
export { HandshakeRequest } from "./src/connection/handshake_request.ts";
export {
  type CloseInfo,
  Connection,
  type ConnectionDeflateOptions,
  type ConnectionDeflateSettings,
  type ConnectionEventMap,
  type ConnectionListener,
  type ConnectionState,
  type DataMessage,
} from "./src/connection/connection.ts";
export { DEFAULTS, type ServeConfig } from "./src/server/options.ts";
export type { SlowSubscriberPolicy } from "./src/server/fanout.ts";
export { type ServeOptions, Server } from "./src/server/server.ts";
export { serve } from "./src/server/serve.ts";
export type { RemoteAddress, TlsOptions } from "./src/connection/transport.ts";
export {
  formatPrometheus,
  Metrics,
  type MetricsSnapshot,
  type PrometheusOptions,
} from "./src/server/metrics.ts";
