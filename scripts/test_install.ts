/**
 * Runs the README's "From a checkout" install routes as a newcomer would, and the README's echo
 * snippets in the projects they make, against real clients:
 *
 * 1. Builds the npm package (`scripts/build_npm.ts --no-smoke --no-test`) and packs it.
 * 2. Node, ES module: `npm init -y`, `npm pkg set type=module`, `npm install <tarball>`, then
 *    `node server.js` with the README's echo snippet.
 * 3. Node, CommonJS: `npm init -y`, `npm install <tarball>`, `node server.js` with the README's
 *    `require()` snippet.
 * 4. Bun: a `package.json` with `"type": "module"`, `bun add <tarball>`, `bun run server.ts`.
 * 5. Deno: a `deno.json` that maps `@netws/server` to the checkout's `mod.ts`, `deno run`.
 *
 * Each server runs as its own process on 127.0.0.1 (the snippet's `port: 8081` becomes `port: 0`);
 * this script then talks to it with Deno's `WebSocket` (text and binary echo) and with raw
 * upgrade requests: a page of another site gets 403 and a log line, a page on this machine 101.
 *
 * Usage: deno run -A scripts/test_install.ts
 *
 * @module
 */

import { ROOT } from "./_tsc.ts";

/** A README code block, found by the HTML comment just before it. */
async function snippet(marker: string): Promise<string> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const match = new RegExp(`<!-- ${marker}:[^>]*-->\\s*\`\`\`\\w+[^\\n]*\\n([^]*?)\\n\`\`\``)
    .exec(readme);
  if (match === null) fail(`Cannot find the README block marked "${marker}"`);
  const code = match[1]!;
  if (!code.includes("port: 8081,")) fail(`Cannot use the "${marker}" block: no "port: 8081,"`);
  return code.replace("port: 8081,", "port: 0,");
}

interface Route {
  name: string;
  /** Makes the project in `dir` and returns the command that runs its server. */
  setup(dir: string, tarball: string): Promise<[string, ...string[]]>;
  /** Whether the snippet answers binary messages and checks Origin. */
  full: boolean;
}

const bun = `${ROOT}node_modules/.bin/bun`;
const echo = await snippet("echo-snippet");
const echoCjs = await snippet("echo-snippet-cjs");

const ROUTES: Route[] = [
  {
    name: "node, ES module",
    full: true,
    async setup(dir, tarball) {
      await run("npm", ["init", "-y"], dir);
      await run("npm", ["pkg", "set", "type=module"], dir);
      await npmInstall(dir, tarball);
      await Deno.writeTextFile(`${dir}/server.js`, echo);
      return ["node", "server.js"];
    },
  },
  {
    name: "node, CommonJS",
    full: false,
    async setup(dir, tarball) {
      await run("npm", ["init", "-y"], dir);
      await npmInstall(dir, tarball);
      await Deno.writeTextFile(`${dir}/server.js`, echoCjs);
      return ["node", "server.js"];
    },
  },
  {
    name: "bun",
    full: true,
    async setup(dir, tarball) {
      await Deno.writeTextFile(
        `${dir}/package.json`,
        JSON.stringify({ name: "echo", type: "module" }),
      );
      await run(bun, ["add", tarball], dir);
      await Deno.writeTextFile(`${dir}/server.ts`, echo);
      return [bun, "run", "server.ts"];
    },
  },
  {
    name: "deno, import map",
    full: true,
    async setup(dir) {
      await Deno.writeTextFile(
        `${dir}/deno.json`,
        JSON.stringify({ imports: { "@netws/server": `${ROOT}mod.ts` } }),
      );
      await Deno.writeTextFile(`${dir}/server.ts`, echo);
      return [Deno.execPath(), "run", "--allow-net", "server.ts"];
    },
  },
];

