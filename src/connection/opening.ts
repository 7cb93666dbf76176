/**
 * The opening handshake as one step (RFC 6455 §4.2): read the request head, let the application
 * look at it (`onRequest` for plain HTTP, the `handshake` event for an upgrade), and answer with
 * `101 Switching Protocols` or an error status. The caller owns the socket and the deadline.
 *
 * @module
 */

import {
  buildAcceptResponse,
  buildErrorResponse,
  encodeResponse,
  HandshakeError,
  isUpgradeRequest,
  negotiatePerMessageDeflate,
  type ParsedRequest,
  parseRequestHead,
  type PerMessageDeflateParams,
  toRequest,
  validateUpgrade,
} from "../handshake/mod.ts";
import { HandshakeRequest } from "./handshake_request.ts";
import type { ConnectionDeflateSettings } from "./settings.ts";
import type { RemoteAddress } from "./transport.ts";

/**
 * Collects bytes until a request head is complete. A head trickled byte by byte costs linear
 * time: the buffer doubles, and the parser resumes where it stopped.
 *
 * @example Read a head that arrives in two chunks
 * ```ts
 * import { HeadReader } from "./opening.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a.test\r\n\r\nrest");
 * const reader = new HeadReader(16384);
 * assert.equal(reader.push(bytes.slice(0, 10)), undefined);
 * const head = reader.push(bytes.slice(10));
 * assert.equal(head?.request.path, "/");
 * assert.equal(new TextDecoder().decode(head?.rest), "rest");
 * ```
 */
export class HeadReader {
  readonly #maxHeaderSize: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #length = 0;

  /** A reader that answers a head longer than `maxHeaderSize` with a 431 `HandshakeError`. */
  constructor(maxHeaderSize: number) {
    this.#maxHeaderSize = maxHeaderSize;
  }

