/**
 * The topic registry: which subscribers listen to which exact-match topic, in both directions,
 * with the 0 ↔ 1 subscriber transitions of every topic reported to a {@linkcode TopicInterest}
 * (a backplane), so that the broker only carries topics somebody here listens to.
 *
 * @module
 */

/**
 * Told when a topic gains its first subscriber and loses its last one. A
 * `Backplane` is one.
 */
export interface TopicInterest {
  /** `topic` went from 0 to 1 subscriber. */
  subscribeTopic(topic: string): void;
  /** `topic` went from 1 to 0 subscribers. */
  unsubscribeTopic(topic: string): void;
}

const EMPTY: ReadonlySet<never> = new Set();

/**
 * Exact-match topics → sets of subscribers, generic over the subscriber (a connection, a test
 * double). Subscribing twice is a no-op; so is unsubscribing from a topic one is not in. A
 * subscriber's entries are all removed by {@linkcode TopicRegistry.unsubscribeAll}, which a
 * server calls when a connection closes.
 *
 * The sets returned by {@linkcode TopicRegistry.subscribers} are live: a subscriber removed while
 * a fan-out iterates the set is not visited after its removal, one added is.
 *
 * @example Follow a room's members and the backplane's interest
 * ```ts
 * import { TopicRegistry } from "@netws/server/pubsub";
 * import assert from "node:assert/strict";
 *
 * const interest: string[] = [];
 * const registry = new TopicRegistry<string>({
 *   subscribeTopic: (topic) => interest.push(`+${topic}`),
 *   unsubscribeTopic: (topic) => interest.push(`-${topic}`),
 * });
 * registry.subscribe("alice", "room");
 * registry.subscribe("bob", "room");
 * assert.equal(registry.subscriberCount("room"), 2);
 * registry.unsubscribe("alice", "room");
 * registry.unsubscribeAll("bob"); // bob disconnected
 * assert.deepEqual(interest, ["+room", "-room"]);
 * ```
 */
export class TopicRegistry<S> {
  #bySubscriber = new Map<S, Set<string>>();
  #byTopic = new Map<string, Set<S>>();
  #interest: TopicInterest | undefined;

  /** `interest`, if given, hears every topic's first subscriber and last unsubscriber. */
  constructor(interest?: TopicInterest) {
    this.#interest = interest;
  }

  /** How many topics have at least one subscriber. */
  get topicCount(): number {
    return this.#byTopic.size;
  }

  /** How many subscribers are in at least one topic. */
  get subscriberTotal(): number {
    return this.#bySubscriber.size;
  }

  /** The topics with at least one subscriber. */
  topics(): IterableIterator<string> {
    return this.#byTopic.keys();
  }

  /** Adds `subscriber` to `topic`; true if it was not in it already. */
  subscribe(subscriber: S, topic: string): boolean {
    checkTopic(topic, "subscribe");
    let topics = this.#bySubscriber.get(subscriber);
    if (topics?.has(topic)) return false;
    if (topics === undefined) this.#bySubscriber.set(subscriber, topics = new Set());
    topics.add(topic);
    const subscribers = this.#byTopic.get(topic);
    if (subscribers !== undefined) {
      subscribers.add(subscriber);
      return true;
    }
    this.#byTopic.set(topic, new Set([subscriber]));
    this.#interest?.subscribeTopic(topic);
    return true;
  }

  /** Removes `subscriber` from `topic`; true if it was in it. */
  unsubscribe(subscriber: S, topic: string): boolean {
    checkTopic(topic, "unsubscribe");
    const topics = this.#bySubscriber.get(subscriber);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this.#bySubscriber.delete(subscriber);
    this.#leave(subscriber, topic);
    return true;
  }

  /** Removes `subscriber` from every topic (on disconnect); returns how many it was in. */
  unsubscribeAll(subscriber: S): number {
    const topics = this.#bySubscriber.get(subscriber);
    if (topics === undefined) return 0;
    this.#bySubscriber.delete(subscriber);
    for (const topic of topics) this.#leave(subscriber, topic);
    return topics.size;
  }

  /** Whether `subscriber` is in `topic`. */
  isSubscribed(subscriber: S, topic: string): boolean {
    return this.#bySubscriber.get(subscriber)?.has(topic) ?? false;
  }

  /** The topics `subscriber` is in (live, read-only; empty if none). */
  topicsOf(subscriber: S): ReadonlySet<string> {
    return this.#bySubscriber.get(subscriber) ?? EMPTY;
  }

  /** The subscribers of `topic` (live, read-only; empty if none). */
  subscribers(topic: string): ReadonlySet<S> {
    return this.#byTopic.get(topic) ?? EMPTY;
  }

  /** How many subscribers `topic` has. */
  subscriberCount(topic: string): number {
    return this.#byTopic.get(topic)?.size ?? 0;
  }

  #leave(subscriber: S, topic: string): void {
    const subscribers = this.#byTopic.get(topic);
    if (subscribers === undefined || !subscribers.delete(subscriber)) return;
    if (subscribers.size > 0) return;
    this.#byTopic.delete(topic);
    this.#interest?.unsubscribeTopic(topic);
  }
}

function checkTopic(topic: unknown, action: string): void {
  if (typeof topic !== "string") {
    throw new TypeError(`Cannot ${action}: the topic must be a string, not "${typeof topic}"`);
  }
}
