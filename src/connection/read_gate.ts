/**
 * Why a connection stopped reading from its transport. Several reasons can hold at once (the
 * answer to the handshake is not out, the message stream's reader is behind, the peer does not
 * read what is sent to it, the connection is over); reading resumes once none is left.
 *
 * @module
 */

import type { Transport } from "./transport.ts";

/** The reasons to pause reading. */
export const PauseReason = {
  /** The request head is being answered. */
  Handshake: 1,
  /** The message stream holds as much as it may. */
  Reader: 2,
  /** More is queued for the peer than the high-water mark. */
  Sending: 4,
  /** Our close frame went out and the peer sent more than the read budget after it. */
  Closed: 8,
} as const;

/** Pauses and resumes a transport by reason. */
export class ReadGate {
  readonly #transport: Transport;
  #reasons = 0;

  /** A gate over `transport`, open. */
  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Whether `reason` holds. */
  has(reason: number): boolean {
    return (this.#reasons & reason) !== 0;
  }

  /** Adds a reason; the first one pauses the transport. */
  pause(reason: number): void {
    if (this.#reasons === 0) this.#transport.pause();
    this.#reasons |= reason;
  }

  /** Drops a reason; when none is left the transport resumes. */
  resume(reason: number): void {
    if ((this.#reasons & reason) === 0) return;
    this.#reasons &= ~reason;
    if (this.#reasons === 0) this.#transport.resume();
  }
}
