/**
 * TEMPORARY: a bridge from the adapters' former contract (`ByteConnection`, a pair of byte
 * streams) to a {@linkcode Transport}, so the server runs over adapters that do not yet produce
 * transports. Delete this file, `LegacyListen` in `options.ts` and `Server.handleConnection` once
 * every adapter implements `Listen` of `connection/transport.ts`.
 *
 * @module
 */

import type { ByteConnection, Listen as ByteListen } from "../adapters/types.ts";
import type { Listen, Transport, TransportSink } from "../connection/transport.ts";

/** The former adapter signature: hands out byte connections. */
export type LegacyListen = ByteListen;

/**
 * Wraps `listen` so that whatever it hands out, a transport or a byte connection, reaches
 * `accept` as a transport.
 */
export function bridgeListen(listen: Listen | LegacyListen): Listen {
  return (options, accept) =>
    (listen as Listen)(
      options,
      ((accepted: Transport | ByteConnection) => {
        if (!("readable" in accepted)) return accept(accepted);
        bridgeByteConnection(accepted, accept);
        return undefined;
      }) as (transport: Transport) => TransportSink,
    );
}

/** Drives `accept`'s sink from a byte connection: a read loop, and writes through its writer. */
export function bridgeByteConnection(
  conn: ByteConnection,
  accept: (transport: Transport) => TransportSink,
): void {
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  let inFlight = 0;
  let paused = false;
  let resume: (() => void) | undefined;
  let ended = false;
  let closed = false;
  const transport: Transport = {
    remoteAddr: conn.remoteAddr,
    get bufferedAmount() {
      return inFlight;
    },
    write(vector) {
      if (ended) return true;
      let bytes = 0;
      for (const buffer of vector) bytes += buffer.length;
      inFlight += bytes;
      writer.write(vector).then(() => {
        inFlight -= bytes;
        if (inFlight === 0) sink.onDrain();
      }, () => conn.close());
      return false;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      const go = resume;
      resume = undefined;
      go?.();
    },
    end() {
      if (ended) return;
      ended = true;
      writer.close().catch(() => conn.close());
    },
    destroy() {
      conn.close();
      reader.cancel().catch(() => {});
    },
  };
  const sink = accept(transport);
  const reading = (async () => {
    try {
      for (;;) {
        if (paused) await new Promise<void>((resolve) => resume = resolve);
        if (closed) return;
        const { value, done } = await reader.read();
        if (done) {
          sink.onEnd();
          return;
        }
        sink.onData(value);
      }
    } catch {
      conn.close();
    }
  })();
  void conn.closed.then(() => {
    closed = true;
    transport.resume();
  });
  void Promise.all([reading, conn.closed]).then(() => sink.onClose());
}
