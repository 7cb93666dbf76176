// What users of ws and Bun.serve look for, and what a newcomer needs to see why a client was
// refused: the `path` option, the `message` event, `onHandshakeError` and its default log, and
// options checked before anything listens. Real sockets on loopback, against every adapter.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../mod.ts";
import { HandshakeError } from "../src/handshake/mod.ts";
import { Opcode } from "../src/protocol/mod.ts";
import { rateLimitedRefusalLog } from "../src/server/refusals.ts";
import { clientFrame, upgradeRequest } from "./helpers/raw_client.ts";
import {
  delay,
  httpRequest,
  loadAdapters,
  openRaw,
  openWs,
  rawRequest,
  start,
  test,
  waitFor,
} from "./helpers/server.ts";

const adapters = await loadAdapters();
const encoder = new TextEncoder();

for (const { name, listen } of adapters) {
  describe(`server conveniences with the ${name} adapter`, () => {
    test("path upgrades only at its path, and the query is not part of it", async (scope) => {
      const { port, log } = await start(scope, listen, { path: "/ws" });
      const ok = await rawRequest(scope, port, upgradeRequest("/other"));
      assert.equal(ok.status, 404);
      assert.equal(ok.body, "No WebSocket endpoint at this path");
      const client = await openRaw(scope, port, "/ws?room=1");
      assert.equal(client.status, 101);
      await waitFor(() => log.refusals.length === 1, "the refusal to be reported");
      assert.equal(log.refusals[0]!.error.code, "NOT_FOUND");
      assert.equal(log.errors.length, 0);
    });

    test("path hands upgrades to other paths to onRequest when there is one", async (scope) => {
      const seen: string[] = [];
      const { port } = await start(scope, listen, {
        path: "/ws",
        onRequest(request) {
          seen.push(new URL(request.url).pathname);
          return new Response("page", { status: 200 });
        },
      });
      const response = await rawRequest(scope, port, upgradeRequest("/elsewhere"));
      assert.equal(response.status, 200);
      assert.equal(response.body, "page");
      assert.deepEqual(seen, ["/elsewhere"]);
    });

    test("message fires after text and binary with the data and isBinary", async (scope) => {
      const events: unknown[] = [];
      const { url } = await start(scope, listen, {
        onConnect(conn) {
          conn.on("text", () => void events.push("text"));
          conn.on("binary", () => void events.push("binary"));
          conn.on("message", (_, data, isBinary) => {
            events.push([typeof data === "string" ? data : [...data], isBinary]);
          });
        },
      });
      const client = await openWs(scope, url);
      assert.equal(await client.roundTrip("hi"), "hi");
      assert.deepEqual([...(await client.roundTrip(new Uint8Array([1, 2]))) as Uint8Array], [
        1,
        2,
      ]);
      assert.deepEqual(events, ["text", ["hi", false], "binary", [[1, 2], true]]);
    });

    test("onHandshakeError gets every refusal with its status, code and the peer", async (scope) => {
      const { port, log } = await start(scope, listen, {
        onConnect(conn) {
          conn.on("handshake", (_, request) => {
            if (request.path === "/private") request.reject(403);
          });
        },
      });
      const missingKey = await rawRequest(
        scope,
        port,
        upgradeRequest("/", { "Sec-WebSocket-Key": "" }),
      );
      assert.equal(missingKey.status, 400);
      const rejected = await rawRequest(scope, port, upgradeRequest("/private"));
      assert.equal(rejected.status, 403);
      const accepted = await openRaw(scope, port, "/");
      assert.equal(accepted.status, 101);
      await waitFor(() => log.refusals.length === 2, "two refusals");
      const [first, second] = log.refusals;
      assert.ok(first!.error instanceof HandshakeError);
      assert.equal(first!.error.status, 400);
      assert.equal(first!.remoteAddr.hostname, "127.0.0.1");
      assert.ok(first!.remoteAddr.port > 0);
      assert.equal(second!.error.status, 403);
      assert.equal(second!.error.code, "FORBIDDEN");
      await delay(20);
      assert.equal(log.refusals.length, 2, "the accepted handshake is no refusal");
    });

    test("onRequest's client errors are a 400, not an application error", async (scope) => {
      const { port, log } = await start(scope, listen, {
        onRequest: () => new Response("page"),
      });
      // An HTTP/1.1 request without Host makes no valid web Request.
      const response = await rawRequest(scope, port, "GET / HTTP/1.1\r\n\r\n");
      assert.equal(response.status, 400);
      await waitFor(() => log.refusals.length === 1, "the refusal");
      assert.equal(log.refusals[0]!.error.code, "MISSING_HOST");
      assert.equal(log.errors.length, 0);
    });

    test("message keeps working when the client sends fragments", async (scope) => {
      const got: [string, boolean][] = [];
      const { port } = await start(scope, listen, {
        echo: false,
        onConnect(conn) {
          conn.on("message", (_, data, isBinary) => {
            got.push([typeof data === "string" ? data : "bytes", isBinary]);
          });
        },
      });
      const client = await openRaw(scope, port);
      await client.write(clientFrame(Opcode.Text, encoder.encode("he"), { fin: false }));
      await client.write(clientFrame(Opcode.Continuation, encoder.encode("llo")));
      await waitFor(() => got.length === 1, "the message");
      assert.deepEqual(got, [["hello", false]]);
    });
  });
}

