/**
 * Chat rooms in the browser, with small limits to show what happens when a message is too big,
 * and permessage-deflate (RFC 7692) for every browser that offers it ({@linkcode CHAT_DEFLATE}).
 * The page is served on `/` by `onRequest`; the socket is `/ws?room=NAME`. Each room is a topic:
 * a connection subscribes to its room, and every text message is published to that room only
 * (the sender included), wrapped in JSON with the sender's name. The page takes its room from its
 * own URL (`/?room=lobby`, the default) and has a field to change it. With a backplane (`--redis
 * URL`, or `NETWS_REDIS`) instances on different ports share their rooms. A message over the limit ends its sender's
 * connection with close code 1009, and the page shows the code and reason. When the server goes
 * away (a shutdown, 1001) or cannot be reached, the page says so and retries with back-off (1 s,
 * doubling up to 30 s); after a close it did not expect to recover from, such as 1009, it offers a
 * Reconnect button instead.
 *
 * ```sh
 * deno task start                          # http://127.0.0.1:8080/
 * deno run -A examples/chat.ts --port 8000 --max-message-size 1024
 * deno task start --redis redis://127.0.0.1:6379               # two of these, on two ports,
 * deno task start --redis redis://127.0.0.1:6379 --port 8081   # share their rooms
 * bun run examples/chat.ts
 * node npm/examples/chat.js                # after `deno task build:npm`
 * ```
 *
 * Flags: `--port`, `--host`, `--max-frame-size`, `--max-fragments`, `--max-message-size`,
 * `--max-send-size` (bytes, or `Infinity`), `--redis` (a Redis URL; the environment variable
 * `NETWS_REDIS` is read when the flag is absent), `--quiet`.
 *
 * A room name is 1 to 32 letters, digits, `-` or `_`; a handshake for any other is refused with
 * 400. Messages from the server: `{ type: "welcome", you, room, users }` to a new user, `{ type:
 * "join", user, users }` and `{ type: "leave", user, users, code, reason }` to the others in the
 * room, `{ type: "message", from, text }` to everyone in the room, and `{ type: "error", text }`
 * to a sender whose message could not be sent on. `users` counts the room's users on the server
 * that sent the event; with a backplane, names carry that server's port (`guest-1@8080`).
 *
 * @module
 */

import { realpathSync } from "node:fs";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type Connection, type PerMessageDeflateOptions, serve, type Server } from "../mod.ts";
import type { Backplane } from "../src/pubsub/backplane.ts";
import { type ChatLimits, chatPage } from "./chat_page.ts";

/** Options of {@linkcode startChat}. */
export interface ChatOptions {
  /**
   * The port to listen on; 0 picks a free one.
   *
   * @default {8080}
   */
  port?: number | undefined;
  /**
   * The address to bind.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string | undefined;
  /**
   * Largest payload of one incoming frame, in bytes, or `Infinity`.
   *
   * @default {4096}
   */
  maxFrameSize?: number | undefined;
  /**
   * Most frames in one incoming message, or `Infinity`.
   *
   * @default {16}
   */
  maxFragments?: number | undefined;
  /**
   * Largest incoming message, in bytes, or `Infinity`: a bigger one closes its connection with 1009.
   *
   * @default {4096}
   */
  maxMessageSize?: number | undefined;
  /**
   * Largest outgoing message, in bytes, or `Infinity`.
   *
   * @default {32768}
   */
  maxSendSize?: number | undefined;
  /**
   * Carries each room's messages to the other instances that share it, such as a
   * `RedisBackplane`; closed by `shutdown()`.
   *
   * @default {undefined} this instance only
   */
  backplane?: Backplane | undefined;
  /**
   * Where joins and leaves are logged.
   *
   * @default {undefined} nowhere
   */
  log?: ((line: string) => void) | undefined;
}

/**
 * The chat's limits, far below the server's defaults so that the page can show them being hit.
 * `maxSendSize` leaves room for the JSON around a message: escaping can grow each byte of text
 * to six (`\u0001`).
 */
