/**
 * The message streams of a connection, built on first use: a readable of incoming data
 * messages that pauses reading while its reader is behind, and a writable whose writes wait for
 * the send queue to fall.
 *
 * @module
 */

import { CloseCode } from "../protocol/mod.ts";
import type { DataMessage } from "./protocol.ts";

/** Unread bytes of messages that the readable holds before reading pauses. */
const READABLE_HIGH_WATER_MARK = 1 << 20;
/**
 * `bufferedAmount` above which a write to the writable waits until it is below again; half of
 * `maxBufferedAmount` when that is smaller, so a waiting writer never crosses it.
 */
const WRITABLE_HIGH_WATER_MARK = 1 << 20;

/** What the streams need from their connection. */
export interface StreamHost {
  /** Whether the connection ended. */
  isClosed(): boolean;
  /** Stops reading from the peer: the readable is full. */
  pauseReading(): void;
  /** Reading may go on: the readable was pulled, or cancelled. */
  resumeReading(): void;
  /** Sends a message; `false` once the connection is closing. */
  send(chunk: string | Uint8Array): boolean;
  /** Resolves once `bufferedAmount` is at most `mark`, or the connection ended. */
  whenBufferedAtMost(mark: number): Promise<void>;
  /** The connection's `bufferedAmount`. */
  bufferedAmount(): number;
  /** The connection's limit of queued bytes. */
  maxBufferedAmount: number;
  /** Closes the connection with `code`. */
  disconnect(code: number): void;
}

/** A connection's lazily built streams. */
export interface MessageStreams {
  /** The readable, built on the first call. */
  readable(): ReadableStream<DataMessage>;
  /** The writable, built on the first call. */
  writable(): WritableStream<string | Uint8Array>;
  /** Hands an incoming message to the readable, if there is one. */
  enqueue(message: DataMessage): void;
  /** The connection ended: closes the readable. */
  close(): void;
}

/** The streams of one connection; nothing is built until asked for. */
export function messageStreams(host: StreamHost): MessageStreams {
  let readable: ReadableStream<DataMessage> | undefined;
  let controller: ReadableStreamDefaultController<DataMessage> | undefined;
  let writable: WritableStream<string | Uint8Array> | undefined;
  return {
    readable() {
      readable ??= new ReadableStream<DataMessage>(
        {
          start(start) {
            controller = start;
            if (host.isClosed()) start.close();
          },
          pull: () => host.resumeReading(),
          cancel() {
            controller = undefined;
            host.resumeReading();
          },
        },
        {
          highWaterMark: READABLE_HIGH_WATER_MARK,
          size: (message) =>
            typeof message.data === "string" ? message.data.length : message.data.byteLength,
        },
      );
      return readable;
    },
    writable() {
      writable ??= new WritableStream<string | Uint8Array>({
        async write(chunk) {
          if (!host.send(chunk)) {
            throw new DOMException("Cannot write: the connection is closing", "InvalidStateError");
          }
          const mark = Math.min(WRITABLE_HIGH_WATER_MARK, host.maxBufferedAmount / 2);
          if (host.bufferedAmount() > mark) await host.whenBufferedAtMost(mark);
        },
        close: () => host.disconnect(CloseCode.Normal),
        abort: () => host.disconnect(CloseCode.GoingAway),
      });
      return writable;
    },
    enqueue(message) {
      if (controller === undefined) return;
      controller.enqueue(message);
      // The reader is behind: stop reading until it pulls.
      if (controller.desiredSize! <= 0) host.pauseReading();
    },
    close() {
      controller?.close();
      controller = undefined;
    },
  };
}
