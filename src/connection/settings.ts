/**
 * What a connection gets from its server: the limits and timeouts after their checks, the
 * application's callbacks, and the hooks through which the server keeps its connection set. One
 * object is shared by all connections of a server.
 *
 * @module
 */

import type { HandshakeError, PerMessageDeflateOptions } from "../handshake/mod.ts";
import type { CompressionFactory } from "./compression.ts";
import type { RemoteAddress } from "./transport.ts";
import type { TopicHost } from "./topics.ts";

/**
 * Where the connections of a server count their traffic: each call is an integer add on a path
 * that runs anyway. Bytes are those of WebSocket frames (headers, control frames and compressed
 * payloads as they are on the wire), after the opening handshake.
 */
export interface ConnectionMetrics {
  /** A data message arrived. */
  messageIn(): void;
  /** A data message was queued for `count` connections. */
  messageOut(count?: number): void;
  /** Frame bytes arrived. */
  received(bytes: number): void;
  /** Frame bytes were queued for the peer. */
  sent(bytes: number): void;
  /** A message was compressed (once for a whole group of receivers, when it was shared). */
  compressed(): void;
}

/** What a connection gets from its server; `Conn` is the connection's public face. */
export interface SessionSettings<Conn> {
  maxFrameSize: number;
  maxFragments: number;
  maxMessageSize: number;
  maxSendSize: number;
  maxHeaderSize: number;
  /** Seconds. */
  handshakeTimeout: number;
  /** Seconds. */
  closeTimeout: number;
  maxBufferedAmount: number;
  fragmentSize: number;
  /** permessage-deflate as the server offers it, or `undefined` to decline it. */
  perMessageDeflate: ConnectionDeflateSettings | undefined;
  /**
   * The server's codecs, once loaded: before it listens when it offers permessage-deflate, else
   * when a first connection turns it on.
   */
  compression: CompressionFactory | undefined;
  /** Loads the codecs once and sets `compression`; `undefined` when they cannot be had. */
  loadCompression?: (() => Promise<CompressionFactory | undefined>) | undefined;
  secure: boolean;
  onRequest: ((request: Request, conn: Conn) => Response | Promise<Response>) | undefined;
  /** The one path that upgrades; other paths are 404 (or go to `onRequest`). */
  path: string | undefined;
  /** Told of every handshake answered with an error status. */
  onRefused(error: HandshakeError, remoteAddr: RemoteAddress): void;
  /** The keepalive sweep's counter: a connection remembers its value when bytes arrive. */
  clock: { ticks: number };
  reportError(error: unknown, conn: Conn): void;
  onOpen(conn: Conn): void;
  /** The WebSocket ended with `code`: once, whatever ended it. */
  onClose(conn: Conn, code: number): void;
  /** The server's topics; without them (a connection on its own) topic methods throw. */
  topics?: TopicHost<Conn>;
  /** Where the traffic is counted; without it, it is not. */
  metrics?: ConnectionMetrics;
}

/**
 * permessage-deflate for one connection, set as `conn.perMessageDeflate` before the handshake:
 * the options of `serve()`'s `perMessageDeflate` but `concurrency`, which the server's
 * connections share.
 */
export type ConnectionDeflateOptions = Omit<PerMessageDeflateOptions, "concurrency">;

/** {@linkcode ConnectionDeflateOptions} with every value filled in and checked. */
export type ConnectionDeflateSettings = Readonly<Required<ConnectionDeflateOptions>>;

/** The incoming limits, settable until the handshake completes. */
export interface IncomingLimits {
  maxFrameSize: number;
  maxFragments: number;
  maxMessageSize: number;
}
