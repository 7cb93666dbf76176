/**
 * TEMPORARY bridge: the `Connection` of this version still reads and writes a pair of byte
 * streams. This module turns a {@linkcode Transport} into that pair, through
 * {@linkcode byteStreams}, until `Connection` is itself a {@linkcode TransportSink}; then it goes.
 *
 * @module
 */

import { byteStreams } from "./byte_streams.ts";
import type { RemoteAddress, Transport, TransportSink } from "./transport.ts";

/** A transport as the byte streams `Connection` reads and writes. */
export interface ByteConnection {
  /** Bytes from the peer; closes when the peer ends, or when the socket failed. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer, as vectors written in one go; closing it flushes, then half-closes. */
  readonly writable: WritableStream<Uint8Array[]>;
  /** The peer's address. */
  readonly remoteAddr: RemoteAddress;
  /** Resolves once the socket is fully closed. */
  readonly closed: Promise<void>;
  /** Destroys the socket now. */
  close(): void;
}

/** The byte connection over `transport`, and the sink that `accept` must return for it. */
export function toByteConnection(
  transport: Transport,
): { conn: ByteConnection; sink: TransportSink } {
  const { readable, writable, sink: streams } = byteStreams(transport);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => resolveClosed = resolve);
  const sink: TransportSink = {
    onData: (chunk) => streams.onData(chunk),
    onEnd: () => streams.onEnd(),
    onDrain: () => streams.onDrain(),
    onClose(error) {
      // A failed socket (a TLS alert, a reset) is not a failure of application code, but this
      // Connection reports a read error during the handshake as one: end its readable cleanly.
      streams.onEnd();
      streams.onClose(error);
      resolveClosed();
    },
  };
  const conn: ByteConnection = {
    readable,
    writable,
    remoteAddr: transport.remoteAddr,
    closed,
    close: () => transport.destroy(),
  };
  return { conn, sink };
}
