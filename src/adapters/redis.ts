/**
 * A {@linkcode Backplane} over Redis pub/sub, on the `ioredis` client (an optional peer
 * dependency of the npm package: install it to use this module).
 *
 * Each topic is one Redis channel, named `prefix + topic` (`netws:room` for the topic `room` with
 * the default prefix). A channel is subscribed when the topic gets its first local subscriber and
 * dropped when it loses its last one, so Redis only sends an instance the topics it has
 * subscribers for. Messages are envelopes in the binary format of `@netws/server/pubsub`'s
 * `encodeEnvelope`: any program that writes that format with `PUBLISH` reaches the subscribers.
 *
 * Pub/sub needs a connection of its own for subscribing: the driver uses two, a publisher and a
 * subscriber. After a connection loss `ioredis` reconnects by itself, and the driver subscribes
 * every wanted channel again; envelopes published while Redis was unreachable are lost (at most
 * once), and publishes waiting for Redis are bounded by `maxPendingBytes`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import {
  type Backplane,
  BackplaneError,
  type BackplaneStage,
  type Envelope,
  logBackplaneError,
  randomInstanceId,
  reportBackplaneError,
} from "../pubsub/backplane.ts";
import { decodeEnvelope, encodeEnvelope } from "../pubsub/envelope.ts";

/** Options of {@linkcode RedisBackplane}. */
export interface RedisBackplaneOptions {
  /**
   * Where Redis is, for the connections the driver opens itself (ignored when both `publisher`
   * and `subscriber` are given).
   * @default "redis://127.0.0.1:6379"
   */
  url?: string;
  /**
   * Your client for `PUBLISH`; it may be shared with the rest of the application. The driver
   * does not close it. Keep `ioredis`'s default offline queue so that publishes made while it
   * reconnects are sent once it is back.
   * @default a client on `url`, closed by {@linkcode RedisBackplane.close}
   */
  publisher?: Redis;
  /**
   * Your dedicated subscriber connection: in Redis pub/sub it can run no other command, so do not
   * share it. The driver does not close it, but unsubscribes its channels on close.
   * @default `publisher.duplicate()` when `publisher` is given, else a client on `url`; closed by
   * {@linkcode RedisBackplane.close}
   */
  subscriber?: Redis;
  /**
   * Prepended to each topic to name its channel; give deployments that share a Redis their own.
   * @default "netws:"
   */
  prefix?: string;
  /**
   * This instance's id; must be unique among the instances sharing the channels.
   * @default a random 16-hex-digit id
   */
  instanceId?: string;
  /**
   * Encoded bytes of publishes handed to the client and not yet acknowledged by Redis. Beyond it
   * a publish is dropped (reported with stage "publish"), so that an outage costs bounded memory.
   * @default 16 MiB
   */
  maxPendingBytes?: number;
  /**
   * How long {@linkcode RedisBackplane.close} waits for an orderly `QUIT` of the connections it
   * owns before it drops them.
   * @default 1000
   */
  closeTimeoutMs?: number;
}

/**
 * The Redis {@linkcode Backplane}. See the module documentation for channel names and semantics.
 *
 * @example Create a backplane and name a topic's channel
 * ```ts
 * import { RedisBackplane } from "@netws/server/redis";
 * import assert from "node:assert/strict";
 *
 * // Connects in the background; with no Redis there it keeps retrying until closed.
 * const backplane = new RedisBackplane({ url: "redis://127.0.0.1:1", prefix: "chat:" });
 * backplane.onError = () => {}; // no Redis on port 1 in this example
 * assert.equal(backplane.channelFor("lobby"), "chat:lobby");
 * await backplane.close();
 * ```
 */
export class RedisBackplane implements Backplane {
  readonly instanceId: string;
  /** The channel prefix. */
  readonly prefix: string;
  onError: (error: BackplaneError) => void = logBackplaneError;
  #publisher: Redis;
  #subscriber: Redis;
  #ownsPublisher: boolean;
  #ownsSubscriber: boolean;
  #wanted = new Set<string>();
  #deliver: ((envelope: Envelope) => void) | undefined;
  #pendingBytes = 0;
  #maxPendingBytes: number;
  #closeTimeoutMs: number;
  #lastSubscription: Promise<void> = Promise.resolve();
  #closed: Promise<void> | undefined;
  #onMessage = (channel: Buffer, message: Buffer) => this.#receive(channel, message);
  #onReady = () => this.#resubscribe();
  #onPublisherError = (error: unknown) => this.#report("connect", "publisher", undefined, error);
  #onSubscriberError = (error: unknown) => this.#report("connect", "subscriber", undefined, error);

