/**
 * A backplane instance in a child process, for the cross-runtime Redis tests. Runs unchanged on
 * Deno, Bun and Node (compiled). Argument: the Redis URL.
 *
 * Commands, one JSON object per line on stdin:
 *   {"op":"sub","topic":T}  {"op":"unsub","topic":T}  {"op":"sync"}  {"op":"close"}
 *   {"op":"pub","topic":T,"data":BASE64,"binary":B}
 * Events, one JSON object per line on stdout:
 *   {"ev":"ready","instance":ID,"runtime":R}  {"ev":"synced"}  {"ev":"published"}
 *   {"ev":"msg","instance":I,"topic":T,"data":BASE64,"binary":B}
 *   {"ev":"error","stage":S,"message":M}  {"ev":"closed"}
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { createInterface } from "node:readline";
import { RedisBackplane } from "../../src/adapters/redis.ts";

interface Command {
  op: "sub" | "unsub" | "sync" | "close" | "pub";
  topic?: string;
  data?: string;
  binary?: boolean;
}

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const url = process.argv[process.argv.length - 1]!;
const backplane = new RedisBackplane({ url });

function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + "\n");
}

backplane.onError = (error) => emit({ ev: "error", stage: error.stage, message: error.message });
backplane.subscribe((envelope) => {
  emit({
    ev: "msg",
    instance: envelope.instance,
    topic: envelope.topic,
    data: Buffer.from(envelope.data).toString("base64"),
    binary: envelope.binary,
  });
});

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const command = JSON.parse(line) as Command;
  switch (command.op) {
    case "sub":
      backplane.subscribeTopic(command.topic!);
      break;
    case "unsub":
      backplane.unsubscribeTopic(command.topic!);
      break;
    case "sync":
      await backplane.subscriptionsSettled();
      emit({ ev: "synced" });
      break;
    case "pub":
      await backplane.publish({
        instance: backplane.instanceId,
        topic: command.topic!,
        data: new Uint8Array(Buffer.from(command.data!, "base64")),
        binary: command.binary!,
      });
      emit({ ev: "published" });
      break;
    case "close":
      lines.close();
      await backplane.close();
      // Exit once the last line is out: a pipe's writes may still be queued.
      process.stdout.write(JSON.stringify({ ev: "closed" }) + "\n", () => process.exit(0));
  }
});
emit({ ev: "ready", instance: backplane.instanceId, runtime });
