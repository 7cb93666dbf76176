/**
 * Fan-out server of the benchmark, on `Deno.serve` + `Deno.upgradeWebSocket` (the peer on Deno):
 * every message received goes to every open socket, the sender included, in a loop.
 *
 * ```sh
 * deno run -A bench/servers/fanout_deno.ts 9001
 * ```
 *
 * @module
 */

const port = Number(Deno.args[0] ?? Deno.env.get("PORT") ?? 9001);
const sockets = new Set<WebSocket>();
Deno.serve({
  port,
  hostname: "127.0.0.1",
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("WebSocket only", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => sockets.add(socket);
  socket.onclose = () => sockets.delete(socket);
  socket.onmessage = (event) => {
    for (const s of sockets) if (s.readyState === WebSocket.OPEN) s.send(event.data);
  };
  return response;
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => Deno.exit(0));
}
