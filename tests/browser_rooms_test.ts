// Rooms across processes in a real browser: two runs of the chat demo (examples/chat.ts) on
// different ports share a real redis-server through `--redis`; Chromium pages connected to
// different instances chat in one room, a page in another room hears none of it, and the page's
// room field moves a page into the room. The demo is served by the runtime running the test.
//
// Without Chromium or redis-server the test fails when CI is set, and is skipped otherwise.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import {
  CHROMIUM,
  ci,
  Demo,
  demoCommand,
  FLAGS,
  openPage,
  type Problems,
  runner,
  shows,
} from "./helpers/browser.ts";
import { RedisServer } from "./helpers/redis_server.ts";
import { within } from "./helpers/server.ts";

/** Time limit of the whole scenario. */
const SCENARIO_MS = 30_000;

/** The texts of the chat messages a page shows. */
function messages(page: Page): Promise<string[]> {
  return page.locator("#log li.message").allTextContents();
}

async function sharedRooms(runtime: string): Promise<void> {
  const { chromium } = await import("playwright-core");
  const profile = await mkdtemp(join(tmpdir(), "netws-rooms-"));
  const demos: Demo[] = [];
  let redis: RedisServer | undefined;
  let context: BrowserContext | undefined;
  try {
    redis = await RedisServer.start();
    const flags = ["--redis", redis.url];
    demos.push(new Demo(runtime, 0, undefined, flags), new Demo(runtime, 0, undefined, flags));
    const launched = chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      timeout: 20_000,
    });
    const [a, b] = await within(
      Promise.all(demos.map((demo) => demo.port)),
      20_000,
      `start two demos on ${runtime}`,
    );
    context = await launched;
    const problems: Problems = [];

    // Alice is on the first instance, Bob and Carol on the second; Alice and Bob in "garden".
    const alice = await openPage(context, `http://127.0.0.1:${a}/?room=garden`, problems);
    await shows(alice, "#status", new RegExp(`^Connected as guest-1@${a}$`));
    assert.equal(await alice.inputValue("#room"), "garden");
    const bob = await openPage(context, `http://127.0.0.1:${b}/?room=garden`, problems);
    await shows(bob, "#status", new RegExp(`^Connected as guest-1@${b}$`));
    const carol = await openPage(context, `http://127.0.0.1:${b}/`, problems);
    await shows(carol, "#status", new RegExp(`^Connected as guest-2@${b}$`));
    await shows(carol, "#log li", /^You joined lobby as guest-2@\d+\.$/);
    await shows(alice, "#log li", new RegExp(`^guest-1@${b} joined\\.$`));

    // Across the instances, both ways; text stays text.
    await bob.fill("#message", "hi from <i>b</i>");
    await bob.click("#send");
    await shows(alice, "#log li.message", new RegExp(`^guest-1@${b}: hi from <i>b</i>$`));
    await shows(bob, "#log li.mine", /: hi from <i>b<\/i>$/);
    assert.equal(await alice.locator("#log i").count(), 0);
    await alice.fill("#message", "hello from a");
    await alice.press("#message", "Enter");
    await shows(bob, "#log li.message", new RegExp(`^guest-1@${a}: hello from a$`));

    // The lobby is another room: Carol, on Bob's instance, heard neither, and is heard by neither.
    await carol.fill("#message", "lobby only");
    await carol.click("#send");
    await shows(carol, "#log li.mine", /: lobby only$/);
    await bob.fill("#message", "last");
    await bob.click("#send");
    await shows(alice, "#log li.message", /: last$/);
    await shows(bob, "#log li.message", /: last$/);
    assert.deepEqual(await messages(carol), [`guest-2@${b}: lobby only`]);
    assert.deepEqual(await messages(alice), [
      `guest-1@${b}: hi from <i>b</i>`,
      `guest-1@${a}: hello from a`,
      `guest-1@${b}: last`,
    ]);
    assert.equal((await messages(bob)).length, 3);

    // The room field loads the page for the room it names: Carol joins the garden.
    await carol.fill("#room", "garden");
    await carol.click("#join");
    await carol.waitForURL(/\?room=garden$/);
    await shows(carol, "#status", new RegExp(`^Connected as guest-3@${b}$`));
    await shows(alice, "#log li", new RegExp(`^guest-3@${b} joined\\.$`));
    await carol.fill("#message", "made it");
    await carol.click("#send");
    await shows(alice, "#log li.message", new RegExp(`^guest-3@${b}: made it$`));

    assert.deepEqual(problems, [], "no console errors");
    await Promise.all(demos.map((demo) => demo.stop()));
  } finally {
    await context?.close().catch(() => {});
    for (const demo of demos) demo.kill();
    await redis?.stop();
    await rm(profile, { recursive: true, force: true });
  }
}

/** Whether `redis-server` runs here. */
const hasRedis = await new Promise<boolean>((resolve) => {
  execFile("redis-server", ["--version"], { timeout: 10_000 }, (error) => resolve(error === null));
});

const unavailable = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing`
  : !hasRedis
  ? "redis-server is missing"
  : (() => {
    const program = demoCommand(runner);
    return typeof program === "string" ? program : undefined;
  })();

describe("chat demo rooms across instances in Chromium", () => {
  if (unavailable !== undefined && ci) {
    it("Chromium, redis-server and the demo are there", () => {
      assert.fail(`Cannot run the rooms browser test: ${unavailable}; .ci/run installs them`);
    });
    return;
  }
  it(
    `two demos served by ${runner} share rooms through redis-server`,
    { skip: unavailable && `skipped: ${unavailable}`, timeout: SCENARIO_MS + 15_000 },
    () => within(sharedRooms(runner), SCENARIO_MS, `run the rooms scenario on ${runner}`),
  );
});
