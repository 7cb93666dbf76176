import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type TopicInterest, TopicRegistry } from "../src/pubsub/topics.ts";
import { Random } from "./helpers/random.ts";

/** A TopicInterest that records every call, as "+topic" and "-topic". */
function recorder(): TopicInterest & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    subscribeTopic: (topic) => calls.push(`+${topic}`),
    unsubscribeTopic: (topic) => calls.push(`-${topic}`),
  };
}

describe("TopicRegistry", () => {
  it("TopicRegistry subscribes, counts and reports both directions", () => {
    const registry = new TopicRegistry<string>();
    assert.equal(registry.subscribe("a", "room"), true);
    assert.equal(registry.subscribe("b", "room"), true);
    assert.equal(registry.subscribe("a", "news"), true);
    assert.equal(registry.subscriberCount("room"), 2);
    assert.equal(registry.subscriberCount("news"), 1);
    assert.equal(registry.subscriberCount("nothing"), 0);
    assert.deepEqual([...registry.subscribers("room")], ["a", "b"]);
    assert.deepEqual([...registry.topicsOf("a")], ["room", "news"]);
    assert.deepEqual([...registry.topicsOf("nobody")], []);
    assert.equal(registry.isSubscribed("a", "news"), true);
    assert.equal(registry.isSubscribed("b", "news"), false);
    assert.equal(registry.topicCount, 2);
    assert.equal(registry.subscriberTotal, 2);
    assert.deepEqual([...registry.topics()].sort(), ["news", "room"]);
  });

  it("TopicRegistry ignores a second subscribe and an unsubscribe from a topic one is not in", () => {
    const interest = recorder();
    const registry = new TopicRegistry<string>(interest);
    assert.equal(registry.subscribe("a", "room"), true);
    assert.equal(registry.subscribe("a", "room"), false);
    assert.equal(registry.subscriberCount("room"), 1);
    assert.equal(registry.unsubscribe("a", "other"), false);
    assert.equal(registry.unsubscribe("b", "room"), false);
    assert.equal(registry.unsubscribe("a", "room"), true);
    assert.equal(registry.unsubscribe("a", "room"), false);
    assert.deepEqual(interest.calls, ["+room", "-room"]);
    assert.equal(registry.topicCount, 0);
    assert.equal(registry.subscriberTotal, 0);
  });

  it("TopicRegistry reports only the 0 → 1 and 1 → 0 transitions", () => {
    const interest = recorder();
    const registry = new TopicRegistry<number>(interest);
    for (let i = 0; i < 5; i++) registry.subscribe(i, "t");
    assert.deepEqual(interest.calls, ["+t"]);
    for (let i = 0; i < 4; i++) registry.unsubscribe(i, "t");
    assert.deepEqual(interest.calls, ["+t"]);
    registry.unsubscribe(4, "t");
    assert.deepEqual(interest.calls, ["+t", "-t"]);
    registry.subscribe(9, "t");
    assert.deepEqual(interest.calls, ["+t", "-t", "+t"]);
  });

  it("TopicRegistry unsubscribeAll removes a subscriber from every topic it was in", () => {
    const interest = recorder();
    const registry = new TopicRegistry<string>(interest);
    registry.subscribe("a", "x");
    registry.subscribe("a", "y");
    registry.subscribe("b", "y");
    assert.equal(registry.unsubscribeAll("a"), 2);
    assert.deepEqual(interest.calls, ["+x", "+y", "-x"]);
    assert.equal(registry.isSubscribed("a", "y"), false);
    assert.deepEqual([...registry.subscribers("y")], ["b"]);
    assert.equal(registry.unsubscribeAll("a"), 0);
    assert.equal(registry.unsubscribeAll("never"), 0);
    assert.equal(registry.unsubscribeAll("b"), 1);
    assert.deepEqual(interest.calls, ["+x", "+y", "-x", "-y"]);
    assert.equal(registry.topicCount, 0);
  });

  it("TopicRegistry matches topics exactly: no wildcards, case and unicode form matter", () => {
    const registry = new TopicRegistry<string>();
    registry.subscribe("a", "room/*");
    registry.subscribe("b", "Room");
    registry.subscribe("c", "caf\u00e9");
    registry.subscribe("d", "");
    assert.equal(registry.subscriberCount("room/1"), 0);
    assert.equal(registry.subscriberCount("room"), 0);
    assert.equal(registry.subscriberCount("cafe\u0301"), 0); // the same text, decomposed
    assert.equal(registry.subscriberCount("caf\u00e9"), 1);
    assert.equal(registry.subscriberCount(""), 1);
  });

  it("TopicRegistry rejects a topic that is not a string", () => {
    const registry = new TopicRegistry<string>();
    for (const topic of [undefined, 1, null, Symbol("s")]) {
      assert.throws(
        () => registry.subscribe("a", topic as unknown as string),
        (error) => error instanceof TypeError && /^Cannot subscribe: /.test(error.message),
      );
      assert.throws(() => registry.unsubscribe("a", topic as unknown as string), TypeError);
    }
    assert.equal(registry.topicCount, 0);
  });

  it("TopicRegistry holds objects as subscribers, by identity", () => {
    const registry = new TopicRegistry<{ id: number }>();
    const one = { id: 1 };
    const same = { id: 1 };
    registry.subscribe(one, "t");
    registry.subscribe(same, "t");
    assert.equal(registry.subscriberCount("t"), 2);
    registry.unsubscribeAll(one);
    assert.deepEqual([...registry.subscribers("t")], [same]);
  });

  it("TopicRegistry lets a fan-out remove the subscriber it is visiting", () => {
    const registry = new TopicRegistry<number>();
    for (let i = 0; i < 10; i++) registry.subscribe(i, "t");
    const visited: number[] = [];
    for (const subscriber of registry.subscribers("t")) {
      visited.push(subscriber);
      // An odd subscriber closes during its send and takes the next one with it.
      if (subscriber % 2 === 1) {
        registry.unsubscribeAll(subscriber);
        registry.unsubscribeAll(subscriber + 1);
      }
    }
    assert.deepEqual(visited, [0, 1, 3, 5, 7, 9]);
    assert.deepEqual([...registry.subscribers("t")], [0]);
  });

  it("TopicRegistry agrees with a simple model through random churn", () => {
    const random = new Random(7);
    const interest = recorder();
    const registry = new TopicRegistry<number>(interest);
    const model = new Map<string, Set<number>>();
    const live = new Map<string, number>(); // topic -> +/- balance from the interest calls
    const topics = ["a", "b", "c", "d"];
    for (let step = 0; step < 5000; step++) {
      const subscriber = random.int(0, 3);
      const topic = random.pick(topics);
      const action = random.int(0, 9);
      if (action < 5) {
        const expected = !(model.get(topic)?.has(subscriber) ?? false);
        assert.equal(registry.subscribe(subscriber, topic), expected);
        if (!model.has(topic)) model.set(topic, new Set());
        model.get(topic)!.add(subscriber);
      } else if (action < 9) {
        const expected = model.get(topic)?.has(subscriber) ?? false;
        assert.equal(registry.unsubscribe(subscriber, topic), expected);
        model.get(topic)?.delete(subscriber);
      } else {
        let count = 0;
        for (const members of model.values()) if (members.delete(subscriber)) count++;
        assert.equal(registry.unsubscribeAll(subscriber), count);
      }
      for (const [name, members] of model) if (members.size === 0) model.delete(name);
    }
    for (const call of interest.calls) {
      const topic = call.slice(1);
      live.set(topic, (live.get(topic) ?? 0) + (call[0] === "+" ? 1 : -1));
      assert.ok(live.get(topic) === 0 || live.get(topic) === 1, `"${call}" repeats a transition`);
    }
    for (const topic of topics) {
      const count = model.get(topic)?.size ?? 0;
      assert.equal(registry.subscriberCount(topic), count);
      assert.equal(live.get(topic) ?? 0, count > 0 ? 1 : 0, `interest in "${topic}"`);
    }
    assert.ok(interest.calls.length > 100, "the churn crossed 0 ↔ 1 many times");
  });
});
