/**
 * Publishing to a topic: the message is framed once and the same frame bytes are queued for every
 * subscriber (with permessage-deflate, compressed once per group of subscribers that can share it:
 * see `fanout_deflate.ts`); a subscriber over the publish mark is skipped (a counted drop) or
 * closed with 1008;
 * the message goes to the other instances through the backplane, and what they publish comes back
 * through it to the local subscribers.
 *
 * @module
 */

import { Opcode } from "../protocol/constants.ts";
import { PolicyViolationError } from "../protocol/errors.ts";
import { encodeFrame } from "../protocol/frame_encoder.ts";
import type { Backplane, BackplaneError, Envelope } from "../pubsub/backplane.ts";
import { TopicRegistry } from "../pubsub/topics.ts";
import { DeflatedPublish } from "./fanout_deflate.ts";
import type { FanoutTarget } from "./fanout_target.ts";
import type { Metrics } from "./metrics.ts";

export type { FanoutTarget };

/** What to do with a subscriber whose queue is over the publish mark when a message comes. */
export type SlowSubscriberPolicy = "drop" | "close";

/** Options of {@linkcode Fanout}. */
export interface FanoutOptions<S> {
  /**
   * What happens to a subscriber whose `bufferedAmount` is over `publishMark` at a publish:
   * `"drop"` skips the message for it (counted in `drops` and reported to `onDrop`), `"close"`
   * ends it with 1008. Either way the other subscribers are not slowed.
   * @default "drop"
   */
  slowSubscriber?: SlowSubscriberPolicy;
  /**
   * Bytes queued for a subscriber above which a publish treats it as slow. `maxBufferedAmount`
   * still ends a connection whatever the policy.
   * @default 1 MiB
   */
  publishMark?: number;
  /**
   * Messages larger than this go out as fragments of this size (built once too).
   * @default Infinity
   */
  fragmentSize?: number;
  /**
   * The largest message `publish` accepts (`RangeError` beyond).
   * @default 16 MiB
   */
  maxSendSize?: number;
  /** Carries publishes to and from the other instances; without one, topics are local. */
  backplane?: Backplane;
  /** Where publishes, deliveries, drops and backplane traffic are counted. */
  metrics?: Metrics;
  /** Told of each drop, with the subscriber and the topic. */
  onDrop?: (subscriber: S, topic: string) => void;
  /** Receives the backplane's failures (its `onError` is set to this). */
  onBackplaneError?: (error: BackplaneError) => void;
}

/** Options of one {@linkcode Fanout.publish}. */
export interface PublishOptions<S> {
  /** A subscriber to leave out: `conn.publish` sends to the others. */
  except?: S;
}

const encoder = new TextEncoder();

/**
 * The topics of one server: who subscribes to what, and publishing to them locally and through
 * the backplane.
 *
 * @example Publish to two subscribers, framed once
 * ```ts
 * import { Fanout, type FanoutTarget } from "./fanout.ts";
 * import assert from "node:assert/strict";
 *
 * const queued: (readonly Uint8Array[][])[] = [];
 * const subscriber = (): FanoutTarget => ({
 *   bufferedAmount: 0,
 *   pushFrames: (frames) => (queued.push(frames), true),
 *   closeSlow: () => {},
 * });
 * const fanout = new Fanout<FanoutTarget>();
 * fanout.subscribe(subscriber(), "news");
 * fanout.subscribe(subscriber(), "news");
 * assert.equal(fanout.publish("news", "hello"), 2);
 * assert.equal(queued[0], queued[1]); // the same frames, not copies
 * ```
 */
export class Fanout<S extends FanoutTarget> {
  readonly #registry: TopicRegistry<S>;
  readonly #backplane: Backplane | undefined;
  readonly #metrics: Metrics | undefined;
  readonly #onDrop: ((subscriber: S, topic: string) => void) | undefined;
  readonly #close: boolean;
  readonly #mark: number;
  readonly #fragmentSize: number;
  readonly #maxSendSize: number;

