/**
 * The WebSocket server: the set of its connections, their shutdown, and the reporting of
 * application errors. It takes over sockets as an {@linkcode UpgradeTarget}; `serve` makes it
 * listen.
 *
 * @module
 */

import {
  Connection,
  connectionSession,
  type ConnectionSettings,
} from "../connection/connection.ts";
import type {
  Listen,
  Listener,
  RemoteAddress,
  Transport,
  TransportSink,
  UpgradeTarget,
} from "../connection/transport.ts";
import type { TopicSubscriber } from "../connection/topics.ts";
import type { CompressionFactory } from "../connection/compression.ts";
import type { ConnectionDeflateSettings } from "../connection/settings.ts";
import {
  type HandshakeError,
  type ParsedRequest,
  PERMESSAGE_DEFLATE_DEFAULTS,
  type PerMessageDeflateSettings,
} from "../handshake/mod.ts";
import { CloseCode } from "../protocol/mod.ts";
import type { Backplane } from "../pubsub/backplane.ts";
import { Fanout } from "./fanout.ts";
import { KeepAlive } from "./keepalive.ts";
import { rateLimitedRefusalLog } from "./refusals.ts";
import { Metrics, type MetricsSnapshot } from "./metrics.ts";
import { DEFAULTS, type ServeConfig, type Settings, settingsOf } from "./options.ts";

/** Options of `serve`: the values of `ServeConfig`, and the callbacks. */
export interface ServeOptions extends ServeConfig {
  /** Called every `tickPeriod` seconds (Perl's `on_tick`). */
  onTick?: ((server: Server) => void) | undefined;
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
  /**
   * Carries publishes to and from the other instances that share it, such as a
   * `RedisBackplane` of `@netws/server/redis`; {@linkcode Server.shutdown} closes it.
   *
   * @default {undefined} topics reach this server's connections only
   */
  backplane?: Backplane | undefined;
  /** Called when a publish skips `conn` for being over `publishMark` (`slowSubscriber: "drop"`). */
  onDrop?: ((conn: Connection, topic: string) => void) | undefined;
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
   * Called with every handshake answered with an error status (400, 403, 404, 426, 431, 500…)
   * and the peer's address: the error's `status`, `code` and `message` say why. It is not
   * called for a client that went away or timed out before its request head was complete.
   *
   * @default a `console.warn` line at most every 10 seconds
   */
  onHandshakeError?: ((error: HandshakeError, remoteAddr: RemoteAddress) => void) | undefined;
  /**
   * The adapter to listen with, such as `listen` from `@netws/server/node`; `false` to listen
   * nowhere and take connections from `handleUpgrade` of `@netws/server/node` only.
   *
   * @default the adapter of the running runtime
   */
  listen?: Listen | false | undefined;
}

