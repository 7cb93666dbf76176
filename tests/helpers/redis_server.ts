/**
 * A real `redis-server` for the backplane tests: started on a free loopback port with no
 * persistence, restartable on the same port, stopped (SIGTERM, then SIGKILL) within a deadline.
 * Also the test's own timing helpers, on the real clock, and where the runtimes' binaries are.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `Cannot <what>: timed out` if `promise` takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Cannot ${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` (sync or async) every 10 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Cannot wait for ${what}: timed out`);
    await delay(10);
  }
}

/** The repository root: the nearest folder above this file with node_modules/.bin in it. */
export const ROOT: string = (() => {
  let dir = new URL("./", import.meta.url);
  for (let i = 0; i < 6; i++) {
    if (existsSync(fileURLToPath(new URL("node_modules/.bin", dir)))) return fileURLToPath(dir);
    dir = new URL("../", dir);
  }
  throw new Error("Cannot find the repository root: no node_modules/.bin above the tests");
})();

/** The runtime running this test. */
export const RUNTIME: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("Cannot get a free port");
  return address.port;
}

/** One redis-server process on 127.0.0.1, restartable on its port. */
export class RedisServer {
  #process: ChildProcess | undefined;
  #port: number;

  private constructor(port: number) {
    this.#port = port;
  }

  /** Starts a server on a free port (trying another port if one was taken meanwhile). */
  static async start(): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.restart();
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw lastError;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#port;
  }

  /** `redis://127.0.0.1:PORT` */
  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /** Starts it again on the same port (after {@linkcode stop}), once it accepts connections. */
  async restart(): Promise<void> {
    if (this.#process !== undefined) throw new Error("Cannot start redis-server: it is running");
    const child = spawn("redis-server", [
      "--save",
      "",
      "--appendonly",
      "no",
      "--port",
      String(this.#port),
      "--bind",
      "127.0.0.1",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    this.#process = child;
    let output = "";
    await within(
      new Promise<void>((resolve, reject) => {
        child.once("error", (error) => {
          reject(
            new Error(
              `Cannot start redis-server: ${error.message}; install it (apt-get install redis-server)`,
            ),
          );
        });
        child.once("exit", (code) => {
          reject(new Error(`Cannot start redis-server: it exited with ${code}: ${output}`));
        });
        child.stdout!.on("data", (chunk: Uint8Array) => {
          output += new TextDecoder().decode(chunk);
          if (output.includes("Ready to accept connections")) resolve();
        });
        child.stderr!.on("data", (chunk: Uint8Array) => {
          output += new TextDecoder().decode(chunk);
        });
      }),
      5000,
      "start redis-server",
    );
  }

  /** Stops it: SIGTERM, then SIGKILL after 2 s; resolves once it has exited. */
  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  }
}
