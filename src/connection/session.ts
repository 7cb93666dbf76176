/**
 * How the core drives one connection: the transport's sink, wiring the opening handshake, the
 * protocol, the send queue, the listener table and the message streams, and owning the two
 * timers of a connection: the handshake deadline and the close deadline. `Connection` is its
 * public face.
 *
 * @module
 */

import type { ParsedRequest, PerMessageDeflateParams } from "../handshake/mod.ts";
import {
  CloseCode,
  encodeClosePayload,
  Opcode,
  type PolicyViolationError,
  WebSocketError,
} from "../protocol/mod.ts";
import { type CloseInfo, type ConnectionEventMap, Listeners } from "./events.ts";
import type { HandshakeRequest } from "./handshake_request.ts";
import { type MessageStreams, messageStreams } from "./message_streams.ts";
import { type OpeningAnswer, OpeningHandshake, type OpeningHost } from "./opening.ts";
import { Outbox, type OutboxHandler } from "./outbox.ts";
import {
  type DataMessage,
  type ProtocolDeflate,
  type ProtocolHandler,
  ServerProtocol,
} from "./protocol.ts";
import { PauseReason as Pause, ReadGate } from "./read_gate.ts";
import { Sender, type SenderHost } from "./sender.ts";
import type { ConnectionDeflateSettings, IncomingLimits, SessionSettings } from "./settings.ts";
import type { CompressionFactory, CompressorOptions } from "./compression.ts";
import type { SubscriberDeflate, TopicHost, TopicSubscriber } from "./topics.ts";
import type { Transport, TransportSink } from "./transport.ts";

/** Queued bytes above which reading from the peer pauses (or `maxBufferedAmount`, if smaller). */
const SEND_HIGH_WATER_MARK = 64 * 1024;
/**
 * Bytes read after the connection ended, to see the peer's close frame and end, before reading
 * pauses until the close deadline (RFC 6455 §7.1.7: a failed peer is not processed). Reading
 * pauses as the connection ends and resumes `CLOSING_LOOK_MS` later only if the runtime holds
 * less than this by then: a peer that went on sending is read no further (Node reads one more
 * chunk into its buffer after a pause, and then one more after every resume), and one that
 * answers with its close frame is heard.
 */
const CLOSING_READ_BUDGET = 16 * 1024;
/** Milliseconds after the end at which what the peer sent meanwhile is looked at. */
const CLOSING_LOOK_MS = 20;
/** Seconds a peer that overflowed `maxBufferedAmount` has to take its close frame. */
const OVERFLOW_GRACE = 1;

/**
 * One connection as the core drives it. It is itself the handler of each part (protocol events,
 * outbox pressure, the sender's limits, the opening handshake's host), so that a connection
 * costs no closures; none of this is public API.
 */