const started = performance.now();
const scratch = await Deno.makeTempDir({ prefix: "netws-install-" });
let passed = 0;
const failed: string[] = [];
try {
  console.log("test_install: build and pack the npm package");
  await run(
    Deno.execPath(),
    ["run", "-A", "scripts/build_npm.ts", "--no-smoke", "--no-test"],
    ROOT,
  );
  const packed = await run("npm", ["pack", "--json", "--pack-destination", scratch], `${ROOT}npm`);
  const tarball = `${scratch}/${(JSON.parse(packed) as [{ filename: string }])[0].filename}`;
  for (const route of ROUTES) {
    const dir = `${scratch}/${route.name.replace(/\W+/g, "-")}`;
    await Deno.mkdir(dir);
    const start = performance.now();
    try {
      const command = await route.setup(dir, tarball);
      await exercise(command, dir, route.full);
      passed++;
      console.log(`  ok   ${route.name} (${seconds(start)})`);
    } catch (error) {
      failed.push(route.name);
      console.error(`  FAIL ${route.name}: ${error instanceof Error ? error.message : error}`);
    }
  }
} finally {
  await Deno.remove(scratch, { recursive: true });
}
console.log(`test_install: ${passed} passed, ${failed.length} failed (${seconds(started)})`);
if (failed.length > 0) Deno.exit(1);

/** Starts the server, checks it with real clients, stops it. */
async function exercise(command: [string, ...string[]], dir: string, full: boolean) {
  const [program, ...args] = command;
  const child = new Deno.Command(program, {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) output += text;
  };
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  try {
    const port = await until(() => /echo on ws:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1], 20_000)
      .catch(() => {
        throw new Error(`Cannot start "${command.join(" ")}":\n${output}`);
      });
    const url = `ws://127.0.0.1:${port}`;
    if ((await echoOnce(url, "hello, netws")) !== "hello, netws") {
      throw new Error("Cannot echo text");
    }
    if (full) {
      const bytes = new Uint8Array([0, 1, 2, 254, 255]);
      const back = await echoOnce(url, bytes);
      if (!(back instanceof ArrayBuffer) || new Uint8Array(back).join() !== bytes.join()) {
        throw new Error("Cannot echo binary");
      }
      const refused = await statusLine(Number(port), "https://elsewhere.example");
      if (!refused.startsWith("HTTP/1.1 403 ")) {
        throw new Error(`Cannot refuse another site's page: got "${refused}"`);
      }
      await until(() => output.includes("pages of https://elsewhere.example may not connect"), 5000)
        .catch(() => {
          throw new Error(`Cannot see the refusal logged:\n${output}`);
        });
      for (const origin of ["http://127.0.0.1:8080", "http://localhost:8080"]) {
        const allowed = await statusLine(Number(port), origin);
        if (!allowed.startsWith("HTTP/1.1 101 ")) {
          throw new Error(`Cannot accept a page of ${origin}: got "${allowed}"`);
        }
      }
    }
    if (/ExperimentalWarning|Error/.test(output)) {
      throw new Error(`Cannot run cleanly: the server printed\n${output}`);
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
    await collected;
  }
}

/** Sends one message and resolves with the first message back. */
function echoOnce(url: string, message: string | Uint8Array): Promise<unknown> {
  return within(
    new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => socket.send(message);
      socket.onmessage = (event) => {
        resolve(event.data);
        socket.close();
      };
      socket.onerror = () => reject(new Error(`Cannot connect to ${url}`));
    }),
    5000,
    `echo on ${url}`,
  );
}

/** Sends an upgrade request from a page of `origin`; resolves with the answer's status line. */
async function statusLine(port: number, origin: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
      `Sec-WebSocket-Version: 13\r\nOrigin: ${origin}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head));
    const buffer = new Uint8Array(4096);
    let received = "";
    while (!received.includes("\r\n")) {
      const n = await within(conn.read(buffer), 5000, `read the answer to ${origin}`);
      if (n === null) break;
      received += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return received.split("\r\n")[0]!;
  } finally {
    conn.close();
  }
}

function npmInstall(dir: string, tarball: string): Promise<string> {
  return run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], dir);
}

async function run(command: string, args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(command, { args, cwd, stdin: "null" })
    .output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `Cannot run "${command} ${args.join(" ")}": exit code ${code}\n` +
        decoder.decode(stdout) + decoder.decode(stderr),
    );
  }
  return decoder.decode(stdout);
}

/** Polls `check` until it returns something other than `undefined` or `false`. */
async function until<T>(check: () => T | undefined | false, ms: number): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`Cannot wait: ${ms} ms passed`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Cannot ${what}: no result after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function seconds(start: number): string {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}

function fail(message: string): never {
  console.error(`test_install: ${message}`);
  Deno.exit(1);
}
