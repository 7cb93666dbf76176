/**
 * The backplane contract: how servers in several processes (or machines) share topics. A server
 * delivers a publish to its own subscribers itself, then hands an {@linkcode Envelope} to its
 * backplane, which carries it to every other instance; each of those delivers it to its own
 * subscribers. The local delivery never waits for, or depends on, the backplane.
 *
 * Semantics, for every driver:
 * - **At most once.** An envelope reaches each other instance once or not at all: nothing is
 *   stored, acknowledged or retried. While the broker is unreachable, publishes are lost (and
 *   reported), and an instance that is not subscribed to a topic when an envelope passes never
 *   sees it.
 * - **No echo.** An instance never receives its own envelopes back.
 * - **Order.** Envelopes from one instance on one topic arrive in the order they were published,
 *   as long as the connection to the broker stays up.
 * - **Interest.** The server calls {@linkcode Backplane.subscribeTopic} when a topic gets its first
 *   local subscriber and {@linkcode Backplane.unsubscribeTopic} when it loses its last one, so a
 *   driver only carries topics somebody listens to. Both are idempotent.
 * - **Errors** never throw out of a driver's methods: each is a {@linkcode BackplaneError} with
 *   the stage it happened in, handed to {@linkcode Backplane.onError}.
 *
 * @module
 */

/**
 * One published message, as it travels between instances. `data` holds the payload bytes: the
 * UTF-8 encoding of the text when `binary` is false.
 */
export interface Envelope {
  /** The {@linkcode Backplane.instanceId} of the instance that published it. */
  readonly instance: string;
  /** The topic, matched exactly. */
  readonly topic: string;
  /** The payload; for text, its UTF-8 bytes. */
  readonly data: Uint8Array;
  /** Whether the payload goes out as a binary message (true) or a text message (false). */
  readonly binary: boolean;
}

/** Where a backplane failure happened. */
export type BackplaneStage =
  /** Connecting or reconnecting to the broker. */
  | "connect"
  /** Handing an envelope to the broker; the envelope is lost. */
  | "publish"
  /** Asking the broker for a topic's envelopes. */
  | "subscribe"
  /** Telling the broker a topic is no longer wanted. */
  | "unsubscribe"
  /** Reading an envelope that came from the broker; it is dropped. */
  | "decode"
  /** The `deliver` callback threw for an envelope. */
  | "deliver"
  /** Closing the connections to the broker. */
  | "close";

/**
 * A failure of a backplane, with the {@linkcode BackplaneStage} it happened in, the topic when
 * there is one, and the underlying error as `cause`.
 *
 * @example Tell a lost publish from a bad incoming envelope
 * ```ts
 * import { BackplaneError, decodeEnvelope } from "@netws/server/pubsub";
 * import assert from "node:assert/strict";
 *
 * try {
 *   decodeEnvelope(new Uint8Array([0xff]));
 *   assert.fail("a one-byte envelope must not decode");
 * } catch (error) {
 *   assert.ok(error instanceof BackplaneError);
 *   assert.equal(error.stage, "decode");
 * }
 * ```
 */
export class BackplaneError extends Error {
  /** Where it happened. */
  readonly stage: BackplaneStage;
  /** The topic concerned, if any. */
  readonly topic: string | undefined;

  /** Builds an error of `stage`; `options.cause` is the underlying error. */
  constructor(
    stage: BackplaneStage,
    message: string,
    options: { cause?: unknown; topic?: string } = {},
  ) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = "BackplaneError";
    this.stage = stage;
    this.topic = options.topic;
  }
}

/**
 * Carries envelopes between server instances. {@linkcode MemoryBackplane} is the in-process
 * driver; `@netws/server/redis` has one over Redis pub/sub.
 *
 * @example A driver as a server uses it
 * ```ts
 * import { type Backplane, type Envelope, MemoryBackplane } from "@netws/server/pubsub";
 * import assert from "node:assert/strict";
 *
 * const bus = MemoryBackplane.bus();
 * const a: Backplane = new MemoryBackplane({ bus });
 * const b: Backplane = new MemoryBackplane({ bus });
 * const received: Envelope[] = [];
 * b.subscribe((envelope) => received.push(envelope));
 * b.subscribeTopic("news"); // b's first local subscriber to "news"
 *
 * const data = new TextEncoder().encode("hello");
 * await a.publish({ instance: a.instanceId, topic: "news", data, binary: false });
 * assert.equal(received.length, 1);
 * assert.equal(received[0]!.instance, a.instanceId);
 * await a.close();
 * await b.close();
 * ```
 */
export interface Backplane {
  /** This instance's id, stable for its lifetime and unique among the instances sharing a broker. */
  readonly instanceId: string;
  /**
   * Receives every failure. Servers set it to their own error reporting.
   * @default logs with `console.error`
   */
  onError: (error: BackplaneError) => void;
  /**
   * Hands an envelope to the other instances. Never throws or rejects: a failure goes to
   * {@linkcode Backplane.onError} with stage "publish". The promise, if any, settles once the
   * broker has taken the envelope or it was dropped; a server need not wait for it.
   */
  publish(envelope: Envelope): void | Promise<void>;
  /**
   * Sets the one callback that gets envelopes from other instances, for the topics subscribed
   * with {@linkcode Backplane.subscribeTopic}. A later call replaces it.
   */
  subscribe(deliver: (envelope: Envelope) => void): void;
  /** Starts receiving `topic` (its local subscriber count went 0 → 1). Idempotent. */
  subscribeTopic(topic: string): void;
  /** Stops receiving `topic` (its local subscriber count went 1 → 0). Idempotent. */
  unsubscribeTopic(topic: string): void;
  /** Stops delivering, drops every topic and releases the broker connections it owns. */
  close(): Promise<void>;
}

/**
 * A fresh instance id: 16 hex digits from `crypto.getRandomValues`, so that ids of instances
 * started at the same moment on different machines do not collide.
 *
 * @example Two ids differ
 * ```ts
 * import { randomInstanceId } from "@netws/server/pubsub";
 * import assert from "node:assert/strict";
 *
 * assert.match(randomInstanceId(), /^[0-9a-f]{16}$/);
 * assert.notEqual(randomInstanceId(), randomInstanceId());
 * ```
 */
export function randomInstanceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let id = "";
  for (const byte of bytes) id += byte.toString(16).padStart(2, "0");
  return id;
}

/** The default {@linkcode Backplane.onError}: logs, so that a failure is never silent. */
export function logBackplaneError(error: BackplaneError): void {
  console.error(`netws: backplane error (${error.stage}):`, error);
}

/**
 * Calls `handler` with `error`, never throwing: a throwing handler is logged instead, so that a
 * driver's receive path cannot be broken by it.
 */
export function reportBackplaneError(
  handler: (error: BackplaneError) => void,
  error: BackplaneError,
): void {
  try {
    handler(error);
  } catch (nested) {
    console.error("netws: the backplane's onError threw:", nested);
  }
}
