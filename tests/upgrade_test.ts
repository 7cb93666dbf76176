import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  buildAcceptResponse,
  isUpgradeRequest,
  validateUpgrade,
} from "../src/handshake/upgrade.ts";
import { ACCEPT, KEY, parse, rejects, upgrade } from "./helpers/handshake.ts";

const decoder = new TextDecoder();

describe("isUpgradeRequest", () => {
  it("isUpgradeRequest finds websocket in an Upgrade token list", () => {
    assert.equal(isUpgradeRequest(upgrade()), true);
    assert.equal(isUpgradeRequest(upgrade({ Upgrade: "h2c, WebSocket" })), true);
    assert.equal(isUpgradeRequest(upgrade({ Upgrade: "h2c" })), false);
    assert.equal(isUpgradeRequest(upgrade({ Upgrade: null })), false);
    assert.equal(isUpgradeRequest(parse(["GET / HTTP/1.1", "Host: a"])), false);
  });
});

describe("validateUpgrade", () => {
  it("validateUpgrade accepts the RFC 6455 request", () => {
    const request = upgrade();
    assert.deepEqual(validateUpgrade(request), {
      request,
      key: KEY,
      protocols: ["chat", "superchat"],
      extensions: "",
      origin: "http://example.com",
      host: "server.example.com",
    });
  });

  it("validateUpgrade reads Connection and Upgrade as case-insensitive token lists", () => {
    for (
      const connection of ["keep-alive, Upgrade", "UPGRADE", "upgrade,keep-alive", " ,Upgrade\t"]
    ) {
      assert.equal(validateUpgrade(upgrade({ Connection: connection })).key, KEY, connection);
    }
    assert.equal(validateUpgrade(upgrade({ Upgrade: "WebSocket" })).key, KEY);
    const repeated = upgrade({ Connection: "keep-alive", "connection": "upgrade" });
    assert.equal(validateUpgrade(repeated).key, KEY);
  });

  it("validateUpgrade collects every subprotocol and the extensions", () => {
    const request = upgrade({
      "Sec-WebSocket-Protocol": "a, ,b",
      "sec-websocket-protocol": "c",
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    });
    const result = validateUpgrade(request);
    assert.deepEqual(result.protocols, ["a", "b", "c"]);
    assert.equal(result.extensions, "permessage-deflate; client_max_window_bits");
    assert.deepEqual(validateUpgrade(upgrade({ "Sec-WebSocket-Protocol": null })).protocols, []);
  });

  it("validateUpgrade takes the host of an absolute-form target", () => {
    const request = upgrade({}, "GET http://b.test:81/chat HTTP/1.1");
    assert.equal(validateUpgrade(request).host, "b.test:81");
  });

  it("validateUpgrade answers a method other than GET with 405", () => {
    rejects(
      () => validateUpgrade(upgrade({}, "POST /chat HTTP/1.1")),
      405,
      "METHOD_NOT_ALLOWED",
      { Allow: "GET" },
    );
    rejects(() => validateUpgrade(upgrade({}, "get /chat HTTP/1.1")), 405, "METHOD_NOT_ALLOWED", {
      Allow: "GET",
    });
  });

  it("validateUpgrade rejects a request without Host", () => {
    const request = upgrade();
    const headers = new Headers(request.headers);
    headers.delete("host");
    rejects(() => validateUpgrade({ ...request, headers }), 400, "MISSING_HOST");
  });

  it("validateUpgrade answers a request that is not an upgrade with 426", () => {
    const expected = { Upgrade: "websocket", Connection: "Upgrade" };
    for (const fields of [{ Upgrade: null }, { Upgrade: "h2c" }, { Upgrade: "websocket/13" }]) {
      rejects(() => validateUpgrade(upgrade(fields)), 426, "UPGRADE_REQUIRED", expected);
    }
    for (const value of [null, "keep-alive", "upgrade-insecure"]) {
      const request = upgrade({ Connection: value });
      rejects(() => validateUpgrade(request), 426, "MISSING_CONNECTION_UPGRADE", expected);
    }
  });

  it("validateUpgrade answers a version other than 13 with 426 and the supported version", () => {
    const expected = {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Version": "13",
    };
    for (const version of [null, "8", "13, 13", "130", ""]) {
      const request = upgrade({ "Sec-WebSocket-Version": version });
      rejects(() => validateUpgrade(request), 426, "UNSUPPORTED_VERSION", expected);
    }
  });

  it("validateUpgrade rejects a missing or malformed Sec-WebSocket-Key", () => {
    rejects(
      () => validateUpgrade(upgrade({ "Sec-WebSocket-Key": null })),
      400,
      "MISSING_KEY",
    );
    const keys = [
      "",
      "dGhlIHNhbXBsZSBub25jZQ", // no padding
      "dGhlIHNhbXBsZSBub25jZQ=", // one pad only
      "dGhlIHNhbXBsZSBub25jZR==", // non-zero padding bits
      "dGhlIHNhbXBsZSBub25j*Q==", // outside the alphabet
      "dGhlIHNhbXBsZSBub25jZSE=", // 17 bytes
      "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", // 20 bytes
    ];
    for (const key of keys) {
      rejects(
        () => validateUpgrade(upgrade({ "Sec-WebSocket-Key": key })),
        400,
        "INVALID_KEY",
      );
    }
  });

  it("validateUpgrade rejects a repeated Sec-WebSocket-Key", () => {
    const request = upgrade({ "Sec-WebSocket-Key": KEY, "sec-websocket-key": KEY });
    const error = rejects(() => validateUpgrade(request), 400, "DUPLICATE_KEY");
    assert.match(error.message, /more than one value/);
  });

  it("validateUpgrade rejects invalid or repeated subprotocols", () => {
    for (const protocols of ["a b", "chat/1.0(x)", "a, b c"]) {
      const request = upgrade({ "Sec-WebSocket-Protocol": protocols });
      rejects(() => validateUpgrade(request), 400, "INVALID_PROTOCOL");
    }
    for (const protocols of ["a, a", "a, b, a"]) {
      const request = upgrade({ "Sec-WebSocket-Protocol": protocols });
      rejects(() => validateUpgrade(request), 400, "DUPLICATE_PROTOCOL");
    }
    const repeated = upgrade({ "Sec-WebSocket-Protocol": "a", "sec-websocket-protocol": "a" });
    rejects(() => validateUpgrade(repeated), 400, "DUPLICATE_PROTOCOL");
  });

  it("validateUpgrade rejects a request with a body", () => {
    for (const fields of [{ "Content-Length": "5" }, { "Transfer-Encoding": "chunked" }]) {
      rejects(() => validateUpgrade(upgrade(fields)), 400, "UNEXPECTED_BODY");
    }
    assert.equal(validateUpgrade(upgrade({ "Content-Length": "0" })).key, KEY);
  });
});

