/**
 * Two netws servers in one child process bound to one port with `reusePort`, for the tests of
 * that option on Deno (whose failure mode without --unstable-net is a process exit): each greets
 * a client with its name (`"a"` or `"b"`). Prints `{"port":N}` once both listen, or
 * `{"error":"…"}` if listening failed; stops on stdin's end.
 */
import process from "node:process";
import { serve, type Server } from "../../mod.ts";

function greeter(name: string, port: number): Server {
  return serve({
    port,
    hostname: "127.0.0.1",
    reusePort: true,
    onConnect(conn) {
      conn.on("ready", (conn) => conn.sendText(name));
    },
  });
}

const servers: Server[] = [];
try {
  const a = greeter("a", 0);
  servers.push(a);
  await a.ready;
  const b = greeter("b", a.port);
  servers.push(b);
  await b.ready;
  process.stdout.write(JSON.stringify({ port: a.port }) + "\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ error: (error as Error).message }) + "\n");
}
process.stdin.on("data", () => {});
process.stdin.on("end", async () => {
  await Promise.all(servers.map((server) => server.shutdown()));
  process.exit(0);
});
