/**
 * The WebSocket server: listens through the runtime's adapter and runs a {@linkcode Connection}
 * for every client.
 *
 * @module
 */

import { detectListen } from "../adapters/detect.ts";
import type {
  Listen,
  Listener,
  TlsOptions,
  Transport,
  TransportSink,
} from "../connection/transport.ts";
import { type ByteConnection, toByteConnection } from "../connection/byte_connection.ts";
import { CloseCode } from "../protocol/constants.ts";
import { Connection, type ConnectionSettings } from "../connection/connection.ts";
import type { ParsedRequest } from "../handshake/handshake.ts";
import {
  checkLimit,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "../protocol/limits.ts";

/** Default largest outgoing message: 16 MiB. */
export const DEFAULT_MAX_SEND_SIZE: number = 16 * 1024 * 1024;
/** Default largest request head: 16 KiB. */
export const DEFAULT_MAX_HEADER_SIZE: number = 16 * 1024;
/** Default largest amount queued for a peer that does not read: 16 MiB. */
export const DEFAULT_MAX_BUFFERED_AMOUNT: number = 16 * 1024 * 1024;

/**
 * The default of every numeric and boolean option of {@linkcode serve}. Times are in seconds,
 * sizes in bytes.
 *
 * @example Read a default
 * ```ts
 * import { DEFAULTS } from "@netws/server";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULTS.maxMessageSize, 16 * 1024 * 1024);
 * ```
 */
export const DEFAULTS: {
  readonly port: number;
  readonly hostname: string;
  readonly noDelay: boolean;
  readonly maxFrameSize: number;
  readonly maxFragments: number;
  readonly maxMessageSize: number;
  readonly maxSendSize: number;
  readonly maxHeaderSize: number;
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly silenceMax: number;
  readonly tickPeriod: number;
  readonly maxBufferedAmount: number;
  readonly fragmentSize: number;
} = Object.freeze({
  port: 8080,
  hostname: "0.0.0.0",
  noDelay: true,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  maxFragments: DEFAULT_MAX_FRAGMENTS,
  maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  maxSendSize: DEFAULT_MAX_SEND_SIZE,
  maxHeaderSize: DEFAULT_MAX_HEADER_SIZE,
  handshakeTimeout: 10,
  closeTimeout: 5,
  silenceMax: 20,
  tickPeriod: 0,
  maxBufferedAmount: DEFAULT_MAX_BUFFERED_AMOUNT,
  fragmentSize: Infinity,
});

/** Keepalive sweeps per `silenceMax`: silence is measured to within an eighth of it. */
const SWEEPS_PER_SILENCE = 8;

/** Options of {@linkcode serve}. Times are in seconds. */
export interface ServeOptions {
  /**
   * The port to listen on; 0 picks a free one (read it from {@linkcode Server.port}).
   *
   * @default {8080}
   */
  port?: number | undefined;
  /**
   * The address to bind.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string | undefined;
  /**
   * Serve `wss://`: PEM certificate chain and key.
   *
   * @default {undefined} plain TCP
   */
  tls?: TlsOptions | undefined;
  /**
   * Disable Nagle's algorithm, so small messages leave at once (Perl's `nodelay`).
   *
   * @default {true}
   */
  noDelay?: boolean | undefined;
  /**
   * Largest payload of one incoming frame, in bytes, or `Infinity` (Perl's `max_recv_size`).
   *
   * @default {16777216}
   */
  maxFrameSize?: number | undefined;
  /**
   * Most frames in one incoming message, or `Infinity` (Perl's `max_fragments`).
   *
   * @default {16384}
   */
  maxFragments?: number | undefined;
  /**
   * Largest assembled incoming message, in bytes, or `Infinity` (Perl's `max_mess_size`).
   *
   * @default {16777216}
   */
  maxMessageSize?: number | undefined;
  /**
   * Largest outgoing message, in bytes, or `Infinity` (Perl's `max_send_size`).
   *
   * @default {16777216}
   */
  maxSendSize?: number | undefined;
  /**
   * Largest request head, in bytes; a longer one is answered with 431.
   *
   * @default {16384}
   */
  maxHeaderSize?: number | undefined;
  /**
   * Seconds a client has to complete its handshake before it is dropped.
   *
   * @default {10}
   */
  handshakeTimeout?: number | undefined;
  /**
   * Seconds to wait for the peer's close frame, and for queued bytes to leave, when closing.
   *
   * @default {5}
   */
  closeTimeout?: number | undefined;
  /**
   * Seconds of silence after which a connection is closed with 1001; it is pinged after half of
   * that (Perl's `silence_max`). 0 turns keepalive off. One timer serves every connection.
   *
   * @default {20}
   */
  silenceMax?: number | undefined;
  /**
   * Seconds between two calls of `onTick` (Perl's `tick_period`), kept free of drift. 0 turns
   * ticking off.
   *
   * @default {0}
   */
  tickPeriod?: number | undefined;
  /** Called every `tickPeriod` seconds (Perl's `on_tick`). */
  onTick?: ((server: Server) => void) | undefined;
  /**
   * Bytes that may wait to be sent to one peer. A peer that stops reading until more is queued
   * is closed with 1008 and what was queued is dropped, instead of growing memory.
   *
   * @default {16777216}
   */
  maxBufferedAmount?: number | undefined;
  /**
   * Outgoing messages larger than this many bytes are sent as several frames of this size.
   *
   * @default {Infinity} one frame per message
   */
  fragmentSize?: number | undefined;
  /**
   * Answers plain HTTP requests on the same port, such as the page beside the socket. The
   * connection closes after the response; request bodies are not read. Without it such
   * requests get `426 Upgrade Required`.
   *
   * @default {undefined}
   */
  onRequest?:
    | ((request: Request, conn: Connection) => Response | Promise<Response>)
    | undefined;
  /** Called with each new connection, before its handshake: attach listeners and set limits. */
  onConnect?: ((conn: Connection) => void) | undefined;
  /** Called when {@linkcode Server.shutdown} starts. */
  onShutdown?: ((server: Server) => void) | undefined;
  /**
   * Called with every exception thrown by application code (listeners, callbacks). It never
   * reaches another connection.
   *
   * @default logs with `console.error`
   */
  onError?: ((error: unknown, conn: Connection | undefined) => void) | undefined;
  /**
   * The adapter to listen with, such as `listen` from `@netws/server/node`; `false` to listen
   * nowhere and take connections from `handleUpgrade` of `@netws/server/node` only.
   *
   * @default the adapter of the running runtime
   */
  listen?: Listen | false | undefined;
}

/**
 * A running WebSocket server. Create it with {@linkcode serve}.
 *
 * @example Start, inspect and stop a server
 * ```ts
 * import { serve } from "@netws/server";
 * import assert from "node:assert/strict";
 *
 * const server = serve({ port: 0, hostname: "127.0.0.1" });
 * await server.ready;
 * assert.ok(server.port > 0);
 * assert.deepEqual(server.connections, []);
 * await server.shutdown();
 * ```
 */
export class Server {
  /** Resolves once the server listens; rejects if it cannot. */
  readonly ready: Promise<void>;

  readonly #options: ServeOptions;
  readonly #settings: ConnectionSettings;
  readonly #all = new Set<Connection>();
  readonly #open = new Set<Connection>();
  #listener: Listener | undefined;
  #shutdown: Promise<void> | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #tickTimer: ReturnType<typeof setTimeout> | undefined;

  /** Validates the options and starts listening; use {@linkcode serve}. */
  constructor(options: ServeOptions = {}) {
    const port = options.port ?? DEFAULTS.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`Cannot listen: port ${port} is not an integer from 0 to 65535`);
    }
    this.#options = options;
    this.#settings = {
      maxFrameSize: checkLimit("maxFrameSize", options.maxFrameSize, DEFAULT_MAX_FRAME_SIZE),
      maxFragments: checkLimit("maxFragments", options.maxFragments, DEFAULT_MAX_FRAGMENTS),
      maxMessageSize: checkLimit(
        "maxMessageSize",
        options.maxMessageSize,
        DEFAULT_MAX_MESSAGE_SIZE,
      ),
      maxSendSize: checkLimit("maxSendSize", options.maxSendSize, DEFAULT_MAX_SEND_SIZE),
      maxHeaderSize: checkHeaderSize(options.maxHeaderSize),
      handshakeTimeout: checkSeconds(
        "handshakeTimeout",
        options.handshakeTimeout,
        DEFAULTS.handshakeTimeout,
      ),
      closeTimeout: checkSeconds("closeTimeout", options.closeTimeout, DEFAULTS.closeTimeout),
      maxBufferedAmount: checkLimit(
        "maxBufferedAmount",
        options.maxBufferedAmount,
        DEFAULT_MAX_BUFFERED_AMOUNT,
      ),
      fragmentSize: checkLimit("fragmentSize", options.fragmentSize, DEFAULTS.fragmentSize),
      secure: options.tls !== undefined,
      onRequest: options.onRequest,
      clock: { ticks: 0 },
      reportError: (error, conn) => this.#reportError(error, conn),
      onOpen: (conn) => this.#open.add(conn),
      onClose: (conn) => {
        this.#open.delete(conn);
        this.#all.delete(conn);
      },
    };
    const silenceMax = checkSeconds("silenceMax", options.silenceMax, DEFAULTS.silenceMax, true);
    const tickPeriod = checkSeconds("tickPeriod", options.tickPeriod, DEFAULTS.tickPeriod, true);
    // Timers start once the server listens: a server that cannot listen leaves none behind.
    this.ready = this.#start(port).then(() => this.#startTimers(silenceMax, tickPeriod));
  }

  #startTimers(silenceMax: number, tickPeriod: number): void {
    if (this.#shutdown !== undefined) return;
    if (silenceMax > 0) {
      this.#sweepTimer = setInterval(
        () => this.#sweep(),
        (silenceMax * 1000) / SWEEPS_PER_SILENCE,
      );
    }
    if (tickPeriod > 0) this.#startTicking(tickPeriod * 1000);
  }

  async #start(port: number): Promise<void> {
    const options = this.#options;
    if (options.listen === false) return;
    const listen = options.listen ?? await detectListen();
    this.#listener = await listen(
      {
        port,
        hostname: options.hostname ?? DEFAULTS.hostname,
        tls: options.tls,
        noDelay: options.noDelay ?? DEFAULTS.noDelay,
      },
      (transport) => this.accept(transport),
    );
  }

  /** The port the server listens on; 0 until {@linkcode Server.ready} resolved. */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** The address the server listens on. */
  get hostname(): string {
    return this.#listener?.hostname ?? this.#options.hostname ?? "0.0.0.0";
  }

  /** The connections whose handshake completed and that are not yet closed. */
  get connections(): Connection[] {
    return [...this.#open];
  }

  /**
   * Takes over an accepted socket: the server is the `UpgradeTarget` of `handleUpgrade` of
   * `@netws/server/node`, which passes the `request` head that the HTTP server already read.
   */
  accept(transport: Transport, request?: ParsedRequest): TransportSink {
    // TEMPORARY: through byte streams until Connection is itself a TransportSink.
    const { conn, sink } = toByteConnection(transport);
    this.handleConnection(conn, request);
    return sink;
  }

  /**
   * Runs a WebSocket connection over `transport`. Adapters call it; so does `handleUpgrade` of
   * `@netws/server/node`, with the `request` head that the HTTP server already read.
   */
  handleConnection(transport: ByteConnection, request?: ParsedRequest): void {
    if (this.#shutdown !== undefined) {
      transport.close();
      return;
    }
    const conn = new Connection(transport, this.#settings);
    this.#all.add(conn);
    try {
      this.#options.onConnect?.(conn);
    } catch (error) {
      this.#reportError(error, conn);
    }
    void conn.run(request);
  }

  #sweep(): void {
    const ticks = ++this.#settings.clock.ticks;
    for (const conn of this.#open) conn.keepAlive(ticks);
  }

  #startTicking(period: number): void {
    const start = Date.now();
    let count = 0;
    const schedule = () => {
      // Each tick is due at start + n * period, so delays in callbacks never add up; ticks that
      // could not run in time are skipped rather than run in a burst.
      const now = Date.now();
      count = Math.max(count + 1, Math.ceil((now - start) / period));
      this.#tickTimer = setTimeout(() => {
        try {
          this.#options.onTick?.(this);
        } catch (error) {
          this.#reportError(error, undefined);
        }
        if (this.#shutdown === undefined) schedule();
      }, start + count * period - now);
    };
    schedule();
  }

  /** Drops a connection at once, without a closing handshake. */
  disconnect(conn: Connection): void {
    conn.abort();
  }

  /**
   * Stops listening, closes every open connection with 1001 and drops those still in their
   * handshake, then resolves once all are closed (within about twice `closeTimeout`).
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutDown();
    return this.#shutdown;
  }

  async #shutDown(): Promise<void> {
    await this.ready.catch(() => {});
    try {
      this.#options.onShutdown?.(this);
    } catch (error) {
      this.#reportError(error, undefined);
    }
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#tickTimer);
    await this.#listener?.close();
    const closing = [...this.#all];
    for (const conn of closing) {
      if (conn.state === "open") conn.disconnect(CloseCode.GoingAway, "Server shutting down");
      else if (conn.state === "connecting") conn.abort();
    }
    await Promise.all(closing.map((conn) => conn.closed));
  }

  #reportError(error: unknown, conn: Connection | undefined): void {
    const onError = this.#options.onError;
    if (onError === undefined) {
      console.error("netws: uncaught error in application code:", error);
      return;
    }
    try {
      onError(error, conn);
    } catch (nested) {
      console.error("netws: onError threw:", nested);
    }
  }
}

/**
 * Starts a WebSocket server on the running runtime (Deno, Bun or Node).
 *
 * @example Echo server with per-connection limits
 * ```ts
 * import { serve } from "@netws/server";
 *
 * const server = serve({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   maxMessageSize: 1 << 20,
 *   onConnect(conn) {
 *     conn.on("text", (conn, text) => conn.sendText(text));
 *     conn.on("binary", (conn, data) => conn.sendBinary(data));
 *   },
 * });
 * await server.ready;
 * await server.shutdown();
 * ```
 */
export function serve(options: ServeOptions = {}): Server {
  return new Server(options);
}

/** Checks a duration in seconds: above 0 (or 0 itself, where 0 turns a feature off). */
function checkSeconds(
  name: string,
  value: number | undefined,
  fallback: number,
  zero = false,
): number {
  if (value === undefined) return fallback;
  // setTimeout takes at most 2^31 - 1 ms.
  if (typeof value === "number" && (value > 0 || (zero && value === 0)) && value <= 2_000_000) {
    return value;
  }
  const expected = zero ? "0 or more" : "above 0";
  throw new RangeError(`Cannot set ${name}: expected seconds ${expected}, got ${String(value)}`);
}

function checkHeaderSize(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_HEADER_SIZE;
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new RangeError(
    `Cannot set maxHeaderSize: expected a positive integer, got ${String(value)}`,
  );
}
