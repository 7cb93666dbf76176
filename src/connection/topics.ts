/**
 * What a connection needs of its server's topics. The server implements {@linkcode TopicHost}
 * with its fan-out; the connection's `subscribe`, `unsubscribe`, `isSubscribed`, `topics` and
 * `publish` call it with their session, which is the {@linkcode TopicSubscriber}.
 *
 * @module
 */

import type { PolicyViolationError } from "../protocol/mod.ts";

/** A subscriber as a publish reaches it: a connection's session; `Conn` is its public face. */
export interface TopicSubscriber<Conn> {
  /** The connection. */
  readonly conn: Conn;
  /** Bytes queued for the peer and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** Queues data frames built once for many subscribers, as they are; false once closing. */
  pushFrames(frames: readonly Uint8Array[][]): boolean;
  /** Fails the connection with `error` (1008) for falling too far behind. */
  closeSlow(error: PolicyViolationError): void;
}

/** The server's topics, as a connection uses them. */
export interface TopicHost<Conn> {
  /** Adds `subscriber` to `topic`; true if it was not in it already. */
  subscribe(subscriber: TopicSubscriber<Conn>, topic: string): boolean;
  /** Removes `subscriber` from `topic`; true if it was in it. */
  unsubscribe(subscriber: TopicSubscriber<Conn>, topic: string): boolean;
  /** Whether `subscriber` is in `topic`. */
  isSubscribed(subscriber: TopicSubscriber<Conn>, topic: string): boolean;
  /** The topics `subscriber` is in. */
  topicsOf(subscriber: TopicSubscriber<Conn>): ReadonlySet<string>;
  /** Publishes to `topic` but `options.except`; returns how many subscribers here got it. */
  publish(
    topic: string,
    data: string | Uint8Array,
    options: { except?: TopicSubscriber<Conn> },
  ): number;
}