export const CHAT_LIMITS: Readonly<ChatLimits> = {
  maxFrameSize: 4096,
  maxFragments: 16,
  maxMessageSize: 4096,
  maxSendSize: 32768,
};

/**
 * The chat's permessage-deflate: the server's defaults (a 12-bit window, memLevel 5, the window
 * kept between messages) but for `threshold`, which is 0 because every event the chat sends is
 * small JSON that repeats the last one's keys and names. Measured on 200 chat events of 60 bytes
 * on average (node:zlib, sync flush per message): with the window kept each goes as 8.5 bytes
 * (14%); compressed alone (`serverNoContextTakeover`) they keep 99.7% of their bytes, and the
 * default threshold of 128 bytes would send them all uncompressed. `maxMessageSize` counts
 * inflated bytes.
 */
export const CHAT_DEFLATE: Readonly<PerMessageDeflateOptions> = { threshold: 0 };

/** The room of a page that names none. */
export const DEFAULT_ROOM = "lobby";

/** What a room may be called: it is a topic, and a Redis channel with a backplane. */
const ROOM_NAME = /^[A-Za-z0-9_-]{1,32}$/;

/** What the server sends to the page. */
type ChatEvent =
  | { type: "welcome"; you: string; room: string; users: number }
  | { type: "join"; user: string; users: number }
  | { type: "leave"; user: string; users: number; code: number; reason: string }
  | { type: "message"; from: string; text: string }
  | { type: "error"; text: string };

/**
 * Starts the chat server: the page on `/`, the socket on `/ws`. Await `ready` on the result
 * before reading its port, and stop it with `shutdown()`.
 *
 * @example Start on a free port and stop
 * ```ts
 * import { startChat } from "./chat.ts";
 * import assert from "node:assert/strict";
 *
 * const server = startChat({ port: 0 });
 * await server.ready;
 * const page = await fetch(`http://127.0.0.1:${server.port}/`);
 * assert.match(await page.text(), /<dt>maxMessageSize<\/dt><dd>4 KiB<\/dd>/);
 * await server.shutdown();
 * ```
 */
export function startChat(options: ChatOptions = {}): Server {
  const limits: ChatLimits = {
    maxFrameSize: options.maxFrameSize ?? CHAT_LIMITS.maxFrameSize,
    maxFragments: options.maxFragments ?? CHAT_LIMITS.maxFragments,
    maxMessageSize: options.maxMessageSize ?? CHAT_LIMITS.maxMessageSize,
    maxSendSize: options.maxSendSize ?? CHAT_LIMITS.maxSendSize,
  };
  const log = options.log ?? (() => {});
  // The room each handshake asked for; only connections that completed it have a name.
  const rooms = new WeakMap<Connection, string>();
  const names = new Map<Connection, string>();
  let joined = 0;
  // Users of `room` on this server, not counting `leaving` (which may not have left it yet).
  const usersIn = (room: string, leaving?: Connection): number =>
    server.subscriberCount(room) - (leaving?.isSubscribed(room) ? 1 : 0);

  const server: Server = serve({
    port: options.port ?? 8080,
    hostname: options.hostname ?? "127.0.0.1",
    ...limits,
    perMessageDeflate: CHAT_DEFLATE,
    backplane: options.backplane,
    onRequest: (request) => respond(request, limits),
    onConnect(conn) {
      conn.on("handshake", (_conn, request) => {
        if (request.path !== "/ws") return request.reject(404);
        const room = new URLSearchParams(request.query).get("room") ?? DEFAULT_ROOM;
        if (!ROOM_NAME.test(room)) return request.reject(400);
        rooms.set(conn, room);
        // Browsers send Origin: refuse pages of other sites that try to join in a visitor's name.
        const origin = request.origin;
        if (origin !== undefined && origin !== `http://${request.host.toLowerCase()}`) {
          request.reject(403);
        }
      });
      conn.on("ready", (conn) => {
        const room = rooms.get(conn)!;
        // With a backplane the rooms span instances, each counting its own guests.
        const name = `guest-${++joined}${options.backplane ? `@${server.port}` : ""}`;
        names.set(conn, name);
        conn.subscribe(room);
        const users = usersIn(room);
        const welcome: ChatEvent = { type: "welcome", you: name, room, users };
        conn.sendText(JSON.stringify(welcome));
        conn.publish(room, JSON.stringify({ type: "join", user: name, users } satisfies ChatEvent));
        log(`${name} joined ${room} from ${conn.ip}:${conn.port} (${users} there)`);
      });
      conn.on("text", (conn, text) => {
        try {
          // To the whole room, the sender included: its page shows its own messages as they went.
          const event: ChatEvent = { type: "message", from: names.get(conn)!, text };
          server.publish(rooms.get(conn)!, JSON.stringify(event));
        } catch (error) {
          // Only when maxSendSize is set below what a message can grow to in its JSON.
          if (!(error instanceof RangeError)) throw error;
          conn.sendText(JSON.stringify({ type: "error", text: error.message } satisfies ChatEvent));
        }
      });
      conn.on("disconnect", (conn, code, reason) => {
        const name = names.get(conn);
        if (name === undefined) return;
        names.delete(conn);
        const room = rooms.get(conn)!;
        const users = usersIn(room, conn);
        const leave: ChatEvent = { type: "leave", user: name, users, code, reason };
        conn.publish(room, JSON.stringify(leave));
        log(`${name} left ${room}: ${code} ${reason} (${users} there)`);
      });
    },
  });
  return server;
}

