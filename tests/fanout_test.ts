import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/constants.ts";
import { PolicyViolationError } from "../src/protocol/errors.ts";
import type { Frame } from "../src/protocol/frame.ts";
import { FrameParser } from "../src/protocol/frame_parser.ts";
import type { BackplaneError } from "../src/pubsub/backplane.ts";
import { MemoryBackplane } from "../src/pubsub/memory_backplane.ts";
import { Fanout, type FanoutTarget } from "../src/server/fanout.ts";
import { Metrics } from "../src/server/metrics.ts";
import { concat, pattern } from "./helpers/bytes.ts";

/**
 * A subscriber whose queue never drains: each push adds the frames' bytes to `bufferedAmount`,
 * as a peer that stopped reading would.
 */
class Target implements FanoutTarget {
  bufferedAmount = 0;
  open = true;
  pushes: (readonly Uint8Array[][])[] = [];
  closedWith: PolicyViolationError | undefined;
  onPush: (() => void) | undefined;

  pushFrames(frames: readonly Uint8Array[][]): boolean {
    if (!this.open) return false;
    this.pushes.push(frames);
    for (const frame of frames) for (const buffer of frame) this.bufferedAmount += buffer.length;
    this.onPush?.();
    return true;
  }

  closeSlow(error: PolicyViolationError): void {
    this.closedWith = error;
    this.open = false;
  }

  /** Every frame pushed, parsed as a client parses what a server sends. */
  frames(): Frame[] {
    const parser = new FrameParser({ role: "client" });
    const out: Frame[] = [];
    const wire = concat(this.pushes.flat(2));
    parser.push(wire.slice(), (frame) => out.push(frame));
    return out;
  }
}

const text = (frame: Frame) => new TextDecoder().decode(frame.payload);

