/**
 * The send side of the connection's API: checks a message against the connection's state and
 * limits, frames it through the protocol, and holds the send queue to `maxBufferedAmount`.
 *
 * `maxBufferedAmount` bounds what may wait *ahead of* a new message or ping: it is accepted while
 * at most that much is queued, so one message of up to `maxSendSize` always fits, whatever the
 * two limits are. What a connection holds to send is therefore at most `maxBufferedAmount` plus
 * one message. Past the limit the queue is dropped and the connection fails with 1008.
 *
 * @module
 */

import {
  checkControlPayload,
  Opcode,
  PolicyViolationError,
  type WebSocketError,
} from "../protocol/mod.ts";
import type { Outbox } from "./outbox.ts";
import type { ServerProtocol } from "./protocol.ts";
import type { ConnectionMetrics } from "./settings.ts";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** What a {@linkcode Sender} sends through. */
export interface SenderHost {
  /** Frames the messages. */
  readonly protocol: ServerProtocol;
  /** Queues the frames. */
  readonly outbox: Outbox;
  /** More than `maxBufferedAmount` waits: the connection must fail with this error. */
  overflow(error: WebSocketError): void;
}

/** The limits of a {@linkcode Sender}, shared by the connections of a server. */
export interface SenderLimits {
  /** The largest outgoing message, until the connection sets its own. */
  readonly maxSendSize: number;
  /** The most bytes that may wait ahead of a new message. */
  readonly maxBufferedAmount: number;
  /** Messages larger than this are sent as several frames. */
  readonly fragmentSize: number;
  /** Counts the messages sent (frame bytes are counted as they are queued). */
  readonly metrics?: ConnectionMetrics | undefined;
}

/** Sends the messages of one connection. */
export class Sender {
  /** The largest outgoing message. */
  maxSendSize: number;
  readonly #host: SenderHost;
  readonly #limits: SenderLimits;

  /** A sender through `host` within `limits`. */
  constructor(host: SenderHost, limits: SenderLimits) {
    this.#host = host;
    this.#limits = limits;
    this.maxSendSize = limits.maxSendSize;
  }

  /** Sends a text message; `false` once closing. */
  text(text: string): boolean {
    if (!this.#canSend()) return false;
    // Every UTF-16 code unit takes at least one byte: no need to encode what is surely too big.
    if (text.length > this.maxSendSize) this.#tooBig(text.length);
    return this.#message(Opcode.Text, encoder.encode(text));
  }

  /** Sends a binary message without copying it; `false` once closing. */
  binary(data: Uint8Array | ArrayBuffer | ArrayBufferView): boolean {
    if (!this.#canSend()) return false;
    return this.#message(Opcode.Binary, toBytes(data));
  }

  /**
   * Queues data frames built once for many connections (a publish), as they are, `bytes` in
   * all; `false` if the connection is not open or is past `maxBufferedAmount`. They share the
   * queue with `text` and `binary` (with permessage-deflate, the queue of messages being
   * compressed), so the order of sends and publishes is kept. A publish counts its messages, and
   * the bytes of the frames queued here directly (once for all such subscribers).
   */
  frames(frames: readonly Uint8Array[][], bytes: number): boolean {
    const protocol = this.#host.protocol;
    if (protocol.state !== "open" || !this.#admit()) return false;
    if (protocol.deflating) return protocol.sendBuilt(frames, bytes);
    const outbox = this.#host.outbox;
    for (const frame of frames) outbox.pushShared(frame);
    return true;
  }

  /**
   * Queues a publish compressed once for many `server_no_context_takeover` connections, in its
   * place once its frames are ready; `size` is its uncompressed size. As {@linkcode frames}.
   */
  later(frames: Promise<readonly Uint8Array[]>, size: number): boolean {
    if (this.#host.protocol.state !== "open" || !this.#admit()) return false;
    return this.#host.protocol.sendLater(frames, size);
  }

  /**
   * Sends a publish through this connection's own compressor (context takeover); the publish
   * checked its size. As {@linkcode frames}.
   */
  message(opcode: number, payload: Uint8Array): boolean {
    if (this.#host.protocol.state !== "open" || !this.#admit()) return false;
    return this.#host.protocol.sendMessage(opcode, payload, this.#limits.fragmentSize);
  }

  /** Sends a ping of up to 125 bytes; `false` once closing. */
  ping(data: Uint8Array | string = EMPTY): boolean {
    const payload = typeof data === "string" ? encoder.encode(data) : data;
    checkControlPayload(payload);
    if (!this.#canSend() || !this.#admit()) return false;
    return this.#host.protocol.ping(payload);
  }

  #canSend(): boolean {
    const state = this.#host.protocol.state;
    if (state === "connecting") {
      throw new DOMException("Cannot send: the handshake has not completed", "InvalidStateError");
    }
    return state === "open";
  }

  #tooBig(size: number): never {
    throw new RangeError(
      `Cannot send message: ${size} bytes exceed maxSendSize of ${this.maxSendSize}`,
    );
  }

  #message(opcode: number, payload: Uint8Array): boolean {
    if (payload.length > this.maxSendSize) this.#tooBig(payload.length);
    if (!this.#admit()) return false;
    if (!this.#host.protocol.sendMessage(opcode, payload, this.#limits.fragmentSize)) return false;
    this.#limits.metrics?.messageOut();
    return true;
  }

  /** Whether at most `maxBufferedAmount` waits ahead; past it, the connection fails with 1008. */
  #admit(): boolean {
    // Messages still being compressed wait too, and hold their bytes meanwhile.
    const queued = this.#host.outbox.bufferedAmount + this.#host.protocol.compressing;
    const limit = this.#limits.maxBufferedAmount;
    if (queued <= limit) return true;
    this.#host.overflow(
      new PolicyViolationError(
        `Cannot send: ${queued} bytes queued exceed maxBufferedAmount of ${limit}`,
        "SEND_BUFFER_FULL",
      ),
    );
    return false;
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
