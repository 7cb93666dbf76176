/**
 * What the zlib deflater and inflater share.
 *
 * @module
 */

/** RFC 7692 §7.2.1: the end of a sync flush, removed before sending and restored on receipt. */
export const TAIL: Uint8Array = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** The error of a call on a closed codec. */
export function closed(action: "compress" | "inflate"): Error {
  return new Error(`Cannot ${action} message: the codec is closed`);
}

/**
 * One connection's codec jobs, run one at a time in call order. `idle` says whether none waits or
 * runs, so that a result made synchronously cannot overtake an earlier message.
 *
 * @example Jobs finish in the order they were given
 * ```ts
 * import { InOrder } from "./shared.ts";
 * import assert from "node:assert/strict";
 *
 * const jobs = new InOrder();
 * const done: number[] = [];
 * const slow = jobs.run(() => new Promise<void>((resolve) => setTimeout(resolve, 10)).then(() => done.push(1)));
 * const fast = jobs.run(() => done.push(2));
 * assert.equal(jobs.idle, false);
 * await Promise.all([slow, fast]);
 * assert.deepEqual(done, [1, 2]);
 * assert.equal(jobs.idle, true);
 * ```
 */
export class InOrder {
  #last: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** Whether no job waits or runs. */
  get idle(): boolean {
    return this.#pending === 0;
  }

  /** Runs `job` once every job given before it settled; its result or error is the caller's. */
  run<T>(job: () => T | Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#last.then(job);
    this.#last = result.then(this.#settled, this.#settled); // keeps neither result nor error
    return result;
  }

  readonly #settled = (): void => {
    this.#pending--;
  };
}
