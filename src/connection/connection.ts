/**
 * One WebSocket connection on the server, as the application sees it. The core drives it through
 * its {@linkcode Session}: the transport's sink, which owns its timers.
 *
 * @module
 */

import { PERMESSAGE_DEFLATE_DEFAULTS, resolvePerMessageDeflateOptions } from "../handshake/mod.ts";
import { checkLimit, CloseCode } from "../protocol/mod.ts";
import type { CloseInfo, ConnectionEventMap } from "./events.ts";
import type { HandshakeRequest } from "./handshake_request.ts";
import type { DataMessage, ProtocolState } from "./protocol.ts";
import { Session } from "./session.ts";
import type {
  ConnectionDeflateOptions,
  ConnectionDeflateSettings,
  SessionSettings,
} from "./settings.ts";
import type { RemoteAddress, Transport } from "./transport.ts";

export type {
  CloseInfo,
  ConnectionDeflateOptions,
  ConnectionDeflateSettings,
  ConnectionEventMap,
  DataMessage,
};

/** Where a connection is in its life. */
export type ConnectionState = ProtocolState;

/**
 * A listener of event `K`. What it returns is ignored, but for a promise: a `handshake` listener's
 * is awaited before the server answers, and any listener's rejection is reported like a throw.
 */
export type ConnectionListener<K extends keyof ConnectionEventMap> = (
  conn: Connection,
  ...args: ConnectionEventMap[K]
) => unknown;

/** What a connection gets from its server. Times are in seconds. */
export type ConnectionSettings = SessionSettings<Connection>;

let sessionOf: (conn: Connection) => Session<Connection>;

/** The session that drives `conn`: for the server, not part of the public API. */
export function connectionSession(conn: Connection): Session<Connection> {
  return sessionOf(conn);
}

/**
 * A WebSocket connection. The server creates it when a client connects and hands it to
 * `onConnect` before the handshake, where listeners are attached and per-connection limits set.
 *
 * Sending is synchronous: `sendText`, `sendBinary`, `send` and `ping` queue frames and return
 * `true`, or `false` once the connection is closing. Frames queued in the same turn of the
 * event loop leave in one write.
 *
 * @example Echo every message, with a smaller limit for this connection
 * ```ts ignore
 * import { serve } from "@netws/server";
 *
 * serve({
 *   port: 8080,
 *   onConnect(conn) {
 *     conn.maxMessageSize = 65536;
 *     conn.on("text", (conn, text) => conn.sendText(text));
 *     conn.on("binary", (conn, data) => conn.sendBinary(data));
 *   },
 * });
 * ```
 */
export class Connection {
  static {
    sessionOf = (conn) => conn.#session;
  }

  readonly #session: Session<Connection>;

  /** A connection over an accepted transport; created by the server. */
  constructor(transport: Transport, settings: ConnectionSettings) {
    this.#session = new Session<Connection>(this, transport, settings);
  }

  /** `connecting` until the handshake completes, then `open`, `closing` and `closed`. */
  get state(): ConnectionState {
    return this.#session.protocol.state;
  }

  /** Whether the handshake completed and the connection is not closing (Perl's `is_ready`). */
  get isReady(): boolean {
    return this.#session.protocol.state === "open";
  }

  /** The peer's address. */
  get remoteAddr(): RemoteAddress {
    return this.#session.transport.remoteAddr;
  }

  /** The peer's IP address. */
  get ip(): string {
    return this.#session.transport.remoteAddr.hostname;
  }

  /** The peer's port. */
  get port(): number {
    return this.#session.transport.remoteAddr.port;
  }

  /** The client's handshake request, once it arrived. */
  get request(): HandshakeRequest | undefined {
    return this.#session.opening.request;
  }

  /** The subprotocol agreed in the handshake, or `undefined`. */
  get protocol(): string | undefined {
    return this.#session.opening.request?.protocol;
  }

  /**
   * Bytes queued for sending that the runtime has not yet handed to the operating system. Small
   * frames are packed, so the figure is what the queue holds (see the README's limits). With
   * permessage-deflate, messages still being compressed count too, at their uncompressed size:
   * `maxBufferedAmount` is checked against this figure.
   */
  get bufferedAmount(): number {
    return this.#session.bufferedAmount;
  }

  /**
   * Resolves with the close code and reason once the connection ended and its socket is closed.
   * Never rejects.
   */
  get closed(): Promise<CloseInfo> {
    return this.#session.closed;
  }

