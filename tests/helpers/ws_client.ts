/**
 * A real WebSocket client with a small promise API, the same on every runtime: the built-in
 * `WebSocket` of Deno and Bun, the `ws` package on Node (loaded only there).
 */

/** How the peer closed: the code and reason of its close frame, 1006 when there was none. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A message received: text as a string, binary as bytes. */
export type WsMessage = string | Uint8Array;

// The part of the WHATWG `WebSocket` API that Deno's, Bun's and `ws`'s clients share.
interface EventSocket {
  binaryType: string;
  readonly protocol: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: SocketEvent) => void): void;
}

interface SocketEvent {
  data?: unknown;
  code?: number;
  reason?: string;
}

type SocketConstructor = new (url: string, protocols?: string[]) => EventSocket;

let constructorPromise: Promise<SocketConstructor> | undefined;

/** The `WebSocket` class of this runtime: the global one on Deno and Bun, `ws` on Node. */
function socketConstructor(): Promise<SocketConstructor> {
  constructorPromise ??= (async () => {
    const runtime = globalThis as { Deno?: unknown; Bun?: unknown; WebSocket?: unknown };
    if (runtime.Deno !== undefined || runtime.Bun !== undefined) {
      return runtime.WebSocket as SocketConstructor;
    }
    const ws = await import("ws") as unknown as { WebSocket: SocketConstructor };
    return ws.WebSocket;
  })();
  return constructorPromise;
}

/** Rejects with a message naming `what` once `ms` passed, unless `promise` settled first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Cannot ${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Options of {@linkcode WsClient.connect}. */
export interface WsClientOptions {
  /** Subprotocols to offer. */
  protocols?: string[];
  /** How long the handshake may take, in ms. Default 3000. */
  timeoutMs?: number;
}

/** A connected WebSocket client. */
export class WsClient {
  readonly #socket: EventSocket;
  readonly #messages: WsMessage[] = [];
  #waiter: { resolve(message: WsMessage): void; reject(error: Error): void } | undefined;
  #closeInfo: CloseInfo | undefined;
  /** Resolves with the close code and reason once the connection closed. Never rejects. */
  readonly closed: Promise<CloseInfo>;

  private constructor(socket: EventSocket) {
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => {
      const data = event.data;
      const message = typeof data === "string" ? data : toBytes(data);
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter === undefined) this.#messages.push(message);
      else waiter.resolve(message);
    });
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        // Deno's client reports a connection lost without a close frame as 0, not 1006: a server
        // cannot send 0 (RFC 6455 §7.4.2), so 0 can only mean the abnormal closure.
        const code = event.code === undefined || event.code === 0 ? 1006 : event.code;
        this.#closeInfo = { code, reason: event.reason ?? "" };
        const waiter = this.#waiter;
        this.#waiter = undefined;
        waiter?.reject(
          new Error(`Cannot receive: the connection closed with ${this.#closeInfo.code}`),
        );
        resolve(this.#closeInfo);
      });
    });
  }

  /** Opens a connection to `url`; rejects if the handshake fails or takes too long. */
  static async connect(url: string, options: WsClientOptions = {}): Promise<WsClient> {
    const Socket = await socketConstructor();
    const socket = options.protocols === undefined
      ? new Socket(url)
      : new Socket(url, options.protocols);
    const client = new WsClient(socket);
    const opened = new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", () => reject(new Error(`Cannot connect to ${url}`)));
      void client.closed.then(({ code }) =>
        reject(new Error(`Cannot connect to ${url}: closed with ${code}`))
      );
    });
    try {
      await withTimeout(opened, options.timeoutMs ?? 3000, `connect to ${url}`);
    } catch (error) {
      socket.close();
      throw error;
    }
    return client;
  }

  /** The subprotocol the server chose, or `""`. */
  get protocol(): string {
    return this.#socket.protocol;
  }

  /** The close code and reason, once closed. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** Sends a text (string) or binary (bytes) message. */
  send(data: WsMessage): void {
    this.#socket.send(data);
  }

  /** The next message, in order of arrival; rejects on close or after `timeoutMs`. */
  next(timeoutMs = 3000): Promise<WsMessage> {
    const queued = this.#messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#closeInfo !== undefined) {
      return Promise.reject(
        new Error(`Cannot receive: the connection closed with ${this.#closeInfo.code}`),
      );
    }
    if (this.#waiter !== undefined) throw new Error("Cannot receive: already waiting");
    const message = new Promise<WsMessage>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
    return withTimeout(message, timeoutMs, "receive a message").finally(() => {
      this.#waiter = undefined;
    });
  }

  /** Sends `data` and returns the next message: the echo, on an echo server. */
  async roundTrip(data: WsMessage, timeoutMs = 3000): Promise<WsMessage> {
    this.send(data);
    return await this.next(timeoutMs);
  }

  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void {
    if (code === undefined) this.#socket.close();
    else this.#socket.close(code, reason);
  }

  /** Closes (if still open) and waits, at most `timeoutMs`, until the connection closed. */
  async dispose(timeoutMs = 2000): Promise<void> {
    if (this.#closeInfo !== undefined) return;
    try {
      this.#socket.close();
    } catch {
      // Already closing.
    }
    await withTimeout(this.closed, timeoutMs, "close the client").catch(() => {});
  }
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new TypeError(`Cannot read message: unexpected data ${String(data)}`);
}
