/**
 * One WebSocket connection on the server: its opening handshake, its messages and events, sending,
 * and the closing handshake.
 *
 * @module
 */

import type { ByteConnection } from "./byte_connection.ts";
import type { RemoteAddress } from "./transport.ts";
import { CloseCode, Opcode } from "../protocol/constants.ts";
import {
  closeFrameFor,
  HandshakeError,
  PolicyViolationError,
  WebSocketError,
} from "../protocol/errors.ts";
import { checkControlPayload, encodeClosePayload, encodeFrame } from "../protocol/frame_encoder.ts";
import {
  buildAcceptResponse,
  buildErrorResponse,
  isUpgradeRequest,
  type ParsedRequest,
  parseRequestHead,
  toRequest,
  validateUpgrade,
} from "../handshake/handshake.ts";
import { HandshakeRequest } from "./handshake_request.ts";
import { encodeResponse } from "../handshake/http_response.ts";
import { checkLimit } from "../protocol/limits.ts";
import type { Message } from "../protocol/message_assembler.ts";
import { MessageReader } from "../protocol/message_reader.ts";

/** Where a connection is in its life. */
export type ConnectionState = "connecting" | "open" | "closing" | "closed";

/** The events of a {@linkcode Connection} and the arguments their listeners get after it. */
export interface ConnectionEventMap {
  /** The client's upgrade request arrived: inspect it, choose a subprotocol, or reject it. */
  handshake: [request: HandshakeRequest];
  /** The handshake completed: the connection is open. */
  ready: [];
  /** A text message arrived. */
  text: [text: string];
  /** A binary message arrived. */
  binary: [data: Uint8Array];
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

/** A data message, as yielded by {@linkcode Connection.readable}. */
export type DataMessage = { type: "text"; data: string } | { type: "binary"; data: Uint8Array };

/** How a connection ended: the close code and reason, as `disconnect` reports them. */
export interface CloseInfo {
  /** The close code; 1006 when no close frame was exchanged. */
  code: number;
  /** The close reason. */
  reason: string;
}

/**
 * A listener of event `K`. What it returns is ignored, but for a promise: a `handshake` listener's
 * is awaited before the server answers, and any listener's rejection is reported like a throw.
 */
export type ConnectionListener<K extends keyof ConnectionEventMap> = (
  conn: Connection,
  ...args: ConnectionEventMap[K]
) => unknown;

type ListenerTable = { [K in keyof ConnectionEventMap]?: ConnectionListener<K>[] };

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
/** Unread bytes of messages that {@linkcode Connection.readable} holds before reading pauses. */
const READABLE_HIGH_WATER_MARK = 1 << 20;
/**
 * `bufferedAmount` above which a write to {@linkcode Connection.writable} waits until it is below
 * again; half of `maxBufferedAmount` when that is smaller, so a waiting writer never crosses it.
 */
const WRITABLE_HIGH_WATER_MARK = 1 << 20;

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
  readonly #transport: ByteConnection;
  readonly #settings: ConnectionSettings;
  readonly #byteReader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array[]>;
  #listeners: ListenerTable = {};

  #state: ConnectionState = "connecting";
  #maxFrameSize: number;
  #maxFragments: number;
  #maxMessageSize: number;
  #maxSendSize: number;
  #request: HandshakeRequest | undefined;
  #inHandshakeEvent = false;
  #rejected = false;

  #reader: MessageReader | undefined;

  // Outgoing bytes: queued this tick, then handed to the transport in one vector.
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #inFlightBytes = 0;
  #flushScheduled = false;

  // Writers of the writable waiting for bufferedAmount to fall to their mark.
  #drainWaiters: { mark: number; resolve: () => void }[] = [];

  // Keepalive: the sweep count when bytes last arrived, and whether we pinged since.
  #lastSeen = 0;
  #pinged = false;

  // The message streams, created on first use.
  #readable: ReadableStream<DataMessage> | undefined;
  #readableController: ReadableStreamDefaultController<DataMessage> | undefined;
  #resumeReading: (() => void) | undefined;
  #writable: WritableStream<string | Uint8Array> | undefined;

