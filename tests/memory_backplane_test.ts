import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { BackplaneError, Envelope } from "../src/pubsub/backplane.ts";
import { MemoryBackplane } from "../src/pubsub/memory_backplane.ts";
import { TopicRegistry } from "../src/pubsub/topics.ts";
import { pattern } from "./helpers/bytes.ts";

function envelope(from: MemoryBackplane, topic: string, data: Uint8Array, binary = true): Envelope {
  return { instance: from.instanceId, topic, data, binary };
}

/** A backplane on `bus` that records what it receives and the errors it reports. */
function recording(bus: ReturnType<typeof MemoryBackplane.bus>, instanceId?: string) {
  const backplane = new MemoryBackplane(instanceId === undefined ? { bus } : { bus, instanceId });
  const received: Envelope[] = [];
  const errors: BackplaneError[] = [];
  backplane.subscribe((envelope) => received.push(envelope));
  backplane.onError = (error) => errors.push(error);
  return { backplane, received, errors };
}

describe("MemoryBackplane", () => {
  it("MemoryBackplane delivers to the other instances subscribed to the topic, never to itself", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus);
    const b = recording(bus);
    const c = recording(bus);
    for (const x of [a, b]) x.backplane.subscribeTopic("room");
    c.backplane.subscribeTopic("other");
    await a.backplane.publish(envelope(a.backplane, "room", pattern(4)));
    assert.equal(a.received.length, 0);
    assert.equal(b.received.length, 1);
    assert.equal(c.received.length, 0);
    assert.deepEqual(b.received[0], {
      instance: a.backplane.instanceId,
      topic: "room",
      data: pattern(4),
      binary: true,
    });
    for (const x of [a, b, c]) assert.deepEqual(x.errors, []);
  });

  it("MemoryBackplane delivers asynchronously and in publish order", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus);
    const b = recording(bus);
    b.backplane.subscribeTopic("t");
    const published: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      published.push(a.backplane.publish(envelope(a.backplane, "t", new Uint8Array([i]))));
    }
    assert.equal(b.received.length, 0, "nothing is delivered inside publish");
    await Promise.all(published);
    assert.deepEqual(b.received.map((e) => e.data[0]), [...Array(100).keys()]);
  });

  it("MemoryBackplane copies the payload once per publish and shares it between receivers", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus);
    const b = recording(bus);
    const c = recording(bus);
    b.backplane.subscribeTopic("t");
    c.backplane.subscribeTopic("t");
    const data = pattern(256);
    const sent = a.backplane.publish(envelope(a.backplane, "t", data));
    data.fill(0); // the publisher reuses its buffer at once
    await sent;
    assert.deepEqual(b.received[0]!.data, pattern(256));
    assert.equal(b.received[0]!.data, c.received[0]!.data);
  });

  it("MemoryBackplane carries text and binary flags and every byte value", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus);
    const b = recording(bus);
    b.backplane.subscribeTopic("ü");
    await a.backplane.publish(envelope(a.backplane, "ü", new TextEncoder().encode("é"), false));
    await a.backplane.publish(envelope(a.backplane, "ü", pattern(256), true));
    assert.deepEqual(b.received.map((e) => e.binary), [false, true]);
    assert.deepEqual(b.received[1]!.data, pattern(256));
  });

  it("MemoryBackplane stops delivering a topic once unsubscribed, even one already in flight", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus);
    const b = recording(bus);
    b.backplane.subscribeTopic("t");
    b.backplane.subscribeTopic("t"); // idempotent
    const inFlight = a.backplane.publish(envelope(a.backplane, "t", pattern(1)));
    b.backplane.unsubscribeTopic("t");
    b.backplane.unsubscribeTopic("t"); // idempotent
    await inFlight;
    await a.backplane.publish(envelope(a.backplane, "t", pattern(1)));
    assert.equal(b.received.length, 0);
    assert.equal(bus.topics.size, 0, "the bus forgets a topic nobody wants");
  });

  it("MemoryBackplane follows a registry's 0 ↔ 1 transitions through churn", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus);
    const b = recording(bus);
    const registry = new TopicRegistry<number>(b.backplane);
    let expected = 0;
    for (let round = 0; round < 200; round++) {
      const subscribed = round % 2 === 0;
      if (subscribed) {
        registry.subscribe(1, "t");
        registry.subscribe(2, "t");
      } else {
        registry.unsubscribe(1, "t");
        registry.unsubscribeAll(2);
      }
      assert.equal(b.backplane.topics.has("t"), subscribed);
      await a.backplane.publish(envelope(a.backplane, "t", new Uint8Array([round & 0xff])));
      if (subscribed) expected++;
    }
    assert.equal(b.received.length, expected);
  });

  it("MemoryBackplane without a shared bus hears nobody", async () => {
    const a = recording(MemoryBackplane.bus());
    const lone = new MemoryBackplane();
    const received: Envelope[] = [];
    lone.subscribe((e) => received.push(e));
    lone.subscribeTopic("t");
    a.backplane.subscribeTopic("t");
    await lone.publish(envelope(lone, "t", pattern(1)));
    assert.equal(received.length, 0);
    assert.equal(a.received.length, 0);
    assert.match(lone.instanceId, /^[0-9a-f]{16}$/);
    await lone.close();
  });

  it("MemoryBackplane drops an envelope that carries its own instance id", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus, "same");
    const b = recording(bus, "same"); // a misconfiguration: ids must be unique
    b.backplane.subscribeTopic("t");
    await a.backplane.publish(envelope(a.backplane, "t", pattern(1)));
    assert.equal(b.received.length, 0);
  });

  it("MemoryBackplane reports a throwing deliver with stage deliver and keeps delivering", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus);
    const b = recording(bus);
    const c = recording(bus);
    b.backplane.subscribe(() => {
      throw new Error("boom");
    });
    b.backplane.subscribeTopic("t");
    c.backplane.subscribeTopic("t");
    await a.backplane.publish(envelope(a.backplane, "t", pattern(1)));
    await a.backplane.publish(envelope(a.backplane, "t", pattern(1)));
    assert.equal(c.received.length, 2);
    assert.equal(b.errors.length, 2);
    assert.equal(b.errors[0]!.stage, "deliver");
    assert.equal(b.errors[0]!.topic, "t");
    assert.equal((b.errors[0]!.cause as Error).message, "boom");
  });

  it("MemoryBackplane after close reports publish and subscribe with their stage", async () => {
    const bus = MemoryBackplane.bus();
    const a = recording(bus);
    const b = recording(bus);
    a.backplane.subscribeTopic("t");
    b.backplane.subscribeTopic("t");
    await b.backplane.close();
    await b.backplane.close(); // idempotent
    assert.equal(b.backplane.topics.size, 0);
    await b.backplane.publish(envelope(b.backplane, "t", pattern(1)));
    b.backplane.subscribeTopic("u");
    assert.deepEqual(b.errors.map((e) => e.stage), ["publish", "subscribe"]);
    assert.match(b.errors[0]!.message, /^Cannot publish: the backplane is closed$/);
    assert.equal(a.received.length, 0);
    await a.backplane.publish(envelope(a.backplane, "t", pattern(1)));
    assert.equal(b.received.length, 0);
  });

  it("MemoryBackplane rejects an empty instance id", () => {
    assert.throws(() => new MemoryBackplane({ instanceId: "" }), RangeError);
  });
});
