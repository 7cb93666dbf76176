// Echo server of the echo benchmark, on the `ws` package: the peer on Node.
//
//   node bench/servers/ws_node.mjs 9001
//
// The port comes from the first argument or PORT (default 9001). Prints `listening <port>`.
// ECHO_MAX_MESSAGE sets maxPayload (default 2 MiB).

import { WebSocketServer } from "ws";

const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);
const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  maxPayload: Number(process.env.ECHO_MAX_MESSAGE ?? 2 * 1024 * 1024),
  // ECHO_DEFLATE=1 (the compression benchmark): compress every message, however small.
  perMessageDeflate: process.env.ECHO_DEFLATE === "1" ? { threshold: 0 } : false,
});
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("error", () => {});
});
server.on("listening", () => console.log(`listening ${server.address().port}`));

// Exit normally on a signal, so that a profiler (--cpu-prof) writes its profile.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
