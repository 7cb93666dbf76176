/**
 * Hostile peers against netws and each runtime's peer server: how much memory one hostile
 * connection makes the server hold, the close codes the peer sees, and the CPU the server spends
 * on a peer after deciding to close it. See bench/README.md.
 *
 * ```sh
 * deno run -A bench/hostile.ts                    # every row, runtime and server
 * RUNTIMES=bun ROWS=flood,after-close deno run -A bench/hostile.ts
 * DURATION=5 deno run -A bench/hostile.ts          # seconds each flood lasts (default 3)
 * ```
 *
 * Rows:
 * - `flood`: one client sends empty text messages to the echo server as fast as TCP lets it and
 *   never reads (default `maxBufferedAmount`), then reads what is left.
 * - `flood-1MiB`: the same with `maxBufferedAmount` = 1 MiB (netws only).
 * - `ping-flood`: 10 clients each send 125-byte pings and never read the pongs (per connection).
 * - `echo-16MiB`: one client sends a 16 MiB binary message and reads normally.
 * - `after-close`: one client sends the header of a 200 MiB frame (over every server's default
 *   limit), then keeps sending its payload for `DURATION` seconds without reading: server CPU and
 *   bytes taken from the moment of the header, and whether the socket ended.
 *
 * RSS is the server process's VmRSS, peak during the row minus the value after the handshakes;
 * CPU is user + system time from /proc (10 ms resolution). Servers are started fresh per row and
 * not pinned to a core: run it on a quiet machine, and read the figures as orders of magnitude.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const SERVER_SCRIPT = `${ROOT}bench/servers/hostile_echo.mjs`;
const NETWS_NODE = `${ROOT}npm/mod.js`;
const DURATION = Number(Deno.env.get("DURATION") ?? 3) * 1000;
const RUNTIMES = (Deno.env.get("RUNTIMES") ?? "node deno bun").split(/[ ,]+/).filter(Boolean);
const ROWS = (Deno.env.get("ROWS") ?? "flood,flood-1MiB,ping-flood,echo-16MiB,after-close")
  .split(/[ ,]+/).filter(Boolean);
const MiB = 1024 * 1024;
const MASK = new Uint8Array([0x11, 0x22, 0x33, 0x44]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Result {
  row: string;
  runtime: string;
  server: string;
  rss?: string;
  peer?: string;
  cpu?: string;
  note?: string;
}

// --- Servers -------------------------------------------------------------------------------------

interface Running {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

let nextPort = 9600;

async function startServer(runtime: string, server: string, env: Record<string, string> = {}) {
  const port = nextPort++;
  const commands: Record<string, string[]> = {
    deno: [Deno.execPath(), "run", "-A", SERVER_SCRIPT, String(port)],
    bun: [`${ROOT}node_modules/.bin/bun`, SERVER_SCRIPT, String(port)],
    node: ["node", SERVER_SCRIPT, String(port)],
  };
  const [command, ...args] = commands[runtime]!;
  const child = new Deno.Command(command!, {
    args,
    cwd: ROOT,
    env: { SERVER: server, ...(runtime === "node" ? { NETWS_MODULE: NETWS_NODE } : {}), ...env },
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 15_000;
  while (!seen.includes("listening")) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) throw new Error(`Cannot start ${runtime} ${server}`);
    seen += value;
  }
  void (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    pid: child.pid,
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  } satisfies Running;
}

function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

function cpuMsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Samples the server's RSS every 20 ms; `stop` returns the peak. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch { /* exited */ }
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

// --- A raw client --------------------------------------------------------------------------------

function clientFrame(opcode: number, payload: Uint8Array, declared = payload.length): Uint8Array {
  const lengthBytes = declared < 126 ? 0 : declared < 0x10000 ? 2 : 8;
  const header = new Uint8Array(2 + lengthBytes + 4);
  header[0] = 0x80 | opcode;
  if (lengthBytes === 0) header[1] = 0x80 | declared;
  else if (lengthBytes === 2) {
    header[1] = 0x80 | 126;
    new DataView(header.buffer).setUint16(2, declared);
  } else {
    header[1] = 0x80 | 127;
    new DataView(header.buffer).setBigUint64(2, BigInt(declared));
  }
  header.set(MASK, 2 + lengthBytes);
  const out = new Uint8Array(header.length + payload.length);
  out.set(header);
  for (let i = 0; i < payload.length; i++) out[header.length + i] = payload[i]! ^ MASK[i & 3]!;
  return out;
}