export class Session<Conn>
  implements
    TransportSink,
    ProtocolHandler,
    OutboxHandler,
    SenderHost,
    OpeningHost<Conn>,
    TopicSubscriber<Conn> {
  readonly conn: Conn;
  readonly transport: Transport;
  readonly listeners: Listeners<Conn, ConnectionEventMap>;
  readonly protocol: ServerProtocol;
  readonly outbox: Outbox;
  readonly sender: Sender;
  readonly opening: OpeningHandshake<Conn>;
  readonly limits: IncomingLimits;
  /** permessage-deflate as this connection offers it; settable until the answer is decided. */
  perMessageDeflate: ConnectionDeflateSettings | undefined;
  /** Resolves once the socket closed. */
  readonly closed: Promise<CloseInfo>;
  /** permessage-deflate as agreed, for publishes; set when the connection opens with it. */
  deflate: SubscriberDeflate | undefined = undefined;

  readonly #settings: SessionSettings<Conn>;
  readonly #gate: ReadGate;
  #streams: MessageStreams | undefined;
  #resolveClosed!: (info: CloseInfo) => void;
  #opened = false;
  #peerEnded = false;
  #closingRead = 0;
  #handshakeDeadline: ReturnType<typeof setTimeout> | undefined;
  #closeDeadline: ReturnType<typeof setTimeout> | undefined;
  /** The look, shortly after the end, at what the peer sent meanwhile. */
  #closingLook: ReturnType<typeof setTimeout> | undefined;
  /** How the WebSocket ended, once it did. */
  #end: CloseInfo | undefined;

  /** The session of `conn` over `transport`. */
  constructor(conn: Conn, transport: Transport, settings: SessionSettings<Conn>) {
    this.conn = conn;
    this.transport = transport;
    this.#settings = settings;
    this.limits = {
      maxFrameSize: settings.maxFrameSize,
      maxFragments: settings.maxFragments,
      maxMessageSize: settings.maxMessageSize,
    };
    this.perMessageDeflate = settings.perMessageDeflate;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#gate = new ReadGate(transport);
    this.listeners = new Listeners<Conn, ConnectionEventMap>(conn, this);
    this.outbox = new Outbox(
      transport,
      this,
      Math.min(SEND_HIGH_WATER_MARK, settings.maxBufferedAmount),
    );
    this.protocol = new ServerProtocol(this);
    this.sender = new Sender(this, settings);
    this.opening = new OpeningHandshake<Conn>(this, settings);
  }

  /** The message streams, built on first use. */
  get streams(): MessageStreams {
    this.#streams ??= messageStreams({
      isClosed: () => this.#end !== undefined,
      resumeReading: () => {
        this.#gate.resume(Pause.Reader);
        this.protocol.holdMessages(false);
      },
      pauseReading: () => {
        this.#gate.pause(Pause.Reader);
        // What is already read stays compressed until the reader catches up.
        this.protocol.holdMessages(true);
      },
      send: (chunk) =>
        typeof chunk === "string" ? this.sender.text(chunk) : this.sender.binary(chunk),
      whenBufferedAtMost: (mark) => this.#whenBufferedAtMost(mark),
      bufferedAmount: () => this.bufferedAmount,
      maxBufferedAmount: this.#settings.maxBufferedAmount,
      disconnect: (code) => this.disconnect(code),
    });
    return this.#streams;
  }

  /**
   * Resolves once at most `mark` bytes wait to be sent, counting messages still being
   * compressed, or once the connection ended.
   */
  async #whenBufferedAtMost(mark: number): Promise<void> {
    while (this.#end === undefined && this.bufferedAmount > mark) {
      // Compressed messages move to the outbox in send order, smaller than they were counted.
      if (this.protocol.compressing > 0) await this.protocol.compressed();
      else await this.outbox.whenAtMost(mark);
    }
  }

  /** permessage-deflate as the server offers it. */
  get serverDeflate(): ConnectionDeflateSettings | undefined {
    return this.#settings.perMessageDeflate;
  }

  /** The server's topics. */
  get topics(): TopicHost<Conn> {
    const topics = this.#settings.topics;
    if (topics === undefined) {
      throw new TypeError("Cannot use topics: the connection belongs to no server");
    }
    return topics;
  }

  /** Whether the WebSocket is closing or closed: it takes no new subscriptions. */
  get ending(): boolean {
    return this.#end !== undefined || this.protocol.state === "closing";
  }

  // --- A subscriber of the server's topics --------------------------------------------------

  /** Bytes queued for the peer, and those of messages waiting to be compressed. */
  get bufferedAmount(): number {
    const queued = this.outbox.bufferedAmount;
    return this.deflate === undefined ? queued : queued + this.protocol.compressing;
  }

  /** Queues data frames built once for many connections (a publish); false once closing. */
  pushFrames(frames: readonly Uint8Array[][], bytes: number): boolean {
    return this.sender.frames(frames, bytes);
  }

  /** Queues a publish compressed once for many connections; false once closing. */
  pushCompressed(frames: Promise<readonly Uint8Array[]>, size: number): boolean {
    return this.sender.later(frames, size);
  }

  /** Sends a publish through this connection's compressor; false once closing. */
  pushMessage(opcode: number, payload: Uint8Array): boolean {
    return this.sender.message(opcode, payload);
  }

  /** A publish found this connection too far behind: it fails with 1008, as on overflow. */
  closeSlow(error: PolicyViolationError): void {
    if (this.protocol.state === "open") this.overflow(error);
  }

  /** Reports what application code threw. */
  reportError(error: unknown): void {
    this.#settings.reportError(error, this.conn);
  }

  // --- The sink: nothing thrown here reaches the runtime (rule 2 of the transport contract) ---

  /** Bytes from the peer. */
  onData(chunk: Uint8Array): void {
    try {
      this.#receive(chunk);
    } catch (error) {
      this.#internalError(error);
    }
  }

  /** The peer half-closed. */
  onEnd(): void {
    try {
      this.#onEnd();
    } catch (error) {
      this.#internalError(error);
    }
  }

  /** The transport has room again. */
  onDrain(): void {
    try {
      this.outbox.onDrain();
    } catch (error) {
      this.#internalError(error);
    }
  }

  /** The socket closed. */
  onClose(): void {
    try {
      const { code, reason } = this.protocol.abort();
      this.#conclude(code, reason);
    } catch (error) {
      this.reportError(error);
    }
    clearTimeout(this.#closeDeadline);
    clearTimeout(this.#closingLook);
    this.#resolveClosed(this.#end ?? { code: CloseCode.Abnormal, reason: "" });
  }

  /** A bug of the core: reported, and only this connection is dropped. */
  #internalError(error: unknown): void {
    this.reportError(error);
    this.#finishNow(CloseCode.Abnormal, "Internal error");
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
    const verdict = this.#gate.silence(ticks);
    if (verdict === "close") this.disconnect(CloseCode.GoingAway, "Silent for too long");
    else if (verdict === "ping") this.sender.ping();
  }

  // --- Opening ------------------------------------------------------------------------------

  /** Runs the `handshake` listeners in turn. */
  emitHandshake(request: HandshakeRequest): Promise<void> {
    return this.listeners.emitInTurn("handshake", request);
  }

  /** The head is complete: reading waits for the answer. */
  headComplete(): void {
    this.#gate.pause(Pause.Handshake);
  }

  /** The answer to the head: sent, then the connection opens or closes. */
  answered(answer: OpeningAnswer): void {
    // The connection may have been dropped while the answer was made.
    if (this.#end !== undefined) return;
    this.outbox.pushResponse(answer.response);
    if (answer.accepted === undefined) this.#finishAfterFlush(CloseCode.Abnormal, answer.reason);
    else this.#open(answer.deflate);
  }

  #open(agreed: PerMessageDeflateParams | undefined): void {
    clearTimeout(this.#handshakeDeadline);
    this.protocol.open(this.limits, this.#deflate(agreed));
    this.#opened = true;
    // Silence is counted from the moment the connection opens.
    this.#gate.heard(this.#settings.clock.ticks);
    this.#settings.onOpen(this.conn);
    this.listeners.emit("ready");
    for (const chunk of this.opening.takeEarly()) this.#receive(chunk);
    this.#gate.resume(Pause.Handshake);
    if (this.#peerEnded) this.#onEnd();
  }

  /** The codecs for what the opening handshake agreed to (RFC 7692 §7.1), made lazily by zlib. */
  #deflate(agreed: PerMessageDeflateParams | undefined): ProtocolDeflate | undefined {
    const offered = this.perMessageDeflate;
    const factory = this.#settings.compression;
    if (agreed === undefined || offered === undefined || factory === undefined) return undefined;
    const compressor = {
      windowBits: agreed.serverMaxWindowBits,
      memLevel: offered.memLevel,
      level: offered.level,
      noContextTakeover: agreed.serverNoContextTakeover,
    };
    this.deflate = subscriberDeflate(factory, compressor, offered.threshold);
    const metrics = this.#settings.metrics;
    return {
      compressor: factory.createCompressor(compressor),
      decompressor: factory.createDecompressor({
        windowBits: agreed.clientMaxWindowBits,
        noContextTakeover: agreed.clientNoContextTakeover,
      }),
      threshold: offered.threshold,
      fragmentSize: this.#settings.fragmentSize,
      pause: () => this.#gate.pause(Pause.Inflating),
      resume: () => this.#gate.resume(Pause.Inflating),
      onCompress: metrics === undefined ? undefined : () => metrics.compressed(),
    };
  }

  // --- Receiving ----------------------------------------------------------------------------

  #receive(chunk: Uint8Array): void {
    if (this.#end !== undefined) {
      // After the end (a failure, or a completed closing handshake) the peer's bytes are not
      // processed (RFC 6455 §7.1.7): up to a budget they are read to see its end, then reading
      // pauses until the close deadline.
      this.#closingRead += chunk.length;
      if (this.#closingRead >= CLOSING_READ_BUDGET) this.#gate.pause(Pause.Closed);
      return;
    }
    if (this.#opened) {
      this.#gate.heard(this.#settings.clock.ticks);
      this.#settings.metrics?.received(chunk.length);
      this.protocol.receive(chunk);
    } else {
      this.opening.receive(chunk);
    }
  }

  /** A message from the protocol. */
  message(message: DataMessage): void {
    this.#settings.metrics?.messageIn();
    this.#streams?.enqueue(message);
    if (message.type === "text") {
      this.listeners.emit("text", message.data);
      this.listeners.emit("message", message.data, false);
    } else {
      this.listeners.emit("binary", message.data);
      this.listeners.emit("message", message.data, true);
    }
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

  /** A ping from the peer, already answered. */
  ping(data: Uint8Array): void {
    this.listeners.emit("ping", data);
  }

  /** A pong from the peer. */
  pong(data: Uint8Array): void {
    this.listeners.emit("pong", data);
  }

  // --- Sending ------------------------------------------------------------------------------

  /** A frame from the protocol, for the outbox; a pong takes the place of one not yet sent. */
  send(frame: readonly Uint8Array[], opcode: number): boolean {
    if (opcode === Opcode.Pong) this.outbox.pushPong(frame[0]!);
    else this.outbox.push(frame as Uint8Array[]);
    const metrics = this.#settings.metrics;
    if (metrics !== undefined) {
      let bytes = 0;
      for (const buffer of frame) bytes += buffer.length;
      metrics.sent(bytes);
    }
    return true;
  }

  /** Reading stops while much waits for the peer, and resumes once a quarter of it is left. */
  pressure(full: boolean): void {
    if (full) this.#gate.pause(Pause.Sending);
    else this.#gate.resume(Pause.Sending);
  }

  /**
   * More than `maxBufferedAmount` waits: the peer does not read. What waits is dropped, so the
   * close frame goes out first, and the peer gets a short grace to take it.
   */
  overflow(error: WebSocketError): void {
    this.outbox.clear();
    this.protocol.dropQueued();
    this.#startCloseDeadline(Math.min(OVERFLOW_GRACE, this.#settings.closeTimeout));
    this.protocol.fail(error);
  }

  /** Everything queued left; `drain` waits for messages still being compressed, if any. */
  drained(): void {
    if (this.#end === undefined && this.protocol.compressing === 0) this.listeners.emit("drain");
    this.#releaseIfDone();
  }

  // --- Closing ------------------------------------------------------------------------------

  /** The protocol reached CLOSED through a close frame or a failure. */
  ended(code: number, reason: string, error?: unknown): void {
    if (error !== undefined && !(error instanceof WebSocketError)) this.reportError(error);
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

  /**
   * The WebSocket ended while the peer may go on sending: reading stops at once. A runtime may
   * still read what it had under way (Node reads one more chunk into its buffer after a pause);
   * a little later, what it holds decides whether reading resumes within the budget.
   */
  #pauseAfterEnd(): void {
    this.#gate.pause(Pause.Closed);
    this.#closingLook = setTimeout(() => {
      this.#closingLook = undefined;
      if ((this.transport.heldAmount ?? 0) < CLOSING_READ_BUDGET) this.#gate.resume(Pause.Closed);
    }, CLOSING_LOOK_MS);
  }

  /** The WebSocket ended: once, whatever ended it. */
  #conclude(code: number, reason: string): void {
    if (this.#end !== undefined) return;
    this.protocol.abort();
    this.#end = { code, reason };
    clearTimeout(this.#handshakeDeadline);
    this.#settings.onClose(this.conn, code);
    this.#streams?.close();
    this.#gate.resume(Pause.Reader);
    this.#gate.resume(Pause.Handshake);
    if (!this.#peerEnded) this.#pauseAfterEnd();
    this.outbox.releaseAll();
    if (this.#opened) this.listeners.emit("disconnect", code, reason);
  }
}

/** How this connection takes publishes (see {@linkcode SubscriberDeflate}). */
function subscriberDeflate(
  factory: CompressionFactory,
  compressor: CompressorOptions,
  threshold: number,
): SubscriberDeflate {
  if (!compressor.noContextTakeover) return { threshold, shared: undefined };
  const { windowBits, memLevel, level } = compressor;
  return {
    threshold,
    shared: {
      factory,
      options: { windowBits, memLevel, level },
      key: `${windowBits}/${memLevel}/${level}`,
    },
  };
}
