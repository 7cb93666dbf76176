/**
 * Taking WebSocket upgrades from an existing `node:http` or `node:https` server (Express,
 * Fastify, ...), so netws can share its port.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ParsedRequest } from "../handshake/handshake.ts";
import type { Server } from "../server/server.ts";
import { fromNodeSocket } from "./node.ts";

/**
 * Hands an `upgrade` event of a `node:http`/`node:https` server to a netws server, which then
 * checks the handshake (RFC 6455 §4.2.1) and runs the connection with all its limits. Create the
 * netws server with `listen: false` when it should not listen itself.
 *
 * @example Share the port of a node:http server
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { serve } from "@netws/server";
 * import { handleUpgrade } from "@netws/server/node";
 *
 * const wss = serve({
 *   listen: false,
 *   onConnect: (conn) => conn.on("text", (conn, text) => conn.sendText(text)),
 * });
 * const http = createServer((req, res) => res.end("hello"));
 * http.on("upgrade", (req, socket, head) => handleUpgrade(wss, req, socket, head));
 * http.listen(8080);
 * ```
 */
export function handleUpgrade(
  server: Server,
  request: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
): void {
  const headers = new Headers();
  const raw = request.rawHeaders;
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  } catch {
    // Node accepted a header that web Headers refuse: answer as the core would.
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  // RFC 6455 §4.1: the handshake needs HTTP/1.1 or later.
  if (request.httpVersion !== "1.1") {
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  const target = request.url ?? "/";
  const query = target.indexOf("?");
  const parsed: ParsedRequest = {
    method: request.method ?? "GET",
    target,
    path: query === -1 ? target : target.slice(0, query),
    query: query === -1 ? "" : target.slice(query + 1),
    httpVersion: "1.1",
    headers,
    headLength: 0,
  };
  server.handleConnection(fromNodeSocket(socket as Socket, head), parsed);
}
