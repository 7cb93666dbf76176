/**
 * The contract between the runtime adapters and the shared core. An adapter only turns a runtime
 * listener into {@linkcode ByteConnection}s; the handshake, frames, limits and close codes live in
 * the core.
 *
 * @module
 */

/** Where a connection comes from. */
export interface RemoteAddress {
  /** The peer's IP address (IPv6 without brackets). */
  hostname: string;
  /** The peer's port. */
  port: number;
}

/**
 * A bidirectional byte stream over one TCP (or TLS) connection.
 *
 * - `readable` yields the bytes the peer sent. A reader that stops pulling stops the adapter from
 *   reading the socket (backpressure reaches the kernel). It closes when the peer ends the stream
 *   and errors when the socket fails.
 * - `writable` takes a *vector* of buffers per chunk, written as one unit: a gathered write
 *   (`writev`) where the runtime has one, one concatenated write for small vectors otherwise.
 *   Buffers are not copied unless they must be, and must not be modified after `write()` is
 *   called. `write()` resolves when the runtime accepted the bytes (real backpressure);
 *   `close()` resolves once everything queued was flushed, then half-closes the socket.
 * - `close()` destroys the socket at once: queued bytes may be lost. Idempotent.
 * - `closed` resolves once the socket is fully closed, whatever closed it. Never rejects.
 */
export interface ByteConnection {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer, as vectors written in one go. */
  readonly writable: WritableStream<Uint8Array[]>;
  /** The peer's address. */
  readonly remoteAddr: RemoteAddress;
  /** Resolves once the socket is fully closed. */
  readonly closed: Promise<void>;
  /** Destroys the socket now. */
  close(): void;
}

/** TLS settings: PEM-encoded certificate chain and private key. */
export interface TlsOptions {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/** What an adapter needs to listen. */
export interface ListenOptions {
  /** The port; 0 picks a free one. */
  port: number;
  /** The address to bind. */
  hostname: string;
  /** Serve TLS instead of plain TCP. */
  tls?: TlsOptions | undefined;
  /** Disable Nagle's algorithm on accepted sockets. */
  noDelay: boolean;
}

/** A listening socket handed out by an adapter. */
export interface Listener {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** The bound address. */
  readonly hostname: string;
  /** Stops accepting new connections; existing ones are untouched. Idempotent. */
  close(): Promise<void>;
}

/**
 * An adapter: listens and hands every accepted connection to `onConnection`. Rejects when the
 * address cannot be bound.
 */
export type Listen = (
  options: ListenOptions,
  onConnection: (conn: ByteConnection) => void,
) => Promise<Listener>;
