/**
 * The harness of the server's integration suites (server_test.ts, server_features_test.ts): the
 * adapters to run against, a scope that closes what a test opened, a time limit per test, a
 * server started on 127.0.0.1 that records its events, and a raw WebSocket client over
 * `node:tls`. Its waits use the real clock even while a test mocks the global timers.
 */
import { it } from "node:test";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import {
  type Connection,
  type HandshakeError,
  type RemoteAddress,
  serve,
  type ServeOptions,
  type Server,
} from "../../mod.ts";
import { type Frame, FrameParser } from "../../src/protocol/mod.ts";
import type { Listen } from "../../src/connection/transport.ts";
import { concat } from "./bytes.ts";
import { clientFrame, RawClient, type RawResponse, upgradeRequest } from "./raw_client.ts";
import { WsClient } from "./ws_client.ts";

const decoder = new TextDecoder();

/**
 * The timer functions as this module loaded them, so that waits keep working while a test replaces
 * the global ones or mocks `setInterval`. (On Deno, `mock.timers` mocking `setTimeout` reaches
 * these too: tests that mock `setTimeout` must not wait on it.)
 */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** The runtimes' adapters, as `{ name, listen }`: Deno: deno + node, Bun: bun + node, Node: node. */
export async function loadAdapters(): Promise<{ name: string; listen: Listen }[]> {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  const adapters: { name: string; listen: Listen }[] = [];
  if (runtime.Deno !== undefined) {
    adapters.push({ name: "deno", listen: (await import("../../src/adapters/deno.ts")).listen });
  } else if (runtime.Bun !== undefined) {
    adapters.push({ name: "bun", listen: (await import("../../src/adapters/bun.ts")).listen });
  }
  adapters.push({ name: "node", listen: (await import("../../src/adapters/node/net.ts")).listen });
  return adapters;
}

/** Resolves after `ms`, on the real clock even while the global timers are mocked. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** Like `withTimeout`, on the real clock even while the global timers are mocked. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`Cannot ${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => realClearTimeout(timer));
}

/** Polls `check` every few ms (on the real clock) until it holds; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean,
  what: string,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Cannot wait for ${what}: timed out`);
    await delay(5);
  }
}

/** Closes everything a test opened, last opened first. */
export class Scope {
  #cleanups: { cleanup: () => unknown; critical: boolean }[] = [];

  /** Runs `cleanup` when the test ends; a `critical` one fails the test if it throws. */
  defer(cleanup: () => unknown, critical = false): void {
    this.#cleanups.push({ cleanup, critical });
  }

  /** Runs every cleanup once; returns the first error of a critical one. */
  async dispose(): Promise<unknown> {
    const cleanups = this.#cleanups.reverse();
    this.#cleanups = [];
    let failure: unknown;
    for (const { cleanup, critical } of cleanups) {
      try {
        await cleanup();
      } catch (error) {
        if (critical) failure ??= error;
      }
    }
    return failure;
  }
}

const TEST_TIMEOUT_MS = 15_000;

/**
 * Declares a test with a scope and a time limit (skipped, with the reason, when `skip` is set). `t.after` never runs under `deno test`, so the
 * scope is disposed in a `finally`. The time limit's timer is set before the test starts: on Deno,
 * a timer set while `mock.timers` mocks `setTimeout` is mocked even through a saved reference.
 */
export function test(name: string, fn: (scope: Scope) => Promise<void>, skip?: string): void {
  it(name, skip === undefined ? {} : { skip }, async () => {
    const scope = new Scope();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = realSetTimeout(() => {
        reject(new Error(`Cannot finish "${name}": timed out after ${TEST_TIMEOUT_MS} ms`));
      }, TEST_TIMEOUT_MS);
    });
    let failure: unknown;
    try {
      await Promise.race([fn(scope), timeout]);
    } finally {
      realClearTimeout(timer);
      failure = await scope.dispose();
    }
    if (failure !== undefined) throw failure;
  });
}

