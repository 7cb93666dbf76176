/**
 * netws on `node:net` and `node:tls`: {@linkcode listen} for `serve({ listen })`, and
 * {@linkcode handleUpgrade} to take WebSocket upgrades from an existing `node:http` server. It
 * runs on Node, and on Deno and Bun through their `node:` modules.
 *
 * @example Serve with the node:net adapter
 * ```ts
 * import { serve } from "@netws/server";
 * import { listen } from "@netws/server/node";
 *
 * const server = serve({ port: 0, hostname: "127.0.0.1", listen });
 * await server.ready;
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { listen } from "./net.ts";
export { handleUpgrade } from "./http.ts";
