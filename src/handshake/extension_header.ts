/**
 * The `Sec-WebSocket-Extensions` header grammar (RFC 6455 §9.1 with the RFC 9110 §5.6 list,
 * token and quoted-string rules), sans-I/O: header values in, offers out.
 *
 * @module
 */

import { isTokenByte } from "./_syntax.ts";

/** One extension parameter: its name and value, `true` for a parameter given without a value. */
export type ExtensionParam = readonly [name: string, value: string | true];

/** One offer from a `Sec-WebSocket-Extensions` header: an extension name and its parameters. */
export interface ExtensionOffer {
  /** The extension token, as sent. */
  readonly name: string;
  /** The parameters in the order sent; duplicates are kept so that callers can reject them. */
  readonly params: readonly ExtensionParam[];
}

/**
 * Parses every `Sec-WebSocket-Extensions` value of a request (RFC 6455 §11.3.2: the header may
 * repeat) into offers, in order. Returns `undefined` when any value breaks the grammar: offers
 * cannot be told apart reliably in a malformed list, so none of them is trusted. Empty list
 * members are skipped (RFC 9110 §5.6.1).
 *
 * @example Parse two offers of permessage-deflate
 * ```ts
 * import { parseExtensionHeader } from "@netws/server/handshake";
 * import assert from "node:assert/strict";
 *
 * const offers = parseExtensionHeader([
 *   'permessage-deflate; client_max_window_bits="10", permessage-deflate',
 * ]);
 * assert.deepEqual(offers, [
 *   { name: "permessage-deflate", params: [["client_max_window_bits", "10"]] },
 *   { name: "permessage-deflate", params: [] },
 * ]);
 * assert.equal(parseExtensionHeader(["permessage-deflate; =1"]), undefined);
 * ```
 */
export function parseExtensionHeader(
  values: string | readonly string[],
): ExtensionOffer[] | undefined {
  const offers: ExtensionOffer[] = [];
  for (const value of typeof values === "string" ? [values] : values) {
    if (!new ListParser(value).parseInto(offers)) return undefined;
  }
  return offers;
}

/** A cursor over one header value. */
class ListParser {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** Appends the value's offers; false when it breaks the grammar. */
  parseInto(offers: ExtensionOffer[]): boolean {
    for (;;) {
      this.#skipOws();
      if (this.#at === this.#text.length) return true;
      if (this.#peek() === ",") { // an empty list member
        this.#at++;
        continue;
      }
      const offer = this.#parseOffer();
      if (offer === undefined) return false;
      offers.push(offer);
      this.#skipOws();
      if (this.#at === this.#text.length) return true;
      if (this.#peek() !== ",") return false;
      this.#at++;
    }
  }

  // extension = extension-token *( OWS ";" OWS extension-param )
  #parseOffer(): ExtensionOffer | undefined {
    const name = this.#token();
    if (name === "") return undefined;
    const params: ExtensionParam[] = [];
    for (;;) {
      this.#skipOws();
      if (this.#peek() !== ";") return { name, params };
      this.#at++;
      this.#skipOws();
      const param = this.#parseParam();
      if (param === undefined) return undefined;
      params.push(param);
    }
  }

  // extension-param = token [ OWS "=" OWS ( token / quoted-string ) ]
  #parseParam(): ExtensionParam | undefined {
    const name = this.#token();
    if (name === "") return undefined;
    const save = this.#at;
    this.#skipOws();
    if (this.#peek() !== "=") {
      this.#at = save;
      return [name, true];
    }
    this.#at++;
    this.#skipOws();
    if (this.#peek() === '"') {
      const value = this.#quoted(); // may be empty: `""` is a valid quoted-string
      return value === undefined ? undefined : [name, value];
    }
    const value = this.#token();
    return value === "" ? undefined : [name, value];
  }

  #token(): string {
    const start = this.#at;
    while (this.#at < this.#text.length) {
      if (!isTokenByte(this.#text.charCodeAt(this.#at))) break;
      this.#at++;
    }
    return this.#text.slice(start, this.#at);
  }

  // RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, returned unquoted.
  #quoted(): string | undefined {
    let value = "";
    this.#at++; // the opening quote
    while (this.#at < this.#text.length) {
      let c = this.#text.charCodeAt(this.#at++);
      if (c === 0x22) return value;
      if (c === 0x5c) { // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        if (this.#at === this.#text.length) return undefined;
        c = this.#text.charCodeAt(this.#at++);
        if (!isQuotable(c)) return undefined;
      } else if (!isQuotable(c)) return undefined;
      value += String.fromCharCode(c);
    }
    return undefined; // no closing quote
  }

  #skipOws(): void {
    while (this.#at < this.#text.length) {
      const c = this.#text.charCodeAt(this.#at);
      if (c !== 0x20 && c !== 0x09) break;
      this.#at++;
    }
  }

  #peek(): string {
    return this.#text.charAt(this.#at);
  }
}

// HTAB, SP, VCHAR and obs-text; qdtext excludes only DQUOTE and "\", which the caller handles.
function isQuotable(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff);
}