/** What the server did, as its callbacks and connection events saw it. */
export class Log {
  readonly connects: Connection[] = [];
  readonly ready: Connection[] = [];
  readonly disconnects: { conn: Connection; code: number; reason: string }[] = [];
  readonly errors: { error: unknown; conn: Connection | undefined }[] = [];
  readonly refusals: { error: HandshakeError; remoteAddr: RemoteAddress }[] = [];

  /** What `disconnect` reported for `conn`. */
  disconnectsOf(conn: Connection): { conn: Connection; code: number; reason: string }[] {
    return this.disconnects.filter((entry) => entry.conn === conn);
  }

  /** The codes `disconnect` reported for `conn`. */
  codesOf(conn: Connection): number[] {
    return this.disconnectsOf(conn).map(({ code }) => code);
  }

  /** The `index`-th connection to complete its handshake, once it did. */
  async readyAt(index: number): Promise<Connection> {
    await waitFor(() => this.ready.length > index, `connection ${index} to be ready`);
    return this.ready[index]!;
  }
}

/** A server started by {@linkcode start}. */
export interface Started {
  server: Server;
  port: number;
  url: string;
  log: Log;
}

/** Options of {@linkcode start}: those of `serve`, and whether to echo. */
export interface StartOptions extends ServeOptions {
  /** Echo every text and binary message. Default `true`. */
  echo?: boolean;
}

/**
 * Starts a server on 127.0.0.1 with `listen`, recording its events, echoing by default, with
 * short timeouts so that closing never stalls a test. It is shut down when the test ends.
 */
export async function start(
  scope: Scope,
  listen: Listen | false,
  options: StartOptions = {},
): Promise<Started> {
  const log = new Log();
  const { echo = true, onConnect, onError, onHandshakeError, ...rest } = options;
  const server = serve({
    closeTimeout: 1,
    handshakeTimeout: 5,
    ...rest,
    port: 0,
    hostname: "127.0.0.1",
    listen,
    onConnect(conn) {
      log.connects.push(conn);
      conn.on("ready", (conn) => void log.ready.push(conn));
      conn.on(
        "disconnect",
        (conn, code, reason) => void log.disconnects.push({ conn, code, reason }),
      );
      if (echo) {
        conn.on("text", (conn, text) => void conn.sendText(text));
        conn.on("binary", (conn, data) => void conn.sendBinary(data));
      }
      onConnect?.(conn);
    },
    onError(error, conn) {
      log.errors.push({ error, conn });
      onError?.(error, conn);
    },
    onHandshakeError(error, remoteAddr) {
      log.refusals.push({ error, remoteAddr });
      onHandshakeError?.(error, remoteAddr);
    },
  });
  scope.defer(() => within(server.shutdown(), 5000, "shut down"), true);
  await server.ready;
  return { server, port: server.port, url: `ws://127.0.0.1:${server.port}`, log };
}

/** Opens a raw client with a completed handshake on `path`; destroyed when the test ends. */
export async function openRaw(scope: Scope, port: number, path = "/"): Promise<RawClient> {
  const client = await RawClient.open(port, path);
  scope.defer(() => client.destroy());
  return client;
}

/** Opens a real WebSocket client; closed when the test ends. */
export async function openWs(scope: Scope, url: string): Promise<WsClient> {
  const client = await WsClient.connect(url);
  scope.defer(() => client.dispose());
  return client;
}

/** Sends `request` on a new socket and returns the response, read until the socket closed. */
export async function rawRequest(
  scope: Scope,
  port: number,
  request: string,
): Promise<RawResponse> {
  const client = await RawClient.connect(port);
  scope.defer(() => client.destroy());
  await client.write(request);
  const response = await client.response();
  await client.waitClosed();
  return response;
}

