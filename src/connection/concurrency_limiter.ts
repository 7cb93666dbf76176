/**
 * A first-in, first-out limit on asynchronous operations in flight, such as the zlib work of a
 * server's connections.
 *
 * @module
 */

/**
 * Runs at most `limit` tasks at once; the rest wait in order. One per server keeps many
 * compressed connections from taking every thread of the runtime's pool (ws uses 10).
 *
 * @example Let two tasks run at once
 * ```ts
 * import { ConcurrencyLimiter } from "@netws/server/compression";
 * import assert from "node:assert/strict";
 *
 * const limiter = new ConcurrencyLimiter(2);
 * let running = 0;
 * let most = 0;
 * const task = async () => {
 *   most = Math.max(most, ++running);
 *   await new Promise((resolve) => setTimeout(resolve, 1));
 *   running--;
 * };
 * await Promise.all([1, 2, 3, 4, 5].map(() => limiter.run(task)));
 * assert.equal(most, 2);
 * ```
 */
export class ConcurrencyLimiter {
  readonly #limit: number;
  readonly #waiting: Array<() => void> = [];
  #head = 0;
  #active = 0;

  /** Creates a limiter; throws a `RangeError` unless `limit` is a positive integer or Infinity. */
  constructor(limit: number) {
    if (limit !== Infinity && !(Number.isSafeInteger(limit) && limit > 0)) {
      throw new RangeError(
        `Cannot create limiter: expected a positive integer or Infinity, got ${String(limit)}`,
      );
    }
    this.#limit = limit;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a free place. */
  get pending(): number {
    return this.#waiting.length - this.#head;
  }

  /**
   * Runs `task` once fewer than `limit` tasks run, and settles as it does. A task that throws
   * synchronously rejects the returned promise and frees its place.
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active < this.#limit) {
      this.#active++;
      return this.#execute(task);
    }
    // A finishing task hands its place straight to the next one, so none can slip in between.
    return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() =>
      this.#execute(task)
    );
  }

  async #execute<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    if (this.#head === this.#waiting.length) {
      this.#active--;
      return;
    }
    const wake = this.#waiting[this.#head]!;
    this.#waiting[this.#head++] = noop;
    // Compact now and then so that a long queue does not grow forever.
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#head);
      this.#head = 0;
    }
    wake();
  }
}

function noop(): void {}
