/**
 * How the core drives one connection: the transport's sink, wiring the opening handshake, the
 * protocol, the send queue, the listener table and the message streams, and owning the two
 * timers of a connection: the handshake deadline and the close deadline. `Connection` is its
 * public face.
 *
 * @module
 */

import type { ParsedRequest } from "../handshake/mod.ts";
import { CloseCode, encodeClosePayload, Opcode, WebSocketError } from "../protocol/mod.ts";
import { type CloseInfo, type ConnectionEventMap, Listeners } from "./events.ts";
import { type MessageStreams, messageStreams } from "./message_streams.ts";
import { type OpeningAnswer, OpeningHandshake } from "./opening.ts";
import { Outbox } from "./outbox.ts";
import { type DataMessage, ServerProtocol } from "./protocol.ts";
import { PauseReason as Pause, ReadGate } from "./read_gate.ts";
import { Sender } from "./sender.ts";
import type { Transport, TransportSink } from "./transport.ts";

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
  secure: boolean;
  onRequest: ((request: Request, conn: Conn) => Response | Promise<Response>) | undefined;
  /** The keepalive sweep's counter: a connection remembers its value when bytes arrive. */
  clock: { ticks: number };
  reportError(error: unknown, conn: Conn): void;
  onOpen(conn: Conn): void;
  onClose(conn: Conn): void;
}

/** The incoming limits, settable until the handshake completes. */
export interface IncomingLimits {
  maxFrameSize: number;
  maxFragments: number;
  maxMessageSize: number;
}

/** Sweeps of silence after which a connection is pinged, and after which it is closed. */
const PING_AFTER_SWEEPS = 4;
const CLOSE_AFTER_SWEEPS = 8;
/** Queued bytes above which reading from the peer pauses (or `maxBufferedAmount`, if smaller). */
const SEND_HIGH_WATER_MARK = 64 * 1024;
/**
 * Bytes read after our close frame went out, to see the peer's close frame and its end, before
 * reading pauses until the close deadline (RFC 6455 §7.1.7: a failed peer is not processed).
 */
const CLOSING_READ_BUDGET = 64 * 1024;
/** Seconds a peer that overflowed `maxBufferedAmount` has to take its close frame. */
const OVERFLOW_GRACE = 1;

/** One connection as the core drives it. */
export class Session<Conn> implements TransportSink {
  readonly transport: Transport;
  readonly listeners: Listeners<Conn, ConnectionEventMap>;
  readonly protocol: ServerProtocol;
  readonly outbox: Outbox;
  readonly sender: Sender;
  readonly opening: OpeningHandshake<Conn>;
  readonly streams: MessageStreams;
  readonly limits: IncomingLimits;
  /** Resolves once the socket closed. */
  readonly closed: Promise<CloseInfo>;

  readonly #conn: Conn;
  readonly #settings: SessionSettings<Conn>;
  readonly #gate: ReadGate;
  #resolveClosed!: (info: CloseInfo) => void;
  #opened = false;
  #lastSeen = 0;
  #pinged = false;
  #peerEnded = false;
  #closingRead = 0;
  #handshakeDeadline: ReturnType<typeof setTimeout> | undefined;
  #closeDeadline: ReturnType<typeof setTimeout> | undefined;
  /** How the WebSocket ended, once it did. */
  #end: CloseInfo | undefined;

