/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1), sans-I/O: the client's offers and the
 * server's options in, the agreed parameters and the exact response header out.
 *
 * @module
 */

import { type ExtensionParam, parseExtensionHeader } from "./extension_header.ts";

/**
 * The extension token of RFC 7692 §7.
 *
 * @example Offer the extension by name
 * ```ts
 * import { PERMESSAGE_DEFLATE } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(`${PERMESSAGE_DEFLATE}; client_max_window_bits`.split(";")[0], "permessage-deflate");
 * ```
 */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/**
 * How a server offers permessage-deflate. The defaults come from measuring a stream of ~190-byte
 * chat messages in JSON (`bench/deflate_codec.ts`): a 12-bit window with memLevel 5 sends 16.7%
 * of the bytes (15 bits and memLevel 8: 15.2%) for about half the memory, and level 6 was no
 * slower than level 1 at that size. Below 128 bytes a message saves under ~100 bytes, not worth
 * a zlib round trip.
 */
export interface PerMessageDeflateOptions {
  /**
   * Start every outgoing message with an empty window (RFC 7692 §7.1.1.1): worse compression,
   * but no deflater is kept between messages and one compressed message can go to many
   * connections.
   *
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Ask the client to start every message with an empty window (RFC 7692 §7.1.1.2), so that no
   * inflater state is kept between its messages.
   *
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * The window of the server's deflater, 9 to 15 bits; a client asking for less gets less.
   * zlib cannot deflate with an 8-bit window, so a client that asks for 8 is declined.
   *
   * @default {12}
   */
  serverMaxWindowBits?: number;
  /**
   * The largest window the client may use, 8 to 15 bits, asked for when the client offers
   * `client_max_window_bits` (RFC 7692 §7.1.2.2). A client that does not offer it is accepted
   * with a 15-bit window, which is what it may then use.
   *
   * @default {12}
   */
  clientMaxWindowBits?: number;
  /**
   * The zlib compression level, 0 to 9.
   *
   * @default {6}
   */
  level?: number;
  /**
   * The zlib memLevel of the deflater, 1 to 9: memory for the match finder.
   *
   * @default {5}
   */
  memLevel?: number;
  /**
   * Messages shorter than this many bytes are sent uncompressed (RFC 7692 §6: a message may be
   * sent either way).
   *
   * @default {128}
   */
  threshold?: number;
  /**
   * The most zlib operations in flight at once for one server, so that many connections cannot
   * take every thread of the runtime's pool. Small messages compressed or inflated by one
   * synchronous call (Node and Bun) never wait for it.
   *
   * @default {10}
   */
  concurrency?: number;
}

/** {@linkcode PerMessageDeflateOptions} with every default filled in and checked. */
export type PerMessageDeflateSettings = Readonly<Required<PerMessageDeflateOptions>>;

/**
 * The default settings of permessage-deflate.
 *
 * @example Read a default
 * ```ts
 * import { PERMESSAGE_DEFLATE_DEFAULTS } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(PERMESSAGE_DEFLATE_DEFAULTS.threshold, 128);
 * ```
 */
export const PERMESSAGE_DEFLATE_DEFAULTS: PerMessageDeflateSettings = Object.freeze({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 12,
  clientMaxWindowBits: 12,
  level: 6,
  memLevel: 5,
  threshold: 128,
  concurrency: 10,
});

/**
 * The name of every key of {@linkcode PerMessageDeflateOptions}.
 *
 * @example Check a key
 * ```ts
 * import { PERMESSAGE_DEFLATE_OPTION_KEYS } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.ok(PERMESSAGE_DEFLATE_OPTION_KEYS.includes("threshold"));
 * ```
 */
export const PERMESSAGE_DEFLATE_OPTION_KEYS: readonly (keyof PerMessageDeflateOptions)[] = Object
  .freeze(Object.keys(PERMESSAGE_DEFLATE_DEFAULTS) as (keyof PerMessageDeflateOptions)[]);

/**
 * Fills in the defaults and checks every option: a `TypeError` for an unknown key or a value of
 * the wrong type, a `RangeError` for a number out of range. The options given override `base`
 * (the defaults unless said otherwise); a key set to `undefined` takes its default.
 *
 * @example Resolve the options of a server
 * ```ts
 * import { resolvePerMessageDeflateOptions } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * assert.equal(resolvePerMessageDeflateOptions({ level: 1 }).serverMaxWindowBits, 12);
 * assert.throws(() => resolvePerMessageDeflateOptions({ serverMaxWindowBits: 8 }), RangeError);
 * const server = resolvePerMessageDeflateOptions({ threshold: 1024 });
 * assert.equal(resolvePerMessageDeflateOptions({ level: 1 }, server).threshold, 1024);
 * ```
 */
