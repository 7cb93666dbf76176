/**
 * What the adapters share. Web-platform code only.
 *
 * @module
 */

import type { Transport, TransportSink } from "../connection/transport.ts";

/**
 * Runs of buffers up to this total are joined into one write; a buffer larger than this is
 * written alone. Deno and Bun have no `writev` and make one syscall per write, so a split frame
 * costs a syscall and a packet more, and with Nagle on, a small second write can wait for a
 * delayed ACK.
 * Measured (`[header, payload]` vectors to a loopback sink, best of 5): joining is 24% (Deno) and
 * 91% (Bun) faster at 125 B, even within noise from 4 to 64 KiB, and ~20% slower at 256 KiB,
 * where copying dominates.
 */
const JOIN_UP_TO = 64 * 1024;

/**
 * The vector as the buffers to write one by one: consecutive buffers joined in runs of at most
 * 64 KiB, a larger buffer left as it is. Four 16 KiB frames of one flush (65,552 bytes with their
 * headers) thus go out in two writes, not eight.
 */
export function coalesce(vector: Uint8Array[]): Uint8Array[] {
  if (vector.length < 2) return vector;
  const out: Uint8Array[] = [];
  let start = 0;
  let runBytes = 0;
  for (let i = 0; i < vector.length; i++) {
    const size = vector[i]!.byteLength;
    if (runBytes + size > JOIN_UP_TO) {
      joinRun(vector, start, i, runBytes, out);
      start = i;
      runBytes = 0;
    }
    runBytes += size;
  }
  joinRun(vector, start, vector.length, runBytes, out);
  return out;
}

/** Appends `vector[start..end)` to `out`, as one joined buffer when it holds several. */
function joinRun(
  vector: Uint8Array[],
  start: number,
  end: number,
  bytes: number,
  out: Uint8Array[],
): void {
  if (end - start === 1) {
    out.push(vector[start]!);
    return;
  }
  if (end === start) return;
  const joined = new Uint8Array(bytes);
  let offset = 0;
  for (let i = start; i < end; i++) {
    joined.set(vector[i]!, offset);
    offset += vector[i]!.byteLength;
  }
  out.push(joined);
}

/** Buffers accepted by `write` that the runtime has not taken yet, and their byte count. */
export class Backlog {
  bytes = 0;
  #buffers: Uint8Array[] = [];

  /** Keeps the non-empty buffers of `vector`, from index `from` on. */
  keep(vector: Uint8Array[], from = 0): void {
    for (let i = from; i < vector.length; i++) {
      const buffer = vector[i]!;
      if (buffer.byteLength > 0) this.#buffers.push(buffer), this.bytes += buffer.byteLength;
    }
  }

  /** Takes every kept buffer out, small ones joined; the count falls to 0. */
  take(): Uint8Array[] {
    const buffers = coalesce(this.#buffers);
    this.#buffers = [];
    this.bytes = 0;
    return buffers;
  }
}

/** The sink of a socket whose `accept` threw: it ignores what the socket still reports. */
const IGNORE: TransportSink = { onData() {}, onEnd() {}, onDrain() {}, onClose() {} };

/**
 * Calls `accept`. When it throws, that is a bug of the caller, not of the peer: it is logged,
 * the socket is destroyed, and the listener keeps accepting (rule 2 of the contract).
 */
export function acceptOrDestroy(
  accept: (transport: Transport) => TransportSink,
  transport: Transport,
): TransportSink {
  try {
    return accept(transport);
  } catch (error) {
    console.error("netws: accept threw:", error);
    transport.destroy();
    return IGNORE;
  }
}

/** The same words for the same failure on every runtime, whatever its own message says. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EADDRNOTAVAIL: "the address is not one of this machine's",
  EACCES: "permission denied",
};

/**
 * The error of a failed `listen`: `Cannot listen on "host:port": why`, with the runtime's error
 * code (`EADDRINUSE`, `EACCES`, …) as its `code` and the runtime's error as its `cause`.
 */
export function listenError(
  hostname: string,
  port: number,
  cause: unknown,
): Error & { code?: string } {
  const code = (cause as { code?: unknown } | null)?.code;
  const known = typeof code === "string" ? LISTEN_FAILURES[code] : undefined;
  const why = known ?? (cause instanceof Error ? cause.message : String(cause));
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const error: Error & { code?: string } = new Error(`Cannot listen on "${host}:${port}": ${why}`, {
    cause,
  });
  if (typeof code === "string") error.code = code;
  return error;
}