/** Reads the server's frames; tells the first close code and the bytes of data received. */
class FrameScanner {
  #buffer = new Uint8Array(0);
  closeCode: number | undefined;
  dataBytes = 0;
  frames = 0;

  push(chunk: Uint8Array): void {
    let buffer = this.#buffer.length === 0 ? chunk : concat([this.#buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) break;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = (buffer[2]! << 8) | buffer[3]!;
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(new DataView(buffer.buffer, buffer.byteOffset + 2, 8).getBigUint64(0));
        offset = 10;
      }
      if (buffer.length < offset + length) break;
      const opcode = buffer[0]! & 0x0f;
      this.frames++;
      if (opcode === 0x8 && this.closeCode === undefined) {
        this.closeCode = length >= 2 ? (buffer[offset]! << 8) | buffer[offset + 1]! : 1005;
      } else if (opcode <= 0x2) this.dataBytes += length;
      buffer = buffer.subarray(offset + length);
    }
    this.#buffer = buffer.slice();
  }
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

interface Client {
  conn: Deno.TcpConn;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  scanner: FrameScanner;
  failed: boolean;
}

async function open(port: number): Promise<Client> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const writer = conn.writable.getWriter();
  const reader = conn.readable.getReader();
  await writer.write(encoder.encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  let head: Uint8Array = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Cannot open: the server closed");
    head = concat([head, value]);
    const end = decoder.decode(head).indexOf("\r\n\r\n");
    if (end === -1) continue;
    if (!decoder.decode(head).startsWith("HTTP/1.1 101")) throw new Error("Cannot open: no 101");
    const scanner = new FrameScanner();
    if (head.length > end + 4) scanner.push(head.slice(end + 4));
    return { conn, writer, reader, scanner, failed: false };
  }
}

/** Writes `chunk` again and again for `ms` (as fast as TCP takes it); returns the bytes sent. */
async function flood(client: Client, chunk: Uint8Array, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let sent = 0;
  while (Date.now() < end && !client.failed) {
    const ready = await Promise.race([
      client.writer.ready.then(() => true, () => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), end - Date.now())),
    ]);
    if (!ready) break;
    client.writer.write(chunk).catch(() => client.failed = true);
    sent += chunk.length;
  }
  return sent;
}

/** Reads for at most `ms`, until the server closes or a close frame is seen. */
async function drain(client: Client, ms: number): Promise<"eof" | "reset" | "open"> {
  const end = Date.now() + ms;
  try {
    while (Date.now() < end) {
      const result = await Promise.race([
        client.reader.read(),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), end - Date.now())),
      ]);
      if (result === undefined) return "open";
      if (result.done) return "eof";
      client.scanner.push(result.value);
    }
    return "open";
  } catch {
    return "reset";
  }
}

function close(client: Client): void {
  try {
    client.conn.close();
  } catch { /* closed */ }
}

function peerSaw(client: Client, end: string): string {
  const code = client.scanner.closeCode;
  return code === undefined ? `no close frame (${end})` : `${code} (${end})`;
}

const mb = (bytes: number) => `${(bytes / MiB).toFixed(1)} MB`;

// --- Rows ----------------------------------------------------------------------------------------

async function floodRow(row: string, runtime: string, server: string, env = {}): Promise<Result> {
  const running = await startServer(runtime, server, env);
  try {
    const client = await open(running.port);
    const base = rssOf(running.pid);
    const rss = sampleRss(running.pid);
    const chunk = concat(Array.from({ length: 10_000 }, () => clientFrame(0x1, new Uint8Array())));
    const sent = await flood(client, chunk, DURATION);
    const peak = rss.stop();
    const end = await drain(client, 5000);
    close(client);
    return {
      row,
      runtime,
      server,
      rss: mb(peak - base),
      peer: peerSaw(client, end),
      note: `${mb(sent)} sent`,
    };
  } finally {
    await running.stop();
  }
}