/** WebSocket servers on this machine, for the page's Content-Security-Policy. */
const LOCAL_SOCKETS = "ws://127.0.0.1:* ws://localhost:*";

/** Answers the plain HTTP requests: the page on `/`, 404 elsewhere. */
function respond(request: Request, limits: ChatLimits): Response {
  if (new URL(request.url).pathname !== "/") {
    return new Response("Not found\n", {
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Method not allowed\n", {
      status: 405,
      headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
    });
  }
  const nonce = crypto.randomUUID();
  return new Response(chatPage(limits, nonce, { compressed: true }), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      // Only the page's own script and style run. It may connect back to this server, and to
      // WebSocket servers on this machine, so that its console can try one (the README's echo).
      "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; ` +
        `style-src 'nonce-${nonce}'; connect-src 'self' ${LOCAL_SOCKETS}; img-src data:; ` +
        `base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    },
  });
}

/** Whether this module is the program run. Node 20 has no `import.meta.main`. */
function isMain(): boolean {
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

/** Reads a numeric flag; `undefined` keeps the chat's default. */
function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (Number.isNaN(number)) {
    throw new RangeError(`Cannot read --${name}: "${value}" is not a number`);
  }
  return number;
}

if (isMain()) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      "max-frame-size": { type: "string" },
      "max-fragments": { type: "string" },
      "max-message-size": { type: "string" },
      "max-send-size": { type: "string" },
      redis: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });

  const redis = values.redis ?? (process.env.NETWS_REDIS || undefined);
  // Loaded only when asked for: ioredis is an optional dependency.
  const backplane = redis === undefined
    ? undefined
    : new (await import("../src/adapters/redis.ts")).RedisBackplane({ url: redis });

  const server = startChat({
    port: numberFlag("port", values.port),
    backplane,
    hostname: values.host,
    maxFrameSize: numberFlag("max-frame-size", values["max-frame-size"]),
    maxFragments: numberFlag("max-fragments", values["max-fragments"]),
    maxMessageSize: numberFlag("max-message-size", values["max-message-size"]),
    maxSendSize: numberFlag("max-send-size", values["max-send-size"]),
    log: values.quiet ? undefined : console.log,
  });

  await server.ready;
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  const shared = redis === undefined ? "" : ", rooms shared through Redis";
  console.log(`chat on http://${host}:${server.port}/ (socket on /ws${shared})`);

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.log("shutting down");
      server.shutdown().then(() => process.exit(0));
    });
  }
}
