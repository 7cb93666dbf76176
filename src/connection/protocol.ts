/**
 * The server side of the WebSocket protocol once the opening handshake is done, sans-I/O: bytes
 * in, events and frames out. It never touches a socket or a clock; the connection drives it.
 *
 * States and their transitions (RFC 6455 §4, §5.5.1, §7):
 *
 * ```
 * CONNECTING --open()--------------------> OPEN      the 101 response was sent
 * OPEN       --close(code)---------------> CLOSING   our close frame is out; the peer's awaited
 * OPEN       --peer's close frame--------> CLOSED    echoed with its code (§5.5.1)
 * CLOSING    --peer's close frame--------> CLOSED    the closing handshake is complete
 * OPEN       --fail(error) or bad input--> CLOSED    the close frame for the error is out (§7.1.7)
 * CLOSING    --fail(error) or bad input--> CLOSED    no second close frame
 * any        --abort()-------------------> CLOSED    the socket is gone: no frame
 * ```
 *
 * Data messages are delivered only in OPEN; pings are answered only in OPEN (§1.4: after sending
 * a close frame, what the peer sends is discarded); nothing is read in CLOSED.
 *
 * @module
 */

import type { Compressor, Decompressor } from "./compression.ts";
import { DeflateSender } from "./deflate_sender.ts";
import { MessageInflater } from "./message_inflater.ts";
import {
  CloseCode,
  closeFrameFor,
  encodeClosePayload,
  encodeFrame,
  type Message,
  MessageReader,
  type MessageReaderOptions,
  Opcode,
} from "../protocol/mod.ts";

/** permessage-deflate for one connection, as the opening handshake agreed to it. */
export interface ProtocolDeflate {
  /** The connection's deflater. */
  compressor: Compressor;
  /** The connection's inflater. */
  decompressor: Decompressor;
  /** Messages shorter than this go uncompressed. */
  threshold: number;
  /** Compressed payloads longer than this go as several frames. */
  fragmentSize: number;
  /** Stop reading: compressed messages wait for the inflater. */
  pause(): void;
  /** Read again. */
  resume(): void;
  /** Told of every message the connection's own compressor is given. */
  onCompress?: (() => void) | undefined;
}

/** Where the protocol is; see the module's transitions. */
export type ProtocolState = "connecting" | "open" | "closing" | "closed";

/** A data message, as the protocol delivers it. */
export type DataMessage = { type: "text"; data: string } | { type: "binary"; data: Uint8Array };

/** What a {@linkcode ServerProtocol} tells its driver. */
export interface ProtocolHandler {
  /** A text or binary message arrived (OPEN only). */
  message(message: DataMessage): void;
  /** A ping arrived; its pong was already handed to `send` when OPEN. */
  ping(data: Uint8Array): void;
  /** A pong arrived. */
  pong(data: Uint8Array): void;
  /**
   * A frame to send, as header and payload buffers. Returns `false` when it could not be queued;
   * the driver then decides what happens to the connection.
   */
  send(frame: readonly Uint8Array[], opcode: number): boolean;
  /**
   * The protocol reached CLOSED through a close frame or a failure: `code` and `reason` are what
   * the connection reports, `error` is the failure, if one.
   */
  ended(code: number, reason: string, error?: unknown): void;
}

/** How the protocol ended: the close code and reason it reports. */
export interface ProtocolEnd {
  /** The close code; 1006 when no close frame was exchanged. */
  code: number;
  /** The close reason. */
  reason: string;
}

/**
 * The server's protocol state machine over a {@linkcode MessageReader}.
 *
 * @example Answer a ping (RFC 6455 §5.7 bytes)
 * ```ts
 * import { ServerProtocol } from "./protocol.ts";
 * import assert from "node:assert/strict";
 *
 * const sent: number[][] = [];
 * const protocol = new ServerProtocol({
 *   message() {},
 *   ping() {},
 *   pong() {},
 *   send: (frame) => (sent.push(frame.flatMap((buffer) => [...buffer])), true),
 *   ended() {},
 * });
 * protocol.open();
 * // A masked ping with the payload "Hello".
 * protocol.receive(
 *   new Uint8Array([0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
 * );
 * // The unmasked pong with the same payload.
 * assert.deepEqual(sent, [[0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]]);
 * ```
 */
export class ServerProtocol {
  readonly #handler: ProtocolHandler;
  #state: ProtocolState = "connecting";
  #reader: MessageReader | undefined;
  #deflate:
    | { codec: ProtocolDeflate; inflater: MessageInflater; sender: DeflateSender }
    | undefined;
  /** The close we sent, once we did. */
  #sent: ProtocolEnd | undefined;
  /** The socket is gone. */
  #aborted = false;

