// Hostile-peer benchmark: what one misbehaving client costs a server, on netws and on the best
// peer of each runtime (ws on Node, Deno.serve + Deno.upgradeWebSocket, Bun.serve), servers from
// bench/servers/. The client is this Node process, over raw TCP on loopback.
//
//   node bench/hostile.mjs                       # every runtime and case
//   RUNTIMES=deno CASES="flood pings" node bench/hostile.mjs
//
// Cases (each against a fresh server):
//   flood       sends empty binary messages as fast as TCP lets it and never reads; the server
//               echoes. Default limits. Figures: server RSS growth for that one connection (peak
//               while the flood lasts), the close code seen when the client finally reads, and
//               how long until the server ended the socket.
//   flood-1MiB  the same with maxBufferedAmount = 1 MiB (netws only: the peers have no such knob).
//   flood-1MiB-reads   the same traffic from a peer that reads: the runtime's own heap growth at
//               that allocation rate, with no hostile connection.
//   flood-1MiB-gc      flood-1MiB with a full collection every 100 ms in the server: what is live.
//   flood-1MiB-x5, flood-1MiB-x20, flood-x20   5 and 20 flooding connections at once (1 MiB
//               queue, or the default): total growth and growth per connection, to tell a
//               one-time cost from a per-connection one.
//   pings       10 connections flood 125-byte pings and never read the pongs: RSS growth per
//               connection.
//   echo-16MiB  one 16 MiB binary message, read normally, with the server's limits at 16 MiB:
//               echoed whole, or the close code seen.
//   bomb-1GiB   with permessage-deflate, one message of 1 GiB of zeros compressed to ~1 MiB,
//               limits at 16 MiB: the close code seen and the server's peak RSS growth.
//   bomb-16MiB  the same with 16 MiB + 1 KiB of zeros (~16 KiB compressed): just over the limit.
//   after-1009  announces a 17 MiB frame (limit 16 MiB), then keeps sending for 5 s: after the
//               server's close frame arrived, the server's CPU time and the bytes it read, and how
//               long until it ended the socket.
//
// netws' servers also log process.memoryUsage() every 20 ms (ECHO_MEMORY_LOG): the flood cases
// print the peak growth of heapTotal, heapUsed, arrayBuffers and external, and, where a full
// collection ran first, the live figures.
//
// Server RSS is sampled every 10 ms from /proc/PID/status; CPU time is the sum of every thread's
// /proc/PID/task/*/schedstat (nanoseconds); bytes read from the client's socket come from `ss -ti`
// (bytes_received less Recv-Q), sampled every 50 ms until the socket is gone. The server runs
// on core SRV_CPU (default 1) and this client should run on the other: `taskset -c 0 node …`.
//
// Environment: RUNTIMES (default "node deno bun"), CASES (default all), SRV_CPU, FLOOD_SECONDS
// (default 8). Node's netws is built with scripts/build_npm.ts into a private copy first.
//
// Output: a Markdown table on stdout; one JSON line per run in .bench-results/hostile-<stamp>.jsonl.

import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { constants as zlibConstants, createDeflateRaw } from "node:zlib";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules/.bin");
const DENO = join(ROOT, "node_modules/deno/deno");
const MIB = 1024 * 1024;
const RUNTIMES = (process.env.RUNTIMES ?? "node deno bun").split(/\s+/).filter(Boolean);
const CASES = (
  process.env.CASES ??
    "flood flood-1MiB flood-1MiB-reads flood-1MiB-gc flood-1MiB-x5 flood-1MiB-x20 flood-x20 " +
      "pings echo-16MiB bomb-1GiB bomb-16MiB after-1009"
).split(/\s+/).filter(Boolean);
const SRV_CPU = process.env.SRV_CPU ?? "1";
const FLOOD_SECONDS = Number(process.env.FLOOD_SECONDS ?? 8);
const STAMP = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "Z");
mkdirSync(join(ROOT, ".bench-results"), { recursive: true });
const RAW = join(ROOT, `.bench-results/hostile-${STAMP}.jsonl`);

// --- Servers -------------------------------------------------------------------------------------

