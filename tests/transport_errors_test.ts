// Failures of the socket itself are not failures of application code: on every adapter, a TLS
// client that aborts its handshake, a plain client on the TLS port, and peers that leave in the
// middle of the opening handshake only close their connection. Nothing reaches onError, and the
// server keeps serving.

import { describe } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { loadAdapters, start, test, waitFor, within } from "./helpers/server.ts";
import { CA, TLS } from "./helpers/sockets.ts";
import { TlsRawClient } from "./helpers/server.ts";

const adapters = await loadAdapters();

for (const { name, listen } of adapters) {
  describe(`${name} adapter: transport failures`, () => {
    test("a failed TLS handshake or a half-sent request head reaches no onError", async (scope) => {
      const { port, log } = await start(scope, listen, { tls: TLS });
      // A client that trusts no CA: it rejects the certificate and sends an alert.
      const untrusting = tlsConnect({ host: "127.0.0.1", port });
      scope.defer(() => untrusting.destroy());
      await within(new Promise((resolve) => untrusting.once("error", resolve)), 3000, "reject");
      // A plain client on the TLS port.
      const plain = netConnect({ host: "127.0.0.1", port });
      plain.on("error", () => {});
      scope.defer(() => plain.destroy());
      plain.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      plain.resume();
      await within(new Promise((resolve) => plain.once("close", resolve)), 3000, "close plain");
      // A TLS client that sends half a request head, then leaves without close_notify.
      const leaving = tlsConnect({ host: "127.0.0.1", port, ca: CA, servername: "localhost" });
      leaving.on("error", () => {});
      scope.defer(() => leaving.destroy());
      await within(new Promise((resolve) => leaving.once("secureConnect", resolve)), 3000, "tls");
      leaving.write("GET / HTTP/1.1\r\nHost: 127.");
      await new Promise((resolve) => setTimeout(resolve, 50));
      leaving.destroy();
      await waitFor(() => log.connects.every((conn) => conn.state === "closed"), "all to close");
      // The server still serves, and nothing was reported as an error of the application.
      const client = await TlsRawClient.open(port, CA);
      scope.defer(() => client.destroy());
      assert.equal((await client.response()).status, 101);
      assert.deepEqual(log.errors, []);
    });

    test("a peer that resets during the opening handshake reaches no onError", async (scope) => {
      const { port, log } = await start(scope, listen);
      const socket = netConnect({ host: "127.0.0.1", port });
      socket.on("error", () => {});
      scope.defer(() => socket.destroy());
      await within(new Promise((resolve) => socket.once("connect", resolve)), 3000, "connect");
      socket.write("GET / HTTP/1.1\r\nHost: 127.");
      await waitFor(() => log.connects.length === 1, "the connection");
      const reset = socket as unknown as { resetAndDestroy?: () => void };
      if (typeof reset.resetAndDestroy === "function") reset.resetAndDestroy();
      else socket.destroy();
      await waitFor(() => log.connects[0]!.state === "closed", "the connection to close");
      assert.deepEqual(log.errors, []);
    });
  });
}