  /**
   * The incoming text and binary messages as a stream, created on first use: read it from
   * `onConnect` or `ready` to miss none. Events keep firing as well. While the stream holds
   * about 1 MiB of unread messages, the connection stops reading from its socket, so a slow
   * reader slows the peer down through TCP; with permessage-deflate the messages come inflated,
   * and compressed ones already read wait compressed while the stream is full. The stream closes
   * when the connection ends.
   */
  get readable(): ReadableStream<DataMessage> {
    return this.#session.streams.readable();
  }

  /**
   * A stream to send messages through: a string is sent as text, bytes as binary. A write
   * resolves once `bufferedAmount` is at most 1 MiB (or half of `maxBufferedAmount`, if that is
   * smaller), so a writer awaiting its writes follows the peer's pace. Closing the stream closes
   * the connection with 1000; a write after the connection started closing rejects.
   */
  get writable(): WritableStream<string | Uint8Array> {
    return this.#session.streams.writable();
  }

  /** The largest payload of one incoming frame. Settable until the handshake completes. */
  get maxFrameSize(): number {
    return this.#session.limits.maxFrameSize;
  }
  set maxFrameSize(value: number) {
    this.#session.limits.maxFrameSize = this.#checkSettable("maxFrameSize", value);
  }

  /** The most frames in one incoming message. Settable until the handshake completes. */
  get maxFragments(): number {
    return this.#session.limits.maxFragments;
  }
  set maxFragments(value: number) {
    this.#session.limits.maxFragments = this.#checkSettable("maxFragments", value);
  }

  /** The largest assembled incoming message. Settable until the handshake completes. */
  get maxMessageSize(): number {
    return this.#session.limits.maxMessageSize;
  }
  set maxMessageSize(value: number) {
    this.#session.limits.maxMessageSize = this.#checkSettable("maxMessageSize", value);
  }

  /** The largest outgoing message. Settable until the handshake completes. */
  get maxSendSize(): number {
    return this.#session.sender.maxSendSize;
  }
  set maxSendSize(value: number) {
    this.#session.sender.maxSendSize = this.#checkSettable("maxSendSize", value);
  }

  /**
   * permessage-deflate (RFC 7692) for this connection: what it offers, or `false` if it declines
   * the extension. It starts as the server's `perMessageDeflate`. Set it before the handshake is
   * answered (in `onConnect` or a `handshake` listener) to decide per client: `false` declines,
   * `true` offers the server's options (the defaults if the server has none), and an object
   * overrides some of them. Such an object takes every option of `serve()`'s
   * `perMessageDeflate` but `concurrency`, which belongs to the server; an unknown key or a
   * wrong type is a `TypeError`, a number out of range a `RangeError`, and setting it once the
   * answer is decided a `TypeError`. A server without the option loads its codecs when a first
   * connection turns compression on.
   *
   * @example Decline compression for some clients, use a smaller window for the others
   * ```ts
   * import { serve } from "@netws/server";
   * import assert from "node:assert/strict";
   * import { connect } from "node:net";
   *
   * const server = serve({
   *   port: 0,
   *   hostname: "127.0.0.1",
   *   perMessageDeflate: true,
   *   onConnect(conn) {
   *     conn.on("handshake", (conn, request) => {
   *       conn.perMessageDeflate = request.query === "plain" ? false : { serverMaxWindowBits: 10 };
   *     });
   *   },
   * });
   * await server.ready;
   *
   * // The Sec-WebSocket-Extensions answer to a client that offers permessage-deflate.
   * const answer = (query: string) =>
   *   new Promise<string>((resolve) => {
   *     const socket = connect(server.port, "127.0.0.1", () =>
   *       socket.write(
   *         `GET /?${query} HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n` +
   *           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
   *           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
   *       ));
   *     socket.once("data", (head) => {
   *       resolve(/extensions: (.*)\r/i.exec(String(head))?.[1] ?? "none");
   *       socket.destroy();
   *     });
   *   });
   * assert.equal(await answer("plain"), "none");
   * assert.equal(await answer("small"), "permessage-deflate; server_max_window_bits=10");
   * await server.shutdown();
   * ```
   */
  get perMessageDeflate(): ConnectionDeflateSettings | false {
    return this.#session.perMessageDeflate ?? false;
  }
  set perMessageDeflate(value: boolean | ConnectionDeflateOptions) {
    const session = this.#session;
    if (this.state !== "connecting" || session.opening.decided) {
      throw new TypeError("Cannot set perMessageDeflate: the handshake has been answered");
    }
    session.perMessageDeflate = connectionDeflate(value, session.serverDeflate);
  }

