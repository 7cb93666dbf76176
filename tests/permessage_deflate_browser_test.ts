// permessage-deflate with a real browser, before serve() speaks it: Debian's Chromium (driven by
// playwright-core) connects to a small loopback server made in this test from the building
// blocks alone — the handshake parser, negotiatePerMessageDeflate, DeflateSender and
// MessageInflater over the zlib codec. The page echoes what it receives; the test checks the
// offer, the answer the browser accepted (`ws.extensions`), and every message both ways:
// compressed, fragmented compressed, under the threshold, with the window kept between them.
//
// Without Chromium the test fails when CI is set, and is skipped otherwise.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { BrowserContext } from "playwright-core";
import { startDeflateServer } from "./helpers/deflate_loopback.ts";
import { Random } from "./helpers/random.ts";
import { within } from "./helpers/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"];
const ci = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false";

async function scenario(): Promise<void> {
  const messages = [
    "Hello",
    JSON.stringify({ type: "message", text: "hello there ".repeat(20) }),
    JSON.stringify({ type: "message", text: "hello there ".repeat(20), again: true }),
    "ü🚀 ".repeat(3000), // multi-byte text that compresses far
    // Little repetition: compressed, it still spans several 1000-byte frames.
    Array.from(new Random(5).bytes(4000), (byte) => String.fromCharCode(0x21 + (byte % 90))).join(
      "",
    ),
  ];
  const { close, port, session } = await startDeflateServer(messages);
  const profile = await mkdtemp(join(tmpdir(), "netws-deflate-browser-"));
  let context: BrowserContext | undefined;
  try {
    const { chromium } = await import("playwright-core");
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      timeout: 20_000,
    });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    const extensions = await page.evaluate((count) =>
      new Promise<string>((resolve, reject) => {
        const socket = new WebSocket(`ws://${location.host}/`);
        let seen = 0;
        socket.onmessage = (event) => {
          socket.send(event.data);
          if (++seen === count) resolve(socket.extensions);
        };
        socket.onerror = () => reject(new Error("the WebSocket failed"));
      }), messages.length);
    await within(session.done, 15_000, "get every echo back");
    assert.equal(session.offer, "permessage-deflate; client_max_window_bits");
    assert.equal(
      session.response,
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    );
    assert.equal(extensions, session.response);
    assert.deepEqual(session.echoed, messages);
    // "Hello" is under the threshold; the rest go compressed, the last over several frames.
    assert.deepEqual(session.sentFrames.slice(0, 4), [[false], [true], [true], [true]]);
    const last = session.sentFrames[4]!;
    assert.ok(last.length >= 2, `the last message went as ${last.length} frames`);
    assert.deepEqual(last, [true, ...last.slice(1).map(() => false)]);
    assert.ok(session.compressedEchoes >= 4, `${session.compressedEchoes} echoes came compressed`);
  } finally {
    await context?.close();
    await rm(profile, { recursive: true, force: true });
    await close();
  }
}

describe("permessage-deflate in Chromium", () => {
  const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing`;
  if (missing !== undefined && ci) {
    it("Chromium is installed for the permessage-deflate browser test", () => {
      assert.fail(`Cannot run the browser test: ${missing}`);
    });
    return;
  }
  it(
    "Chromium negotiates permessage-deflate with netws' answer and echoes compressed messages",
    { skip: missing && `skipped: ${missing}`, timeout: 60_000 },
    () => within(scenario(), 45_000, "run the permessage-deflate browser scenario"),
  );
});