  /** Opens (or adopts) the two connections; see {@linkcode RedisBackplaneOptions}. */
  constructor(options: RedisBackplaneOptions = {}) {
    this.instanceId = options.instanceId ?? randomInstanceId();
    this.prefix = options.prefix ?? "netws:";
    this.#maxPendingBytes = options.maxPendingBytes ?? 16 * 1024 * 1024;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 1000;
    if (this.instanceId === "") {
      throw new RangeError("Cannot create backplane: the instance id is empty");
    }
    for (
      const [name, value] of [
        ["maxPendingBytes", this.#maxPendingBytes],
        ["closeTimeoutMs", this.#closeTimeoutMs],
      ] as const
    ) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(
          `Cannot create backplane: ${name} must be a non-negative integer, not "${value}"`,
        );
      }
    }
    const url = options.url ?? "redis://127.0.0.1:6379";
    this.#ownsPublisher = options.publisher === undefined;
    this.#publisher = options.publisher ?? new Redis(url);
    this.#ownsSubscriber = options.subscriber === undefined;
    this.#subscriber = options.subscriber ??
      (options.publisher === undefined ? new Redis(url) : options.publisher.duplicate());
    this.#publisher.on("error", this.#onPublisherError);
    this.#subscriber.on("error", this.#onSubscriberError);
    this.#subscriber.on("messageBuffer", this.#onMessage);
    this.#subscriber.on("ready", this.#onReady);
  }

  /** The Redis channel that carries `topic`. */
  channelFor(topic: string): string {
    return this.prefix + topic;
  }

  /** The topics this instance has asked Redis for. */
  get topics(): ReadonlySet<string> {
    return this.#wanted;
  }

  /** Encoded bytes handed to Redis and not yet acknowledged. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Resolves once Redis has answered every `SUBSCRIBE` and `UNSUBSCRIBE` asked for so far (those
   * that failed have been reported), such as before telling a client it has joined a room.
   */
  subscriptionsSettled(): Promise<void> {
    return this.#lastSubscription;
  }