let netwsModule;
function buildForNode() {
  execFileSync(DENO, ["run", "-A", "scripts/build_npm.ts", "--no-smoke", "--no-test"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const out = mkdtempSync(join(tmpdir(), "netws-hostile-"));
  for (const name of ["mod.js", "src", "package.json"]) {
    cpSync(join(ROOT, "npm", name), join(out, name), { recursive: true });
  }
  return join(out, "mod.js");
}

function serverCommand(runtime, server) {
  switch (`${runtime}/${server}`) {
    case "node/netws":
      return ["node", "--expose-gc", "bench/servers/netws_node.mjs"];
    case "node/peer":
      return ["node", "bench/servers/ws_node.mjs"];
    case "deno/netws":
      return [DENO, "run", "-A", "--v8-flags=--expose-gc", "bench/servers/netws.ts"];
    case "deno/peer":
      return [DENO, "run", "-A", "bench/servers/deno_serve.ts"];
    case "bun/netws":
      return [join(BIN, "bun"), "bench/servers/netws.ts"];
    case "bun/peer":
      return [join(BIN, "bun"), "bench/servers/bun_serve.ts"];
  }
  throw new Error(`Cannot start server: unknown "${runtime}/${server}"`);
}

const PEERS = { node: "ws", deno: "Deno.upgradeWebSocket", bun: "Bun.serve" };

async function startServer(runtime, server, env, logMemory) {
  const [command, ...args] = serverCommand(runtime, server);
  // netws' servers log process.memoryUsage() there every 20 ms (only in the memory cases: reading
  // /proc/self to do it would count in the bytes read).
  const memoryLog = server === "netws" && logMemory
    ? join(scratch(), `memory-${runtime}.jsonl`)
    : undefined;
  if (memoryLog !== undefined) writeFileSync(memoryLog, "");
  const child = spawn("taskset", ["-c", SRV_CPU, command, ...args, "0"], {
    cwd: ROOT,
    env: {
      ...process.env,
      NETWS_MODULE: netwsModule,
      // Deno checks for a newer version in the background (it reads its CA store ~2 s in).
      DENO_NO_UPDATE_CHECK: "1",
      ...(memoryLog === undefined ? {} : { ECHO_MEMORY_LOG: memoryLog }),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (chunk) => log += chunk);
  const port = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.on("exit", (code) => reject(new Error(`${runtime}/${server} exited (${code}): ${log}`)));
    setTimeout(() => reject(new Error(`${runtime}/${server} did not start: ${log}`)), 20_000);
  });
  await sleep(300);
  return { child, port, pid: child.pid, memoryLog };
}

let scratchDir;
function scratch() {
  return scratchDir ??= mkdtempSync(join(tmpdir(), "netws-hostile-memory-"));
}

/** The server's own `process.memoryUsage()` samples so far (netws servers only). */
function memorySamples({ memoryLog }) {
  if (memoryLog === undefined) return [];
  return readFileSync(memoryLog, "utf8").split("\n").filter(Boolean).map((line) =>
    JSON.parse(line)
  );
}

/**
 * How each figure of `process.memoryUsage()` grew from the last sample before `from` to its peak
 * after: heapTotal (the JS heap the runtime reserved), arrayBuffers (bytes of ArrayBuffers, so
 * read chunks and queued frames), and what the runtime itself counts as its RSS.
 */
function memoryGrowth(samples, from) {
  const base = samples[from - 1];
  const after = samples.slice(from);
  if (base === undefined || after.length === 0) return undefined;
  const peak = (list, key) =>
    Math.max(...list.map((sample) => sample[key] ?? 0)) - (base[key] ?? 0);
  const growth = {
    heapTotal: peak(after, "heapTotal"),
    heapUsed: peak(after, "heapUsed"),
    arrayBuffers: peak(after, "arrayBuffers"),
    external: peak(after, "external"),
  };
  // Samples taken right after a full collection: what is live, from the last such before.
  const collected = after.filter((sample) => sample.gc);
  const liveBase = samples.slice(0, from).findLast((sample) => sample.gc);
  if (collected.length === 0 || liveBase === undefined) return growth;
  const live = (key) => Math.max(...collected.map((sample) => sample[key])) - liveBase[key];
  return {
    ...growth,
    liveHeapUsed: live("heapUsed"),
    liveArrayBuffers: live("arrayBuffers"),
    liveExternal: live("external"),
  };
}

async function stopServer({ child }) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

// --- /proc ---------------------------------------------------------------------------------------

function rss(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

function cpuNs(pid) {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch { /* the thread ended */ }
  }
  return total;
}

/**
 * What the server has read from its socket to `client`: the bytes its kernel received less what
 * still waits in its receive queue, from `ss -ti`. Unlike /proc/PID/io's rchar, this counts
 * recv() (Bun, Deno) as well as read() (Node), and nothing but this socket (Deno reads its CA
 * store in the background). Undefined once the server's socket is gone.
 */
function serverRead(port, client) {
  const out = execFileSync("ss", [
    "-tinH",
    `( sport = :${port} and dport = :${client.socket.localPort} )`,
  ]).toString();
  const queued = /^\S*\s*(\d+)/.exec(out);
  const received = /bytes_received:(\d+)/.exec(out);
  if (queued === null) return undefined;
  return (received === null ? 0 : Number(received[1])) - Number(queued[1]);
}

/** Samples RSS every 10 ms until stopped; returns the peak. */
function sampleRss(pid) {
  let peak = rss(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid));
    } catch { /* the server exited */ }
  }, 10);
  return { stop: () => (clearInterval(timer), peak) };
}

