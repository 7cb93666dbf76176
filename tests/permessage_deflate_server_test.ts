// serve({ perMessageDeflate }) with real clients on loopback: the ws client (defaults and its
// own parameters), Bun's client and Chromium negotiate, see exactly what was agreed in the 101,
// and echo compressed messages through the server; a server without the option declines.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { serve } from "../src/server/serve.ts";
import type { ServeOptions } from "../src/server/server.ts";
import { constants, deflateRawSync } from "node:zlib";
import { Opcode } from "../src/protocol/constants.ts";
import { clientFrame, closeOf, RawClient, upgradeRequest } from "./helpers/raw_client.ts";
import { deflatedZeros } from "./helpers/deflate_bombs.ts";
import { Random } from "./helpers/random.ts";
import { within } from "./helpers/server.ts";

const MESSAGES = [
  "Hello",
  JSON.stringify({ type: "message", text: "hello there ".repeat(200) }),
  "ü🚀 ".repeat(3000),
  Array.from(new Random(8).bytes(40_000), (byte) => String.fromCharCode(0x21 + (byte % 90)))
    .join(""),
];

interface Client {
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onopen: (() => void) | null;
  send(data: string): void;
  close(): void;
}

const require = createRequire(import.meta.url);
// The ws package itself, by path: on Bun, the bare name "ws" is Bun's own implementation.
const WsClient = require(join(dirname(require.resolve("ws/package.json")), "index.js")) as new (
  url: string,
  options?: Record<string, unknown>,
) => Client & {
  on(event: "upgrade", listener: (response: { headers: Record<string, string> }) => void): void;
};

/** Starts an echo server; returns its port and a stop function. */
async function echoServer(options: ServeOptions) {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    silenceMax: 0,
    ...options,
    onConnect(conn) {
      conn.on("text", (conn, text) => conn.sendText(text));
    },
  });
  await server.ready;
  return { port: server.port, stop: () => server.shutdown() };
}

/** Sends every message, waits for every echo in order. */
function echoAll(client: Client): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const echoed: string[] = [];
    client.onmessage = (event) => {
      echoed.push(String(event.data));
      if (echoed.length === MESSAGES.length) resolve(echoed);
    };
    client.onerror = () => reject(new Error("Cannot echo: the client failed"));
    client.onopen = () => {
      for (const message of MESSAGES) client.send(message);
    };
  });
}