  /** The session of `conn` over `transport`. */
  constructor(conn: Conn, transport: Transport, settings: SessionSettings<Conn>) {
    this.#conn = conn;
    this.transport = transport;
    this.#settings = settings;
    this.limits = {
      maxFrameSize: settings.maxFrameSize,
      maxFragments: settings.maxFragments,
      maxMessageSize: settings.maxMessageSize,
    };
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    const gate = this.#gate = new ReadGate(transport);
    const report = (error: unknown) => settings.reportError(error, conn);
    this.listeners = new Listeners<Conn, ConnectionEventMap>(conn, report);
    this.outbox = new Outbox(transport, {
      drained: () => this.#onDrained(),
      pressure: (full) => full ? gate.pause(Pause.Sending) : gate.resume(Pause.Sending),
    }, Math.min(SEND_HIGH_WATER_MARK, settings.maxBufferedAmount));
    this.protocol = new ServerProtocol({
      message: (message) => this.#onMessage(message),
      ping: (data) => this.listeners.emit("ping", data),
      pong: (data) => this.listeners.emit("pong", data),
      send: (frame, opcode) => this.#queue(frame, opcode),
      closed: (code, reason, error) => this.#onProtocolClosed(code, reason, error),
    });
    this.sender = new Sender({
      protocol: this.protocol,
      outbox: this.outbox,
      maxBufferedAmount: settings.maxBufferedAmount,
      fragmentSize: settings.fragmentSize,
      overflow: (error) => {
        // The peer does not read: drop what waits so the close frame goes out first, and give
        // the peer a short grace to take it.
        this.outbox.clear();
        this.#startCloseDeadline(Math.min(OVERFLOW_GRACE, settings.closeTimeout));
        this.protocol.fail(error);
      },
    }, settings.maxSendSize);
    this.opening = new OpeningHandshake<Conn>({
      conn,
      secure: settings.secure,
      remoteAddr: transport.remoteAddr,
      maxHeaderSize: settings.maxHeaderSize,
      onRequest: settings.onRequest,
      emitHandshake: (request) => this.listeners.emitInTurn("handshake", request),
      reportError: report,
      pause: () => gate.pause(Pause.Handshake),
      answered: (answer) => this.#onAnswer(answer),
    });
    this.streams = messageStreams({
      isClosed: () => this.#end !== undefined,
      resumeReading: () => gate.resume(Pause.Reader),
      pauseReading: () => gate.pause(Pause.Reader),
      send: (chunk) =>
        typeof chunk === "string" ? this.sender.text(chunk) : this.sender.binary(chunk),
      whenBufferedAtMost: (mark) =>
        this.#end === undefined ? this.outbox.whenAtMost(mark) : Promise.resolve(),
      bufferedAmount: () => this.outbox.bufferedAmount,
      maxBufferedAmount: settings.maxBufferedAmount,
      disconnect: (code) => this.disconnect(code),
    });
  }

  // --- The sink: nothing thrown here reaches the runtime (rule 2 of the transport contract) ---

  /** Bytes from the peer. */
  onData(chunk: Uint8Array): void {
    this.#guard(() => this.#receive(chunk));
  }

  /** The peer half-closed. */
  onEnd(): void {
    this.#guard(() => this.#onEnd());
  }

  /** The transport has room again. */
  onDrain(): void {
    this.#guard(() => this.outbox.onDrain());
  }