describe("serve options", () => {
  it("serve rejects a misspelt option before listening, with a suggestion", () => {
    assert.throws(
      // @ts-expect-error: the misspelling is the point
      () => serve({ port: 0, maxMessagesize: 1024 }),
      (error: unknown) =>
        error instanceof TypeError && /did you mean "maxMessageSize"\?/.test(error.message),
    );
  });

  it("serve rejects a callback that is not a function, whatever the runtime", () => {
    assert.throws(
      // @ts-expect-error: a string where a function belongs is the point
      () => serve({ port: 0, onConnect: "x" }),
      (error: unknown) => error instanceof TypeError && /onConnect/.test(error.message),
    );
  });

  it("serve quotes a string port in its error", () => {
    assert.throws(
      // @ts-expect-error: a string where a number belongs is the point
      () => serve({ port: "9000" }),
      (error: unknown) => error instanceof Error && error.message.includes('"9000"'),
    );
  });

  it("serve rejects TLS settings without a key before listening", () => {
    assert.throws(
      () => serve({ port: 0, tls: { cert: "", key: "" } }),
      (error: unknown) => error instanceof Error && /cert/.test(error.message),
    );
  });
});

describe("rateLimitedRefusalLog", () => {
  const refusal = new HandshakeError("Cannot accept handshake: x", 403, "FORBIDDEN");
  const peer = { hostname: "::1", port: 4000 };

  it("rateLimitedRefusalLog writes one line per interval and counts the quiet ones", async () => {
    const lines: string[] = [];
    const log = rateLimitedRefusalLog((line) => lines.push(line), 50);
    log(refusal, peer);
    log(refusal, peer);
    log(refusal, peer);
    assert.deepEqual(lines, [
      "netws: refused a handshake from [::1]:4000: 403 FORBIDDEN: Cannot accept handshake: x",
    ]);
    await delay(70);
    log(refusal, { hostname: "127.0.0.1", port: 5 });
    assert.equal(lines.length, 2);
    assert.equal(
      lines[1],
      "netws: refused a handshake from 127.0.0.1:5: 403 FORBIDDEN: Cannot accept handshake: x " +
        "(2 more refused since the last line)",
    );
  });

  it("rateLimitedRefusalLog is the default of serve", async () => {
    const lines: unknown[][] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void lines.push(args);
    const server = serve({ port: 0, hostname: "127.0.0.1" });
    try {
      await server.ready;
      const { connect } = await import("node:net");
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: server.port });
        socket.on("error", reject);
        socket.on("close", () => resolve());
        socket.on("data", () => {});
        socket.write("GET / HTTP/1.0\r\n\r\n");
      });
      await waitFor(() => lines.length === 1, "the log line");
      assert.match(String(lines[0]![0]), /^netws: refused a handshake from 127\.0\.0\.1:\d+: 400 /);
    } finally {
      console.warn = warn;
      await server.shutdown();
    }
  });
});

// A plain request reaches onRequest as before (guards the path check against plain requests).
for (const { name, listen } of adapters) {
  test(`path leaves plain HTTP to onRequest with the ${name} adapter`, async (scope) => {
    const { port } = await start(scope, listen, {
      path: "/ws",
      onRequest: () => new Response("index"),
    });
    const response = await rawRequest(scope, port, httpRequest("GET", "/"));
    assert.equal(response.status, 200);
    assert.equal(response.body, "index");
  });
}
