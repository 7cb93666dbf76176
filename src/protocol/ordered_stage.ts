/**
 * A stream stage whose error comes after everything it produced before the error.
 *
 * A `TransformStream` that calls `controller.error()` discards what still waits on its readable
 * side, and an upstream abort errors it at once: a violation overtakes the items completed before
 * it. Here the readable side is a pull source over a queue of our own; an error, from this stage
 * or from upstream, waits at the end of that queue until a reader pulls past the last item. No
 * timers are involved.
 *
 * @module
 */

/** What a stage does with its input. */
export interface StageSteps<I, O> {
  /** Handles one chunk, passing each output to `emit`; throws at a violation. */
  write(chunk: I, emit: (item: O) => void): void;
  /** Called when the input ended; throws if it ended too early. */
  end(): void;
}

/**
 * Builds the two sides of a stage. `writableStrategy` goes to the writable side as in a
 * `TransformStream`; `readableStrategy` sets how many outputs (by its `size`) may wait before
 * the writable side applies backpressure, beyond those a waiting reader was handed.
 */
export function orderedStage<I, O>(
  steps: StageSteps<I, O>,
  writableStrategy?: QueuingStrategy<I>,
  readableStrategy?: QueuingStrategy<O>,
): { readable: ReadableStream<O>; writable: WritableStream<I> } {
  return new Stage(steps, writableStrategy, readableStrategy);
}

class Stage<I, O> {
  readonly readable: ReadableStream<O>;
  readonly writable: WritableStream<I>;
  readonly #steps: StageSteps<I, O>;
  readonly #highWaterMark: number;
  readonly #size: ((item: O) => number) | undefined;

  // Outputs not yet handed to the readable side, and their total size.
  #queue: O[] = [];
  #queued = 0;
  // The first failure (this stage's, or upstream's through abort), delivered after the queue.
  #failed = false;
  #error: unknown;
  #ended = false;
  #readableController: ReadableStreamDefaultController<O> | undefined;
  #writableController: WritableStreamDefaultController | undefined;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  readonly #emit = (item: O): void => {
    this.#queue.push(item);
    this.#queued += this.#size === undefined ? 1 : this.#size(item);
  };

  constructor(
    steps: StageSteps<I, O>,
    writableStrategy: QueuingStrategy<I> | undefined,
    readableStrategy: QueuingStrategy<O> | undefined,
  ) {
    this.#steps = steps;
    const highWaterMark = readableStrategy?.highWaterMark ?? 0;
    if (typeof highWaterMark !== "number" || !(highWaterMark >= 0)) {
      throw new RangeError(
        `Cannot create stream: highWaterMark must be a non-negative number, got ${
          String(highWaterMark)
        }`,
      );
    }
    this.#highWaterMark = highWaterMark;
    this.#size = readableStrategy?.size;
    // With a high-water mark of 0 the readable side pulls only when its queue is empty.
    this.readable = new ReadableStream<O>({
      start: (controller) => void (this.#readableController = controller),
      pull: (controller) => this.#pull(controller),
      cancel: (reason) => this.#cancel(reason),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<I>({
      start: (controller) => void (this.#writableController = controller),
      write: (chunk) => this.#write(chunk),
      close: () => this.#close(),
      abort: (reason) => this.#fail(reason),
    }, writableStrategy);
  }

  #write(chunk: I): Promise<void> | undefined {
    try {
      this.#steps.write(chunk, this.#emit);
    } catch (error) {
      this.#fail(error);
      throw error;
    }
    this.#notifyReader();
    if (this.#hasRoom()) return undefined;
    return new Promise((resolve) => void (this.#wakeWriter = resolve));
  }

  #close(): void {
    try {
      this.#steps.end();
    } catch (error) {
      this.#fail(error);
      throw error;
    }
    this.#ended = true;
    this.#notifyReader();
  }

  /** Records the first failure; it is delivered once the queue before it was read. */
  #fail(error: unknown): void {
    if (!this.#failed) {
      this.#failed = true;
      this.#error = error;
    }
    this.#notifyReader();
  }

  #hasRoom(): boolean {
    return this.#queued === 0 || this.#queued < this.#highWaterMark;
  }

  /** A reader waits: hand it the next item, or hold the pull until something is due. */
  #pull(controller: ReadableStreamDefaultController<O>): Promise<void> | undefined {
    if (this.#deliver(controller)) return undefined;
    return new Promise<void>((resolve) => void (this.#wakeReader = resolve));
  }

  /**
   * Hands every queued item on, or else closes or errors the readable side; false if nothing is
   * due. Called only while a pull is due: with a high-water mark of 0 the readable side pulls
   * only when its own queue is empty and a reader waits, so erroring it then discards nothing.
   */
  #deliver(controller: ReadableStreamDefaultController<O>): boolean {
    const queue = this.#queue;
    if (queue.length > 0) {
      this.#queue = [];
      this.#queued = 0;
      for (let i = 0; i < queue.length; i++) controller.enqueue(queue[i]!);
      const wake = this.#wakeWriter;
      if (wake !== undefined) {
        this.#wakeWriter = undefined;
        wake();
      }
      return true;
    }
    if (this.#failed) {
      controller.error(this.#error);
      return true;
    }
    if (this.#ended) {
      controller.close();
      return true;
    }
    return false;
  }

  /** Serves a held pull at once, in the writer's turn, as a `TransformStream` would. */
  #notifyReader(): void {
    const wake = this.#wakeReader;
    if (wake === undefined || !this.#deliver(this.#readableController!)) return;
    this.#wakeReader = undefined;
    wake();
  }

  /** The reader cancelled: drop the queue and error the writable side, so upstream stops. */
  #cancel(reason: unknown): void {
    this.#queue = [];
    this.#queued = 0;
    this.#writableController?.error(reason);
    const wake = this.#wakeWriter;
    this.#wakeWriter = undefined;
    wake?.();
  }
}
