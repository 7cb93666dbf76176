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

/** A client with its messages in arrival order. */
async function open(port: number) {
  const socket = new WebSocketClient(`ws://127.0.0.1:${port}/`);
  socket.binaryType = "arraybuffer";
  const messages: unknown[] = [];
  const closed = new Promise<void>((resolve) => socket.addEventListener("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error("Cannot connect")));
  });
  socket.addEventListener("message", (event) => messages.push(event.data));
  const received = async (count: number) => {
    const deadline = Date.now() + 5000;
    while (messages.length < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(messages.length, count);
  };
  return { socket, messages, closed, received };
}

describe("metrics example", () => {
  it(
    "metrics example counts an echo session with a subscriber and serves it to Prometheus",
    { timeout: 10_000 },
    async () => {
      const server = startMetricsEcho({ port: 0, hostname: "127.0.0.1", labels: { worker: "1" } });
      try {
        await server.ready;
        const listener = await open(server.port);
        listener.socket.send("subscribe");
        await listener.received(1);
        const talker = await open(server.port);
        talker.socket.send("héllo");
        talker.socket.send(new Uint8Array([1, 2, 3]));
        await talker.received(2);
        await listener.received(3);
        assert.equal(listener.messages[1], "héllo");
        assert.deepEqual(
          new Uint8Array(listener.messages[2] as ArrayBuffer),
          new Uint8Array([1, 2, 3]),
        );
        talker.socket.close(1000, "bye");
        listener.socket.close(1000, "bye");
        await Promise.all([talker.closed, listener.closed]);
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
        assert.equal(sample(text, "netws_connections_opened_total"), 2);
        assert.equal(sample(text, "netws_connections_open"), 0);
        assert.equal(sample(text, "netws_messages_received_total"), 3);
        // "subscribed", two echoes and two publishes to the listener.
        assert.equal(sample(text, "netws_messages_sent_total"), 5);
        assert.equal(sample(text, "netws_publishes_total"), 2);
        // Masked client frames (2-byte header, 4-byte key): "subscribe" 15, "héllo" 12 (6 bytes
        // of UTF-8), 3 bytes 9, two closes with 1000 "bye" 11 each.
        assert.equal(sample(text, "netws_received_bytes_total"), 15 + 12 + 9 + 11 + 11);
        // Server frames (2-byte header): "subscribed" 12, "héllo" 8 twice, 3 bytes 5 twice,
        // two closes echoing the code 4 each.
        assert.equal(sample(text, "netws_sent_bytes_total"), 12 + 8 + 8 + 5 + 5 + 4 + 4);
        assert.equal(sample(text, "netws_compressions_total"), 0);
        assert.match(text, /^netws_closes_total\{worker="1",code="1000"\} 2$/m);
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