  /**
   * Adds a chunk. Returns the parsed head and the bytes after it once it is complete; throws a
   * `HandshakeError` for a malformed or oversized head.
   */
  push(chunk: Uint8Array): { request: ParsedRequest; rest: Uint8Array } | undefined {
    const scannedLength = this.#length;
    if (scannedLength + chunk.length > this.#buffer.length) {
      const grown = new Uint8Array(
        Math.max(1024, this.#buffer.length * 2, scannedLength + chunk.length),
      );
      grown.set(this.#buffer.subarray(0, scannedLength));
      this.#buffer = grown;
    }
    this.#buffer.set(chunk, scannedLength);
    this.#length += chunk.length;
    const bytes = this.#buffer.subarray(0, this.#length);
    const request = parseRequestHead(bytes, this.#maxHeaderSize, { scannedLength });
    if (request === undefined) return undefined;
    return { request, rest: bytes.subarray(request.headLength) };
  }
}

/** What the opening handshake needs from its connection. */
export interface OpeningHost<Conn> {
  /** The connection, as handed to `onRequest`. */
  readonly conn: Conn;
  /** The socket, for the peer's address. */
  readonly transport: { readonly remoteAddr: RemoteAddress };
  /**
   * permessage-deflate as this connection offers it, or `undefined` to decline it; read once the
   * `handshake` listeners are done.
   */
  readonly perMessageDeflate: ConnectionDeflateSettings | undefined;
  /** Runs the `handshake` listeners in turn; rejects with what one threw. */
  emitHandshake(request: HandshakeRequest): Promise<void>;
  /** Reports an exception of application code. */
  reportError(error: unknown): void;
  /** The head is complete: stop reading until the answer is sent. */
  headComplete(): void;
  /** The answer to send; then the connection opens (`accepted`) or closes. */
  answered(answer: OpeningAnswer): void;
}

/** The settings of the opening handshake, shared by the connections of a server. */
export interface OpeningSettings<Conn> {
  /** Whether the socket is TLS (for the URL of a plain HTTP request). */
  readonly secure: boolean;
  /** The largest request head, in bytes. */
  readonly maxHeaderSize: number;
  /** The application's answer to plain HTTP requests, if any. */
  readonly onRequest:
    | ((request: Request, conn: Conn) => Response | Promise<Response>)
    | undefined;
  /** The one path that upgrades, if set: an upgrade to another path is 404, or `onRequest`'s. */
  readonly path: string | undefined;
  /** The server's codecs: without them permessage-deflate is declined. */
  readonly compression: object | undefined;
  /** Loads the codecs, for a connection that offers permessage-deflate when they are not loaded. */
  readonly loadCompression?: (() => Promise<object | undefined>) | undefined;
  /** Told of every handshake answered with an error status, with the peer's address. */
  onRefused(error: HandshakeError, remoteAddr: RemoteAddress): void;
}

/** The answer to send: `101` and the request it accepts, or a response after which to close. */
export type OpeningAnswer =
  | {
    accepted: HandshakeRequest;
    response: Uint8Array;
    /** What permessage-deflate the 101 agreed to, if any. */
    deflate: PerMessageDeflateParams | undefined;
  }
  | { accepted: undefined; response: Uint8Array; reason: string };

/**
 * The opening handshake of one connection: reads the head from the bytes it is given, answers a
 * plain HTTP request through `onRequest` (426 without it) and an upgrade through the `handshake`
 * listeners, and hands the response to its host. What application code throws is reported and
 * answered with 500, no detail sent.
 */
export class OpeningHandshake<Conn> {
  readonly #host: OpeningHost<Conn>;
  readonly #settings: OpeningSettings<Conn>;
  #head: HeadReader | undefined;
  #early: Uint8Array[] = [];
  #request: HandshakeRequest | undefined;
  #inEvent = false;
  #rejected = false;
  #decided = false;

  /** A handshake reading its head from what {@linkcode OpeningHandshake.receive} gets. */
  constructor(host: OpeningHost<Conn>, settings: OpeningSettings<Conn>) {
    this.#host = host;
    this.#settings = settings;
    this.#head = new HeadReader(settings.maxHeaderSize);
  }

  /** The validated upgrade request, once there is one. */
  get request(): HandshakeRequest | undefined {
    return this.#request;
  }

  /** Whether the answer to an upgrade is decided: what it agreed to can no longer change. */
  get decided(): boolean {
    return this.#decided;
  }

  /** Whether the head is still being read. */
  get readingHead(): boolean {
    return this.#head !== undefined;
  }

  /** Bytes from the peer: the head, or what follows it while the answer is made. */
  receive(chunk: Uint8Array): void {
    const head = this.#head;
    if (head === undefined) {
      this.#early.push(chunk);
      return;
    }
    let complete;
    try {
      complete = head.push(chunk);
    } catch (error) {
      this.#head = undefined;
      this.#host.answered(this.#refusal(error));
      return;
    }
    if (complete === undefined) return;
    if (complete.rest.length > 0) this.#early.push(complete.rest);
    this.answer(complete.request);
  }

  /** Answers a complete head (read here, or already read by an HTTP server). */
  answer(parsed: ParsedRequest): void {
    this.#head = undefined;
    this.#host.headComplete();
    void this.#answer(parsed).then((answer) => this.#host.answered(answer));
  }

  /** The bytes that followed the head, for the protocol; given once. */
  takeEarly(): Uint8Array[] {
    const early = this.#early;
    this.#early = [];
    return early;
  }

  /**
   * The application disconnects before the handshake completed: from a `handshake` listener the
   * answer becomes 403 and `true` is returned; otherwise `false`, and the caller drops the peer.
   */
  reject(): boolean {
    this.#rejected = true;
    return this.#inEvent;
  }

  async #answer(parsed: ParsedRequest): Promise<OpeningAnswer> {
    const host = this.#host;
    const settings = this.#settings;
    try {
      const elsewhere = settings.path !== undefined && parsed.path !== settings.path;
      if (!isUpgradeRequest(parsed) || elsewhere) {
        if (settings.onRequest !== undefined) {
          return await answerHttp(parsed, settings.onRequest, settings.secure, host);
        }
        if (elsewhere) {
          throw new HandshakeError(
            `Cannot accept handshake: no WebSocket endpoint at ${JSON.stringify(parsed.path)}`,
            404,
            "NOT_FOUND",
            {},
            "No WebSocket endpoint at this path",
          );
        }
        throw new HandshakeError(
          "Cannot accept request: this endpoint serves WebSocket only",
          426,
          "UPGRADE_REQUIRED",
          { Upgrade: "websocket", Connection: "Upgrade" },
        );
      }
      const upgrade = validateUpgrade(parsed);
      const request = new HandshakeRequest(upgrade, host.transport.remoteAddr);
      this.#request = request;
      await this.#emitHandshake(request);
      const rejection = request.rejection ??
        (this.#rejected ? { status: 403, body: undefined } : undefined);
      if (rejection !== undefined) {
        throw new HandshakeError(
          `Cannot accept handshake: rejected with status ${rejection.status}`,
          rejection.status,
          "FORBIDDEN",
          {},
          rejection.body,
        );
      }
      // RFC 7692 §5: the first acceptable offer wins and the 101 says exactly what was agreed.
      // An application that answers Sec-WebSocket-Extensions itself keeps its own answer.
      this.#decided = true;
      let offered = request.responseHeaders.has("sec-websocket-extensions")
        ? undefined
        : host.perMessageDeflate;
      if (offered !== undefined && settings.compression === undefined) {
        // The server does not offer it, but this connection does: the codecs load on first use.
        if (await settings.loadCompression?.() === undefined) offered = undefined;
      }
      const agreed = offered === undefined
        ? undefined
        : negotiatePerMessageDeflate(upgrade.extensions, offered);
      if (agreed !== undefined) {
        request.responseHeaders.set("Sec-WebSocket-Extensions", agreed.response);
      }
      const response = buildAcceptResponse(upgrade.key, {
        ...(request.protocol === undefined ? {} : { protocol: request.protocol }),
        headers: request.responseHeaders,
      });
      return { accepted: request, response, deflate: agreed?.params };
    } catch (error) {
      return this.#refusal(error);
    }
  }

  async #emitHandshake(request: HandshakeRequest): Promise<void> {
    this.#inEvent = true;
    try {
      await this.#host.emitHandshake(request);
    } catch (error) {
      // An exception here is the server's fault: answer 500, not 403.
      this.#host.reportError(error);
      throw internalError();
    } finally {
      this.#inEvent = false;
    }
  }

  /** The error response for a failed handshake; what is not a `HandshakeError` is reported. */
  #refusal(error: unknown): OpeningAnswer {
    const failure = error instanceof HandshakeError ? error : internalError();
    if (!(error instanceof HandshakeError)) this.#host.reportError(error);
    const response = buildErrorResponse(failure.status, {
      headers: failure.headers,
      ...(failure.body === undefined ? {} : { body: failure.body }),
    });
    try {
      this.#settings.onRefused(failure, this.#host.transport.remoteAddr);
    } catch (nested) {
      this.#host.reportError(nested);
    }
    return { accepted: undefined, response, reason: failure.message };
  }
}

/** Answers a plain HTTP request with the application's response. */
async function answerHttp<Conn>(
  parsed: ParsedRequest,
  onRequest: (request: Request, conn: Conn) => Response | Promise<Response>,
  secure: boolean,
  host: OpeningHost<Conn>,
): Promise<OpeningAnswer> {
  // A head that makes no valid Request is the client's fault: its HandshakeError is a 400.
  const request = toRequest(parsed, { secure });
  let response: Response;
  try {
    response = await onRequest(request, host.conn);
    if (!(response instanceof Response)) {
      throw new TypeError("Cannot answer request: onRequest did not return a Response");
    }
  } catch (error) {
    host.reportError(error);
    response = new Response("Internal Server Error", { status: 500 });
  }
  const bytes = await encodeResponse(response, { head: parsed.method === "HEAD" });
  return { accepted: undefined, response: bytes, reason: "HTTP request answered" };
}

function internalError(): HandshakeError {
  return new HandshakeError("Cannot accept handshake: internal error", 500, "INTERNAL_ERROR");
}
