import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { toRequest } from "../src/handshake/to_request.ts";
import { KEY, rejects, upgrade } from "./helpers/handshake.ts";

describe("toRequest", () => {
  it("toRequest builds a web Request from the Host header", () => {
    const request = toRequest(upgrade({}, "GET /chat?x=1 HTTP/1.1"), { secure: false });
    assert.equal(request.url, "http://server.example.com/chat?x=1");
    assert.equal(request.method, "GET");
    assert.equal(request.headers.get("sec-websocket-key"), KEY);
    assert.equal(request.body, null);
  });

  it("toRequest uses the authority of an absolute-form target", () => {
    const request = toRequest(upgrade({}, "GET http://b.test/x HTTP/1.1"), { secure: true });
    assert.equal(request.url, "https://b.test/x");
  });

  it("toRequest answers a URL it cannot build with 400", () => {
    const request = upgrade();
    const headers = new Headers(request.headers);
    headers.delete("host");
    rejects(() => toRequest({ ...request, headers }, { secure: false }), 400, "MISSING_HOST");
    headers.set("host", "a%zz");
    rejects(() => toRequest({ ...request, headers }, { secure: false }), 400, "INVALID_REQUEST");
  });
});
