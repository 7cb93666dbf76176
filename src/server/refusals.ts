/**
 * Where refused handshakes go: the application's `onHandshakeError`, or else a log line at most
 * every ten seconds per server, so that a browser page refused with 403 leaves a trace without
 * letting a flood of bad requests flood the log.
 *
 * @module
 */

import type { RemoteAddress } from "../connection/transport.ts";
import type { HandshakeError } from "../handshake/mod.ts";

/** Milliseconds between two default log lines of one server. */
const LOG_INTERVAL_MS = 10_000;

/** What `onHandshakeError` gets: the error (status, code, message) and the peer's address. */
export type RefusalListener = (error: HandshakeError, remoteAddr: RemoteAddress) => void;

/**
 * The default for refusals when the application gives no `onHandshakeError`: one `console.warn`
 * line per ten seconds, naming the status, the code, the reason and the peer, and how many more
 * refusals the interval kept quiet.
 */
export function rateLimitedRefusalLog(
  warn: (line: string) => void = console.warn,
  intervalMs: number = LOG_INTERVAL_MS,
): RefusalListener {
  let lastLog = -Infinity;
  let quiet = 0;
  return (error, { hostname, port }) => {
    const now = performance.now();
    if (now - lastLog < intervalMs) {
      quiet++;
      return;
    }
    const more = quiet === 0 ? "" : ` (${quiet} more refused since the last line)`;
    lastLog = now;
    quiet = 0;
    const peer = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    warn(
      `netws: refused a handshake from ${peer}: ${error.status} ${error.code}: ${error.message}` +
        more,
    );
  };
}
