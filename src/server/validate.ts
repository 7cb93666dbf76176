/**
 * One check of the options of `serve()`, run before anything listens, so that a bad option gives
 * the same error on every runtime: unknown keys (with a suggestion), callbacks that are not
 * functions, TLS settings without a usable certificate or key, and values of the wrong type or
 * range.
 *
 * @module
 */

import { PERMESSAGE_DEFLATE_OPTION_KEYS } from "../handshake/mod.ts";
import type { ServeOptions } from "./server.ts";

/** Checks one option's value; only called for values other than `undefined`. */
type Check = (name: string, value: unknown) => void;

/** The largest number of seconds a timer takes: `setTimeout` stops at 2^31 - 1 ms. */
const MAX_SECONDS = 2_000_000;

const callback: Check = (name, value) => {
  if (typeof value !== "function") {
    throw new TypeError(`Cannot serve: ${name} must be a function, got ${describe(value)}`);
  }
};

const boolean: Check = (name, value) => {
  if (typeof value !== "boolean") {
    throw new TypeError(`Cannot set ${name}: expected true or false, got ${describe(value)}`);
  }
};

/** A size or count: a positive integer or `Infinity`. */
const limit: Check = (name, value) => {
  if (value === Infinity || (Number.isSafeInteger(value) && (value as number) > 0)) return;
  const message = `Cannot set ${name}: expected a positive integer or Infinity, got ${
    describe(value)
  }`;
  throw typeof value === "number" ? new RangeError(message) : new TypeError(message);
};

const positiveInteger: Check = (name, value) => {
  if (Number.isSafeInteger(value) && (value as number) > 0) return;
  const message = `Cannot set ${name}: expected a positive integer, got ${describe(value)}`;
  throw typeof value === "number" ? new RangeError(message) : new TypeError(message);
};

/** A duration in seconds; `zero` allows 0, which turns the feature off. */
function seconds(zero: boolean): Check {
  return (name, value) => {
    if (
      typeof value === "number" && (value > 0 || (zero && value === 0)) && value <= MAX_SECONDS
    ) return;
    const message = `Cannot set ${name}: expected seconds ${zero ? "from 0" : "above 0"} ` +
      `to ${MAX_SECONDS}, got ${describe(value)}`;
    throw typeof value === "number" ? new RangeError(message) : new TypeError(message);
  };
}

const port: Check = (_name, value) => {
  if (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535) return;
  const message = `Cannot listen: port ${describe(value)} is not an integer from 0 to 65535`;
  throw typeof value === "number" ? new RangeError(message) : new TypeError(message);
};

const hostname: Check = (_name, value) => {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot listen: hostname ${describe(value)} is not a string`);
  }
  if (value === "") throw new RangeError(`Cannot listen: hostname "" is empty`);
};

const listen: Check = (_name, value) => {
  if (typeof value !== "function" && value !== false) {
    throw new TypeError(
      `Cannot serve: listen must be an adapter function or false, got ${describe(value)}`,
    );
  }
};

const object: Check = (name, value) => {
  if (!isObject(value)) {
    throw new TypeError(`Cannot serve: ${name} must be an object, got ${describe(value)}`);
  }
};

const path: Check = (_name, value) => {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot serve: path must be a string, got ${describe(value)}`);
  }
  if (!value.startsWith("/")) {
    throw new RangeError(`Cannot serve: path ${describe(value)} does not start with "/"`);
  }
};

/** `perMessageDeflate`: a boolean, or an object of known keys (their values: `settingsOf`). */
const booleanOrObject: Check = (name, value) => {
  if (typeof value === "boolean") return;
  if (!isObject(value)) {
    throw new TypeError(
      `Cannot set ${name}: expected true, false or an options object, got ${describe(value)}`,
    );
  }
  rejectUnknown(value, PERMESSAGE_DEFLATE_OPTION_KEYS, `${name}.`);
};

/** The keys of `tls`. */
export const TLS_OPTION_KEYS: readonly string[] = Object.freeze(["cert", "key"]);

const CERTIFICATE = /-----BEGIN (TRUSTED )?CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN ([A-Z0-9]+ )?PRIVATE KEY-----/;

/** Checks `tls`: an object whose `cert` and `key` are PEM text. Key material is never quoted. */
const tls: Check = (_name, value) => {
  if (!isObject(value)) {
    throw new TypeError(
      `Cannot listen with TLS: tls must be an object with cert and key, got ${describe(value)}`,
    );
  }
  rejectUnknown(value, TLS_OPTION_KEYS, "tls.");
  const settings = value as Record<string, unknown>;
  for (
    const [field, label, pattern] of [
      ["cert", "CERTIFICATE", CERTIFICATE],
      ["key", "PRIVATE KEY", PRIVATE_KEY],
    ] as const
  ) {
    const pem = settings[field];
    const name = `tls.${field}`;
    if (pem === undefined) throw new TypeError(`Cannot listen with TLS: ${name} is missing`);
    if (typeof pem !== "string") {
      throw new TypeError(
        `Cannot listen with TLS: ${name} must be a PEM string, got ${describeType(pem)}`,
      );
    }
    if (pem.trim() === "") throw new RangeError(`Cannot listen with TLS: ${name} is empty`);
    if (pattern.test(pem)) continue;
    const other = field === "cert" ? PRIVATE_KEY : CERTIFICATE;
    if (other.test(pem)) {
      const holds = field === "cert" ? "a private key" : "a certificate";
      throw new RangeError(
        `Cannot listen with TLS: ${name} holds ${holds}; are cert and key swapped?`,
      );
    }
    throw new RangeError(
      `Cannot listen with TLS: ${name} does not look like PEM: no "-----BEGIN ${label}-----" line`,
    );
  }
};