export function resolvePerMessageDeflateOptions(
  options: true | PerMessageDeflateOptions = {},
  base: PerMessageDeflateSettings = PERMESSAGE_DEFLATE_DEFAULTS,
): PerMessageDeflateSettings {
  if (
    options !== true && (typeof options !== "object" || options === null || Array.isArray(options))
  ) {
    throw new TypeError(
      `Cannot set perMessageDeflate: expected true, false or an options object, got ${
        quote(options)
      }`,
    );
  }
  const given = options === true ? {} : options;
  for (const key of Object.keys(given)) {
    if (!(PERMESSAGE_DEFLATE_OPTION_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`Cannot set perMessageDeflate: unknown option ${quote(key)}`);
    }
  }
  const concurrency = given.concurrency ?? base.concurrency;
  if (concurrency !== Infinity && !(Number.isSafeInteger(concurrency) && concurrency > 0)) {
    throw optionError("concurrency", concurrency, "a positive integer or Infinity");
  }
  return Object.freeze({
    serverNoContextTakeover: flag("serverNoContextTakeover", given.serverNoContextTakeover, base),
    clientNoContextTakeover: flag("clientNoContextTakeover", given.clientNoContextTakeover, base),
    serverMaxWindowBits: int("serverMaxWindowBits", given.serverMaxWindowBits, base, 9, 15),
    clientMaxWindowBits: int("clientMaxWindowBits", given.clientMaxWindowBits, base, 8, 15),
    level: int("level", given.level, base, 0, 9),
    memLevel: int("memLevel", given.memLevel, base, 1, 9),
    threshold: int("threshold", given.threshold, base, 0, Number.MAX_SAFE_INTEGER),
    concurrency,
  });
}

/** What both sides agreed to for one connection. */
export interface PerMessageDeflateParams {
  /** The server resets its deflater after every message. */
  readonly serverNoContextTakeover: boolean;
  /** The client resets its deflater after every message, so the server may reset its inflater. */
  readonly clientNoContextTakeover: boolean;
  /** The window of the server's deflater, 9 to 15 bits. */
  readonly serverMaxWindowBits: number;
  /**
   * The largest window the client may compress with, 8 to 15 bits. An inflater needs at least
   * that window; zlib's smallest raw window is 9 bits, which reads 8-bit data too.
   */
  readonly clientMaxWindowBits: number;
}

/** An accepted offer: the `Sec-WebSocket-Extensions` value to answer with and what it means. */
export interface PerMessageDeflateAgreement {
  /** The response header value, such as `permessage-deflate; client_max_window_bits=12`. */
  readonly response: string;
  /** The parameters that govern both sides. */
  readonly params: PerMessageDeflateParams;
}

/**
 * Picks the first acceptable permessage-deflate offer among the request's
 * `Sec-WebSocket-Extensions` values (RFC 7692 §5) and says how to answer it, or returns
 * `undefined` to decline the extension. An offer with an unknown, repeated or malformed
 * parameter is declined (RFC 7692 §7.1), and so is one the server cannot honour; a later offer
 * may still be accepted. Other extensions are ignored.
 *
 * @example Accept Chromium's offer
 * ```ts
 * import { negotiatePerMessageDeflate } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const agreed = negotiatePerMessageDeflate(["permessage-deflate; client_max_window_bits"]);
 * assert.equal(
 *   agreed?.response,
 *   "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
 * );
 * assert.equal(negotiatePerMessageDeflate(["permessage-deflate; x=1"]), undefined);
 * ```
 */
export function negotiatePerMessageDeflate(
  headerValues: string | readonly string[],
  options: true | PerMessageDeflateOptions = {},
): PerMessageDeflateAgreement | undefined {
  const offers = parseExtensionHeader(headerValues);
  if (offers === undefined) return undefined;
  const settings = resolvePerMessageDeflateOptions(options);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const request = readOffer(offer.params);
    if (request === undefined) continue;
    const agreement = accept(request, settings);
    if (agreement !== undefined) return agreement;
  }
  return undefined;
}