  /** A protocol in CONNECTING that reports to `handler`. */
  constructor(handler: ProtocolHandler) {
    this.#handler = handler;
  }

  /** The current state. */
  get state(): ProtocolState {
    return this.#state;
  }

  /**
   * CONNECTING → OPEN, with the incoming limits of this connection and, when it was agreed,
   * permessage-deflate: compressed messages are inflated and delivered in their place among the
   * others (RFC 7692 §6), data messages at or above the threshold go compressed.
   */
  open(limits: MessageReaderOptions = {}, deflate?: ProtocolDeflate): void {
    if (this.#state !== "connecting") return;
    if (deflate === undefined) {
      this.#reader = new MessageReader(limits);
    } else {
      const inflater = new MessageInflater({
        decompressor: deflate.decompressor,
        maxMessageSize: limits.maxMessageSize ?? Infinity,
        deliver: this.#dispatch,
        fail: (error) => this.fail(error),
        pause: deflate.pause,
        resume: deflate.resume,
      });
      this.#deflate = {
        codec: deflate,
        inflater,
        sender: new DeflateSender({
          compressor: deflate.compressor,
          threshold: deflate.threshold,
          fragmentSize: deflate.fragmentSize,
          write: (frames) => this.#handler.send(frames, Opcode.Continuation),
          fail: (error) => this.fail(error),
          onCompress: deflate.onCompress,
        }),
      };
      this.#onMessage = (message) => inflater.push(message);
      this.#reader = new MessageReader({
        ...limits,
        onCompressed: (message) => inflater.push(message),
      });
    }
    this.#state = "open";
  }

  /** Bytes of messages still being compressed, which the send buffer counts too. */
  get compressing(): number {
    return this.#deflate?.sender.pendingBytes ?? 0;
  }

  /** Whether permessage-deflate is on: data frames then go through its queue. */
  get deflating(): boolean {
    return this.#deflate !== undefined;
  }

  /**
   * Holds (or releases) compressed messages and those queued behind them, so that a full message
   * stream does not fill further with what a few compressed bytes inflate to. Without
   * permessage-deflate there is nothing to hold: pausing the transport is enough.
   */
  holdMessages(held: boolean): void {
    const inflater = this.#deflate?.inflater;
    if (held) inflater?.hold();
    else inflater?.release();
  }

  /**
   * Drops the messages waiting to be compressed or behind one, as the send queue is dropped when
   * the peer is too far behind, so that a close frame sent next goes out first.
   */
  dropQueued(): void {
    this.#deflate?.sender.clear();
  }

  /** Settles once every message being compressed so far was handed on (at once without any). */
  compressed(): Promise<void> {
    return this.#deflate?.sender.idle() ?? Promise.resolve();
  }

  /** Feeds bytes from the peer. In CLOSED they are ignored. */
  receive(chunk: Uint8Array): void {
    if (this.#reader === undefined || this.#state === "closed") return;
    try {
      this.#reader.push(chunk, this.#onMessage);
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Sends a data message, split into frames of at most `fragmentSize` bytes (RFC 6455 §5.4: the
   * first carries the opcode, the rest are continuations). Returns `false` outside OPEN, or when
   * a frame could not be queued.
   */
  sendMessage(opcode: number, payload: Uint8Array, fragmentSize: number = Infinity): boolean {
    if (this.#state !== "open") return false;
    if (this.#deflate !== undefined) {
      this.#deflate.sender.send(opcode, payload);
      return true;
    }
    const length = payload.length;
    if (length <= fragmentSize) return this.#handler.send(encodeFrame(opcode, payload), opcode);
    for (let offset = 0; offset < length; offset += fragmentSize) {
      const end = Math.min(offset + fragmentSize, length);
      const frame = encodeFrame(
        offset === 0 ? opcode : Opcode.Continuation,
        payload.subarray(offset, end),
        { fin: end === length },
      );
      if (!this.#handler.send(frame, Opcode.Continuation)) return false;
    }
    return true;
  }

  /**
   * With permessage-deflate, sends data frames built once for many connections (a publish, as
   * frames of `size` bytes) behind the messages still being compressed, so they cannot overtake
   * them. Returns `false` outside OPEN or without the extension.
   */
  sendBuilt(frames: readonly Uint8Array[][], size: number): boolean {
    if (this.#state !== "open" || this.#deflate === undefined) return false;
    this.#deflate.sender.sendFrames(frames.length === 1 ? frames[0]! : frames.flat(), size);
    return true;
  }

  /**
   * With permessage-deflate, sends the frames of a message compressed once for many
   * `server_no_context_takeover` connections, in its place once they are ready; `size` is the
   * uncompressed size, counted in `compressing` meanwhile. Returns `false` outside OPEN or
   * without the extension.
   */
  sendLater(frames: Promise<readonly Uint8Array[]>, size: number): boolean {
    if (this.#state !== "open" || this.#deflate === undefined) return false;
    this.#deflate.sender.sendLater(frames, size);
    return true;
  }

  /** Sends a ping (OPEN only); the payload was checked to fit a control frame. */
  ping(payload: Uint8Array): boolean {
    if (this.#state !== "open") return false;
    return this.#handler.send(encodeFrame(Opcode.Ping, payload), Opcode.Ping);
  }

  /**
   * OPEN → CLOSING: sends a close frame. Throws a `RangeError` for a code that may not be sent
   * or a reason longer than 123 bytes, in any state.
   */
  close(code: number, reason: string): void {
    const payload = encodeClosePayload(code, reason);
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#sendClose(code, reason, payload);
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): sends the close frame for `error` unless one was
   * sent, and goes to CLOSED. The one mapping of errors to close frames is `closeFrameFor`.
   */
  fail(error: unknown): void {
    if (this.#state === "closed" || this.#state === "connecting") return;
    const { code, reason } = closeFrameFor(error);
    if (this.#sent === undefined) this.#sendClose(code, reason, encodeClosePayload(code, reason));
    this.#end(code, reason, error);
  }

  /** Goes to CLOSED without a frame, because the socket is gone; returns what to report. */
  abort(): ProtocolEnd {
    this.#state = "closed";
    this.#aborted = true;
    this.#releaseDeflate(true);
    return this.#sent ?? { code: CloseCode.Abnormal, reason: "" };
  }

  #onMessage: (message: Message) => void = (message) => this.#dispatch(message);

  readonly #dispatch = (message: Message): void => {
    const state = this.#state;
    switch (message.type) {
      case "text":
      case "binary":
        if (state === "open") this.#handler.message(message);
        return;
      case "ping":
        if (state === "closed") return;
        // RFC 6455 §5.5.3: answer with a pong carrying the same payload.
        if (state === "open") {
          this.#handler.send(encodeFrame(Opcode.Pong, message.data), Opcode.Pong);
        }
        this.#handler.ping(message.data);
        return;
      case "pong":
        if (state !== "closed") this.#handler.pong(message.data);
        return;
      case "close":
        this.#onPeerClose(message.code, message.reason);
    }
  };

  #onPeerClose(code: number | undefined, reason: string): void {
    if (this.#state === "closed") return;
    if (this.#sent !== undefined) {
      // The peer answered our close: the closing handshake is complete.
      this.#end(this.#sent.code, this.#sent.reason);
      return;
    }
    // RFC 6455 §5.5.1: answer with a close frame, echoing the status code.
    const reported = code ?? CloseCode.NoStatusReceived;
    this.#sendClose(reported, reason, encodeClosePayload(code));
    this.#end(reported, reason);
  }

  #sendClose(code: number, reason: string, payload: Uint8Array): void {
    this.#sent = { code, reason };
    const frame = encodeFrame(Opcode.Close, payload);
    // The close frame goes after the messages still being compressed (RFC 6455 §5.5.1).
    if (this.#deflate !== undefined) this.#deflate.sender.sendFrames(frame);
    else this.#handler.send(frame, Opcode.Close);
  }

  #end(code: number, reason: string, error?: unknown): void {
    this.#state = "closed";
    const sender = this.#deflate?.sender;
    this.#releaseDeflate(false);
    if (sender === undefined || !sender.busy) {
      this.#handler.ended(code, reason, error);
      return;
    }
    // The close frame waits behind messages still being compressed: the end is told once it was
    // handed on, so that the driver does not end the socket before it (RFC 6455 §5.5.1).
    void sender.idle().then(() => {
      if (!this.#aborted) this.#handler.ended(code, reason, error);
    });
  }

  /** Frees zlib: at once when the socket is gone, else once the close frame was handed on. */
  #releaseDeflate(now: boolean): void {
    const deflate = this.#deflate;
    if (deflate === undefined) return;
    this.#deflate = undefined;
    deflate.inflater.close();
    const release = () => {
      deflate.sender.close();
      deflate.codec.compressor.close();
      deflate.codec.decompressor.close();
    };
    if (now) release();
    else void deflate.sender.idle().then(release);
  }
}
