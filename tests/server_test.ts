// The integration suite of the server: one suite, run against every adapter that loads on the
// current runtime (Deno: deno + node, Bun: bun + node, Node: node). Real clients are the runtime's
// own WebSocket (the `ws` package on Node); byte-exact tests use a raw node:net client.

import { describe } from "node:test";
import assert from "node:assert/strict";
import type { Connection, Server } from "../mod.ts";
import { type Frame, Opcode } from "../src/protocol/mod.ts";
import { bytesEqual, concat, pattern } from "./helpers/bytes.ts";
import {
  clientFrame,
  closeOf,
  RawClient,
  SAMPLE_ACCEPT,
  upgradeRequest,
} from "./helpers/raw_client.ts";
import { type CloseInfo, withTimeout, WsClient } from "./helpers/ws_client.ts";
import {
  delay,
  loadAdapters,
  openRaw,
  type Scope,
  start,
  test,
  waitFor,
} from "./helpers/server.ts";

const adapters = await loadAdapters();

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MiB = 1024 * 1024;
const KiB = 1024;

async function wsClient(
  scope: Scope,
  url: string,
  protocols?: string[],
): Promise<WsClient> {
  const client = await WsClient.connect(url, protocols === undefined ? {} : { protocols });
  scope.defer(() => client.dispose());
  return client;
}

async function rawConnect(scope: Scope, port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  scope.defer(() => client.destroy());
  return client;
}

async function closedWithin(client: WsClient, ms = 3000): Promise<CloseInfo> {
  return await withTimeout(client.closed, ms, "wait for the client to close");
}

/** Asserts that `frame` is a text frame holding `text`. */
function assertText(frame: Frame, text: string): void {
  assert.equal(frame.opcode, Opcode.Text, `expected a text frame, got opcode ${frame.opcode}`);
  assert.equal(decoder.decode(frame.payload), text);
}

/** Asserts that `client` gets a close frame with `code`, then that the socket closes. */
async function assertClosedWith(client: RawClient, code: number): Promise<void> {
  const frame = await client.nextDataOrClose();
  assert.equal(frame.opcode, Opcode.Close, `expected a close frame, got opcode ${frame.opcode}`);
  assert.equal(closeOf(frame).code, code);
  await client.waitClosed();
}

/** Sends a raw request and returns the response read to the socket's close. */
async function rawRequest(scope: Scope, port: number, request: string | Uint8Array) {
  const client = await rawConnect(scope, port);
  await client.write(request);
  const response = await client.response();
  assert.ok(client.isClosed, "the socket closes after an error response");
  return response;
}

// ---------------------------------------------------------------------------------------------

