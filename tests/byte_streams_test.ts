// byteStreams over the real adapters of the runtime, with loopback clients: the readable pauses the
// transport when it is full and resumes it on read, the writable waits for drain, closing ends the
// transport, aborting destroys it, and a failed socket errors both streams.

import { describe } from "node:test";
import assert from "node:assert/strict";
import type { Listen, Transport } from "../src/connection/transport.ts";
import { type ByteStreams, byteStreams } from "../src/adapters/mod.ts";
import { bytesEqual, concat, pattern } from "./helpers/bytes.ts";
import { loadAdapters, type Scope, test, waitFor } from "./helpers/server.ts";
import {
  closedSocket,
  connect,
  connectFlow,
  ended,
  receive,
  stateAfter,
  type Wire,
} from "./helpers/sockets.ts";
import { TLS } from "./helpers/sockets.ts";

const runtime = globalThis as { Deno?: unknown };
const adapters = await loadAdapters();
const text = (value: string) => new TextEncoder().encode(value);

/** Listens with `listen`; every accepted socket becomes byte streams, with its transport calls counted. */
async function serveStreams(scope: Scope, listen: Listen, wire: Wire, highWaterMark?: number) {
  const accepted:
    (ByteStreams & { transport: Transport; pauses: number; closed: Promise<unknown> })[] = [];
  const listener = await listen(
    { hostname: "127.0.0.1", port: 0, noDelay: true, tls: wire === "tls" ? TLS : undefined },
    (transport) => {
      let pauses = 0;
      const counted: Transport = {
        remoteAddr: transport.remoteAddr,
        get bufferedAmount() {
          return transport.bufferedAmount;
        },
        write: (vector) => transport.write(vector),
        pause: () => (pauses++, transport.pause()),
        resume: () => transport.resume(),
        end: () => transport.end(),
        destroy: () => transport.destroy(),
      };
      const streams = byteStreams(counted, highWaterMark === undefined ? {} : { highWaterMark });
      let closed!: (error: unknown) => void;
      accepted.push({
        ...streams,
        transport,
        get pauses() {
          return pauses;
        },
        closed: new Promise<unknown>((resolve) => closed = resolve),
      });
      scope.defer(() => transport.destroy());
      const { sink } = streams;
      return {
        onData: (chunk) => sink.onData(chunk),
        onEnd: () => sink.onEnd(),
        onDrain: () => sink.onDrain(),
        onClose: (error) => (sink.onClose(error), closed(error)),
      };
    },
  );
  scope.defer(() => listener.close());
  return { port: listener.port, accepted };
}

for (const { name, listen } of adapters) {
  for (const wire of ["tcp", "tls"] as const) {
    describe(`byteStreams over the ${name} adapter (${wire})`, () => {
      test("byteStreams echoes through a pipe, and closing the writable half-closes", async (scope) => {
        const { port, accepted } = await serveStreams(scope, listen, wire);
        const client = await connect(scope, port, wire);
        await waitFor(() => accepted.length === 1, "accept");
        const { readable, writable } = accepted[0]!;
        const piped = readable
          .pipeThrough(
            new TransformStream<Uint8Array, Uint8Array[]>({
              transform: (chunk, controller) => controller.enqueue([chunk]),
            }),
          )
          .pipeTo(writable);
        const sent = pattern(300_000, 3);
        const echoed = receive(client, sent.byteLength);
        client.write(sent);
        assert.ok(bytesEqual(await echoed, sent));
        client.end();
        await piped;
        await ended(client);
        assert.equal(await accepted[0]!.closed, undefined);
      });

      test(
        "byteStreams.readable pauses the transport while full; reading resumes it",
        async (scope) => {
          const { port, accepted } = await serveStreams(scope, listen, wire, 64 * 1024);
          const client = await connectFlow(scope, port, wire);
          await waitFor(() => accepted.length === 1, "accept");
          const chunk = pattern(1 << 20, 4);
          let sent = 0;
          let pending: Promise<void> | undefined;
          while (sent < 64 << 20) {
            const written = client.write(chunk);
            sent += chunk.byteLength;
            if (await stateAfter(written, 300) === "pending") {
              pending = written;
              break;
            }
          }
          assert.ok(pending, `the client wrote ${sent} bytes to a stream nobody reads`);
          assert.ok(accepted[0]!.pauses >= 1);
          const reader = accepted[0]!.readable.getReader();
          const chunks: Uint8Array[] = [];
          for (let total = 0; total < sent;) {
            const { value } = await reader.read();
            chunks.push(value!);
            total += value!.byteLength;
          }
          const received = concat(chunks);
          for (let offset = 0; offset < sent; offset += chunk.byteLength) {
            assert.ok(bytesEqual(received.subarray(offset, offset + chunk.byteLength), chunk));
          }
          await pending;
        },
        name === "node" && wire === "tls" && runtime.Deno !== undefined
          ? "Deno's node:tls keeps reading a paused socket (the deno adapter is the one for Deno)"
          : undefined,
      );

      test("byteStreams.writable waits for drain while the peer does not read", async (scope) => {
        const { port, accepted } = await serveStreams(scope, listen, wire);
        const client = await connectFlow(scope, port, wire);
        await waitFor(() => accepted.length === 1, "accept");
        const writer = accepted[0]!.writable.getWriter();
        const vector = [pattern(8 << 20, 5), pattern(8 << 20, 6)];
        const written = writer.write(vector);
        assert.equal(await stateAfter(written, 300), "pending");
        const expected = concat(vector);
        assert.ok(bytesEqual(await client.receive(expected.byteLength), expected));
        await written;
      });

      test("byteStreams: abort destroys; a closed socket errors both streams", async (scope) => {
        const { port, accepted } = await serveStreams(scope, listen, wire);
        const client = await connect(scope, port, wire);
        await waitFor(() => accepted.length === 1, "accept");
        const { readable, writable } = accepted[0]!;
        const reader = readable.getReader();
        const reading = assert.rejects(reader.read(), { message: /^Cannot / });
        await writable.abort(new Error("gave up"));
        await accepted[0]!.closed;
        await reading;
        await Promise.race([ended(client).catch(() => {}), closedSocket(client)]);
      });

      test("byteStreams: once the socket closed, writes reject", async (scope) => {
        const { port, accepted } = await serveStreams(scope, listen, wire);
        const client = await connect(scope, port, wire);
        await waitFor(() => accepted.length === 1, "accept");
        const writer = accepted[0]!.writable.getWriter();
        await writer.write([text("hi")]);
        assert.ok(bytesEqual(await receive(client, 2), text("hi")));
        accepted[0]!.transport.destroy();
        await accepted[0]!.closed;
        await assert.rejects(writer.write([text("too late")]), {
          message: "Cannot use the connection: the socket is closed",
        });
      });
    });
  }
}
