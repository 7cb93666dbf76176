/**
 * What the `handshake` event receives: the client's upgrade request, and the means to answer it.
 *
 * @module
 */

import type { RemoteAddress } from "./transport.ts";
import type { UpgradeRequest } from "../handshake/handshake.ts";

/**
 * A client's opening handshake, handed to `handshake` listeners before the server answers.
 * Listeners read the request, and may choose a subprotocol among those offered, add response
 * headers (cookies) or reject the connection with an HTTP error status.
 *
 * @example Check the origin, choose a subprotocol and set a cookie
 * ```ts ignore
 * conn.on("handshake", (conn, request) => {
 *   if (request.origin !== "https://app.example") return request.reject(403);
 *   if (request.protocols.includes("chat.v2")) request.selectProtocol("chat.v2");
 *   request.responseHeaders.append("Set-Cookie", "session=abc; HttpOnly");
 * });
 * ```
 */
export class HandshakeRequest {
  readonly #upgrade: UpgradeRequest;
  #protocol: string | undefined;
  #rejection: { status: number; body: string | undefined } | undefined;

  /** The peer's address. */
  readonly remoteAddr: RemoteAddress;
  /** Headers to add to the `101 Switching Protocols` response, such as `Set-Cookie`. */
  readonly responseHeaders: Headers = new Headers();

  /** Wraps a validated upgrade request; created by the server. */
  constructor(upgrade: UpgradeRequest, remoteAddr: RemoteAddress) {
    this.#upgrade = upgrade;
    this.remoteAddr = remoteAddr;
  }

  /** The request method: always `GET` for a valid handshake. */
  get method(): string {
    return this.#upgrade.request.method;
  }

  /** The request target as sent, such as `/chat?room=1`. */
  get target(): string {
    return this.#upgrade.request.target;
  }

  /** The path of the target, still percent-encoded, such as `/chat`. */
  get path(): string {
    return this.#upgrade.request.path;
  }

  /** The query of the target without its `?`, still percent-encoded, or `""`. */
  get query(): string {
    return this.#upgrade.request.query;
  }

  /** The request headers. */
  get headers(): Headers {
    return this.#upgrade.request.headers;
  }

  /** The `Host` the client asked for. */
  get host(): string {
    return this.#upgrade.host;
  }

  /** The `Origin` header that browsers send, or `undefined`. */
  get origin(): string | undefined {
    return this.#upgrade.origin;
  }

  /** The subprotocols the client offers, in its order of preference. */
  get protocols(): readonly string[] {
    return this.#upgrade.protocols;
  }

  /** The raw `Sec-WebSocket-Extensions` offer, or `""`. No extension is negotiated. */
  get extensions(): string {
    return this.#upgrade.extensions;
  }

  /** The subprotocol chosen so far, or `undefined`. */
  get protocol(): string | undefined {
    return this.#protocol;
  }

  /** The rejection asked for, if any. */
  get rejection(): { status: number; body: string | undefined } | undefined {
    return this.#rejection;
  }

  /**
   * Chooses the subprotocol to answer with. RFC 6455 §4.2.2: it must be one the client offered;
   * anything else throws a `RangeError`.
   */
  selectProtocol(protocol: string): void {
    if (!this.#upgrade.protocols.includes(protocol)) {
      throw new RangeError(`Cannot select protocol: "${protocol}" was not offered by the client`);
    }
    this.#protocol = protocol;
  }

  /**
   * Rejects the handshake: the server answers with `status` (default 403) and closes the
   * connection. `status` must be 400 to 599; otherwise a `RangeError` is thrown.
   */
  reject(status = 403, body?: string): void {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`Cannot reject handshake: status ${status} is not an error status`);
    }
    this.#rejection = { status, body };
  }
}
