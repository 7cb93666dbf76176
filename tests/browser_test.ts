// The chat demo (examples/chat.ts) in a real browser: Debian's Chromium, driven by playwright-core
// (which never downloads a browser of its own here), against the demo run as a program by each
// runtime. Two pages chat with permessage-deflate negotiated (each 101's Sec-WebSocket-Extensions
// read through Chromium's DevTools protocol); the oversized button ends its page's connection with
// 1009; a shutdown shows 1001 and the page retries with back-off until the demo is back; no
// console errors.
//
// Under Node's test run the demo is served by Deno, Bun and Node (the npm build) in turn; under
// Deno and Bun, by the runtime running the test. Without Chromium the test fails when CI is set,
// and is skipped otherwise.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import {
  CHROMIUM,
  ci,
  Demo,
  demoCommand,
  FLAGS,
  type Handshake,
  openPage,
  openWatchedPage,
  type Problems,
  ROOT,
  runner,
  shows,
  WAIT_MS,
} from "./helpers/browser.ts";
import { within } from "./helpers/server.ts";

/** Time limit of one runtime's run of the whole scenario. */
const SCENARIO_MS = 60_000;

/** Chromium's offer, and the demo's answer: its permessage-deflate with the default windows. */
const OFFER = "permessage-deflate; client_max_window_bits";
const ANSWER = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12";

/** Asserts that the page's handshakes so far were `count` accepted ones, each compressed. */
function assertCompressed(handshakes: Handshake[], count: number, who: string): void {
  assert.deepEqual(
    handshakes.map(({ status, offered, extensions }) => ({ status, offered, extensions })),
    Array.from({ length: count }, () => ({ status: 101, offered: OFFER, extensions: ANSWER })),
    `${who}'s handshakes`,
  );
  for (const { url } of handshakes) assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/ws\?room=lobby$/);
}

/** The whole scenario against the demo served by `runtime`. */
async function scenario(runtime: string): Promise<void> {
  const { chromium } = await import("playwright-core");
  const profile = await mkdtemp(join(tmpdir(), "netws-browser-"));
  const demos: Demo[] = [];
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      timeout: 20_000,
    });
    const first = new Demo(runtime, 0);
    demos.push(first);
    const port = await within(first.port, 20_000, `start the demo on ${runtime}`);
    const url = `http://127.0.0.1:${port}/`;
    const problems: Problems = [];
    const { page: alice, handshakes: aliceShakes } = await openWatchedPage(context, url, problems);
    await shows(alice, "#status", /^Connected as guest-1$/);
    const { page: bob, handshakes: bobShakes } = await openWatchedPage(context, url, problems);
    await shows(bob, "#status", /^Connected as guest-2$/);
    await shows(alice, "#log li", /^guest-2 joined\.$/);
    // Both sockets negotiated permessage-deflate: the 101 answered Chromium's offer.
    assertCompressed(aliceShakes, 1, "alice");
    assertCompressed(bobShakes, 1, "bob");

    // Two pages chat, both ways, compressed; the text goes in as text, not as HTML.
    await alice.fill("#message", "hello <b>bob</b>");
    await alice.click("#send");
    await shows(bob, "#log li.message", /^guest-1: hello <b>bob<\/b>$/);
    await bob.fill("#message", "hi alice");
    await bob.press("#message", "Enter");
    await shows(alice, "#log li.message", /^guest-2: hi alice$/);
    assert.equal(await bob.locator("#log b").count(), 0);
    // A long message, near maxMessageSize once inflated, both ways.
    const long = "compress me, netws! ".repeat(200).trim();
    await alice.fill("#message", long);
    await alice.press("#message", "Enter");
    await shows(bob, "#log li.message", new RegExp(`^guest-1: ${long}$`));
    await bob.fill("#message", `${long} (back)`);
    await bob.press("#message", "Enter");
    await shows(alice, "#log li.message", new RegExp(`^guest-2: ${long} \\(back\\)$`));

    // The oversized button: the server closes with 1009, the page says so and does not retry.
    await alice.click("#oversized");
    await shows(alice, "#log li.closed", /^closed: 1009 /);
    await shows(alice, "#status", /^closed: 1009 /);
    await shows(bob, "#log li", /^guest-1 left \(1009 /);
    assert.ok(await alice.locator("#send").isDisabled());
    assert.deepEqual(problems, [], "no console errors while the demo runs");

    // Shutdown: the remaining page shows 1001, then retries with back-off while the demo is down.
    await first.stop();
    await shows(bob, "#log li.closed", /^closed: 1001 Server shutting down$/);
    await shows(bob, "#status", /^The server cannot be reached; retrying in \d+ s$/);
    assert.equal(await bob.locator("#reconnect").textContent(), "Retry now");

    // The demo comes back on the same port: the page reconnects by itself.
    const second = new Demo(runtime, port);
    demos.push(second);
    await within(second.port, 20_000, `restart the demo on ${runtime}`);
    await shows(bob, "#status", /^Connected as guest-1$/);
    await shows(alice, "#status", /^closed: 1009 /);
    // The reconnected socket negotiated it again; refused attempts have no answer.
    assertCompressed(bobShakes, 2, "bob");
    await bob.fill("#message", "back again");
    await bob.press("#message", "Enter");
    await shows(bob, "#log li.message", /^guest-1: back again$/);
    await second.stop();

    // While the server was down, Chromium logged each refused attempt; nothing else is allowed.
    const refused =
      /^console: WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws\?room=lobby' failed: /;
    assert.deepEqual(problems.filter((problem) => !refused.test(problem)), []);
  } finally {
    await context?.close().catch(() => {});
    for (const demo of demos) demo.kill();
    await rm(profile, { recursive: true, force: true });
  }
}

