/**
 * Connection over an in-memory transport with a fake clock (`mock.timers`): the handshake and its
 * deadline, the one close deadline, per-tick writes, holding frames while the transport is full,
 * read backpressure from the send side, ping floods, and what happens after a failure.
 */
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import {
  Connection,
  connectionSession,
  type ConnectionSettings,
} from "../../src/connection/connection.ts";
import { DEFAULTS } from "../../src/server/options.ts";
import { Opcode } from "../../src/protocol/mod.ts";
import { bytes, concat, pattern } from "../helpers/bytes.ts";
import { closeBody, rawFrame, RFC_MASK } from "../helpers/frames.ts";
import { MemoryTransport, settle } from "../helpers/memory_transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KiB = 1024;

const HEAD = encoder.encode(
  "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
);
/** RFC 6455 §5.7: a masked text "Hello". */
const MASKED_HELLO = bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);

function masked(opcode: number, payload: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  return rawFrame(opcode, data, { mask: RFC_MASK });
}

interface Harness {
  conn: Connection;
  transport: MemoryTransport;
  errors: unknown[];
  disconnects: [number, string][];
}

function connect(overrides: Partial<ConnectionSettings> = {}): Harness {
  const errors: unknown[] = [];
  const settings: ConnectionSettings = {
    ...DEFAULTS,
    secure: false,
    perMessageDeflate: undefined,
    compression: undefined,
    onRequest: undefined,
    path: undefined,
    onRefused() {},
    clock: { ticks: 0 },
    reportError: (error) => void errors.push(error),
    onOpen() {},
    onClose() {},
    ...overrides,
  };
  const transport = new MemoryTransport();
  const conn = new Connection(transport, settings);
  const session = connectionSession(conn);
  transport.sink = session;
  const disconnects: [number, string][] = [];
  conn.on("disconnect", (_, code, reason) => void disconnects.push([code, reason]));
  session.start();
  return { conn, transport, errors, disconnects };
}

async function open(overrides: Partial<ConnectionSettings> = {}): Promise<Harness> {
  const harness = connect(overrides);
  harness.transport.send(HEAD);
  await settle();
  assert.equal(harness.conn.state, "open");
  return harness;
}

