/**
 * ServerProtocol, fed byte literals: the RFC 6455 §5.7 examples (masked with the RFC's key, as a
 * client must send them), each split at every byte boundary, and the close and failure paths.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, Opcode } from "../../src/protocol/mod.ts";
import { type DataMessage, ServerProtocol } from "../../src/connection/protocol.ts";
import { bytes, concat, everyChunking } from "../helpers/bytes.ts";
import { closeBody, rawFrame, RFC_MASK } from "../helpers/frames.ts";

const HELLO = new TextEncoder().encode("Hello");
/** RFC 6455 §5.7: a single-frame masked text message containing "Hello". */
const MASKED_HELLO = bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
/** RFC 6455 §5.7: a masked ping "Hello" (the unmasked example's opcode 0x89, masked). */
const MASKED_PING = bytes(0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
/** RFC 6455 §5.7: the unmasked "Hello", which a server must refuse (§5.1). */
const UNMASKED_HELLO = bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
/** RFC 6455 §5.7: the fragmented "Hel" + "lo", masked. */
const FRAGMENTED_HELLO = concat([
  rawFrame(Opcode.Text, HELLO.subarray(0, 3), { fin: false, mask: RFC_MASK }),
  rawFrame(Opcode.Continuation, HELLO.subarray(3), { mask: RFC_MASK }),
]);

/** What a protocol reported, in order. */
interface Recorded {
  protocol: ServerProtocol;
  events: unknown[];
  sent: number[][];
}

function record(open = true, limits = {}): Recorded {
  const events: unknown[] = [];
  const sent: number[][] = [];
  const protocol = new ServerProtocol({
    message: (message: DataMessage) => void events.push(message),
    ping: (data) => void events.push({ ping: [...data] }),
    pong: (data) => void events.push({ pong: [...data] }),
    send: (frame) => (sent.push(frame.flatMap((buffer) => [...buffer])), true),
    ended: (code, reason, error) => void events.push({ closed: code, reason, error }),
  });
  if (open) protocol.open(limits);
  return { protocol, events, sent };
}

describe("ServerProtocol", () => {
  it("ServerProtocol delivers the RFC 6455 §5.7 masked Hello split at every byte boundary", () => {
    for (const { chunks } of everyChunking(MASKED_HELLO)) {
      const { protocol, events, sent } = record();
      for (const chunk of chunks) protocol.receive(chunk);
      assert.deepEqual(events, [{ type: "text", data: "Hello" }]);
      assert.deepEqual(sent, []);
    }
  });

  it("ServerProtocol assembles the RFC 6455 §5.7 fragmented Hello at every split", () => {
    for (const { chunks } of everyChunking(FRAGMENTED_HELLO)) {
      const { protocol, events } = record();
      for (const chunk of chunks) protocol.receive(chunk);
      assert.deepEqual(events, [{ type: "text", data: "Hello" }]);
    }
  });

  it("ServerProtocol answers a ping with an unmasked pong of the same payload", () => {
    for (const { chunks } of everyChunking(MASKED_PING)) {
      const { protocol, events, sent } = record();
      for (const chunk of chunks) protocol.receive(chunk);
      // RFC 6455 §5.7: the unmasked pong "Hello".
      assert.deepEqual(sent, [[0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]]);
      assert.deepEqual(events, [{ ping: [...HELLO] }]);
    }
  });

  it("ServerProtocol fails an unmasked frame with 1002 and reads nothing after it", () => {
    const { protocol, events, sent } = record();
    protocol.receive(concat([UNMASKED_HELLO, MASKED_HELLO]));
    protocol.receive(MASKED_PING.slice());
    assert.equal(protocol.state, "closed");
    assert.equal(sent.length, 1, "one close frame, no pong");
    assert.deepEqual(sent[0]!.slice(0, 4), [0x88, sent[0]![1]!, 0x03, 0xea]);
    assert.equal(events.length, 1);
    const closed = events[0] as { closed: number; error: { code: string } };
    assert.equal(closed.closed, CloseCode.ProtocolError);
    assert.equal(closed.error.code, "UNMASKED_FRAME");
  });

  it("ServerProtocol fails invalid UTF-8 with 1007 on the first fragment", () => {
    const { protocol, events, sent } = record();
    protocol.receive(rawFrame(Opcode.Text, bytes(0x61, 0xff), { fin: false, mask: RFC_MASK }));
    assert.deepEqual(sent[0]!.slice(2, 4), [0x03, 0xef]);
    assert.equal((events[0] as { closed: number }).closed, 1007);
  });

  it("ServerProtocol fails a frame over maxFrameSize with 1009 from its header", () => {
    const { protocol, events, sent } = record(true, { maxFrameSize: 4 });
    // Only the header and masking key of a 5-byte frame arrive: the limit fails before the payload.
    protocol.receive(MASKED_HELLO.slice(0, 6));
    assert.deepEqual(sent[0]!.slice(2, 4), [0x03, 0xf1]);
    assert.equal((events[0] as { closed: number }).closed, 1009);
  });

  it("ServerProtocol echoes a peer's close with its code (RFC 6455 §5.5.1) and reports it", () => {
    const { protocol, events, sent } = record();
    protocol.receive(rawFrame(Opcode.Close, closeBody(4000, "bye"), { mask: RFC_MASK }));
    assert.deepEqual(sent, [[0x88, 0x02, 0x0f, 0xa0]]);
    assert.deepEqual(events, [{ closed: 4000, reason: "bye", error: undefined }]);
    assert.equal(protocol.state, "closed");
  });

  it("ServerProtocol answers an empty close with an empty one and reports 1005", () => {
    const { protocol, events, sent } = record();
    protocol.receive(rawFrame(Opcode.Close, new Uint8Array(0), { mask: RFC_MASK }));
    assert.deepEqual(sent, [[0x88, 0x00]]);
    assert.deepEqual(events, [{ closed: 1005, reason: "", error: undefined }]);
  });

  it("ServerProtocol close goes to CLOSING, discards data, and completes on the peer's close", () => {
    const { protocol, events, sent } = record();
    protocol.close(1000, "done");
    assert.equal(protocol.state, "closing");
    assert.deepEqual(sent, [[0x88, 0x06, 0x03, 0xe8, ...new TextEncoder().encode("done")]]);
    // RFC 6455 §1.4: data after our close is discarded; a ping is not answered.
    protocol.receive(concat([MASKED_HELLO, MASKED_PING]));
    assert.equal(sent.length, 1);
    assert.equal(protocol.sendMessage(Opcode.Text, HELLO), false);
    protocol.receive(rawFrame(Opcode.Close, closeBody(1000), { mask: RFC_MASK }));
    assert.deepEqual(events, [{ ping: [...HELLO] }, {
      closed: 1000,
      reason: "done",
      error: undefined,
    }]);
    assert.equal(sent.length, 1, "no second close frame");
  });

  it("ServerProtocol close rejects a code that may not be sent, in any state", () => {
    const { protocol } = record(false);
    assert.throws(() => protocol.close(1005, ""), RangeError);
    assert.throws(() => protocol.close(1000, "x".repeat(124)), RangeError);
  });

  it("ServerProtocol fails once: a failure while CLOSING sends no second close frame", () => {
    const { protocol, events, sent } = record();
    protocol.close(1000, "");
    protocol.receive(UNMASKED_HELLO.slice());
    assert.equal(sent.length, 1);
    assert.equal((events[0] as { closed: number }).closed, 1002);
    protocol.fail(new Error("again"));
    assert.equal(events.length, 1);
  });

  it("ServerProtocol hides an unexpected error behind 1011", () => {
    const { protocol, sent } = record();
    protocol.fail(new TypeError("secret"));
    const reason = new TextDecoder().decode(new Uint8Array(sent[0]!.slice(4)));
    assert.deepEqual(sent[0]!.slice(2, 4), [0x03, 0xf3]);
    assert.equal(reason, "Internal error");
  });

  it("ServerProtocol sendMessage fragments by fragmentSize (RFC 6455 §5.4)", () => {
    const { protocol, sent } = record();
    assert.equal(protocol.sendMessage(Opcode.Text, HELLO, 2), true);
    assert.deepEqual(sent, [
      [0x01, 0x02, 0x48, 0x65],
      [0x00, 0x02, 0x6c, 0x6c],
      [0x80, 0x01, 0x6f],
    ]);
  });

  it("ServerProtocol abort reports 1006, or the close it sent", () => {
    const first = record();
    assert.deepEqual(first.protocol.abort(), { code: 1006, reason: "" });
    const second = record();
    second.protocol.close(4001, "go");
    assert.deepEqual(second.protocol.abort(), { code: 4001, reason: "go" });
    assert.equal(second.protocol.state, "closed");
  });

  it("ServerProtocol reads nothing before open", () => {
    const { protocol, events, sent } = record(false);
    protocol.receive(MASKED_HELLO.slice());
    assert.equal(protocol.ping(HELLO), false);
    assert.deepEqual([events, sent], [[], []]);
  });
});
