/**
 * The in-process backplane: instances that share a {@linkcode MemoryBus} exchange envelopes
 * without a broker. Useful for tests and for several servers (workers) in one process.
 *
 * @module
 */

import {
  type Backplane,
  BackplaneError,
  type Envelope,
  logBackplaneError,
  randomInstanceId,
  reportBackplaneError,
} from "./backplane.ts";

/**
 * What instances of {@linkcode MemoryBackplane} share: which instance wants which topic. Made by
 * {@linkcode MemoryBackplane.bus}; its insides are not public.
 */
export interface MemoryBus {
  /** @internal The instances subscribed to each topic. */
  readonly topics: Map<string, Set<MemoryBackplane>>;
}

/** Options of {@linkcode MemoryBackplane}. */
export interface MemoryBackplaneOptions {
  /**
   * The bus to join; instances on the same bus see each other's envelopes.
   * @default a new bus of its own (the instance hears nobody)
   */
  bus?: MemoryBus;
  /**
   * This instance's id; must be unique on the bus.
   * @default {@linkcode randomInstanceId}()
   */
  instanceId?: string;
}

/**
 * A {@linkcode Backplane} within one process. Delivery is asynchronous (a microtask after
 * `publish`), in publish order, with the semantics every driver has: at most once, no echo, only
 * to instances subscribed to the topic when the envelope is delivered. The payload is copied once
 * per publish, so the publisher may reuse its buffer as soon as `publish` returns.
 *
 * @example Two servers' backplanes in one process
 * ```ts
 * import { MemoryBackplane } from "@netws/server/pubsub";
 * import assert from "node:assert/strict";
 *
 * const bus = MemoryBackplane.bus();
 * const a = new MemoryBackplane({ bus, instanceId: "a" });
 * const b = new MemoryBackplane({ bus, instanceId: "b" });
 * const seen: string[] = [];
 * a.subscribe((envelope) => seen.push(`a got ${envelope.topic}`));
 * b.subscribe((envelope) => seen.push(`b got ${envelope.topic}`));
 * a.subscribeTopic("room");
 * b.subscribeTopic("room");
 *
 * await a.publish({ instance: "a", topic: "room", data: new Uint8Array([1]), binary: true });
 * assert.deepEqual(seen, ["b got room"]); // no echo to a
 * await Promise.all([a.close(), b.close()]);
 * ```
 */
export class MemoryBackplane implements Backplane {
  /** A new, empty bus to share between instances. */
  static bus(): MemoryBus {
    return { topics: new Map() };
  }

  readonly instanceId: string;
  onError: (error: BackplaneError) => void = logBackplaneError;
  #bus: MemoryBus;
  #topics = new Set<string>();
  #deliver: ((envelope: Envelope) => void) | undefined;
  #closed = false;

  /** Joins `options.bus`, or a bus of its own. */
  constructor(options: MemoryBackplaneOptions = {}) {
    this.#bus = options.bus ?? MemoryBackplane.bus();
    this.instanceId = options.instanceId ?? randomInstanceId();
    if (this.instanceId === "") {
      throw new RangeError("Cannot create backplane: the instance id is empty");
    }
  }

  /** The topics this instance receives. */
  get topics(): ReadonlySet<string> {
    return this.#topics;
  }

  publish(envelope: Envelope): Promise<void> {
    if (this.#closed) {
      this.#report("publish", "Cannot publish: the backplane is closed", envelope.topic);
      return Promise.resolve();
    }
    // One copy per publish: the caller may reuse its buffer, receivers share this one.
    const copy: Envelope = {
      instance: envelope.instance,
      topic: envelope.topic,
      data: envelope.data.slice(),
      binary: envelope.binary,
    };
    return Promise.resolve().then(() => {
      const receivers = this.#bus.topics.get(copy.topic);
      if (receivers === undefined) return;
      for (const receiver of receivers) {
        if (receiver !== this && receiver.instanceId !== copy.instance) receiver.#receive(copy);
      }
    });
  }

  subscribe(deliver: (envelope: Envelope) => void): void {
    this.#deliver = deliver;
  }

  subscribeTopic(topic: string): void {
    if (this.#closed) {
      this.#report("subscribe", `Cannot subscribe to "${topic}": the backplane is closed`, topic);
      return;
    }
    if (this.#topics.has(topic)) return;
    this.#topics.add(topic);
    let receivers = this.#bus.topics.get(topic);
    if (receivers === undefined) this.#bus.topics.set(topic, receivers = new Set());
    receivers.add(this);
  }

  unsubscribeTopic(topic: string): void {
    if (!this.#topics.delete(topic)) return;
    const receivers = this.#bus.topics.get(topic);
    receivers?.delete(this);
    if (receivers?.size === 0) this.#bus.topics.delete(topic);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      for (const topic of [...this.#topics]) this.unsubscribeTopic(topic);
      this.#closed = true;
      this.#deliver = undefined;
    }
    return Promise.resolve();
  }

  #receive(envelope: Envelope): void {
    const deliver = this.#deliver;
    if (deliver === undefined || !this.#topics.has(envelope.topic)) return;
    try {
      deliver(envelope);
    } catch (cause) {
      this.#report("deliver", "Cannot deliver envelope: the callback threw", envelope.topic, cause);
    }
  }

  #report(
    stage: BackplaneError["stage"],
    message: string,
    topic: string,
    cause?: unknown,
  ): void {
    const options = cause === undefined ? { topic } : { topic, cause };
    reportBackplaneError(this.onError, new BackplaneError(stage, message, options));
  }
}