// --- A raw client --------------------------------------------------------------------------------

/** A masked client frame; the mask is random, the payload masked with it. */
function clientFrame(opcode, payload, { fin = true, length = payload.length, rsv1 = false } = {}) {
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + payload.length);
  frame[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (head === 2) frame[1] = 0x80 | length;
  else if (head === 4) (frame[1] = 0x80 | 126, frame.writeUInt16BE(length, 2));
  else (frame[1] = 0x80 | 127, frame.writeBigUInt64BE(BigInt(length), 2));
  const mask = randomBytes(4);
  mask.copy(frame, head);
  for (let i = 0; i < payload.length; i++) frame[head + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/** Opens a WebSocket over raw TCP; resolves once the 101 head arrived. */
function open(port, { deflate = false } = {}) {
  return new Promise((resolve, reject) => {
    // Half-open: a hostile peer ignores the server's FIN and keeps sending.
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    socket.setNoDelay(true);
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const response = head.subarray(0, end).toString();
      if (!response.slice(0, 12).includes("101")) {
        reject(new Error(`Cannot open: ${response}`));
        return;
      }
      if (deflate && !/sec-websocket-extensions:\s*permessage-deflate/i.test(response)) {
        reject(new Error("Cannot open: the server did not agree to permessage-deflate"));
        return;
      }
      const client = new Client(socket);
      client.push(head.subarray(end + 4));
      resolve(client);
    };
    socket.on("data", onData);
    socket.once("connect", () => {
      socket.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n` +
          (deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "") +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      );
    });
    setTimeout(() => reject(new Error("Cannot open: no 101 within 5 s")), 5000);
  });
}

/** The server-to-client side: counts messages and bytes, finds the first close frame. */
class Client {
  closeCode = undefined;
  closeAt = undefined;
  ended = false;
  endedAt = undefined;
  messages = 0;
  messageBytes = 0;
  #buffer = Buffer.alloc(0);
  #waiters = [];

  constructor(socket) {
    this.socket = socket;
    socket.on("data", (chunk) => this.push(chunk));
    socket.on("close", () => {
      this.ended = true;
      this.endedAt = performance.now();
      this.#wake();
    });
  }

  push(chunk) {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) break;
      let length = b[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) break;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) break;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) break;
      const opcode = b[0] & 0x0f;
      if (opcode === 8 && this.closeCode === undefined) {
        this.closeCode = length >= 2 ? b.readUInt16BE(offset) : 1005;
        this.closeAt = performance.now();
      } else if (opcode === 1 || opcode === 2 || opcode === 0) {
        this.messageBytes += length;
        if (b[0] & 0x80) this.messages++;
      }
      this.#buffer = b.subarray(offset + length);
    }
    this.#wake();
  }

  /** Resolves once `check()` holds or `ms` passed; returns whether it held. */
  async until(check, ms) {
    const deadline = performance.now() + ms;
    while (!check() && performance.now() < deadline) {
      await new Promise((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, Math.max(1, Math.min(50, deadline - performance.now())));
      });
    }
    return check();
  }

  #wake() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Writes `chunk` over and over, as fast as the socket takes it, until `stop()` or it closes. */
function flood(socket, chunk) {
  let running = true;
  const pump = () => {
    while (running && !socket.destroyed && socket.write(chunk));
  };
  socket.on("drain", pump);
  socket.on("close", () => running = false);
  pump();
  return { stop: () => running = false };
}

// --- Cases ---------------------------------------------------------------------------------------

const repeat = (frame, bytes) => Buffer.concat(Array(Math.ceil(bytes / frame.length)).fill(frame));

async function floodCase(
  server,
  { connections = 1, frame, seconds = FLOOD_SECONDS, reads = false },
) {
  const clients = [];
  for (let i = 0; i < connections; i++) clients.push(await open(server.port));
  await sleep(200);
  const before = rss(server.pid);
  const memoryFrom = memorySamples(server).length;
  const sampler = sampleRss(server.pid);
  const started = performance.now();
  const floods = clients.map((client) => {
    if (!reads) client.socket.pause(); // never read
    return flood(client.socket, repeat(frame, 64 * 1024));
  });
  await Promise.all(clients.map((client) => client.until(() => client.ended, seconds * 1000)));
  for (const f of floods) f.stop();
  const peak = sampler.stop();
  const memory = memoryGrowth(memorySamples(server), memoryFrom);
  // Now read: what does the peer see?
  for (const client of clients) client.socket.resume();
  await Promise.all(
    clients.map((c) => c.until(() => c.ended || c.closeCode !== undefined, 3000)),
  );
  const first = clients[0];
  for (const client of clients) client.socket.destroy();
  return {
    ...(connections > 1 ? { rssTotal: peak - before } : {}),
    rssPerConnection: (peak - before) / connections,
    ...memory,
    ...(reads ? { echoed: clients.reduce((sum, client) => sum + client.messages, 0) } : {}),
    closeCode: first.closeCode ?? "none",
    endedAfterMs: first.endedAt === undefined ? undefined : first.endedAt - started,
  };
}

async function echoCase(server) {
  const client = await open(server.port);
  const payload = randomBytes(16 * MIB);
  client.socket.write(clientFrame(2, payload));
  const started = performance.now();
  await client.until(
    () => client.messages > 0 || client.closeCode !== undefined || client.ended,
    20_000,
  );
  const echoed = client.messages === 1 && client.messageBytes === payload.length;
  client.socket.destroy();
  return {
    result: echoed ? "echoed" : `closed ${client.closeCode ?? (client.ended ? "1006" : "none")}`,
    ms: performance.now() - started,
  };
}

async function after1009Case(server) {
  const client = await open(server.port);
  const header = clientFrame(2, Buffer.alloc(0), { length: 17 * MIB });
  await sleep(100);
  const readBefore = serverRead(server.port, client);
  client.socket.write(header.subarray(0, header.length));
  const garbage = randomBytes(64 * 1024);
  const f = flood(client.socket, garbage);
  const gotClose = await client.until(() => client.closeCode !== undefined || client.ended, 5000);
  const cpu0 = cpuNs(server.pid);
  const read0 = serverRead(server.port, client);
  let read1 = read0;
  const reads = setInterval(() => read1 = serverRead(server.port, client) ?? read1, 50);
  const t0 = performance.now();
  // The server's default closeTimeout is 5 s: wait a little longer to see the socket end.
  await client.until(() => client.ended, 7000);
  clearInterval(reads);
  f.stop();
  const result = {
    closeCode: client.closeCode ?? (client.ended ? "1006" : "none"),
    cpuMsAfterClose: gotClose ? (cpuNs(server.pid) - cpu0) / 1e6 : undefined,
    readAfterClose: gotClose && read0 !== undefined ? read1 - read0 : undefined,
    // Everything past the header that announced too much, read before the close frame or after.
    readAfterFailure: gotClose && readBefore !== undefined
      ? read1 - readBefore - header.length
      : undefined,
    endedAfterMs: client.ended ? client.endedAt - t0 : undefined,
  };
  client.socket.destroy();
  return result;
}

/**
 * `bytes` zeros compressed as one permessage-deflate message (RFC 7692 §7.2.1: raw DEFLATE,
 * flushed, without the final 00 00 ff ff), fed to zlib 1 MiB at a time.
 */
async function deflatedZeros(bytes) {
  const deflate = createDeflateRaw({ level: 9 });
  const out = [];
  deflate.on("data", (chunk) => out.push(chunk));
  const zeros = Buffer.alloc(MIB);
  for (let left = bytes; left > 0; left -= MIB) {
    if (!deflate.write(left >= MIB ? zeros : zeros.subarray(0, left))) {
      await new Promise((resolve) => deflate.once("drain", resolve));
    }
  }
  await new Promise((resolve) => deflate.flush(zlibConstants.Z_SYNC_FLUSH, resolve));
  const all = Buffer.concat(out);
  return all.subarray(0, all.length - 4);
}

/** One compressed message that inflates to `bytes`: the close code seen, peak RSS growth. */
async function bombCase(server, bytes) {
  const compressed = await deflatedZeros(bytes);
  const client = await open(server.port, { deflate: true });
  await sleep(200);
  const before = rss(server.pid);
  const sampler = sampleRss(server.pid);
  const started = performance.now();
  client.socket.write(clientFrame(2, compressed, { rsv1: true }));
  await client.until(
    () => client.closeCode !== undefined || client.ended || client.messages > 0,
    20_000,
  );
  const ms = performance.now() - started;
  // Let what the server inflated meanwhile show in its RSS.
  await sleep(500);
  const peak = sampler.stop();
  const result = {
    compressed: compressed.length,
    closeCode: client.closeCode ??
      (client.ended ? "1006" : client.messages > 0 ? "echoed" : "none"),
    rssGrowth: peak - before,
    ms,
  };
  client.socket.destroy();
  return result;
}

const CASE_RUNS = {
  "flood": {
    env: {},
    peer: true,
    run: (s) => floodCase(s, { frame: clientFrame(2, Buffer.alloc(0)) }),
  },
  "flood-1MiB": {
    env: { ECHO_MAX_BUFFERED: String(MIB) },
    peer: false,
    run: (s) => floodCase(s, { frame: clientFrame(2, Buffer.alloc(0)) }),
  },
  // The same traffic from a peer that reads: is the growth the hostile connection's, or the
  // runtime's heap growing under this allocation rate?
  "flood-1MiB-reads": {
    env: { ECHO_MAX_BUFFERED: String(MIB) },
    peer: false,
    run: (s) => floodCase(s, { frame: clientFrame(2, Buffer.alloc(0)), reads: true }),
  },
  // The same with a full collection every 100 ms in the server: what is live, not garbage.
  "flood-1MiB-gc": {
    env: { ECHO_MAX_BUFFERED: String(MIB), ECHO_MEMORY_GC: "1" },
    peer: false,
    run: (s) => floodCase(s, { frame: clientFrame(2, Buffer.alloc(0)) }),
  },
  // Several hostile connections at once: a one-time cost shows as less growth per connection.
  "flood-1MiB-x5": {
    env: { ECHO_MAX_BUFFERED: String(MIB) },
    peer: false,
    run: (s) => floodCase(s, { connections: 5, frame: clientFrame(2, Buffer.alloc(0)) }),
  },
  "flood-x20": {
    env: {},
    peer: false,
    run: (s) => floodCase(s, { connections: 20, frame: clientFrame(2, Buffer.alloc(0)) }),
  },
  "flood-1MiB-x20": {
    env: { ECHO_MAX_BUFFERED: String(MIB) },
    peer: false,
    run: (s) => floodCase(s, { connections: 20, frame: clientFrame(2, Buffer.alloc(0)) }),
  },
  "pings": {
    env: {},
    peer: true,
    run: (s) =>
      floodCase(s, { connections: 10, frame: clientFrame(9, randomBytes(125)), seconds: 5 }),
  },
  "echo-16MiB": {
    env: { ECHO_MAX_MESSAGE: String(16 * MIB) },
    peer: true,
    run: echoCase,
  },
  // permessage-deflate bombs (the peers that compress: ws and Bun.serve; Deno's does not).
  "bomb-1GiB": {
    env: { ECHO_MAX_MESSAGE: String(16 * MIB), ECHO_DEFLATE: "1" },
    peer: (runtime) => runtime !== "deno",
    run: (s) => bombCase(s, 1024 * MIB),
  },
  "bomb-16MiB": {
    env: { ECHO_MAX_MESSAGE: String(16 * MIB), ECHO_DEFLATE: "1" },
    peer: (runtime) => runtime !== "deno",
    // Just over the limit: 16 MiB and 1 KiB.
    run: (s) => bombCase(s, 16 * MIB + 1024),
  },
  "after-1009": {
    env: { ECHO_MAX_MESSAGE: String(16 * MIB) },
    // Deno.upgradeWebSocket has no message limit: it would not close.
    peer: (runtime) => runtime !== "deno",
    run: after1009Case,
  },
};

// --- Main ----------------------------------------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function format(result) {
  const parts = [];
  for (const [key, value] of Object.entries(result)) {
    if (value === undefined) continue;
    if (key === "rssPerConnection") parts.push(`RSS +${(value / MIB).toFixed(1)} MiB/conn`);
    else if (key === "rssGrowth") parts.push(`RSS +${(value / MIB).toFixed(1)} MiB`);
    else if (key === "compressed") parts.push(`${(value / 1024).toFixed(0)} KiB compressed`);
    else if (key === "rssTotal") parts.push(`RSS +${(value / MIB).toFixed(1)} MiB in all`);
    else if (/^(live)?(heapTotal|heapUsed|arrayBuffers|external)$/i.test(key)) {
      parts.push(`${key} +${(value / MIB).toFixed(1)} MiB`);
    } else if (key.endsWith("Ms")) parts.push(`${key.replace(/Ms$/, "")} ${value.toFixed(0)} ms`);
    else if (key === "readAfterClose") parts.push(`read ${(value / 1024).toFixed(0)} KiB`);
    else if (key === "readAfterFailure") {
      parts.push(`${(value / 1024).toFixed(0)} KiB after the failure`);
    } else if (key === "ms") parts.push(`${value.toFixed(0)} ms`);
    else parts.push(`${key} ${value}`);
  }
  return parts.join(", ");
}

if (RUNTIMES.includes("node")) netwsModule = buildForNode();
const rows = [];
for (const runtime of RUNTIMES) {
  for (const name of CASES) {
    const spec = CASE_RUNS[name];
    if (spec === undefined) throw new Error(`Cannot run case "${name}": unknown`);
    const servers = ["netws"];
    const peer = typeof spec.peer === "function" ? spec.peer(runtime) : spec.peer;
    if (peer) servers.push("peer");
    for (const server of servers) {
      const started = await startServer(runtime, server, spec.env, name.startsWith("flood"));
      let result;
      try {
        result = await spec.run(started);
      } catch (error) {
        result = { error: String(error?.message ?? error) };
      } finally {
        await stopServer(started);
      }
      const label = server === "netws" ? "netws" : PEERS[runtime];
      appendFileSync(RAW, JSON.stringify({ runtime, server: label, case: name, ...result }) + "\n");
      rows.push(`| ${runtime} | ${name} | ${label} | ${format(result)} |`);
      console.error(rows.at(-1));
    }
  }
}
console.log("| runtime | case | server | result |\n| --- | --- | --- | --- |");
console.log(rows.join("\n"));
console.error(`raw results: ${RAW}`);
