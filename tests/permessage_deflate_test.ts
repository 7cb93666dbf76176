import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseExtensionHeader } from "../src/handshake/extension_header.ts";
import {
  negotiatePerMessageDeflate,
  PERMESSAGE_DEFLATE_DEFAULTS,
  type PerMessageDeflateOptions,
  resolvePerMessageDeflateOptions,
} from "../src/handshake/permessage_deflate.ts";

/** Every option at its widest, so that a test sees the offer's own effect. */
const WIDE: PerMessageDeflateOptions = { serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

function response(header: string | string[], options: PerMessageDeflateOptions = WIDE) {
  return negotiatePerMessageDeflate(header, options)?.response;
}

describe("parseExtensionHeader", () => {
  it("parseExtensionHeader reads tokens, values, quoted strings and optional whitespace", () => {
    assert.deepEqual(
      parseExtensionHeader(
        'foo, permessage-deflate ;a; b = 1 ;c="x\\"y" ,, bar;d=e\t, permessage-deflate',
      ),
      [
        { name: "foo", params: [] },
        { name: "permessage-deflate", params: [["a", true], ["b", "1"], ["c", 'x"y']] },
        { name: "bar", params: [["d", "e"]] },
        { name: "permessage-deflate", params: [] },
      ],
    );
  });

  it("parseExtensionHeader keeps an empty quoted value apart from a missing one", () => {
    assert.deepEqual(parseExtensionHeader('x; a=""; b'), [
      { name: "x", params: [["a", ""], ["b", true]] },
    ]);
  });

  it("parseExtensionHeader joins repeated headers in order", () => {
    assert.deepEqual(parseExtensionHeader(["a; x", "b"]), [
      { name: "a", params: [["x", true]] },
      { name: "b", params: [] },
    ]);
    assert.deepEqual(parseExtensionHeader(["", " , "]), []);
  });

  it("parseExtensionHeader rejects every malformed value", () => {
    for (
      const bad of [
        "permessage-deflate;",
        "permessage-deflate; =1",
        "permessage-deflate; a=",
        'permessage-deflate; a="unterminated',
        'permessage-deflate; a="bad\\',
        "permessage-deflate; a=b=c",
        "permessage-deflate a",
        "perméssage-deflate",
        "permessage-deflate; a=\u0001",
        'permessage-deflate; a="\u0000"',
        ";a",
        "a; b; c d",
      ]
    ) {
      assert.equal(parseExtensionHeader(bad), undefined, bad);
      assert.equal(parseExtensionHeader(["permessage-deflate", bad]), undefined, bad);
    }
  });
});

describe("negotiatePerMessageDeflate", () => {
  it("negotiatePerMessageDeflate accepts a bare offer with the widest settings and says nothing more", () => {
    const agreed = negotiatePerMessageDeflate("permessage-deflate", WIDE);
    assert.deepEqual(agreed, {
      response: "permessage-deflate",
      params: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
    });
  });

  it("negotiatePerMessageDeflate answers the browsers' offer with the default windows", () => {
    const agreed = negotiatePerMessageDeflate("permessage-deflate; client_max_window_bits");
    assert.equal(
      agreed?.response,
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    );
    assert.equal(agreed?.params.serverMaxWindowBits, 12);
    assert.equal(agreed?.params.clientMaxWindowBits, 12);
  });

  it("negotiatePerMessageDeflate gives a client that cannot be limited a 15-bit window", () => {
    const agreed = negotiatePerMessageDeflate("permessage-deflate");
    assert.equal(agreed?.response, "permessage-deflate; server_max_window_bits=12");
    assert.equal(agreed?.params.clientMaxWindowBits, 15);
  });

  it("negotiatePerMessageDeflate handles client_max_window_bits with and without a value", () => {
    assert.equal(response("permessage-deflate; client_max_window_bits"), "permessage-deflate");
    assert.equal(
      response("permessage-deflate; client_max_window_bits", {
        clientMaxWindowBits: 10,
        serverMaxWindowBits: 15,
      }),
      "permessage-deflate; client_max_window_bits=10",
    );
    // RFC 7692 §7.1.2.2: with a value the client uses no more; the server may ask for less.
    assert.equal(
      response("permessage-deflate; client_max_window_bits=11"),
      "permessage-deflate; client_max_window_bits=11",
    );
    assert.equal(
      response('permessage-deflate; client_max_window_bits="11"', {
        clientMaxWindowBits: 9,
        serverMaxWindowBits: 15,
      }),
      "permessage-deflate; client_max_window_bits=9",
    );
    assert.equal(
      response("permessage-deflate; client_max_window_bits=15"),
      "permessage-deflate",
    );
  });

  it("negotiatePerMessageDeflate accepts client_max_window_bits=8 and keeps 8 as the client's window", () => {
    const agreed = negotiatePerMessageDeflate("permessage-deflate; client_max_window_bits=8", WIDE);
    assert.equal(agreed?.response, "permessage-deflate; client_max_window_bits=8");
    assert.equal(agreed?.params.clientMaxWindowBits, 8);
    assert.equal(
      response("permessage-deflate; client_max_window_bits", {
        clientMaxWindowBits: 8,
        serverMaxWindowBits: 15,
      }),
      "permessage-deflate; client_max_window_bits=8",
    );
  });

  it("negotiatePerMessageDeflate honours server_max_window_bits", () => {
    assert.equal(
      response("permessage-deflate; server_max_window_bits=10"),
      "permessage-deflate; server_max_window_bits=10",
    );
    assert.equal(
      response("permessage-deflate; server_max_window_bits=15"),
      "permessage-deflate; server_max_window_bits=15",
    );
    // The server's own smaller window wins and is stated.
    assert.equal(
      response("permessage-deflate; server_max_window_bits=13", { serverMaxWindowBits: 11 }),
      "permessage-deflate; server_max_window_bits=11",
    );
    assert.equal(
      negotiatePerMessageDeflate("permessage-deflate; server_max_window_bits=9")?.params
        .serverMaxWindowBits,
      9,
    );
  });

  it("negotiatePerMessageDeflate declines server_max_window_bits=8, which zlib cannot deflate with", () => {
    assert.equal(response("permessage-deflate; server_max_window_bits=8"), undefined);
    assert.equal(
      response("permessage-deflate; server_max_window_bits=8, permessage-deflate"),
      "permessage-deflate",
    );
  });

  it("negotiatePerMessageDeflate agrees to no context takeover asked by either side", () => {
    assert.equal(
      response("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    assert.equal(
      response("permessage-deflate", { ...WIDE, serverNoContextTakeover: true }),
      "permessage-deflate; server_no_context_takeover",
    );
    assert.equal(
      response("permessage-deflate", { ...WIDE, clientNoContextTakeover: true }),
      "permessage-deflate; client_no_context_takeover",
    );
    const agreed = negotiatePerMessageDeflate("permessage-deflate; client_no_context_takeover");
    assert.equal(agreed?.params.clientNoContextTakeover, true);
    assert.equal(agreed?.params.serverNoContextTakeover, false);
  });

  it("negotiatePerMessageDeflate writes every parameter in one fixed order", () => {
    assert.equal(
      response(
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10; " +
          "client_no_context_takeover; server_no_context_takeover",
        { clientMaxWindowBits: 9 },
      ),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10; client_max_window_bits=9",
    );
  });

  it("negotiatePerMessageDeflate declines an offer with an unknown, repeated or malformed parameter", () => {
    for (
      const bad of [
        "permessage-deflate; x",
        "permessage-deflate; Server_No_Context_Takeover",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover=true",
        'permessage-deflate; client_no_context_takeover=""',
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=+9",
        "permessage-deflate; client_max_window_bits=9.0",
        'permessage-deflate; client_max_window_bits="1 0"',
        "permessage-deflate; client_max_window_bits=0x0f",
      ]
    ) {
      assert.equal(response(bad), undefined, bad);
      // The next offer is still considered.
      assert.equal(response(`${bad}, permessage-deflate`), "permessage-deflate", bad);
    }
  });

  it("negotiatePerMessageDeflate takes the first acceptable offer across offers and headers", () => {
    assert.equal(
      response([
        "x-webkit-deflate-frame, permessage-deflate; bogus",
        "permessage-deflate; client_no_context_takeover, permessage-deflate",
      ]),
      "permessage-deflate; client_no_context_takeover",
    );
    assert.equal(response("PERMESSAGE-DEFLATE"), undefined);
    assert.equal(response("deflate-frame, x-foo"), undefined);
    assert.equal(response(""), undefined);
    assert.equal(response([]), undefined);
  });

  it("negotiatePerMessageDeflate declines everything when the header breaks the grammar", () => {
    assert.equal(response("permessage-deflate, permessage-deflate; ="), undefined);
    assert.equal(response(["permessage-deflate", 'foo; a="']), undefined);
  });
});

describe("resolvePerMessageDeflateOptions", () => {
  it("resolvePerMessageDeflateOptions fills in the documented defaults", () => {
    assert.deepEqual(resolvePerMessageDeflateOptions(true), PERMESSAGE_DEFLATE_DEFAULTS);
    assert.deepEqual(resolvePerMessageDeflateOptions({}), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 12,
      level: 6,
      memLevel: 5,
      threshold: 128,
      concurrency: 10,
    });
    assert.equal(resolvePerMessageDeflateOptions({ concurrency: Infinity }).concurrency, Infinity);
  });

  it("resolvePerMessageDeflateOptions rejects every number out of range with a RangeError", () => {
    const bad: PerMessageDeflateOptions[] = [
      { serverMaxWindowBits: 8 },
      { serverMaxWindowBits: 16 },
      { clientMaxWindowBits: 7 },
      { clientMaxWindowBits: 12.5 },
      { level: -1 },
      { level: 10 },
      { memLevel: 0 },
      { memLevel: 10 },
      { threshold: -1 },
      { concurrency: 0 },
      { concurrency: 1.5 },
    ];
    for (const options of bad) {
      assert.throws(
        () => resolvePerMessageDeflateOptions(options),
        (error: unknown) =>
          error instanceof RangeError &&
          /^Cannot set perMessageDeflate\.\w+: expected /.test(error.message),
        JSON.stringify(options),
      );
      assert.throws(() => negotiatePerMessageDeflate("permessage-deflate", options), RangeError);
    }
  });

  it("resolvePerMessageDeflateOptions rejects wrong types and unknown keys with a TypeError", () => {
    const bad: [unknown, string][] = [
      [
        { serverNoContextTakeover: "yes" },
        'perMessageDeflate.serverNoContextTakeover: expected a boolean, got "yes"',
      ],
      [{ level: "1" }, 'perMessageDeflate.level: expected an integer from 0 to 9, got "1"'],
      [{ threshhold: 0 }, 'perMessageDeflate: unknown option "threshhold"'],
      ["on", 'perMessageDeflate: expected true, false or an options object, got "on"'],
      [null, "perMessageDeflate: expected true, false or an options object, got null"],
      [[], "perMessageDeflate: expected true, false or an options object, got an array"],
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => resolvePerMessageDeflateOptions(options as PerMessageDeflateOptions),
        { name: "TypeError", message: `Cannot set ${message}` },
      );
    }
  });

  it("resolvePerMessageDeflateOptions overrides a base, and undefined takes the base's value", () => {
    const base = resolvePerMessageDeflateOptions({ threshold: 1024, level: 1 });
    const resolved = resolvePerMessageDeflateOptions(
      { level: 9, memLevel: undefined } as unknown as PerMessageDeflateOptions,
      base,
    );
    assert.deepEqual(resolved, { ...base, level: 9 });
    assert.deepEqual(resolvePerMessageDeflateOptions(true, base), base);
  });
});
