/**
 * One WebSocket connection on the server: the facade over the opening handshake, the protocol,
 * the send queue and the listener table. It is the transport's sink, and owns the two timers of a
 * connection: the handshake deadline and the close deadline.
 *
 * @module
 */

import type { ParsedRequest } from "../handshake/mod.ts";
import {
  checkControlPayload,
  checkLimit,
  CloseCode,
  encodeClosePayload,
  Opcode,
  PolicyViolationError,
  WebSocketError,
} from "../protocol/mod.ts";
import { type CloseInfo, type ConnectionEventMap, Listeners } from "./events.ts";
import type { HandshakeRequest } from "./handshake_request.ts";
import { type MessageStreams, messageStreams } from "./message_streams.ts";
import { type OpeningAnswer, OpeningHandshake } from "./opening.ts";
import { Outbox } from "./outbox.ts";
import { type DataMessage, type ProtocolState, ServerProtocol } from "./protocol.ts";
import type { RemoteAddress, Transport, TransportSink } from "./transport.ts";

export type { CloseInfo, ConnectionEventMap, DataMessage };

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
export interface ConnectionSettings {
  maxFrameSize: number;
  maxFragments: number;
  maxMessageSize: number;
  maxSendSize: number;
  maxHeaderSize: number;
  handshakeTimeout: number;
  closeTimeout: number;
  maxBufferedAmount: number;
  fragmentSize: number;
  secure: boolean;
  onRequest: ((request: Request, conn: Connection) => Response | Promise<Response>) | undefined;
  /** The keepalive sweep's counter: a connection remembers its value when bytes arrive. */
  clock: { ticks: number };
  reportError(error: unknown, conn: Connection): void;
  onOpen(conn: Connection): void;
  onClose(conn: Connection): void;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Sweeps of silence after which a connection is pinged, and after which it is closed. */
const PING_AFTER_SWEEPS = 4;
const CLOSE_AFTER_SWEEPS = 8;
/** Queued bytes above which reading from the peer pauses (or `maxBufferedAmount`, if smaller). */
const SEND_HIGH_WATER_MARK = 64 * 1024;
/** Bytes read after the connection closed, while waiting for the peer to end, before pausing. */
const DISCARD_BUDGET = 64 * 1024;

/** Why reading from the transport is paused; it resumes once no reason is left. */
const Pause = { Handshake: 1, Reader: 2, Sending: 4, Closed: 8 } as const;

/** What the server drives a connection with; not part of the public API. */
export interface ConnectionControl {
  /** The transport's sink. */
  readonly sink: TransportSink;
  /** Starts the handshake deadline; `request` is a head already read (an HTTP upgrade). */
  start(request?: ParsedRequest): void;
  /** The keepalive check, with the server's sweep count. */
  keepAlive(ticks: number): void;
}

let controlOf: (conn: Connection) => ConnectionControl;

/** The internal control of a connection, for the server. */
export function connectionControl(conn: Connection): ConnectionControl {
  return controlOf(conn);
}

/**
 * A WebSocket connection. The server creates it when a client connects and hands it to
 * `onConnect` before the handshake, where listeners are attached and per-connection limits set.
 *
 * Sending is synchronous: `sendText`, `sendBinary`, `send` and `ping` queue frames and return
 * `true`, or `false` once the connection is closing. Frames queued in the same tick leave in
 * one write.
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
    controlOf = (conn) => conn.#control;
  }

  readonly #transport: Transport;
  readonly #settings: ConnectionSettings;
  readonly #listeners: Listeners<Connection, ConnectionEventMap>;
  readonly #protocol: ServerProtocol;
  readonly #outbox: Outbox;
  readonly #control: ConnectionControl;
  readonly #streams: MessageStreams;

  #maxFrameSize: number;
  #maxFragments: number;
  #maxMessageSize: number;
  #maxSendSize: number;

  readonly #opening: OpeningHandshake<Connection>;
  #opened = false;

  #pauses = 0;
  #lastSeen = 0;
  #pinged = false;
  #peerEnded = false;
  #discarded = 0;

  #handshakeDeadline: ReturnType<typeof setTimeout> | undefined;
  #closeDeadline: ReturnType<typeof setTimeout> | undefined;
  /** How the WebSocket ended, once it did. */
  #end: CloseInfo | undefined;
  readonly #closed: Promise<CloseInfo>;
  #resolveClosed!: (info: CloseInfo) => void;

