/** Stream helpers: feed chunks into a pipeline and collect what comes out. */

/** A readable stream handing out `chunks` one per pull, as a socket would. */
export function readableOf<T>(chunks: Iterable<T>): ReadableStream<T> {
  const iterator = chunks[Symbol.iterator]();
  return new ReadableStream<T>({
    pull(controller) {
      const next = iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  }, { highWaterMark: 0 });
}

/** Everything a stream produced before it ended, and the error it ended with, if any. */
export interface Collected<T> {
  items: T[];
  error: unknown;
  errored: boolean;
}

/**
 * Reads `readable` to its end. `beforeRead` runs before each read (after the first), so a test
 * can act as a slow consumer.
 */
export async function collect<T>(
  readable: ReadableStream<T>,
  beforeRead?: () => Promise<void>,
): Promise<Collected<T>> {
  const reader = readable.getReader();
  const items: T[] = [];
  try {
    for (;;) {
      if (beforeRead !== undefined && items.length > 0) await beforeRead();
      const { done, value } = await reader.read();
      if (done) return { items, error: undefined, errored: false };
      items.push(value);
    }
  } catch (error) {
    return { items, error, errored: true };
  } finally {
    reader.releaseLock();
  }
}

/** Resolves after a macrotask: lets timers and I/O callbacks run. */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
