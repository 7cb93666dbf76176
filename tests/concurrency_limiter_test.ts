import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConcurrencyLimiter } from "../src/connection/concurrency_limiter.ts";

/** A task that can be finished from outside. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("ConcurrencyLimiter", () => {
  it("ConcurrencyLimiter runs at most its limit at once and the rest in order", async () => {
    const limiter = new ConcurrencyLimiter(2);
    const gates = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    const results = gates.map((gate, i) =>
      limiter.run(async () => {
        started.push(i);
        await gate.promise;
        return i * 10;
      })
    );
    await tick();
    assert.deepEqual(started, [0, 1]);
    assert.equal(limiter.active, 2);
    assert.equal(limiter.pending, 3);
    gates[1]!.resolve();
    await tick();
    assert.deepEqual(started, [0, 1, 2]);
    // A task started directly while one waits would overtake it: none may.
    const late = limiter.run(() => Promise.resolve(99));
    assert.equal(limiter.pending, 3);
    for (const gate of gates) gate.resolve();
    assert.deepEqual(await Promise.all(results), [0, 10, 20, 30, 40]);
    assert.equal(await late, 99);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(limiter.active, 0);
    assert.equal(limiter.pending, 0);
  });

  it("ConcurrencyLimiter frees the place of a task that fails or throws synchronously", async () => {
    const limiter = new ConcurrencyLimiter(1);
    await assert.rejects(limiter.run(() => Promise.reject(new Error("async"))), /async/);
    await assert.rejects(
      limiter.run(() => {
        throw new Error("sync");
      }),
      /sync/,
    );
    assert.equal(await limiter.run(() => Promise.resolve("next")), "next");
    assert.equal(limiter.active, 0);
  });

  it("ConcurrencyLimiter never exceeds its limit under many tasks", async () => {
    const limiter = new ConcurrencyLimiter(3);
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) =>
        limiter.run(async () => {
          most = Math.max(most, ++running);
          if (i % 7 === 0) await tick();
          else await Promise.resolve();
          running--;
        })),
    );
    assert.equal(most, 3);
    assert.equal(limiter.pending, 0);
  });

  it("ConcurrencyLimiter rejects a limit that is not a positive integer or Infinity", () => {
    for (const bad of [0, -1, 1.5, NaN]) {
      assert.throws(() => new ConcurrencyLimiter(bad), RangeError);
    }
    assert.equal(new ConcurrencyLimiter(Infinity).active, 0);
  });
});
