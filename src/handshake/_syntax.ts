/**
 * The HTTP syntax rules the handshake shares: tokens (RFC 9110 §5.6.2), comma-separated lists
 * (RFC 9110 §5.6.1), optional whitespace (RFC 9110 §5.6.3) and authorities (RFC 3986 §3.2).
 *
 * @module
 */

// Character classes, one bit each, indexed by byte.
const TOKEN = 1; // RFC 9110 §5.6.2 tchar
const HOST = 2; // RFC 3986 §3.2.2 reg-name: unreserved, sub-delims, "%"
const classes = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) classes[c] = TOKEN | HOST;
for (let c = 0x41; c <= 0x5a; c++) classes[c] = TOKEN | HOST;
for (let c = 0x61; c <= 0x7a; c++) classes[c] = TOKEN | HOST;
for (const c of "!$%&'*+-.~_") classes[c.charCodeAt(0)] = TOKEN | HOST;
for (const c of "#^`|") classes[c.charCodeAt(0)] = TOKEN;
for (const c of "(),;=") classes[c.charCodeAt(0)] = HOST;

/** Whether a comma-separated list holds `token` (RFC 9110 §5.6.1: case-insensitive, OWS around). */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const item of value.split(",")) if (trimOws(item).toLowerCase() === token) return true;
  return false;
}

/** Whether `byte` may appear in a token (RFC 9110 §5.6.2 tchar). */
export function isTokenByte(byte: number): boolean {
  return ((classes[byte] ?? 0) & TOKEN) !== 0;
}

/** Whether `value` is a token (RFC 9110 §5.6.2): a method, a header name, a subprotocol. */
export function isToken(value: string): boolean {
  if (value === "") return false;
  for (let i = 0; i < value.length; i++) {
    if (((classes[value.charCodeAt(i)] ?? 0) & TOKEN) === 0) return false;
  }
  return true;
}

/** Whether `value` is a host (reg-name, IPv4 or [IPv6]) with an optional port (RFC 3986 §3.2.2-3.2.3). */
export function isAuthority(value: string): boolean {
  let i = 0;
  if (value.startsWith("[")) {
    i = value.indexOf("]") + 1;
    if (i < 3) return false;
    for (let j = 1; j < i - 1; j++) {
      const c = value.charCodeAt(j); // hex digits, ":" and "."
      const hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
      if (!hex && c !== 0x3a && c !== 0x2e) return false;
    }
  } else {
    while (i < value.length && value[i] !== ":") {
      if (((classes[value.charCodeAt(i)] ?? 0) & HOST) === 0) return false;
      i++;
    }
    if (i === 0) return false;
  }
  if (i === value.length) return true;
  if (value[i] !== ":") return false;
  for (let j = i + 1; j < value.length; j++) {
    const c = value.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Strips optional whitespace, which is SP and HT only (RFC 9110 §5.6.3). */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === " " || value[start] === "\t")) start++;
  while (end > start && (value[end - 1] === " " || value[end - 1] === "\t")) end--;
  return value.slice(start, end);
}
