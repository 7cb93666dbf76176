// Fan-out server of the benchmark, on the `ws` package (the peer on Node): every message received
// goes to every open client, the sender included, in a `for … send` loop.
//
//   node bench/servers/fanout_ws.mjs 9001

import { WebSocket, WebSocketServer } from "ws";

const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);
const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  maxPayload: 1 << 20,
  perMessageDeflate: false,
});
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    for (const client of server.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
  ws.on("error", () => {});
});
server.on("listening", () => console.log(`listening ${server.address().port}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