  /** Validates the options; joins the backplane, if one is given. */
  constructor(options: FanoutOptions<S> = {}) {
    this.#mark = positive("publishMark", options.publishMark ?? 1024 * 1024);
    this.#fragmentSize = positive("fragmentSize", options.fragmentSize ?? Infinity);
    this.#maxSendSize = positive("maxSendSize", options.maxSendSize ?? 16 * 1024 * 1024);
    const policy = options.slowSubscriber ?? "drop";
    if (policy !== "drop" && policy !== "close") {
      throw new RangeError(
        `Cannot create fanout: slowSubscriber must be "drop" or "close", not "${policy}"`,
      );
    }
    this.#close = policy === "close";
    this.#backplane = options.backplane;
    this.#metrics = options.metrics;
    this.#onDrop = options.onDrop;
    this.#registry = new TopicRegistry<S>(this.#backplane);
    if (this.#backplane !== undefined) {
      const metrics = this.#metrics;
      const report = options.onBackplaneError;
      if (report !== undefined || metrics !== undefined) {
        const previous = this.#backplane.onError;
        this.#backplane.onError = (error) => {
          metrics?.backplaneFailed();
          (report ?? previous)(error);
        };
      }
      this.#backplane.subscribe((envelope) => this.#receive(envelope));
    }
  }

  /** The registry of subscriptions (for `isSubscribed`, `topicsOf`, `subscriberCount`). */
  get registry(): TopicRegistry<S> {
    return this.#registry;
  }

  /** Adds `subscriber` to `topic`; true if it was not in it already. */
  subscribe(subscriber: S, topic: string): boolean {
    return this.#registry.subscribe(subscriber, topic);
  }

  /** Removes `subscriber` from `topic`; true if it was in it. */
  unsubscribe(subscriber: S, topic: string): boolean {
    return this.#registry.unsubscribe(subscriber, topic);
  }

  /** Removes `subscriber` from every topic: what a server does when a connection closes. */
  unsubscribeAll(subscriber: S): number {
    return this.#registry.unsubscribeAll(subscriber);
  }

  /** Whether `subscriber` is in `topic`. */
  isSubscribed(subscriber: S, topic: string): boolean {
    return this.#registry.isSubscribed(subscriber, topic);
  }

  /** The topics `subscriber` is in (live, read-only). */
  topicsOf(subscriber: S): ReadonlySet<string> {
    return this.#registry.topicsOf(subscriber);
  }

  /** How many local subscribers `topic` has. */
  subscriberCount(topic: string): number {
    return this.#registry.subscriberCount(topic);
  }

  /**
   * Sends `data` (a string as a text message, bytes as a binary one) to every local subscriber of
   * `topic` but `options.except`, and to the other instances through the backplane. Returns how
   * many local subscribers it was queued for: the slow ones skipped or closed are not counted.
   * Throws a `TypeError` for a topic that is not a string, a `RangeError` past `maxSendSize`.
   */
  publish(topic: string, data: string | Uint8Array, options: PublishOptions<S> = {}): number {
    if (typeof topic !== "string") {
      throw new TypeError(`Cannot publish: the topic must be a string, not "${typeof topic}"`);
    }
    const binary = typeof data !== "string";
    const payload = binary ? data : encoder.encode(data);
    if (payload.length > this.#maxSendSize) {
      throw new RangeError(
        `Cannot publish: ${payload.length} bytes exceed maxSendSize of "${this.#maxSendSize}"`,
      );
    }
    const count = this.#fanOut(topic, payload, binary, options.except);
    const backplane = this.#backplane;
    if (backplane !== undefined) {
      this.#metrics?.backplaneSent();
      void backplane.publish({ instance: backplane.instanceId, topic, data: payload, binary });
    }
    return count;
  }

  /** Leaves the backplane (closing it) and forgets every subscription. */
  async close(): Promise<void> {
    await this.#backplane?.close();
  }

  #receive(envelope: Envelope): void {
    this.#metrics?.backplaneReceived();
    this.#fanOut(envelope.topic, envelope.data, envelope.binary, undefined);
  }

  #fanOut(topic: string, payload: Uint8Array, binary: boolean, except: S | undefined): number {
    this.#metrics?.published();
    const subscribers = this.#registry.subscribers(topic);
    if (subscribers.size === 0) return 0;
    if (except !== undefined && subscribers.size === 1 && subscribers.has(except)) return 0;
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const frames = joined(this.#frames(opcode, payload), subscribers);
    const bytes = frameBytes(frames);
    let deflated: DeflatedPublish | undefined;
    let plain = 0;
    let count = 0;
    for (const subscriber of subscribers) {
      if (subscriber === except) continue;
      const queued = subscriber.bufferedAmount;
      if (queued > this.#mark) {
        this.#slow(subscriber, topic, queued);
        continue;
      }
      const deflate = subscriber.deflate;
      if (deflate === undefined) {
        if (subscriber.pushFrames(frames, bytes)) plain++;
        continue;
      }
      deflated ??= new DeflatedPublish({
        opcode,
        payload,
        plain: frames,
        plainBytes: bytes,
        fragmentSize: this.#fragmentSize,
      }, this.#metrics);
      if (deflated.deliver(subscriber, deflate)) count++;
    }
    count += plain;
    const metrics = this.#metrics;
    if (metrics !== undefined) {
      metrics.messageOut(count);
      // The others count their frame bytes as their compression queue hands them on.
      metrics.sent(bytes * plain);
    }
    return count;
  }

  /** The message's frames, built once: RFC 6455 §5.4 fragments past `fragmentSize`. */
  #frames(opcode: number, payload: Uint8Array): Uint8Array[][] {
    const length = payload.length;
    const size = this.#fragmentSize;
    if (length <= size) return [encodeFrame(opcode, payload)];
    const frames: Uint8Array[][] = [];
    for (let offset = 0; offset < length; offset += size) {
      const end = Math.min(offset + size, length);
      frames.push(
        encodeFrame(offset === 0 ? opcode : Opcode.Continuation, payload.subarray(offset, end), {
          fin: end === length,
        }),
      );
    }
    return frames;
  }

  #slow(subscriber: S, topic: string, queued: number): void {
    if (this.#close) {
      subscriber.closeSlow(
        new PolicyViolationError(
          `Cannot publish to "${topic}": ${queued} bytes queued exceed the publish mark of "${this.#mark}"`,
          "SEND_BUFFER_FULL",
        ),
      );
      return;
    }
    this.#metrics?.dropped();
    this.#onDrop?.(subscriber, topic);
  }
}

