// Fan-out server of the benchmark, on netws, for Node: the same server as fanout_netws.ts,
// importing the compiled package whose mod.js `NETWS_MODULE` points at.
//
//   NETWS_MODULE=/path/to/npm/mod.js node bench/servers/fanout_netws_node.mjs 9001

import { pathToFileURL } from "node:url";

const modulePath = process.env.NETWS_MODULE;
if (!modulePath) {
  console.error("fanout_netws_node.mjs: set NETWS_MODULE to the built mod.js");
  process.exit(1);
}
const { serve } = await import(pathToFileURL(modulePath).href);
const port = Number(process.argv[2] ?? process.env.PORT ?? 9001);
const TOPIC = "all";
// publishMark = maxBufferedAmount: see fanout_netws.ts.
const MAX_BUFFERED = 16 * 1024 * 1024;

const server = serve({
  port,
  hostname: "127.0.0.1",
  maxMessageSize: 1 << 20,
  maxBufferedAmount: MAX_BUFFERED,
  publishMark: MAX_BUFFERED,
  onConnect(conn) {
    conn.on("ready", (c) => {
      if (usePublish) c.subscribe(TOPIC);
    });
    conn.on("text", (_, text) => broadcast(text));
    conn.on("binary", (_, data) => broadcast(data));
  },
  onError(error) {
    console.error("netws fan-out server:", error);
  },
});
const hasTopics = typeof server.publish === "function";
const usePublish = (process.env.FANOUT ?? (hasTopics ? "publish" : "loop")) === "publish";

function broadcast(data) {
  if (usePublish) {
    server.publish(TOPIC, data);
    return;
  }
  if (typeof data === "string") { for (const c of server.connections) c.sendText(data); }
  else for (const c of server.connections) c.sendBinary(data);
}

await server.ready;
console.log(`listening ${server.port}`);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    const drops = server.metrics?.drops;
    if (drops !== undefined) console.error(`drops ${drops}`);
    process.exit(0);
  });
}
