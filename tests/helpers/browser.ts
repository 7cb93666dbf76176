/**
 * The browser tests' common parts: where Chromium is and how it is started, the demo
 * (examples/chat.ts) run as a program by each runtime, and waiting on what a page shows.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { within } from "./server.ts";

/** Debian's Chromium, the browser of these tests. */
export const CHROMIUM = "/usr/bin/chromium";
/** Chromium's flags: headless, and no traffic of its own. */
export const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Time limit of one wait for the page. */
export const WAIT_MS = 15_000;

/** The runtime running the test. */
export const runner = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
/** Whether this is CI, where a missing browser or broker fails the test instead of skipping it. */
export const ci = process.env.CI !== undefined && process.env.CI !== "" &&
  process.env.CI !== "false";

/** The checkout: the folder with deno.json above this file (tests/ or npm/test_dist/). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("Cannot find the checkout: no deno.json above the test");
    dir = parent;
  }
  return dir;
}
export const ROOT = findRoot();

/** How each runtime runs the demo: the command, or why it cannot here. */
export function demoCommand(runtime: string): { command: string; args: string[] } | string {
  const program = {
    deno: {
      command: join(ROOT, "node_modules/deno/deno"),
      args: ["run", "--allow-net", "--allow-read", "--allow-env", "examples/chat.ts"],
    },
    bun: { command: join(ROOT, "node_modules/.bin/bun"), args: ["run", "examples/chat.ts"] },
    node: { command: "node", args: ["npm/examples/chat.js"] },
  }[runtime]!;
  const file = program.args.at(-1)!;
  if (!existsSync(join(ROOT, file))) return `${file} is missing (run "deno task build:npm")`;
  if (program.command !== "node" && !existsSync(program.command)) {
    return `${program.command} is missing (run "npm install")`;
  }
  return program;
}

/** A program to run instead of the demo: command, arguments, folder, and its "ready" line. */
export interface Program {
  command: string;
  args: string[];
  cwd: string;
  ready: RegExp;
}

/** One run of the demo (or another program) as a child process. */
export class Demo {
  readonly child: ChildProcess;
  readonly port: Promise<number>;
  readonly exited: Promise<number | null>;
  output = "";

  /** Runs the demo on `runtime` and `port` with `flags` added, or `other` instead. */
  constructor(runtime: string, port: number, other?: Program, flags: string[] = []) {
    const program = other ?? demoCommand(runtime);
    if (typeof program === "string") throw new Error(`Cannot start the demo: ${program}`);
    const args = other
      ? program.args
      : [...program.args, "--port", String(port), "--quiet", ...flags];
    const ready = other?.ready ?? /chat on http:\/\/127\.0\.0\.1:(\d+)\//;
    this.child = spawn(program.command, args, {
      cwd: other?.cwd ?? ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    this.port = new Promise((resolve, reject) => {
      const read = (chunk: Buffer) => {
        this.output += chunk.toString("utf8");
        const match = ready.exec(this.output);
        if (match) resolve(Number(match[1]));
      };
      this.child.stdout!.on("data", read);
      this.child.stderr!.on("data", read);
      this.child.on("error", reject);
      this.child.on("exit", (code) => {
        reject(
          new Error(`Cannot start the demo on ${runtime}: exited with ${code}\n${this.output}`),
        );
      });
    });
    this.port.catch(() => {});
  }

  /** SIGTERM, as Ctrl-C or a service manager would; resolves once it exited. */
  async stop(): Promise<void> {
    this.child.kill("SIGTERM");
    await within(this.exited, 10_000, "stop the demo");
    assert.match(this.output, /shutting down/);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** Console errors and uncaught exceptions of a page. */
export type Problems = string[];

export async function openPage(
  context: BrowserContext,
  url: string,
  problems: Problems,
): Promise<Page> {
  const page = await context.newPage();
  collectProblems(page, problems);
  await page.goto(url, { timeout: WAIT_MS });
  return page;
}

/** Adds the console errors and uncaught exceptions of `page` to `problems`. */
function collectProblems(page: Page, problems: Problems): void {
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error: Error) => problems.push(`uncaught: ${error.message}`));
}

/** Waits until `selector` holds an element whose text matches `text`. */
export async function shows(page: Page, selector: string, text: RegExp): Promise<void> {
  try {
    await page.locator(selector, { hasText: text }).first().waitFor({ timeout: WAIT_MS });
  } catch {
    const seen = await page.locator(selector).allTextContents();
    assert.fail(`Cannot see ${text} in ${selector}; it shows ${JSON.stringify(seen)}`);
  }
}

/** One WebSocket opening handshake of a page, as Chromium's DevTools protocol reports it. */
export interface Handshake {
  /** The URL of the socket. */
  url: string;
  /** What the page offered in `Sec-WebSocket-Extensions`, or `undefined`. */
  offered?: string | undefined;
  /** The status of the answer; 101 for an accepted handshake. */
  status: number;
  /** The answer's `Sec-WebSocket-Extensions`, or `undefined`. */
  extensions: string | undefined;
}

/** A header of a DevTools `Headers` object, whatever its case; several values joined by ", ". */
function header(headers: Record<string, unknown>, name: string): string | undefined {
  const values = Object.entries(headers)
    .filter(([key]) => key.toLowerCase() === name)
    .map(([, value]) => String(value));
  return values.length === 0 ? undefined : values.join(", ");
}

/**
 * Opens a page of `context` on `url`, as {@linkcode openPage}, with the page's WebSocket
 * handshakes recorded from before the page loads (Network.enable on a CDP session of the page):
 * the array fills in as the page opens sockets.
 */
export async function openWatchedPage(
  context: BrowserContext,
  url: string,
  problems: Problems,
): Promise<{ page: Page; handshakes: Handshake[] }> {
  const page = await context.newPage();
  const handshakes: Handshake[] = [];
  const offers = new Map<string, { url: string; offered: string | undefined }>();
  const cdp = await context.newCDPSession(page);
  cdp.on("Network.webSocketCreated", ({ requestId, url }) => {
    offers.set(requestId, { url, offered: undefined });
  });
  cdp.on("Network.webSocketWillSendHandshakeRequest", ({ requestId, request }) => {
    const known = offers.get(requestId);
    const offered = header(request.headers, "sec-websocket-extensions");
    offers.set(requestId, { url: known?.url ?? "", offered });
  });
  cdp.on("Network.webSocketHandshakeResponseReceived", ({ requestId, response }) => {
    const known = offers.get(requestId);
    handshakes.push({
      url: known?.url ?? "",
      // Chromium may report the request's headers only with the response.
      offered: known?.offered ?? header(response.requestHeaders ?? {}, "sec-websocket-extensions"),
      status: response.status,
      extensions: header(response.headers, "sec-websocket-extensions"),
    });
  });
  await cdp.send("Network.enable");
  collectProblems(page, problems);
  await page.goto(url, { timeout: WAIT_MS });
  return { page, handshakes };
}
