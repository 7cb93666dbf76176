/**
 * Echo server of the echo benchmark, on `Deno.serve` and `Deno.upgradeWebSocket`: the peer on
 * Deno.
 *
 * ```sh
 * deno run -A bench/servers/deno_serve.ts 9001
 * ```
 *
 * The port comes from the first argument or `PORT` (default 9001). Prints `listening <port>`.
 *
 * @module
 */

const port = Number(Deno.args[0] ?? Deno.env.get("PORT") ?? 9001);
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
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});

// Exit normally on a signal, so that a profiler writes its profile.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => Deno.exit(0));
}
