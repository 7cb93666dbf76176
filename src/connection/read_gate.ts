/**
 * The reading side of a connection: why it stopped reading from its transport, and when it last
 * heard from the peer. Several reasons to pause can hold at once (the answer to the handshake is
 * not out, the message stream's reader is behind, the peer does not read what is sent to it, the
 * connection is over); reading resumes once none is left.
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
  /**
   * The connection ended: until a look, shortly after, at what the runtime holds, and for good
   * once the peer sent the read budget after the end.
   */
  Closed: 8,
  /** Compressed messages wait for the inflater (permessage-deflate). */
  Inflating: 16,
} as const;

/** Sweeps of silence after which a connection is pinged, and after which it is closed. */
const PING_AFTER_SWEEPS = 4;
const CLOSE_AFTER_SWEEPS = 8;

/** Pauses and resumes a transport by reason, and keeps track of the peer's silence. */
export class ReadGate {
  readonly #transport: Transport;
  #reasons = 0;
  #lastHeard = 0;
  #pinged = false;

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

  /** Bytes arrived at sweep `ticks` (or the connection opened). */
  heard(ticks: number): void {
    this.#lastHeard = ticks;
    this.#pinged = false;
  }

  /**
   * The keepalive verdict at sweep `ticks`: `"ping"` once silent for half of `silenceMax`,
   * `"close"` for all of it. A connection whose message reader paused it counts as heard from.
   */
  silence(ticks: number): "ping" | "close" | undefined {
    if (this.has(PauseReason.Reader)) this.#lastHeard = ticks;
    const silent = ticks - this.#lastHeard;
    if (silent >= CLOSE_AFTER_SWEEPS) return "close";
    if (silent < PING_AFTER_SWEEPS || this.#pinged) return undefined;
    this.#pinged = true;
    return "ping";
  }
}