async function pingRow(runtime: string, server: string): Promise<Result> {
  const running = await startServer(runtime, server);
  try {
    const clients = await Promise.all(Array.from({ length: 10 }, () => open(running.port)));
    const base = rssOf(running.pid);
    const rss = sampleRss(running.pid);
    const chunk = concat(Array.from({ length: 500 }, () => clientFrame(0x9, new Uint8Array(125))));
    const sent = await Promise.all(clients.map((client) => flood(client, chunk, DURATION)));
    const peak = rss.stop();
    const ends = await Promise.all(clients.map((client) => drain(client, 3000)));
    for (const client of clients) close(client);
    return {
      row: "ping-flood",
      runtime,
      server,
      rss: `${mb((peak - base) / 10)}/conn`,
      peer: peerSaw(clients[0]!, ends[0]!),
      note: `${mb(sent.reduce((a, b) => a + b, 0) / 10)} sent/conn`,
    };
  } finally {
    await running.stop();
  }
}

async function echoRow(runtime: string, server: string): Promise<Result> {
  const running = await startServer(runtime, server);
  try {
    const client = await open(running.port);
    const payload = new Uint8Array(16 * MiB);
    for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff;
    void client.writer.write(clientFrame(0x2, payload)).catch(() => client.failed = true);
    const end = Date.now() + 20_000;
    let state: string = "open";
    while (client.scanner.dataBytes < payload.length && Date.now() < end) {
      state = await drain(client, Math.min(1000, end - Date.now()));
      if (state !== "open" || client.scanner.closeCode !== undefined) break;
    }
    close(client);
    const echoed = client.scanner.dataBytes === payload.length;
    return {
      row: "echo-16MiB",
      runtime,
      server,
      peer: echoed ? "echoed" : peerSaw(client, state),
    };
  } finally {
    await running.stop();
  }
}

async function afterCloseRow(runtime: string, server: string): Promise<Result> {
  const running = await startServer(runtime, server);
  try {
    const client = await open(running.port);
    const cpu = cpuMsOf(running.pid);
    await client.writer.write(clientFrame(0x2, new Uint8Array(), 200 * MiB));
    const sent = await flood(client, new Uint8Array(64 * 1024), DURATION);
    const spent = cpuMsOf(running.pid) - cpu;
    const end = await drain(client, 2000);
    close(client);
    return {
      row: "after-close",
      runtime,
      server,
      cpu: `${spent} ms`,
      peer: peerSaw(client, end),
      note: `${mb(sent)} sent in ${DURATION / 1000} s${client.failed ? ", socket ended" : ""}`,
    };
  } finally {
    await running.stop();
  }
}

// --- Main ----------------------------------------------------------------------------------------

if (RUNTIMES.includes("node")) {
  try {
    Deno.statSync(NETWS_NODE);
  } catch {
    console.error("hostile: building npm/ for Node");
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/build_npm.ts", "--no-smoke", "--no-test"],
      cwd: ROOT,
      stdout: "null",
    }).output();
    if (code !== 0) throw new Error("Cannot build npm/ for Node");
  }
}

const results: Result[] = [];
for (const runtime of RUNTIMES) {
  for (const server of ["netws", "peer"]) {
    const label = server === "netws"
      ? "netws"
      : { node: "ws", deno: "Deno.upgradeWebSocket", bun: "Bun.serve" }[runtime]!;
    const run = async (row: string, fn: () => Promise<Result>) => {
      if (!ROWS.includes(row)) return;
      // One retry: a server that did not start in time on a busy machine is not a result.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          const result = await fn();
          result.server = label;
          results.push(result);
          console.log(JSON.stringify(result));
          return;
        } catch (error) {
          console.error(`hostile: ${row} ${runtime} ${label} (attempt ${attempt}):`, error);
        }
      }
    };
    await run("flood", () => floodRow("flood", runtime, server));
    if (server === "netws") {
      await run(
        "flood-1MiB",
        () => floodRow("flood-1MiB", runtime, server, { MAX_BUFFERED: String(MiB) }),
      );
    }
    await run("ping-flood", () => pingRow(runtime, server));
    await run("echo-16MiB", () => echoRow(runtime, server));
    await run("after-close", () => afterCloseRow(runtime, server));
  }
}

console.log("\n| row | runtime | server | server RSS | peer saw | server CPU | note |");
console.log("| --- | --- | --- | ---: | --- | ---: | --- |");
for (const r of results) {
  console.log(
    `| ${r.row} | ${r.runtime} | ${r.server} | ${r.rss ?? ""} | ${r.peer ?? ""} | ${
      r.cpu ?? ""
    } | ${r.note ?? ""} |`,
  );
}
