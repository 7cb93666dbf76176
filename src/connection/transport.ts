/**
 * The contract between a runtime adapter and the core: a {@linkcode Transport} is one accepted
 * socket as the core drives it, a {@linkcode TransportSink} is what the core gives back to hear
 * from it. An adapter translates its runtime's socket callbacks into these and does nothing else;
 * the handshake, frames, limits and close codes live once, in the core.
 *
 * Five rules hold for every adapter, and one shared suite checks them on every runtime:
 *
 * 1. **No re-entrancy.** An adapter never calls the sink from inside a `Transport` method; where
 *    the runtime would (a close handler fired synchronously by `end()`), it defers the call.
 * 2. **No throwing into the runtime.** A sink catches what its own code throws. An adapter keeps
 *    one guard around a throwing `accept`: it destroys that socket and keeps listening.
 * 3. **Order.** `onEnd` comes after the last `onData`; `onClose` comes exactly once, last;
 *    `end()` waits for a pending partial write before it half-closes.
 * 4. **Ownership.** A chunk given to `onData` belongs to the core, which may keep it and unmask
 *    it in place. Buffers given to `write` belong to the transport until they are sent; the core
 *    never changes or reuses them.
 * 5. **Idempotence.** `pause`, `resume`, `end` and `destroy` may be called any number of times,
 *    also after the socket closed.
 *
 * @module
 */

import type { ParsedRequest } from "../handshake/mod.ts";

/** Where a connection comes from. */
export interface RemoteAddress {
  /** The peer's IP address (IPv6 without brackets). */
  hostname: string;
  /** The peer's port. */
  port: number;
}

/**
 * One accepted socket, as the core drives it.
 *
 * @example A transport over an in-memory pipe
 * ```ts
 * import type { Transport } from "@netws/server/adapter";
 * import assert from "node:assert/strict";
 *
 * const written: Uint8Array[] = [];
 * const transport: Transport = {
 *   remoteAddr: { hostname: "127.0.0.1", port: 40000 },
 *   bufferedAmount: 0,
 *   write: (vector) => (written.push(...vector), true),
 *   pause() {},
 *   resume() {},
 *   end() {},
 *   destroy() {},
 * };
 * assert.equal(transport.write([new Uint8Array([0x88, 0x00])]), true);
 * assert.equal(written.length, 1);
 * ```
 */
export interface Transport {
  /** The peer's address. */
  readonly remoteAddr: RemoteAddress;
  /**
   * Bytes passed to `write` that the runtime has not yet handed to the operating system: the
   * backlog the core counts in `bufferedAmount`.
   */
  readonly bufferedAmount: number;
  /**
   * Writes the buffers as one unit (one `writev` where the runtime has it). Returns `false` when
   * the runtime's buffer is full: the bytes are still kept and sent, and `onDrain` follows once it
   * has room again. Writing after `end` or `destroy` does nothing.
   */
  write(vector: Uint8Array[]): boolean;
  /**
   * Bytes the runtime has read from the socket since `pause` and holds for the next `onData` (Node
   * reads one more chunk into its own buffer after a pause). Omitted where the runtime holds none.
   */
  readonly heldAmount?: number | undefined;
  /** Stops `onData` until `resume`; the kernel's receive buffer then pushes back on the peer. */
  pause(): void;
  /** Restarts `onData` after `pause`. */
  resume(): void;
  /** Sends what was written, then half-closes; `onClose` follows once the socket closed. */
  end(): void;
  /** Closes the socket now, dropping what was not sent; `onClose` follows. */
  destroy(): void;
}

/** What the core gives an adapter for each socket: the callbacks of its runtime's events. */
export interface TransportSink {
  /** Bytes from the peer; the chunk is the core's to keep and change. */
  onData(chunk: Uint8Array): void;
  /** The peer half-closed: no `onData` follows. */
  onEnd(): void;
  /** After a `write` returned `false`: the runtime has room again. */
  onDrain(): void;
  /** The socket closed, with the error that closed it if one did. Called exactly once, last. */
  onClose(error?: unknown): void;
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
  /**
   * Bind with `SO_REUSEPORT`, so that other listeners (in this process or others) can bind the
   * same port; an adapter whose runtime cannot do it rejects rather than ignore it.
   */
  reusePort?: boolean | undefined;
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
 * An adapter: listens, and for every accepted socket calls `accept` with its transport and feeds
 * the sink it returns. Rejects when the address cannot be bound.
 */
export type Listen = (
  options: ListenOptions,
  accept: (transport: Transport) => TransportSink,
) => Promise<Listener>;

/**
 * What takes over a socket whose request head another server already read, such as an upgrade
 * request of a `node:http` server: `handleUpgrade` of `@netws/server/node` talks to this, not to
 * the whole server.
 */
export interface UpgradeTarget {
  /** Takes over `transport`; `request` is the head already read from it. */
  accept(transport: Transport, request?: ParsedRequest): TransportSink;
}