describe("Connection over an in-memory transport", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
  afterEach(() => mock.timers.reset());

  it("Connection answers 101 and delivers frames that came with the head after ready", async () => {
    const { conn, transport } = connect();
    const seen: string[] = [];
    conn.on("ready", () => void seen.push("ready"));
    conn.on("text", (conn, text) => {
      seen.push(text);
      conn.sendText(text);
    });
    // The head trickles in, then the rest comes with a frame.
    transport.send(HEAD.subarray(0, 20), concat([HEAD.subarray(20), MASKED_HELLO]));
    await settle();
    assert.match(transport.responseHead, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(transport.responseHead, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
    assert.deepEqual(seen, ["ready", "Hello"]);
    assert.equal(decoder.decode(transport.frames[0]!.payload), "Hello");
    assert.equal(transport.paused, false, "reading resumed after the handshake");
  });

  it("Connection drops a client that does not complete its head within handshakeTimeout", async () => {
    const { conn, transport } = connect({ handshakeTimeout: 2 });
    transport.send(HEAD.subarray(0, 30));
    mock.timers.tick(1999);
    assert.equal(transport.destroyed, false);
    mock.timers.tick(1);
    assert.equal(transport.destroyed, true);
    assert.deepEqual(await conn.closed, { code: 1006, reason: "Handshake timed out" });
    assert.equal(conn.state, "closed");
  });

  it("Connection answers a malformed head with 400 and half-closes", async () => {
    const { conn, transport } = connect();
    transport.send(encoder.encode("GET / HTTP/1.1\nHost: a\r\n\r\n"));
    await settle();
    assert.match(transport.responseHead, /^HTTP\/1\.1 400 /);
    assert.equal(transport.ended, true);
    assert.equal(conn.state, "closed");
  });

  it("Connection has one close deadline: a late answer to its close does not extend it", async () => {
    const { conn, transport, disconnects } = await open({ closeTimeout: 3 });
    conn.disconnect(4001, "go");
    await settle();
    assert.deepEqual(transport.frames.map((f) => f.opcode), [Opcode.Close]);
    mock.timers.tick(2999);
    // The peer answers just in time: the connection ends, then the socket is given what is left
    // of the same deadline to finish.
    transport.send(masked(Opcode.Close, closeBody(4001)));
    await settle();
    assert.deepEqual(disconnects, [[4001, "go"]]);
    assert.equal(transport.ended, true);
    assert.equal(transport.destroyed, false);
    mock.timers.tick(1);
    assert.equal(transport.destroyed, true);
    assert.deepEqual(await conn.closed, { code: 4001, reason: "go" });
  });

  it("Connection lets go of the socket once the peer ended and everything left", async () => {
    const { conn, transport, disconnects } = await open();
    transport.send(masked(Opcode.Close, closeBody(1000, "bye")));
    await settle();
    assert.equal(transport.ended, true);
    assert.equal(transport.destroyed, false);
    transport.sendEnd();
    assert.equal(transport.destroyed, true);
    assert.deepEqual(await conn.closed, { code: 1000, reason: "bye" });
    assert.deepEqual(disconnects, [[1000, "bye"]]);
  });

  it("Connection reports 1006 when the peer ends without a close frame", async () => {
    const { transport, disconnects } = await open();
    transport.sendEnd();
    await settle();
    assert.deepEqual(disconnects, [[1006, ""]]);
    assert.equal(transport.destroyed, true);
  });

  it("Connection writes the frames of one tick as one vector, small frames packed", async () => {
    const { conn, transport } = await open();
    const before = transport.writes.length;
    conn.sendText("a");
    conn.sendText("b");
    conn.sendBinary(pattern(2 * KiB));
    conn.sendText("c");
    assert.equal(conn.bufferedAmount, 3 + 3 + 4 + 2 * KiB + 3);
    assert.equal(transport.writes.length, before, "nothing is written synchronously");
    await settle();
    assert.equal(transport.writes.length, before + 1);
    // "a", "b" and the big frame's header share a block; the payload is by reference.
    assert.equal(transport.writes.at(-1)!.length, 3);
    assert.deepEqual(transport.frames.map((f) => f.payload.length), [1, 1, 2 * KiB, 1]);
    assert.equal(conn.bufferedAmount, 0);
  });

  it("Connection holds frames while the transport is full and writes them on drain", async () => {
    const { conn, transport } = await open();
    let drains = 0;
    conn.on("drain", () => void drains++);
    transport.full = true;
    conn.sendText("first");
    await settle();
    const writes = transport.writes.length;
    conn.sendText("second");
    await settle();
    assert.equal(transport.writes.length, writes, "held while full");
    assert.equal(conn.bufferedAmount, 7 + 8);
    assert.equal(drains, 0);
    transport.drain();
    assert.equal(transport.writes.length, writes + 1);
    assert.equal(conn.bufferedAmount, 0);
    assert.equal(drains, 1);
    assert.deepEqual(transport.frames.map((f) => decoder.decode(f.payload)), ["first", "second"]);
  });

  it("Connection pauses reading above 64 KiB queued and resumes at a quarter of it", async () => {
    const { conn, transport } = await open();
    transport.full = true;
    conn.sendBinary(pattern(48 * KiB));
    await settle();
    assert.equal(transport.paused, false);
    conn.sendBinary(pattern(32 * KiB));
    assert.equal(transport.paused, true, "80 KiB queued");
    transport.drain();
    assert.equal(transport.paused, false);
  });

  it("Connection does not stay paused on bytes a transport accepted without saying it is full", async () => {
    const { conn, transport } = await open();
    // A runtime's own write queue holds 80 KiB below its high-water mark: write returned true.
    transport.holdAccepted = true;
    conn.sendBinary(pattern(80 * KiB));
    await settle();
    assert.equal(conn.bufferedAmount, 80 * KiB + 10, "the figure counts what the runtime holds");
    assert.equal(transport.paused, false, "no drain will come: reading must go on");
    transport.sendHeld();
    assert.equal(conn.bufferedAmount, 0);
  });

  it("Connection answers a ping flood with one pong, for the latest ping (RFC 6455 §5.5.3)", async () => {
    const { transport, conn } = await open();
    transport.full = true;
    conn.sendText("blocks the transport");
    await settle();
    const pings = [];
    for (let i = 0; i < 1000; i++) pings.push(masked(Opcode.Ping, `ping ${i}`));
    transport.send(concat(pings));
    assert.equal(conn.bufferedAmount, 22 + 10, "one pong waits");
    await settle();
    transport.drain();
    const pongs = transport.frames.filter((f) => f.opcode === Opcode.Pong);
    assert.deepEqual(pongs.map((f) => decoder.decode(f.payload)), ["ping 999"]);
  });

  it("Connection stops processing a failed peer: it pauses, then reads 16 KiB at most", async () => {
    const { conn, transport, disconnects } = await open({ closeTimeout: 2 });
    let texts = 0;
    conn.on("text", () => void texts++);
    // RFC 6455 §5.1: an unmasked frame fails the connection with 1002.
    transport.send(bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));
    await settle();
    assert.deepEqual(disconnects.map(([code]) => code), [1002]);
    assert.equal(transport.frames.at(-1)!.opcode, Opcode.Close);
    assert.equal(transport.ended, true);
    assert.equal(transport.paused, true, "reading pauses at the failure");
    // The runtime holds little 20 ms later: reading resumes, to see the peer's close and end.
    mock.timers.tick(20);
    assert.equal(transport.paused, false);
    transport.send(pattern(16 * KiB - 1));
    assert.equal(transport.paused, false, "16 KiB are read to see the peer's end");
    transport.send(MASKED_HELLO);
    assert.equal(transport.paused, true);
    assert.equal(texts, 0);
    mock.timers.tick(2000);
    assert.equal(transport.destroyed, true);
  });

  it("Connection reads no more from a failed peer whose runtime holds 16 KiB after 20 ms", async () => {
    const { transport, disconnects } = await open({ closeTimeout: 2 });
    transport.send(bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));
    await settle();
    assert.deepEqual(disconnects.map(([code]) => code), [1002]);
    // The peer went on sending: the runtime read on into its own buffer while paused.
    transport.heldAmount = 16 * KiB;
    mock.timers.tick(20);
    assert.equal(transport.paused, true);
    mock.timers.tick(2000);
    assert.equal(transport.destroyed, true);
  });

  it("Connection accepts one message of any size up to maxSendSize ahead of maxBufferedAmount", async () => {
    const { conn, transport } = await open({ maxBufferedAmount: 1 * KiB, maxSendSize: 64 * KiB });
    transport.full = true;
    // Nothing waits: the message fits, whatever its size.
    assert.equal(conn.sendBinary(pattern(64 * KiB)), true);
    assert.equal(conn.bufferedAmount, 64 * KiB + 10);
    assert.equal(conn.state, "open");
  });

  it("Connection overflow drops the queue, sends 1008 first, and drops the peer after a grace", async () => {
    const { conn, transport, disconnects } = await open({
      maxBufferedAmount: 4 * KiB,
      closeTimeout: 5,
    });
    transport.full = true;
    conn.sendBinary(pattern(3 * KiB));
    await settle();
    const written = transport.writes.length;
    conn.sendBinary(pattern(3 * KiB));
    assert.equal(conn.sendText("over the limit"), false);
    assert.equal(conn.state, "closed");
    assert.equal(disconnects[0]![0], 1008);
    assert.match(
      disconnects[0]![1],
      /^Cannot send: \d+ bytes queued exceed maxBufferedAmount of 4096$/,
    );
    // The second message was still queued: dropped. The close frame is the next write.
    assert.equal(transport.writes.length, written + 1);
    assert.deepEqual([...transport.writes.at(-1)![0]!.subarray(0, 4)], [0x88, 0x41, 0x03, 0xf0]);
    assert.equal(transport.ended, true);
    mock.timers.tick(999);
    assert.equal(transport.destroyed, false);
    mock.timers.tick(1);
    assert.equal(transport.destroyed, true, "dropped after 1 s, not closeTimeout");
  });

  it("Connection counts application pings against maxBufferedAmount", async () => {
    const { conn, transport, disconnects } = await open({ maxBufferedAmount: 1 * KiB });
    transport.full = true;
    let pings = 0;
    while (conn.ping(pattern(125))) pings++;
    assert.equal(pings, 9, "127 bytes each, until more than 1 KiB waits");
    assert.deepEqual(disconnects.map(([code]) => code), [1008]);
  });

  it("Connection message stream pauses reading while its reader is behind", async () => {
    const { conn, transport } = await open();
    const reader = conn.readable.getReader();
    const big = masked(Opcode.Binary, pattern(600 * KiB));
    transport.send(big);
    assert.equal(transport.paused, false);
    transport.send(big);
    assert.equal(transport.paused, true, "1.2 MiB unread");
    await reader.read();
    await settle();
    assert.equal(transport.paused, false);
    reader.releaseLock();
  });

  it("Connection reports what a listener throws and stays open", async () => {
    const { conn, transport, errors } = await open();
    const boom = new Error("boom");
    conn.on("text", () => {
      throw boom;
    });
    transport.send(MASKED_HELLO);
    assert.deepEqual(errors, [boom]);
    assert.equal(conn.state, "open");
  });
});
