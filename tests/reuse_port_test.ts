// serve({ reusePort: true }): two listeners on one port both take connections, on every runtime
// that can bind with SO_REUSEPORT, and a clear rejection where it cannot (Deno without
// --unstable-net, in a child process since Deno.listen would exit it; Node before 22.12).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { serve, type Server } from "../mod.ts";
import type { Listen } from "../src/connection/transport.ts";
import { listen as nodeListen } from "../src/adapters/node/net.ts";
import { ROOT, RUNTIME, within } from "./helpers/redis_server.ts";
import { WsClient } from "./helpers/ws_client.ts";

/** Whether this Node has `reusePort` on `net.Server.listen` (22.12, 23.1 and later). */
function nodeHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

function greeter(name: string, port: number, listen?: Listen): Server {
  return serve({
    port,
    hostname: "127.0.0.1",
    reusePort: true,
    ...(listen === undefined ? {} : { listen }),
    onConnect(conn) {
      conn.on("ready", (conn) => conn.sendText(name));
    },
  });
}

/**
 * Connects one client after another (each from a new source port, which the kernel hashes to
 * pick a listener) until both greetings were seen or `count` clients tried: with two listeners
 * the chance of 24 clients all reaching one is 2^-23.
 */
async function greetings(port: number, count = 24): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < count && seen.size < 2; i++) {
    const client = await WsClient.connect(`ws://127.0.0.1:${port}/`);
    try {
      seen.add(String(await client.next(3000)));
    } finally {
      await client.dispose();
    }
  }
  return seen;
}

/** Two greeters on one port in this process; both must take connections. */
async function bothAnswer(listen?: Listen): Promise<void> {
  const a = greeter("a", 0, listen);
  const servers = [a];
  try {
    await a.ready;
    const b = greeter("b", a.port, listen);
    servers.push(b);
    await b.ready;
    assert.equal(b.port, a.port);
    assert.deepEqual([...await greetings(a.port)].sort(), ["a", "b"]);
  } finally {
    await Promise.all(servers.map((server) => server.shutdown()));
  }
}

/** The first line the peer prints, with the peer stopped by its PID afterwards. */
async function runPeer(flags: string[]): Promise<{ line: { port?: number; error?: string } }> {
  const script = fileURLToPath(new URL("./helpers/reuse_port_peer.ts", import.meta.url));
  const child = spawn(
    `${ROOT}node_modules/deno/deno`,
    ["run", "-A", ...flags, `--config=${ROOT}deno.json`, script],
    { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  try {
    const first = await within(
      createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next(),
      15_000,
      "start the reusePort peer",
    );
    assert.equal(first.done, false, "the peer exited before printing");
    const line = JSON.parse(first.value as string) as { port?: number; error?: string };
    if (line.port !== undefined) {
      assert.deepEqual([...await greetings(line.port)].sort(), ["a", "b"]);
    }
    return { line };
  } finally {
    child.stdin!.end();
    const code = await within(exited, 5000, "stop the reusePort peer").catch(() => {
      child.kill("SIGKILL");
      return null;
    });
    assert.equal(code, 0, "the peer exits by itself once stdin ends");
  }
}

describe("reusePort", () => {
  if (RUNTIME === "bun") {
    it(
      "Bun.listen: two servers on one port both take connections",
      { timeout: 15_000 },
      () => bothAnswer(),
    );
  }

  if (RUNTIME === "deno") {
    it("Deno.listen with --unstable-net: two servers on one port both take connections", {
      timeout: 30_000,
    }, async () => {
      const { line } = await runPeer(["--unstable-net"]);
      assert.equal(line.error, undefined);
    });

    it("Deno.listen without --unstable-net: listen rejects, the process keeps running", {
      timeout: 30_000,
    }, async () => {
      const { line } = await runPeer([]);
      assert.match(
        line.error ?? "",
        /^Cannot listen on "127\.0\.0\.1:0": reusePort needs deno run --unstable-net$/,
      );
    });
  }

  if (RUNTIME !== "node" || nodeHasReusePort()) {
    it(
      "node:net: two servers on one port both take connections",
      { timeout: 15_000 },
      () => bothAnswer(nodeListen),
    );
  } else {
    it("node:net before Node 22.12: listen rejects, naming node:cluster", async () => {
      const server = greeter("a", 0, nodeListen);
      try {
        await assert.rejects(server.ready, (error: Error) => {
          assert.equal(
            error.message,
            `Cannot listen on "127.0.0.1:0": reusePort needs Node 22.12 or later, this is ` +
              `${process.version}; on older Node use node:cluster, whose workers share the ` +
              "primary's listening socket",
          );
          return true;
        });
      } finally {
        await server.shutdown();
      }
    });
  }

  if (RUNTIME !== "node" || nodeHasReusePort()) {
    it("a listener without reusePort is refused the port", { timeout: 15_000 }, async () => {
      // Bun.listen here; node:net on Deno, which this test runs without --unstable-net.
      const listen = RUNTIME === "bun" ? undefined : nodeListen;
      const a = greeter("a", 0, listen);
      const servers = [a];
      try {
        await a.ready;
        const b = serve({ port: a.port, hostname: "127.0.0.1", ...(listen ? { listen } : {}) });
        servers.push(b);
        await assert.rejects(b.ready, { code: "EADDRINUSE" });
      } finally {
        await Promise.all(servers.map((server) => server.shutdown()));
      }
    });
  }
});
