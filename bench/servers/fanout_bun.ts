/**
 * Fan-out server of the benchmark, on `Bun.serve` topics (the peer on Bun): every connection
 * subscribes to one topic and every message received is published to it with `server.publish`,
 * which includes the sender.
 *
 * ```sh
 * bun bench/servers/fanout_bun.ts 9001
 * ```
 *
 * @module
 */

interface BunSocket {
  subscribe(topic: string): void;
}
interface BunServer {
  readonly port: number;
  upgrade(request: Request): boolean;
  publish(topic: string, data: string | Uint8Array): number;
}
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
      perMessageDeflate: boolean;
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
const server: BunServer = Bun.serve({
  port,
  hostname: "127.0.0.1",
  fetch(request, server) {
    if (server.upgrade(request)) return undefined;
    return new Response("WebSocket only", { status: 426 });
  },
  websocket: {
    open(ws) {
      ws.subscribe("all");
    },
    message(_, message) {
      server.publish("all", message);
    },
    perMessageDeflate: false,
    maxPayloadLength: 1 << 20,
  },
});
console.log(`listening ${server.port}`);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