/**
 * Every option of `serve()` and its check. Typed against {@linkcode ServeOptions} so that an option
 * added there without a check here fails to type-check.
 */
const CHECKS: { readonly [K in keyof ServeOptions]-?: Check } = {
  port,
  hostname,
  tls,
  noDelay: boolean,
  reusePort: boolean,
  maxFrameSize: limit,
  maxFragments: limit,
  maxMessageSize: limit,
  maxSendSize: limit,
  maxHeaderSize: positiveInteger,
  handshakeTimeout: seconds(false),
  closeTimeout: seconds(false),
  silenceMax: seconds(true),
  tickPeriod: seconds(true),
  onTick: callback,
  maxBufferedAmount: limit,
  fragmentSize: limit,
  slowSubscriber: (name, value) => {
    if (value !== "drop" && value !== "close") {
      throw new RangeError(
        `Cannot serve: ${name} must be "drop" or "close", got ${describe(value)}`,
      );
    }
  },
  publishMark: limit,
  onDrop: callback,
  onRequest: callback,
  onConnect: callback,
  onShutdown: callback,
  onError: callback,
  listen,
  path,
  perMessageDeflate: booleanOrObject,
  backplane: object,
  onHandshakeError: callback,
};

/**
 * The name of every option `serve()` accepts, in the order they are checked.
 *
 * @example List the options
 * ```ts
 * import { SERVE_OPTION_KEYS } from "./validate.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(SERVE_OPTION_KEYS.includes("maxMessageSize"));
 * ```
 */
export const SERVE_OPTION_KEYS: readonly string[] = Object.freeze(Object.keys(CHECKS));

/**
 * Throws a `TypeError` (wrong type, unknown key) or `RangeError` (a value out of range) for the
 * first bad option of `serve()`; returns for good ones. `undefined` stands for "the default"
 * everywhere. Messages read `Cannot <action>: <why>`, with the offending value quoted as a
 * JavaScript literal (`"9000"` for a string, `9000` for a number); key material is never shown.
 *
 * @example Catch a typo
 * ```ts
 * import { validateServeOptions } from "./validate.ts";
 * import assert from "node:assert/strict";
 *
 * validateServeOptions({ port: 0, maxMessageSize: 1 << 20 });
 * assert.throws(() => validateServeOptions({ maxMessagesize: 1024 }), {
 *   name: "TypeError",
 *   message: 'Cannot serve: unknown option "maxMessagesize"; did you mean "maxMessageSize"?',
 * });
 * ```
 */
export function validateServeOptions(options: unknown): void {
  if (options === undefined) return;
  if (!isObject(options)) {
    throw new TypeError(`Cannot serve: expected an options object, got ${describe(options)}`);
  }
  rejectUnknown(options, SERVE_OPTION_KEYS, "");
  const values = options as Record<string, unknown>;
  for (const [name, check] of Object.entries(CHECKS) as [string, Check][]) {
    const value = values[name];
    if (value !== undefined) check(name, value);
  }
}

function rejectUnknown(value: object, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const suggestion = closest(key, known);
    const hint = suggestion === undefined ? "" : `; did you mean "${prefix}${suggestion}"?`;
    const action = prefix === "tls." ? "listen with TLS" : "serve";
    throw new TypeError(`Cannot ${action}: unknown option "${prefix}${key}"${hint}`);
  }
}

/**
 * The known name nearest to `name`, ignoring case, if it is near enough to be a typo: at most
 * one edit per four characters (at least one, at most three).
 */
function closest(name: string, known: readonly string[]): string | undefined {
  const wanted = name.toLowerCase();
  const allowed = Math.min(3, Math.max(1, Math.floor(wanted.length / 4)));
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  // Optimal string alignment over three rows of the dynamic-programming table.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, before[j - 2]! + 1);
      }
      current.push(value);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value` as a JavaScript literal, short: strings quoted, objects and functions by kind. */
function describe(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "bigint":
      return `${value}n`;
    default:
      return describeType(value);
  }
}

/** The kind of `value`, without its contents: for values that may be secrets. */
function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "function") return "a function";
  if (typeof value === "string") return "a string";
  return `a ${typeof value}`;
}
