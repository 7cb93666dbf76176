// The metrics example (examples/metrics.ts): an echo server whose figures are served in the
// Prometheus text format at /metrics, on the same port. Clients are the built-in WebSocket on
// Deno and Bun and `ws` on Node 20, which has none.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startMetricsEcho } from "../examples/metrics.ts";

const WebSocketClient: typeof WebSocket = globalThis.WebSocket ??
  ((await import("ws")).WebSocket as unknown as typeof WebSocket);

function sample(text: string, name: string): number | undefined {
  const line = text.split("\n").find((line) =>
    line.startsWith(name + " ") || line.startsWith(name + "{")
  );
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("metrics example", () => {
  it(
    "metrics example counts an echo session and serves it to Prometheus",
    { timeout: 10_000 },
    async () => {
      const server = startMetricsEcho({ port: 0, hostname: "127.0.0.1", labels: { worker: "1" } });
      try {
        await server.ready;
        const socket = new WebSocketClient(`ws://127.0.0.1:${server.port}/`);
        socket.binaryType = "arraybuffer";
        const echoed: unknown[] = [];
        const closed = new Promise<void>((resolve) =>
          socket.addEventListener("close", () => resolve())
        );
        await new Promise<void>((resolve, reject) => {
          socket.addEventListener("open", () => resolve());
          socket.addEventListener("error", () => reject(new Error("Cannot connect")));
        });
        socket.addEventListener("message", (event) => echoed.push(event.data));
        socket.send("héllo");
        socket.send(new Uint8Array([1, 2, 3]));
        const deadline = Date.now() + 5000;
        while (echoed.length < 2 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(echoed.length, 2);
        socket.close(1000, "bye");
        await closed;
        // The server sees the close frame before the client's close event: poll briefly anyway.
        let text = "";
        for (let i = 0; i < 100; i++) {
          const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
          assert.equal(response.status, 200);
          assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
          text = await response.text();
          if (sample(text, "netws_connections_open") === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.equal(sample(text, "netws_connections_opened_total"), 1);
        assert.equal(sample(text, "netws_connections_open"), 0);
        assert.equal(sample(text, "netws_messages_received_total"), 2);
        assert.equal(sample(text, "netws_messages_sent_total"), 2);
        assert.equal(sample(text, "netws_received_bytes_total"), 6 + 3); // "héllo" is 6 bytes
        assert.match(text, /^netws_closes_total\{worker="1",code="1000"\} 1$/m);
        assert.match(text, /^netws_connections_open\{worker="1"\} 0$/m);
        const missing = await fetch(`http://127.0.0.1:${server.port}/other`);
        assert.equal(missing.status, 404);
        await missing.body?.cancel();
      } finally {
        await server.shutdown();
      }
    },
  );
});
