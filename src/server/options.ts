/**
 * The value options of `serve` (where to listen, limits, timeouts), their defaults, and their
 * checks: {@linkcode settingsOf} turns them into validated {@linkcode Settings} or throws a
 * `RangeError` naming the bad one. The callbacks are in `ServeOptions` of `server.ts`.
 *
 * @module
 */

import type { TlsOptions } from "../connection/transport.ts";
import type { SlowSubscriberPolicy } from "./fanout.ts";
import {
  type PerMessageDeflateOptions,
  type PerMessageDeflateSettings,
  resolvePerMessageDeflateOptions,
} from "../handshake/mod.ts";
import {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "../protocol/mod.ts";

/** Default largest outgoing message: 16 MiB. */
export const DEFAULT_MAX_SEND_SIZE: number = 16 * 1024 * 1024;
/** Default largest request head: 16 KiB. */
export const DEFAULT_MAX_HEADER_SIZE: number = 16 * 1024;
/** Default largest amount queued for a peer that does not read: 16 MiB. */
export const DEFAULT_MAX_BUFFERED_AMOUNT: number = 16 * 1024 * 1024;

/**
 * The default of every numeric and boolean option of `serve`. Times are in seconds,
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
  readonly reusePort: boolean;
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
  readonly slowSubscriber: SlowSubscriberPolicy;
  readonly publishMark: number;
} = Object.freeze({
  port: 8080,
  hostname: "0.0.0.0",
  noDelay: true,
  reusePort: false,
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
  slowSubscriber: "drop",
  publishMark: 1024 * 1024,
});

/**
 * The options of `serve` that are plain values: where to listen, the limits and
 * the timeouts. Times are in seconds.
 */
export interface ServeConfig {
  /**
   * The port to listen on; 0 picks a free one (read it from `server.port`).
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
   * Bind with `SO_REUSEPORT`, so that several processes can listen on the same port and the kernel
   * spreads new connections among them (Linux). Needs `deno run --unstable-net` on Deno and Node
   * 22.12 or later on Node (older Node: `node:cluster`); elsewhere the listen rejects with an error
   * saying so.
   *
   * @default {false}
   */
  reusePort?: boolean | undefined;
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
   * Seconds to wait for the peer's close frame and for queued bytes to leave, when closing: one
   * deadline for both.
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
  /**
   * Bytes that may wait to be sent to one peer ahead of a new message: a message (or ping) is
   * accepted while at most this much is queued, so one message of up to `maxSendSize` always
   * fits. Past it, what waits is dropped and the connection fails with 1008 (`SEND_BUFFER_FULL`).
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
   * The one path that upgrades to WebSocket, such as `"/ws"` (ws's `path`). An upgrade request to
   * another path goes to `onRequest` when there is one and is answered `404` otherwise. The query
   * is not part of the path.
   *
   * @default {undefined} every path upgrades
   */
  path?: string | undefined;
  /**
   * What a publish does to a subscriber with more than `publishMark` bytes queued: `"drop"`
   * skips the message for it (counted in `server.metrics.drops`, told to `onDrop`), `"close"`
   * fails it with 1008 (`SEND_BUFFER_FULL`). The other subscribers are not slowed either way.
   *
   * @default {"drop"}
   */
  slowSubscriber?: SlowSubscriberPolicy | undefined;
  /**
   * Bytes queued for a subscriber above which a publish treats it as slow.
   *
   * @default {1048576}
   */
  publishMark?: number | undefined;
  /**
   * Offer permessage-deflate (RFC 7692): `true` for the defaults, or the options (see
   * `PerMessageDeflateOptions` in `./handshake`). Limits apply to inflated bytes.
   *
   * @default {false}
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
}

/** Options after their checks, with every default filled in. Times are in seconds. */
export interface Settings {
  port: number;
  hostname: string;
  tls: TlsOptions | undefined;
  noDelay: boolean;
  reusePort: boolean;
  maxFrameSize: number;
  maxFragments: number;
  maxMessageSize: number;
  maxSendSize: number;
  maxHeaderSize: number;
  handshakeTimeout: number;
  closeTimeout: number;
  silenceMax: number;
  tickPeriod: number;
  maxBufferedAmount: number;
  fragmentSize: number;
  path: string | undefined;
  slowSubscriber: SlowSubscriberPolicy;
  publishMark: number;
  perMessageDeflate: PerMessageDeflateSettings | undefined;
}

/**
 * Fills in the defaults. The values were checked by `validateServeOptions`, which `serve` runs
 * first; only the compression options are resolved (and range-checked) here, against their own
 * defaults.
 */
export function settingsOf(options: ServeConfig): Settings {
  return {
    port: options.port ?? DEFAULTS.port,
    hostname: options.hostname ?? DEFAULTS.hostname,
    tls: options.tls,
    noDelay: options.noDelay ?? DEFAULTS.noDelay,
    reusePort: options.reusePort ?? DEFAULTS.reusePort,
    maxFrameSize: options.maxFrameSize ?? DEFAULTS.maxFrameSize,
    maxFragments: options.maxFragments ?? DEFAULTS.maxFragments,
    maxMessageSize: options.maxMessageSize ?? DEFAULTS.maxMessageSize,
    maxSendSize: options.maxSendSize ?? DEFAULTS.maxSendSize,
    maxHeaderSize: options.maxHeaderSize ?? DEFAULTS.maxHeaderSize,
    handshakeTimeout: options.handshakeTimeout ?? DEFAULTS.handshakeTimeout,
    closeTimeout: options.closeTimeout ?? DEFAULTS.closeTimeout,
    silenceMax: options.silenceMax ?? DEFAULTS.silenceMax,
    tickPeriod: options.tickPeriod ?? DEFAULTS.tickPeriod,
    maxBufferedAmount: options.maxBufferedAmount ?? DEFAULTS.maxBufferedAmount,
    fragmentSize: options.fragmentSize ?? DEFAULTS.fragmentSize,
    path: options.path,
    slowSubscriber: options.slowSubscriber ?? DEFAULTS.slowSubscriber,
    publishMark: options.publishMark ?? DEFAULTS.publishMark,
    perMessageDeflate:
      options.perMessageDeflate === undefined || options.perMessageDeflate === false
        ? undefined
        : resolvePerMessageDeflateOptions(options.perMessageDeflate),
  };
}
