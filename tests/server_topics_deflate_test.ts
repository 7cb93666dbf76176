// Publishing to subscribers that negotiated permessage-deflate, on real sockets: ws clients with
// and without server_no_context_takeover (and with another window) mixed with plain ones get
// publishes and sends intact and in order; a shared publish is compressed once per group
// (server.metrics.compressions); raw clients see RSV1 on the first fragment only and bytes that
// inflate; except, the return count and the drop policy still hold. One suite per adapter.
import { describe } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { constants, inflateRawSync } from "node:zlib";
import type { Connection } from "../mod.ts";
import { Opcode } from "../src/protocol/constants.ts";
import { FrameScanner } from "../src/protocol/frame_scanner.ts";
import { concat } from "./helpers/bytes.ts";
import { Random } from "./helpers/random.ts";
import { clientFrame, upgradeRequest } from "./helpers/raw_client.ts";
import { loadAdapters, type Scope, start, test, waitFor, within } from "./helpers/server.ts";

type Message = string | Uint8Array;

interface WsSocket {
  binaryType: string;
  on(event: "message", listener: (data: unknown, isBinary: boolean) => void): void;
  on(event: "open" | "close", listener: () => void): void;
  on(event: "error", listener: (error: unknown) => void): void;
  on(event: "upgrade", listener: (response: { headers: Record<string, string> }) => void): void;
  send(data: Message): void;
  close(): void;
}

const require = createRequire(import.meta.url);
// The ws package itself, by path: on Bun, the bare name "ws" is Bun's own implementation.
const WsClient = require(join(dirname(require.resolve("ws/package.json")), "index.js")) as new (
  url: string,
  options?: Record<string, unknown>,
) => WsSocket;

/** A ws client with the given permessage-deflate offer (`false`: none); records its messages. */
async function wsClient(scope: Scope, url: string, perMessageDeflate: false | object) {
  const socket = new WsClient(url, { perMessageDeflate });
  scope.defer(() => socket.close());
  socket.binaryType = "nodebuffer";
  const messages: Message[] = [];
  let extensions: string | undefined;
  socket.on("upgrade", (response) => extensions = response.headers["sec-websocket-extensions"]);
  socket.on("message", (data, isBinary) => {
    const bytes = data as Uint8Array;
    messages.push(isBinary ? new Uint8Array(bytes) : new TextDecoder().decode(bytes));
  });
  await new Promise<void>((resolve, reject) => {
    socket.on("open", () => resolve());
    socket.on("error", reject);
  });
  return { socket, messages, extensions };
}

/** A frame as a client reads it. */
interface WireFrame {
  opcode: number;
  fin: boolean;
  rsv1: boolean;
  payload: Uint8Array;
}

/**
 * A raw client that offered an extension and was answered 101: it writes raw bytes and reads the
 * server's frames with a client-side `FrameScanner` that accepts RSV1 on a message's first frame
 * (and rejects it on any other frame, failing the test).
 */
class DeflateRawClient {
  readonly socket: Socket;
  readonly #frames: WireFrame[] = [];
  readonly #scanner = new FrameScanner({ role: "client", allowRsv1: true, maxFrameSize: Infinity });
  #error: unknown;
  #head: Uint8Array | undefined = new Uint8Array(0);
  #current: { opcode: number; fin: boolean; rsv1: boolean; parts: Uint8Array[] } | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Connects, offers `extension`; resolves with the client and the answer's extensions. */
  static async open(scope: Scope, port: number, extension: string) {
    const socket = connect(port, "127.0.0.1");
    scope.defer(() => socket.destroy());
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const client = new DeflateRawClient(socket);
    const answer = new Promise<string>((resolve) => {
      socket.on("data", (chunk: Uint8Array) => {
        try {
          client.#onData(chunk, resolve);
        } catch (error) {
          client.#error ??= error;
        }
      });
    });
    socket.write(upgradeRequest("/", { "Sec-WebSocket-Extensions": extension }));
    const head = await within(answer, 5000, "read the response head");
    assert.match(head, /^HTTP\/1\.1 101 /);
    const extensions = /^sec-websocket-extensions: (.*)$/im.exec(head)?.[1]?.trim();
    return { client, extensions };
  }

  /** Writes one masked client frame. */
  send(opcode: number, payload: string): void {
    this.socket.write(clientFrame(opcode, payload));
  }

  /** Whether a frame waits to be read. */
  get hasFrame(): boolean {
    return this.#frames.length > 0;
  }

