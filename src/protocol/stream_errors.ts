/**
 * Erroring a transform stream without losing what it already produced.
 *
 * @module
 */

/** Longest pause between two looks at the readable side's queue. */
const MAX_POLL_MS = 100;

/**
 * Errors a transform stream once everything already enqueued on its readable side was read.
 *
 * Erroring a readable stream discards its queue, so items completed before a violation would
 * be lost. This waits until the queue is empty (or the stream was cancelled) and then rejects,
 * which errors the stream. Used on the error path only, so the polling costs nothing otherwise.
 */
export async function errorAfterDelivery(
  controller: TransformStreamDefaultController<unknown>,
  error: unknown,
): Promise<never> {
  let pause = 1;
  // desiredSize is negative while items wait in the queue (the readable side's high-water mark
  // is 0) and null once the stream errored or was cancelled.
  while (controller.desiredSize !== null && controller.desiredSize < 0) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, MAX_POLL_MS);
  }
  throw error;
}