/** A plain HTTP/1.1 request head. */
export function httpRequest(
  method: string,
  target: string,
  headers: Record<string, string> = {},
): string {
  const lines = Object.entries({ Host: "127.0.0.1", ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${target} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/**
 * Sends `request` over TLS (trusting `ca`) and returns everything the server sent until it
 * closed the connection.
 */
export async function tlsRequest(port: number, ca: string, request: string): Promise<string> {
  const socket = tlsConnect({ host: "127.0.0.1", port, ca, servername: "localhost" });
  const chunks: Uint8Array[] = [];
  const done = new Promise<string>((resolve, reject) => {
    socket.on("error", reject);
    socket.on("data", (chunk: Uint8Array) => void chunks.push(chunk));
    socket.once("secureConnect", () => socket.write(request));
    socket.once("close", () => resolve(decoder.decode(concat(chunks))));
  });
  try {
    return await within(done, 3000, "read an HTTP response over TLS");
  } finally {
    socket.destroy();
  }
}

/**
 * A WebSocket client over `node:tls` (on Deno, Bun and Node) that trusts the given CA: it writes
 * the upgrade request and hand-made frames, reads the response head, then parses the server's
 * frames.
 */
export class TlsRawClient {
  readonly socket: TLSSocket;
  /** Resolves once the socket closed. */
  readonly closed: Promise<void>;

  readonly #parser = new FrameParser({ role: "client", maxFrameSize: Infinity });
  readonly #frames: Frame[] = [];
  #pending: Uint8Array = new Uint8Array(0);
  #response: RawResponse | undefined;
  #wake: (() => void) | undefined;
  #isClosed = false;

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.#isClosed = true;
        this.#notify();
        resolve();
      });
    });
  }

  /** Connects to 127.0.0.1:`port` trusting `ca`, then completes the handshake on `path`. */
  static async open(port: number, ca: string, path = "/"): Promise<TlsRawClient> {
    const socket = tlsConnect({ host: "127.0.0.1", port, ca, servername: "localhost" });
    const connected = new Promise<TlsRawClient>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("secureConnect", () => {
        socket.off("error", reject);
        resolve(new TlsRawClient(socket));
      });
    });
    const client = await within(connected, 3000, `connect with TLS to port ${port}`).catch(
      (error) => {
        socket.destroy();
        throw error;
      },
    );
    socket.write(upgradeRequest(path));
    const response = await client.response();
    if (response.status !== 101) {
      client.destroy();
      throw new Error(`Cannot open: the server answered ${response.statusLine}`);
    }
    return client;
  }

  /** Writes one masked frame. */
  sendFrame(opcode: number, payload: Uint8Array | string = new Uint8Array(0)): void {
    this.socket.write(clientFrame(opcode, payload));
  }

  /** The response head, once it arrived. */
  async response(timeoutMs = 3000): Promise<RawResponse> {
    while (this.#response === undefined) {
      if (this.#isClosed) throw new Error("Cannot read the response head: the socket closed");
      await within(new Promise<void>((resolve) => this.#wake = resolve), timeoutMs, "read a head");
    }
    return this.#response;
  }

  /** The next frame from the server; rejects once the socket closed or after `timeoutMs`. */
  async nextFrame(timeoutMs = 3000): Promise<Frame> {
    for (;;) {
      const frame = this.#frames.shift();
      if (frame !== undefined) return frame;
      if (this.#isClosed) throw new Error("Cannot read a frame: the socket closed");
      await within(new Promise<void>((resolve) => this.#wake = resolve), timeoutMs, "read a frame");
    }
  }

  /** Destroys the socket at once. */
  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Uint8Array): void {
    if (this.#response !== undefined) {
      this.#parser.push(chunk.slice(), (frame) => this.#frames.push(frame));
      this.#notify();
      return;
    }
    const joined = concat([this.#pending, chunk]);
    this.#pending = joined;
    const text = decoder.decode(joined);
    const end = text.indexOf("\r\n\r\n");
    if (end === -1) return;
    // The head is ASCII: its length in characters is its length in bytes.
    const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
    this.#response = { status, statusLine, headers, body: "" };
    const rest = joined.subarray(end + 4);
    this.#pending = new Uint8Array(0);
    if (rest.length > 0) this.#parser.push(rest.slice(), (frame) => this.#frames.push(frame));
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
