/**
 * The Node adapter: {@linkcode listen} over `node:net` and `node:tls`, and
 * {@linkcode fromNodeSocket} to take over a socket from elsewhere, such as an upgrade request of a
 * `node:http` server. It also runs on Deno and Bun through their `node:` modules.
 *
 * Both directions are hand-written rather than `Duplex.toWeb`, which was 17–37% slower on reads:
 * the readable pauses the socket when it fills and resumes it on `pull`; a write corks the socket
 * so a vector goes out as one `writev`, and waits for `drain` when the socket is full.
 *
 * @module
 */

import {
  type AddressInfo,
  createServer as createNetServer,
  type Server,
  type Socket,
} from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { ByteConnection, Listen, Listener, RemoteAddress } from "./types.ts";
import { closedError } from "./shared.ts";

/** Bytes the readable buffers ahead of its consumer before the socket is paused. */
const READ_AHEAD = 64 * 1024;

/**
 * Listens with `node:net` (or `node:tls` when `tls` is set) and hands every accepted connection to
 * `onConnection` as a {@linkcode ByteConnection}. Rejects when the address cannot be bound. Accept
 * errors do not stop the listener; {@linkcode Listener.close} does.
 *
 * @example Echo every connection
 * ```ts
 * import { listen } from "@netws/server/node";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0, noDelay: true }, (conn) => {
 *   // Each chunk read goes back as a one-buffer vector.
 *   conn.readable
 *     .pipeThrough(new TransformStream<Uint8Array, Uint8Array[]>({
 *       transform: (chunk, controller) => controller.enqueue([chunk]),
 *     }))
 *     .pipeTo(conn.writable)
 *     .catch(() => conn.close());
 * });
 * assert.ok(listener.port > 0); // port 0 asked for a free one
 * await listener.close();
 * ```
 */
export const listen: Listen = (options, onConnection) => {
  const { hostname, port, tls, noDelay } = options;
  const accept = (socket: Socket) => {
    const connection = fromNodeSocket(socket);
    try {
      onConnection(connection);
    } catch (error) {
      // A throwing callback is a bug of the caller: report it as uncaught, keep accepting.
      connection.close();
      queueMicrotask(() => {
        throw error;
      });
    }
  };
  // Keep writing after the peer half-closes: the readable ends, the writable does not.
  let server: Server;
  if (tls === undefined) {
    server = createNetServer({ allowHalfOpen: true }, (socket) => {
      socket.setNoDelay(noDelay);
      accept(socket);
    });
  } else {
    server = createTlsServer({ allowHalfOpen: true, cert: tls.cert, key: tls.key }, accept);
    server.on("connection", (socket: Socket) => {
      // On the TCP socket, before the handshake, so that the handshake benefits too.
      socket.setNoDelay(noDelay);
      // Its errors reach the TLS socket; but Deno's node:tls was seen to raise a reset on it
      // after the TLS socket was destroyed, which without a listener is an uncaught exception.
      socket.on("error", () => {});
    });
  }

  return new Promise<Listener>((resolve, reject) => {
    const onListenError = (error: Error) => {
      reject(
        new Error(`Cannot listen on "${hostname}:${port}": ${error.message}`, { cause: error }),
      );
    };
    server.once("error", onListenError);
    server.listen({ host: hostname, port }, () => {
      server.off("error", onListenError);
      // Node reports failed accepts (EMFILE…) as server errors and keeps listening.
      server.on("error", () => {});
      const address = server.address() as AddressInfo;
      let closing = false;
      resolve({
        port: address.port,
        hostname: address.address,
        close() {
          if (!closing) {
            closing = true;
            // Closes the listening socket now; the callback would wait for every connection.
            server.close();
          }
          return Promise.resolve();
        },
      });
    });
  });
};

/**
 * Wraps a connected `node:net` (or `node:tls`) socket as a {@linkcode ByteConnection} and takes
 * ownership of it. `head` holds bytes already read from the socket, which the readable yields
 * first: the `head` of a `node:http` `upgrade` event.
 *
 * @example Take over upgrade requests of a `node:http` server
 * ```ts ignore
 * import { createServer } from "node:http";
 * import type { Socket } from "node:net";
 * import { fromNodeSocket } from "@netws/server/node";
 *
 * const server = createServer();
 * server.on("upgrade", (request, socket, head) => {
 *   // node:http types the socket as a Duplex; it is a net.Socket (or a tls.TLSSocket).
 *   const conn = fromNodeSocket(socket as Socket, head);
 *   // Answer the handshake on conn.writable, then read frames from conn.readable.
 * });
 * server.listen(8080);
 * ```
 */