describe("Fanout", () => {
  it("Fanout frames a publish once and queues the same buffers for every subscriber", () => {
    const fanout = new Fanout<Target>();
    const targets = [new Target(), new Target(), new Target()];
    for (const target of targets) fanout.subscribe(target, "room");
    const other = new Target();
    fanout.subscribe(other, "elsewhere");

    assert.equal(fanout.publish("room", "héllo"), 3);
    assert.equal(fanout.publish("room", pattern(2000)), 3);
    for (const target of targets) {
      assert.equal(target.pushes[0], targets[0]!.pushes[0], "the same frame list");
      assert.equal(target.pushes[1]![0]![0], targets[0]!.pushes[1]![0]![0], "the same frame");
      const [first, second] = target.frames();
      assert.equal(first!.opcode, Opcode.Text);
      assert.equal(text(first!), "héllo");
      assert.equal(second!.opcode, Opcode.Binary);
      assert.deepEqual(second!.payload, pattern(2000));
    }
    assert.equal(other.pushes.length, 0);
  });

  it("Fanout does not copy a large payload: the caller's bytes are what is queued", () => {
    const fanout = new Fanout<Target>();
    const targets = [new Target(), new Target()];
    for (const target of targets) fanout.subscribe(target, "t");
    const payload = pattern(64 * 1024);
    fanout.publish("t", payload);
    for (const target of targets) {
      assert.equal(target.pushes[0]![0]!.length, 2, "header and payload");
      assert.ok(target.pushes[0]![0]![1] === payload, "the caller's bytes");
    }
  });

  it("Fanout joins a frame of up to 64 KiB into one buffer, once, for several subscribers", () => {
    const fanout = new Fanout<Target>();
    const alone = new Target();
    fanout.subscribe(alone, "one");
    const payload = pattern(16 * 1024);
    fanout.publish("one", payload);
    assert.ok(alone.pushes[0]![0]![1] === payload, "one subscriber: not copied");

    const targets = [new Target(), new Target(), new Target()];
    for (const target of targets) fanout.subscribe(target, "many");
    fanout.publish("many", payload);
    const frame = targets[0]!.pushes[0]![0]!;
    assert.equal(frame.length, 1, "one buffer");
    assert.equal(frame[0]!.length, 4 + payload.length);
    for (const target of targets) assert.equal(target.pushes[0]![0]![0], frame[0], "the same one");
    const [parsed] = targets[2]!.frames();
    assert.equal(parsed!.opcode, Opcode.Binary);
    assert.ok(parsed!.fin);
    assert.deepEqual(parsed!.payload, payload);
  });

  it("Fanout returns 0 and queues nothing for a topic without subscribers", () => {
    const fanout = new Fanout<Target>();
    assert.equal(fanout.publish("empty", "x"), 0);
    const target = new Target();
    fanout.subscribe(target, "t");
    fanout.unsubscribe(target, "t");
    assert.equal(fanout.publish("t", "x"), 0);
    assert.equal(target.pushes.length, 0);
  });

  it("Fanout leaves out the publisher when asked (conn.publish sends to the others)", () => {
    const fanout = new Fanout<Target>();
    const [me, you] = [new Target(), new Target()];
    fanout.subscribe(me, "t");
    assert.equal(fanout.publish("t", "alone", { except: me }), 0);
    fanout.subscribe(you, "t");
    assert.equal(fanout.publish("t", "hi", { except: me }), 1);
    assert.equal(me.pushes.length, 0);
    assert.equal(text(you.frames()[0]!), "hi");
  });

  it("Fanout fragments past fragmentSize, once for all subscribers (RFC 6455 §5.4)", () => {
    const fanout = new Fanout<Target>({ fragmentSize: 100 });
    const [a, b] = [new Target(), new Target()];
    fanout.subscribe(a, "t");
    fanout.subscribe(b, "t");
    fanout.publish("t", pattern(250));
    assert.equal(a.pushes[0], b.pushes[0]);
    const frames = a.frames();
    assert.deepEqual(frames.map((f) => [f.opcode, f.fin, f.payload.length]), [
      [Opcode.Binary, false, 100],
      [Opcode.Continuation, false, 100],
      [Opcode.Continuation, true, 50],
    ]);
    assert.deepEqual(concat(frames.map((f) => f.payload)), pattern(250));
  });

  it("Fanout skips a subscriber over the publish mark and counts the drop", () => {
    const metrics = new Metrics();
    const dropped: string[] = [];
    const fanout = new Fanout<Target>({
      publishMark: 1000,
      metrics,
      onDrop: (target, topic) => dropped.push(`${fanout.registry.topicsOf(target).size} ${topic}`),
    });
    const [slow, fast] = [new Target(), new Target()];
    fanout.subscribe(slow, "t");
    fanout.subscribe(fast, "t");
    let delivered = 0;
    for (let i = 0; i < 10; i++) {
      delivered += fanout.publish("t", pattern(300));
      fast.bufferedAmount = 0; // fast reads everything at once
    }
    // slow took 4 (0, 304, 608, 912 bytes queued before each), then is over 1000.
    assert.equal(slow.pushes.length, 4);
    assert.equal(fast.pushes.length, 10);
    assert.equal(delivered, 14);
    assert.equal(dropped.length, 6);
    assert.equal(dropped[0], "1 t");
    const snapshot = metrics.snapshot();
    assert.equal(snapshot.drops, 6);
    assert.equal(snapshot.publishes, 10);
    assert.equal(snapshot.messagesOut, 14);
    assert.equal(snapshot.bytesOut, 14 * (4 + 300), "frame bytes, header included");
    assert.equal(slow.open, true, "dropping never closes");
    // Once it caught up, it gets messages again.
    slow.bufferedAmount = 0;
    assert.equal(fanout.publish("t", "again"), 2);
  });

  it("Fanout closes a subscriber over the publish mark with 1008 under the close policy", () => {
    const metrics = new Metrics();
    const fanout = new Fanout<Target>({ publishMark: 500, slowSubscriber: "close", metrics });
    const [slow, fast] = [new Target(), new Target()];
    fanout.subscribe(slow, "t");
    fanout.subscribe(fast, "t");
    fanout.publish("t", pattern(600));
    fast.bufferedAmount = 0;
    assert.equal(fanout.publish("t", pattern(10)), 1);
    assert.ok(slow.closedWith instanceof PolicyViolationError);
    assert.equal(slow.closedWith.closeCode, 1008);
    assert.equal(slow.closedWith.code, "SEND_BUFFER_FULL");
    assert.match(
      slow.closedWith.message,
      /^Cannot publish to "t": 604 bytes queued exceed the publish mark of "500"$/,
    );
    assert.equal(metrics.snapshot().drops, 0);
    assert.equal(fanout.publish("t", pattern(10)), 1, "a closing subscriber takes nothing");
  });

  it("Fanout does not count a subscriber that is closing", () => {
    const fanout = new Fanout<Target>();
    const [closing, open] = [new Target(), new Target()];
    closing.open = false;
    fanout.subscribe(closing, "t");
    fanout.subscribe(open, "t");
    assert.equal(fanout.publish("t", "x"), 1);
  });

  it("Fanout survives a subscriber that unsubscribes itself and another during the fan-out", () => {
    const fanout = new Fanout<Target>();
    const targets = Array.from({ length: 6 }, () => new Target());
    for (const target of targets) fanout.subscribe(target, "t");
    // The second closes on its push (as a connection past maxBufferedAmount would) and takes
    // the third with it.
    targets[1]!.onPush = () => {
      fanout.unsubscribeAll(targets[1]!);
      fanout.unsubscribeAll(targets[2]!);
    };
    assert.equal(fanout.publish("t", "x"), 5);
    assert.deepEqual(targets.map((t) => t.pushes.length), [1, 1, 0, 1, 1, 1]);
    assert.equal(fanout.subscriberCount("t"), 4);
  });

  it("Fanout answers isSubscribed and topicsOf per subscriber", () => {
    const fanout = new Fanout<Target>();
    const target = new Target();
    fanout.subscribe(target, "a");
    fanout.subscribe(target, "b");
    assert.equal(fanout.isSubscribed(target, "a"), true);
    assert.equal(fanout.isSubscribed(target, "c"), false);
    assert.deepEqual([...fanout.topicsOf(target)], ["a", "b"]);
    assert.equal(fanout.unsubscribeAll(target), 2);
    assert.deepEqual([...fanout.topicsOf(target)], []);
  });

  it("Fanout rejects a topic that is not a string and a message past maxSendSize", () => {
    const fanout = new Fanout<Target>({ maxSendSize: 10 });
    const target = new Target();
    fanout.subscribe(target, "t");
    assert.throws(() => fanout.publish(1 as unknown as string, "x"), TypeError);
    assert.throws(
      () => fanout.publish("t", pattern(11)),
      (error) =>
        error instanceof RangeError && /^Cannot publish: 11 bytes exceed/.test(error.message),
    );
    assert.throws(() => fanout.publish("t", "ééééé!"), RangeError); // 11 bytes of UTF-8
    assert.equal(target.pushes.length, 0);
  });

  it("Fanout rejects bad options", () => {
    assert.throws(() => new Fanout({ publishMark: 0 }), RangeError);
    assert.throws(() => new Fanout({ fragmentSize: 1.5 }), RangeError);
    assert.throws(() => new Fanout({ maxSendSize: -1 }), RangeError);
    assert.throws(
      () => new Fanout({ slowSubscriber: "block" as unknown as "drop" }),
      /^RangeError: Cannot create fanout: slowSubscriber must be "drop" or "close", not "block"$/,
    );
  });

  it("Fanout shares publishes with another instance through the backplane, both ways", async () => {
    const bus = MemoryBackplane.bus();
    const [metricsA, metricsB] = [new Metrics(), new Metrics()];
    const a = new Fanout<Target>({ backplane: new MemoryBackplane({ bus }), metrics: metricsA });
    const b = new Fanout<Target>({ backplane: new MemoryBackplane({ bus }), metrics: metricsB });
    const [onA, onB, elsewhere] = [new Target(), new Target(), new Target()];
    a.subscribe(onA, "room");
    b.subscribe(onB, "room");
    b.subscribe(elsewhere, "other");

    assert.equal(a.publish("room", "from a"), 1, "counts only the local subscribers");
    assert.equal(b.publish("room", pattern(3)), 1);
    assert.equal(a.publish("nobody-here", "x"), 0);
    await new Promise((resolve) => setTimeout(resolve, 0));

    assert.deepEqual(onA.frames().map((f) => f.opcode), [Opcode.Text, Opcode.Binary]);
    assert.equal(text(onA.frames()[0]!), "from a");
    assert.deepEqual(onA.frames()[1]!.payload, pattern(3));
    assert.deepEqual(onB.frames().map((f) => f.opcode), [Opcode.Binary, Opcode.Text]);
    assert.equal(text(onB.frames()[1]!), "from a");
    assert.equal(elsewhere.pushes.length, 0);
    // Received envelopes are delivered locally and not published again (no ping-pong).
    assert.equal(metricsA.snapshot().backplaneOut, 2);
    assert.equal(metricsA.snapshot().backplaneIn, 1);
    assert.equal(metricsB.snapshot().backplaneOut, 1);
    assert.equal(metricsB.snapshot().backplaneIn, 1);
    assert.equal(metricsB.snapshot().publishes, 2);
    await Promise.all([a.close(), b.close()]);
  });

  it("Fanout tells the backplane of each topic's first and last local subscriber", async () => {
    const bus = MemoryBackplane.bus();
    const backplane = new MemoryBackplane({ bus });
    const fanout = new Fanout<Target>({ backplane });
    const [x, y] = [new Target(), new Target()];
    fanout.subscribe(x, "t");
    fanout.subscribe(y, "t");
    assert.deepEqual([...backplane.topics], ["t"]);
    fanout.unsubscribeAll(x);
    assert.deepEqual([...backplane.topics], ["t"]);
    fanout.unsubscribe(y, "t");
    assert.deepEqual([...backplane.topics], []);
    await fanout.close();
  });

  it("Fanout counts backplane failures and hands them to onBackplaneError", async () => {
    const metrics = new Metrics();
    const errors: BackplaneError[] = [];
    const backplane = new MemoryBackplane();
    const fanout = new Fanout<Target>({
      backplane,
      metrics,
      onBackplaneError: (error) => errors.push(error),
    });
    await backplane.close();
    fanout.publish("t", "after close");
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(errors.map((error) => error.stage), ["publish"]);
    assert.equal(metrics.snapshot().backplaneErrors, 1);
  });
});
