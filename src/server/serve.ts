/**
 * `serve`: starts a {@linkcode Server} with the adapter of the running runtime. The only module
 * that detects the runtime.
 *
 * @module
 */

import { detectListen, loadCompression } from "../adapters/detect.ts";
import { type ServeOptions, Server } from "./server.ts";
import { validateServeOptions } from "./validate.ts";

/**
 * Starts a WebSocket server on the running runtime (Deno, Bun or Node). Throws a `TypeError` or
 * `RangeError` for a bad option before anything listens; `server.ready` rejects if it cannot
 * listen.
 *
 * @example Echo server with per-connection limits
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
 */
export function serve(options: ServeOptions = {}): Server {
  // One check for every runtime, before anything listens: unknown keys, types, TLS settings.
  validateServeOptions(options);
  const { listen } = options;
  return new Server(
    options,
    async () => listen === false ? undefined : listen ?? await detectListen(),
    // node:zlib is loaded only by a server that offers permessage-deflate.
    loadCompression,
  );
}
