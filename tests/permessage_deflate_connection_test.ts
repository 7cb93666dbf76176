// conn.perMessageDeflate: permessage-deflate decided per connection before the handshake, like the
// limits. Real clients on loopback: the ws client (which offers the extension) reads the 101 and
// what it negotiated; a raw client sees whether the echo carries RSV1 on the wire.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { serve } from "../src/server/serve.ts";
import type { Connection, ServeOptions } from "../mod.ts";
import { Opcode } from "../src/protocol/constants.ts";
import { clientFrame, RawClient, upgradeRequest } from "./helpers/raw_client.ts";
import { within } from "./helpers/server.ts";

const LONG = JSON.stringify({ type: "message", text: "hello there ".repeat(100) });

interface WsClient {
  readonly extensions: string;
  on(event: "upgrade", listener: (response: { headers: Record<string, string> }) => void): void;
  on(event: "open", listener: () => void): void;
  on(event: "message", listener: (data: unknown) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  send(data: string): void;
  close(): void;
  terminate(): void;
}

const require = createRequire(import.meta.url);
// The ws package itself, by path: on Bun, the bare name "ws" is Bun's own implementation.
const WebSocket = require(join(dirname(require.resolve("ws/package.json")), "index.js")) as new (
  url: string,
  options?: Record<string, unknown>,
) => WsClient;

/** An echo server whose `handshake` listener runs `decide` first. */
async function echoServer(
  options: ServeOptions,
  decide: (conn: Connection, query: string) => void,
) {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    silenceMax: 0,
    ...options,
    onConnect(conn) {
      conn.on("handshake", (conn, request) => decide(conn, request.query));
      conn.on("text", (conn, text) => conn.sendText(text));
    },
  });
  await server.ready;
  return server;
}

/** Connects the ws client (offering permessage-deflate), echoes one message, closes. */
async function wsEcho(port: number, query: string) {
  const client = new WebSocket(`ws://127.0.0.1:${port}/?${query}`, { perMessageDeflate: true });
  try {
    let header: string | undefined;
    client.on("upgrade", (response) => header = response.headers["sec-websocket-extensions"]);
    const echo = await within(
      new Promise<string>((resolve, reject) => {
        client.on("open", () => client.send(LONG));
        client.on("message", (data) => resolve(String(data)));
        client.on("error", reject);
      }),
      10_000,
      "echo through the ws client",
    );
    assert.equal(echo, LONG);
    return { header, negotiated: client.extensions };
  } finally {
    client.terminate();
  }
}

/** A raw client offering permessage-deflate: the 101's answer, and whether the echo is RSV1. */
async function rawEcho(port: number, query: string) {
  const client = await RawClient.connect(port);
  try {
    await client.write(
      upgradeRequest(`/?${query}`, { "Sec-WebSocket-Extensions": "permessage-deflate" }),
    );
    const response = await client.response();
    assert.equal(response.status, 101);
    const answer = response.headers.get("sec-websocket-extensions");
    // The client compresses when the server agreed, and sends plain text otherwise.
    const text = new TextEncoder().encode(LONG);
    if (answer === null) await client.write(clientFrame(Opcode.Text, text));
    else {
      const deflated = deflateRawSync(text, { finishFlush: constants.Z_SYNC_FLUSH });
      await client.write(
        clientFrame(Opcode.Text, deflated.subarray(0, deflated.length - 4), { rsv1: true }),
      );
    }
    const echo = await client.nextDataOrClose(5000);
    assert.equal(echo.opcode, Opcode.Text);
    const payload = echo.rsv1
      ? inflateRawSync(Buffer.concat([echo.payload, Buffer.from([0, 0, 0xff, 0xff])]), {
        finishFlush: constants.Z_SYNC_FLUSH,
      })
      : echo.payload;
    assert.equal(new TextDecoder().decode(payload), LONG);
    return { answer, rsv1: echo.rsv1, wireBytes: echo.payload.length };
  } finally {
    client.destroy();
  }
}

