// The chat example (examples/chat.ts): its page, its broadcast, its 1009 path, and that it runs as
// a program. Clients are the built-in WebSocket on Deno and Bun and `ws` on Node 20, which has
// none. One test loads the page in headless Chromium (Debian's, driven by playwright-core), and
// is skipped where there is none.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { CHAT_LIMITS, type ChatOptions, startChat } from "../examples/chat.ts";
import { MemoryBackplane } from "../src/pubsub/memory_backplane.ts";
import type { Server } from "../mod.ts";
import type { BrowserContext } from "playwright-core";
import { CHROMIUM, FLAGS, openPage, type Problems, shows } from "./helpers/browser.ts";
import { within } from "./helpers/redis_server.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

const WebSocketClient: typeof WebSocket = globalThis.WebSocket ??
  ((await import("ws")).WebSocket as unknown as typeof WebSocket);

/** Options of {@linkcode withChat}. */
interface ChatTestOptions {
  /** Options of the chat server. */
  chat?: ChatOptions;
  /** Why the test is skipped, if it is. */
  skip?: string | false;
  /** Time limit of the test, in milliseconds. */
  timeout?: number;
}

/** Runs `fn` with a chat server on a free port, shut down afterwards, under a time limit. */
function withChat(
  name: string,
  fn: (server: Server, clients: ChatClient[]) => Promise<void>,
  { chat = {}, skip = false, timeout = 10_000 }: ChatTestOptions = {},
): void {
  it(name, { skip }, async () => {
    const server = startChat({ ...chat, port: 0, hostname: "127.0.0.1" });
    const clients: ChatClient[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Cannot finish "${name}": timed out after ${timeout} ms`)),
        timeout,
      );
    });
    try {
      await server.ready;
      await Promise.race([fn(server, clients), deadline]);
    } finally {
      clearTimeout(timer);
      for (const client of clients) client.socket.close();
      await Promise.all(clients.map((client) => client.closed));
      await server.shutdown();
    }
  });
}

/** An event the chat server sends, as JSON. */
interface ChatEvent {
  type: string;
  [field: string]: unknown;
}

/** A WebSocket client of the chat that queues the events it receives. */
class ChatClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #events: ChatEvent[] = [];
  #wake: (() => void) | undefined;

  constructor(server: Server, clients: ChatClient[], path = "/ws") {
    const url = `ws://127.0.0.1:${server.port}${path}`;
    const socket = new WebSocketClient(url);
    this.socket = socket;
    clients.push(this);
    this.opened = new Promise((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", () => reject(new Error(`Cannot connect to ${url}`)));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      socket.addEventListener(
        "close",
        (event) => resolve({ code: event.code, reason: event.reason }),
      );
    });
    socket.addEventListener("message", (event) => {
      this.#events.push(JSON.parse(String(event.data)));
      this.#wake?.();
    });
  }

  /** The events received and not yet taken by {@linkcode next}. */
  get received(): ChatEvent[] {
    return [...this.#events];
  }

  /** Resolves with the next event of `type`, dropping the events before it. */
  async next(type: string): Promise<ChatEvent> {
    for (;;) {
      const index = this.#events.findIndex((event) => event.type === type);
      if (index !== -1) return this.#events.splice(0, index + 1)[index]!;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }
}

/** Sends a raw request head and resolves with the status line of the answer. */
async function statusLine(port: number, head: string): Promise<string> {
  return (await responseHead(port, head)).split("\r\n")[0]!;
}

/** Sends a raw request head and resolves with the head of the answer. */
function responseHead(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write(head));
    let received = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      received += chunk;
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.destroy();
      resolve(received.slice(0, end));
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error("Cannot read status line: connection closed")));
  });
}

