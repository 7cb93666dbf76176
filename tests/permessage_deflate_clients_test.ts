// permessage-deflate with real clients over loopback, before serve() speaks it: the ws package's
// client (with its own options for each parameter) and Bun's WebSocket client connect to a server
// made of the building blocks (tests/helpers/deflate_loopback.ts) and echo what they get.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { PerMessageDeflateOptions } from "../src/handshake/permessage_deflate.ts";
import { startDeflateServer } from "./helpers/deflate_loopback.ts";
import { Random } from "./helpers/random.ts";
import { within } from "./helpers/server.ts";

/** The part of a WebSocket client both clients share. */
interface Client {
  readonly extensions: string;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(): void;
}

const MESSAGES = [
  "Hello",
  JSON.stringify({ type: "message", text: "hello there ".repeat(200) }),
  "ü🚀 ".repeat(3000),
  Array.from(new Random(6).bytes(4000), (byte) => String.fromCharCode(0x21 + (byte % 90))).join(""),
  JSON.stringify({ type: "message", text: "hello there ".repeat(200), again: true }),
];

// The ws package itself, by path: on Bun, the bare name "ws" is Bun's own implementation.
const require = createRequire(import.meta.url);
const WsClient = require(join(dirname(require.resolve("ws/package.json")), "index.js")) as new (
  url: string,
  options?: Record<string, unknown>,
) => Client;

/** Runs the echo with one client; returns what the server saw. */
async function echo(
  connect: (url: string) => Client,
  server: PerMessageDeflateOptions = {},
) {
  const { close, port, session } = await startDeflateServer(MESSAGES, server);
  let client: Client | undefined;
  try {
    const extensions = await within(
      new Promise<string>((resolve, reject) => {
        client = connect(`ws://127.0.0.1:${port}/`);
        let seen = 0;
        client.onmessage = (event) => {
          client!.send(String(event.data));
          if (++seen === MESSAGES.length) resolve(client!.extensions);
        };
        client.onerror = () => reject(new Error("Cannot echo: the client failed"));
      }),
      15_000,
      "receive every message",
    );
    await within(session.done, 15_000, "get every echo back");
    assert.deepEqual(session.echoed, MESSAGES);
    return { session, extensions };
  } finally {
    await close();
    client?.close();
  }
}

describe("permessage-deflate with the ws client", () => {
  it("the ws client negotiates with the defaults and echoes compressed messages", async () => {
    const { session, extensions } = await echo((url) => new WsClient(url));
    assert.equal(session.offer, "permessage-deflate; client_max_window_bits");
    assert.equal(
      session.response,
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    );
    assert.equal(extensions, "permessage-deflate");
    // The three large messages at least come back compressed.
    assert.ok(session.compressedEchoes >= 3, `${session.compressedEchoes} echoes came compressed`);
  });

  it("the ws client agrees to no context takeover and small windows both ways", async () => {
    const { session } = await echo((url) =>
      new WsClient(url, {
        perMessageDeflate: {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 9,
          threshold: 0,
        },
      })
    );
    assert.equal(
      session.offer,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10; client_max_window_bits=9",
    );
    assert.equal(
      session.response,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10; client_max_window_bits=9",
    );
    assert.equal(session.compressedEchoes, MESSAGES.length);
  });

  it("the ws client reads messages from a server with a 9-bit window and an 8-bit client", async () => {
    const { session } = await echo(
      (url) => new WsClient(url, { perMessageDeflate: { threshold: 0 } }),
      { serverMaxWindowBits: 9, clientMaxWindowBits: 8 },
    );
    assert.equal(
      session.response,
      "permessage-deflate; server_max_window_bits=9; client_max_window_bits=8",
    );
    assert.equal(session.compressedEchoes, MESSAGES.length);
  });
});

describe("permessage-deflate with Bun's WebSocket client", () => {
  const bun = "Bun" in globalThis;
  it(
    "Bun's client negotiates permessage-deflate and echoes compressed messages",
    { skip: !bun && "skipped: Bun's client exists only on Bun" },
    async () => {
      const Global = (globalThis as unknown as { WebSocket: new (url: string) => Client })
        .WebSocket;
      const { session, extensions } = await echo((url) => new Global(url));
      assert.equal(session.offer, "permessage-deflate; client_max_window_bits");
      assert.equal(extensions, session.response);
      assert.ok(
        session.compressedEchoes >= 1,
        `${session.compressedEchoes} echoes came compressed`,
      );
    },
  );
});