describe("Connection.perMessageDeflate", () => {
  it("Connection.perMessageDeflate false declines compression for one client only", async () => {
    const server = await echoServer({ perMessageDeflate: true }, (conn, query) => {
      if (query === "plain") conn.perMessageDeflate = false;
    });
    try {
      const plain = await wsEcho(server.port, "plain");
      assert.equal(plain.header, undefined);
      assert.equal(plain.negotiated, "");
      const compressed = await wsEcho(server.port, "other");
      assert.equal(
        compressed.header,
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
      );
      assert.equal(compressed.negotiated, "permessage-deflate");
      // On the wire: the declined client's echo is plain, the other's is compressed.
      const raw = await rawEcho(server.port, "plain");
      assert.deepEqual([raw.answer, raw.rsv1, raw.wireBytes], [null, false, LONG.length]);
      const rawCompressed = await rawEcho(server.port, "other");
      assert.equal(rawCompressed.answer, "permessage-deflate; server_max_window_bits=12");
      assert.equal(rawCompressed.rsv1, true);
      assert.ok(rawCompressed.wireBytes < LONG.length / 4, String(rawCompressed.wireBytes));
    } finally {
      await server.shutdown();
    }
  });

  it("Connection.perMessageDeflate turns compression on for one connection of a server without it", async () => {
    const server = await echoServer({}, (conn, query) => {
      assert.equal(conn.perMessageDeflate, false);
      if (query === "small") conn.perMessageDeflate = { serverMaxWindowBits: 10, threshold: 0 };
    });
    try {
      const small = await wsEcho(server.port, "small");
      assert.equal(
        small.header,
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
      );
      assert.equal(small.negotiated, "permessage-deflate");
      assert.equal((await wsEcho(server.port, "none")).header, undefined);
      const raw = await rawEcho(server.port, "small");
      assert.deepEqual([raw.answer, raw.rsv1], [
        "permessage-deflate; server_max_window_bits=10",
        true,
      ]);
      const declined = await rawEcho(server.port, "none");
      assert.deepEqual([declined.answer, declined.rsv1], [null, false]);
    } finally {
      await server.shutdown();
    }
  });

  it("Connection.perMessageDeflate starts as the server's, and true or an object build on it", async () => {
    const seen: unknown[] = [];
    const server = await echoServer(
      { perMessageDeflate: { threshold: 4096, level: 1, concurrency: 3 } },
      (conn, query) => {
        seen.push(conn.perMessageDeflate);
        if (query === "off-on") {
          conn.perMessageDeflate = false;
          seen.push(conn.perMessageDeflate);
          conn.perMessageDeflate = true;
        } else conn.perMessageDeflate = { clientNoContextTakeover: true, level: 9 };
        seen.push(conn.perMessageDeflate);
      },
    );
    try {
      const serverOffer = {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 12,
        level: 1,
        memLevel: 5,
        threshold: 4096,
      };
      const onOff = await rawEcho(server.port, "off-on");
      assert.equal(onOff.rsv1, false); // under the server's threshold of 4096
      assert.deepEqual(seen, [serverOffer, false, serverOffer]);
      seen.length = 0;
      const changed = await wsEcho(server.port, "object");
      assert.equal(
        changed.header,
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; " +
          "client_max_window_bits=12",
      );
      assert.deepEqual(seen, [serverOffer, {
        ...serverOffer,
        clientNoContextTakeover: true,
        level: 9,
      }]);
    } finally {
      await server.shutdown();
    }
  });

  it("Connection.perMessageDeflate rejects bad values as serve() does, and once answered", async () => {
    const errors: unknown[] = [];
    let ready: Connection | undefined;
    const attempt = (conn: Connection, value: unknown) => {
      try {
        conn.perMessageDeflate = value as boolean;
        errors.push(undefined);
      } catch (error) {
        errors.push(error);
      }
    };
    const server = await echoServer({}, (conn) => {
      for (
        const value of [
          "on",
          null,
          { threshhold: 0 },
          { concurrency: 2 },
          { level: "1" },
          { serverMaxWindowBits: 8 },
          { level: 10 },
        ]
      ) attempt(conn, value);
      conn.on("ready", (conn) => {
        ready = conn;
        attempt(conn, false);
      });
    });
    try {
      await rawEcho(server.port, "");
      const expected: [ErrorConstructor, string][] = [
        [TypeError, 'perMessageDeflate: expected true, false or an options object, got "on"'],
        [TypeError, "perMessageDeflate: expected true, false or an options object, got null"],
        [TypeError, 'perMessageDeflate: unknown option "threshhold"'],
        [
          TypeError,
          "perMessageDeflate.concurrency: it is shared by the server's connections; set it in serve()",
        ],
        [TypeError, 'perMessageDeflate.level: expected an integer from 0 to 9, got "1"'],
        [
          RangeError,
          "perMessageDeflate.serverMaxWindowBits: expected an integer from 9 to 15, got 8",
        ],
        [RangeError, "perMessageDeflate.level: expected an integer from 0 to 9, got 10"],
        [TypeError, "perMessageDeflate: the handshake has been answered"],
      ];
      assert.equal(errors.length, expected.length);
      expected.forEach(([kind, message], i) => {
        assert.ok(errors[i] instanceof kind, `${i}: ${String(errors[i])}`);
        assert.equal((errors[i] as Error).message, `Cannot set ${message}`);
      });
      // Nothing was changed by the rejected values.
      assert.equal(ready?.perMessageDeflate, false);
    } finally {
      await server.shutdown();
    }
  });
});