  // The closing handshake.
  #closeSent = false;
  #closeCode: number = CloseCode.Abnormal;
  #closeReason = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #transportClosing: Promise<void> | undefined;
  readonly #closed: Promise<CloseInfo>;
  #resolveClosed!: (info: CloseInfo) => void;

  /** Wraps an accepted byte connection; created by the server. */
  constructor(transport: ByteConnection, settings: ConnectionSettings) {
    this.#transport = transport;
    this.#settings = settings;
    this.#maxFrameSize = settings.maxFrameSize;
    this.#maxFragments = settings.maxFragments;
    this.#maxMessageSize = settings.maxMessageSize;
    this.#maxSendSize = settings.maxSendSize;
    this.#byteReader = transport.readable.getReader();
    this.#writer = transport.writable.getWriter();
    this.#closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** `connecting` until the handshake completes, then `open`, `closing` and `closed`. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Whether the handshake completed and the connection is not closing (Perl's `is_ready`). */
  get isReady(): boolean {
    return this.#state === "open";
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
    return this.#request;
  }

  /** The subprotocol agreed in the handshake, or `undefined`. */
  get protocol(): string | undefined {
    return this.#request?.protocol;
  }

  /** Bytes queued for sending that the runtime has not yet accepted. */
  get bufferedAmount(): number {
    return this.#queuedBytes + this.#inFlightBytes;
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
    this.#readable ??= new ReadableStream<DataMessage>(
      {
        start: (controller) => {
          this.#readableController = controller;
          if (this.#state === "closed") controller.close();
        },
        pull: () => this.#resume(),
        cancel: () => {
          this.#readableController = undefined;
          this.#resume();
        },
      },
      {
        highWaterMark: READABLE_HIGH_WATER_MARK,
        size: (message) =>
          typeof message.data === "string" ? message.data.length : message.data.byteLength,
      },
    );
    return this.#readable;
  }

  /**
   * A stream to send messages through: a string is sent as text, bytes as binary. A write
   * resolves once `bufferedAmount` is at most 1 MiB (or half of `maxBufferedAmount`, if that is
   * smaller), so a writer awaiting its writes follows the peer's pace. Closing the stream closes the connection with 1000; a write after
   * the connection started closing rejects.
   */
  get writable(): WritableStream<string | Uint8Array> {
    this.#writable ??= new WritableStream<string | Uint8Array>({
      write: async (chunk) => {
        const sent = typeof chunk === "string" ? this.sendText(chunk) : this.sendBinary(chunk);
        if (!sent) {
          throw new DOMException("Cannot write: the connection is closing", "InvalidStateError");
        }
        const mark = Math.min(WRITABLE_HIGH_WATER_MARK, this.#settings.maxBufferedAmount / 2);
        if (this.bufferedAmount > mark) await this.#bufferedAtMost(mark);
      },
      close: () => this.disconnect(),
      abort: () => this.disconnect(CloseCode.GoingAway),
    });
    return this.#writable;
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
    if (this.#state !== "connecting") {
      throw new TypeError(`Cannot set ${name}: the handshake has completed`);
    }
    return checkLimit(name, value, value);
  }

  /** Adds a listener for an event. Listeners run in the order they were added. */
  on<K extends keyof ConnectionEventMap>(event: K, listener: ConnectionListener<K>): this {
    // Copy on write, so that an event being emitted is not disturbed.
    const table = this.#listeners as Record<K, ConnectionListener<K>[] | undefined>;
    table[event] = [...(table[event] ?? []), listener];
    return this;
  }

  /** Removes a listener added with {@linkcode Connection.on}. */
  off<K extends keyof ConnectionEventMap>(event: K, listener: ConnectionListener<K>): this {
    const table = this.#listeners as Record<K, ConnectionListener<K>[] | undefined>;
    table[event] = table[event]?.filter((l) => l !== listener);
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
    return this.#write(encodeFrame(Opcode.Ping, payload));
  }

