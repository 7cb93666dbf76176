// Invalid UTF-8 fails a connection in the read that brings it (RFC 6455 §8.1), not when its
// frame or message is complete: a client that writes a text frame in three parts, waiting
// between them, gets the 1007 close frame after the invalid middle part and before it sends the
// last one. Real sockets on loopback, against every adapter of the runtime.
import { describe } from "node:test";
import assert from "node:assert/strict";
import { Opcode } from "../src/protocol/mod.ts";
import { concat } from "./helpers/bytes.ts";
import { clientFrame, closeOf, type RawClient } from "./helpers/raw_client.ts";
import { delay, loadAdapters, openRaw, start, test, waitFor } from "./helpers/server.ts";

const adapters = await loadAdapters();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes `parts` one by one, pausing after each but the last so each arrives as its own read. */
async function writeApart(client: RawClient, parts: readonly Uint8Array[]): Promise<void> {
  for (const part of parts) {
    await client.write(part);
    await delay(60);
  }
}

/** Splits one masked frame's bytes at payload offsets `cuts` (header bytes go with the first). */
function frameParts(opcode: number, payload: Uint8Array, cuts: readonly number[], fin = true) {
  const bytes = clientFrame(opcode, payload, { fin });
  const header = bytes.length - payload.length;
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts.map((at) => header + at), bytes.length]) {
    parts.push(bytes.slice(start, cut));
    start = cut;
  }
  return parts;
}

/** Expects the 1007 close frame now, with the rest of the input still unsent. */
async function assertClosedWith1007(client: RawClient): Promise<void> {
  const frame = await client.nextFrame(2000);
  assert.equal(frame.opcode, Opcode.Close);
  assert.equal(closeOf(frame).code, 1007);
}

for (const { name, listen } of adapters) {
  describe(`fail fast with the ${name} adapter`, () => {
    test("serve closes with 1007 after the invalid middle write of a text frame, before its last write", async (scope) => {
      const { port, log } = await start(scope, listen);
      const client = await openRaw(scope, port);
      const payload = concat([encoder.encode("a valid start, "), new Uint8Array([0xc3, 0x28])]);
      const [first, middle, last] = frameParts(
        Opcode.Text,
        concat([payload, encoder.encode(", and an end that never matters")]),
        [15, payload.length],
      );
      await writeApart(client, [first!]);
      assert.equal(client.hasFrame, false, "nothing is wrong after the first write");
      await writeApart(client, [middle!]);
      await assertClosedWith1007(client);
      await client.write(last!).catch(() => {}); // the server may have closed already
      await client.waitClosed();
      await waitFor(() => log.disconnects.length > 0, "disconnect");
      assert.deepEqual(log.disconnects.map(({ code }) => code), [1007]);
    });

    test("serve closes with 1007 inside a large text frame, before the rest of it is sent", async (scope) => {
      const { port } = await start(scope, listen);
      const client = await openRaw(scope, port);
      // 256 KiB of text, broken 100 KiB in: a frame buffered whole would wait for 156 KiB more.
      const text = encoder.encode("é".repeat(128 * 1024));
      text[100 * 1024] = 0xff;
      const parts = frameParts(Opcode.Text, text, [64 * 1024, 110 * 1024]);
      await writeApart(client, parts.slice(0, 2));
      await assertClosedWith1007(client);
    });

    test("serve closes with 1007 in a continuation frame's middle write, before its last write", async (scope) => {
      const { port } = await start(scope, listen);
      const client = await openRaw(scope, port);
      const [first] = frameParts(Opcode.Text, encoder.encode("héllo "), [], false);
      const rest = frameParts(
        Opcode.Continuation,
        concat([encoder.encode("wörld "), new Uint8Array([0xed, 0xa0, 0x80]), encoder.encode("!")]),
        [4, 10],
      );
      await writeApart(client, [first!, rest[0]!]);
      assert.equal(client.hasFrame, false, "nothing is wrong before the invalid bytes");
      await writeApart(client, [rest[1]!]);
      await assertClosedWith1007(client);
    });

    test("serve echoes a valid text frame written in three parts once its last part arrives", async (scope) => {
      const { port } = await start(scope, listen);
      const client = await openRaw(scope, port);
      const text = "a valid start, then \u00e9\u20ac\u{1F600} split across the writes";
      const bytes = encoder.encode(text);
      // Cut inside the multi-byte characters.
      const parts = frameParts(Opcode.Text, bytes, [21, 24]);
      await writeApart(client, parts.slice(0, 2));
      assert.equal(client.hasFrame, false, "no answer before the frame is complete");
      await writeApart(client, parts.slice(2));
      const echo = await client.nextFrame(2000);
      assert.equal(echo.opcode, Opcode.Text);
      assert.equal(decoder.decode(echo.payload), text);
    });
  });
}