/** The bytes of a message's frames. */
function frameBytes(frames: readonly Uint8Array[][]): number {
  let bytes = 0;
  for (const frame of frames) for (const buffer of frame) bytes += buffer.length;
  return bytes;
}

/** Frames up to this size (header and payload) are joined into one buffer for many subscribers. */
const JOIN_UP_TO = 64 * 1024;

/**
 * For more than one subscriber, each frame of up to 64 KiB as one buffer, its header and payload
 * joined: copied once per publish, so that a runtime without `writev` (Bun, Deno), which joins a
 * frame's buffers before writing them, does not copy the payload again for every subscriber.
 * Larger payloads stay the caller's bytes, never copied.
 */
function joined(frames: Uint8Array[][], subscribers: ReadonlySet<unknown>): Uint8Array[][] {
  if (subscribers.size < 2) return frames;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    if (frame.length !== 2) continue;
    const [header, payload] = frame as [Uint8Array, Uint8Array];
    const size = header.length + payload.length;
    if (size > JOIN_UP_TO) continue;
    const buffer = new Uint8Array(size);
    buffer.set(header);
    buffer.set(payload, header.length);
    frames[i] = [buffer];
  }
  return frames;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || (!Number.isSafeInteger(value) && value !== Infinity)) {
    throw new RangeError(
      `Cannot create fanout: ${name} must be a positive integer or Infinity, not "${value}"`,
    );
  }
  return value;
}