for (const { name: adapterName, listen } of adapters) {
  describe(`serve with the ${adapterName} adapter`, () => {
    // --- Messages --------------------------------------------------------------------------------

    test("serve echoes text messages, multi-byte UTF-8 included", async (scope) => {
      const { url } = await start(scope, listen);
      const client = await wsClient(scope, url);
      for (const text of ["hello", "", "héllo wörld — 你好 🎉", "\u{10FFFF}\u0000"]) {
        assert.equal(await client.roundTrip(text), text);
      }
    });

    test("serve echoes binary messages and 1 MiB messages", async (scope) => {
      const { url } = await start(scope, listen);
      const client = await wsClient(scope, url);
      const small = pattern(200);
      const echoedSmall = await client.roundTrip(small);
      assert.ok(echoedSmall instanceof Uint8Array && bytesEqual(echoedSmall, small));
      const big = pattern(MiB, 7);
      const echoedBig = await client.roundTrip(big, 10_000);
      assert.ok(echoedBig instanceof Uint8Array, "binary stays binary");
      assert.equal(echoedBig.length, MiB);
      assert.ok(bytesEqual(echoedBig, big), "1 MiB binary echoed intact");
      const bigText = "ü€😀a".repeat(MiB / 10);
      assert.equal(await client.roundTrip(bigText, 10_000), bigText);
    });

    test("serve answers a ping with a pong carrying the same payload", async (scope) => {
      const pings: string[] = [];
      const { port } = await start(scope, listen, {
        onConnect: (conn) => conn.on("ping", (_, data) => void pings.push(decoder.decode(data))),
      });
      const client = await openRaw(scope, port);
      await client.sendFrame(Opcode.Ping, "are you there?");
      const pong = await client.nextFrame();
      assert.equal(pong.opcode, Opcode.Pong);
      assert.equal(decoder.decode(pong.payload), "are you there?");
      await client.sendFrame(Opcode.Ping);
      const empty = await client.nextFrame();
      assert.equal(empty.opcode, Opcode.Pong);
      assert.equal(empty.payload.length, 0);
      assert.deepEqual(pings, ["are you there?", ""]);
    });

    test("Connection emits pong for the client's pongs", async (scope) => {
      const pongs: string[] = [];
      const { port } = await start(scope, listen, {
        onConnect(conn) {
          conn.on("ready", (conn) => void conn.ping("heartbeat"));
          conn.on("pong", (_, data) => void pongs.push(decoder.decode(data)));
        },
      });
      const client = await openRaw(scope, port);
      const ping = await client.nextFrame();
      assert.equal(ping.opcode, Opcode.Ping);
      assert.equal(decoder.decode(ping.payload), "heartbeat");
      await client.sendFrame(Opcode.Pong, ping.payload);
      await client.sendFrame(Opcode.Pong, "unsolicited");
      await waitFor(() => pongs.length === 2, "two pong events");
      assert.deepEqual(pongs, ["heartbeat", "unsolicited"]);
    });

    test("serve delivers many messages in order", async (scope) => {
      const { url } = await start(scope, listen);
      const client = await wsClient(scope, url);
      const count = 300;
      for (let i = 0; i < count; i++) {
        client.send(i % 3 === 0 ? new Uint8Array([i & 0xff, i >> 8]) : `message ${i}`);
      }
      for (let i = 0; i < count; i++) {
        const message = await client.next();
        if (i % 3 === 0) {
          assert.ok(message instanceof Uint8Array);
          assert.deepEqual([...message], [i & 0xff, i >> 8]);
        } else {
          assert.equal(message, `message ${i}`);
        }
      }
    });

    // --- The opening handshake -------------------------------------------------------------------

    test("serve answers 400 to a malformed request line", async (scope) => {
      const { port, log } = await start(scope, listen);
      const response = await rawRequest(scope, port, upgradeRequest("/", {}, "GET /"));
      assert.equal(response.status, 400);
      assert.equal(log.ready.length, 0);
    });

    test("serve answers 400 at once to bytes that cannot start a request", async (scope) => {
      // Far beyond the waits below: the answer must not come from the handshake timeout.
      const { port } = await start(scope, listen, { handshakeTimeout: 60 });
      // Neither holds CR LF CR LF: the start of a TLS hello, and a head with bare LF line ends.
      const tlsHello = new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00]);
      for (const request of [tlsHello, "GET / HTTP/1.1\nHost: 127.0.0.1\n"]) {
        const response = await rawRequest(scope, port, request);
        assert.equal(response.status, 400, typeof request === "string" ? "bare LF" : "TLS hello");
      }
    });

    test("serve answers 400 to an HTTP/1.0 request", async (scope) => {
      const { port } = await start(scope, listen);
      const response = await rawRequest(scope, port, upgradeRequest("/", {}, "GET / HTTP/1.0"));
      assert.equal(response.status, 400);
    });

    test("serve answers 400 to a Sec-WebSocket-Key that is not 16 bytes", async (scope) => {
      const { port } = await start(scope, listen);
      for (const key of ["AAAAAAAAAAA=", "not base64 at all", "AAAAAAAAAAAAAAAAAAAAAAAA"]) {
        const response = await rawRequest(
          scope,
          port,
          upgradeRequest("/", { "Sec-WebSocket-Key": key }),
        );
        assert.equal(response.status, 400, `key "${key}"`);
      }
    });

    test("serve answers 405 with Allow: GET to a POST", async (scope) => {
      const { port } = await start(scope, listen);
      const response = await rawRequest(scope, port, upgradeRequest("/", {}, "POST / HTTP/1.1"));
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("allow"), "GET");
    });

    test("serve answers 426 with Sec-WebSocket-Version: 13 to version 8", async (scope) => {
      const { port } = await start(scope, listen);
      const response = await rawRequest(
        scope,
        port,
        upgradeRequest("/", { "Sec-WebSocket-Version": "8" }),
      );
      assert.equal(response.status, 426);
      assert.equal(response.headers.get("sec-websocket-version"), "13");
    });

    test("serve answers 426 to a plain GET without Upgrade", async (scope) => {
      const { port, log } = await start(scope, listen);
      const response = await rawRequest(
        scope,
        port,
        "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      );
      assert.equal(response.status, 426);
      assert.equal(response.headers.get("upgrade")?.toLowerCase(), "websocket");
      assert.equal(log.ready.length, 0);
    });

    test("serve answers 403 when a handshake listener rejects", async (scope) => {
      const { port, log } = await start(scope, listen, {
        onConnect(conn) {
          conn.on("handshake", (_, request) => {
            if (request.path === "/private") request.reject(403, "Not for you");
          });
        },
      });
      const response = await rawRequest(scope, port, upgradeRequest("/private"));
      assert.equal(response.status, 403);
      assert.equal(response.body, "Not for you");
      assert.equal(log.ready.length, 0);
      const allowed = await openRaw(scope, port, "/public");
      await allowed.sendFrame(Opcode.Text, "in");
      assertText(await allowed.nextFrame(), "in");
    });

    test("serve answers 403 when a handshake listener calls conn.disconnect()", async (scope) => {
      const { port, log } = await start(scope, listen, {
        onConnect: (conn) => conn.on("handshake", (conn) => conn.disconnect()),
      });
      const response = await rawRequest(scope, port, upgradeRequest());
      assert.equal(response.status, 403);
      assert.equal(log.ready.length, 0);
    });

    test("serve answers 431 when the request head exceeds maxHeaderSize", async (scope) => {
      const { port } = await start(scope, listen, { maxHeaderSize: 1024 });
      const response = await rawRequest(
        scope,
        port,
        upgradeRequest("/", { "X-Padding": "a".repeat(2000) }),
      );
      assert.equal(response.status, 431);
      // A head just under the limit is fine.
      const client = await rawConnect(scope, port);
      await client.write(upgradeRequest("/", { "X-Padding": "a".repeat(700) }));
      assert.equal((await client.response()).status, 101);
    });

    test("serve awaits an async handshake listener before answering", async (scope) => {
      const { port } = await start(scope, listen, {
        onConnect: (conn) =>
          conn.on("handshake", async (_, request) => {
            await delay(20);
            if (request.path === "/late-reject") request.reject(401, "Who are you");
            else request.responseHeaders.set("X-Checked", "yes");
          }),
      });
      const rejected = await rawRequest(scope, port, upgradeRequest("/late-reject"));
      assert.equal(rejected.status, 401);
      assert.equal(rejected.body, "Who are you");
      const accepted = await rawConnect(scope, port);
      await accepted.write(upgradeRequest("/"));
      const response = await accepted.response();
      assert.equal(response.status, 101);
      assert.equal(response.headers.get("x-checked"), "yes");
    });

    test("serve answers 500 when a handshake listener throws, and reports it", async (scope) => {
      const bug = new Error("handshake listener bug");
      const { port, log } = await start(scope, listen, {
        onConnect: (conn) =>
          conn.on("handshake", () => {
            throw bug;
          }),
      });
      const response = await rawRequest(scope, port, upgradeRequest());
      assert.equal(response.status, 500);
      assert.ok(!response.body.includes("handshake listener bug"), "no detail leaks");
      assert.equal(log.errors.length, 1);
      assert.equal(log.errors[0]!.error, bug);
      assert.equal(log.errors[0]!.conn, log.connects[0]);
    });

    test("serve answers with the selected subprotocol and added headers", async (scope) => {
      const { port, url, log } = await start(scope, listen, {
        onConnect(conn) {
          conn.on("handshake", (_, request) => {
            if (request.protocols.includes("chat.v2")) request.selectProtocol("chat.v2");
            request.responseHeaders.append("Set-Cookie", "session=abc; HttpOnly");
          });
        },
      });
      const raw = await rawConnect(scope, port);
      await raw.write(upgradeRequest("/", { "Sec-WebSocket-Protocol": "chat.v1, chat.v2" }));
      const response = await raw.response();
      assert.equal(response.status, 101);
      assert.equal(response.headers.get("sec-websocket-protocol"), "chat.v2");
      assert.deepEqual(response.headers.getSetCookie(), ["session=abc; HttpOnly"]);
      // A real client agrees on it too.
      const client = await wsClient(scope, url, ["chat.v1", "chat.v2"]);
      assert.equal(client.protocol, "chat.v2");
      assert.equal((await log.readyAt(1)).protocol, "chat.v2");
      // Without an offer, no subprotocol is named.
      const plain = await rawConnect(scope, port);
      await plain.write(upgradeRequest());
      assert.equal((await plain.response()).headers.get("sec-websocket-protocol"), null);
    });

    test("serve answers 101 with the Sec-WebSocket-Accept of the key", async (scope) => {
      const { port } = await start(scope, listen);
      const client = await rawConnect(scope, port);
      await client.write(upgradeRequest());
      const response = await client.response();
      assert.equal(response.status, 101);
      assert.equal(response.headers.get("sec-websocket-accept"), SAMPLE_ACCEPT);
      assert.equal(response.headers.get("upgrade")?.toLowerCase(), "websocket");
      assert.match(response.headers.get("connection") ?? "", /upgrade/i);
    });

    test("serve processes frames sent in the same write as the request head", async (scope) => {
      const { port } = await start(scope, listen);
      const client = await rawConnect(scope, port);
      await client.write(concat([
        encoder.encode(upgradeRequest()),
        clientFrame(Opcode.Text, "early"),
        clientFrame(Opcode.Text, "bird"),
      ]));
      assert.equal((await client.response()).status, 101);
      assertText(await client.nextFrame(), "early");
      assertText(await client.nextFrame(), "bird");
    });

    test("serve drops a client trickling its head past handshakeTimeout, serving others", async (scope) => {
      const { port, url, log } = await start(scope, listen, { handshakeTimeout: 0.3 });
      const slow = await rawConnect(scope, port);
      const head = encoder.encode(upgradeRequest("/", { "X-Slow": "loris" }));
      let written = 0;
      const timer = setInterval(() => {
        if (written < head.length && !slow.isClosed) {
          slow.socket.write(head.subarray(written, ++written));
        }
      }, 50);
      scope.defer(() => clearInterval(timer));
      const other = await wsClient(scope, url);
      assert.equal(await other.roundTrip("served"), "served");
      await slow.waitClosed(3000);
      clearInterval(timer);
      assert.ok(written < head.length, `dropped after ${written} of ${head.length} bytes`);
      assert.notEqual(slow.status, 101);
      assert.equal(await other.roundTrip("still served"), "still served");
      assert.equal(log.ready.length, 1);
    });

    // --- Protocol violations -----------------------------------------------------------------------

    const violations: { name: string; bytes: () => Uint8Array; code: number }[] = [
      {
        name: "an unmasked frame",
        bytes: () => clientFrame(Opcode.Text, "naked", { mask: false }),
        code: 1002,
      },
      {
        name: "a frame with a reserved bit",
        bytes: () => clientFrame(Opcode.Text, "rsv", { rsv1: true }),
        code: 1002,
      },
      { name: "a reserved opcode", bytes: () => clientFrame(0x3, "what"), code: 1002 },
      {
        name: "invalid UTF-8 in a text message",
        bytes: () => clientFrame(Opcode.Text, new Uint8Array([0x68, 0x69, 0xc3, 0x28])),
        code: 1007,
      },
      {
        name: "a fragmented control frame",
        bytes: () => clientFrame(Opcode.Ping, "part", { fin: false }),
        code: 1002,
      },
      {
        name: "a continuation without a start",
        bytes: () => clientFrame(Opcode.Continuation, "orphan"),
        code: 1002,
      },
      {
        name: "a close frame with an invalid code",
        bytes: () => clientFrame(Opcode.Close, new Uint8Array([0x03, 0xed])), // 1005
        code: 1002,
      },
      {
        name: "a close frame with a 1-byte payload",
        bytes: () => clientFrame(Opcode.Close, new Uint8Array([0x03])),
        code: 1002,
      },
      {
        name: "a close reason that is not UTF-8",
        bytes: () => clientFrame(Opcode.Close, new Uint8Array([0x03, 0xe8, 0xff])),
        code: 1007,
      },
      {
        name: "a ping over 125 bytes",
        bytes: () => clientFrame(Opcode.Ping, new Uint8Array(126)),
        code: 1002,
      },
      {
        // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
        name: "a 64-bit length with its top bit set",
        bytes: () => new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
        code: 1002,
      },
      {
        name: "a new message inside a fragmented one",
        bytes: () =>
          concat([
            clientFrame(Opcode.Text, "first", { fin: false }),
            clientFrame(Opcode.Text, "second"),
          ]),
        code: 1002,
      },
    ];
    for (const violation of violations) {
      test(`serve closes with ${violation.code} on ${violation.name}`, async (scope) => {
        const { port, server, log } = await start(scope, listen);
        const client = await openRaw(scope, port);
        await client.sendFrame(Opcode.Text, "fine");
        assertText(await client.nextFrame(), "fine");
        await client.write(violation.bytes());
        await assertClosedWith(client, violation.code);
        const conn = await log.readyAt(0);
        await server.shutdown();
        const disconnects = log.disconnectsOf(conn);
        assert.equal(disconnects.length, 1, "disconnect fires once");
        assert.equal(disconnects[0]!.code, violation.code);
      });
    }

    test("serve reassembles fragments split inside a UTF-8 character, answering pings between", async (scope) => {
      const { port } = await start(scope, listen);
      const client = await openRaw(scope, port);
      const text = encoder.encode("h\u00e9\u{1F600}!"); // 68 c3 a9 f0 9f 98 80 21
      await client.write(concat([
        clientFrame(Opcode.Text, text.subarray(0, 2), { fin: false }),
        clientFrame(Opcode.Ping, "between"),
        clientFrame(Opcode.Continuation, text.subarray(2, 5), { fin: false }),
        clientFrame(Opcode.Continuation, new Uint8Array(0), { fin: false }),
        clientFrame(Opcode.Continuation, text.subarray(5)),
      ]));
      const pong = await client.nextFrame();
      assert.equal(pong.opcode, Opcode.Pong);
      assert.equal(decoder.decode(pong.payload), "between");
      assertText(await client.nextFrame(), "h\u00e9\u{1F600}!");
    });

    test("serve closes with 1007 on invalid UTF-8 in a first fragment, before the message ends", async (scope) => {
      const { port } = await start(scope, listen);
      const client = await openRaw(scope, port);
      await client.write(concat([
        clientFrame(Opcode.Text, new Uint8Array([0x61, 0xff]), { fin: false }),
        clientFrame(Opcode.Ping, "after the bad fragment"),
      ]));
      // The close frame comes instead of the pong: the fragment was refused on arrival.
      const frame = await client.nextFrame();
      assert.equal(frame.opcode, Opcode.Close);
      assert.equal(closeOf(frame).code, 1007);
      await client.waitClosed();
    });

    test("serve answers a close frame without a status with an empty close frame", async (scope) => {
      const { port, log } = await start(scope, listen);
      const client = await openRaw(scope, port);
      const conn = await log.readyAt(0);
      await client.sendFrame(Opcode.Close);
      const close = await client.nextFrame();
      assert.equal(close.opcode, Opcode.Close);
      assert.equal(close.payload.length, 0);
      await client.waitClosed();
      await waitFor(() => log.disconnectsOf(conn).length > 0, "disconnect");
      assert.deepEqual(log.disconnectsOf(conn).map(({ code }) => code), [1005]);
    });

    // --- Limits ------------------------------------------------------------------------------------

    test("serve closes with 1009 on a frame over maxFrameSize", async (scope) => {
      const { port, log } = await start(scope, listen, { maxFrameSize: 1024 });
      const client = await openRaw(scope, port);
      await client.sendFrame(Opcode.Binary, pattern(1024));
      assert.equal((await client.nextFrame()).payload.length, 1024);
      await client.sendFrame(Opcode.Binary, pattern(1025)).catch(() => {});
      await assertClosedWith(client, 1009);
      await waitFor(() => log.disconnects.length === 1, "disconnect");
      assert.equal(log.disconnects[0]!.code, 1009);
      // The header alone is enough: the server does not wait for a payload it will refuse.
      const headerOnly = await openRaw(scope, port);
      await headerOnly.write(new Uint8Array([0x82, 0xfe, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04]));
      await assertClosedWith(headerOnly, 1009);
    });

    test("serve closes with 1009 on a frame header announcing more than maxMessageSize", async (scope) => {
      const { port } = await start(scope, listen, { maxFrameSize: 4 * MiB, maxMessageSize: MiB });
      const client = await openRaw(scope, port);
      // A 2 MiB binary frame: header and masking key only.
      await client.write(new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4]));
      await assertClosedWith(client, 1009);
    });

    test("serve closes with 1009 on a message over maxFragments", async (scope) => {
      const { port } = await start(scope, listen, { maxFragments: 4 });
      const client = await openRaw(scope, port);
      // Four fragments are fine.
      await client.sendFrame(Opcode.Text, "a", { fin: false });
      await client.sendFrame(Opcode.Continuation, "b", { fin: false });
      await client.sendFrame(Opcode.Continuation, "c", { fin: false });
      await client.sendFrame(Opcode.Continuation, "d");
      assertText(await client.nextFrame(), "abcd");
      for (let i = 0; i < 4; i++) {
        await client.sendFrame(i === 0 ? Opcode.Text : Opcode.Continuation, "x", { fin: false });
      }
      await client.sendFrame(Opcode.Continuation, "y", { fin: false }).catch(() => {});
      await assertClosedWith(client, 1009);
    });

    test("serve closes with 1009 once small fragments cross maxMessageSize, serving others", async (scope) => {
      const maxMessageSize = MiB;
      const fragmentSize = 32 * KiB;
      const planned = 64; // 2 MiB in all: twice the limit
      const { port, url, log } = await start(scope, listen, {
        maxFrameSize: 64 * KiB,
        maxMessageSize,
      });
      const other = await wsClient(scope, url);
      assert.equal(await other.roundTrip("before"), "before");
      const attacker = await openRaw(scope, port);
      const attackerConn = await log.readyAt(1);
      const fragment = pattern(fragmentSize);
      let sent = 0;
      let fragments = 0;
      let close: Frame | undefined;
      while (fragments < planned && close === undefined) {
        const opcode = fragments === 0 ? Opcode.Binary : Opcode.Continuation;
        // A ping behind every fragment: frames are handled in order, so its pong tells that the
        // server took the fragment, and the close frame comes instead once it refused one.
        await attacker.write(concat([
          clientFrame(opcode, fragment, { fin: false }),
          clientFrame(Opcode.Ping, String(fragments)),
        ]));
        sent += fragmentSize;
        const reply = await attacker.nextFrame();
        if (reply.opcode === Opcode.Close) {
          close = reply;
        } else {
          assert.equal(reply.opcode, Opcode.Pong);
          assert.equal(decoder.decode(reply.payload), String(fragments));
        }
        fragments++;
        if (fragments % 8 === 0) {
          assert.equal(await other.roundTrip(`during ${fragments}`), `during ${fragments}`);
        }
      }
      assert.ok(close !== undefined, `no close frame after all ${planned} fragments`);
      assert.equal(closeOf(close).code, 1009);
      assert.ok(
        sent > maxMessageSize && sent <= maxMessageSize + fragmentSize,
        `closed after ${sent} bytes; limit ${maxMessageSize}`,
      );
      assert.ok(fragments < planned, "the client still had fragments to send");
      await attacker.waitClosed();
      for (let i = 0; i < 3; i++) {
        assert.equal(await other.roundTrip(`after ${i}`), `after ${i}`);
      }
      const disconnects = log.disconnectsOf(attackerConn);
      assert.equal(disconnects.length, 1);
      assert.equal(disconnects[0]!.code, 1009);
    });

    test("Connection limits set in onConnect or handshake apply to that connection only", async (scope) => {
      let accepted = 0;
      const { url, log } = await start(scope, listen, {
        maxMessageSize: 1000,
        onConnect(conn) {
          if (++accepted === 1) conn.maxMessageSize = 100;
          conn.on("handshake", (conn, request) => {
            if (request.path === "/small") conn.maxFrameSize = 100;
          });
        },
      });
      const limited = await wsClient(scope, url);
      const limitedConn = await log.readyAt(0);
      const smallFrames = await wsClient(scope, `${url}/small`);
      const smallFramesConn = await log.readyAt(1);
      const normal = await wsClient(scope, url);
      const normalConn = await log.readyAt(2);
      assert.equal(limitedConn.maxMessageSize, 100);
      assert.equal(smallFramesConn.maxFrameSize, 100);
      assert.equal(normalConn.maxMessageSize, 1000);
      const text = "x".repeat(200);
      assert.equal(await normal.roundTrip(text), text);
      limited.send(text);
      assert.equal((await closedWithin(limited)).code, 1009);
      smallFrames.send(text);
      assert.equal((await closedWithin(smallFrames)).code, 1009);
      assert.equal(await normal.roundTrip(text), text);
      assert.equal(normal.closeInfo, undefined);
    });

    test("Connection limits cannot be set once the handshake completed", async (scope) => {
      const errors: unknown[] = [];
      const { url, log } = await start(scope, listen, {
        onConnect: (conn) =>
          conn.on("ready", (conn) => {
            try {
              conn.maxFrameSize = 10;
            } catch (error) {
              errors.push(error);
            }
          }),
      });
      const client = await wsClient(scope, url);
      const conn = await log.readyAt(0);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof TypeError);
      assert.throws(() => conn.maxFrameSize = 10, TypeError);
      assert.throws(() => conn.maxFragments = 10, TypeError);
      assert.throws(() => conn.maxMessageSize = 10, TypeError);
      assert.throws(() => conn.maxSendSize = 10, TypeError);
      assert.notEqual(conn.maxFrameSize, 10);
      assert.equal(await client.roundTrip("x".repeat(100)), "x".repeat(100));
    });

    // --- The closing handshake ---------------------------------------------------------------------

    test("serve echoes the client's close code and reason to it and to disconnect", async (scope) => {
      const { url, log, server } = await start(scope, listen);
      const client = await wsClient(scope, url);
      const conn = await log.readyAt(0);
      client.close(4000, "bye");
      // RFC 6455 §5.5.1: the answer echoes the status code; the reason need not be echoed.
      assert.equal((await closedWithin(client)).code, 4000);
      await server.shutdown();
      assert.deepEqual(
        log.disconnectsOf(conn).map(({ code, reason }) => ({ code, reason })),
        [{ code: 4000, reason: "bye" }],
      );
    });

    test("Connection disconnect sends its code and reason to the client", async (scope) => {
      const { url, log } = await start(scope, listen, {
        // Far longer than the test may take: the client's answer must end the connection.
        closeTimeout: 60,
        onConnect: (conn) =>
          conn.on("text", (conn, text) => {
            if (text === "please leave") conn.disconnect(1000, "done");
          }),
      });
      const client = await wsClient(scope, url);
      const conn = await log.readyAt(0);
      client.send("please leave");
      assert.deepEqual(await closedWithin(client), { code: 1000, reason: "done" });
      await withTimeout(conn.closed, 3000, "close the connection");
      assert.equal(conn.state, "closed");
      assert.deepEqual(log.disconnectsOf(conn).map(({ code }) => code), [1000]);
    });

    test("Connection disconnect closes the socket after closeTimeout when the peer is silent", async (scope) => {
      const { port, log } = await start(scope, listen, {
        closeTimeout: 0.5,
        echo: false,
        onConnect: (conn) => conn.on("text", (conn) => conn.disconnect(4001, "go")),
      });
      const client = await openRaw(scope, port);
      const conn = await log.readyAt(0);
      await client.sendFrame(Opcode.Text, "hello");
      const close = await client.nextDataOrClose();
      assert.deepEqual(closeOf(close), { code: 4001, reason: "go" });
      // Never answer: the server waits, then gives up after closeTimeout.
      await delay(100);
      assert.equal(client.isClosed, false, "the server waits for the answer");
      await client.waitClosed(3000);
      await waitFor(() => log.disconnectsOf(conn).length > 0, "disconnect");
      assert.deepEqual(log.disconnectsOf(conn).map(({ code, reason }) => [code, reason]), [
        [4001, "go"],
      ]);
    });

    test("Connection disconnect fires with 1006 when the peer drops the connection", async (scope) => {
      const { port, log, server } = await start(scope, listen);
      const client = await openRaw(scope, port);
      const conn = await log.readyAt(0);
      client.destroy();
      await waitFor(() => log.disconnectsOf(conn).length > 0, "disconnect");
      await server.shutdown();
      assert.deepEqual(log.disconnectsOf(conn).map(({ code }) => code), [1006]);
    });

    test("Connection disconnect fires with 1006 when the peer half-closes without a close frame", async (scope) => {
      const { port, log } = await start(scope, listen);
      const client = await openRaw(scope, port);
      const conn = await log.readyAt(0);
      client.socket.end();
      await client.waitClosed();
      await waitFor(() => log.disconnectsOf(conn).length > 0, "disconnect");
      assert.deepEqual(log.disconnectsOf(conn).map(({ code }) => code), [1006]);
      await withTimeout(conn.closed, 3000, "close the connection");
    });

    // --- Sending -----------------------------------------------------------------------------------

    test("Connection send over maxSendSize throws a RangeError and stays open", async (scope) => {
      const errors: unknown[] = [];
      const { url } = await start(scope, listen, {
        echo: false,
        maxSendSize: 1024,
        onConnect: (conn) =>
          conn.on("text", (conn, text) => {
            if (text !== "send too much") return void conn.sendText(text);
            const attempts = [
              () => conn.sendText("x".repeat(1025)),
              // 600 characters, 1200 bytes: the limit counts bytes.
              () => conn.sendText("é".repeat(600)),
              () => conn.sendBinary(new Uint8Array(1025)),
              () => conn.send("binary", new Uint8Array(2048)),
            ];
            for (const attempt of attempts) {
              try {
                attempt();
              } catch (error) {
                errors.push(error);
              }
            }
            conn.sendBinary(new Uint8Array(1024));
          }),
      });
      const client = await wsClient(scope, url);
      const reply = await client.roundTrip("send too much");
      assert.ok(reply instanceof Uint8Array && reply.length === 1024, "the limit itself is fine");
      assert.equal(errors.length, 4);
      for (const error of errors) assert.ok(error instanceof RangeError, String(error));
      assert.equal(await client.roundTrip("still open"), "still open");
    });

    test("Connection send before the handshake throws an InvalidStateError", async (scope) => {
      const errors: unknown[] = [];
      const { url } = await start(scope, listen, {
        onConnect(conn) {
          for (const attempt of [() => conn.sendText("early"), () => conn.ping()]) {
            try {
              attempt();
            } catch (error) {
              errors.push(error);
            }
          }
        },
      });
      const client = await wsClient(scope, url);
      assert.equal(errors.length, 2);
      for (const error of errors) {
        assert.ok(error instanceof DOMException, String(error));
        assert.equal(error.name, "InvalidStateError");
      }
      assert.equal(await client.roundTrip("after"), "after");
    });

    test("Connection send after disconnect returns false", async (scope) => {
      const results: boolean[] = [];
      const { url } = await start(scope, listen, {
        echo: false,
        onConnect(conn) {
          conn.on("text", (conn) => {
            conn.disconnect(1000, "stopping");
            results.push(conn.sendText("late"), conn.sendBinary(new Uint8Array(1)), conn.ping());
          });
          conn.on("disconnect", (conn) => void results.push(conn.send("text", "later")));
        },
      });
      const client = await wsClient(scope, url);
      client.send("stop");
      assert.deepEqual(await closedWithin(client), { code: 1000, reason: "stopping" });
      await waitFor(() => results.length === 4, "the disconnect listener");
      assert.deepEqual(results, [false, false, false, false]);
      await assert.rejects(client.next(100), "nothing was sent after the close frame");
    });

    test("Connection frames sent in one tick arrive in order", async (scope) => {
      const { url } = await start(scope, listen, {
        echo: false,
        onConnect: (conn) =>
          conn.on("text", (conn) => {
            for (let i = 0; i < 100; i++) {
              if (i % 2 === 0) conn.sendText(`burst ${i}`);
              else conn.sendBinary(new Uint8Array([i]));
            }
          }),
      });
      const client = await wsClient(scope, url);
      client.send("go");
      for (let i = 0; i < 100; i++) {
        const message = await client.next();
        if (i % 2 === 0) assert.equal(message, `burst ${i}`);
        else assert.deepEqual(message, new Uint8Array([i]));
      }
    });

    // --- Shutdown ----------------------------------------------------------------------------------

    test("serve connections lists the connections whose handshake completed", async (scope) => {
      const { server, port, url, log } = await start(scope, listen);
      assert.deepEqual(server.connections, []);
      const pending = await rawConnect(scope, port);
      await pending.write("GET / HTTP/1.1\r\n");
      const a = await wsClient(scope, url);
      const b = await wsClient(scope, url);
      await waitFor(() => log.ready.length === 2, "two ready connections");
      assert.equal(log.connects.length, 3);
      assert.deepEqual(new Set(server.connections), new Set(log.ready));
      a.close();
      await closedWithin(a);
      await waitFor(() => server.connections.length === 1, "a to leave the list");
      assert.deepEqual(server.connections, [log.ready[1]]);
      assert.equal(await b.roundTrip("b"), "b");
    });

    test("serve shutdown closes every client with 1001, calls onShutdown, stops accepting", async (scope) => {
      const shutdowns: Server[] = [];
      const { server, port, url, log } = await start(scope, listen, {
        // The clients answer at once: shutdown must not wait for this.
        closeTimeout: 60,
        onShutdown: (server) => void shutdowns.push(server),
      });
      const a = await wsClient(scope, url);
      const b = await wsClient(scope, url);
      // A client still in its handshake is dropped.
      const halfway = await rawConnect(scope, port);
      await halfway.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      await waitFor(() => server.connections.length === 2, "two connections");
      await waitFor(() => log.connects.length === 3, "three accepted connections");
      await withTimeout(server.shutdown(), 5000, "shut down");
      await halfway.waitClosed();
      assert.notEqual(halfway.status, 101);
      assert.deepEqual(shutdowns, [server]);
      assert.equal((await closedWithin(a)).code, 1001);
      assert.equal((await closedWithin(b)).code, 1001);
      assert.deepEqual(server.connections, []);
      assert.deepEqual(log.disconnectsOf(log.ready[0]!).map(({ code }) => code), [1001]);
      assert.deepEqual(log.disconnectsOf(log.ready[1]!).map(({ code }) => code), [1001]);
      // A new connection is refused, or at least never answered.
      const late = await RawClient.connect(port, 1000).catch((error: unknown) => error);
      if (late instanceof RawClient) {
        scope.defer(() => late.destroy());
        await late.write(upgradeRequest()).catch(() => {});
        await late.waitClosed(2000);
        assert.notEqual(late.status, 101);
      } else {
        assert.ok(late instanceof Error);
      }
      assert.equal(log.connects.length, 3);
    });

    test("serve drops a client hard with server.disconnect while others keep working", async (scope) => {
      const { server, url, log } = await start(scope, listen);
      const dropped = await wsClient(scope, url);
      const droppedConn = await log.readyAt(0);
      const kept = await wsClient(scope, url);
      await log.readyAt(1);
      server.disconnect(droppedConn);
      assert.equal((await closedWithin(dropped)).code, 1006);
      assert.equal(await kept.roundTrip("still here"), "still here");
      assert.deepEqual(log.disconnectsOf(droppedConn).map(({ code }) => code), [1006]);
    });

    // --- Isolation ---------------------------------------------------------------------------------

    test("serve reports an exception in a text listener to onError and keeps serving", async (scope) => {
      const bug = new Error("text listener bug");
      const { url, log } = await start(scope, listen, {
        onConnect: (conn) =>
          conn.on("text", (_, text) => {
            if (text === "boom") throw bug;
          }),
      });
      const client = await wsClient(scope, url);
      const other = await wsClient(scope, url);
      const conn = await log.readyAt(0);
      // The echo listener runs too.
      assert.equal(await client.roundTrip("boom"), "boom");
      assert.equal(log.errors.length, 1);
      assert.equal(log.errors[0]!.error, bug);
      assert.equal(log.errors[0]!.conn, conn);
      assert.equal(await client.roundTrip("after"), "after");
      assert.equal(await other.roundTrip("other"), "other");
    });

    test("serve closes a client sending garbage with 1002 while another keeps echoing", async (scope) => {
      const { port, url } = await start(scope, listen);
      const other = await wsClient(scope, url);
      const garbage = await openRaw(scope, port);
      assert.equal(await other.roundTrip("before"), "before");
      await garbage.write(new Uint8Array([0xff, 0xff, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef]));
      await assertClosedWith(garbage, 1002);
      assert.equal(await other.roundTrip("after"), "after");
    });

    test("serve keeps serving others while a client stops reading", async (scope) => {
      const chunk = pattern(256 * KiB);
      const flooded: Connection[] = [];
      let sent = 0;
      const { port, url, server } = await start(scope, listen, {
        closeTimeout: 0.3,
        onConnect: (conn) =>
          conn.on("handshake", (conn, request) => {
            if (request.path !== "/flood") return;
            flooded.push(conn);
            // Keep up to 8 MiB queued (below maxBufferedAmount) for as long as the peer is there.
            const timer = setInterval(() => {
              while (conn.isReady && conn.bufferedAmount < 8 * MiB) {
                conn.sendBinary(chunk);
                sent += chunk.length;
              }
            }, 5);
            conn.on("disconnect", () => clearInterval(timer));
          }),
      });
      const stalled = await openRaw(scope, port, "/flood");
      stalled.socket.pause();
      const stalledConn = flooded[0]!;
      const other = await wsClient(scope, url);
      for (let i = 0; i < 20; i++) {
        assert.equal(await other.roundTrip(`ping ${i}`), `ping ${i}`);
        await delay(10);
      }
      const big = pattern(256 * KiB);
      const echoed = await other.roundTrip(big);
      assert.ok(echoed instanceof Uint8Array && bytesEqual(echoed, big));
      // The stalled peer holds the server's data up, and nothing else.
      await waitFor(() => stalledConn.bufferedAmount >= 8 * MiB, "the stalled queue to fill");
      assert.equal(stalledConn.state, "open");
      assert.ok(sent - stalledConn.bufferedAmount < 64 * MiB, `${sent} bytes sent`);
      assert.equal(await other.roundTrip("last"), "last");
      // Shutdown does not wait on the stalled peer longer than closeTimeout allows.
      await withTimeout(server.shutdown(), 3000, "shut down with a stalled client");
      await withTimeout(stalledConn.closed, 3000, "close the stalled connection");
      assert.equal(stalledConn.state, "closed");
    });
  });
}