/** The README's echo snippet, on a free port, run on Deno with an import map to the checkout. */
async function startEcho(dir: string): Promise<Demo> {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const code = /<!-- echo-snippet:[^>]*-->\s*```ts[^\n]*\n([^]*?)\n```/.exec(readme)?.[1];
  assert.ok(code !== undefined && code.includes("port: 8081,"), "the README's snippet, on 8081");
  await writeFile(join(dir, "server.ts"), code.replace("port: 8081,", "port: 0,"));
  await writeFile(
    join(dir, "deno.json"),
    JSON.stringify({ imports: { "@netws/server": join(ROOT, "mod.ts") } }),
  );
  return new Demo("deno", 0, {
    command: join(ROOT, "node_modules/deno/deno"),
    args: ["run", "--allow-net", "server.ts"],
    cwd: dir,
    ready: /echo on ws:\/\/127\.0\.0\.1:(\d+)/,
  });
}

/** From the demo's page, the README's echo server answers: its origin check lets the page in. */
async function echoFromDemoPage(runtime: string): Promise<void> {
  const { chromium } = await import("playwright-core");
  const profile = await mkdtemp(join(tmpdir(), "netws-browser-"));
  const processes: Demo[] = [];
  let context: BrowserContext | undefined;
  try {
    const demo = new Demo(runtime, 0);
    processes.push(demo);
    const echo = await startEcho(profile);
    processes.push(echo);
    const [demoPort, echoPort] = await within(
      Promise.all([demo.port, echo.port]),
      20_000,
      "start the demo and the echo server",
    );
    context = await chromium.launchPersistentContext(join(profile, "chromium"), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      timeout: 20_000,
    });
    const problems: Problems = [];
    const page = await openPage(context, `http://127.0.0.1:${demoPort}/`, problems);
    await shows(page, "#status", /^Connected as guest-1$/);
    const reply = await within(
      page.evaluate((url) =>
        new Promise<string>((resolve, reject) => {
          const socket = new WebSocket(url);
          socket.onopen = () => socket.send("hi from the demo page");
          socket.onmessage = (event) => {
            resolve(String(event.data));
            socket.close();
          };
          socket.onclose = (event) => reject(new Error(`closed: ${event.code}`));
        }), `ws://127.0.0.1:${echoPort}`),
      WAIT_MS,
      "echo from the demo's page",
    );
    assert.equal(reply, "hi from the demo page");
    assert.doesNotMatch(echo.output, /refused/);
    assert.deepEqual(problems, []);
  } finally {
    await context?.close().catch(() => {});
    for (const child of processes) child.kill();
    await rm(profile, { recursive: true, force: true });
  }
}

const chromiumMissing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing`;
const runtimes = runner === "node" ? ["deno", "bun", "node"] : [runner];

describe("chat demo in Chromium", () => {
  if (chromiumMissing !== undefined && ci) {
    it("Chromium is installed for the browser test", () => {
      assert.fail(`Cannot run the browser test: ${chromiumMissing}; .ci/run installs it`);
    });
    return;
  }
  for (const runtime of runtimes) {
    const unavailable = chromiumMissing ?? (() => {
      const program = demoCommand(runtime);
      return typeof program === "string" ? program : undefined;
    })();
    if (unavailable !== undefined && ci) {
      it(`chat demo served by ${runtime} can run`, () => {
        assert.fail(`Cannot run the demo on ${runtime}: ${unavailable}`);
      });
      continue;
    }
    it(
      `chat demo served by ${runtime}: two pages chat compressed, 1009, 1001, retry, no console errors`,
      { skip: unavailable && `skipped: ${unavailable}`, timeout: SCENARIO_MS + 15_000 },
      () => within(scenario(runtime), SCENARIO_MS, `run the browser scenario on ${runtime}`),
    );
    if (runtime === runner) {
      it(
        `chat demo served by ${runtime}: its page reaches the README's echo server`,
        { skip: unavailable && `skipped: ${unavailable}`, timeout: SCENARIO_MS + 15_000 },
        () => within(echoFromDemoPage(runtime), SCENARIO_MS, "echo from the demo's page"),
      );
    }
  }
});
