// Echo servers with their libraries' default limits, for bench/hostile.ts. SERVER=netws (default)
// runs netws: from NETWS_MODULE (the built npm/mod.js, for Node) or ../../mod.ts (Deno, Bun), with
// maxBufferedAmount from MAX_BUFFERED when set. SERVER=peer runs the runtime's peer: `ws` on Node,
// `Bun.serve` on Bun, `Deno.serve` + `Deno.upgradeWebSocket` on Deno.
//
//   SERVER=peer bun bench/servers/hostile_echo.mjs 9001
//
// Prints `listening <port>` once ready; exits on SIGTERM or SIGINT.

import { pathToFileURL } from "node:url";

const port = Number(process.argv[2] ?? 9001);
const hostname = "127.0.0.1";
const runtime = globalThis.Deno ? "deno" : globalThis.Bun ? "bun" : "node";

if ((process.env.SERVER ?? "netws") === "netws") {
  const modulePath = process.env.NETWS_MODULE;
  const { serve } = modulePath
    ? await import(pathToFileURL(modulePath).href)
    : await import("../../mod.ts");
  const maxBuffered = process.env.MAX_BUFFERED;
  const server = serve({
    port,
    hostname,
    ...(maxBuffered ? { maxBufferedAmount: Number(maxBuffered) } : {}),
    onConnect(conn) {
      conn.on("text", (c, text) => c.sendText(text));
      conn.on("binary", (c, data) => c.sendBinary(data));
    },
    onError() {},
  });
  await server.ready;
  console.log(`listening ${server.port}`);
} else if (runtime === "deno") {
  globalThis.Deno.serve(
    { port, hostname, onListen: () => console.log(`listening ${port}`) },
    (req) => {
      const { socket, response } = globalThis.Deno.upgradeWebSocket(req);
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    },
  );
} else if (runtime === "bun") {
  globalThis.Bun.serve({
    port,
    hostname,
    fetch(req, server) {
      return server.upgrade(req) ? undefined : new Response("WebSocket only", { status: 426 });
    },
    websocket: { message: (ws, message) => ws.send(message) },
  });
  console.log(`listening ${port}`);
} else {
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({ host: hostname, port, perMessageDeflate: false });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => {});
  });
  server.on("listening", () => console.log(`listening ${port}`));
}

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
