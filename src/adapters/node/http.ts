/**
 * WebSocket upgrades of an existing `node:http` or `node:https` server (Express, Fastify, …), so
 * that netws shares its port.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { UpgradeTarget } from "../../connection/transport.ts";
import type { ParsedRequest } from "../../handshake/mod.ts";
import { adopt } from "./net.ts";

const BAD_REQUEST = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/**
 * Hands an `upgrade` event of a `node:http` server to `target` (a netws server created with
 * `listen: false`), which checks the handshake (RFC 6455 §4.2.1) and runs the connection.
 *
 * @example Share the port of a node:http server
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { serve } from "@netws/server";
 * import { handleUpgrade } from "@netws/server/node";
 *
 * const wss = serve({ listen: false, onConnect: (conn) => conn.on("text", (c, t) => c.sendText(t)) });
 * const http = createServer((req, res) => res.end("hello"));
 * http.on("upgrade", (req, socket, head) => handleUpgrade(wss, req, socket, head));
 * http.listen(8080);
 * ```
 */
export function handleUpgrade(
  target: UpgradeTarget,
  request: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
): void {
  const headers = new Headers();
  const raw = request.rawHeaders;
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  } catch {
    // Node took a header that web Headers refuse: answer as the core would.
    return void socket.end(BAD_REQUEST);
  }
  // RFC 6455 §4.1: the handshake needs HTTP/1.1 or later.
  if (request.httpVersion !== "1.1") return void socket.end(BAD_REQUEST);
  const url = request.url ?? "/";
  const query = url.indexOf("?");
  const parsed: ParsedRequest = {
    method: request.method ?? "GET",
    target: url,
    path: query === -1 ? url : url.slice(0, query),
    query: query === -1 ? "" : url.slice(query + 1),
    httpVersion: "1.1",
    headers,
    headLength: 0,
  };
  adopt(socket as Socket, (transport) => target.accept(transport, parsed), head);
}