  #checkSettable(name: string, value: number): number {
    if (this.state !== "connecting") {
      throw new TypeError(`Cannot set ${name}: the handshake has completed`);
    }
    return checkLimit(name, value, value);
  }

  /** Adds a listener for an event. Listeners run in the order they were added. */
  on<K extends keyof ConnectionEventMap>(event: K, listener: ConnectionListener<K>): this {
    this.#session.listeners.on(event, listener);
    return this;
  }

  /** Removes a listener added with {@linkcode Connection.on}. */
  off<K extends keyof ConnectionEventMap>(event: K, listener: ConnectionListener<K>): this {
    this.#session.listeners.off(event, listener);
    return this;
  }

  /**
   * Subscribes to `topic` (matched exactly): the server's `publish` to it, and `publish` of the
   * other connections, reach this one. Returns false if it already was, or once the connection
   * is closing. Every subscription ends when the connection closes.
   */
  subscribe(topic: string): boolean {
    const session = this.#session;
    if (session.ending) return false;
    return session.topics.subscribe(session, topic);
  }

  /** Unsubscribes from `topic`; false if it was not subscribed. */
  unsubscribe(topic: string): boolean {
    const session = this.#session;
    return session.topics.unsubscribe(session, topic);
  }

  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    const session = this.#session;
    return session.topics.isSubscribed(session, topic);
  }

  /** The topics this connection is subscribed to, as a new array. */
  get topics(): string[] {
    const session = this.#session;
    return [...session.topics.topicsOf(session)];
  }

  /**
   * Publishes to `topic` for every subscriber but this connection: here, and through the
   * server's backplane on the other instances. A string goes out as text, bytes as binary.
   * Returns how many connections here it was queued for.
   */
  publish(topic: string, data: string | Uint8Array): number {
    const session = this.#session;
    return session.topics.publish(topic, data, { except: session });
  }

  /** Sends a text message. See {@linkcode Connection.send}. */
  sendText(text: string): boolean {
    return this.#session.sender.text(text);
  }

  /**
   * Sends a binary message. A large payload is written without a copy: do not change it until
   * `bufferedAmount` says it left.
   */
  sendBinary(data: Uint8Array | ArrayBuffer | ArrayBufferView): boolean {
    return this.#session.sender.binary(data);
  }

  /**
   * Sends a message: `"text"` takes a string, `"binary"` bytes. Returns `true` when queued and
   * `false` once the connection is closing. Throws before the handshake completed, and a
   * `RangeError` for a message over `maxSendSize` (nothing is sent; the connection stays open).
   */
  send(
    type: "text" | "binary",
    data: string | Uint8Array | ArrayBuffer | ArrayBufferView,
  ): boolean {
    if (type === "text") {
      if (typeof data !== "string") throw new TypeError("Cannot send text: data is not a string");
      return this.sendText(data);
    }
    if (type === "binary") {
      if (typeof data === "string") throw new TypeError("Cannot send binary: data is a string");
      return this.sendBinary(data);
    }
    throw new TypeError(`Cannot send: unknown message type "${String(type)}"`);
  }

  /** Sends a ping with up to 125 bytes of payload. Returns `false` once the connection is closing. */
  ping(data?: Uint8Array | string): boolean {
    return this.#session.sender.ping(data);
  }

  /**
   * Starts the closing handshake with `code` (default 1000) and a reason of up to 123 bytes, and
   * closes the socket once the peer answered or `closeTimeout` passed. Before the handshake
   * completed, it rejects the client with 403 (from a `handshake` listener) or drops it.
   * Throws a `RangeError` for a code that may not be sent or a reason that is too long.
   */
  disconnect(code: number = CloseCode.Normal, reason = ""): void {
    this.#session.disconnect(code, reason);
  }

  /** Destroys the socket at once, without a closing handshake. */
  abort(): void {
    this.#session.abort();
  }
}

/**
 * A connection's permessage-deflate from what the application set: `false` declines, `true`
 * takes the server's options (the defaults without them), an object overrides them.
 */
function connectionDeflate(
  value: unknown,
  server: ConnectionDeflateSettings | undefined,
): ConnectionDeflateSettings | undefined {
  if (value === false) return undefined;
  const base = { ...PERMESSAGE_DEFLATE_DEFAULTS, ...server };
  if (value === true) return server ?? withoutConcurrency(base);
  if (typeof value === "object" && value !== null && "concurrency" in value) {
    throw new TypeError(
      "Cannot set perMessageDeflate.concurrency: it is shared by the server's connections; " +
        "set it in serve()",
    );
  }
  // Checks the type, the keys and every value, as serve() does.
  return withoutConcurrency(
    resolvePerMessageDeflateOptions(value as ConnectionDeflateOptions, base),
  );
}

function withoutConcurrency(
  settings: ConnectionDeflateSettings & { concurrency?: number },
): ConnectionDeflateSettings {
  const { concurrency: _, ...rest } = settings;
  return Object.freeze(rest);
}