  /**
   * Starts the closing handshake with `code` (default 1000) and a reason of up to 123 bytes, and
   * closes the socket once the peer answered or `closeTimeout` passed. Before the handshake
   * completed, it rejects the client with 403 (from a `handshake` listener) or drops it.
   * Throws a `RangeError` for a code that may not be sent or a reason that is too long.
   */
  disconnect(code: number = CloseCode.Normal, reason = ""): void {
    const payload = encodeClosePayload(code, reason);
    if (this.#state === "connecting") {
      this.#rejected = true;
      if (!this.#inHandshakeEvent) {
        this.#finish(CloseCode.Abnormal, "Disconnected before handshake");
      }
      return;
    }
    if (this.#state !== "open") return;
    this.#startClosing(code, reason, payload);
    this.#timer = setTimeout(
      () => this.#finish(code, reason, false),
      this.#settings.closeTimeout * 1000,
    );
  }

  /** Destroys the socket at once, without a closing handshake. */
  abort(): void {
    this.#finish(this.#closeSent ? this.#closeCode : CloseCode.Abnormal, this.#closeReason, false);
  }

  /**
   * Runs the connection until it ends; called by the server. `request` is the request head when
   * it was already read (an upgrade taken from an HTTP server). Never rejects.
   */
  async run(request?: ParsedRequest): Promise<void> {
    try {
      const rest = await this.#handshake(request);
      if (rest === undefined) return;
      if (rest.length > 0) this.#receive(rest);
      while (this.#state === "open" || this.#state === "closing") {
        const controller = this.#readableController;
        if (controller !== undefined && controller.desiredSize! <= 0) {
          // The message stream's reader is behind: stop reading until it pulls.
          await new Promise<void>((resolve) => this.#resumeReading = resolve);
          continue;
        }
        const { value, done } = await this.#byteReader.read();
        if (done) break;
        this.#receive(value);
      }
      // The peer ended the stream without completing the closing handshake.
      this.#finish(this.#closeSent ? this.#closeCode : CloseCode.Abnormal, this.#closeReason);
    } catch {
      // The transport failed (a reset, say): nothing more can be sent.
      this.#finish(
        this.#closeSent ? this.#closeCode : CloseCode.Abnormal,
        this.#closeReason,
        false,
      );
    }
  }

  // --- The opening handshake -------------------------------------------------------------------

