/**
 * Small helpers the adapters share. Web-platform code only.
 *
 * @module
 */

/** Joins a vector of buffers of `total` bytes into one new buffer. */
export function concat(vector: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const buffer of vector) {
    out.set(buffer, offset);
    offset += buffer.byteLength;
  }
  return out;
}

/** The error of an operation on a socket that is already closed. */
export function closedError(action: string): Error {
  return new Error(`Cannot ${action}: the socket is closed`);
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