  publish(envelope: Envelope): Promise<void> {
    const topic = envelope.topic;
    if (this.#closed !== undefined) {
      this.#report("publish", "publish", topic, "the backplane is closed");
      return Promise.resolve();
    }
    let encoded: Uint8Array;
    try {
      encoded = encodeEnvelope(envelope);
    } catch (error) {
      this.#report("publish", "publish", topic, error);
      return Promise.resolve();
    }
    const size = encoded.length;
    if (this.#pendingBytes + size > this.#maxPendingBytes) {
      this.#report(
        "publish",
        "publish",
        topic,
        `${this.#pendingBytes} bytes are waiting for Redis, and "${size}" more would pass maxPendingBytes "${this.#maxPendingBytes}"`,
      );
      return Promise.resolve();
    }
    this.#pendingBytes += size;
    // ioredis sends a Buffer as it is; any other Uint8Array would be turned into a string.
    const payload = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    return this.#publisher.publish(this.channelFor(topic), payload).then(
      () => {
        this.#pendingBytes -= size;
      },
      (error: unknown) => {
        this.#pendingBytes -= size;
        this.#report("publish", "publish", topic, error);
      },
    );
  }

  subscribe(deliver: (envelope: Envelope) => void): void {
    this.#deliver = deliver;
  }

  subscribeTopic(topic: string): void {
    if (this.#closed !== undefined) {
      this.#report("subscribe", "subscribe", topic, "the backplane is closed");
      return;
    }
    if (this.#wanted.has(topic)) return;
    this.#wanted.add(topic);
    this.#track("subscribe", topic, this.#subscriber.subscribe(this.channelFor(topic)));
  }

  unsubscribeTopic(topic: string): void {
    if (this.#closed !== undefined || !this.#wanted.delete(topic)) return;
    this.#track("unsubscribe", topic, this.#subscriber.unsubscribe(this.channelFor(topic)));
  }

  /**
   * Stops delivering and drops every channel. Connections the driver opened are closed (an
   * orderly `QUIT`, which sends the publishes still queued, within `closeTimeoutMs`); yours are
   * left open, unsubscribed from this instance's channels.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#deliver = undefined;
    this.#subscriber.off("messageBuffer", this.#onMessage);
    this.#subscriber.off("ready", this.#onReady);
    const channels = [...this.#wanted].map((topic) => this.channelFor(topic));
    this.#wanted.clear();
    const steps: Promise<void>[] = [];
    if (this.#ownsSubscriber) steps.push(this.#quit(this.#subscriber));
    else if (channels.length > 0) {
      steps.push(
        this.#subscriber.unsubscribe(...channels).then(
          () => {},
          (error: unknown) => this.#report("close", "unsubscribe", undefined, error),
        ),
      );
    }
    if (this.#ownsPublisher) steps.push(this.#quit(this.#publisher));
    await Promise.all(steps);
    // Errors of a closed client (its retries, a rejected queued command) are no longer news.
    this.#publisher.off("error", this.#onPublisherError);
    this.#subscriber.off("error", this.#onSubscriberError);
  }

  /** QUIT when connected (flushes what is queued), bounded in time; otherwise disconnect. */
  async #quit(client: Redis): Promise<void> {
    // A client that gives up (retries off) emits errors after close: keep them from going
    // unhandled.
    client.on("error", () => {});
    if (client.status !== "ready") {
      client.disconnect();
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#closeTimeoutMs);
    });
    try {
      const result = await Promise.race([client.quit().then(() => "quit" as const), timeout]);
      if (result === "timeout") client.disconnect();
    } catch {
      client.disconnect();
    } finally {
      clearTimeout(timer);
    }
  }

  #receive(channel: Buffer, message: Buffer): void {
    const deliver = this.#deliver;
    if (deliver === undefined) return;
    let envelope: Envelope;
    try {
      // A plain Uint8Array view of the same bytes: the core sees no Buffer, and nothing is copied.
      envelope = decodeEnvelope(
        new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
      );
    } catch (error) {
      reportBackplaneError(
        this.onError,
        error instanceof BackplaneError ? error : new BackplaneError("decode", String(error)),
      );
      return;
    }
    // No echo: Redis sends this instance's own publishes back on its subscribed channels.
    if (envelope.instance === this.instanceId) return;
    // An envelope must travel on its topic's channel, or it would reach topics nobody asked for.
    const name = channel.toString();
    if (name !== this.channelFor(envelope.topic)) {
      this.#report(
        "decode",
        "decode envelope",
        envelope.topic,
        `it came on channel "${name}", not "${this.channelFor(envelope.topic)}"`,
      );
      return;
    }
    // One in flight when its topic was dropped.
    if (!this.#wanted.has(envelope.topic)) return;
    try {
      deliver(envelope);
    } catch (error) {
      this.#report("deliver", "deliver envelope", envelope.topic, error);
    }
  }

  /** After a (re)connection: ask again for every wanted channel (idempotent in Redis). */
  #resubscribe(): void {
    if (this.#wanted.size === 0) return;
    const channels = [...this.#wanted].map((topic) => this.channelFor(topic));
    this.#track("subscribe", undefined, this.#subscriber.subscribe(...channels));
  }

  #track(stage: BackplaneStage, topic: string | undefined, command: Promise<unknown>): void {
    const settled = command.then(
      () => {},
      (error: unknown) => {
        if (this.#closed === undefined) this.#report(stage, stage, topic, error);
      },
    );
    this.#lastSubscription = settled;
  }

  #report(stage: BackplaneStage, action: string, topic: string | undefined, why: unknown): void {
    const what = topic === undefined ? action : `${action} "${topic}"`;
    const reason = typeof why === "string" ? why : why instanceof Error ? why.message : String(why);
    const message = stage === "connect"
      ? `Cannot connect the ${action} to Redis: ${reason}`
      : `Cannot ${what}: ${reason}`;
    const options: { cause?: unknown; topic?: string } = {};
    if (typeof why !== "string") options.cause = why;
    if (topic !== undefined) options.topic = topic;
    reportBackplaneError(this.onError, new BackplaneError(stage, message, options));
  }
}
