/**
 * The listener table of a connection: typed `on`/`off`/`emit`, where nothing a listener throws
 * or rejects with escapes to the code that emitted.
 *
 * @module
 */

import type { HandshakeRequest } from "./handshake_request.ts";

/** A listener of an event whose arguments are `Args`, called with the emitting `Target` first. */
export type Listener<Target, Args extends unknown[]> = (target: Target, ...args: Args) => unknown;

type Table<Target, Events extends { [K in keyof Events]: unknown[] }> = {
  [K in keyof Events]?: Listener<Target, Events[K]>[];
};

/**
 * Listeners by event. Adding and removing copy the list, so an emit in progress keeps calling
 * the listeners it started with.
 *
 * @example Emit an event whose listener throws
 * ```ts
 * import { Listeners } from "./events.ts";
 * import assert from "node:assert/strict";
 *
 * const reported: unknown[] = [];
 * const listeners = new Listeners<string, { text: [string] }>("conn", {
 *   reportError: (error) => reported.push(error),
 * });
 * const seen: string[] = [];
 * listeners.on("text", (target, text) => void seen.push(`${target}:${text}`));
 * listeners.on("text", () => {
 *   throw new Error("boom");
 * });
 * listeners.emit("text", "hi");
 * assert.deepEqual(seen, ["conn:hi"]);
 * assert.equal(reported.length, 1);
 * ```
 */
export class Listeners<Target, Events extends { [K in keyof Events]: unknown[] }> {
  readonly #target: Target;
  readonly #reporter: { reportError(error: unknown): void };
  #table: Table<Target, Events> = {};

  /** A table whose listeners get `target`; what they throw or reject with goes to `reporter`. */
  constructor(target: Target, reporter: { reportError(error: unknown): void }) {
    this.#target = target;
    this.#reporter = reporter;
  }

  /** Adds `listener` for `event`; listeners run in the order they were added. */
  on<K extends keyof Events>(event: K, listener: Listener<Target, Events[K]>): void {
    this.#table[event] = [...(this.#table[event] ?? []), listener];
  }

  /** Removes `listener` from `event`. */
  off<K extends keyof Events>(event: K, listener: Listener<Target, Events[K]>): void {
    this.#table[event] = this.#table[event]?.filter((l) => l !== listener);
  }

  /** The listeners of `event` now; the array is never changed afterwards. */
  of<K extends keyof Events>(event: K): readonly Listener<Target, Events[K]>[] {
    return this.#table[event] ?? [];
  }

  /** Calls every listener of `event`; throws and rejections are reported, not propagated. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const listeners = this.#table[event];
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        const result = listener(this.#target, ...args);
        if (result instanceof Promise) {
          result.catch((error: unknown) => this.#reporter.reportError(error));
        }
      } catch (error) {
        this.#reporter.reportError(error);
      }
    }
  }

  /** Calls the listeners of `event` one after the other, awaiting each; rejects with a throw. */
  async emitInTurn<K extends keyof Events>(event: K, ...args: Events[K]): Promise<void> {
    for (const listener of this.of(event)) await listener(this.#target, ...args);
  }
}

/** How a connection ended: the close code and reason, as `disconnect` reports them. */
export interface CloseInfo {
  /** The close code; 1006 when no close frame was exchanged. */
  code: number;
  /** The close reason. */
  reason: string;
}

/** The events of a `Connection` and the arguments their listeners get after it. */
export interface ConnectionEventMap {
  /** The client's upgrade request arrived: inspect it, choose a subprotocol, or reject it. */
  handshake: [request: HandshakeRequest];
  /** The handshake completed: the connection is open. */
  ready: [];
  /** A text message arrived. */
  text: [text: string];
  /** A binary message arrived. */
  binary: [data: Uint8Array];
  /**
   * A text or binary message arrived, after its `text` or `binary` event: the one listener a
   * `ws` user is used to, `(conn, data, isBinary)`.
   */
  message: [data: string | Uint8Array, isBinary: boolean];
  /** A ping arrived; the pong was already sent. */
  ping: [data: Uint8Array];
  /** A pong arrived. */
  pong: [data: Uint8Array];
  /**
   * The connection ended; fired once for a connection that completed its handshake. `code` is
   * 1006 when no close frame was exchanged.
   */
  disconnect: [code: number, reason: string];
  /** Everything queued was handed to the operating system: `bufferedAmount` is 0 again. */
  drain: [];
}
