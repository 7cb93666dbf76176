/**
 * Keepalive for every connection of a server with one timer: each sweep advances a shared count,
 * and each open connection compares it with the count it saw when bytes last arrived.
 *
 * @module
 */

/** Keepalive sweeps per `silenceMax`: silence is measured to within an eighth of it. */
const SWEEPS_PER_SILENCE = 8;

/** One sweep timer over a set of connections. */
export class KeepAlive {
  /** The sweep count; connections read it when bytes arrive. */
  readonly clock: { ticks: number } = { ticks: 0 };
  readonly #sweep: (ticks: number) => void;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A sweeper that calls `sweep` with the new count every sweep. */
  constructor(sweep: (ticks: number) => void) {
    this.#sweep = sweep;
  }

  /** Starts sweeping for a silence of `silenceMax` seconds; 0 keeps it off. */
  start(silenceMax: number): void {
    if (silenceMax <= 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(
      () => this.#sweep(++this.clock.ticks),
      (silenceMax * 1000) / SWEEPS_PER_SILENCE,
    );
  }

  /** Stops sweeping. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
