/**
 * Echo server of the echo benchmark, on `Bun.serve`: the peer on Bun.
 *
 * ```sh
 * bun bench/servers/bun_serve.ts 9001
 * ```
 *
 * The port comes from the first argument or `PORT` (default 9001). Prints `listening <port>`.
 * `ECHO_MAX_MESSAGE` sets `maxPayloadLength` (default 2 MiB).
 *
 * @module
 */

// Bun's own types are not installed: declare the little this server uses.
interface BunSocket {
  send(data: string | Uint8Array, compress?: boolean): number;
}
interface BunServer {
  readonly port: number;
  upgrade(request: Request): boolean;
}
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      message(ws: BunSocket, message: string | Uint8Array): void;
      perMessageDeflate: boolean | { compress: string; decompress: string };
      maxPayloadLength: number;
    };
  }): BunServer;
};
declare const process: {
  argv: string[];
  env: Record<string, string | undefined>;
  on(signal: string, listener: () => void): void;
  exit(code: number): never;
};

const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);
// ECHO_DEFLATE=1 (the compression benchmark) turns compression on. `perMessageDeflate: true`
// shares one compressor and one decompressor among all connections, so it answers every offer
// with both no-context-takeover parameters; "dedicated" gives each connection its own pair and
// keeps the window when the client offers to, as netws and ws do. Bun compresses a message only
// when `send` is asked to.
const deflate = process.env.ECHO_DEFLATE === "1";
const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  fetch(request, server) {
    if (server.upgrade(request)) return undefined;
    return new Response("WebSocket only", { status: 426 });
  },
  websocket: {
    message(ws, message) {
      ws.send(message, deflate);
    },
    perMessageDeflate: deflate ? { compress: "dedicated", decompress: "dedicated" } : false,
    maxPayloadLength: Number(process.env.ECHO_MAX_MESSAGE ?? 2 * 1024 * 1024),
  },
});
console.log(`listening ${server.port}`);

// Exit normally on a signal, so that a profiler (--cpu-prof) writes its profile.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
