/**
 * A raw TCP client over `node:net` (which works on Deno, Bun and Node) for the tests that must
 * write exact bytes: malformed handshakes, hand-made frames, protocol violations, a peer that
 * stalls or vanishes. It reads the HTTP response head, then parses the server's frames.
 */
import { connect as netConnect, type Socket } from "node:net";
import { encodeFrame, type Frame, FrameParser, Opcode } from "../../src/protocol/mod.ts";
import { concat } from "./bytes.ts";
import { withTimeout } from "./ws_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The RFC 6455 §1.3 example key and the accept value it must get. */
export const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
export const SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** An HTTP response as the raw client read it. */
export interface RawResponse {
  status: number;
  statusLine: string;
  headers: Headers;
  /** Bytes after the head that are not frames (the body of an error response). */
  body: string;
}

/** A valid upgrade request head for `path`, with `headers` added or overriding. */
export function upgradeRequest(
  path = "/",
  headers: Record<string, string> = {},
  requestLine = `GET ${path} HTTP/1.1`,
): string {
  const all: Record<string, string> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": SAMPLE_KEY,
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  const lines = Object.entries(all).map(([name, value]) => `${name}: ${value}`);
  return `${requestLine}\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/** A masked client frame's bytes in one buffer. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: { fin?: boolean; mask?: boolean; rsv1?: boolean } = {},
): Uint8Array {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  return concat(encodeFrame(opcode, bytes, {
    fin: options.fin ?? true,
    rsv1: options.rsv1 ?? false,
    mask: options.mask ?? true,
  }));
}

/** The code and reason of a close frame (1005 when it has no payload). */
export function closeOf(frame: Frame): { code: number; reason: string } {
  if (frame.opcode !== Opcode.Close) {
    throw new Error(`Cannot read close frame: got opcode ${frame.opcode}`);
  }
  const payload = frame.payload;
  if (payload.length < 2) return { code: 1005, reason: "" };
  return { code: (payload[0]! << 8) | payload[1]!, reason: decoder.decode(payload.subarray(2)) };
}

/** A client socket that writes raw bytes and reads an HTTP head, then frames. */
export class RawClient {
  readonly socket: Socket;
  /** Resolves once the socket fully closed, for whatever reason. */
  readonly closed: Promise<void>;
  /** Whether the server ended its side (FIN) before the socket closed. */
  ended = false;
  /** Bytes received in all. */
  bytesReceived = 0;

  #pending: Uint8Array = new Uint8Array(0);
  #response: RawResponse | undefined;
  #headWaiter: (() => void) | undefined;
  #frameMode = false;
  // RSV1 is reported in each frame's `rsv1`, for the permessage-deflate tests to check.
  readonly #parser = new FrameParser({ role: "client", maxFrameSize: Infinity, allowRsv1: true });
  readonly #frames: Frame[] = [];
  #frameWaiter: (() => void) | undefined;
  #parseError: unknown;
  #isClosed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("end", () => this.ended = true);
    // A reset is an ordinary way for a test's connection to end: `closed` reports it.
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.#isClosed = true;
        this.#wake();
        resolve();
      });
    });
  }

  /** Connects to 127.0.0.1:`port`; rejects when the connection is refused. */
  static connect(port: number, timeoutMs = 3000): Promise<RawClient> {
    const socket = netConnect({ host: "127.0.0.1", port });
    const connected = new Promise<RawClient>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawClient(socket));
      });
    });
    return withTimeout(connected, timeoutMs, `connect to port ${port}`).catch((error) => {
      socket.destroy();
      throw error;
    });
  }

  /** Connects and completes a valid handshake on `path`; rejects unless the answer is 101. */
  static async open(port: number, path = "/"): Promise<RawClient> {
    const client = await RawClient.connect(port);
    try {
      await client.write(upgradeRequest(path));
      const response = await client.response();
      if (response.status !== 101) {
        throw new Error(`Cannot open: the server answered ${response.statusLine}`);
      }
    } catch (error) {
      client.destroy();
      throw error;
    }
    return client;
  }

  /** The status of the response head, once it arrived. */
  get status(): number | undefined {
    return this.#response?.status;
  }

  /** Whether the socket closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Writes bytes (or a string as UTF-8); resolves once the socket took them. */
  write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => error ? reject(error) : resolve());
    });
  }

  /** Writes one masked frame. */
  sendFrame(
    opcode: number,
    payload: Uint8Array | string = new Uint8Array(0),
    options: { fin?: boolean; mask?: boolean; rsv1?: boolean } = {},
  ): Promise<void> {
    return this.write(clientFrame(opcode, payload, options));
  }

  /**
   * The response head, once it arrived. A 101 switches to reading frames; after any other
   * status the socket is read to its close and what follows the head is the body.
   */
  async response(timeoutMs = 3000): Promise<RawResponse> {
    if (this.#response === undefined) {
      const arrived = new Promise<void>((resolve) => this.#headWaiter = resolve);
      if (this.#response === undefined && !this.#isClosed) {
        await withTimeout(arrived, timeoutMs, "read the response head");
      }
    }
    const response = this.#response;
    if (this.#parseError !== undefined && response === undefined) throw this.#parseError;
    if (response === undefined) {
      throw new Error(
        `Cannot read the response head: the socket closed after ${this.bytesReceived} bytes`,
      );
    }
    if (response.status !== 101) {
      await withTimeout(this.closed, timeoutMs, "read the response body");
      response.body = decoder.decode(this.#pending);
    }
    return response;
  }

  /** The next frame from the server; rejects once the socket closed or after `timeoutMs`. */
  async nextFrame(timeoutMs = 3000): Promise<Frame> {
    for (;;) {
      const frame = this.#frames.shift();
      if (frame !== undefined) return frame;
      if (this.#parseError !== undefined) throw this.#parseError;
      if (this.#isClosed) throw new Error("Cannot read a frame: the socket closed");
      const arrived = new Promise<void>((resolve) => this.#frameWaiter = resolve);
      await withTimeout(arrived, timeoutMs, "read a frame");
    }
  }

  /** The next frame that is not a ping or pong. */
  async nextDataOrClose(timeoutMs = 3000): Promise<Frame> {
    for (;;) {
      const frame = await this.nextFrame(timeoutMs);
      if (frame.opcode !== Opcode.Ping && frame.opcode !== Opcode.Pong) return frame;
    }
  }

  /** Whether a frame is waiting to be read. */
  get hasFrame(): boolean {
    return this.#frames.length > 0;
  }

  /** Waits, at most `timeoutMs`, for the socket to close. */
  waitClosed(timeoutMs = 3000): Promise<void> {
    return withTimeout(this.closed, timeoutMs, "wait for the socket to close");
  }

  /** Destroys the socket at once (no close frame, no FIN handshake). */
  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Uint8Array): void {
    this.bytesReceived += chunk.byteLength;
    if (this.#frameMode) {
      this.#pushFrames(chunk);
      return;
    }
    this.#pending = concat([this.#pending, chunk]);
    if (this.#response !== undefined) return;
    const end = indexOfHeadEnd(this.#pending);
    if (end === -1) return;
    try {
      this.#response = parseResponseHead(decoder.decode(this.#pending.subarray(0, end)));
    } catch (error) {
      this.#parseError = error;
      this.#wake();
      return;
    }
    const rest = this.#pending.subarray(end + 4);
    this.#pending = rest;
    if (this.#response.status === 101) {
      this.#frameMode = true;
      this.#pending = new Uint8Array(0);
      if (rest.length > 0) this.#pushFrames(rest);
    }
    const waiter = this.#headWaiter;
    this.#headWaiter = undefined;
    waiter?.();
  }

  #pushFrames(chunk: Uint8Array): void {
    if (this.#parseError !== undefined) return;
    try {
      // The parser unmasks in place and may keep views: hand it a copy.
      this.#parser.push(chunk.slice(), (frame) => this.#frames.push(frame));
    } catch (error) {
      this.#parseError = error;
    }
    this.#wake();
  }

  #wake(): void {
    const frameWaiter = this.#frameWaiter;
    this.#frameWaiter = undefined;
    frameWaiter?.();
    const headWaiter = this.#headWaiter;
    this.#headWaiter = undefined;
    headWaiter?.();
  }
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function parseResponseHead(text: string): RawResponse {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const match = /^HTTP\/1\.1 (\d{3})(?: .*)?$/.exec(statusLine);
  if (match === null) throw new Error(`Cannot parse status line "${statusLine}"`);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`Cannot parse header line "${line}"`);
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(match[1]), statusLine, headers, body: "" };
}