/** An offer's parameters, checked. */
interface Offer {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: offered without a value; the client supports being limited. */
  clientMaxWindowBits: number | true | undefined;
}

// RFC 7692 §7.1: each parameter at most once, with a valid value, or the offer is declined.
function readOffer(params: readonly ExtensionParam[]): Offer | undefined {
  const offer: Offer = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return undefined;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover": // §7.1.1.1: no value
        if (value !== true) return undefined;
        offer.serverNoContextTakeover = true;
        break;
      case "client_no_context_takeover": // §7.1.1.2: no value
        if (value !== true) return undefined;
        offer.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": { // §7.1.2.1: a value is required
        const bits = windowBits(value);
        if (bits === undefined) return undefined;
        offer.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": { // §7.1.2.2: the value is optional
        const bits = value === true ? true : windowBits(value);
        if (bits === undefined) return undefined;
        offer.clientMaxWindowBits = bits;
        break;
      }
      default:
        return undefined;
    }
  }
  return offer;
}

// RFC 7692 §7.1.2.1: a decimal integer from 8 to 15 without leading zeros (after unquoting).
function windowBits(value: string | true): number | undefined {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

function accept(
  offer: Offer,
  settings: PerMessageDeflateSettings,
): PerMessageDeflateAgreement | undefined {
  // §7.1.2.1: the server must use the offered window or less. zlib turns a raw 8-bit deflate
  // window into 9 bits, whose back-references an 8-bit inflater rejects: decline the offer.
  if (offer.serverMaxWindowBits === 8) return undefined;
  const serverMaxWindowBits = Math.min(
    offer.serverMaxWindowBits ?? 15,
    settings.serverMaxWindowBits,
  );
  // §7.1.2.2: without the parameter the client may use 15 bits; with a value it uses no more.
  const clientMaxWindowBits = offer.clientMaxWindowBits === undefined ? 15 : Math.min(
    offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits,
    settings.clientMaxWindowBits,
  );
  const params: PerMessageDeflateParams = {
    // §7.1.1.1 and §7.1.1.2: the server may add either even if the offer lacks it.
    serverNoContextTakeover: offer.serverNoContextTakeover || settings.serverNoContextTakeover,
    clientNoContextTakeover: offer.clientNoContextTakeover || settings.clientNoContextTakeover,
    serverMaxWindowBits,
    clientMaxWindowBits,
  };
  let response = PERMESSAGE_DEFLATE;
  if (params.serverNoContextTakeover) response += "; server_no_context_takeover";
  if (params.clientNoContextTakeover) response += "; client_no_context_takeover";
  // §7.1.2.1: an offered window must be answered; a smaller one of the server's own is stated
  // too, so the client can size its inflater.
  if (offer.serverMaxWindowBits !== undefined || serverMaxWindowBits < 15) {
    response += `; server_max_window_bits=${serverMaxWindowBits}`;
  }
  // §7.1.2.2: only a client that offered the parameter may be sent it.
  if (offer.clientMaxWindowBits !== undefined && clientMaxWindowBits < 15) {
    response += `; client_max_window_bits=${clientMaxWindowBits}`;
  }
  return { response, params };
}

function flag(
  name: "serverNoContextTakeover" | "clientNoContextTakeover",
  value: boolean | undefined,
  base: PerMessageDeflateSettings,
): boolean {
  if (value === undefined) return base[name];
  if (typeof value !== "boolean") throw optionError(name, value, "a boolean");
  return value;
}

function int(
  name: "serverMaxWindowBits" | "clientMaxWindowBits" | "level" | "memLevel" | "threshold",
  value: number | undefined,
  base: PerMessageDeflateSettings,
  min: number,
  max: number,
): number {
  if (value === undefined) return base[name];
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw optionError(
      name,
      value,
      max === Number.MAX_SAFE_INTEGER
        ? `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`,
    );
  }
  return value;
}

/** A `RangeError` for a number out of range, a `TypeError` for a value of another type. */
function optionError(name: string, value: unknown, expected: string): Error {
  const message = `Cannot set perMessageDeflate.${name}: expected ${expected}, got ${quote(value)}`;
  return typeof value === "number" ? new RangeError(message) : new TypeError(message);
}

function quote(value: unknown): string {
  if (typeof value === "object" && value !== null) {
    return Array.isArray(value) ? "an array" : "an object";
  }
  return JSON.stringify(value) ?? String(value);
}
