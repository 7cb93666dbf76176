/**
 * What a connection needs of its server's topics. The server implements {@linkcode TopicHost}
 * with its fan-out; the connection's `subscribe`, `unsubscribe`, `isSubscribed`, `topics` and
 * `publish` call it with their session, which is the {@linkcode TopicSubscriber}.
 *
 * @module
 */

import type { PolicyViolationError } from "../protocol/mod.ts";
import type { CompressionFactory, CompressorOptions } from "./compression.ts";

/**
 * How a subscriber that agreed to permessage-deflate takes a publish: a message under
 * `threshold` goes as the plain frames built once for everyone; a larger one is compressed once
 * for every subscriber of the same `shared.key`, or by the subscriber's own compressor when it
 * keeps its context (`shared` undefined).
 */
export interface SubscriberDeflate {
  /** Messages shorter than this go uncompressed. */
  readonly threshold: number;
  /** For `server_no_context_takeover`: how to compress once for all who share `key`. */
  readonly shared: SharedDeflate | undefined;
}

/** What compressing once for many `server_no_context_takeover` subscribers takes. */
export interface SharedDeflate {
  /** The server's codecs. */
  readonly factory: CompressionFactory;
  /** The agreed window and the zlib settings. */
  readonly options: Omit<CompressorOptions, "noContextTakeover">;
  /** Equal for subscribers whose `options` are equal: a message is compressed once per key. */
  readonly key: string;
}

/** A subscriber as a publish reaches it: a connection's session; `Conn` is its public face. */
export interface TopicSubscriber<Conn> {
  /** The connection. */
  readonly conn: Conn;
  /** Bytes queued for the peer (or waiting to be compressed) and not yet handed to the system. */
  readonly bufferedAmount: number;
  /** permessage-deflate as this connection agreed to it, or `undefined`. */
  readonly deflate: SubscriberDeflate | undefined;
  /**
   * Queues uncompressed data frames built once for many subscribers, as they are, `bytes` in
   * all; false once closing.
   */
  pushFrames(frames: readonly Uint8Array[][], bytes: number): boolean;
  /**
   * Queues a message compressed and framed once for the subscribers of `deflate.shared.key`, in
   * its place once ready; `size` is its uncompressed size. False once closing.
   */
  pushCompressed(frames: Promise<readonly Uint8Array[]>, size: number): boolean;
  /** Sends a message through the subscriber's own compressor; false once closing. */
  pushMessage(opcode: number, payload: Uint8Array): boolean;
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
