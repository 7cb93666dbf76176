/**
 * The page of the chat example (`examples/chat.ts`): one self-contained HTML document, with its
 * style and script inline, that shows the server's limits and talks to `/ws?room=NAME`, the room
 * named in its own URL (`?room=`, "lobby" by default); its room field loads the page for another.
 *
 * The script puts every text from the network into the page with `textContent` or as a text node,
 * never as HTML, and the server sends it with a per-response nonce in its Content-Security-Policy.
 *
 * @module
 */

/** The limits of the chat server, shown on the page. */
export interface ChatLimits {
  /** Largest payload of one incoming frame, in bytes, or `Infinity`. */
  maxFrameSize: number;
  /** Most frames in one incoming message, or `Infinity`. */
  maxFragments: number;
  /** Largest assembled incoming message, in bytes, or `Infinity`. */
  maxMessageSize: number;
  /** Largest outgoing message, in bytes, or `Infinity`. */
  maxSendSize: number;
}

/** How the chat server talks to the page. */
export interface ChatPageOptions {
  /**
   * Whether the server offers permessage-deflate. A browser then compresses what it sends, so
   * its frames are smaller than its messages and `maxMessageSize` is the limit it meets.
   *
   * @default {false}
   */
  compressed?: boolean | undefined;
}

/**
 * Renders the chat page for `limits`; `nonce` must match the `script-src` and `style-src` nonce of
 * the response's Content-Security-Policy.
 *
 * @example Render the page
 * ```ts
 * import { chatPage } from "./chat_page.ts";
 * import assert from "node:assert/strict";
 *
 * const limits = { maxFrameSize: 4096, maxFragments: 16, maxMessageSize: 4096, maxSendSize: 32768 };
 * const html = chatPage(limits, "abc");
 * assert.match(html, /<dd>4 KiB<\/dd>/);
 * assert.match(html, /<script nonce="abc">/);
 * ```
 */