export function fromNodeSocket(socket: Socket, head?: Uint8Array): ByteConnection {
  return new NodeConnection(socket, head);
}

/** A promise waiting on the socket: a full buffer to drain, or an end to finish. */
interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
}

/** One `node:net` socket as a {@linkcode ByteConnection}. */
class NodeConnection implements ByteConnection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array[]>;
  readonly remoteAddr: RemoteAddress;
  readonly closed: Promise<void>;

  #socket: Socket;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #paused = false;
  #drain: Waiter | undefined;
  #finish: Waiter | undefined;
  #readEnded = false;
  #writeEnded = false;
  #failed = false;

  constructor(socket: Socket, head: Uint8Array | undefined) {
    this.#socket = socket;
    this.remoteAddr = { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
        if (head !== undefined && head.byteLength > 0) controller.enqueue(plain(head));
      },
      pull: () => {
        if (this.#paused) {
          this.#paused = false;
          this.#socket.resume();
        }
      },
      cancel: () => {
        this.#readEnded = true;
        this.#destroyIfDone();
      },
    }, { highWaterMark: READ_AHEAD, size: (chunk) => chunk.byteLength });
    this.writable = new WritableStream<Uint8Array[]>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (vector) => this.#write(vector),
      close: () => this.#closeWrite(),
      abort: () => this.close(),
    });

    let resolveClosed!: () => void;
    this.closed = new Promise((resolve) => resolveClosed = resolve);
    // The readable ends on `end`, not with the writable.
    socket.allowHalfOpen = true;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("drain", this.#onDrain);
    socket.on("finish", this.#onFinish);
    socket.on("error", this.#fail);
    socket.on("close", () => {
      this.#fail(closedError("use the connection"));
      resolveClosed();
    });
    if (socket.destroyed) {
      // Its 'close' may be past (and Bun's sockets have no `closed` to tell).
      this.#fail(closedError("use the connection"));
      resolveClosed();
    } else {
      // The socket may have been paused by its previous owner (a node:http server, for one).
      socket.resume();
    }
  }

  close(): void {
    this.#fail(new Error("Cannot use the connection: it was closed"));
  }

  #onData = (chunk: Uint8Array): void => {
    if (this.#readEnded) return;
    this.#readController.enqueue(plain(chunk));
    if (!this.#paused && this.#readController.desiredSize! <= 0) {
      this.#paused = true;
      this.#socket.pause();
    }
  };

  #onEnd = (): void => {
    if (this.#readEnded) return;
    this.#readEnded = true;
    this.#readController.close();
    this.#destroyIfDone();
  };

  #onDrain = (): void => {
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.resolve();
  };

  #onFinish = (): void => {
    const finish = this.#finish;
    this.#finish = undefined;
    this.#writeEnded = true;
    finish?.resolve();
    this.#destroyIfDone();
  };

  #write(vector: Uint8Array[]): Promise<void> | undefined {
    const socket = this.#socket;
    if (socket.destroyed) throw closedError("write");
    let ok = true;
    if (vector.length === 1) {
      if (vector[0]!.byteLength > 0) ok = socket.write(vector[0]!);
    } else {
      // Corked writes leave in one writev on uncork.
      socket.cork();
      for (const buffer of vector) if (buffer.byteLength > 0) ok = socket.write(buffer);
      socket.uncork();
    }
    if (ok) return;
    return new Promise((resolve, reject) => {
      this.#drain = { resolve, reject };
    });
  }

  #closeWrite(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#finish = { resolve, reject };
      // Flushes what is buffered, then half-closes; `finish` follows.
      this.#socket.end();
    });
  }

  /** Both directions ended cleanly: let go of the socket. */
  #destroyIfDone(): void {
    if (this.#readEnded && this.#writeEnded) this.#socket.destroy();
  }

  /** Ends both streams with `reason` (where still open), rejects waiters, destroys the socket. */
  #fail = (reason: unknown): void => {
    if (this.#failed) return;
    this.#failed = true;
    if (!this.#readEnded) {
      this.#readEnded = true;
      this.#readController.error(reason);
    }
    const waiters = [this.#drain, this.#finish];
    this.#drain = this.#finish = undefined;
    for (const waiter of waiters) waiter?.reject(reason);
    if (!this.#writeEnded) {
      this.#writeEnded = true;
      this.#writeController.error(reason);
    }
    this.#socket.destroy();
  };
}

/** A plain `Uint8Array` view of a Node `Buffer`, whose `slice` would not copy. No bytes copied. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// The node:http integration lives beside the adapter, on the same subpath.
export { handleUpgrade } from "./node_http.ts";