describe("buildAcceptResponse", () => {
  it("buildAcceptResponse answers the RFC 6455 example", () => {
    assert.equal(
      decoder.decode(buildAcceptResponse(KEY)),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
    );
  });

  it("buildAcceptResponse adds the protocol and extra headers, repeating Set-Cookie", () => {
    const headers = new Headers({ "Sec-WebSocket-Extensions": "permessage-deflate" });
    headers.append("Set-Cookie", "a=1; Path=/");
    headers.append("Set-Cookie", "b=2, c");
    const text = decoder.decode(buildAcceptResponse(KEY, { protocol: "chat", headers }));
    assert.equal(
      text,
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n` +
        "sec-websocket-extensions: permessage-deflate\r\nset-cookie: a=1; Path=/\r\n" +
        "set-cookie: b=2, c\r\n\r\n",
    );
  });

  it("buildAcceptResponse falls back to one Set-Cookie line without getSetCookie", () => {
    const headers = new Headers([["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]]);
    Object.defineProperty(headers, "getSetCookie", { value: undefined });
    const text = decoder.decode(buildAcceptResponse(KEY, { headers }));
    assert.ok(text.endsWith("\r\nset-cookie: a=1, b=2\r\n\r\n"), text);
  });

  it("buildAcceptResponse takes headers as pairs or a record", () => {
    const pairs = buildAcceptResponse(KEY, { headers: [["X-A", "1"], ["X-A", " 2 "]] });
    assert.ok(decoder.decode(pairs).endsWith("X-A: 1\r\nX-A: 2\r\n\r\n"));
    const record = buildAcceptResponse(KEY, { headers: { "X-B": "3" } });
    assert.ok(decoder.decode(record).endsWith("X-B: 3\r\n\r\n"));
  });

  it("buildAcceptResponse rejects header injection", () => {
    const cases: HeadersInit[] = [
      [["X", "a\r\nSet-Cookie: evil"]],
      [["X", "a\nb"]],
      { "X\r\nY": "a" },
      { "X Y": "a" },
      { "": "a" },
      { X: "\0" },
      { X: "caf\u00e9" },
    ];
    for (const headers of cases) {
      assert.throws(() => buildAcceptResponse(KEY, { headers }), {
        name: "TypeError",
        message: /^Cannot build response: invalid header/,
      });
    }
    assert.throws(() => buildAcceptResponse(KEY, { protocol: "a\r\nb" }), TypeError);
  });

  it("buildAcceptResponse refuses headers the handshake sets", () => {
    for (const name of ["Connection", "upgrade", "Sec-WebSocket-Accept", "Content-Length"]) {
      assert.throws(() => buildAcceptResponse(KEY, { headers: { [name]: "x" } }), TypeError);
    }
  });
});
