/**
 * The Node adapter: {@linkcode listen} over `node:net` and `node:tls`, and {@linkcode adopt} to
 * take over a socket from elsewhere (the upgrade of a `node:http` server). Socket events map one to
 * one onto a {@linkcode TransportSink}; a vector is written corked, so it leaves in one `writev`.
 * It also runs on Deno and Bun through their `node:` modules.
 *
 * @module
 */

import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import process from "node:process";
import { createServer as createTlsServer } from "node:tls";
import type { Listen, Transport, TransportSink } from "../../connection/transport.ts";
import { acceptOrDestroy, listenError } from "../shared.ts";

/**
 * Listens with `node:net` (or `node:tls` when `tls` is set) and gives every accepted socket to
 * `accept` as a {@linkcode Transport}. A TLS handshake that fails never reaches `accept`.
 *
 * @example Echo every socket
 * ```ts
 * import { listen } from "@netws/server/node";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0, noDelay: true }, (transport) => ({
 *   onData: (chunk) => void transport.write([chunk]),
 *   onEnd: () => transport.end(),
 *   onDrain() {},
 *   onClose() {},
 * }));
 * assert.ok(listener.port > 0);
 * await listener.close();
 * ```
 */
export const listen: Listen = ({ hostname, port, tls, noDelay, reusePort }, accept) => {
  if (reusePort === true && !hasReusePort()) {
    return Promise.reject(listenError(
      hostname,
      port,
      new Error(
        `reusePort needs Node 22.12 or later, this is ${process.version}; ` +
          "on older Node use node:cluster, whose workers share the primary's listening socket",
      ),
    ));
  }
  // allowHalfOpen: the peer's end stops the reads, not the writes.
  const server: Server = tls === undefined
    ? createServer({ allowHalfOpen: true }, (socket) => {
      socket.setNoDelay(noDelay);
      adopt(socket, accept);
    })
    : createTlsServer({ allowHalfOpen: true, cert: tls.cert, key: tls.key }, (socket) => {
      adopt(socket, accept);
    });
  if (tls !== undefined) {
    server.on("connection", (socket: Socket) => {
      // On the TCP socket, so the handshake benefits too. Its errors also reach the TLS socket,
      // but Deno's node:tls was seen to raise a reset on it after the TLS socket was destroyed.
      socket.setNoDelay(noDelay);
      socket.on("error", () => {});
    });
    // A failed TLS handshake (a plain client, a rejected certificate) closes that socket only.
    server.on("tlsClientError", () => {});
  }
  return new Promise((resolve, reject) => {
    server.once("error", (error) => reject(listenError(hostname, port, error)));
    server.listen({ host: hostname, port, ...(reusePort === true ? { reusePort } : {}) }, () => {
      // Later errors are failed accepts (out of file descriptors): the server keeps listening.
      server.removeAllListeners("error").on("error", () => {});
      const address = server.address() as AddressInfo;
      resolve({
        port: address.port,
        hostname: address.address,
        // Closes the listening socket now; its callback would wait for every connection.
        close: () => (server.listening && server.close(), Promise.resolve()),
      });
    });
  });
};

/**
 * Whether `server.listen({ reusePort })` binds with `SO_REUSEPORT`: from Node 22.12 and 23.1 on.
 * Older versions ignore the option, so the second listener fails with `EADDRINUSE`. Deno 2.9.6
 * and Bun 1.4.5 report Node 26.3.0 here, and their node:net honours the option (measured: two
 * listeners on one port; on Deno without --unstable-net too).
 */
function hasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * Takes over a connected `node:net` or `node:tls` socket: gives it to `accept` as a
 * {@linkcode Transport} and feeds the sink it returns, `head` (bytes already read from the socket)
 * first.
 */
export function adopt(
  socket: Socket,
  accept: (transport: Transport) => TransportSink,
  head?: Uint8Array,
): void {
  const transport = new NodeTransport(socket);
  transport.start(acceptOrDestroy(accept, transport), head);
}

/** One `node:net` socket as a {@linkcode Transport}. */
class NodeTransport implements Transport {
  readonly remoteAddr: { hostname: string; port: number };
  #socket: Socket;
  #destroyed = false;
  #closed = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.remoteAddr = { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
  }

  start(sink: TransportSink, head: Uint8Array | undefined): void {
    const socket = this.#socket;
    let error: unknown;
    const close = () => this.#closed || (this.#closed = true, sink.onClose(error));
    socket.allowHalfOpen = true;
    // Bun's node:net was seen to emit 'end' after destroy(): nothing reaches the sink after it.
    socket.on("data", (chunk: Uint8Array) => this.#destroyed || sink.onData(plain(chunk)));
    socket.on("end", () => {
      if (!this.#destroyed) sink.onEnd();
      if (socket.writableFinished) socket.destroy();
    });
    socket.on("finish", () => socket.readableEnded && socket.destroy());
    socket.on("drain", () => this.#destroyed || sink.onDrain());
    socket.on("error", (reason) => error ??= reason);
    socket.once("close", close);
    // Its 'close' may be past already (and not every runtime's socket has `closed` to tell).
    if (socket.destroyed) return this.#destroyed = true, queueMicrotask(close);
    if (head !== undefined && head.byteLength > 0) sink.onData(plain(head));
    // A previous owner (a node:http server) may have paused it.
    socket.resume();
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  /** A paused socket goes on reading into its buffer until that holds `readableHighWaterMark`. */
  get heldAmount(): number {
    return this.#socket.readableLength;
  }

  write(vector: Uint8Array[]): boolean {
    const socket = this.#socket;
    if (!socket.writable || this.#destroyed) return false;
    let ok = true;
    socket.cork();
    for (const buffer of vector) if (buffer.byteLength > 0) ok = socket.write(buffer);
    socket.uncork();
    return ok;
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#destroyed) this.#socket.resume();
  }

  end(): void {
    if (this.#socket.writable) this.#socket.end();
  }

  destroy(): void {
    this.#destroyed = true;
    this.#socket.destroy();
  }
}

/** A plain `Uint8Array` view of a Node `Buffer` (whose `slice` would not copy); no bytes copied. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