/**
 * A running WebSocket server. Create it with `serve`.
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
export class Server implements UpgradeTarget {
  /** Resolves once the server listens; rejects if it cannot. */
  readonly ready: Promise<void>;

  readonly #options: ServeOptions;
  readonly #settings: ConnectionSettings;
  readonly #all = new Set<Connection>();
  readonly #open = new Set<Connection>();
  readonly #keepAlive: KeepAlive;
  readonly #metrics = new Metrics();
  readonly #fanout: Fanout<TopicSubscriber<Connection>>;
  #listener: Listener | undefined;
  readonly #loadCompression: (() => Promise<CompressionFactory>) | undefined;
  #codecs: Promise<CompressionFactory> | undefined;
  #shutdown: Promise<void> | undefined;
  #tickTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Starts listening with `listen` (resolved by `serve`, which picks the runtime's adapter and
   * checks the options first); use `serve`.
   */
  constructor(
    options: ServeOptions = {},
    listen?: () => Promise<Listen | undefined>,
    loadCompression?: (concurrency: number) => Promise<CompressionFactory>,
  ) {
    const settings = settingsOf(options);
    this.#options = options;
    this.#keepAlive = new KeepAlive((ticks) => {
      for (const conn of this.#open) connectionSession(conn).keepAlive(ticks);
    });
    const onDrop = options.onDrop;
    this.#fanout = new Fanout<TopicSubscriber<Connection>>({
      slowSubscriber: settings.slowSubscriber,
      publishMark: settings.publishMark,
      fragmentSize: settings.fragmentSize,
      maxSendSize: settings.maxSendSize,
      metrics: this.#metrics,
      ...(options.backplane === undefined ? {} : {
        backplane: options.backplane,
        onBackplaneError: (error) => this.#reportError(error, undefined),
      }),
      ...(onDrop === undefined ? {} : {
        onDrop: (session, topic) => {
          try {
            onDrop(session.conn, topic);
          } catch (error) {
            this.#reportError(error, session.conn);
          }
        },
      }),
    });
    const deflate = settings.perMessageDeflate;
    const concurrency = deflate?.concurrency ?? PERMESSAGE_DEFLATE_DEFAULTS.concurrency;
    this.#loadCompression = loadCompression && (() => loadCompression(concurrency));
    this.#settings = {
      ...settings,
      perMessageDeflate: deflate === undefined ? undefined : withoutConcurrency(deflate),
      topics: this.#fanout,
      metrics: this.#metrics,
      secure: settings.tls !== undefined,
      compression: undefined,
      // A connection that turns compression on without the server: a failure declines it.
      loadCompression: () =>
        this.#loadCodecs()?.catch((error) => {
          this.#reportError(error, undefined);
          return undefined;
        }) ?? Promise.resolve(undefined),
      onRequest: options.onRequest,
      onRefused: options.onHandshakeError ?? rateLimitedRefusalLog(),
      clock: this.#keepAlive.clock,
      reportError: (error, conn) => this.#reportError(error, conn),
      onOpen: (conn) => {
        this.#open.add(conn);
        this.#metrics.connectionOpened();
      },
      onClose: (conn, code) => {
        this.#fanout.unsubscribeAll(connectionSession(conn));
        if (this.#open.delete(conn)) this.#metrics.connectionClosed(code);
        this.#all.delete(conn);
      },
    };
    // Timers start once the server listens: a server that cannot listen leaves none behind.
    this.ready = this.#start(settings, listen).then(() => this.#startTimers(settings));
  }

  async #start(settings: Settings, listen?: () => Promise<Listen | undefined>): Promise<void> {
    // The codecs exist before the first connection does; without them the extension is declined.
    if (settings.perMessageDeflate !== undefined) await this.#loadCodecs();
    const chosen = await listen?.();
    if (chosen === undefined) return;
    this.#listener = await chosen(
      {
        port: settings.port,
        hostname: settings.hostname,
        tls: settings.tls,
        noDelay: settings.noDelay,
        reusePort: settings.reusePort,
      },
      (transport) => this.accept(transport),
    );
  }

  /** Loads the codecs once, for the server or for a first connection that turns them on. */
  #loadCodecs(): Promise<CompressionFactory> | undefined {
    const load = this.#loadCompression;
    if (load === undefined) return undefined;
    this.#codecs ??= load().then((codecs) => this.#settings.compression = codecs);
    return this.#codecs;
  }

  #startTimers(settings: Settings): void {
    if (this.#shutdown !== undefined) return;
    this.#keepAlive.start(settings.silenceMax);
    if (settings.tickPeriod > 0) this.#startTicking(settings.tickPeriod * 1000);
  }

  /** The port the server listens on; 0 until {@linkcode Server.ready} resolved. */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** The address the server listens on. */
  get hostname(): string {
    return this.#listener?.hostname ?? this.#options.hostname ?? DEFAULTS.hostname;
  }

  /** The connections whose handshake completed and that are not yet closed. */
  get connections(): Connection[] {
    return [...this.#open];
  }

  /**
   * Sends `data` (a string as text, bytes as binary) to every connection subscribed to `topic`,
   * and through the backplane to the other instances. The frame is built once and the same bytes
   * are queued for every subscriber; with permessage-deflate, a message at or above `threshold`
   * is compressed once for all subscribers that agreed to `server_no_context_takeover` with the
   * same window, and by each other subscriber's own compressor. One with more than `publishMark`
   * queued is skipped or failed (`slowSubscriber`). Returns how many connections here it was
   * queued for.
   *
   * @example Publish to a room
   * ```ts
   * import { serve } from "@netws/server";
   * import assert from "node:assert/strict";
   *
   * const server = serve({
   *   port: 0,
   *   hostname: "127.0.0.1",
   *   onConnect: (conn) => conn.on("ready", (conn) => conn.subscribe("room")),
   * });
   * await server.ready;
   * assert.equal(server.publish("room", "nobody is here yet"), 0);
   * assert.equal(server.subscriberCount("room"), 0);
   * await server.shutdown();
   * ```
   */
  publish(topic: string, data: string | Uint8Array): number {
    return this.#fanout.publish(topic, data);
  }

  /** How many connections of this server are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.#fanout.subscriberCount(topic);
  }

  /** What the server has done since it started, as a new plain object (see `formatPrometheus`). */
  get metrics(): MetricsSnapshot {
    return this.#metrics.snapshot();
  }

  /**
   * Takes over an accepted socket and runs a WebSocket connection on it: what adapters and
   * `handleUpgrade` of `@netws/server/node` call. `request` is the head that an HTTP server
   * already read from it.
   */
  accept(transport: Transport, request?: ParsedRequest): TransportSink {
    const conn = new Connection(transport, this.#settings);
    const session = connectionSession(conn);
    if (this.#shutdown !== undefined) {
      conn.abort();
      return session;
    }
    this.#all.add(conn);
    try {
      this.#options.onConnect?.(conn);
    } catch (error) {
      this.#reportError(error, conn);
    }
    session.start(request);
    return session;
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
   * handshake, then resolves once all are closed (within about `closeTimeout`).
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
    this.#keepAlive.stop();
    clearTimeout(this.#tickTimer);
    await this.#listener?.close();
    const closing = [...this.#all];
    for (const conn of closing) {
      if (conn.state === "open") conn.disconnect(CloseCode.GoingAway, "Server shutting down");
      else if (conn.state === "connecting") conn.abort();
    }
    await Promise.all(closing.map((conn) => conn.closed));
    await this.#fanout.close();
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

/** A connection's share of the server's permessage-deflate: all but `concurrency`. */
function withoutConcurrency(settings: PerMessageDeflateSettings): ConnectionDeflateSettings {
  const { concurrency: _, ...rest } = settings;
  return Object.freeze(rest);
}