  /** The frames of the next data message. */
  async nextMessage(): Promise<WireFrame[]> {
    const frames: WireFrame[] = [];
    do {
      await waitFor(() => this.#frames.length > 0 || this.#error !== undefined, "a frame", 5000);
      if (this.#error !== undefined) throw this.#error;
      frames.push(this.#frames.shift()!);
    } while (!frames.at(-1)!.fin);
    return frames;
  }

  #onData(chunk: Uint8Array, answered: (head: string) => void): void {
    if (this.#head !== undefined) {
      const bytes = concat([this.#head, chunk]);
      // The head is ASCII, so a character's index is its byte's.
      const end = new TextDecoder().decode(bytes).indexOf("\r\n\r\n");
      if (end === -1) {
        this.#head = bytes;
        return;
      }
      this.#head = undefined;
      answered(new TextDecoder().decode(bytes.subarray(0, end)));
      chunk = bytes.slice(end + 4);
    }
    this.#scanner.push(chunk, {
      onHeader: (opcode, fin, _length, rsv1) => this.#current = { opcode, fin, rsv1, parts: [] },
      onPayload: (slice, end) => {
        const current = this.#current!;
        current.parts.push(slice.slice());
        if (!end) return;
        const { opcode, fin, rsv1, parts } = current;
        this.#frames.push({ opcode, fin, rsv1, payload: concat(parts) });
      },
    });
  }
}

/** RFC 7692 §7.2.2: the payloads joined, the sync-flush tail put back, inflated. */
function inflated(frames: WireFrame[]): Uint8Array {
  const tail = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
  return inflateRawSync(concat([...frames.map((frame) => frame.payload), tail]), {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
}

/** JSON-like text of about `size` bytes that compresses, different for each `seed`. */
function chat(seed: number, size: number): string {
  const random = new Random(seed);
  let text = `{"seed":${seed},"lines":[`;
  while (text.length < size) text += `{"user":"u${random.int(0, 20)}","text":"hello there"},`;
  return text.slice(0, size);
}

/** Completes the handshake with `extension` offered, then stops reading. */
async function stalledClient(scope: Scope, port: number, extension: string): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  scope.defer(() => socket.destroy());
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(upgradeRequest("/", { "Sec-WebSocket-Extensions": extension }));
  await new Promise<void>((resolve) => socket.once("data", () => resolve()));
  socket.pause();
  return socket;
}

const subscribeOnReady = (topic: string) => (conn: Connection) =>
  conn.on("ready", (conn) => conn.subscribe(topic));

for (const { name, listen } of await loadAdapters()) {
  describe(`topics with permessage-deflate (${name} adapter)`, () => {
    test("Server publish compresses once per group and per connection, in order with sends", async (scope) => {
      const ready: Connection[] = [];
      const { server, url, log } = await start(scope, listen, {
        echo: false,
        perMessageDeflate: { threshold: 100 },
        onConnect(conn) {
          conn.on("ready", (conn) => {
            conn.subscribe("room");
            ready.push(conn);
          });
        },
      });
      const clients = [
        await wsClient(scope, url, { serverNoContextTakeover: true }),
        await wsClient(scope, url, { serverNoContextTakeover: true }),
        await wsClient(scope, url, { serverNoContextTakeover: true, serverMaxWindowBits: 10 }),
        await wsClient(scope, url, {}),
        await wsClient(scope, url, false),
      ];
      assert.deepEqual(clients.map((client) => client.extensions), [
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        undefined,
      ]);
      await waitFor(() => ready.length === 5, "five subscribers");
      const expected: Message[] = [];
      const rounds = 12;
      for (let i = 0; i < rounds; i++) {
        const big = chat(i, 3000);
        const direct = i % 2 === 1 ? `direct ${i} ${chat(100 + i, 2000)}` : `direct ${i}`;
        const binary = new Random(i).bytes(i % 3 === 0 ? 500 : 50);
        assert.equal(server.publish("room", big), 5);
        for (const conn of ready) assert.equal(conn.sendText(direct), true);
        assert.equal(server.publish("room", `small ${i}`), 5);
        assert.equal(server.publish("room", binary), 5);
        expected.push(big, direct, `small ${i}`, binary);
      }
      for (const [index, client] of clients.entries()) {
        await waitFor(() => client.messages.length >= expected.length, `client ${index}`, 10_000);
        assert.deepEqual(client.messages, expected, `the messages of client ${index}, in order`);
      }
      // Per round: the big publish once for each window (12 and 10) and once for the connection
      // that keeps its context; the binary one of 500 bytes (every third round) alike; the long
      // direct sends (odd rounds) once per compressing connection. Nothing under 100 bytes.
      const bigBinary = Math.ceil(rounds / 3);
      const longDirect = rounds / 2;
      assert.equal(server.metrics.compressions, rounds * 3 + bigBinary * 3 + longDirect * 4);
      assert.equal(server.metrics.publishes, rounds * 3);
      assert.equal(server.metrics.messagesOut, rounds * 4 * 5);
      assert.deepEqual(log.errors, []);
    });

    test("Server publish frames a shared compression once: RSV1 on the first fragment only", async (scope) => {
      const { server, port, log } = await start(scope, listen, {
        echo: false,
        fragmentSize: 200,
        perMessageDeflate: { threshold: 100 },
        onConnect(conn) {
          subscribeOnReady("feed")(conn);
          conn.on(
            "text",
            (conn, text) => void conn.sendText(`published to ${conn.publish("feed", text)}`),
          );
        },
      });
      const offer = "permessage-deflate; server_no_context_takeover";
      const [a, b] = [
        await DeflateRawClient.open(scope, port, offer),
        await DeflateRawClient.open(scope, port, offer),
      ].map(({ client, extensions }) => {
        assert.equal(
          extensions,
          "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
        );
        return client;
      }) as [DeflateRawClient, DeflateRawClient];
      await waitFor(() => server.subscriberCount("feed") === 2, "two subscribers");
      // Random words: they compress, but not below a few fragments.
      const random = new Random(7);
      const words = Array.from({ length: 3000 }, () => random.int(0, 99999).toString(36));
      const message = words.join(" ");
      assert.equal(server.publish("feed", message), 2);
      assert.equal(server.metrics.compressions, 1, "compressed once for both");
      const payloads: Uint8Array[] = [];
      for (const client of [a, b]) {
        const frames = await client.nextMessage();
        assert.ok(frames.length > 3, `${frames.length} fragments`);
        frames.forEach((frame, i) => {
          assert.equal(frame.rsv1, i === 0, `RSV1 of frame ${i}`);
          assert.equal(frame.opcode, i === 0 ? Opcode.Text : Opcode.Continuation);
          assert.ok(frame.payload.length <= 200);
        });
        assert.equal(new TextDecoder().decode(inflated(frames)), message);
        payloads.push(concat(frames.map((frame) => frame.payload)));
      }
      assert.deepEqual(payloads[0], payloads[1]);
      // Under the threshold: one plain frame.
      assert.equal(server.publish("feed", "tiny"), 2);
      for (const client of [a, b]) {
        const [frame] = await client.nextMessage();
        assert.equal(frame!.rsv1, false);
        assert.equal(new TextDecoder().decode(frame!.payload), "tiny");
      }
      // conn.publish reaches the other only, compressed, and counts one.
      a.send(Opcode.Text, chat(1, 150));
      const [answer] = await a.nextMessage();
      assert.equal(new TextDecoder().decode(answer!.payload), "published to 1");
      const relayed = await b.nextMessage();
      assert.equal(relayed[0]!.rsv1, true);
      assert.equal(new TextDecoder().decode(inflated(relayed)), chat(1, 150));
      assert.equal(server.metrics.compressions, 2);
      assert.equal(a.hasFrame, false, "the publisher does not get its own message");
      assert.deepEqual(log.errors, []);
    });

    test("Server publish skips a stalled compressing subscriber and counts the drops", async (scope) => {
      const drops: string[] = [];
      const { server, url, port } = await start(scope, listen, {
        echo: false,
        perMessageDeflate: true,
        publishMark: 256 * 1024,
        maxBufferedAmount: 256 * 1024 * 1024,
        onDrop: (_conn, topic) => void drops.push(topic),
        onConnect: subscribeOnReady("feed"),
      });
      await stalledClient(scope, port, "permessage-deflate; server_no_context_takeover");
      const fast = await wsClient(scope, url, { serverNoContextTakeover: true });
      await waitFor(() => server.subscriberCount("feed") === 2, "two subscribers");
      // Random bytes do not compress: more than the kernel buffers hold for the stalled one.
      const random = new Random(3);
      const count = 400;
      let delivered = 0;
      for (let i = 0; i < count && drops.length < 20; i++) {
        const message = random.bytes(64 * 1024);
        delivered += server.publish("feed", message);
        await waitFor(() => fast.messages.length === i + 1, `message ${i}`, 5000);
        assert.deepEqual(fast.messages[i], message);
      }
      assert.ok(drops.length > 0, "the stalled subscriber was skipped");
      assert.equal(delivered + drops.length, 2 * fast.messages.length);
      assert.equal(server.metrics.drops, drops.length);
      assert.equal(server.subscriberCount("feed"), 2, "dropping does not close");
    });
  });
}
