// Negotiation and data against ws's own permessage-deflate in the client role: ws makes the
// offer, netws answers it, ws accepts (or rejects) the answer, and messages then flow both ways
// with the parameters each side believes were agreed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { zlibCompression } from "../src/adapters/zlib/mod.ts";
import {
  negotiatePerMessageDeflate,
  type PerMessageDeflateOptions,
} from "../src/handshake/permessage_deflate.ts";
import { concat } from "./helpers/bytes.ts";
import { Random } from "./helpers/random.ts";

type Callback = (error: Error | null, data: Uint8Array) => void;
interface WsEndpoint {
  params: Record<string, unknown> | null;
  offer(): Record<string, unknown>;
  accept(configurations: unknown[]): Record<string, unknown>;
  compress(data: Uint8Array, fin: boolean, callback: Callback): void;
  decompress(data: Uint8Array, fin: boolean, callback: Callback): void;
  cleanup(): void;
}
interface WsExtension {
  format(extensions: Record<string, unknown[]>): string;
  parse(header: string): Record<string, unknown[] | undefined>;
}

const require = createRequire(import.meta.url);
const wsLib = join(dirname(require.resolve("ws/package.json")), "lib");
const WsDeflate = require(join(wsLib, "permessage-deflate.js")) as new (
  options: Record<string, unknown>,
) => WsEndpoint;
const extension = require(join(wsLib, "extension.js")) as WsExtension;

function call(endpoint: WsEndpoint, method: "compress" | "decompress", data: Uint8Array) {
  return new Promise<Uint8Array>((resolve, reject) =>
    endpoint[method](data, true, (error, out) => (error ? reject(error) : resolve(out)))
  );
}

const CLIENTS: Record<string, Record<string, unknown>> = {
  "default": {},
  "server_no_context_takeover": { serverNoContextTakeover: true },
  "client_no_context_takeover": { clientNoContextTakeover: true },
  "server_max_window_bits=10": { serverMaxWindowBits: 10 },
  "client_max_window_bits=9": { clientMaxWindowBits: 9 },
  "no client_max_window_bits": { clientMaxWindowBits: false },
};
const SERVERS: Record<string, PerMessageDeflateOptions> = {
  "defaults": {},
  "widest": { serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
  "no context takeover": { serverNoContextTakeover: true, clientNoContextTakeover: true },
  "small windows": { serverMaxWindowBits: 9, clientMaxWindowBits: 8 },
};

describe("negotiatePerMessageDeflate with ws as the client", () => {
  for (const [clientName, clientOptions] of Object.entries(CLIENTS)) {
    for (const [serverName, serverOptions] of Object.entries(SERVERS)) {
      it(`negotiatePerMessageDeflate agrees with a ws client (${clientName}; server ${serverName})`, async () => {
        const client = new WsDeflate({ ...clientOptions, isServer: false });
        const offer = extension.format({ "permessage-deflate": [client.offer()] });
        const agreed = negotiatePerMessageDeflate(offer, serverOptions);
        assert.ok(agreed, `accepted ${offer}`);
        // ws checks the answer as a client must (RFC 7692 §7.1) and throws if it may not accept.
        const answer = extension.parse(agreed.response)["permessage-deflate"];
        assert.ok(answer);
        const accepted = client.accept(answer);
        assert.equal(
          accepted.server_no_context_takeover === true,
          agreed.params.serverNoContextTakeover,
        );
        assert.equal(
          accepted.client_no_context_takeover === true,
          agreed.params.clientNoContextTakeover,
        );

        const factory = zlibCompression();
        const { params } = agreed;
        const compressor = factory.createCompressor({
          windowBits: params.serverMaxWindowBits,
          memLevel: 5,
          level: 6,
          noContextTakeover: params.serverNoContextTakeover,
        });
        const decompressor = factory.createDecompressor({
          windowBits: params.clientMaxWindowBits,
          noContextTakeover: params.clientNoContextTakeover,
        });
        const random = new Random(offer.length * 31 + agreed.response.length);
        for (let i = 0; i < 20; i++) {
          const repeated = random.bytes(random.int(1, 200));
          const message = concat(Array.from({ length: random.int(1, 40) }, () => repeated));
          const down = await call(client, "decompress", await compressor.compress(message));
          assert.deepEqual(new Uint8Array(down), message, `server to client, message ${i}`);
          const up = await decompressor.decompress(
            [await call(client, "compress", message)],
            1 << 20,
          );
          assert.deepEqual(concat(up), message, `client to server, message ${i}`);
        }
        client.cleanup();
        compressor.close();
        decompressor.close();
      });
    }
  }

  it("negotiatePerMessageDeflate declines a ws client that asks for server_max_window_bits=8", () => {
    const client = new WsDeflate({ serverMaxWindowBits: 8, isServer: false });
    const offer = extension.format({ "permessage-deflate": [client.offer()] });
    assert.equal(negotiatePerMessageDeflate(offer), undefined);
    client.cleanup();
  });
});
