import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { acceptKey } from "../src/handshake/accept_key.ts";
import { ACCEPT, KEY } from "./helpers/handshake.ts";

describe("acceptKey", () => {
  it("acceptKey answers the RFC 6455 example key", () => {
    assert.equal(acceptKey(KEY), ACCEPT);
  });

  it("acceptKey hashes a non-ASCII key as UTF-8", () => {
    assert.equal(acceptKey("é"), "Q3nA4bowCsT/eKmBZYzoeYI576k=");
  });
});