  /** Reads and answers the handshake. Returns the bytes after the request head, or undefined. */
  async #handshake(preParsed: ParsedRequest | undefined): Promise<Uint8Array | undefined> {
    const settings = this.#settings;
    this.#timer = setTimeout(
      () => this.#finish(CloseCode.Abnormal, "Handshake timed out", false),
      settings.handshakeTimeout * 1000,
    );
    let request: ParsedRequest;
    let buffer: Uint8Array;
    try {
      const head = preParsed === undefined ? await this.#readHead() : [preParsed, EMPTY] as const;
      if (head === undefined) return undefined;
      [request, buffer] = head;
      if (!isUpgradeRequest(request) && settings.onRequest !== undefined) {
        await this.#answerHttp(request, settings.onRequest);
        return undefined;
      }
      if (!isUpgradeRequest(request)) {
        throw new HandshakeError(
          "Cannot accept request: this endpoint serves WebSocket only",
          426,
          "UPGRADE_REQUIRED",
          { Upgrade: "websocket", Connection: "Upgrade" },
        );
      }
      const upgrade = validateUpgrade(request);
      const handshake = new HandshakeRequest(upgrade, this.remoteAddr);
      this.#request = handshake;
      await this.#emitHandshake(handshake);
      if (this.#state !== "connecting") return undefined;
      const rejection = handshake.rejection ??
        (this.#rejected ? { status: 403, body: undefined } : undefined);
      if (rejection !== undefined) {
        throw new HandshakeError(
          `Cannot accept handshake: rejected with status ${rejection.status}`,
          rejection.status,
          "FORBIDDEN",
          {},
          rejection.body,
        );
      }
      this.#write([
        buildAcceptResponse(upgrade.key, {
          ...(handshake.protocol === undefined ? {} : { protocol: handshake.protocol }),
          headers: handshake.responseHeaders,
        }),
      ]);
    } catch (error) {
      if (this.#state === "connecting") this.#refuse(error);
      return undefined;
    }
    clearTimeout(this.#timer);
    this.#open();
    return buffer.subarray(request.headLength);
  }

  /** Reads until the request head is complete. Returns it with every byte read, or undefined. */
  async #readHead(): Promise<[ParsedRequest, Uint8Array] | undefined> {
    const maxHeaderSize = this.#settings.maxHeaderSize;
    let buffer = new Uint8Array(1024);
    let length = 0;
    for (;;) {
      const { value, done } = await this.#byteReader.read();
      if (this.#state !== "connecting") return undefined;
      if (done) {
        this.#finish(CloseCode.Abnormal, "Connection closed during the handshake", false);
        return undefined;
      }
      if (length + value.length > buffer.length) {
        // Grow by doubling so that a head trickled byte by byte costs linear time.
        const grown = new Uint8Array(Math.max(buffer.length * 2, length + value.length));
        grown.set(buffer.subarray(0, length));
        buffer = grown;
      }
      const scannedLength = length;
      buffer.set(value, length);
      length += value.length;
      // scannedLength lets the parser resume where it stopped: a trickled head costs linear time.
      const bytes = buffer.subarray(0, length);
      const request = parseRequestHead(bytes, maxHeaderSize, { scannedLength });
      if (request !== undefined) return [request, bytes];
    }
  }

  async #emitHandshake(request: HandshakeRequest): Promise<void> {
    this.#inHandshakeEvent = true;
    try {
      for (const listener of this.#listeners.handshake ?? []) {
        // An exception here is the server's fault: answer 500, not 403.
        try {
          await listener(this, request);
        } catch (error) {
          this.#settings.reportError(error, this);
          throw internalError();
        }
      }
    } finally {
      this.#inHandshakeEvent = false;
    }
  }

  /** Answers a plain HTTP request with the application's response, then closes. */
  async #answerHttp(
    parsed: ParsedRequest,
    onRequest: (request: Request, conn: Connection) => Response | Promise<Response>,
  ): Promise<void> {
    let response: Response;
    try {
      response = await onRequest(toRequest(parsed, { secure: this.#settings.secure }), this);
      if (!(response instanceof Response)) {
        throw new TypeError("Cannot answer request: onRequest did not return a Response");
      }
    } catch (error) {
      this.#settings.reportError(error, this);
      response = new Response("Internal Server Error", { status: 500 });
    }
    const bytes = await encodeResponse(response, { head: parsed.method === "HEAD" });
    if (this.#state !== "connecting") return;
    this.#write([bytes]);
    this.#finish(CloseCode.Abnormal, "HTTP request answered");
  }

  /** Answers a failed handshake with its HTTP status and closes. */
  #refuse(error: unknown): void {
    const failure = error instanceof HandshakeError ? error : internalError();
    if (!(error instanceof HandshakeError)) this.#settings.reportError(error, this);
    this.#write([
      buildErrorResponse(failure.status, {
        headers: failure.headers,
        ...(failure.body === undefined ? {} : { body: failure.body }),
      }),
    ]);
    this.#finish(CloseCode.Abnormal, failure.message);
  }

  #open(): void {
    this.#reader = new MessageReader({
      maxFrameSize: this.#maxFrameSize,
      maxMessageSize: this.#maxMessageSize,
      maxFragments: this.#maxFragments,
    });
    // Silence is counted from the moment the connection opens.
    this.#lastSeen = this.#settings.clock.ticks;
    this.#state = "open";
    this.#settings.onOpen(this);
    this.#emit("ready");
  }

  // --- Receiving -------------------------------------------------------------------------------

  #receive(chunk: Uint8Array): void {
    this.#lastSeen = this.#settings.clock.ticks;
    this.#pinged = false;
    try {
      this.#reader!.push(chunk, this.#onMessage);
    } catch (error) {
      this.#fail(error);
    }
  }

  readonly #onMessage = (message: Message): void => {
    // Messages behind a close frame, or behind a failure, in the same chunk are ignored.
    if (this.#state !== "closed") this.#dispatch(message);
  };

  #dispatch(message: Message): void {
    switch (message.type) {
      // RFC 6455 §1.4: after sending a close frame, incoming data is discarded.
      case "text":
        if (this.#state !== "open") return;
        this.#readableController?.enqueue(message);
        this.#emit("text", message.data);
        return;
      case "binary":
        if (this.#state !== "open") return;
        this.#readableController?.enqueue(message);
        this.#emit("binary", message.data);
        return;
      case "ping":
        // RFC 6455 §5.5.3: answer with a pong carrying the same payload.
        if (this.#state === "open") this.#write(encodeFrame(Opcode.Pong, message.data));
        this.#emit("ping", message.data);
        return;
      case "pong":
        this.#emit("pong", message.data);
        return;
      case "close":
        this.#onPeerClose(message.code, message.reason);
    }
  }

  #onPeerClose(code: number | undefined, reason: string): void {
    if (this.#closeSent) {
      // The peer answered our close: the closing handshake is complete.
      this.#finish(this.#closeCode, this.#closeReason);
      return;
    }
    // RFC 6455 §5.5.1: answer with a close frame, echoing the status code.
    this.#startClosing(code ?? CloseCode.NoStatusReceived, reason, encodeClosePayload(code));
    this.#finish(code ?? CloseCode.NoStatusReceived, reason);
  }

  // --- Sending ---------------------------------------------------------------------------------

  #canSend(): boolean {
    if (this.#state === "connecting") {
      throw new DOMException("Cannot send: the handshake has not completed", "InvalidStateError");
    }
    return this.#state === "open";
  }

  #tooBigToSend(size: number): never {
    throw new RangeError(
      `Cannot send message: ${size} bytes exceed maxSendSize of ${this.#maxSendSize}`,
    );
  }

  /** Queues a data message; returns false when it overflowed `maxBufferedAmount` (dropped). */
  #sendData(opcode: number, payload: Uint8Array): boolean {
    const length = payload.length;
    if (length > this.#maxSendSize) this.#tooBigToSend(length);
    const fragmentSize = this.#settings.fragmentSize;
    if (length <= fragmentSize) return this.#write(encodeFrame(opcode, payload));
    // RFC 6455 §5.4: the first frame carries the opcode, the rest are continuations.
    for (let offset = 0; offset < length; offset += fragmentSize) {
      const end = Math.min(offset + fragmentSize, length);
      const frame = encodeFrame(
        offset === 0 ? opcode : Opcode.Continuation,
        payload.subarray(offset, end),
        { fin: end === length },
      );
      if (!this.#write(frame)) return false;
    }
    return true;
  }

  /** Queues bytes for the next flush; returns false when they overflowed and were dropped. */
  #write(buffers: Uint8Array[]): boolean {
    for (const buffer of buffers) {
      this.#queue.push(buffer);
      this.#queuedBytes += buffer.length;
    }
    if (this.bufferedAmount > this.#settings.maxBufferedAmount) {
      this.#overflow();
      return false;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    return true;
  }

  /** The peer stopped reading and too much piled up: drop it all and close with 1008. */
  #overflow(): void {
    const error = new PolicyViolationError(
      `Cannot send: ${this.bufferedAmount} bytes queued exceed maxBufferedAmount of ` +
        `${this.#settings.maxBufferedAmount}`,
      "SEND_BUFFER_FULL",
    );
    this.#queue = [];
    this.#queuedBytes = 0;
    if (this.#state !== "open") return;
    // Sends return false from now on; the connection ends after the caller's code returns.
    this.#state = "closing";
    queueMicrotask(() => this.#finish(error.closeCode, error.message, false));
  }

  /** Resolves once `bufferedAmount` is at most `mark`, or the connection ended. */
  #bufferedAtMost(mark: number): Promise<void> {
    if (this.bufferedAmount <= mark || this.#state === "closed") return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ mark, resolve }));
  }

  /** Releases the writers whose mark `bufferedAmount` fell to (all of them once closed). */
  #releaseDrainWaiters(): void {
    if (this.#drainWaiters.length === 0) return;
    const amount = this.#state === "closed" ? -1 : this.bufferedAmount;
    const waiting = [];
    for (const waiter of this.#drainWaiters) {
      if (amount <= waiter.mark) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#drainWaiters = waiting;
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#queue.length === 0 || this.#transportClosing !== undefined) return;
    const vector = this.#queue;
    const bytes = this.#queuedBytes;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#inFlightBytes += bytes;
    this.#writer.write(vector).then(
      () => {
        this.#inFlightBytes -= bytes;
        this.#releaseDrainWaiters();
        if (this.bufferedAmount === 0) this.#emit("drain");
      },
      () => this.#finish(this.#closeSent ? this.#closeCode : CloseCode.Abnormal, "", false),
    );
  };

  // --- Closing ---------------------------------------------------------------------------------

  /** Sends our close frame and moves to `closing`. */
  #startClosing(code: number, reason: string, payload: Uint8Array): void {
    this.#closeSent = true;
    this.#closeCode = code;
    this.#closeReason = reason;
    this.#state = "closing";
    this.#write(encodeFrame(Opcode.Close, payload));
  }

  /** Fails the connection (RFC 6455 §7.1.7): sends the close frame for `error`, then closes. */
  #fail(error: unknown): void {
    if (!(error instanceof WebSocketError)) this.#settings.reportError(error, this);
    if (this.#state === "closed") return;
    const { code, reason } = closeFrameFor(error);
    if (!this.#closeSent && this.#state !== "connecting") {
      this.#startClosing(code, reason, encodeClosePayload(code, reason));
    }
    this.#finish(code, reason);
  }

  /**
   * Ends the connection once: closes the socket (after flushing, if `graceful`) and fires
   * `disconnect`.
   */
  #finish(code: number, reason: string, graceful = true): void {
    if (this.#state === "closed") return;
    const wasOpen = this.#state !== "connecting";
    this.#state = "closed";
    clearTimeout(this.#timer);
    this.#settings.onClose(this);
    void this.#closeTransport(graceful).then(() => this.#resolveClosed({ code, reason }));
    this.#readableController?.close();
    this.#readableController = undefined;
    this.#resume();
    this.#releaseDrainWaiters();
    if (wasOpen) this.#emit("disconnect", code, reason);
  }

  #resume(): void {
    const resume = this.#resumeReading;
    this.#resumeReading = undefined;
    resume?.();
  }

  /**
   * The keepalive check, called by the server's sweep with its new count: pings a connection
   * silent for half of `silenceMax` and closes one silent for all of it with 1001. A connection
   * whose reader paused it counts as heard from.
   */
  keepAlive(ticks: number): void {
    if (this.#state !== "open") return;
    if (this.#resumeReading !== undefined) this.#lastSeen = ticks;
    const silent = ticks - this.#lastSeen;
    if (silent >= CLOSE_AFTER_SWEEPS) {
      this.disconnect(CloseCode.GoingAway, "Silent for too long");
    } else if (silent >= PING_AFTER_SWEEPS && !this.#pinged) {
      this.#pinged = true;
      this.ping();
    }
  }

  /** Flushes what is queued and half-closes, bounded by `closeTimeout`; then destroys. */
  #closeTransport(graceful: boolean): Promise<void> {
    if (this.#transportClosing !== undefined) return this.#transportClosing;
    this.#flush();
    this.#transportClosing = (async () => {
      if (graceful) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#settings.closeTimeout * 1000);
        });
        // Half-close once everything queued left, then discard what the peer still sends until
        // it closes too: closing a socket with unread bytes makes the kernel send a reset, and
        // the peer may then lose our close frame.
        const flushThenDrain = this.#writer.close().catch(() => {}).then(() => this.#drain());
        await Promise.race([flushThenDrain, timeout]);
        clearTimeout(timer);
      }
      this.#byteReader.cancel().catch(() => {});
      this.#transport.close();
      await this.#transport.closed;
    })();
    return this.#transportClosing;
  }

  async #drain(): Promise<void> {
    try {
      while (!(await this.#byteReader.read()).done) { /* discard */ }
    } catch {
      // The transport failed: nothing left to drain.
    }
  }

  // --- Events ----------------------------------------------------------------------------------

  #emit<K extends keyof ConnectionEventMap>(event: K, ...args: ConnectionEventMap[K]): void {
    const listeners = (this.#listeners as Record<K, ConnectionListener<K>[] | undefined>)[event];
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        const result = listener(this, ...args);
        if (result instanceof Promise) {
          result.catch((error: unknown) => this.#settings.reportError(error, this));
        }
      } catch (error) {
        this.#settings.reportError(error, this);
      }
    }
  }
}

function internalError(): HandshakeError {
  return new HandshakeError("Cannot accept handshake: internal error", 500, "INTERNAL_ERROR");
}

function toBytes(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError("Cannot send binary: data is not bytes");
}