describe("serve with perMessageDeflate", () => {
  for (
    const [name, clientOptions, expected] of [
      ["defaults", {}, "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"],
      [
        "no context takeover, small windows",
        {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 9,
          threshold: 0,
        },
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10; client_max_window_bits=9",
      ],
    ] as const
  ) {
    it(`serve echoes compressed messages to the ws client (${name})`, async () => {
      const { port, stop } = await echoServer({ perMessageDeflate: true });
      let client: InstanceType<typeof WsClient> | undefined;
      try {
        client = new WsClient(`ws://127.0.0.1:${port}/`, { perMessageDeflate: clientOptions });
        let answer: string | undefined;
        client.on("upgrade", (response) => answer = response.headers["sec-websocket-extensions"]);
        const echoed = await within(echoAll(client), 15_000, "echo through serve");
        assert.equal(answer, expected);
        assert.deepEqual(echoed, MESSAGES);
      } finally {
        client?.close();
        await stop();
      }
    });
  }

  it("serve without perMessageDeflate answers no extension and still echoes", async () => {
    const { port, stop } = await echoServer({});
    let client: InstanceType<typeof WsClient> | undefined;
    try {
      client = new WsClient(`ws://127.0.0.1:${port}/`);
      let answer: string | undefined = "unset";
      client.on("upgrade", (response) => answer = response.headers["sec-websocket-extensions"]);
      assert.deepEqual(await within(echoAll(client), 15_000, "echo through serve"), MESSAGES);
      assert.equal(answer, undefined);
    } finally {
      client?.close();
      await stop();
    }
  });

  it(
    "serve echoes compressed messages to Bun's client",
    { skip: !("Bun" in globalThis) && "skipped: Bun's client exists only on Bun" },
    async () => {
      const { port, stop } = await echoServer({ perMessageDeflate: true });
      const Global = (globalThis as unknown as {
        WebSocket: new (url: string) => Client & { extensions: string };
      }).WebSocket;
      let client: InstanceType<typeof Global> | undefined;
      try {
        client = new Global(`ws://127.0.0.1:${port}/`);
        assert.deepEqual(await within(echoAll(client), 15_000, "echo through serve"), MESSAGES);
        assert.equal(
          client.extensions,
          "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        );
      } finally {
        client?.close();
        await stop();
      }
    },
  );

  const chromium = "/usr/bin/chromium";
  it(
    "serve echoes compressed messages to Chromium",
    { skip: !existsSync(chromium) && `skipped: ${chromium} is missing`, timeout: 60_000 },
    async () => {
      const { port, stop } = await echoServer({
        perMessageDeflate: true,
        onRequest: () =>
          new Response("<!doctype html><title>deflate</title>", {
            headers: { "content-type": "text/html" },
          }),
      });
      const profile = await mkdtemp(join(tmpdir(), "netws-deflate-serve-"));
      let context: BrowserContext | undefined;
      try {
        const { chromium: browser } = await import("playwright-core");
        context = await browser.launchPersistentContext(profile, {
          executablePath: chromium,
          headless: true,
          args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
          timeout: 20_000,
        });
        const page = await context.newPage();
        await page.goto(`http://127.0.0.1:${port}/`);
        const result = await within(
          page.evaluate(
            (messages) =>
              new Promise<{ extensions: string; echoed: string[] }>((resolve, reject) => {
                const socket = new WebSocket(`ws://${location.host}/`);
                const echoed: string[] = [];
                socket.onopen = () => messages.forEach((message) => socket.send(message));
                socket.onmessage = (event) => {
                  echoed.push(String(event.data));
                  if (echoed.length === messages.length) {
                    resolve({ extensions: socket.extensions, echoed });
                  }
                };
                socket.onerror = () => reject(new Error("the WebSocket failed"));
              }),
            MESSAGES,
          ),
          30_000,
          "echo in Chromium",
        );
        assert.equal(
          result.extensions,
          "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        );
        assert.deepEqual(result.echoed, MESSAGES);
      } finally {
        await context?.close();
        await rm(profile, { recursive: true, force: true });
        await stop();
      }
    },
  );

  /** A raw client that offered permessage-deflate; returns it and the server's answer. */
  async function rawDeflateClient(port: number) {
    const client = await RawClient.connect(port);
    await client.write(upgradeRequest("/", { "Sec-WebSocket-Extensions": "permessage-deflate" }));
    const response = await client.response();
    assert.equal(response.status, 101);
    return { client, answer: response.headers.get("sec-websocket-extensions") };
  }

  const deflated = (data: Uint8Array) => {
    const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
    return out.subarray(0, out.length - 4);
  };

  it("serve inflates RFC 7692 §7.2.3.1 from a raw client and answers a bomb with 1009", async () => {
    const { port, stop } = await echoServer({ perMessageDeflate: true });
    const { client, answer } = await rawDeflateClient(port);
    try {
      assert.equal(answer, "permessage-deflate; server_max_window_bits=12");
      const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
      await client.write(clientFrame(Opcode.Text, hello, { rsv1: true }));
      const echo = await client.nextDataOrClose();
      assert.equal(new TextDecoder().decode(echo.payload), "Hello"); // under the threshold
      assert.equal(echo.rsv1, false);
      // 256 MiB of zeros in one frame of ~250 KB: stopped past maxMessageSize (16 MiB).
      const bomb = deflated(new Uint8Array(256 * 1024 * 1024));
      assert.ok(bomb.length < 300_000);
      await client.write(clientFrame(Opcode.Binary, bomb, { rsv1: true }));
      const close = await client.nextDataOrClose(10_000);
      assert.equal(closeOf(close).code, 1009);
    } finally {
      client.destroy();
      await stop();
    }
  });

  const MiB = 1024 * 1024;
  /** The output chunk of every runtime's inflater, by which a stop may pass the limit. */
  const CHUNK = 16 * 1024;

  /** A server that answers each binary message with its length; returns its port and stop. */
  async function lengthServer(options: ServeOptions) {
    const server = serve({
      port: 0,
      hostname: "127.0.0.1",
      silenceMax: 0,
      perMessageDeflate: true,
      ...options,
      onConnect(conn) {
        conn.on("binary", (conn, data) => conn.sendText(String(data.length)));
      },
    });
    await server.ready;
    return { port: server.port, server, stop: () => server.shutdown() };
  }

  /** Sends `bomb` as one compressed binary message; resolves with the answer frame. */
  async function sendCompressed(port: number, bomb: Uint8Array) {
    const { client } = await rawDeflateClient(port);
    try {
      await client.write(clientFrame(Opcode.Binary, bomb, { rsv1: true }));
      return await client.nextDataOrClose(30_000);
    } finally {
      client.destroy();
    }
  }

  /** Asserts a 1009 whose reason counts inflated bytes just past `limit` (one chunk at most). */
  function assertTooBig(frame: ReturnType<typeof closeOf>, limit: number): void {
    assert.equal(frame.code, 1009);
    const match = /^Cannot accept message: (\d+) bytes exceed the limit of (\d+)$/.exec(
      frame.reason,
    );
    assert.ok(match, `reason "${frame.reason}"`);
    const [size, said] = [Number(match[1]), Number(match[2])];
    assert.equal(said, limit);
    assert.ok(size > limit && size <= limit + CHUNK, `stopped at ${size} for ${limit}`);
  }

  it("serve closes 1 GiB of zeros compressed to ~1 MiB with 1009 just past maxMessageSize", {
    timeout: 120_000,
  }, async () => {
    const bomb = await deflatedZeros(1024 * MiB);
    assert.ok(bomb.length < 1.1 * MiB, `the bomb is ${bomb.length} bytes`);
    const { port, server, stop } = await lengthServer({});
    try {
      assertTooBig(closeOf(await sendCompressed(port, bomb)), 16 * MiB);
      assert.equal(server.metrics.messagesIn, 0, "nothing was delivered");
      assert.deepEqual(server.metrics.closeCodes, { "1009": 1 });
    } finally {
      await stop();
    }
  });

  it(
    "serve takes a 16 MiB message at 1000:1 at maxMessageSize, and closes it with 1009 one byte under",
    {
      timeout: 120_000,
    },
    async () => {
      const size = 16 * MiB;
      const bomb = await deflatedZeros(size);
      assert.ok(size / bomb.length >= 1000, `ratio ${(size / bomb.length).toFixed(0)}:1`);
      const at = await lengthServer({ maxMessageSize: size });
      try {
        const answer = await sendCompressed(at.port, bomb);
        assert.equal(answer.opcode, Opcode.Text);
        assert.equal(new TextDecoder().decode(answer.payload), String(size));
      } finally {
        await at.stop();
      }
      // The same message is one inflated byte over a limit of size - 1.
      const under = await lengthServer({ maxMessageSize: size - 1 });
      try {
        assertTooBig(closeOf(await sendCompressed(under.port, bomb)), size - 1);
        assert.equal(under.server.metrics.messagesIn, 0);
      } finally {
        await under.stop();
      }
    },
  );

  it("serve answers data that does not inflate with 1007, RSV1 elsewhere with 1002", async () => {
    const { port, stop } = await echoServer({ perMessageDeflate: true });
    try {
      const bad = await rawDeflateClient(port);
      await bad.client.write(
        clientFrame(Opcode.Text, new Uint8Array([0xff, 0xff]), { rsv1: true }),
      );
      assert.equal(closeOf(await bad.client.nextDataOrClose()).code, 1007);
      bad.client.destroy();
      const ping = await rawDeflateClient(port);
      await ping.client.write(clientFrame(Opcode.Ping, new Uint8Array(0), { rsv1: true }));
      assert.equal(closeOf(await ping.client.nextDataOrClose()).code, 1002);
      ping.client.destroy();
    } finally {
      await stop();
    }
    // Without the option, the offer is declined and RSV1 is a protocol error.
    const plain = await echoServer({});
    try {
      const { client, answer } = await rawDeflateClient(plain.port);
      assert.equal(answer, null);
      await client.write(clientFrame(Opcode.Text, new Uint8Array([0xf2, 0x00]), { rsv1: true }));
      assert.equal(closeOf(await client.nextDataOrClose()).code, 1002);
      client.destroy();
    } finally {
      await plain.stop();
    }
  });
});
