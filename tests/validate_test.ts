// validateServeOptions: the same file runs on Deno, Bun and Node, and every message is compared
// whole, so the three runtimes are held to identical errors.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  SERVE_OPTION_KEYS,
  TLS_OPTION_KEYS,
  validateServeOptions,
} from "../src/server/validate.ts";
import { MemoryBackplane } from "../src/pubsub/memory_backplane.ts";
import { DEFAULTS, type ServeOptions } from "../mod.ts";

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url), "utf8");
const cert = fixture("cert.pem");
const key = fixture("key.pem");

/** Asserts that `options` is refused with exactly this class and message. */
function refuses(options: unknown, type: typeof TypeError | typeof RangeError, message: string) {
  assert.throws(() => validateServeOptions(options), (error: unknown) => {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
    assert.equal(error.constructor, type);
    assert.equal((error as Error).message, message);
    // House style: "Cannot <action>: <why>", no trailing period.
    assert.match((error as Error).message, /^Cannot [^:]+: .*[^.]$/s);
    return true;
  });
}

describe("validateServeOptions", () => {
  it("validateServeOptions accepts no options, empty options and undefined values", () => {
    validateServeOptions(undefined);
    validateServeOptions({});
    const undefinedEverywhere = Object.fromEntries(SERVE_OPTION_KEYS.map((k) => [k, undefined]));
    validateServeOptions(undefinedEverywhere);
  });

  it("validateServeOptions accepts every option set to a good value", () => {
    const fn = () => {};
    const options: Required<ServeOptions> = {
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert, key },
      noDelay: false,
      reusePort: true,
      maxFrameSize: 1024,
      maxFragments: Infinity,
      maxMessageSize: 1 << 20,
      maxSendSize: 1 << 20,
      maxHeaderSize: 8192,
      handshakeTimeout: 0.5,
      closeTimeout: 1,
      silenceMax: 0,
      tickPeriod: 0.25,
      onTick: fn,
      maxBufferedAmount: 1 << 20,
      fragmentSize: 4096,
      slowSubscriber: "close",
      publishMark: 65536,
      onDrop: fn,
      backplane: new MemoryBackplane(),
      onRequest: () => new Response("ok"),
      onConnect: fn,
      onShutdown: fn,
      onError: fn,
      onHandshakeError: fn,
      path: "/ws",
      perMessageDeflate: { level: 1 },
      listen: false,
    };
    validateServeOptions(options);
    validateServeOptions({ ...options, listen: () => Promise.resolve({}) });
    validateServeOptions({
      path: "/ws",
      perMessageDeflate: true,
      backplane: {},
      onHandshakeError: fn,
    });
    validateServeOptions({ perMessageDeflate: {} });
    validateServeOptions({ port: 65535, hostname: "::1" });
  });

  it("validateServeOptions knows every option of ServeOptions", () => {
    for (const name of Object.keys(DEFAULTS)) assert.ok(SERVE_OPTION_KEYS.includes(name), name);
    for (
      const name of [
        "tls",
        "onTick",
        "onRequest",
        "onConnect",
        "onShutdown",
        "onError",
        "listen",
        "path",
        "perMessageDeflate",
        "backplane",
        "onHandshakeError",
      ]
    ) assert.ok(SERVE_OPTION_KEYS.includes(name), name);
    assert.equal(new Set(SERVE_OPTION_KEYS).size, SERVE_OPTION_KEYS.length);
    assert.deepEqual(TLS_OPTION_KEYS, ["cert", "key"]);
    assert.ok(Object.isFrozen(SERVE_OPTION_KEYS));
  });

  it("validateServeOptions rejects options that are not an object", () => {
    refuses(null, TypeError, "Cannot serve: expected an options object, got null");
    refuses(8080, TypeError, "Cannot serve: expected an options object, got 8080");
    refuses("x", TypeError, 'Cannot serve: expected an options object, got "x"');
    refuses([], TypeError, "Cannot serve: expected an options object, got an array");
  });

  it("validateServeOptions rejects an unknown key with a suggestion for a typo", () => {
    const unknown = (key: string, suggestion?: string) =>
      refuses(
        { [key]: 1 },
        TypeError,
        `Cannot serve: unknown option "${key}"` +
          (suggestion === undefined ? "" : `; did you mean "${suggestion}"?`),
      );
    unknown("maxMessagesize", "maxMessageSize"); // case only
    unknown("maxMesageSize", "maxMessageSize"); // one deletion
    unknown("maxMessageSizee", "maxMessageSize"); // one insertion
    unknown("maxMessageSzie", "maxMessageSize"); // two letters swapped
    unknown("onconect", "onConnect");
    unknown("hostName", "hostname");
    unknown("prot", "port");
    unknown("tickPeriode", "tickPeriod");
    unknown("silence_max", "silenceMax");
    unknown("max_fragments", "maxFragments");
    unknown("perMessageDeflat", "perMessageDeflate");
    // Too far from every name to be a typo.
    unknown("timeout");
    unknown("compression");
    unknown("x");
    // An unknown key is reported even when another option is also bad.
    refuses(
      { port: "x", maxMessagesize: 1 },
      TypeError,
      'Cannot serve: unknown option "maxMessagesize"; did you mean "maxMessageSize"?',
    );
  });

  it("validateServeOptions rejects a callback that is not a function", () => {
    for (
      const name of [
        "onConnect",
        "onRequest",
        "onShutdown",
        "onError",
        "onTick",
        "onHandshakeError",
      ]
    ) {
      refuses({ [name]: "x" }, TypeError, `Cannot serve: ${name} must be a function, got "x"`);
      refuses({ [name]: null }, TypeError, `Cannot serve: ${name} must be a function, got null`);
      refuses({ [name]: {} }, TypeError, `Cannot serve: ${name} must be a function, got an object`);
    }
    refuses(
      { listen: true },
      TypeError,
      "Cannot serve: listen must be an adapter function or false, got true",
    );
  });

  it("validateServeOptions rejects a bad port, quoting the value as written", () => {
    const message = (value: string) =>
      `Cannot listen: port ${value} is not an integer from 0 to 65535`;
    refuses({ port: "9000" }, TypeError, message('"9000"'));
    refuses({ port: null }, TypeError, message("null"));
    refuses({ port: 9000n }, TypeError, message("9000n"));
    refuses({ port: 65536 }, RangeError, message("65536"));
    refuses({ port: -1 }, RangeError, message("-1"));
    refuses({ port: 80.5 }, RangeError, message("80.5"));
    refuses({ port: NaN }, RangeError, message("NaN"));
    refuses({ port: Infinity }, RangeError, message("Infinity"));
  });

  it("validateServeOptions rejects a hostname that is not a non-empty string", () => {
    refuses({ hostname: 123 }, TypeError, "Cannot listen: hostname 123 is not a string");
    refuses({ hostname: ["::1"] }, TypeError, "Cannot listen: hostname an array is not a string");
    refuses({ hostname: "" }, RangeError, 'Cannot listen: hostname "" is empty');
  });

  it("validateServeOptions says which of tls cert and key is missing, empty or not PEM", () => {
    const tls = (value: unknown, type: typeof TypeError, message: string) =>
      refuses({ tls: value }, type, `Cannot listen with TLS: ${message}`);
    tls("x", TypeError, 'tls must be an object with cert and key, got "x"');
    tls(null, TypeError, "tls must be an object with cert and key, got null");
    tls(true, TypeError, "tls must be an object with cert and key, got true");
    tls({}, TypeError, "tls.cert is missing");
    tls({ cert }, TypeError, "tls.key is missing");
    tls({ key }, TypeError, "tls.cert is missing");
    tls({ cert: "", key }, RangeError, "tls.cert is empty");
    tls({ cert, key: " \n" }, RangeError, "tls.key is empty");
    tls({ cert: 42, key }, TypeError, "tls.cert must be a PEM string, got a number");
    tls({ cert, key: new Uint8Array(4) }, TypeError, "tls.key must be a PEM string, got an object");
    tls(
      { cert: "cert.pem", key },
      RangeError,
      'tls.cert does not look like PEM: no "-----BEGIN CERTIFICATE-----" line',
    );
    tls(
      { cert, key: "key.pem" },
      RangeError,
      'tls.key does not look like PEM: no "-----BEGIN PRIVATE KEY-----" line',
    );
    tls(
      { cert: key, key: cert },
      RangeError,
      "tls.cert holds a private key; are cert and key swapped?",
    );
    tls({ cert, key: cert }, RangeError, "tls.key holds a certificate; are cert and key swapped?");
    tls({ cert, key, ca: cert }, TypeError, 'unknown option "tls.ca"');
    tls({ cert, kye: key }, TypeError, 'unknown option "tls.kye"; did you mean "tls.key"?');
    // Other PEM private key labels are keys too.
    const rsa = key.replace(/(BEGIN|END) PRIVATE KEY/g, "$1 RSA PRIVATE KEY");
    validateServeOptions({ tls: { cert, key: rsa } });
  });

  it("validateServeOptions never shows key material in a message", () => {
    const secret = "-----BEGIN CERTIFICATE-----\nc2VjcmV0\n-----END CERTIFICATE-----\n";
    for (const tls of [{ cert, key: secret }, { cert, key: "c2VjcmV0" }, { cert: key, key }]) {
      assert.throws(() => validateServeOptions({ tls }), (error: Error) => {
        assert.doesNotMatch(error.message, /c2VjcmV0|MII/);
        return true;
      });
    }
  });

  it("validateServeOptions rejects limits that are not positive integers or Infinity", () => {
    for (
      const name of [
        "maxFrameSize",
        "maxFragments",
        "maxMessageSize",
        "maxSendSize",
        "maxBufferedAmount",
        "fragmentSize",
      ]
    ) {
      const message = (got: string) =>
        `Cannot set ${name}: expected a positive integer or Infinity, got ${got}`;
      refuses({ [name]: 0 }, RangeError, message("0"));
      refuses({ [name]: -Infinity }, RangeError, message("-Infinity"));
      refuses({ [name]: 1.5 }, RangeError, message("1.5"));
      refuses({ [name]: 2 ** 53 }, RangeError, message("9007199254740992"));
      refuses({ [name]: "1024" }, TypeError, message('"1024"'));
      validateServeOptions({ [name]: 1 });
      validateServeOptions({ [name]: Infinity });
    }
    refuses(
      { maxHeaderSize: Infinity },
      RangeError,
      "Cannot set maxHeaderSize: expected a positive integer, got Infinity",
    );
  });

  it("validateServeOptions rejects a slowSubscriber policy other than drop or close", () => {
    for (const value of ["block", "", 1]) {
      assert.throws(() => validateServeOptions({ slowSubscriber: value }), {
        name: "RangeError",
        message: `Cannot serve: slowSubscriber must be "drop" or "close", got ${
          typeof value === "string" ? `"${value}"` : value
        }`,
      });
    }
  });

  it("validateServeOptions rejects durations out of range", () => {
    refuses(
      { handshakeTimeout: 0 },
      RangeError,
      "Cannot set handshakeTimeout: expected seconds above 0 to 2000000, got 0",
    );
    refuses(
      { closeTimeout: "5" },
      TypeError,
      'Cannot set closeTimeout: expected seconds above 0 to 2000000, got "5"',
    );
    refuses(
      { silenceMax: -1 },
      RangeError,
      "Cannot set silenceMax: expected seconds from 0 to 2000000, got -1",
    );
    refuses(
      { tickPeriod: 2_000_001 },
      RangeError,
      "Cannot set tickPeriod: expected seconds from 0 to 2000000, got 2000001",
    );
    validateServeOptions({ silenceMax: 0, tickPeriod: 2_000_000, closeTimeout: 0.001 });
  });

  it("validateServeOptions checks the types of the options being added", () => {
    refuses({ noDelay: "yes" }, TypeError, 'Cannot set noDelay: expected true or false, got "yes"');
    refuses({ reusePort: 1 }, TypeError, "Cannot set reusePort: expected true or false, got 1");
    validateServeOptions({ reusePort: true });
    validateServeOptions({ reusePort: false });
    refuses({ path: 1 }, TypeError, "Cannot serve: path must be a string, got 1");
    refuses({ path: "ws" }, RangeError, 'Cannot serve: path "ws" does not start with "/"');
    refuses(
      { perMessageDeflate: "on" },
      TypeError,
      'Cannot set perMessageDeflate: expected true, false or an options object, got "on"',
    );
    refuses({ backplane: null }, TypeError, "Cannot serve: backplane must be an object, got null");
  });

  it("validateServeOptions rejects an unknown key of perMessageDeflate with a suggestion", () => {
    refuses(
      { perMessageDeflate: { threshhold: 0 } },
      TypeError,
      'Cannot serve: unknown option "perMessageDeflate.threshhold"; ' +
        'did you mean "perMessageDeflate.threshold"?',
    );
    refuses(
      { perMessageDeflate: { windowBits: 10 } },
      TypeError,
      'Cannot serve: unknown option "perMessageDeflate.windowBits"',
    );
    validateServeOptions({ perMessageDeflate: { threshold: 0, concurrency: 2 } });
  });

  it("validateServeOptions shortens a long string value", () => {
    refuses(
      { hostname: 1, port: "9".repeat(100) },
      TypeError,
      `Cannot listen: port "${"9".repeat(40)}…" is not an integer from 0 to 65535`,
    );
  });
});