function upgradeHead(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

const chromiumMissing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing`;

describe("chat example", () => {
  withChat("startChat serves the page on / with its limits", async (server) => {
    const response = await fetch(`http://127.0.0.1:${server.port}/`);
    const html = await response.text();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(CHAT_LIMITS.maxMessageSize, 4096);
    assert.match(html, /<dt>maxMessageSize<\/dt><dd>4 KiB<\/dd>/);
    assert.match(html, /<dt>maxFrameSize<\/dt><dd>4 KiB<\/dd>/);
    assert.match(html, /<dt>maxFragments<\/dt><dd>16<\/dd>/);
    assert.match(html, /<dt>maxSendSize<\/dt><dd>32 KiB<\/dd>/);
    assert.match(html, /Send oversized message \(4097 bytes\)/);
    assert.match(html, /role="log" aria-live="polite"/);
    assert.match(html, /<label for="message">/);
    // Nothing loads from elsewhere, and user text never goes through innerHTML.
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
    assert.doesNotMatch(html, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);

    // Only the page's own script and style may run.
    const nonce = /script-src 'nonce-([^']+)'/.exec(
      response.headers.get("content-security-policy") ?? "",
    )?.[1];
    assert.ok(nonce !== undefined, "Content-Security-Policy has a script nonce");
    const script = new RegExp(`<script nonce="${nonce}">([^]*?)</script>`).exec(html)?.[1];
    assert.ok(script !== undefined, "the script carries the nonce");
    assert.match(html, new RegExp(`<style nonce="${nonce}">`));
    // The script parses (it is not run here).
    new Function(script);
    // The room field's pattern compiles as browsers compile it (with the v flag).
    const pattern = /<input id="room"[^>]* pattern="([^"]+)"/.exec(html)?.[1];
    assert.ok(pattern !== undefined, "the room field has a pattern");
    const room = new RegExp(`^(?:${pattern})$`, "v");
    assert.ok(room.test("lobby-2_b") && !room.test("a b") && !room.test("x".repeat(33)));
  });

  withChat("startChat shows the limits it was given", async (server) => {
    const html = await (await fetch(`http://127.0.0.1:${server.port}/`)).text();
    assert.match(html, /<dt>maxMessageSize<\/dt><dd>1 KiB<\/dd>/);
    assert.match(html, /<dt>maxFrameSize<\/dt><dd>1000 bytes<\/dd>/);
    assert.match(html, /<dt>maxFragments<\/dt><dd>no limit<\/dd>/);
    assert.match(html, /<dt>maxSendSize<\/dt><dd>1 MiB<\/dd>/);
    // A browser compresses its messages (the demo offers permessage-deflate): the frame of the
    // oversized message is far under maxFrameSize, and maxMessageSize is the limit it meets.
    assert.match(html, /data-limit="1024"/);
    assert.match(html, /Send oversized message \(1025 bytes\)/);
  }, {
    chat: {
      maxMessageSize: 1024,
      maxFrameSize: 1000,
      maxFragments: Infinity,
      maxSendSize: 1 << 20,
    },
  });

  withChat("startChat answers 404 for other paths, over HTTP and WebSocket", async (server) => {
    const response = await fetch(`http://127.0.0.1:${server.port}/nope`);
    await response.body?.cancel();
    assert.equal(response.status, 404);
    assert.match(await statusLine(server.port, upgradeHead("/nope")), /^HTTP\/1\.1 404 /);
    assert.match(await statusLine(server.port, upgradeHead("/ws")), /^HTTP\/1\.1 101 /);
  });

  withChat("startChat answers a browser's permessage-deflate offer", async (server) => {
    // Chromium's offer, byte for byte; the answer takes the server's default windows.
    const offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    const head = await responseHead(server.port, upgradeHead("/ws", offer));
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(
      head,
      /\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12(\r\n|$)/i,
    );
    assert.doesNotMatch(await responseHead(server.port, upgradeHead("/ws")), /extensions/i);
  });

  withChat("startChat refuses a handshake from a page of another origin", async (server) => {
    const other = upgradeHead("/ws", "Origin: http://elsewhere.test\r\n");
    assert.match(await statusLine(server.port, other), /^HTTP\/1\.1 403 /);
    const same = upgradeHead("/ws", "Origin: http://127.0.0.1\r\n");
    assert.match(await statusLine(server.port, same), /^HTTP\/1\.1 101 /);
  });

  withChat("startChat broadcasts every text message to every client", async (server, clients) => {
    const alice = new ChatClient(server, clients);
    assert.deepEqual(await alice.next("welcome"), {
      type: "welcome",
      you: "guest-1",
      room: "lobby",
      users: 1,
    });
    const bob = new ChatClient(server, clients);
    assert.deepEqual(await bob.next("welcome"), {
      type: "welcome",
      you: "guest-2",
      room: "lobby",
      users: 2,
    });
    assert.deepEqual(await alice.next("join"), { type: "join", user: "guest-2", users: 2 });

    const text = `hello <b>&</b> "all" 👋`;
    bob.socket.send(text);
    const expected = { type: "message", from: "guest-2", text };
    assert.deepEqual(await alice.next("message"), expected);
    assert.deepEqual(await bob.next("message"), expected);
  });

  withChat("startChat keeps each room's messages in that room", async (server, clients) => {
    const alice = new ChatClient(server, clients, "/ws?room=red");
    assert.deepEqual(await alice.next("welcome"), {
      type: "welcome",
      you: "guest-1",
      room: "red",
      users: 1,
    });
    const bob = new ChatClient(server, clients, "/ws?room=blue");
    assert.equal((await bob.next("welcome")).users, 1);
    const carol = new ChatClient(server, clients, "/ws?room=red");
    assert.equal((await carol.next("welcome")).users, 2);
    assert.deepEqual(await alice.next("join"), { type: "join", user: "guest-3", users: 2 });

    bob.socket.send("only blue");
    assert.deepEqual(await bob.next("message"), {
      type: "message",
      from: "guest-2",
      text: "only blue",
    });
    carol.socket.send("only red");
    const red = { type: "message", from: "guest-3", text: "only red" };
    assert.deepEqual(await alice.next("message"), red);
    assert.deepEqual(await carol.next("message"), red);
    assert.equal(server.subscriberCount("red"), 2);
    assert.equal(server.subscriberCount("blue"), 1);

    // Alice leaves red: Carol hears it, Bob in blue does not; a last blue message shows that
    // nothing from red reached Bob meanwhile.
    alice.socket.close(1000, "bye");
    assert.deepEqual(await carol.next("leave"), {
      type: "leave",
      user: "guest-1",
      users: 1,
      code: 1000,
      reason: "bye",
    });
    bob.socket.send("still blue");
    assert.equal((await bob.next("message")).text, "still blue");
    assert.deepEqual(bob.received, [], "Bob saw nothing from red");
  });

  withChat("startChat refuses a room name it does not allow", async (server) => {
    for (const room of ["", "a%20b", "x".repeat(33), "caf%C3%A9", "a/b"]) {
      const line = await statusLine(server.port, upgradeHead(`/ws?room=${room}`));
      assert.match(line, /^HTTP\/1\.1 400 /, `room "${room}"`);
    }
    const longest = upgradeHead(`/ws?room=${"x".repeat(32)}`);
    assert.match(await statusLine(server.port, longest), /^HTTP\/1\.1 101 /);
    assert.match(await statusLine(server.port, upgradeHead("/ws?room=A-z_9")), /^HTTP\/1\.1 101 /);
  });

  it("startChat rooms span instances that share a backplane", async () => {
    const bus = MemoryBackplane.bus();
    const servers = [0, 1].map(() =>
      startChat({ port: 0, backplane: new MemoryBackplane({ bus }) })
    );
    const clients: ChatClient[] = [];
    try {
      await within(Promise.all(servers.map((server) => server.ready)), 5000, "start two chats");
      const [a, b] = servers as [Server, Server];
      const alice = new ChatClient(a, clients, "/ws?room=red");
      assert.equal((await alice.next("welcome")).you, `guest-1@${a.port}`);
      const bob = new ChatClient(b, clients, "/ws?room=red");
      assert.equal((await bob.next("welcome")).you, `guest-1@${b.port}`);
      const carol = new ChatClient(b, clients, "/ws?room=blue");
      await carol.next("welcome");
      assert.equal((await alice.next("join")).user, `guest-1@${b.port}`);

      bob.socket.send("across");
      const across = { type: "message", from: `guest-1@${b.port}`, text: "across" };
      assert.deepEqual(await within(alice.next("message"), 5000, "hear bob"), across);
      assert.deepEqual(await bob.next("message"), across);
      carol.socket.send("blue here");
      await carol.next("message");
      alice.socket.send("back");
      assert.equal((await within(bob.next("message"), 5000, "hear alice")).text, "back");
      // Alice's next message is her own: "blue here" never reached her.
      assert.equal((await alice.next("message")).text, "back");
    } finally {
      for (const client of clients) client.socket.close();
      await within(Promise.all(clients.map((client) => client.closed)), 5000, "close clients");
      await Promise.all(servers.map((server) => server.shutdown()));
    }
  });

  withChat(
    "startChat closes an oversized message with 1009 and keeps the others connected",
    async (server, clients) => {
      const alice = new ChatClient(server, clients);
      await alice.next("welcome");
      const bob = new ChatClient(server, clients);
      await bob.next("welcome");

      alice.socket.send("x".repeat(CHAT_LIMITS.maxMessageSize + 1));
      const { code, reason } = await alice.closed;
      assert.equal(code, 1009);
      assert.match(reason, /4097 bytes/);
      const leave = await bob.next("leave");
      assert.deepEqual(leave, { type: "leave", user: "guest-1", users: 1, code, reason });

      bob.socket.send("still here");
      assert.deepEqual(await bob.next("message"), {
        type: "message",
        from: "guest-2",
        text: "still here",
      });
      assert.equal(server.connections.length, 1);
      // A message at the limit is fine.
      bob.socket.send("y".repeat(CHAT_LIMITS.maxMessageSize));
      assert.equal((await bob.next("message")).text, "y".repeat(CHAT_LIMITS.maxMessageSize));
    },
  );

  withChat(
    "startChat tells a sender when its message cannot be sent on within maxSendSize",
    async (server, clients) => {
      const alice = new ChatClient(server, clients);
      await alice.next("welcome");
      alice.socket.send("z".repeat(100));
      const { text } = await alice.next("error");
      assert.match(String(text), /maxSendSize of "120"/);
      alice.socket.send("ok");
      assert.equal((await alice.next("message")).text, "ok");
    },
    { chat: { maxSendSize: 120 } },
  );

  it("chat.ts runs as a program and shuts down on SIGTERM", async () => {
    const extension = import.meta.url.endsWith(".ts") ? "ts" : "js";
    const file = fileURLToPath(new URL(`../examples/chat.${extension}`, import.meta.url));
    const args = runtime === "deno" ? ["run", "-A", file] : [file];
    const child = spawn(process.execPath, [...args, "--port", "0", "--quiet"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout!.setEncoding("utf8");
    const printed = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) resolve(match);
        };
        child.stdout!.on("data", (chunk: string) => {
          output += chunk;
          check();
        });
        child.on("exit", () => reject(new Error(`Cannot run chat.${extension}: it exited`)));
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("Cannot run chat: no result after 20 s")), 20_000);
    });
    try {
      const [, port] = await Promise.race([
        printed(/chat on http:\/\/127\.0\.0\.1:(\d+)\//),
        deadline,
      ]);
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.match(await response.text(), /<title>netws chat<\/title>/);
      child.kill("SIGTERM");
      await Promise.race([printed(/shutting down/), deadline]);
      const code = await Promise.race([exited, deadline]);
      // Deno's node:child_process reports a child it signalled as killed, even when the child
      // handled the signal and exited by itself.
      if (runtime !== "deno") assert.equal(code, 0);
    } finally {
      clearTimeout(timer);
      child.kill("SIGKILL");
    }
  });

  withChat("startChat page connects in headless Chromium", async (server) => {
    const { chromium } = await import("playwright-core");
    const profile = await mkdtemp(join(tmpdir(), "netws-chat-"));
    let context: BrowserContext | undefined;
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: FLAGS,
        timeout: 15_000,
      });
      const problems: Problems = [];
      const page = await openPage(context, `http://127.0.0.1:${server.port}/`, problems);
      // The script ran under the page's Content-Security-Policy, and the socket opened.
      await shows(page, "#status", /^Connected as guest-1$/);
      await shows(page, "#log li", /^You joined lobby as guest-1\.$/);
      assert.deepEqual(problems, []);
    } finally {
      await context?.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    }
  }, { skip: chromiumMissing ?? false, timeout: 30_000 });
});