  /** A connection over an accepted transport; created by the server. */
  constructor(transport: Transport, settings: ConnectionSettings) {
    this.#transport = transport;
    this.#settings = settings;
    this.#maxFrameSize = settings.maxFrameSize;
    this.#maxFragments = settings.maxFragments;
    this.#maxMessageSize = settings.maxMessageSize;
    this.#maxSendSize = settings.maxSendSize;
    this.#closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#listeners = new Listeners<Connection, ConnectionEventMap>(
      this,
      (error) => settings.reportError(error, this),
    );
    this.#outbox = new Outbox(transport, {
      drained: () => this.#onDrained(),
      changed: () => this.#checkSendPressure(),
    });
    this.#protocol = new ServerProtocol({
      message: (message) => this.#onMessage(message),
      ping: (data) => this.#listeners.emit("ping", data),
      pong: (data) => this.#listeners.emit("pong", data),
      send: (frame, opcode) => this.#queue(frame, opcode),
      closed: (code, reason, error) => this.#onProtocolClosed(code, reason, error),
    });
    this.#opening = new OpeningHandshake<Connection>({
      conn: this,
      secure: settings.secure,
      remoteAddr: transport.remoteAddr,
      maxHeaderSize: settings.maxHeaderSize,
      onRequest: settings.onRequest,
      emitHandshake: (request) => this.#listeners.emitInTurn("handshake", request),
      reportError: (error) => settings.reportError(error, this),
      pause: () => this.#pause(Pause.Handshake),
      answered: (answer) => this.#onAnswer(answer),
    });
    this.#streams = messageStreams({
      isClosed: () => this.#end !== undefined,
      resumeReading: () => this.#unpause(Pause.Reader),
      pauseReading: () => this.#pause(Pause.Reader),
      send: (chunk) => typeof chunk === "string" ? this.sendText(chunk) : this.sendBinary(chunk),
      whenBufferedAtMost: (mark) =>
        this.#end === undefined ? this.#outbox.whenAtMost(mark) : Promise.resolve(),
      bufferedAmount: () => this.bufferedAmount,
      maxBufferedAmount: settings.maxBufferedAmount,
      disconnect: (code) => this.disconnect(code),
    });
    const guard = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A): void => {
      try {
        fn(...args);
      } catch (error) {
        // A bug of the core: report it and drop this connection, never the runtime's loop.
        settings.reportError(error, this);
        this.#finishNow(CloseCode.Abnormal, "Internal error");
      }
    };
    this.#control = {
      sink: {
        onData: guard((chunk: Uint8Array) => this.#onData(chunk)),
        onEnd: guard(() => this.#onEnd()),
        onDrain: guard(() => this.#outbox.onDrain()),
        onClose: guard(() => this.#onClose()),
      },
      start: (request) => this.#start(request),
      keepAlive: (ticks) => this.#keepAlive(ticks),
    };
  }

  /** `connecting` until the handshake completes, then `open`, `closing` and `closed`. */
  get state(): ConnectionState {
    return this.#protocol.state;
  }

  /** Whether the handshake completed and the connection is not closing (Perl's `is_ready`). */
  get isReady(): boolean {
    return this.#protocol.state === "open";
  }

  /** The peer's address. */
  get remoteAddr(): RemoteAddress {
    return this.#transport.remoteAddr;
  }

  /** The peer's IP address. */
  get ip(): string {
    return this.#transport.remoteAddr.hostname;
  }

  /** The peer's port. */
  get port(): number {
    return this.#transport.remoteAddr.port;
  }

  /** The client's handshake request, once it arrived. */
  get request(): HandshakeRequest | undefined {
    return this.#opening.request;
  }

  /** The subprotocol agreed in the handshake, or `undefined`. */
  get protocol(): string | undefined {
    return this.#opening.request?.protocol;
  }

  /**
   * Bytes queued for sending that the runtime has not yet handed to the operating system. Small
   * frames are packed, so the figure is what the queue holds (see the README's limits).
   */
  get bufferedAmount(): number {
    return this.#outbox.bufferedAmount;
  }

  /**
   * Resolves with the close code and reason once the connection ended and its socket is closed.
   * Never rejects.
   */
  get closed(): Promise<CloseInfo> {
    return this.#closed;
  }

  /**
   * The incoming text and binary messages as a stream, created on first use: read it from
   * `onConnect` or `ready` to miss none. Events keep firing as well. While the stream holds
   * about 1 MiB of unread messages, the connection stops reading from its socket, so a slow
   * reader slows the peer down through TCP. The stream closes when the connection ends.
   */
  get readable(): ReadableStream<DataMessage> {
    return this.#streams.readable();
  }

  /**
   * A stream to send messages through: a string is sent as text, bytes as binary. A write
   * resolves once `bufferedAmount` is at most 1 MiB (or half of `maxBufferedAmount`, if that is
   * smaller), so a writer awaiting its writes follows the peer's pace. Closing the stream closes
   * the connection with 1000; a write after the connection started closing rejects.
   */
  get writable(): WritableStream<string | Uint8Array> {
    return this.#streams.writable();
  }

  /** The largest payload of one incoming frame. Settable until the handshake completes. */
  get maxFrameSize(): number {
    return this.#maxFrameSize;
  }
  set maxFrameSize(value: number) {
    this.#maxFrameSize = this.#checkSettable("maxFrameSize", value);
  }

  /** The most frames in one incoming message. Settable until the handshake completes. */
  get maxFragments(): number {
    return this.#maxFragments;
  }
  set maxFragments(value: number) {
    this.#maxFragments = this.#checkSettable("maxFragments", value);
  }

  /** The largest assembled incoming message. Settable until the handshake completes. */
  get maxMessageSize(): number {
    return this.#maxMessageSize;
  }
  set maxMessageSize(value: number) {
    this.#maxMessageSize = this.#checkSettable("maxMessageSize", value);
  }

  /** The largest outgoing message. Settable until the handshake completes. */
  get maxSendSize(): number {
    return this.#maxSendSize;
  }
  set maxSendSize(value: number) {
    this.#maxSendSize = this.#checkSettable("maxSendSize", value);
  }

  #checkSettable(name: string, value: number): number {
    if (this.state !== "connecting") {
      throw new TypeError(`Cannot set ${name}: the handshake has completed`);
    }
    return checkLimit(name, value, value);
  }

  /** Adds a listener for an event. Listeners run in the order they were added. */
  on<K extends keyof ConnectionEventMap>(event: K, listener: ConnectionListener<K>): this {
    this.#listeners.on(event, listener);
    return this;
  }

  /** Removes a listener added with {@linkcode Connection.on}. */
  off<K extends keyof ConnectionEventMap>(event: K, listener: ConnectionListener<K>): this {
    this.#listeners.off(event, listener);
    return this;
  }

  /** Sends a text message. See {@linkcode Connection.send}. */
  sendText(text: string): boolean {
    if (!this.#canSend()) return false;
    // Every UTF-16 code unit takes at least one byte: no need to encode what is surely too big.
    if (text.length > this.#maxSendSize) this.#tooBigToSend(text.length);
    return this.#sendData(Opcode.Text, encoder.encode(text));
  }

  /**
   * Sends a binary message. A large payload is written without a copy: do not change it until
   * `bufferedAmount` says it left.
   */
  sendBinary(data: Uint8Array | ArrayBuffer | ArrayBufferView): boolean {
    if (!this.#canSend()) return false;
    return this.#sendData(Opcode.Binary, toBytes(data));
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
  ping(data: Uint8Array | string = EMPTY): boolean {
    const payload = typeof data === "string" ? encoder.encode(data) : data;
    checkControlPayload(payload);
    if (!this.#canSend()) return false;
    return this.#protocol.ping(payload) && this.#withinLimit();
  }

  /**
   * Starts the closing handshake with `code` (default 1000) and a reason of up to 123 bytes, and
   * closes the socket once the peer answered or `closeTimeout` passed. Before the handshake
   * completed, it rejects the client with 403 (from a `handshake` listener) or drops it.
   * Throws a `RangeError` for a code that may not be sent or a reason that is too long.
   */
  disconnect(code: number = CloseCode.Normal, reason = ""): void {
    encodeClosePayload(code, reason);
    const state = this.state;
    if (state === "connecting") {
      if (!this.#opening.reject()) {
        this.#finishAfterFlush(CloseCode.Abnormal, "Disconnected before handshake");
      }
      return;
    }
    if (state !== "open") return;
    this.#protocol.close(code, reason);
    this.#startCloseDeadline(this.#settings.closeTimeout);
  }

  /** Destroys the socket at once, without a closing handshake. */
  abort(): void {
    const { code, reason } = this.#protocol.abort();
    this.#finishNow(code, reason);
  }

  // --- Opening --------------------------------------------------------------------------------

  #start(request: ParsedRequest | undefined): void {
    this.#handshakeDeadline = setTimeout(
      () => this.#finishNow(CloseCode.Abnormal, "Handshake timed out"),
      this.#settings.handshakeTimeout * 1000,
    );
    if (request !== undefined) this.#opening.answer(request);
  }

  #onAnswer(answer: OpeningAnswer): void {
    // The connection may have been dropped while the answer was made.
    if (this.#end !== undefined) return;
    this.#outbox.push([answer.response]);
    if (answer.accepted === undefined) this.#finishAfterFlush(CloseCode.Abnormal, answer.reason);
    else this.#open();
  }

  #open(): void {
    clearTimeout(this.#handshakeDeadline);
    this.#protocol.open({
      maxFrameSize: this.#maxFrameSize,
      maxMessageSize: this.#maxMessageSize,
      maxFragments: this.#maxFragments,
    });
    this.#opened = true;
    // Silence is counted from the moment the connection opens.
    this.#lastSeen = this.#settings.clock.ticks;
    this.#settings.onOpen(this);
    this.#listeners.emit("ready");
    for (const chunk of this.#opening.takeEarly()) this.#onData(chunk);
    this.#unpause(Pause.Handshake);
    if (this.#peerEnded) this.#onEnd();
  }

  // --- Receiving ------------------------------------------------------------------------------

  #onData(chunk: Uint8Array): void {
    if (this.#end !== undefined) {
      this.#discard(chunk);
    } else if (this.#opened) {
      this.#lastSeen = this.#settings.clock.ticks;
      this.#pinged = false;
      this.#protocol.receive(chunk);
    } else {
      this.#opening.receive(chunk);
    }
  }

  /** After the end: the peer's last bytes, up to a budget (RFC 6455 §7.1.7: not processed). */
  #discard(chunk: Uint8Array): void {
    this.#discarded += chunk.length;
    if (this.#discarded > DISCARD_BUDGET) this.#pause(Pause.Closed);
  }

  #onMessage(message: DataMessage): void {
    this.#streams.enqueue(message);
    if (message.type === "text") this.#listeners.emit("text", message.data);
    else this.#listeners.emit("binary", message.data);
  }

  #onEnd(): void {
    this.#peerEnded = true;
    if (this.#end === undefined) {
      if (this.#opening.readingHead) {
        this.#finishNow(CloseCode.Abnormal, "Connection closed during the handshake");
        return;
      }
      // Being answered: the answer goes out first.
      if (!this.#opened) return;
      // The peer ended the stream without completing the closing handshake.
      const { code, reason } = this.#protocol.abort();
      this.#finishAfterFlush(code, reason);
    }
    this.#releaseIfDone();
  }

  // --- Sending --------------------------------------------------------------------------------

  #canSend(): boolean {
    const state = this.state;
    if (state === "connecting") {
      throw new DOMException("Cannot send: the handshake has not completed", "InvalidStateError");
    }
    return state === "open";
  }

  #tooBigToSend(size: number): never {
    throw new RangeError(
      `Cannot send message: ${size} bytes exceed maxSendSize of ${this.#maxSendSize}`,
    );
  }

  #sendData(opcode: number, payload: Uint8Array): boolean {
    if (payload.length > this.#maxSendSize) this.#tooBigToSend(payload.length);
    return this.#protocol.sendMessage(opcode, payload, this.#settings.fragmentSize) &&
      this.#withinLimit();
  }

  /** Whether what is queued fits `maxBufferedAmount`; past it, the connection ends with 1008. */
  #withinLimit(): boolean {
    const queued = this.#outbox.bufferedAmount;
    const limit = this.#settings.maxBufferedAmount;
    if (queued <= limit) return true;
    // The peer stopped reading and too much piled up: drop it all.
    const error = new PolicyViolationError(
      `Cannot send: ${queued} bytes queued exceed maxBufferedAmount of ${limit}`,
      "SEND_BUFFER_FULL",
    );
    this.#finishNow(error.closeCode, error.message);
    return false;
  }

  #queue(frame: Uint8Array[], opcode: number): boolean {
    if (opcode === Opcode.Pong) this.#outbox.pushPong(frame[0]!);
    else this.#outbox.push(frame);
    this.#checkSendPressure();
    return true;
  }

  /** Pauses reading while much is queued for the peer, so replies cannot outgrow its reading. */
  #checkSendPressure(): void {
    const high = Math.min(SEND_HIGH_WATER_MARK, this.#settings.maxBufferedAmount);
    const amount = this.#outbox.bufferedAmount;
    if (amount > high) this.#pause(Pause.Sending);
    else if (amount <= high / 4) this.#unpause(Pause.Sending);
  }

  #onDrained(): void {
    this.#unpause(Pause.Sending);
    if (this.#end === undefined) this.#listeners.emit("drain");
    this.#releaseIfDone();
  }

  // --- Reading pauses -------------------------------------------------------------------------

  #pause(reason: number): void {
    if (this.#pauses === 0) this.#transport.pause();
    this.#pauses |= reason;
  }

  #unpause(reason: number): void {
    if ((this.#pauses & reason) === 0) return;
    this.#pauses &= ~reason;
    if (this.#pauses === 0) this.#transport.resume();
  }

  // --- Closing --------------------------------------------------------------------------------

  #onProtocolClosed(code: number, reason: string, error: unknown): void {
    if (error !== undefined && !(error instanceof WebSocketError)) {
      this.#settings.reportError(error, this);
    }
    this.#finishAfterFlush(code, reason);
  }

  /** Ends the WebSocket, sends what is queued, half-closes, and waits for the peer's end. */
  #finishAfterFlush(code: number, reason: string): void {
    this.#conclude(code, reason);
    this.#startCloseDeadline(this.#settings.closeTimeout);
    this.#outbox.end();
  }

  /** Ends the WebSocket and destroys the socket at once, dropping what is queued. */
  #finishNow(code: number, reason: string): void {
    this.#conclude(code, reason);
    this.#outbox.clear();
    this.#transport.destroy();
  }

  /** Both sides ended and everything left: let go of the socket. */
  #releaseIfDone(): void {
    const outbox = this.#outbox;
    if (this.#peerEnded && outbox.ended && outbox.bufferedAmount === 0) this.#transport.destroy();
  }

  #startCloseDeadline(seconds: number): void {
    if (this.#closeDeadline !== undefined) return;
    this.#closeDeadline = setTimeout(() => this.abort(), seconds * 1000);
  }

  /** The WebSocket ended: once, whatever ended it. */
  #conclude(code: number, reason: string): void {
    if (this.#end !== undefined) return;
    this.#protocol.abort();
    this.#end = { code, reason };
    clearTimeout(this.#handshakeDeadline);
    this.#settings.onClose(this);
    this.#streams.close();
    this.#unpause(Pause.Reader);
    this.#unpause(Pause.Handshake);
    this.#outbox.releaseAll();
    if (this.#opened) this.#listeners.emit("disconnect", code, reason);
  }

  #onClose(): void {
    const { code, reason } = this.#protocol.abort();
    this.#conclude(code, reason);
    clearTimeout(this.#closeDeadline);
    this.#outbox.releaseAll();
    this.#resolveClosed(this.#end!);
  }

  /**
   * Pings a connection silent for half of `silenceMax` and closes one silent for all of it with
   * 1001. A connection whose message reader paused it counts as heard from.
   */
  #keepAlive(ticks: number): void {
    if (this.state !== "open") return;
    if ((this.#pauses & Pause.Reader) !== 0) this.#lastSeen = ticks;
    const silent = ticks - this.#lastSeen;
    if (silent >= CLOSE_AFTER_SWEEPS) {
      this.disconnect(CloseCode.GoingAway, "Silent for too long");
    } else if (silent >= PING_AFTER_SWEEPS && !this.#pinged) {
      this.#pinged = true;
      this.ping();
    }
  }
}

function toBytes(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError("Cannot send binary: data is not bytes");
}