  /** The socket closed. */
  onClose(): void {
    this.#guard(() => {
      const { code, reason } = this.protocol.abort();
      this.#conclude(code, reason);
      clearTimeout(this.#closeDeadline);
      this.#resolveClosed(this.#end!);
    });
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      // A bug of the core: report it and drop this connection, never the runtime's loop.
      this.#settings.reportError(error, this.#conn);
      this.#finishNow(CloseCode.Abnormal, "Internal error");
    }
  }

  // --- Driven by the server and the application -------------------------------------------

  /** Starts the handshake deadline; `request` is a head already read (an HTTP upgrade). */
  start(request?: ParsedRequest): void {
    this.#handshakeDeadline = setTimeout(
      () => this.#finishNow(CloseCode.Abnormal, "Handshake timed out"),
      this.#settings.handshakeTimeout * 1000,
    );
    if (request !== undefined) this.opening.answer(request);
  }

  /** See `Connection.disconnect`. */
  disconnect(code: number, reason = ""): void {
    encodeClosePayload(code, reason);
    const state = this.protocol.state;
    if (state === "connecting") {
      if (!this.opening.reject()) {
        this.#finishAfterFlush(CloseCode.Abnormal, "Disconnected before handshake");
      }
      return;
    }
    if (state !== "open") return;
    this.protocol.close(code, reason);
    this.#startCloseDeadline(this.#settings.closeTimeout);
  }

  /** Destroys the socket at once, without a closing handshake. */
  abort(): void {
    const { code, reason } = this.protocol.abort();
    this.#finishNow(code, reason);
  }

  /**
   * The keepalive check, with the server's sweep count: pings a connection silent for half of
   * `silenceMax` and closes one silent for all of it with 1001. A connection whose message
   * reader paused it counts as heard from.
   */
  keepAlive(ticks: number): void {
    if (this.protocol.state !== "open") return;
    if (this.#gate.has(Pause.Reader)) this.#lastSeen = ticks;
    const silent = ticks - this.#lastSeen;
    if (silent >= CLOSE_AFTER_SWEEPS) {
      this.disconnect(CloseCode.GoingAway, "Silent for too long");
    } else if (silent >= PING_AFTER_SWEEPS && !this.#pinged) {
      this.#pinged = true;
      this.sender.ping();
    }
  }

  // --- Opening ------------------------------------------------------------------------------

  #onAnswer(answer: OpeningAnswer): void {
    // The connection may have been dropped while the answer was made.
    if (this.#end !== undefined) return;
    this.outbox.push([answer.response]);
    if (answer.accepted === undefined) this.#finishAfterFlush(CloseCode.Abnormal, answer.reason);
    else this.#open();
  }

  #open(): void {
    clearTimeout(this.#handshakeDeadline);
    this.protocol.open(this.limits);
    this.#opened = true;
    // Silence is counted from the moment the connection opens.
    this.#lastSeen = this.#settings.clock.ticks;
    this.#settings.onOpen(this.#conn);
    this.listeners.emit("ready");
    for (const chunk of this.opening.takeEarly()) this.#receive(chunk);
    this.#gate.resume(Pause.Handshake);
    if (this.#peerEnded) this.#onEnd();
  }

  // --- Receiving ----------------------------------------------------------------------------

  #receive(chunk: Uint8Array): void {
    if (this.#end !== undefined || this.protocol.state === "closing") {
      // After our close frame, the peer's bytes are counted: up to a budget they are read for its
      // close frame (while CLOSING) or its end (once closed), then reading pauses.
      this.#closingRead += chunk.length;
      if (this.#closingRead > CLOSING_READ_BUDGET) this.#gate.pause(Pause.Closed);
      if (this.#end !== undefined) return;
    }
    if (this.#opened) {
      this.#lastSeen = this.#settings.clock.ticks;
      this.#pinged = false;
      this.protocol.receive(chunk);
    } else {
      this.opening.receive(chunk);
    }
  }

  #onMessage(message: DataMessage): void {
    this.streams.enqueue(message);
    if (message.type === "text") this.listeners.emit("text", message.data);
    else this.listeners.emit("binary", message.data);
  }

  #onEnd(): void {
    this.#peerEnded = true;
    if (this.#end === undefined) {
      if (this.opening.readingHead) {
        this.#finishNow(CloseCode.Abnormal, "Connection closed during the handshake");
        return;
      }
      // The head is being answered: the answer goes out first.
      if (!this.#opened) return;
      // The peer ended the stream without completing the closing handshake.
      const { code, reason } = this.protocol.abort();
      this.#finishAfterFlush(code, reason);
    }
    this.#releaseIfDone();
  }

  // --- Sending ------------------------------------------------------------------------------

  #queue(frame: Uint8Array[], opcode: number): boolean {
    if (opcode === Opcode.Pong) this.outbox.pushPong(frame[0]!);
    else this.outbox.push(frame);
    return true;
  }

  #onDrained(): void {
    if (this.#end === undefined) this.listeners.emit("drain");
    this.#releaseIfDone();
  }

  // --- Closing ------------------------------------------------------------------------------

  #onProtocolClosed(code: number, reason: string, error: unknown): void {
    if (error !== undefined && !(error instanceof WebSocketError)) {
      this.#settings.reportError(error, this.#conn);
    }
    this.#finishAfterFlush(code, reason);
  }

  /** Ends the WebSocket, sends what is queued, half-closes, and waits for the peer's end. */
  #finishAfterFlush(code: number, reason: string): void {
    this.#conclude(code, reason);
    this.#startCloseDeadline(this.#settings.closeTimeout);
    this.outbox.end();
  }

  /** Ends the WebSocket and destroys the socket at once, dropping what is queued. */
  #finishNow(code: number, reason: string): void {
    this.#conclude(code, reason);
    this.outbox.clear();
    this.transport.destroy();
  }

  /** Both sides ended and everything left: let go of the socket. */
  #releaseIfDone(): void {
    const outbox = this.outbox;
    if (this.#peerEnded && outbox.ended && outbox.bufferedAmount === 0) this.transport.destroy();
  }

  #startCloseDeadline(seconds: number): void {
    if (this.#closeDeadline !== undefined) return;
    this.#closeDeadline = setTimeout(() => this.abort(), seconds * 1000);
  }

  /** The WebSocket ended: once, whatever ended it. */
  #conclude(code: number, reason: string): void {
    if (this.#end !== undefined) return;
    this.protocol.abort();
    this.#end = { code, reason };
    clearTimeout(this.#handshakeDeadline);
    this.#settings.onClose(this.#conn);
    this.streams.close();
    this.#gate.resume(Pause.Reader);
    this.#gate.resume(Pause.Handshake);
    this.outbox.releaseAll();
    if (this.#opened) this.listeners.emit("disconnect", code, reason);
  }
}