export function chatPage(
  limits: ChatLimits,
  nonce: string,
  { compressed = false }: ChatPageOptions = {},
): string {
  // A browser sends each message as a single frame: uncompressed, the smaller limit is the one it
  // meets; compressed (the oversized message of one letter goes as a few bytes), maxMessageSize.
  const limit = compressed
    ? limits.maxMessageSize
    : Math.min(limits.maxMessageSize, limits.maxFrameSize);
  const oversized = Number.isFinite(limit) ? `${limit + 1} bytes` : "no limit is set";
  const rows: [string, string, string][] = [
    ["maxMessageSize", formatBytes(limits.maxMessageSize), "largest message you may send"],
    ["maxFrameSize", formatBytes(limits.maxFrameSize), "largest frame of a message"],
    ["maxFragments", formatCount(limits.maxFragments), "most frames in one message"],
    ["maxSendSize", formatBytes(limits.maxSendSize), "largest message the server sends"],
  ];
  const n = escapeHtml(nonce);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>netws chat</title>
<link rel="icon" href="data:,">
<style nonce="${n}">
:root { color-scheme: light dark; font: 16px/1.45 system-ui, sans-serif; }
body { margin: 0; }
main { max-width: 46rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .25rem; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1rem; }
header p { margin: 0; }
#reconnect { margin-left: .5rem; padding: .1rem .6rem; }
#room-form { margin: .5rem 0 0; }
#room-form input { flex: 0 1 12rem; min-width: 6rem; }
#status.closed { color: #c0392b; }
#limits { border: 1px solid #8885; border-radius: .4rem; padding: .5rem .75rem; margin: .75rem 0; }
dl { display: grid; grid-template-columns: max-content max-content 1fr; gap: 0 1rem; margin: 0; }
dt { font-family: ui-monospace, monospace; }
dd { margin: 0; font-weight: 600; }
dd.note { font-weight: 400; opacity: .75; }
#log { list-style: none; margin: 0; padding: .5rem .75rem; height: 16rem; overflow-y: auto;
  border: 1px solid #8885; border-radius: .4rem; overflow-wrap: anywhere; }
#log li { padding: .1rem 0; }
#log .notice { opacity: .7; font-style: italic; }
#log .mine strong { color: #2471a3; }
#log .closed, #log .error { color: #c0392b; font-weight: 600; }
form { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin-top: .75rem; }
input { flex: 1; min-width: 12rem; font: inherit; padding: .35rem .5rem; }
button { font: inherit; padding: .35rem .8rem; }
#count { flex-basis: 100%; margin: 0; font-size: .85rem; opacity: .75; }
#count.over { color: #c0392b; opacity: 1; }
</style>
</head>
<body data-limit="${limit}">
<main>
<header>
<h1>netws chat</h1>
<p><span id="status" role="status">Connecting…</span> <span id="users"></span>
<button id="reconnect" type="button" hidden>Reconnect</button></p>
</header>
<form id="room-form">
<label for="room">Room</label>
<input id="room" name="room" autocomplete="off" maxlength="32" pattern="[A-Za-z0-9_\\-]{1,32}"
  title="1 to 32 letters, digits, - or _" required>
<button id="join" type="submit">Join</button>
</form>
<section id="limits" aria-labelledby="limits-title">
<h2 id="limits-title">Limits of this server</h2>
<dl>
${rows.map(limitRow).join("\n")}
</dl>
</section>
<ol id="log" role="log" aria-live="polite" aria-label="Messages" tabindex="0"></ol>
<form id="form">
<label for="message">Message</label>
<input id="message" name="message" autocomplete="off" aria-describedby="count">
<button id="send" type="submit" disabled>Send</button>
<p id="count"></p>
</form>
<p><button id="oversized" type="button" disabled>Send oversized message (${oversized})</button></p>
</main>
<script nonce="${n}">
"use strict";
const byId = (id) => document.getElementById(id);
const log = byId("log"), status = byId("status"), users = byId("users"), form = byId("form");
const input = byId("message"), count = byId("count"), send = byId("send");
const oversized = byId("oversized"), reconnect = byId("reconnect");
const limit = Number(document.body.dataset.limit);
const roomForm = byId("room-form"), roomInput = byId("room");
// The room is the page's ?room= (as the server checks it), or the lobby.
const ROOM_NAME = /^[A-Za-z0-9_-]{1,32}$/;
const asked = new URLSearchParams(location.search).get("room");
const room = asked !== null && ROOM_NAME.test(asked) ? asked : "lobby";
roomInput.value = room;
document.title = "netws chat: " + room;
const encoder = new TextEncoder();
let socket, me = "";

// Text from the network becomes text nodes only: append(string) never parses HTML.
function add(kind, name, text) {
  const item = document.createElement("li");
  item.className = kind;
  if (name !== "") {
    const who = document.createElement("strong");
    who.textContent = name + ": ";
    item.append(who);
  }
  item.append(text);
  log.append(item);
  log.scrollTop = log.scrollHeight;
}

function online(n) {
  users.textContent = "· " + n + (n === 1 ? " user" : " users") + " in " + room;
}

function setOpen(open) {
  send.disabled = !open;
  oversized.disabled = !open || !Number.isFinite(limit);
  reconnect.hidden = open;
}

function updateCount() {
  const bytes = encoder.encode(input.value).length;
  const over = bytes > limit;
  count.textContent = Number.isFinite(limit)
    ? bytes + " / " + limit + " bytes" + (over ? ": over the limit, the server will close with 1009" : "")
    : bytes + " bytes";
  count.classList.toggle("over", over);
}

function receive(event) {
  switch (event.type) {
    case "welcome":
      me = event.you;
      status.textContent = "Connected as " + me;
      online(event.users);
      add("notice", "", "You joined " + event.room + " as " + me + ".");
      break;
    case "join":
      online(event.users);
      add("notice", "", event.user + " joined.");
      break;
    case "leave":
      online(event.users);
      add("notice", "", event.user + " left (" + (event.code + " " + event.reason).trim() + ").");
      break;
    case "message":
      add(event.from === me ? "message mine" : "message", event.from, event.text);
      break;
    case "error":
      add("error", "", event.text);
      break;
  }
}

// Closes worth retrying: the server went away (1001, a shutdown), the connection dropped or never
// opened (1006), or the server failed or is restarting (1011-1013). Any other close was meant.
const RETRY_CODES = [1001, 1006, 1011, 1012, 1013];
const RETRY_FIRST = 1000, RETRY_MAX = 30000;
let retryDelay = RETRY_FIRST, retryTimer, attempt = 0;

function connect() {
  clearTimeout(retryTimer);
  const url = new URL("/ws", location.href);
  url.searchParams.set("room", room);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(url);
  let opened = false;
  attempt += 1;
  status.textContent = attempt === 1 ? "Connecting…" : "Connecting… (attempt " + attempt + ")";
  status.className = "";
  reconnect.hidden = true;
  socket.onopen = () => {
    opened = true;
    attempt = 0;
    retryDelay = RETRY_FIRST;
    setOpen(true);
  };
  socket.onmessage = (event) => receive(JSON.parse(event.data));
  socket.onclose = (event) => {
    setOpen(false);
    users.textContent = "";
    status.className = "closed";
    const line = opened
      ? ("closed: " + event.code + " " + event.reason).trim()
      : "The server cannot be reached";
    if (opened) add("closed", "", line);
    if (!RETRY_CODES.includes(event.code)) {
      status.textContent = line;
      reconnect.textContent = "Reconnect";
    } else {
      // Exponential back-off with some jitter, so that clients do not all return at once.
      const wait = Math.round(retryDelay * (0.8 + 0.4 * Math.random()));
      retryDelay = Math.min(retryDelay * 2, RETRY_MAX);
      const seconds = Math.max(1, Math.round(wait / 1000));
      status.textContent = line + "; retrying in " + seconds + " s";
      if (opened) add("notice", "", "The server went away; retrying with back-off.");
      reconnect.textContent = "Retry now";
      retryTimer = setTimeout(connect, wait);
    }
    // Focus was on a button that is now disabled: give keyboard users the way back.
    if (document.activeElement === document.body) reconnect.focus();
  };
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (socket.readyState !== WebSocket.OPEN || input.value === "") return;
  socket.send(input.value);
  input.value = "";
  updateCount();
});
input.addEventListener("input", updateCount);
roomForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const next = roomInput.value.trim();
  if (!ROOM_NAME.test(next) || next === room) return;
  const url = new URL(location.href);
  url.searchParams.set("room", next);
  location.assign(url);
});
oversized.addEventListener("click", () => {
  socket.send("x".repeat(limit + 1));
  add("notice", "", "Sent " + (limit + 1) + " bytes, over the limit of " + limit + ".");
});
reconnect.addEventListener("click", () => {
  attempt = 0;
  retryDelay = RETRY_FIRST;
  connect();
});
updateCount();
connect();
</script>
</body>
</html>
`;
}

function limitRow([name, value, note]: [string, string, string]): string {
  return `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd>` +
    `<dd class="note">${escapeHtml(note)}</dd>`;
}

/** `4096` → `4 KiB`, `1048576` → `1 MiB`, `1000` → `1000 bytes`. */
function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "no limit";
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return bytes === 1 ? "1 byte" : `${bytes} bytes`;
}

function formatCount(count: number): string {
  return Number.isFinite(count) ? String(count) : "no limit";
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
