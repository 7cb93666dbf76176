/**
 * Size limits and their defaults, checked once at construction.
 *
 * @module
 */

/** Default largest payload of one incoming frame: 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE: number = 16 * 1024 * 1024;
/** Default largest assembled incoming message: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE: number = 16 * 1024 * 1024;
/** Default largest number of frames in one incoming message. */
export const DEFAULT_MAX_FRAGMENTS: number = 16384;

/**
 * Returns `value`, or `fallback` when it is undefined, after checking that it is a positive
 * integer or `Infinity`.
 *
 * @example Check a limit
 * ```ts
 * import { checkLimit } from "@netws/server/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkLimit("maxFrameSize", undefined, 1024), 1024);
 * assert.equal(checkLimit("maxFrameSize", Infinity, 1024), Infinity);
 * assert.throws(() => checkLimit("maxFrameSize", 0, 1024), RangeError);
 * ```
 */
export function checkLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Infinity || (Number.isSafeInteger(value) && value > 0)) return value;
  throw new RangeError(
    `Cannot set ${name}: expected a positive integer or Infinity, got ${String(value)}`,
  );
}
