/**
 * Topics across processes: the {@linkcode Backplane} contract that drivers implement, the
 * in-process {@linkcode MemoryBackplane}, the binary {@linkcode encodeEnvelope} format for
 * drivers whose broker carries bytes, and the {@linkcode TopicRegistry} that tracks subscribers
 * and tells the backplane which topics are wanted. The Redis driver is on `@netws/server/redis`.
 *
 * @example Two instances on one in-process bus
 * ```ts
 * import { MemoryBackplane, TopicRegistry } from "@netws/server/pubsub";
 * import assert from "node:assert/strict";
 *
 * const bus = MemoryBackplane.bus();
 * const here = new MemoryBackplane({ bus });
 * const there = new MemoryBackplane({ bus });
 * const members = new TopicRegistry<string>(there); // there's 0 ↔ 1 changes reach its backplane
 * const got: string[] = [];
 * there.subscribe((envelope) => {
 *   for (const member of members.subscribers(envelope.topic)) {
 *     got.push(`${member}: ${new TextDecoder().decode(envelope.data)}`);
 *   }
 * });
 * members.subscribe("carol", "lobby");
 *
 * const data = new TextEncoder().encode("hi");
 * await here.publish({ instance: here.instanceId, topic: "lobby", data, binary: false });
 * assert.deepEqual(got, ["carol: hi"]);
 * await Promise.all([here.close(), there.close()]);
 * ```
 *
 * @module
 */

export {
  type Backplane,
  BackplaneError,
  type BackplaneStage,
  type Envelope,
  randomInstanceId,
} from "./backplane.ts";
export {
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
  MAX_ENVELOPE_STRING_BYTES,
} from "./envelope.ts";
export {
  MemoryBackplane,
  type MemoryBackplaneOptions,
  type MemoryBus,
} from "./memory_backplane.ts";
export { type TopicInterest, TopicRegistry } from "./topics.ts";
